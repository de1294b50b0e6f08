/* The configuration-space model behind the PCI host tests (see fake_pci.h). */
#include "tests/host/pci/fake_pci.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/pci_regs.h"

void fake_init(struct fake_pci *f)
{
    memset(f, 0, sizeof(*f));
}

void fake_free(struct fake_pci *f)
{
    free(f->fns);
    memset(f, 0, sizeof(*f));
}

unsigned fake_add_root(struct fake_pci *f, uint16_t seg, uint8_t bus)
{
    f->roots[f->nroots].seg = seg;
    f->roots[f->nroots].bus = bus;
    return f->nroots++;
}

void fake_w8(struct fake_pci *f, int fn, unsigned off, uint8_t v)
{
    f->fns[fn].cfg[off] = v;
}

void fake_w16(struct fake_pci *f, int fn, unsigned off, uint16_t v)
{
    fake_w8(f, fn, off, (uint8_t)v);
    fake_w8(f, fn, off + 1, (uint8_t)(v >> 8));
}

void fake_w32(struct fake_pci *f, int fn, unsigned off, uint32_t v)
{
    fake_w16(f, fn, off, (uint16_t)v);
    fake_w16(f, fn, off + 2, (uint16_t)(v >> 16));
}

uint32_t fake_r32(struct fake_pci *f, int fn, unsigned off)
{
    const uint8_t *c = f->fns[fn].cfg + off;
    return c[0] | (c[1] << 8) | (c[2] << 16) | ((uint32_t)c[3] << 24);
}

static uint16_t fake_r16(struct fake_pci *f, int fn, unsigned off)
{
    return (uint16_t)(f->fns[fn].cfg[off] | (f->fns[fn].cfg[off + 1] << 8));
}

static void fake_wmask(struct fake_pci *f, int fn, unsigned off, unsigned len, uint32_t mask)
{
    for (unsigned i = 0; i < len; i++)
        f->fns[fn].wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

static int fake_new(struct fake_pci *f)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->fns = realloc(f->fns, f->cap * sizeof(*f->fns));
    }
    struct fake_fn *x = &f->fns[f->n];
    memset(x, 0, sizeof(*x));
    x->cap_tail = 0x40;
    x->ext_tail = 0x100;
    x->cfg_size = 256;
    return (int)f->n++;
}

