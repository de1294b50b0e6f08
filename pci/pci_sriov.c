/* SR-IOV (PCIe 6.0 §9): VF routing IDs from First VF Offset and VF Stride, VF BARs from the
 * PF's capability, and VFs added as devices once enabled. */
#include "pci/pci_internal.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Routing ID of VF id (0-based); false when it leaves the 16-bit RID space. */
static bool pci_vf_rid(const struct pci_dev *pf, unsigned id, uint16_t *rid)
{
    uint32_t r = PCI_RID(pf->bus, pf->devfn) + (uint32_t)pf->vf_offset +
                 (uint32_t)pf->vf_stride * id;
    if (r > 0xffff)
        return false;
    *rid = (uint16_t)r;
    return true;
}

unsigned pci_sriov_planned(const struct pci_dev *pf)
{
    return pf->caps.sriov ? pf->total_vfs : 0;
}

static void pci_sriov_read_offsets(struct pci_system *sys, struct pci_dev *pf, unsigned nvf)
{
    uint16_t pos = pf->caps.sriov;
    pci_write16(sys, pf, pos + PCI_SRIOV_NUM_VF, (uint16_t)nvf);
    pf->vf_offset = pci_read16(sys, pf, pos + PCI_SRIOV_VF_OFFSET);
    pf->vf_stride = pci_read16(sys, pf, pos + PCI_SRIOV_VF_STRIDE);
}

/* Checks the offsets for nvf VFs; returns the last VF's bus, or -1 when unusable. */
static int pci_sriov_last_bus(struct pci_system *sys, struct pci_dev *pf, unsigned nvf)
{
    uint16_t rid;
    if (pf->vf_offset == 0 || (nvf > 1 && pf->vf_stride == 0) ||
        !pci_vf_rid(pf, nvf - 1, &rid)) {
        pci_warn(sys, pf, PCI_WARN_SRIOV, "SR-IOV VF offset/stride unusable");
        return -1;
    }
    return rid >> 8;
}

static void pci_sriov_size_bars(struct pci_system *sys, struct pci_dev *pf)
{
    if (sys->flags & PCI_SYS_NO_BAR_SIZING)
        return;
    for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; i++) {
        bool is64;
        uint16_t off = (uint16_t)(pf->caps.sriov + PCI_SRIOV_BAR + 4 * i);
        pci_sizing_probe(sys, pf, off, &pf->vf_bar[i], &is64);
        if (pf->vf_bar[i].flags & PCI_BAR_IO) {
            pf->vf_bar[i].size = 0;   /* VF BARs are memory only */
        } else if (is64 && i + 1 >= PCI_SRIOV_NUM_BARS) {
            pf->vf_bar[i].size = 0;
        } else if (is64) {
            i++;
        }
    }
}

uint8_t pci_sriov_scan(struct pci_system *sys, struct pci_dev *pf)
{
    uint16_t pos = pf->caps.sriov;
    struct pci_dev *up = pci_parent(sys, pf);
    uint16_t ctrl = pci_read16(sys, pf, pos + PCI_SRIOV_CTRL);

    pf->total_vfs = pci_read16(sys, pf, pos + PCI_SRIOV_TOTAL_VF);
    if (pf->total_vfs == 0 || pf->total_vfs == 0xffff || pf->is_virtfn) {
        pf->total_vfs = 0;
        return pf->bus;
    }
    /* Start from VFs off; ARI Capable Hierarchy changes the offsets, so set it first. */
    ctrl &= (uint16_t)~(PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE | PCI_SRIOV_CTRL_ARI);
    if (up && up->ari_fwd)
        ctrl |= PCI_SRIOV_CTRL_ARI;
    pci_write16(sys, pf, pos + PCI_SRIOV_CTRL, ctrl);
    if (pci_read32(sys, pf, pos + PCI_SRIOV_SUP_PGSIZE) & 1)
        pci_write32(sys, pf, pos + PCI_SRIOV_SYS_PGSIZE, 1);   /* 4 KiB pages */
    pf->vf_device = pci_read16(sys, pf, pos + PCI_SRIOV_VF_DID);
    pci_sriov_read_offsets(sys, pf, pf->total_vfs);
    int last = pci_sriov_last_bus(sys, pf, pf->total_vfs);
    pci_write16(sys, pf, pos + PCI_SRIOV_NUM_VF, 0);
    if (last < 0) {
        pf->total_vfs = 0;
        return pf->bus;
    }
    pci_sriov_size_bars(sys, pf);
    return (uint8_t)last;
}

static uint8_t pci_bus_limit(struct pci_system *sys, const struct pci_dev *dev)
{
    const struct pci_dev *up = pci_parent(sys, dev);
    return up ? up->subordinate : sys->host[dev->host].bus_end;
}

