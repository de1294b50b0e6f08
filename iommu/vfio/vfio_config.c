/* Config-space virtualization of the VFIO face: byte by byte, each byte of the header has a mask
 * of virtual bits and a mask of writable bits (see vfio_config.h). */
#include "iommu/vfio/vfio_config.h"

#define BAR_IO 0x1u                     /* I/O space indicator */
#define BAR_MEM_TYPE_64 0x4u            /* memory type, bits 2:1 = 10b */
#define BAR_MEM_FLAGS 0xfu              /* memory: space, type, prefetchable */
#define ROM_ENABLE 0x1u

/* The BAR dword (index into v->bar) holding byte off, or -1. */
static int bar_index(unsigned off)
{
    if (off >= VFIO_CFG_BAR0 && off < VFIO_CFG_BAR0 + 24)
        return (int)((off - VFIO_CFG_BAR0) / 4);
    if (off >= VFIO_CFG_ROM && off < VFIO_CFG_ROM + 4)
        return VFIO_CFG_ROM_INDEX;
    return -1;
}

static bool header_tail(unsigned off)   /* BARs through the ROM: 0x10-0x33 */
{
    return off >= VFIO_CFG_BAR0 && off < VFIO_CFG_HEADER_END;
}

void vfio_cfg_init_bars(struct vfio_vconfig *v, const uint32_t hw[VFIO_CFG_NBARS],
                        const uint64_t size[VFIO_CFG_NBARS])
{
    for (unsigned i = 0; i < VFIO_CFG_NBARS; i++)
        v->bar[i] = v->bar_mask[i] = v->bar_flags[i] = 0;
    for (unsigned i = 0; i < 6; i++) {
        if (!size[i])
            continue;
        uint64_t mask = ~(size[i] - 1);
        if (hw[i] & BAR_IO) {
            v->bar_flags[i] = BAR_IO;
            v->bar_mask[i] = (uint32_t)mask & ~3u;
        } else {
            v->bar_flags[i] = hw[i] & BAR_MEM_FLAGS;
            v->bar_mask[i] = (uint32_t)mask & ~BAR_MEM_FLAGS;
            if ((hw[i] & 6) == BAR_MEM_TYPE_64 && i < 5) {
                v->bar_mask[i + 1] = (uint32_t)(mask >> 32);
                v->bar[i + 1] = hw[i + 1] & v->bar_mask[i + 1];
            }
        }
        v->bar[i] = (hw[i] & v->bar_mask[i]) | v->bar_flags[i];
        if (!(hw[i] & BAR_IO) && (hw[i] & 6) == BAR_MEM_TYPE_64)
            i++;                        /* its upper half is done */
    }
    if (size[VFIO_CFG_ROM_INDEX]) {
        /* address bits 31:11 by size, and the enable bit; bits 10:1 reserved */
        uint32_t m = ((uint32_t)~(size[VFIO_CFG_ROM_INDEX] - 1) & ~0x7ffu) | ROM_ENABLE;
        v->bar_mask[VFIO_CFG_ROM_INDEX] = m;
        v->bar[VFIO_CFG_ROM_INDEX] = hw[VFIO_CFG_ROM_INDEX] & m;
    }
    v->bars = true;
}

/* The MSI capability's registers, by offset from its start. */
enum msi_reg { MSI_NONE, MSI_ID_NEXT, MSI_FLAGS_LO, MSI_FLAGS_HI, MSI_ADDR_LO, MSI_ADDR_HI,
               MSI_DATA, MSI_PASS };

/* Which MSI register holds byte off, and its byte index in it. */
static enum msi_reg msi_reg_at(const struct vfio_vconfig *v, unsigned off, unsigned *byte)
{
    if (!v->msi.pos || off < v->msi.pos || off >= (unsigned)v->msi.pos + v->msi.len)
        return MSI_NONE;
    unsigned r = off - v->msi.pos, data = v->msi.is64 ? 12 : 8;
    *byte = r & 3;
    if (r < 2)
        return MSI_ID_NEXT;
    if (r == 2)
        return MSI_FLAGS_LO;
    if (r == 3)
        return MSI_FLAGS_HI;
    if (r < 8)
        return MSI_ADDR_LO;
    if (v->msi.is64 && r < 12)
        return MSI_ADDR_HI;
    if (r == data || r == data + 1) {
        *byte = r - data;
        return MSI_DATA;
    }
    if (r < data + 4)
        return MSI_ID_NEXT;             /* reserved (extended message data): read-only */
    return MSI_PASS;                    /* mask and pending bits */
}