int fake_add(struct fake_pci *f, int parent, unsigned slot, unsigned fnum, uint16_t vendor,
             uint16_t device, uint32_t class_code, unsigned hdr)
{
    int fn = fake_new(f);
    struct fake_fn *x = &f->fns[fn];
    x->parent = parent;
    x->devfn = PCI_DEVFN(slot, fnum);
    fake_w16(f, fn, PCI_VENDOR_ID, vendor);
    fake_w16(f, fn, PCI_DEVICE_ID, device);
    fake_w32(f, fn, PCI_CLASS_REVISION, class_code << 8);
    fake_w8(f, fn, PCI_HEADER_TYPE, (uint8_t)hdr);
    fake_wmask(f, fn, PCI_COMMAND, 2, 0x0547);
    if (hdr == PCI_HEADER_TYPE_BRIDGE) {
        fake_wmask(f, fn, PCI_PRIMARY_BUS, 3, 0xffffff);
        fake_wmask(f, fn, PCI_IO_BASE, 2, 0xf0f0);
        fake_wmask(f, fn, PCI_MEMORY_BASE, 4, 0xfff0fff0);
        fake_w16(f, fn, PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_TYPE_64);
        fake_w16(f, fn, PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
        fake_wmask(f, fn, PCI_PREF_MEMORY_BASE, 4, 0xfff0fff0);
        fake_wmask(f, fn, PCI_PREF_BASE_UPPER32, 4, 0xffffffff);
        fake_wmask(f, fn, PCI_PREF_LIMIT_UPPER32, 4, 0xffffffff);
        fake_wmask(f, fn, PCI_IO_BASE_UPPER16, 4, 0xffffffff);
    }
    return fn;
}

void fake_set_mfd(struct fake_pci *f, int fn)
{
    f->fns[fn].cfg[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MFD;
}

void fake_set_buses(struct fake_pci *f, int fn, uint8_t pri, uint8_t sec, uint8_t sub)
{
    fake_w8(f, fn, PCI_PRIMARY_BUS, pri);
    fake_w8(f, fn, PCI_SECONDARY_BUS, sec);
    fake_w8(f, fn, PCI_SUBORDINATE_BUS, sub);
}

uint16_t fake_add_cap(struct fake_pci *f, int fn, uint8_t id, unsigned len)
{
    struct fake_fn *x = &f->fns[fn];
    uint16_t off = x->cap_tail;
    x->cfg[off] = id;
    x->cfg[off + 1] = 0;
    if (x->last_cap)
        x->cfg[x->last_cap + 1] = (uint8_t)off;
    else
        x->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
    x->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    x->last_cap = off;
    x->cap_tail = (uint16_t)(off + ((len + 3) & ~3u));
    return off;
}

uint16_t fake_add_ext_cap(struct fake_pci *f, int fn, uint16_t id, unsigned len)
{
    struct fake_fn *x = &f->fns[fn];
    uint16_t off = x->ext_tail;
    fake_w32(f, fn, off, id | (1u << 16));
    if (x->last_ext) {
        uint32_t h = fake_r32(f, fn, x->last_ext);
        fake_w32(f, fn, x->last_ext, (h & 0xfffff) | ((uint32_t)off << 20));
    }
    x->last_ext = off;
    x->ext_tail = (uint16_t)(off + ((len + 3) & ~3u));
    return off;
}

uint16_t fake_add_pcie(struct fake_pci *f, int fn, unsigned type, bool flr, bool ari_fwd)
{
    uint16_t off = fake_add_cap(f, fn, PCI_CAP_ID_EXP, 0x3c);
    fake_w16(f, fn, off + PCI_EXP_FLAGS, (uint16_t)(2 | (type << 4)));
    fake_w32(f, fn, off + PCI_EXP_DEVCAP, flr ? PCI_EXP_DEVCAP_FLR : 0);
    fake_w32(f, fn, off + PCI_EXP_DEVCAP2, ari_fwd ? PCI_EXP_DEVCAP2_ARI : 0);
    fake_wmask(f, fn, off + PCI_EXP_DEVCTL2, 2, ari_fwd ? PCI_EXP_DEVCTL2_ARI : 0);
    f->fns[fn].cfg_size = 4096;
    return off;
}

uint16_t fake_add_acs(struct fake_pci *f, int fn, uint16_t cap_bits)
{
    uint16_t off = fake_add_ext_cap(f, fn, PCI_EXT_CAP_ID_ACS, 8);
    fake_w16(f, fn, off + PCI_ACS_CAP, cap_bits);
    fake_wmask(f, fn, off + PCI_ACS_CTRL, 2, cap_bits);
    return off;
}

uint16_t fake_add_ari(struct fake_pci *f, int fn, uint8_t next_fn)
{
    uint16_t off = fake_add_ext_cap(f, fn, PCI_EXT_CAP_ID_ARI, 8);
    fake_w16(f, fn, off + PCI_ARI_CAP, (uint16_t)(next_fn << 8));
    return off;
}

static void fake_bar_at(struct fake_pci *f, int fn, unsigned off, uint64_t size, unsigned flags)
{
    uint64_t mask = ~(size - 1);
    if (flags & PCI_BAR_IO) {
        fake_w32(f, fn, off, PCI_BASE_ADDRESS_SPACE_IO);
        fake_wmask(f, fn, off, 4, (uint32_t)mask & 0xfffffffcu);
        return;
    }
    uint32_t low = (flags & PCI_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
    if (flags & PCI_BAR_MEM64)
        low |= PCI_BASE_ADDRESS_MEM_TYPE_64 << 1;
    fake_w32(f, fn, off, low);
    fake_wmask(f, fn, off, 4, (uint32_t)mask & 0xfffffff0u);
    if (flags & PCI_BAR_MEM64)
        fake_wmask(f, fn, off + 4, 4, (uint32_t)(mask >> 32));
}

void fake_bar(struct fake_pci *f, int fn, unsigned i, uint64_t size, unsigned flags)
{
    fake_bar_at(f, fn, PCI_BASE_ADDRESS_0 + 4 * i, size, flags);
}

uint16_t fake_add_sriov(struct fake_pci *f, int pf, uint16_t total, uint16_t offset,
                        uint16_t stride, uint16_t vf_device, uint64_t vf_bar_size)
{
    uint16_t off = fake_add_ext_cap(f, pf, PCI_EXT_CAP_ID_SRIOV, 0x40);
    fake_wmask(f, pf, off + PCI_SRIOV_CTRL, 2,
               PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE | PCI_SRIOV_CTRL_ARI);
    fake_w16(f, pf, off + PCI_SRIOV_INITIAL_VF, total);
    fake_w16(f, pf, off + PCI_SRIOV_TOTAL_VF, total);
    fake_wmask(f, pf, off + PCI_SRIOV_NUM_VF, 2, 0xffff);
    fake_w16(f, pf, off + PCI_SRIOV_VF_OFFSET, offset);
    fake_w16(f, pf, off + PCI_SRIOV_VF_STRIDE, stride);
    fake_w16(f, pf, off + PCI_SRIOV_VF_DID, vf_device);
    fake_w32(f, pf, off + PCI_SRIOV_SUP_PGSIZE, 0x553);
    fake_w32(f, pf, off + PCI_SRIOV_SYS_PGSIZE, 1);
    fake_wmask(f, pf, off + PCI_SRIOV_SYS_PGSIZE, 4, 0xffffffff);
    if (vf_bar_size)
        fake_bar_at(f, pf, off + PCI_SRIOV_BAR, vf_bar_size, PCI_BAR_MEM64);
    uint32_t class_code = fake_r32(f, pf, PCI_CLASS_REVISION) >> 8;
    int parent = f->fns[pf].parent;
    for (unsigned i = 0; i < total; i++) {
        int vf = fake_add(f, parent, 0, 0, 0xffff, 0xffff, class_code, 0);
        f->fns[vf].is_vf = true;
        f->fns[vf].pf = pf;
        f->fns[vf].vf_index = i;
        fake_add_pcie(f, vf, PCI_EXP_TYPE_ENDPOINT, true, false);
    }
    return off;
}

/* ---- routing ---- */

static bool fake_is_bridge(const struct fake_fn *x)
{
    return (x->cfg[PCI_HEADER_TYPE] & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
}

static int fake_pf_bus(struct fake_pci *f, int pf)
{
    int p = f->fns[pf].parent;
    return p < 0 ? f->roots[-1 - p].bus : f->fns[p].cfg[PCI_SECONDARY_BUS];
}

static uint16_t fake_sriov_pos(struct fake_pci *f, int pf)
{
    for (uint16_t off = 0x100; off;) {
        uint32_t h = fake_r32(f, pf, off);
        if ((h & 0xffff) == PCI_EXT_CAP_ID_SRIOV)
            return off;
        off = (uint16_t)(h >> 20);
    }
    return 0;
}

static bool fake_vf_at(struct fake_pci *f, int vf, unsigned bus, unsigned devfn)
{
    const struct fake_fn *x = &f->fns[vf];
    uint16_t pos = fake_sriov_pos(f, x->pf);
    if (!pos || !(fake_r16(f, x->pf, pos + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE) ||
        x->vf_index >= fake_r16(f, x->pf, pos + PCI_SRIOV_NUM_VF))
        return false;
    uint32_t rid = ((uint32_t)fake_pf_bus(f, x->pf) << 8) + f->fns[x->pf].devfn +
                   fake_r16(f, x->pf, pos + PCI_SRIOV_VF_OFFSET) +
                   (uint32_t)fake_r16(f, x->pf, pos + PCI_SRIOV_VF_STRIDE) * x->vf_index;
    return rid == ((bus << 8) | devfn);
}

/* One level of the hierarchy: the bus below `level` (a bridge, or a root) numbered level_bus. */
static int fake_route(struct fake_pci *f, int level, unsigned level_bus, unsigned bus,
                      unsigned devfn, unsigned depth)
{
    if (depth > 300)
        return -1;
    for (unsigned i = 0; i < f->n; i++) {
        const struct fake_fn *x = &f->fns[i];
        if (x->parent != level || x->is_vf)
            continue;
        if (bus == level_bus && x->devfn == devfn)
            return (int)i;
        if (bus != level_bus && fake_is_bridge(x)) {
            unsigned sec = x->cfg[PCI_SECONDARY_BUS], sub = x->cfg[PCI_SUBORDINATE_BUS];
            if (sec && sec <= bus && bus <= sub)
                return fake_route(f, (int)i, sec, bus, devfn, depth + 1);
        }
    }
    for (unsigned i = 0; i < f->n; i++)
        if (f->fns[i].is_vf && f->fns[i].parent == level && fake_vf_at(f, (int)i, bus, devfn))
            return (int)i;
    return -1;
}

static int fake_find(struct fake_pci *f, uint16_t seg, uint8_t bus, uint8_t devfn)
{
    for (unsigned r = 0; r < f->nroots; r++) {
        if (f->roots[r].seg != seg || bus < f->roots[r].bus)
            continue;
        int fn = fake_route(f, FAKE_ROOT((int)r), f->roots[r].bus, bus, devfn, 0);
        if (fn >= 0)
            return fn;
    }
    return -1;
}

static uint32_t fake_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                          unsigned width)
{
    struct fake_pci *f = ctx;
    f->reads++;
    if (f->all_ones)
        return 0xffffffffu;
    int fn = fake_find(f, seg, bus, devfn);
    if (fn < 0 || off + width > f->fns[fn].cfg_size)
        return 0xffffffffu;
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint32_t)f->fns[fn].cfg[off + i] << (8 * i);
    return v;
}

static void fake_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                       unsigned width, uint32_t val)
{
    struct fake_pci *f = ctx;
    f->writes++;
    int fn = fake_find(f, seg, bus, devfn);
    if (fn < 0 || off + width > f->fns[fn].cfg_size)
        return;
    struct fake_fn *x = &f->fns[fn];
    for (unsigned i = 0; i < width; i++) {
        uint8_t m = x->wmask[off + i];
        x->cfg[off + i] = (uint8_t)((x->cfg[off + i] & ~m) | ((val >> (8 * i)) & m));
    }
}

const struct pci_cfg_ops fake_pci_ops = { fake_read, fake_write, NULL };

/* ---- QEMU presets ---- */

int fake_q35_base(struct fake_pci *f)
{
    if (f->nroots == 0)
        fake_add_root(f, 0, 0);
    int hb = fake_add(f, FAKE_ROOT(0), 0, 0, 0x8086, 0x29c0, 0x060000, 0);
    int lpc = fake_add(f, FAKE_ROOT(0), 0x1f, 0, 0x8086, 0x2918, 0x060100, 0);
    fake_set_mfd(f, lpc);
    int sata = fake_add(f, FAKE_ROOT(0), 0x1f, 2, 0x8086, 0x2922, 0x010601, 0);
    fake_add_cap(f, sata, PCI_CAP_ID_MSI, 0x18);
    fake_add_cap(f, sata, 0x12, 8);   /* SATA capability */
    fake_bar(f, sata, 4, 32, PCI_BAR_IO);
    fake_bar(f, sata, 5, 4096, 0);
    int smb = fake_add(f, FAKE_ROOT(0), 0x1f, 3, 0x8086, 0x2930, 0x0c0500, 0);
    fake_bar(f, smb, 4, 64, PCI_BAR_IO);
    return hb;
}

/* QEMU's PCIe endpoints say "integrated endpoint" when they sit on a root bus. */
static unsigned fake_ep_type(int parent)
{
    return parent < 0 ? PCI_EXP_TYPE_RC_END : PCI_EXP_TYPE_ENDPOINT;
}

int fake_e1000e(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    int d = fake_add(f, parent, slot, fn, 0x8086, 0x10d3, 0x020000, 0);
    f->fns[d].cap_tail = 0xa0;
    fake_add_cap(f, d, PCI_CAP_ID_MSIX, 12);
    f->fns[d].cap_tail = 0xc8;
    fake_add_cap(f, d, PCI_CAP_ID_PM, 8);
    fake_add_cap(f, d, PCI_CAP_ID_MSI, 0x10);
    f->fns[d].cap_tail = 0xe0;
    fake_add_pcie(f, d, fake_ep_type(parent), true, false);
    fake_add_ext_cap(f, d, PCI_EXT_CAP_ID_ERR, 0x40);
    fake_add_ext_cap(f, d, 0x0003, 12);   /* Device Serial Number */
    fake_bar(f, d, 0, 128 << 10, 0);
    fake_bar(f, d, 1, 128 << 10, 0);
    fake_bar(f, d, 2, 32, PCI_BAR_IO);
    fake_bar(f, d, 3, 16 << 10, 0);
    return d;
}

int fake_edu(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    int d = fake_add(f, parent, slot, fn, 0x1234, 0x11e8, 0x00ff00, 0);
    fake_add_cap(f, d, PCI_CAP_ID_MSI, 0x10);
    fake_bar(f, d, 0, 1 << 20, 0);
    return d;
}

int fake_virtio_blk(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    int d = fake_add(f, parent, slot, fn, 0x1af4, 0x1042, 0x010000, 0);
    /* QEMU gives virtio-pci a PCI Express capability only below a port, not on a root bus. */
    if (parent >= 0)
        fake_add_pcie(f, d, PCI_EXP_TYPE_ENDPOINT, true, false);
    f->fns[d].cap_tail = 0x7c;
    fake_add_cap(f, d, PCI_CAP_ID_PM, 8);
    for (int i = 0; i < 5; i++)
        fake_add_cap(f, d, PCI_CAP_ID_VNDR, 0x10);
    fake_add_cap(f, d, PCI_CAP_ID_MSIX, 12);
    if (parent >= 0)
        fake_add_ext_cap(f, d, PCI_EXT_CAP_ID_ATS, 8);   /* as with ats=on */
    fake_bar(f, d, 1, 4096, 0);
    fake_bar(f, d, 4, 16 << 10, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    return d;
}

int fake_nvme(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    int d = fake_add(f, parent, slot, fn, 0x1b36, 0x0010, 0x010802, 0);
    fake_add_cap(f, d, PCI_CAP_ID_PM, 8);
    fake_add_cap(f, d, PCI_CAP_ID_MSIX, 12);
    fake_add_pcie(f, d, fake_ep_type(parent), true, false);
    fake_add_ext_cap(f, d, PCI_EXT_CAP_ID_ERR, 0x40);
    fake_bar(f, d, 0, 16 << 10, PCI_BAR_MEM64);
    return d;
}

static int fake_port(struct fake_pci *f, int parent, unsigned slot, unsigned fn, uint16_t vendor,
                     uint16_t device, unsigned type, bool ari_fwd, bool acs)
{
    int d = fake_add(f, parent, slot, fn, vendor, device, 0x060400, 1);
    fake_add_pcie(f, d, type, false, ari_fwd);
    fake_add_cap(f, d, PCI_CAP_ID_MSIX, 12);
    fake_add_ext_cap(f, d, PCI_EXT_CAP_ID_ERR, 0x48);
    if (acs)
        fake_add_acs(f, d, PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF |
                              PCI_ACS_DT);
    return d;
}

int fake_root_port(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    int d = fake_port(f, parent, slot, fn, 0x1b36, 0x000c, PCI_EXP_TYPE_ROOT_PORT, true, true);
    fake_bar(f, d, 0, 4096, 0);
    return d;
}

int fake_switch_up(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    return fake_port(f, parent, slot, fn, 0x104c, 0x8232, PCI_EXP_TYPE_UPSTREAM, false, false);
}

int fake_switch_down(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    return fake_port(f, parent, slot, fn, 0x104c, 0x8233, PCI_EXP_TYPE_DOWNSTREAM, true, false);
}

int fake_pcie_pci_bridge(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    int d = fake_add(f, parent, slot, fn, 0x1b36, 0x000e, 0x060400, 1);
    fake_add_pcie(f, d, PCI_EXP_TYPE_PCI_BRIDGE, false, false);
    fake_add_cap(f, d, PCI_CAP_ID_MSI, 0x10);
    fake_add_cap(f, d, 0x0c, 8);   /* SHPC */
    fake_bar(f, d, 0, 256, PCI_BAR_MEM64);
    return d;
}

int fake_pci_bridge(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    int d = fake_add(f, parent, slot, fn, 0x1b36, 0x0001, 0x060400, 1);
    fake_add_cap(f, d, 0x0c, 8);    /* SHPC */
    fake_add_cap(f, d, 0x04, 4);    /* slot identification */
    fake_add_cap(f, d, PCI_CAP_ID_MSI, 0x10);
    fake_bar(f, d, 0, 256, PCI_BAR_MEM64);
    return d;
}

int fake_pxb(struct fake_pci *f, int parent, unsigned slot, unsigned fn)
{
    return fake_add(f, parent, slot, fn, 0x1b36, 0x000b, 0x060000, 0);
}

int fake_igb(struct fake_pci *f, int parent, unsigned slot, unsigned fn, uint16_t total_vfs)
{
    int d = fake_add(f, parent, slot, fn, 0x8086, 0x10c9, 0x020000, 0);
    fake_add_cap(f, d, PCI_CAP_ID_PM, 8);
    fake_add_cap(f, d, PCI_CAP_ID_MSI, 0x18);
    fake_add_cap(f, d, PCI_CAP_ID_MSIX, 12);
    fake_add_pcie(f, d, fake_ep_type(parent), true, false);
    fake_add_ext_cap(f, d, PCI_EXT_CAP_ID_ERR, 0x40);
    fake_add_ari(f, d, 0);
    fake_bar(f, d, 0, 128 << 10, 0);
    fake_bar(f, d, 1, 128 << 10, 0);
    fake_bar(f, d, 2, 32, PCI_BAR_IO);
    fake_bar(f, d, 3, 16 << 10, 0);
    if (total_vfs)
        fake_add_sriov(f, d, total_vfs, 0x80, 2, 0x10ca, 16 << 10);
    return d;
}

/* ---- running and reporting ---- */

int fake_run(struct fake_pci *f, struct pci_system *sys, struct pci_dev *devs, unsigned max)
{
    struct pci_host_bridge host[8];
    memset(host, 0, sizeof(host));
    for (unsigned r = 0; r < f->nroots; r++) {
        host[r].seg = f->roots[r].seg;
        host[r].bus_start = f->roots[r].bus;
        host[r].bus_end = 0xff;
        for (unsigned o = 0; o < f->nroots; o++)   /* up to the next root's bus */
            if (f->roots[o].seg == host[r].seg && f->roots[o].bus > host[r].bus_start &&
                f->roots[o].bus - 1 < host[r].bus_end)
                host[r].bus_end = (uint8_t)(f->roots[o].bus - 1);
        host[r].mem32 = (struct pci_aperture){ 0x80000000u + r * 0x10000000u, 0x10000000u };
        host[r].mem64 = (struct pci_aperture){ 0x8000000000ull + r * 0x100000000ull, 0x100000000ull };
        host[r].io = (struct pci_aperture){ 0x1000 + r * 0x4000, 0x4000 };
    }
    int r = pci_system_init(sys, &fake_pci_ops, f, host, f->nroots, devs, max, 0);
    if (r)
        return r;
    r = pci_enumerate(sys);
    if (r < 0)
        return r;
    r = pci_assign_resources(sys);
    if (r)
        return r;
    r = pci_sriov_enable_all(sys, 0);
    if (r < 0)
        return r;
    return pci_assign_groups(sys);
}

static int fake_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fake_groups_text(const struct pci_system *sys, char *buf, unsigned len)
{
    char **lines = calloc(sys->ngroups + 1, sizeof(char *));
    char **bdfs = calloc(sys->ndevs + 1, sizeof(char *));
    for (unsigned g = 0; g < sys->ngroups; g++) {
        unsigned n = 0;
        for (unsigned i = 0; i < sys->ndevs; i++) {
            if (sys->devs[i].group != (int)g)
                continue;
            bdfs[n] = malloc(16);
            pci_format_bdf(&sys->devs[i], bdfs[n++], 16);
        }
        qsort(bdfs, n, sizeof(char *), fake_cmp_str);
        lines[g] = calloc(1, n * 14 + 1);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                strcat(lines[g], " ");
            strcat(lines[g], bdfs[i]);
            free(bdfs[i]);
        }
    }
    qsort(lines, sys->ngroups, sizeof(char *), fake_cmp_str);
    buf[0] = 0;
    for (unsigned g = 0; g < sys->ngroups; g++) {
        if (strlen(buf) + strlen(lines[g]) + 2 < len) {
            strcat(buf, lines[g]);
            strcat(buf, "\n");
        }
        free(lines[g]);
    }
    free(lines);
    free(bdfs);
}

/* ---- QEMU -device lines ---- */

struct fake_ids {
    char name[16][32];
    int parent[16];   /* what a device naming this bus as bus= hangs from */
    unsigned n;
};

static bool fake_opt(const char *opts, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t n = strcspn(p + kl + 1, ",");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, p + kl + 1, n);
            out[n] = 0;
            return true;
        }
    }
    return false;
}

