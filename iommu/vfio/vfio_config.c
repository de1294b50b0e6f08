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

static uint8_t virt_bits(const struct vfio_vconfig *v, unsigned off)
{
    unsigned byte;
    enum msi_reg r = msi_reg_at(v, off, &byte);
    if (r != MSI_NONE)
        return msi_virtual(r) ? 0xff : 0;
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
           (v->msi.pos && off < (unsigned)v->msi.pos + v->msi.len && off + w > v->msi.pos);
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
