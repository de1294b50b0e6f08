/* HWPT entry points: explicit allocation (paging or nested), dirty tracking, user cache
 * invalidation. Checks in Linux's order (iommufd_hwpt_alloc, iommufd_hwpt_*_dirty_*,
 * iommufd_hwpt_invalidate and the VT-d driver's user-data checks). */
#include "iommu/core/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"

#define HWPT_PAGING_FLAGS (IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING | \
                           IOMMU_HWPT_FAULT_ID_VALID)
#define VTD_S1_FLAGS (IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE | IOMMU_VTD_S1_WPE)
#define VTD_S1_MIN (offsetof(struct iommu_hwpt_vtd_s1, __reserved) + 4)
#define VTD_INV_MIN (offsetof(struct iommu_hwpt_vtd_s1_invalidate, __reserved) + 4)

/* copy_struct_from_user: shorter than min -EINVAL, longer with non-zero tail -E2BIG. */
static int struct_load(void *dst, size_t size, size_t min, const void *src, size_t len)
{
    const uint8_t *s = src;
    if (len < min)
        return ERR(-EINVAL);
    for (size_t i = size; i < len; i++)
        if (s[i])
            return ERR(-E2BIG);
    memset(dst, 0, size);
    memcpy(dst, src, MIN(size, len));
    return 0;
}

static int vtd_s1_check(const void *data, uint32_t len, struct iommu_hwpt_vtd_s1 *s1)
{
    int err = struct_load(s1, sizeof(*s1), VTD_S1_MIN, data, len);
    if (err)
        return err;
    if ((s1->flags & ~(uint64_t)VTD_S1_FLAGS) || s1->__reserved)
        return ERR(-EOPNOTSUPP);
    if (!IS_ALIGNED(s1->pgtbl_addr, IOMMUFD_PAGE) ||
        (s1->addr_width != 48 && s1->addr_width != 57))
        return ERR(-EINVAL);
    return 0;
}

static int nested_alloc(struct moat_iommufd *ctx, const struct moat_hwpt_alloc *a,
                        struct idev *idev, struct hwpt *parent, struct hwpt **out)
{
    struct iommu_hwpt_vtd_s1 s1;
    if ((a->flags & ~IOMMU_HWPT_FAULT_ID_VALID) || !a->data_len)
        return ERR(-EOPNOTSUPP);
    if (parent->auto_domain || !parent->nest_parent || parent->domain->unit != idev->unit)
        return ERR(-EINVAL);
    if (a->data_type != IOMMU_HWPT_DATA_VTD_S1)
        return ERR(-EOPNOTSUPP);
    int err = vtd_s1_check(a->data, a->data_len, &s1);
    if (!err)
        err = iommufd_slot_reserve(ctx);
    if (err)
        return err;
    struct hwpt *h = iommufd_zalloc(sizeof(*h));
    if (!h)
        return ERR(-ENOMEM);
    struct iommu_domain_cfg cfg = { .parent = parent->domain, .nested_data = &s1,
                                    .nested_len = sizeof(s1) };
    err = iommu_domain_alloc(idev->unit, IOMMU_DOMAIN_NESTED, &cfg, &h->domain);
    if (err) {
        kfree(h);
        return err;
    }
    h->parent = parent;
    h->data_type = a->data_type;
    parent->obj.users++;
    iommufd_obj_install(ctx, &h->obj, IOMMUFD_OBJ_HWPT_NESTED);
    *out = h;
    return 0;
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
    if (!pt || (pt->type != IOMMUFD_OBJ_IOAS && pt->type != IOMMUFD_OBJ_HWPT_PAGING))
        return ERR(-EINVAL);
    if (a->flags & IOMMU_HWPT_FAULT_ID_VALID) {
        struct iommufd_obj *f = iommufd_get(ctx, a->fault_id, IOMMUFD_OBJ_FAULT);
        if (!f)
            return ERR(-ENOENT);
        fq = container_of(f, struct fault_queue, obj);
    }
    if (pt->type == IOMMUFD_OBJ_IOAS)
        err = paging_alloc(ctx, a, idev, container_of(pt, struct ioas, obj), &h);
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
    return h->domain->unit->ops->set_dirty_tracking(h->domain, enable);
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
    if (!h->dirty_capable)
        return ERR(-EOPNOTSUPP);
    int err = dirty_range_check(iova, length, page_size);
    if (!err && iova + (length - 1) > h->domain->pt.ia_last)
        err = -EINVAL;
    *out = h;
    return err;
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

/* One VT-d stage-1 invalidation entry, as intel_nested_cache_invalidate_user checks it. */
static int vtd_inv_load(const void *src, uint32_t entry_len,
                        struct iommu_hwpt_vtd_s1_invalidate *inv)
{
    int err = struct_load(inv, sizeof(*inv), VTD_INV_MIN, src, entry_len);
    if (err)
        return err;
    if ((inv->flags & ~IOMMU_VTD_INV_FLAGS_LEAF) || inv->__reserved)
        return ERR(-EOPNOTSUPP);
    if (!IS_ALIGNED(inv->addr, IOMMUFD_PAGE) || (inv->npages == UINT64_MAX && inv->addr))
        return ERR(-EINVAL);
    return 0;
}

/* Entries are checked up to the first bad one; the good ones before it are carried out and
 * counted in *entry_num, the error returned (as Linux reports progress). */
int moat_hwpt_invalidate(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t data_type,
                         const void *entries, uint32_t entry_len, uint32_t *entry_num)
{
    uint32_t n = *entry_num, good = 0;
    int err = 0;
    *entry_num = 0;
    if (n && (!entries || !entry_len))
        return ERR(-EINVAL);
    struct iommufd_obj *obj = iommufd_get(ctx, hwpt_id, IOMMUFD_OBJ_ANY);
    if (!obj)
        return ERR(-ENOENT);
    if (obj->type != IOMMUFD_OBJ_HWPT_NESTED)
        return ERR(-EINVAL);
    struct hwpt *h = container_of(obj, struct hwpt, obj);
    if (!h->domain->unit->ops->cache_invalidate_user)
        return ERR(-EOPNOTSUPP);
    if (data_type != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1)
        return ERR(-EINVAL);
    struct iommu_hwpt_vtd_s1_invalidate inv;
    for (; good < n && !err; good++)
        err = vtd_inv_load((const uint8_t *)entries + (size_t)good * entry_len, entry_len, &inv);
    if (err)
        good--;
    for (uint32_t i = 0; i < good; i++) {
        vtd_inv_load((const uint8_t *)entries + (size_t)i * entry_len, entry_len, &inv);
        int e = h->domain->unit->ops->cache_invalidate_user(h->domain, &inv, sizeof(inv));
        if (e)
            return e;
        (*entry_num)++;
    }
    return err;
}