static bool fake_slot_used(struct fake_pci *f, int parent, unsigned slot)
{
    for (unsigned i = 0; i < f->n; i++)
        if (f->fns[i].parent == parent && !f->fns[i].is_vf && PCI_SLOT(f->fns[i].devfn) == slot)
            return true;
    return false;
}

static int fake_make(struct fake_pci *f, const char *type, int parent, unsigned slot, unsigned fn)
{
    static const struct {
        const char *name;
        int (*make)(struct fake_pci *, int, unsigned, unsigned);
    } kinds[] = {
        { "e1000e", fake_e1000e }, { "edu", fake_edu }, { "virtio-blk-pci", fake_virtio_blk },
        { "nvme", fake_nvme }, { "pcie-root-port", fake_root_port },
        { "x3130-upstream", fake_switch_up }, { "xio3130-downstream", fake_switch_down },
        { "pcie-pci-bridge", fake_pcie_pci_bridge }, { "pci-bridge", fake_pci_bridge },
        { "pxb-pcie", fake_pxb },
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, type) == 0)
            return kinds[i].make(f, parent, slot, fn);
    if (strcmp(type, "igb") == 0)
        return fake_igb(f, parent, slot, fn, 7);
    return -1;
}

static int fake_bus_parent(struct fake_ids *ids, const char *bus)
{
    if (strcmp(bus, "pcie.0") == 0)
        return FAKE_ROOT(0);
    for (unsigned i = 0; i < ids->n; i++)
        if (strcmp(ids->name[i], bus) == 0)
            return ids->parent[i];
    return 1 << 30;
}