void vfio_cfg_init_msi(struct vfio_vconfig *v, uint8_t pos, uint16_t flags, uint32_t addr_lo,
                       uint32_t addr_hi, uint16_t data)
{
    bool is64 = flags & VFIO_MSI_FLAGS_64BIT;
    v->msi.pos = pos;
    v->msi.is64 = is64;
    v->msi.len = (uint8_t)((is64 ? 14 : 10) + (flags & VFIO_MSI_FLAGS_MASKBIT ? 10 : 0));
    v->msi.flags = (uint8_t)flags;
    v->msi.addr_lo = addr_lo;
    v->msi.addr_hi = is64 ? addr_hi : 0;
    v->msi.data = data;
    v->msi.qmax = 0;
    v->msi.irq_type = false;
}

void vfio_cfg_msi_irq(struct vfio_vconfig *v, unsigned nvec)
{
    v->msi.irq_type = nvec > 0;
    if (nvec) {
        unsigned q = 0;
        while ((1u << q) < nvec)
            q++;
        v->msi.qmax = (uint8_t)q;
    }
}

static uint8_t msi_byte(const struct vfio_vconfig *v, enum msi_reg r, unsigned byte)
{
    switch (r) {
    case MSI_FLAGS_LO:
        return (uint8_t)((v->msi.flags & ~VFIO_MSI_FLAGS_QMASK) | v->msi.qmax << 1);
    case MSI_ADDR_LO:
        return (uint8_t)(v->msi.addr_lo >> (8 * byte));
    case MSI_ADDR_HI:
        return (uint8_t)(v->msi.addr_hi >> (8 * byte));
    case MSI_DATA:
        return (uint8_t)(v->msi.data >> (8 * byte));
    default:
        return 0;
    }
}

static void set_msi_byte(struct vfio_vconfig *v, enum msi_reg r, unsigned byte, uint8_t val)
{
    unsigned sh = 8 * byte;
    switch (r) {
    case MSI_FLAGS_LO:
        v->msi.flags = val;
        break;
    case MSI_ADDR_LO:
        v->msi.addr_lo = (v->msi.addr_lo & ~(0xffu << sh)) | (uint32_t)val << sh;
        break;
    case MSI_ADDR_HI:
        v->msi.addr_hi = (v->msi.addr_hi & ~(0xffu << sh)) | (uint32_t)val << sh;
        break;
    case MSI_DATA:
        v->msi.data = (uint16_t)((v->msi.data & ~(0xffu << sh)) | (uint32_t)val << sh);
        break;
    default:
        break;
    }
}

static bool msi_virtual(enum msi_reg r)
{
    return r == MSI_FLAGS_LO || r == MSI_ADDR_LO || r == MSI_ADDR_HI || r == MSI_DATA;
}

/* ---- the other capabilities: Linux's lengths and write permissions */

enum {
    CAP_PM = 0x01, CAP_AGP = 0x02, CAP_VPD = 0x03, CAP_PCIX = 0x07, CAP_VNDR = 0x09,
    CAP_EXP = 0x10, CAP_MSIX = 0x11, CAP_AF = 0x13,
    ECAP_ERR = 0x01, ECAP_DSN = 0x03, ECAP_PWR = 0x04, ECAP_VNDR = 0x0b, ECAP_ACS = 0x0d,
    ECAP_ARI = 0x0e, ECAP_ATS = 0x0f, ECAP_SRIOV = 0x10, ECAP_MCAST = 0x12, ECAP_PRI = 0x13,
    ECAP_REBAR = 0x15, ECAP_DPA = 0x16, ECAP_TPH = 0x17, ECAP_LTR = 0x18, ECAP_DVSEC = 0x23,
};

#define EXP_TYPE_RC_END 9
#define EXP_DEVCAP_FLR BIT(28)
#define EXP_DEVCTL 0x08
#define EXP_DEVCTL2 0x28
#define EXP_DEVCTL_PHANTOM 0x0200
#define EXP_DEVCTL_VIRT 0xf0e0          /* FLR, Max Read Request, Max Payload */
#define EXP_DEVCTL_FLR 0x8000
#define EXP_DEVCTL2_ARI 0x0020
#define PM_CTRL 0x04
#define PM_CTRL_PME 0x8100              /* PME Status, PME Enable: not the program's */
#define AF_CAP_TP 0x01
#define AF_CAP_FLR 0x02
#define AF_CTRL 0x05
#define AF_CTRL_FLR 0x01
/* AER (vfio_pci_config.c's init_pci_ext_cap_err_perm): the error bits a program may write */
#define ERR_UNC_WRITABLE 0x03fff031u    /* Undefined, DLP, Surprise Down, Poisoned TLP ... */
#define ERR_COR_WRITABLE 0x0000f1c1u    /* Receiver, Bad TLP/DLLP, Replay, Advisory ... */
#define ERR_CAP_WRITABLE 0x00000140u    /* ECRC Generation and Check Enable */

