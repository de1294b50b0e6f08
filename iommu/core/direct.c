/* Per-device reserved regions and the direct (1:1) mappings firmware asks for (RMRRs,
 * IVMDs), done once here for every driver, as Linux's core does:
 *  - iommu_get_resv_regions: the unit's resv_regions op, per device;
 *  - iommu_create_device_direct_mappings: DIRECT and DIRECT_RELAXABLE regions are mapped 1:1
 *    in a kernel paging domain before the device is attached to it; user domains (IOMMUFD,
 *    VFIO) get none;
 *  - require_direct: a device with a DIRECT region may not be put on the blocked domain, which
 *    also keeps it out of the object layer (binding claims DMA ownership by blocking, in
 *    Linux since a48ce36e2786 "iommu: Prevent RESV_DIRECT devices from blocking domains"). */
#include "iommu/core/direct.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "pci/pci.h"

int iommu_resv_regions(struct pci_dev *dev, struct iommu_resv_region *out, unsigned max)
{
    struct iommu_unit *u = iommu_unit_for(dev);
    if (!u || !u->ops->resv_regions)
        return 0;
    return u->ops->resv_regions(u, dev, out, max);
}

bool iommu_dev_require_direct(struct pci_dev *dev)
{
    struct iommu_resv_region r[IOMMU_MAX_RESV];
    int n = iommu_resv_regions(dev, r, IOMMU_MAX_RESV);
    if (n < 0)
        return true;        /* cannot tell: keep the stricter rule */
    for (int i = 0; i < n; i++)
        if (r[i].type == IOMMU_RESV_DIRECT)
            return true;
    return false;
}

static bool is_direct(const struct iommu_resv_region *r)
{
    return r->type == IOMMU_RESV_DIRECT || r->type == IOMMU_RESV_DIRECT_RELAXABLE;
}

/* Mapped 1:1 with exactly r's permissions at both ends (another device of the domain with the
 * same firmware range, or a second attach): then the region is kept as it is. */
static bool in_place(struct iommu_domain *d, const struct iommu_resv_region *r)
{
    const uint64_t at[2] = { r->start, r->last & ~0xfffULL };
    const uint32_t mask = PGTABLE_PROT_READ | PGTABLE_PROT_WRITE;
    for (unsigned i = 0; i < 2; i++) {
        struct pgtable_xlate x;
        if (pgtable_translate(&d->pt, at[i], &x) || x.pa != at[i] ||
            (x.prot & mask) != (r->prot & mask))
            return false;
    }
    return true;
}

/* Drivers map only free ranges (the contract): a conflict is found here, leaf by leaf. */
static bool anything_mapped(struct iommu_domain *d, const struct iommu_resv_region *r)
{
    for (uint64_t a = r->start; a <= r->last && a >= r->start;) {
        struct pgtable_xlate x;
        if (!pgtable_translate(&d->pt, a, &x))
            return true;
        a += 0x1000;
    }
    return false;
}

static int map_one(struct iommu_domain *d, const struct pci_dev *dev,
                   const struct iommu_resv_region *r)
{
    char bdf[16];
    pci_format_bdf(dev, bdf, sizeof(bdf));
    if ((r->start | (r->last + 1)) & 0xfff || r->last < r->start) {
        kprintf("iommu: %s: firmware range not page-aligned: not attached\n", bdf);
        return ERR(-EINVAL);
    }
    if (r->last > d->iova_last) {
        kprintf("iommu: %s: direct range %#llx-%#llx lies beyond the domain's %#llx: "
                "not attached\n", bdf, (unsigned long long)r->start,
                (unsigned long long)r->last, (unsigned long long)d->iova_last);
        return ERR(-ERANGE);
    }
    if (in_place(d, r))
        return 0;
    if (anything_mapped(d, r)) {
        kprintf("iommu: %s: direct range %#llx-%#llx is partly mapped already: not attached\n",
                bdf, (unsigned long long)r->start, (unsigned long long)r->last);
        return ERR(-EEXIST);
    }
    if (d->nr_direct == IOMMU_MAX_DIRECT)
        return ERR(-ENOSPC);
    int err = d->unit->ops->map(d, r->start, r->start, r->last - r->start + 1, r->prot);
    if (err)
        return err;
    d->direct[d->nr_direct].start = r->start;
    d->direct[d->nr_direct++].last = r->last;
    return 0;
}

int iommu_direct_map(struct iommu_domain *d, struct pci_dev *dev, unsigned *mark)
{
    struct iommu_resv_region r[IOMMU_MAX_RESV];
    *mark = d->nr_direct;
    if (d->type != IOMMU_DOMAIN_PAGING || d->user)
        return 0;
    int n = iommu_resv_regions(dev, r, IOMMU_MAX_RESV);
    int err = n < 0 ? n : 0;
    for (int i = 0; i < n && !err; i++)
        if (is_direct(&r[i]))
            err = map_one(d, dev, &r[i]);
    if (err)
        iommu_direct_undo(d, *mark);
    return err;
}

void iommu_direct_undo(struct iommu_domain *d, unsigned mark)
{
    while (d->nr_direct > mark) {
        d->nr_direct--;
        uint64_t s = d->direct[d->nr_direct].start, l = d->direct[d->nr_direct].last;
        d->unit->ops->unmap(d, s, l - s + 1);
    }
}

int iommu_direct_check_blocked(struct iommu_domain *d, struct pci_dev *dev)
{
    if (d->type != IOMMU_DOMAIN_BLOCKED || !iommu_dev_require_direct(dev))
        return 0;
    char bdf[16];
    pci_format_bdf(dev, bdf, sizeof(bdf));
    kprintf("iommu: %s: not blocked: firmware memory (RMRR/IVMD) must stay mapped 1:1 for it\n",
            bdf);
    return ERR(-EINVAL);
}
