/* RMRRs per device. An RMRR (VT-d spec 8.4) is memory a device may reach by DMA outside any
 * driver's control (USB legacy keyboard emulation, integrated graphics' stolen memory), so the
 * device must find it mapped 1:1 in every domain it is on. It concerns only the devices its
 * scopes name, not every function of the unit. */
#include "iommu/intel/rmrr.h"
#include "lib/errno.h"

#define PCI_CLASS_SERIAL_USB 0x0c03     /* class code 23:8 */
#define PCI_BASE_CLASS_DISPLAY 0x03     /* class code 23:16 */

bool vtd_pci_bridge(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint8_t *sec,
                    uint8_t *sub)
{
    struct pci_system *sys = ctx;
    struct pci_dev *d = sys ? pci_get_dev(sys, seg, bus, devfn) : NULL;
    if (!d || !d->is_bridge)
        return false;
    *sec = d->secondary;
    *sub = d->subordinate;
    return true;
}

struct alias_match {
    const struct vtd_rmrr *r;
    struct pci_system *sys;
};

static int alias_named(struct pci_dev *dev, uint16_t rid, void *arg)
{
    struct alias_match *m = arg;
    return vtd_scopes_match(&m->r->scopes, dev->seg, m->r->seg, (uint8_t)(rid >> 8),
                            (uint8_t)rid, vtd_pci_bridge, m->sys);
}

static bool rmrr_names(const struct vtd_rmrr *r, struct pci_system *sys, struct pci_dev *dev)
{
    if (r->seg != dev->seg)
        return false;
    if (vtd_scopes_match(&r->scopes, dev->seg, r->seg, dev->bus, dev->devfn, vtd_pci_bridge,
                         sys))
        return true;
    if (!sys)
        return false;
    /* A bridge above dev named by the RMRR, even as an endpoint: Linux treats the devices
     * below a named bridge as named. */
    for (uint32_t p = dev->parent; p != PCI_NONE; p = sys->devs[p].parent)
        if (vtd_scopes_match(&r->scopes, dev->seg, r->seg, sys->devs[p].bus,
                             sys->devs[p].devfn, vtd_pci_bridge, sys))
            return true;
    struct alias_match m = { r, sys };
    return pci_for_each_dma_alias(sys, dev, alias_named, &m) != 0;
}

static bool rmrr_relaxable(const struct pci_dev *dev)
{
    uint32_t class = dev->class_rev >> 8;
    return (class >> 8) == PCI_CLASS_SERIAL_USB || (class >> 16) == PCI_BASE_CLASS_DISPLAY;
}

int vtd_rmrr_regions(const struct vtd_dmar *d, struct pci_system *sys, struct pci_dev *dev,
                     struct iommu_resv_region *out, unsigned *n, unsigned max)
{
    enum iommu_resv_type type = rmrr_relaxable(dev) ? IOMMU_RESV_DIRECT_RELAXABLE
                                                    : IOMMU_RESV_DIRECT;
    for (unsigned i = 0; i < d->nr_rmrr; i++) {
        const struct vtd_rmrr *r = &d->rmrr[i];
        if (!rmrr_names(r, sys, dev))
            continue;
        if (*n == max)
            return -ENOSPC;
        out[(*n)++] = (struct iommu_resv_region){ r->base, r->limit,
                                                  IOMMU_READ | IOMMU_WRITE, type };
    }
    return 0;
}