unsigned vfio_cfg_cap_len(uint16_t id, bool ext, const uint32_t d[3])
{
    if (!ext) {
        uint16_t flags = (uint16_t)(d[0] >> 16);
        switch (id) {
        case CAP_PM: return 8;
        case CAP_AGP: return 12;
        case CAP_VPD: return 8;
        case CAP_PCIX: return (flags >> 12) & 3 ? 24 : 8;
        case CAP_VNDR: return flags & 0xff;
        case CAP_EXP:
            if ((flags & 0xf) == 1)
                return ((flags >> 4) & 0xf) == EXP_TYPE_RC_END ? 0xc : 20;
            return ((flags >> 4) & 0xf) == EXP_TYPE_RC_END ? 0x2c : 0x34;
        case CAP_MSIX: return 12;
        case CAP_AF: return 6;
        default: return 0;      /* MSI is measured by vfio_cfg_init_msi; the rest Linux hides */
        }
    }
    switch (id) {
    case ECAP_ERR: return 0x2c;
    case ECAP_DSN: return 12;
    case ECAP_PWR: return 16;
    case ECAP_VNDR: case ECAP_DVSEC: return d[1] >> 20;
    case ECAP_ACS:
        if (d[1] & 0x20) {      /* Egress Control: a vector of egress bits follows */
            unsigned bits = (d[1] >> 8) & 0xff;
            return 8 + (bits ? (bits + 31) / 32 * 32 : 256) / 8;
        }
        return 8;
    case ECAP_ARI: case ECAP_ATS: case ECAP_LTR: return 8;
    case ECAP_SRIOV: return 0x40;
    case ECAP_MCAST: return 40;
    case ECAP_PRI: return 16;
    case ECAP_REBAR: return 4 + ((d[2] >> 5) & 7) * 8;
    case ECAP_DPA: return 16 + (d[1] & 0x1f) + 1;
    case ECAP_TPH:
        return ((d[1] >> 9) & 3) == 1 ? 12 + ((d[1] >> 16) & 0x7ff) * 2 + 2 : 12;
    default: return 0;          /* VC and MFVC (not measured here), and those Linux hides */
    }
}

void vfio_cfg_add_cap(struct vfio_vconfig *v, uint16_t id, uint16_t pos, bool ext,
                      const uint32_t d[3])
{
    unsigned len = vfio_cfg_cap_len(id, ext, d);
    unsigned end = ext ? 4096 : 256;
    if (!len || pos + len > end || v->ncaps == VFIO_CFG_MAX_CAPS)
        return;
    v->caps[v->ncaps++] = (struct vfio_cfg_cap){ .pos = pos, .len = (uint16_t)len, .id = id,
                                                 .ext = ext };
    if (!ext && id == CAP_EXP) {
        v->exp_flr = d[1] & EXP_DEVCAP_FLR;
        v->devctl = (uint16_t)d[2] & EXP_DEVCTL_VIRT & ~EXP_DEVCTL_FLR;
    } else if (!ext && id == CAP_AF) {
        uint8_t afcap = (uint8_t)(d[0] >> 24);
        v->af_flr = (afcap & AF_CAP_FLR) && (afcap & AF_CAP_TP);
    }
}

/* The recorded capability holding byte off, or NULL (the MSI one is handled apart). */
static const struct vfio_cfg_cap *cap_at(const struct vfio_vconfig *v, unsigned off)
{
    for (unsigned i = 0; i < v->ncaps; i++)
        if (off >= v->caps[i].pos && off < (unsigned)v->caps[i].pos + v->caps[i].len)
            return &v->caps[i];
    return NULL;
}

static bool cap_in(const struct vfio_vconfig *v, unsigned off, unsigned w)
{
    for (unsigned i = 0; i < w; i++)
        if (cap_at(v, off + i))
            return true;
    return false;
}