static int fake_device_line(struct fake_pci *f, struct fake_ids *ids, char *line)
{
    char type[32], v[32];
    const char *opts = strchr(line, ',') ? strchr(line, ',') + 1 : "";
    size_t tl = strcspn(line, ",");
    if (tl >= sizeof(type))
        return -1;
    memcpy(type, line, tl);
    type[tl] = 0;
    int parent = fake_bus_parent(ids, fake_opt(opts, "bus", v, sizeof(v)) ? v : "pcie.0");
    if (parent == 1 << 30)
        return -1;
    unsigned slot = 0, fn = 0;
    if (fake_opt(opts, "addr", v, sizeof(v))) {
        char *dot;
        slot = (unsigned)strtoul(v, &dot, 16);
        if (*dot == '.')
            fn = (unsigned)strtoul(dot + 1, NULL, 16);
    } else {
        while (slot < 32 && fake_slot_used(f, parent, slot))
            slot++;
    }
    int d = fake_make(f, type, parent, slot, fn);
    if (d < 0)
        return -1;
    if (fake_opt(opts, "multifunction", v, sizeof(v)) && strcmp(v, "on") == 0)
        fake_set_mfd(f, d);
    if (fake_opt(opts, "id", v, sizeof(v)) && ids->n < 16) {
        snprintf(ids->name[ids->n], sizeof(ids->name[0]), "%s", v);
        ids->parent[ids->n] = d;
        if (strcmp(type, "pxb-pcie") == 0) {
            char nr[16] = "0";
            fake_opt(opts, "bus_nr", nr, sizeof(nr));
            ids->parent[ids->n] = FAKE_ROOT((int)fake_add_root(f, 0, (uint8_t)strtoul(nr, NULL, 0)));
        }
        ids->n++;
    }
    return 0;
}

int fake_from_qemu_args(struct fake_pci *f, const char *text, char *err, unsigned errlen)
{
    struct fake_ids ids = { .n = 0 };
    char line[512];
    fake_q35_base(f);
    while (*text) {
        size_t n = strcspn(text, "\n");
        snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), text);
        text += n + (text[n] == '\n');
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (strncmp(p, "-device", 7) != 0)
            continue;
        p += 7;
        while (isspace((unsigned char)*p))
            p++;
        p[strcspn(p, " \t\r")] = 0;
        if (fake_device_line(f, &ids, p)) {
            snprintf(err, errlen, "cannot model: %s", p);
            return -1;
        }
    }
    return 0;
}
