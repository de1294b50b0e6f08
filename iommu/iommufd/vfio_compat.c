/* VFIO type1 container ioctls on /dev/iommu, over the context's compat IOAS (Linux's
 * drivers/iommu/iommufd/vfio_compat.c): a program may use an iommufd as its container (open
 * /dev/iommu, VFIO_GROUP_SET_CONTAINER with it, VFIO_SET_IOMMU, MAP_DMA...). Maps are fixed-IOVA
 * IOAS maps; unmaps are IOAS unmaps, but unmapping nothing succeeds (Linux's iopt_unmap_iova;
 * only IOMMU_IOAS_UNMAP turns that into ENOENT). */
#include <linux/vfio.h>

#include "iommu/iommufd/iommufd_private.h"
#include "lib/string.h"


static int compat_from(struct moat_iommufd *ctx, void *dst, uint64_t uptr, size_t len)
{
    return ctx->ua.copy_from(ctx->ua.arg, dst, uptr, len) ? ERR(-EFAULT) : 0;
}

static int compat_to(struct moat_iommufd *ctx, uint64_t uptr, const void *src, size_t len)
{
    return ctx->ua.copy_to(ctx->ua.arg, uptr, src, len) ? ERR(-EFAULT) : 0;
}

/* Linux's iommufd_vfio_compat_ioas_create / get_compat_ioas. */
int moat_vfio_compat_ioas(struct moat_iommufd *ctx, bool create, uint32_t *ioas_id)
{
    if (!ctx->vfio_ioas_id && create) {
        int err = moat_ioas_alloc(ctx, 0, &ctx->vfio_ioas_id);
        if (err)
            return err;
        ioas_get(ctx, ctx->vfio_ioas_id)->linux_iova = true;
    }
    if (!ctx->vfio_ioas_id)
        return ERR(-ENODEV);
    *ioas_id = ctx->vfio_ioas_id;
    return 0;
}

/* iommufd_vfio_cc_iommu: every paging HWPT must enforce cache coherency; moat's never do. */
static long compat_check_extension(struct moat_iommufd *ctx, unsigned long ext)
{
    uint32_t id;
    switch (ext) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
        return 1;
    case VFIO_DMA_CC_IOMMU: {
        int err = moat_vfio_compat_ioas(ctx, false, &id);
        return err ? err : !ioas_get(ctx, id)->hwpts;
    }
    default:
        return 0;       /* NESTING and UPDATE_VADDR included, as iommufd answers */
    }
}

/* iommufd_vfio_set_iommu: type1 or type1v2 only (EINVAL), a compat IOAS (ENODEV: VFIO sets no
 * IOMMU without a group); type1 turns large pages off so that any range may be unmapped. */
static long compat_set_iommu(struct moat_iommufd *ctx, unsigned long type)
{
    uint32_t id;
    if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU)
        return ERR(-EINVAL);
    int err = moat_vfio_compat_ioas(ctx, false, &id);
    if (err || type == VFIO_TYPE1v2_IOMMU)
        return err;
    uint64_t off = 0;
    return moat_ioas_option(ctx, id, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, &off);
}

/* iommufd_get_pagesizes: the sizes every domain of the IOAS maps, at least the page. */
static uint64_t compat_pgsizes(const struct ioas *ioas)
{
    uint64_t bits = UINT64_MAX;
    for (const struct hwpt *h = ioas->hwpts; h; h = h->next)
        bits &= h->domain->unit->pgsize_bitmap;
    if (bits & (IOMMUFD_PAGE - 1))
        bits = (bits & ~(IOMMUFD_PAGE - 1)) | IOMMUFD_PAGE;
    return MAX(bits, (uint64_t)IOMMUFD_PAGE);
}

/* iommufd_vfio_iommu_get_info: DMA available (U32_MAX: no entry limit) then the IOVA ranges;
 * each capability is written when it fits, argsz always says the whole size, cap_offset is set
 * only when everything fitted. */
