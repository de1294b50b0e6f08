/* HWPT: hardware page tables. A paging HWPT mirrors its IOAS (every area mapped in its domain);
 * a nested HWPT is a caller-owned stage 1 over a NEST_PARENT paging HWPT. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

struct hwpt *hwpt_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_ANY);
    if (!obj || (obj->type != IOMMUFD_OBJ_HWPT_PAGING && obj->type != IOMMUFD_OBJ_HWPT_NESTED))
        return NULL;
    return container_of(obj, struct hwpt, obj);
}

static void depopulate(struct ioas *ioas, struct iommu_domain *d, const struct iova_node *stop)
{
    for (struct iova_node *n = iova_first(&ioas->tree, 0, UINT64_MAX); n && n != stop;
         n = iova_next(&ioas->tree, n, UINT64_MAX))
        if (n->kind == IOVA_AREA)
            ioas_unmap_area_domain(d, container_of(n, struct ioas_area, node));
}

/* Maps every area of ioas into d; on failure unmaps exactly what it mapped. */
static int populate_all(struct ioas *ioas, struct iommu_domain *d)
{
    for (struct iova_node *n = iova_first(&ioas->tree, 0, UINT64_MAX); n;
         n = iova_next(&ioas->tree, n, UINT64_MAX)) {
        if (n->kind != IOVA_AREA)
            continue;
        int err = ioas_map_area_domain(ioas, d, container_of(n, struct ioas_area, node));
        if (err) {
            depopulate(ioas, d, n);
            return err;
        }
    }
    return 0;
}

static int domain_for(struct idev *idev, uint32_t flags, struct iommu_domain **d)
{
    struct iommu_domain_cfg cfg = { 0 };
    if (flags & IOMMU_HWPT_ALLOC_NEST_PARENT)
        cfg.flags |= IOMMU_DOMAIN_NEST_PARENT;
    if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
        cfg.flags |= IOMMU_DOMAIN_DIRTY_TRACKING;
    int err = iommu_domain_alloc(idev->unit, IOMMU_DOMAIN_PAGING, &cfg, d);
    if (!err)
        (*d)->user = true;      /* no direct mappings: see iommu_attach */
    return err;
}

int hwpt_paging_create(struct moat_iommufd *ctx, struct ioas *ioas, struct idev *idev,
                       uint32_t flags, bool auto_domain, struct hwpt **out)
{
    int err;
    struct hwpt *h = iommufd_obj_zalloc(ctx, sizeof(*h), &err);
    if (!h)
        return err;
    err = domain_for(idev, flags, &h->domain);
    if (err)
        goto out_free;
    struct ioas_resv width = { h->domain->iova_last + 1, UINT64_MAX, h };
    if (h->domain->iova_last < UINT64_MAX) {
        err = ioas_resv_add(ioas, &width, 1);
        if (err)
            goto out_domain;
    }
    err = populate_all(ioas, h->domain);
    if (err)
        goto out_resv;
    h->ioas = ioas;
    h->auto_domain = auto_domain;
    h->nest_parent = flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
    h->dirty_capable = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    h->next = ioas->hwpts;
    ioas->hwpts = h;
    ioas->obj.users++;
    iommufd_obj_install(ctx, &h->obj, IOMMUFD_OBJ_HWPT_PAGING);
    *out = h;
    return 0;
out_resv:
    ioas_resv_remove(ioas, h);
out_domain:
    iommu_domain_free(h->domain);
out_free:
    kfree(h);
    return err;
}

/* The HWPT is out of the table and unused: unmap everything (each unmap waits for its
 * invalidation), drop its references, free the domain. */
void hwpt_destroy(struct moat_iommufd *ctx, struct hwpt *h)
{
    MOAT_ASSERT(h->domain->nr_devs == 0);
    if (h->ioas) {
        struct hwpt **pp = &h->ioas->hwpts;
        while (*pp != h)
            pp = &(*pp)->next;
        *pp = h->next;
        depopulate(h->ioas, h->domain, NULL);
        ioas_resv_remove(h->ioas, h);
        h->ioas->obj.users--;
    }
    if (h->parent)
        h->parent->obj.users--;
    if (h->viommu)
        h->viommu->obj.users--;
    if (h->fault) {
        h->domain->fault_fn = NULL;
        h->fault->obj.users--;
    }
    iommu_domain_free(h->domain);
    kfree(h);
}

void hwpt_set_fault(struct hwpt *h, struct fault_queue *fq)
{
    h->fault = fq;
    fq->obj.users++;
    h->domain->fault_ctx = h;
    h->domain->fault_fn = fault_queue_deliver;
}