static uint8_t byte_of(uint32_t mask, unsigned rel, unsigned reg)
{
    return (uint8_t)(mask >> (8 * (rel - reg)));
}

/* The bits of byte rel of capability c that a program's write changes (vfio's perm->write). */
static uint8_t cap_write_bits(const struct vfio_cfg_cap *c, unsigned rel)
{
    if (c->ext) {
        if (c->id == ECAP_VNDR || c->id == ECAP_DVSEC)
            return 0xff;                /* written raw */
        if (c->id == ECAP_PWR)
            return rel == 4 ? 0xff : 0; /* Data Select */
        if (c->id != ECAP_ERR || rel < 4 || rel >= 0x1c)
            return 0;
        unsigned reg = rel & ~3u;
        uint32_t m = reg <= 0x0c ? ERR_UNC_WRITABLE : reg <= 0x14 ? ERR_COR_WRITABLE
                                                                  : ERR_CAP_WRITABLE;
        return byte_of(m, rel, reg);
    }
    switch (c->id) {
    case CAP_VNDR:
        return rel >= 2 ? 0xff : 0;
    case CAP_PM:
        return rel >= PM_CTRL ? byte_of(~(uint32_t)PM_CTRL_PME, rel, PM_CTRL) : 0;
    case CAP_EXP:
        if (rel == EXP_DEVCTL || rel == EXP_DEVCTL + 1)
            return byte_of((uint16_t)~EXP_DEVCTL_PHANTOM, rel, EXP_DEVCTL);
        if (rel == EXP_DEVCTL2 || rel == EXP_DEVCTL2 + 1)
            return byte_of((uint16_t)~EXP_DEVCTL2_ARI, rel, EXP_DEVCTL2);
        return 0;
    case CAP_AF:
        return rel == AF_CTRL ? AF_CTRL_FLR : 0;
    default:
        return 0;                       /* MSI-X, VPD, PCI-X, AGP: read-only here */
    }
}

/* The bits of byte rel of c that are the program's copy. */
static uint8_t cap_virt_bits(const struct vfio_cfg_cap *c, unsigned rel)
{
    if (c->ext)
        return 0;
    if (c->id == CAP_EXP && (rel == EXP_DEVCTL || rel == EXP_DEVCTL + 1))
        return byte_of(EXP_DEVCTL_VIRT, rel, EXP_DEVCTL);
    if (c->id == CAP_AF && rel == AF_CTRL)
        return AF_CTRL_FLR;
    return 0;
}

static uint8_t virt_bits(const struct vfio_vconfig *v, unsigned off)
{
    unsigned byte;
    enum msi_reg r = msi_reg_at(v, off, &byte);
    if (r != MSI_NONE)
        return msi_virtual(r) ? 0xff : 0;
    const struct vfio_cfg_cap *c = cap_at(v, off);
    if (c)
        return cap_virt_bits(c, off - c->pos);
    if (off == VFIO_CFG_COMMAND + 1)
        return (uint8_t)(VFIO_CFG_INTX_DISABLE >> 8);
    return v->bars && bar_index(off) >= 0 ? 0xff : 0;
}

static uint8_t write_bits(const struct vfio_vconfig *v, unsigned off)
{
    unsigned byte;
    enum msi_reg r = msi_reg_at(v, off, &byte);
    if (r != MSI_NONE)
        return msi_virtual(r) || r == MSI_PASS ? 0xff : 0;
    const struct vfio_cfg_cap *c = cap_at(v, off);
    if (c)
        return cap_write_bits(c, off - c->pos);
    if (off == VFIO_CFG_STATUS || off == VFIO_CFG_STATUS + 1)
        return 0;
    if (header_tail(off))
        return v->bars && bar_index(off) >= 0 ? 0xff : 0;
    return 0xff;
}

static uint8_t virt_byte(const struct vfio_vconfig *v, unsigned off)
{
    unsigned byte;
    enum msi_reg r = msi_reg_at(v, off, &byte);
    if (r != MSI_NONE)
        return msi_byte(v, r, byte);
    const struct vfio_cfg_cap *c = cap_at(v, off);
    if (c && !c->ext && c->id == CAP_EXP)
        return (uint8_t)(v->devctl >> (8 * (off - c->pos - EXP_DEVCTL)));
    if (c)
        return 0;                       /* AF's FLR reads 0 */
    if (off == VFIO_CFG_COMMAND + 1)
        return (uint8_t)(v->command >> 8);
    int b = bar_index(off);
    return b >= 0 ? (uint8_t)(v->bar[b] >> (8 * (off & 3))) : 0;
}