static long compat_get_info(struct moat_iommufd *ctx, uint64_t uarg)
{
    struct vfio_iommu_type1_info info = { 0 };
    size_t minsz = END_OF(struct vfio_iommu_type1_info, iova_pgsizes);
    uint32_t id;
    int err = compat_from(ctx, &info, uarg, minsz);
    if (err)
        return err;
    if (info.argsz < minsz)
        return ERR(-EINVAL);
    minsz = MIN((size_t)info.argsz, sizeof(info));
    err = moat_vfio_compat_ioas(ctx, false, &id);
    if (err)
        return err;
    info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
    info.iova_pgsizes = compat_pgsizes(ioas_get(ctx, id));
    struct vfio_iommu_type1_info_dma_avail av = {
        .header = { .id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, .version = 1 }, .avail = UINT32_MAX,
    };
    struct iommu_iova_range r[16];
    uint32_t nr = ARRAY_SIZE(r);
    uint64_t align;
    if (moat_ioas_iova_ranges(ctx, id, r, &nr, &align))
        nr = MIN(nr, (uint32_t)ARRAY_SIZE(r));
    uint8_t capbuf[sizeof(struct vfio_iommu_type1_info_cap_iova_range) +
                   ARRAY_SIZE(r) * sizeof(struct vfio_iova_range)] = { 0 };
    struct vfio_iommu_type1_info_cap_iova_range *cr = (void *)capbuf;
    cr->header = (struct vfio_info_cap_header){ .id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
                                                .version = 1 };
    cr->nr_iovas = nr;
    for (uint32_t i = 0; i < nr; i++)
        cr->iova_ranges[i] = (struct vfio_iova_range){ .start = r[i].start, .end = r[i].last };
    const size_t av_at = sizeof(info), cr_at = av_at + ALIGN_UP(sizeof(av), 8);
    const size_t cr_len = sizeof(*cr) + nr * sizeof(cr->iova_ranges[0]);
    const size_t total = cr_at + ALIGN_UP(cr_len, 8);
    if (info.argsz >= cr_at)
        av.header.next = (uint32_t)cr_at;
    if (info.argsz >= av_at + sizeof(av) && (err = compat_to(ctx, uarg + av_at, &av, sizeof(av))))
        return err;
    if (info.argsz >= cr_at + cr_len && (err = compat_to(ctx, uarg + cr_at, cr, cr_len)))
        return err;
    if (info.argsz >= total)
        info.cap_offset = sizeof(info);
    info.argsz = (uint32_t)total;
    return compat_to(ctx, uarg, &info, minsz);
}

/* iommufd_vfio_map_dma: READ and WRITE only (VADDR is EINVAL), at the IOVA given. */
static long compat_map(struct moat_iommufd *ctx, uint64_t uarg)
{
    struct vfio_iommu_type1_dma_map m;
    size_t minsz = END_OF(struct vfio_iommu_type1_dma_map, size);
    uint32_t id;
    int err = compat_from(ctx, &m, uarg, minsz);
    if (err)
        return err;
    if (m.argsz < minsz || (m.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)))
        return ERR(-EINVAL);
    err = moat_vfio_compat_ioas(ctx, false, &id);
    if (err)
        return err;
    uint32_t flags = IOMMU_IOAS_MAP_FIXED_IOVA |
                     (m.flags & VFIO_DMA_MAP_FLAG_READ ? IOMMU_IOAS_MAP_READABLE : 0) |
                     (m.flags & VFIO_DMA_MAP_FLAG_WRITE ? IOMMU_IOAS_MAP_WRITEABLE : 0);
    uint64_t iova = m.iova;
    return moat_ioas_map(ctx, id, flags, (const void *)(uintptr_t)m.vaddr, m.size, &iova);
}

static bool any_area(const struct ioas *ioas, uint64_t iova, uint64_t last)
{
    for (const struct iova_node *n = iova_first(&ioas->tree, iova, last); n;
         n = iova_next(&ioas->tree, n, last))
        if (n->kind == IOVA_AREA)
            return true;
    return false;
}

/* iommufd_vfio_unmap_dma: ALL only (GET_DIRTY_BITMAP and VADDR are EINVAL); the size unmapped
 * is written back even when the unmap fails (but not for ALL with a range). */
static long compat_unmap(struct moat_iommufd *ctx, uint64_t uarg)
{
    struct vfio_iommu_type1_dma_unmap u;
    size_t minsz = END_OF(struct vfio_iommu_type1_dma_unmap, size);
    uint32_t id;
    int err = compat_from(ctx, &u, uarg, minsz);
    if (err)
        return err;
    if (u.argsz < minsz || (u.flags & ~VFIO_DMA_UNMAP_FLAG_ALL))
        return ERR(-EINVAL);
    err = moat_vfio_compat_ioas(ctx, false, &id);
    if (err)
        return err;
    uint64_t unmapped = 0;
    if (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
        if (u.iova || u.size)
            return ERR(-EINVAL);
        err = moat_ioas_unmap(ctx, id, 0, UINT64_MAX, &unmapped);
    } else {
        err = moat_ioas_unmap(ctx, id, u.iova, u.size, &unmapped);
        if (err == -ENOENT && !any_area(ioas_get(ctx, id), u.iova, u.iova + (u.size - 1)))
            err = 0;    /* iopt_unmap_iova: nothing there is success (only IOAS_UNMAP says ENOENT) */
    }
    u.size = unmapped;
    int cerr = compat_to(ctx, uarg, &u, minsz);
    return cerr ? cerr : err;
}

/* iommufd_vfio_ioctl: what VFIO's container answers, for commands outside IOMMUFD's range. */
long iommufd_vfio_ioctl(struct moat_iommufd *ctx, unsigned long cmd, uint64_t uarg)
{
    switch (cmd) {
    case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
    case VFIO_SET_IOMMU:
        return compat_set_iommu(ctx, (unsigned long)uarg);
    case VFIO_CHECK_EXTENSION:
        return compat_check_extension(ctx, (unsigned long)uarg);
    case VFIO_IOMMU_GET_INFO:
        return compat_get_info(ctx, uarg);
    case VFIO_IOMMU_MAP_DMA:
        return compat_map(ctx, uarg);
    case VFIO_IOMMU_UNMAP_DMA:
        return compat_unmap(ctx, uarg);
    default:
        return ERR(-ENOTTY);
    }
}
