/* IOAS operations beyond map/unmap: copy, IOVA ranges, allowed IOVAs, options. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"

#define MAP_FLAGS (IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)

/* The source range must be mapped without holes; counts its pieces (one per source area). */
static int copy_src_check(struct ioas *src, uint64_t iova, uint64_t last, bool write,
                          uint32_t *pieces)
{
    uint64_t next = iova;
    *pieces = 0;
    for (struct iova_node *n = iova_first(&src->tree, iova, last); n;
         n = iova_next(&src->tree, n, last)) {
        if (n->kind != IOVA_AREA)
            continue;
        if (n->start > next || container_of(n, struct ioas_area, node)->win)
            return ERR(-ENOENT);    /* a hole, or a window: nothing fixed to copy */
        if (write && !(container_of(n, struct ioas_area, node)->prot & IOMMU_WRITE))
            return ERR(-EPERM);
        (*pieces)++;
        if (n->last >= last)
            return 0;
        next = n->last + 1;
    }
    return ERR(-ENOENT);
}

static int copy_prepare(struct ioas *dst, struct ioas *src, uint64_t src_iova, uint64_t last,
                        uint64_t dst_iova, uint32_t prot, struct ioas_area **areas)
{
    uint32_t i = 0;
    for (struct iova_node *n = iova_first(&src->tree, src_iova, last); n;
         n = iova_next(&src->tree, n, last)) {
        if (n->kind != IOVA_AREA)
            continue;
        struct ioas_area *s = container_of(n, struct ioas_area, node);
        uint64_t from = MAX(n->start, src_iova), to = MIN(n->last, last);
        uint64_t at = dst_iova + (from - src_iova);
        struct ioas_area *a = ioas_area_prepare(dst, at, to - from + 1,
                                                iova_first(&dst->tree, at, at + (to - from)));
        if (!a)
            return ERR(-ENOMEM);
        a->pa = s->pa + (from - n->start);
        a->va = (const char *)s->va + (from - n->start);
        a->prot = prot;
        areas[i++] = a;
    }
    return 0;
}

static int copy_into(struct ioas *dst, struct ioas *src, uint32_t flags, uint64_t src_iova,
                     uint64_t length, uint32_t pieces, uint64_t *dst_iova)
{
    struct ioas_area *first = container_of(iova_first(&src->tree, src_iova, src_iova),
                                           struct ioas_area, node);
    uint64_t where = *dst_iova;
    struct iova_node *ignored;
    int err;
    if (flags & IOMMU_IOAS_MAP_FIXED_IOVA)
        err = ioas_check_fixed(dst, where, length, &ignored);
    else
        err = ioas_choose_iova(dst, length, first->pa + (src_iova - first->node.start),
                               (const char *)first->va + (src_iova - first->node.start), &where,
                               &ignored);
    if (err)
        return err;
    struct ioas_area **areas = iommufd_zalloc(pieces * sizeof(*areas));
    if (!areas)
        return ERR(-ENOMEM);
    uint32_t prot = (flags & IOMMU_IOAS_MAP_READABLE ? IOMMU_READ : 0) |
                    (flags & IOMMU_IOAS_MAP_WRITEABLE ? IOMMU_WRITE : 0);
    err = copy_prepare(dst, src, src_iova, src_iova + length - 1, where, prot, areas);
    for (uint32_t i = 0; i < pieces && areas[i]; i++)
        areas[i]->chosen = !(flags & IOMMU_IOAS_MAP_FIXED_IOVA) && pieces == 1;
    if (err) {
        for (uint32_t i = 0; i < pieces; i++)
            ioas_area_abort(dst, areas[i]);
    } else {
        err = ioas_areas_commit(dst, areas, pieces);
    }
    kfree(areas);
    if (!err)
        *dst_iova = where;
    return err;
}

int moat_ioas_copy(struct moat_iommufd *ctx, uint32_t dst_ioas_id, uint32_t src_ioas_id,
                   uint32_t flags, uint64_t src_iova, uint64_t length, uint64_t *dst_iova)
{
    uint64_t last;
    uint32_t pieces;
    if (flags & ~MAP_FLAGS)
        return ERR(-EOPNOTSUPP);
    if (length == UINT64_MAX || src_iova == UINT64_MAX || *dst_iova == UINT64_MAX)
        return ERR(-EOVERFLOW);
    if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
        return ERR(-EINVAL);
    struct ioas *src = ioas_get(ctx, src_ioas_id);
    if (!src)
        return ERR(-ENOENT);
    if (!length)
        return ERR(-EINVAL);
    if (__builtin_add_overflow(src_iova, length - 1, &last))
        return ERR(-EOVERFLOW);
    if (!IS_ALIGNED(src_iova, IOMMUFD_PAGE) || !IS_ALIGNED(length, IOMMUFD_PAGE))
        return ERR(-EINVAL);
    int err = copy_src_check(src, src_iova, last, flags & IOMMU_IOAS_MAP_WRITEABLE, &pieces);
    if (err)
        return err;
    struct ioas *dst = ioas_get(ctx, dst_ioas_id);
    if (!dst)
        return ERR(-ENOENT);
    return copy_into(dst, src, flags, src_iova, length, pieces, dst_iova);
}

