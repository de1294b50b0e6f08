/* HWPT entry points: explicit allocation (paging or nested), dirty tracking, user cache
 * invalidation. Checks in Linux's order (iommufd_hwpt_alloc, iommufd_hwpt_*_dirty_*,
 * iommufd_hwpt_invalidate). What nested data and invalidation entries mean is the unit's
 * business (its nested_parse and cache_invalidate_user ops); this layer checks the generic
 * parts (sizes, the entry count protocol) and hands the caller's bytes through. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"

#define HWPT_PAGING_FLAGS (IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | \
                           IOMMU_HWPT_FAULT_ID_VALID)

/* The nested HWPT over parent (and vi, when made on a vIOMMU) from the unit's parsed config. */
static int nested_create(struct moat_iommufd *ctx, struct iommu_unit *u, struct hwpt *parent,
                         struct viommu *vi, const struct iommu_nested_cfg *ncfg, uint32_t type,
                         struct hwpt **out)
{
    int err;
    struct hwpt *h = iommufd_obj_zalloc(ctx, sizeof(*h), &err);
    if (!h)
        return err;
    struct iommu_domain_cfg cfg = { .parent = parent->domain, .nested = ncfg,
                                    .viommu = vi ? vi->v : NULL };
    err = iommu_domain_alloc(u, IOMMU_DOMAIN_NESTED, &cfg, &h->domain);
    if (err) {
        kfree(h);
        return err;
    }
    h->parent = parent;
    h->viommu = vi;
    h->data_type = type;
    parent->obj.users++;
    if (vi)
        vi->obj.users++;
    iommufd_obj_install(ctx, &h->obj, IOMMUFD_OBJ_HWPT_NESTED);
    *out = h;
    return 0;
}

static int nested_alloc(struct moat_iommufd *ctx, const struct moat_hwpt_alloc *a,
                        struct idev *idev, struct hwpt *parent, struct hwpt **out)
{
    const struct iommu_unit_ops *ops = idev->unit->ops;
    struct iommu_user_data data = { a->data_type, a->data, a->data_len };
    struct iommu_nested_cfg ncfg;
    if ((a->flags & ~IOMMU_HWPT_FAULT_ID_VALID) || !a->data_len)
        return ERR(-EOPNOTSUPP);
    if (parent->auto_domain || !parent->nest_parent || parent->domain->unit != idev->unit)
        return ERR(-EINVAL);
    if (!ops->nested_parse)
        return ERR(-EOPNOTSUPP);
    int err = ops->nested_parse(idev->unit, &data, &ncfg);
    return err ? err : nested_create(ctx, idev->unit, parent, NULL, &ncfg, a->data_type, out);
}

/* iommufd_viommu_alloc_hwpt_nested: the stage 1 on a vIOMMU, over its stage 2. */
static int viommu_nested_alloc(struct moat_iommufd *ctx, const struct moat_hwpt_alloc *a,
                               struct idev *idev, struct viommu *vi, struct hwpt **out)
{
    struct iommu_user_data data = { a->data_type, a->data, a->data_len };
    struct iommu_nested_cfg ncfg;
    if (idev->unit != vi->v->unit)
        return ERR(-EINVAL);
    if ((a->flags & ~IOMMU_HWPT_FAULT_ID_VALID) || !a->data_len)
        return ERR(-EOPNOTSUPP);
    if (!vi->v->ops->nested_parse)
        return ERR(-EOPNOTSUPP);
    int err = vi->v->ops->nested_parse(vi->v, &data, &ncfg);
    return err ? err : nested_create(ctx, vi->v->unit, vi->hwpt, vi, &ncfg, a->data_type, out);
}

static int paging_alloc(struct moat_iommufd *ctx, const struct moat_hwpt_alloc *a,
                        struct idev *idev, struct ioas *ioas, struct hwpt **out)
{
    if (a->flags & ~HWPT_PAGING_FLAGS)
        return ERR(-EOPNOTSUPP);
    if (a->data_len)        /* no driver takes paging user data */
        return ERR(-EOPNOTSUPP);
    if ((a->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) && !idev->unit->ops->set_dirty_tracking)
        return ERR(-EOPNOTSUPP);
    return hwpt_paging_create(ctx, ioas, idev, a->flags & ~IOMMU_HWPT_FAULT_ID_VALID, false,
                              out);
}

