/* vIOMMUs in the vendor-neutral core: allocation through the unit's op, the lookups between
 * devices and their virtual IDs that drivers need to translate commands and events, and the
 * hand-off of events to the vIOMMU's owner. */
#include "iommu/iommu.h"
#include "lib/errno.h"
#include "lib/log.h"

int iommu_viommu_alloc(struct iommu_unit *u, struct iommu_domain *parent, uint32_t type,
                       struct iommu_viommu **out)
{
    if (!u->ops->viommu_alloc)
        return ERR(-EOPNOTSUPP);
    int err = u->ops->viommu_alloc(u, parent, type, out);
    if (err)
        return err;
    (*out)->unit = u;
    (*out)->parent = parent;
    (*out)->type = type;
    return 0;
}

void iommu_viommu_free(struct iommu_viommu *v)
{
    if (!v)
        return;
    MOAT_ASSERT(!v->vdevs);
    v->ops->free(v);
}

struct pci_dev *iommu_viommu_dev(const struct iommu_viommu *v, uint64_t virt_id)
{
    for (const struct iommu_vdev *vd = v->vdevs; vd; vd = vd->next)
        if (vd->virt_id == virt_id)
            return vd->dev;
    return NULL;
}

int iommu_viommu_virt_id(const struct iommu_viommu *v, const struct pci_dev *dev,
                         uint64_t *virt_id)
{
    for (const struct iommu_vdev *vd = v->vdevs; vd; vd = vd->next) {
        if (vd->dev == dev) {
            *virt_id = vd->virt_id;
            return 0;
        }
    }
    return -ENOENT;
}

int iommu_viommu_report(struct iommu_viommu *v, uint32_t type, const void *data, size_t len)
{
    if (!v->event_fn)
        return -EOPNOTSUPP;
    return v->event_fn(v, type, data, len, v->event_ctx);
}