static void pci_add_vf(struct pci_system *sys, struct pci_dev *pf, unsigned id, uint16_t rid)
{
    uint32_t pf_idx = pci_dev_index(sys, pf);
    struct pci_dev *vf = pci_alloc_dev(sys, pf->parent, pf->host);
    if (!vf)
        return;
    pf = &sys->devs[pf_idx];
    vf->seg = pf->seg;
    vf->bus = (uint8_t)(rid >> 8);
    vf->devfn = (uint8_t)rid;
    vf->host = pf->host;
    vf->depth = pf->depth;
    vf->vendor = pf->vendor;      /* a VF's own Vendor/Device ID registers read 0xffff */
    vf->device = pf->vf_device;
    vf->is_virtfn = true;
    vf->physfn = pf_idx;
    vf->class_rev = pci_cfg_read(sys, vf->seg, vf->bus, vf->devfn, PCI_CLASS_REVISION, 4);
    vf->hdr_type = PCI_HEADER_TYPE_NORMAL;
    vf->multifunction = false;    /* as Linux: VFs are never multi-function */
    pci_parse_caps(sys, vf);
    pci_apply_quirks(sys, vf);
    for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; i++) {
        vf->bar[i] = pf->vf_bar[i];
        vf->bar[i].base = pf->vf_bar[i].base + pf->vf_bar[i].size * id;
    }
}

int pci_sriov_enable(struct pci_system *sys, struct pci_dev *pf, unsigned num_vfs)
{
    if (!pf->caps.sriov || pf->is_virtfn || pf->num_vfs)
        return pf->num_vfs ? ERR(-EBUSY) : ERR(-ENODEV);
    if (num_vfs == 0 || num_vfs > pf->total_vfs)
        num_vfs = pf->total_vfs;
    if (num_vfs == 0)
        return 0;
    pci_sriov_read_offsets(sys, pf, num_vfs);
    int last = pci_sriov_last_bus(sys, pf, num_vfs);
    if (last < 0 || last > pci_bus_limit(sys, pf)) {
        pci_write16(sys, pf, pf->caps.sriov + PCI_SRIOV_NUM_VF, 0);
        pci_warn(sys, pf, PCI_WARN_SRIOV, "VFs would fall outside the bus range");
        return ERR(-EIO);
    }
    uint16_t ctrl = pci_read16(sys, pf, pf->caps.sriov + PCI_SRIOV_CTRL) | PCI_SRIOV_CTRL_VFE;
    bool mse = true;
    for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; i++)
        if (pf->vf_bar[i].size && !(pf->vf_bar[i].flags & PCI_BAR_ASSIGNED))
            mse = false;
    if (mse)
        ctrl |= PCI_SRIOV_CTRL_MSE;
    pci_write16(sys, pf, pf->caps.sriov + PCI_SRIOV_CTRL, ctrl);
    if (sys->ops->delay_us)
        sys->ops->delay_us(sys->ctx, 100000);   /* VFs may not answer for 100 ms */
    uint32_t pf_idx = pci_dev_index(sys, pf);
    for (unsigned id = 0; id < num_vfs; id++) {
        uint16_t rid = 0;
        pci_vf_rid(&sys->devs[pf_idx], id, &rid);
        pci_add_vf(sys, &sys->devs[pf_idx], id, rid);
    }
    sys->devs[pf_idx].num_vfs = (uint16_t)num_vfs;
    return (int)num_vfs;
}

int pci_sriov_disable(struct pci_system *sys, struct pci_dev *pf)
{
    if (!pf->caps.sriov || pf->is_virtfn)
        return ERR(-ENODEV);
    uint32_t idx = pci_dev_index(sys, pf);
    /* VFs come after their PF in devs[]; each leaves its parent's list before its entry can
     * be reused. */
    for (uint32_t v = idx + 1; v < sys->ndevs; v++) {
        struct pci_dev *vf = &sys->devs[v];
        if (vf->gone || !vf->is_virtfn || vf->physfn != idx)
            continue;
        pci_unlink_dev(sys, v);
        pci_forget(sys, vf);
    }
    uint16_t ctrl = pci_read16(sys, pf, pf->caps.sriov + PCI_SRIOV_CTRL);
    if (ctrl != 0xffff)
        pci_write16(sys, pf, pf->caps.sriov + PCI_SRIOV_CTRL,
                    ctrl & (uint16_t)~(PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE));
    pci_write16(sys, pf, pf->caps.sriov + PCI_SRIOV_NUM_VF, 0);
    pf->num_vfs = 0;
    pci_trim_gone(sys);
    return 0;
}

int pci_sriov_enable_all(struct pci_system *sys, unsigned max_vfs)
{
    int total = 0;
    uint32_t n = sys->ndevs;   /* VFs appended below are not PFs */

    for (uint32_t i = 0; i < n; i++) {
        struct pci_dev *pf = &sys->devs[i];
        if (!pf->caps.sriov || !pf->total_vfs || pf->num_vfs)
            continue;
        unsigned want = max_vfs && max_vfs < pf->total_vfs ? max_vfs : pf->total_vfs;
        int r = pci_sriov_enable(sys, pf, want);
        if (r > 0)
            total += r;
    }
    return sys->overflow ? ERR(-ENOSPC) : total;
}