int moat_hwpt_alloc(struct moat_iommufd *ctx, const struct moat_hwpt_alloc *a,
                    uint32_t *out_hwpt_id)
{
    struct fault_queue *fq = NULL;
    struct hwpt *h;
    int err;
    if ((a->data_type == IOMMU_HWPT_DATA_NONE && a->data_len) ||
        (a->data_type != IOMMU_HWPT_DATA_NONE && !a->data_len))
        return ERR(-EINVAL);
    if (a->data_len && !a->data)
        return ERR(-EFAULT);
    struct idev *idev = idev_get(ctx, a->dev_id);
    if (!idev)
        return ERR(-ENOENT);
    struct iommufd_obj *pt = iommufd_get(ctx, a->pt_id, IOMMUFD_OBJ_ANY);
    if (!pt || (pt->type != IOMMUFD_OBJ_IOAS && pt->type != IOMMUFD_OBJ_HWPT_PAGING &&
                pt->type != IOMMUFD_OBJ_VIOMMU))
        return ERR(-EINVAL);
    if (a->flags & IOMMU_HWPT_FAULT_ID_VALID) {
        struct iommufd_obj *f = iommufd_get(ctx, a->fault_id, IOMMUFD_OBJ_FAULT);
        if (!f)
            return ERR(-ENOENT);
        fq = container_of(f, struct fault_queue, obj);
    }
    if (pt->type == IOMMUFD_OBJ_IOAS)
        err = paging_alloc(ctx, a, idev, container_of(pt, struct ioas, obj), &h);
    else if (pt->type == IOMMUFD_OBJ_VIOMMU)
        err = viommu_nested_alloc(ctx, a, idev, container_of(pt, struct viommu, obj), &h);
    else
        err = nested_alloc(ctx, a, idev, container_of(pt, struct hwpt, obj), &h);
    if (err)
        return err;
    if (fq)
        hwpt_set_fault(h, fq);
    *out_hwpt_id = h->obj.id;
    return 0;
}

static struct hwpt *hwpt_paging_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_HWPT_PAGING);
    return obj ? container_of(obj, struct hwpt, obj) : NULL;
}

/* Clears stale dirty state so that a read after enabling reports only new writes. */
static void dirty_clear_all(struct hwpt *h)
{
    uint64_t scratch[64];
    const uint64_t chunk = 64 * 64 * IOMMUFD_PAGE;
    for (struct iova_node *n = iova_first(&h->ioas->tree, 0, UINT64_MAX); n;
         n = iova_next(&h->ioas->tree, n, UINT64_MAX)) {
        if (n->kind != IOVA_AREA)
            continue;
        for (uint64_t at = n->start; at <= n->last && at >= n->start; at += chunk) {
            uint64_t len = MIN(chunk, n->last - at + 1);
            pgtable_read_dirty(&h->domain->pt, at, len, IOMMUFD_PAGE, scratch, 0);
        }
    }
}

int moat_hwpt_set_dirty_tracking(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t flags)
{
    if (flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE)
        return ERR(-EOPNOTSUPP);
    struct hwpt *h = hwpt_paging_get(ctx, hwpt_id);
    if (!h)
        return ERR(-ENOENT);
    if (!h->dirty_capable || !h->domain->unit->ops->set_dirty_tracking)
        return ERR(-EOPNOTSUPP);
    bool enable = flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
    if (enable)
        dirty_clear_all(h);
    int err = h->domain->unit->ops->set_dirty_tracking(h->domain, enable);
    if (!err)
        h->dirty_on = enable;
    return err;
}

/* Mappings cover [iova, last] without a gap (Linux's iopt_area_contig_done). */
static bool areas_cover(const struct ioas *ioas, uint64_t iova, uint64_t last)
{
    const struct iova_node *n = iova_first(&ioas->tree, iova, iova);
    while (n && n->kind == IOVA_AREA && n->start <= iova) {
        if (n->last >= last)
            return true;
        iova = n->last + 1;
        n = iova_first(&ioas->tree, iova, iova);
    }
    return false;
}