static void emit(struct iommu_iova_range *ranges, uint32_t max, uint32_t *n, uint64_t start,
                 uint64_t last)
{
    if (*n < max && ranges)
        ranges[*n] = (struct iommu_iova_range){ .start = start, .last = last };
    (*n)++;
}

int moat_ioas_iova_ranges(struct moat_iommufd *ctx, uint32_t ioas_id,
                          struct iommu_iova_range *ranges, uint32_t *num, uint64_t *alignment)
{
    struct ioas *ioas = ioas_get(ctx, ioas_id);
    if (!ioas)
        return ERR(-ENOENT);
    uint32_t max = *num, n = 0;
    uint64_t next = 0;
    bool at_end = false;
    for (uint32_t i = 0; i < ioas->nr_merged && !at_end; i++) {
        const struct iova_node *r = &ioas->resv_nodes[i];
        if (r->start > next)
            emit(ranges, max, &n, next, r->start - 1);
        at_end = r->last == UINT64_MAX;
        next = r->last + 1;
    }
    if (!at_end)
        emit(ranges, max, &n, next, UINT64_MAX);
    *num = n;
    *alignment = IOMMUFD_PAGE;
    return n > max ? -EMSGSIZE : 0;
}

/* Sorted copy of the ranges; overlapping ones -EINVAL (as iommufd_ioas_load_iovas). */
static int allowed_sort(const struct iommu_iova_range *ranges, uint32_t num,
                        struct iommu_iova_range *out)
{
    for (uint32_t i = 0; i < num; i++) {
        uint32_t j = i;         /* insertion sort by start */
        while (j > 0 && out[j - 1].start > ranges[i].start) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = ranges[i];
    }
    for (uint32_t i = 1; i < num; i++)
        if (out[i].start <= out[i - 1].last)
            return ERR(-EINVAL);
    return 0;
}

int moat_ioas_allow_iovas(struct moat_iommufd *ctx, uint32_t ioas_id,
                          const struct iommu_iova_range *ranges, uint32_t num)
{
    struct ioas *ioas = ioas_get(ctx, ioas_id);
    if (!ioas)
        return ERR(-ENOENT);
    if (num && !ranges)
        return ERR(-EFAULT);
    for (uint32_t i = 0; i < num; i++)
        if (ranges[i].start >= ranges[i].last)
            return ERR(-EINVAL);
    /* The sorted copy is scratch until the commit: nothing visible changes on an error. */
    struct iommu_iova_range *v = NULL;
    if (num && !(v = iommufd_zalloc((size_t)num * sizeof(*v))))
        return ERR(-ENOMEM);
    int err = allowed_sort(ranges, num, v);
    for (uint32_t i = 0; i < num && !err; i++)
        if (ioas_resv_hits(ioas, v[i].start, v[i].last))
            err = -EADDRINUSE;
    if (err) {
        kfree(v);
        return err;
    }
    kfree(ioas->allowed);
    ioas->allowed = v;
    ioas->nr_allowed = num;
    return 0;
}

static bool ioas_has_areas(struct ioas *ioas)
{
    for (struct iova_node *n = iova_first(&ioas->tree, 0, UINT64_MAX); n;
         n = iova_next(&ioas->tree, n, UINT64_MAX))
        if (n->kind == IOVA_AREA)
            return true;
    return false;
}

int moat_ioas_option(struct moat_iommufd *ctx, uint32_t ioas_id, uint32_t option_id, uint16_t op,
                     uint64_t *val)
{
    struct ioas *ioas = ioas_get(ctx, ioas_id);
    if (!ioas)
        return ERR(-ENOENT);
    if (option_id != IOMMU_OPTION_HUGE_PAGES)
        return ERR(-EOPNOTSUPP);
    if (op == IOMMU_OPTION_OP_GET) {
        *val = !ioas->no_huge;
        return 0;
    }
    if (op != IOMMU_OPTION_OP_SET)
        return ERR(-EOPNOTSUPP);
    if (*val > 1)
        return ERR(-EINVAL);
    /* Tables may already hold large leaves that cannot be split later (as Linux). */
    if (*val == 0 && !ioas->no_huge && ioas->hwpts && ioas_has_areas(ioas))
        return ERR(-EINVAL);
    ioas->no_huge = *val == 0;
    return 0;
}