static void set_virt_byte(struct vfio_vconfig *v, unsigned off, uint8_t val)
{
    unsigned byte;
    enum msi_reg r = msi_reg_at(v, off, &byte);
    if (r != MSI_NONE) {
        set_msi_byte(v, r, byte, val);
        return;
    }
    const struct vfio_cfg_cap *c = cap_at(v, off);
    if (c) {
        unsigned rel = off - c->pos;
        if (!c->ext && c->id == CAP_EXP) {
            unsigned sh = 8 * (rel - EXP_DEVCTL);
            uint16_t d = (uint16_t)((v->devctl & ~(0xffu << sh)) | (unsigned)val << sh);
            v->devctl = d & EXP_DEVCTL_VIRT & ~EXP_DEVCTL_FLR;     /* FLR reads 0 after */
            v->reset_requested |= (d & EXP_DEVCTL_FLR) && v->exp_flr;
        } else if (!c->ext && c->id == CAP_AF) {
            v->reset_requested |= (val & AF_CTRL_FLR) && v->af_flr;
        }
        return;
    }
    if (off == VFIO_CFG_COMMAND + 1) {
        v->command = (uint16_t)((v->command & 0xff) | val << 8) & VFIO_CFG_INTX_DISABLE;
        return;
    }
    int b = bar_index(off);
    if (b < 0)
        return;
    unsigned sh = 8 * (off & 3);
    uint32_t x = (v->bar[b] & ~(0xffu << sh)) | (uint32_t)val << sh;
    v->bar[b] = (x & v->bar_mask[b]) | v->bar_flags[b];
}

bool vfio_cfg_virtualized(const struct vfio_vconfig *v, unsigned off, unsigned w)
{
    return (off < VFIO_CFG_STATUS + 2 && off + w > VFIO_CFG_COMMAND) ||
           (off < VFIO_CFG_HEADER_END && off + w > VFIO_CFG_BAR0) ||
           (v->msi.pos && off < (unsigned)v->msi.pos + v->msi.len && off + w > v->msi.pos) ||
           cap_in(v, off, w);
}

uint32_t vfio_cfg_read(const struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t hw)
{
    uint32_t out = 0;
    for (unsigned i = 0; i < w; i++) {
        uint8_t vm = virt_bits(v, off + i);
        uint8_t b = (uint8_t)(hw >> (8 * i));
        b = (uint8_t)((b & ~vm) | (virt_byte(v, off + i) & vm));
        out |= (uint32_t)b << (8 * i);
    }
    return out;
}

/* vfio_msi_config_write: the program's Message Control, its Enable bit only while MSI is the
 * device's interrupt and Multiple Message Enable at most what was enabled, kept and written to
 * the function. */
static uint8_t msi_flags_fixup(struct vfio_vconfig *v)
{
    uint8_t f = v->msi.flags;
    if (!v->msi.irq_type)
        f &= (uint8_t)~VFIO_MSI_FLAGS_ENABLE;
    if (((f & VFIO_MSI_FLAGS_QSIZE) >> 4) > v->msi.qmax)
        f = (uint8_t)((f & ~VFIO_MSI_FLAGS_QSIZE) | v->msi.qmax << 4);
    v->msi.flags = f;
    return f;
}

unsigned vfio_cfg_write(struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t val,
                        uint32_t hw, uint32_t *hw_val)
{
    unsigned mask = 0;
    uint32_t out = 0;
    for (unsigned i = 0; i < w; i++) {
        uint8_t wm = write_bits(v, off + i), vm = virt_bits(v, off + i);
        uint8_t nb = (uint8_t)(val >> (8 * i)), hb = (uint8_t)(hw >> (8 * i));
        if (wm & vm)
            set_virt_byte(v, off + i, (uint8_t)((virt_byte(v, off + i) & ~(wm & vm)) |
                                                (nb & wm & vm)));
        if (wm & ~vm) {
            hb = (uint8_t)((hb & ~(wm & ~vm)) | (nb & wm & ~vm));
            mask |= 1u << i;
        }
        unsigned byte;
        if (msi_reg_at(v, off + i, &byte) == MSI_FLAGS_LO) {
            hb = msi_flags_fixup(v);
            mask |= 1u << i;
        }
        out |= (uint32_t)hb << (8 * i);
    }
    *hw_val = out;
    return mask;
}