/* iommufd_check_iova_range. */
static int dirty_range_check(uint64_t iova, uint64_t length, uint64_t page_size)
{
    uint64_t last;
    if (!length)
        return ERR(-EINVAL);
    if (__builtin_add_overflow(iova, length - 1, &last))
        return ERR(-EOVERFLOW);
    if (!IS_ALIGNED(iova, IOMMUFD_PAGE) || !IS_ALIGNED(last + 1, IOMMUFD_PAGE))
        return ERR(-EINVAL);
    if (!page_size || (page_size & (page_size - 1)) || page_size < IOMMUFD_PAGE)
        return ERR(-EINVAL);
    if (!IS_ALIGNED(iova, page_size) || !IS_ALIGNED(last + 1, page_size))
        return ERR(-EINVAL);
    return 0;
}

int hwpt_dirty_check(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t flags, uint64_t iova,
                     uint64_t length, uint64_t page_size, struct hwpt **out)
{
    if (flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR)
        return ERR(-EOPNOTSUPP);
    struct hwpt *h = hwpt_paging_get(ctx, hwpt_id);
    if (!h)
        return ERR(-ENOENT);
    int err = dirty_range_check(iova, length, page_size);
    if (err)
        return err;
    if (!h->dirty_capable)
        return ERR(-EOPNOTSUPP);
    /* Linux's iommu_read_and_clear_dirty: the range wholly mapped, and the unit's
     * read_and_clear_dirty refuses a bitmap while tracking is off (VT-d's and AMD's: EINVAL) */
    uint64_t last = iova + (length - 1);
    if (last > h->domain->pt.ia_last || !areas_cover(h->ioas, iova, last) || !h->dirty_on)
        return ERR(-EINVAL);
    *out = h;
    return 0;
}

int moat_hwpt_get_dirty_bitmap(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t flags,
                               uint64_t iova, uint64_t length, uint64_t page_size,
                               uint64_t *bitmap)
{
    struct hwpt *h;
    int err = hwpt_dirty_check(ctx, hwpt_id, flags, iova, length, page_size, &h);
    if (err)
        return err;
    if (!bitmap)
        return ERR(-EFAULT);
    uint32_t pf = flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR ? PGTABLE_DIRTY_NO_CLEAR : 0;
    return pgtable_read_dirty(&h->domain->pt, iova, length, page_size, bitmap, pf);
}

/* The caller's entries (for a nested HWPT or a vIOMMU) go to the unit, which checks them up to the first bad one, carries out
 * the good ones before it and counts them in *entry_num; the first error is returned (as Linux
 * reports progress). */
int moat_hwpt_invalidate(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t data_type,
                         const void *entries, uint32_t entry_len, uint32_t *entry_num)
{
    struct iommu_user_array arr = { data_type, entries, entry_len, *entry_num };
    *entry_num = 0;
    if (arr.entry_num && (!entries || !entry_len))
        return ERR(-EINVAL);
    struct iommufd_obj *obj = iommufd_get(ctx, hwpt_id, IOMMUFD_OBJ_ANY);
    if (!obj)
        return ERR(-ENOENT);
    uint32_t n = arr.entry_num;
    int err;
    if (obj->type == IOMMUFD_OBJ_HWPT_NESTED) {
        struct hwpt *h = container_of(obj, struct hwpt, obj);
        if (!h->domain->unit->ops->cache_invalidate_user)
            return ERR(-EOPNOTSUPP);
        err = h->domain->unit->ops->cache_invalidate_user(h->domain, &arr);
    } else if (obj->type == IOMMUFD_OBJ_VIOMMU) {
        struct iommu_viommu *v = container_of(obj, struct viommu, obj)->v;
        if (!v->ops->cache_invalidate)
            return ERR(-EOPNOTSUPP);
        err = v->ops->cache_invalidate(v, &arr);
    } else
        return ERR(-EINVAL);
    MOAT_ASSERT(arr.entry_num <= n);
    *entry_num = arr.entry_num;
    return err;
}
