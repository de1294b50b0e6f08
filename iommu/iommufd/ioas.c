/* IOAS: the IOVA address space object. Argument checks follow Linux's iommufd_ioas_* and
 * iopt_* (order and errno), then the commit. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"

#define MAP_FLAGS (IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)

struct ioas *ioas_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_IOAS);
    return obj ? container_of(obj, struct ioas, obj) : NULL;
}

int moat_ioas_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t *out_ioas_id)
{
    if (flags)
        return ERR(-EOPNOTSUPP);
    int err;
    struct ioas *ioas = iommufd_obj_zalloc(ctx, sizeof(*ioas), &err);
    if (!ioas)
        return err;
    iommufd_obj_install(ctx, &ioas->obj, IOMMUFD_OBJ_IOAS);
    *out_ioas_id = ioas->obj.id;
    return 0;
}

/* Users (paging HWPTs) are gone: every area is unmapped from no domain, just forgotten. */
void ioas_destroy(struct ioas *ioas)
{
    ioas_free_all_nodes(ioas);
    kfree(ioas->resv);
    kfree(ioas->resv_nodes);
    kfree(ioas->allowed);
    kfree(ioas);
}

static uint32_t map_prot(uint32_t flags)
{
    return (flags & IOMMU_IOAS_MAP_READABLE ? IOMMU_READ : 0) |
           (flags & IOMMU_IOAS_MAP_WRITEABLE ? IOMMU_WRITE : 0);
}

/* The checks Linux makes before it looks at the IOAS (iommufd_ioas_map/copy). */
static int map_flags_check(uint32_t flags, uint64_t a, uint64_t b, uint64_t c)
{
    if (flags & ~MAP_FLAGS)
        return ERR(-EOPNOTSUPP);
    if (a == UINT64_MAX || b == UINT64_MAX || c == UINT64_MAX)
        return ERR(-EOVERFLOW);
    if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
        return ERR(-EINVAL);
    return 0;
}

/* A program's address plus an offset, computed as an integer: the address may be anything a
 * program passed, NULL included (pointer arithmetic on it would be undefined). */
static const uint8_t *va_at(const uint8_t *va, uint64_t off)
{
    return (const uint8_t *)((uintptr_t)va + off);
}

/* Whether the hook takes [p, p + len) whole as one run starting at pa. */
static bool run_ok(struct moat_iommufd *ctx, uint32_t flags, const uint8_t *p, uint64_t len,
                   uint64_t pa)
{
    uint64_t at;
    return !iommufd_v2p(ctx, p, len, flags, &at) && at == pa;
}

/* The contiguous run of reachable pages from p (at most length bytes, a page multiple) and
 * where it starts: the longest prefix the hook takes whole (the answer is monotone in the
 * length). Runs tend to repeat their length, so the previous run's (hint, 0: none) is tried
 * first, then one page more: a run like the last costs three questions. Otherwise doubling and
 * then halving find it, O(log n) questions for a run of n pages, not n. 0 when the first page
 * is refused, with the hook's answer in *err. */
static uint64_t page_run(struct moat_iommufd *ctx, uint32_t flags, const uint8_t *p,
                         uint64_t length, uint64_t hint, uint64_t *pa, int *err)
{
    uint64_t good = IOMMUFD_PAGE, bad = 0;
    if ((*err = iommufd_v2p(ctx, p, IOMMUFD_PAGE, flags, pa)))
        return 0;
    if (hint > IOMMUFD_PAGE && hint <= length) {
        if (!run_ok(ctx, flags, p, hint, *pa))
            bad = hint;
        else if ((good = hint) < length && !run_ok(ctx, flags, p, hint + IOMMUFD_PAGE, *pa))
            bad = hint + IOMMUFD_PAGE;
    }
    while (!bad && good < length) {
        uint64_t probe = good > length / 2 ? length : good * 2;
        if (!run_ok(ctx, flags, p, probe, *pa)) {
            bad = probe;
            break;
        }
        good = probe;
    }
    while (bad && bad - good > IOMMUFD_PAGE) {
        uint64_t probe = good + ALIGN_DOWN((bad - good) / 2, IOMMUFD_PAGE);
        if (run_ok(ctx, flags, p, probe, *pa))
            good = probe;
        else
            bad = probe;
    }
    return good;
}

/* Memory that is not one physically contiguous run (anonymous memory the program mapped): Linux
 * pins it page by page (iopt_map_user_pages); here each run becomes an area of its own at
 * consecutive IOVAs, all or nothing. Every run is asked for first, so memory a device may not
 * reach gets the hook's answer before anything is mapped. */
static int map_runs(struct moat_iommufd *ctx, uint32_t ioas_id, struct ioas *ioas, uint32_t flags,
                    const uint8_t *va, uint64_t length, uint64_t *iova)
{
    uint64_t pa, at = *iova, done, run = 0;
    int err;
    for (uint64_t off = 0; off < length; off += run)
        if (!(run = page_run(ctx, flags, va_at(va, off), length - off, run, &pa, &err)))
            return err;
    if (!(flags & IOMMU_IOAS_MAP_FIXED_IOVA)) {
        struct iova_node *first;
        iommufd_v2p(ctx, va, IOMMUFD_PAGE, flags, &pa);     /* the first run's start */
        if ((err = ioas_choose_iova(ioas, length, pa, va, &at, &first)))
            return err;
    }
    run = 0;
    for (uint64_t off = 0; off < length; off += run) {
        uint64_t where = at + off;
        run = page_run(ctx, flags, va_at(va, off), length - off, run, &pa, &err);
        err = ioas_area_map(ioas, true, va_at(va, off), pa, run, map_prot(flags), &where);
        if (err) {
            if (off)
                moat_ioas_unmap(ctx, ioas_id, at, off, &done);
            return err;
        }
    }
    *iova = at;
    return 0;
}

int moat_ioas_map(struct moat_iommufd *ctx, uint32_t ioas_id, uint32_t flags, const void *va,
                  uint64_t length, uint64_t *iova)
{
    uint64_t pa, end;
    int err = map_flags_check(flags, *iova, length, 0);
    if (err)
        return err;
    struct ioas *ioas = ioas_get(ctx, ioas_id);
    if (!ioas)
        return ERR(-ENOENT);
    if (!IS_ALIGNED((uintptr_t)va, IOMMUFD_PAGE) || !length)
        return ERR(-EINVAL);
    if (__builtin_add_overflow((uint64_t)(uintptr_t)va, length - 1, &end))
        return ERR(-EOVERFLOW);
    err = iommufd_v2p(ctx, va, length, flags, &pa);
    if (err == -EFAULT && length > IOMMUFD_PAGE && IS_ALIGNED(length, IOMMUFD_PAGE))
        return map_runs(ctx, ioas_id, ioas, flags, va, length, iova);
    if (err)
        return err;
    return ioas_area_map(ioas, flags & IOMMU_IOAS_MAP_FIXED_IOVA, va, pa, length,
                         map_prot(flags), iova);
}

static inline bool is_window(const struct iova_node *n)
{
    return container_of(n, const struct ioas_area, node)->win != NULL;
}

/* Every area inside [iova, last] (-EBUSY for a window: it goes with its object);
 * -ENOENT when one sticks out or there is none. *first: the
 * first area, where the commit starts its walk; *tail: the last one. below: NULL, or a node
 * wholly below iova (the lookup starts there). */
static int unmap_check(struct ioas *ioas, uint64_t iova, uint64_t last,
                       const struct iova_node *below, uint64_t *bytes,
                       struct iova_node **first, struct iova_node **tail)
{
    *bytes = 0;
    *first = below ? iova_first_after(&ioas->tree, below, iova, last)
                   : iova_first(&ioas->tree, iova, last);
    for (struct iova_node *n = *first; n; n = iova_next(&ioas->tree, n, last)) {
        if (n->kind != IOVA_AREA)
            continue;
        if (is_window(n)) {
            if (iova == 0 && last == UINT64_MAX)
                continue;       /* unmap-all leaves windows to their owner */
            return ERR(-EBUSY);
        }
        if (n->start < iova || n->last > last)
            return ERR(-ENOENT);
        if (!*bytes)
            *first = n;
        *tail = n;
        *bytes += n->last - n->start + 1;
    }
    return *bytes ? 0 : -ENOENT;
}

static void forget_range(struct ioas *ioas, const struct iommu_iova_range *r,
                         struct iova_node *n)
{
    while (n) {
        struct iova_node *next = iova_next(&ioas->tree, n, r->last);
        if (n->kind == IOVA_AREA && !is_window(n))
            ioas_area_forget(ioas, container_of(n, struct ioas_area, node));
        n = next;
    }
}

/* Adds the unmap of every area inside r to the domain's gather; with forget, also forgets
 * them (the nodes are bookkeeping only: the device's reach ends at the gather's sync, and
 * nothing maps there before it). */
static void gather_range(struct ioas *ioas, struct iommu_domain *d, struct pgtable_gather *g,
                         const struct iommu_iova_range *r, struct iova_node *n, bool forget)
{
    while (n) {
        struct iova_node *next = iova_next(&ioas->tree, n, r->last);
        if (n->kind == IOVA_AREA && !is_window(n)) {
            MOAT_ASSERT(iommu_unmap_gather(d, n->start, n->last - n->start + 1, g) == 0);
            if (forget)
                ioas_area_forget(ioas, container_of(n, struct ioas_area, node));
        }
        n = next;
    }
}

/* Every area inside the ranges leaves every domain of the IOAS with one invalidation wait per
 * domain (a gather), then is forgotten. One domain (the common case): one walk does both.
 * first[i]: unmap_check's for r[i]. Forgetting an area touches no node outside its range,
 * and the ranges are disjoint, so the later ranges' first nodes stay valid. */
static void unmap_commit(struct ioas *ioas, const struct iommu_iova_range *r,
                         struct iova_node *const *first, uint32_t num)
{
    struct pgtable_gather g;
    bool one = ioas->hwpts && !ioas->hwpts->next;
    if (one && num == 1 && first[0]->last - first[0]->start == r->last - r->start) {
        /* One area, one domain (a driver's unmap of one buffer): a plain unmap is the same
         * single invalidation wait, without the gather's steps. */
        ioas_area_release(ioas, container_of(first[0], struct ioas_area, node));
        return;
    }
    for (struct hwpt *h = ioas->hwpts; h; h = h->next) {
        iommu_gather_init(&g);
        for (uint32_t i = 0; i < num; i++)
            gather_range(ioas, h->domain, &g, &r[i], first[i], one);
        iommu_gather_sync(h->domain, &g);
    }
    for (uint32_t i = 0; i < num && !one; i++)
        forget_range(ioas, &r[i], first[i]);
}

int moat_ioas_unmap(struct moat_iommufd *ctx, uint32_t ioas_id, uint64_t iova, uint64_t length,
                    uint64_t *unmapped)
{
    uint64_t last, bytes;
    struct iova_node *first, *tail;
    struct ioas *ioas = ioas_get(ctx, ioas_id);
    if (!ioas)
        return ERR(-ENOENT);
    if (iova == 0 && length == UINT64_MAX) {
        if (unmap_check(ioas, 0, UINT64_MAX, NULL, &bytes, &first, &tail) == 0)
            unmap_commit(ioas, &(struct iommu_iova_range){ 0, UINT64_MAX }, &first, 1);
        *unmapped = bytes;
        return 0;
    }
    if (iova == UINT64_MAX || length == UINT64_MAX)
        return ERR(-EOVERFLOW);
    if (!length)
        return ERR(-EINVAL);
    if (__builtin_add_overflow(iova, length - 1, &last))
        return ERR(-EOVERFLOW);
    int err = unmap_check(ioas, iova, last, NULL, &bytes, &first, &tail);
    if (err)
        return err;
    unmap_commit(ioas, &(struct iommu_iova_range){ iova, last }, &first, 1);
    *unmapped = bytes;
    return 0;
}

/* Ranges in ascending order (the common case) are checked in one pass; others sorted by start
 * (insertion sort of indices: completions arrive nearly in IOVA order), any two neighbours
 * that meet overlap. */
static bool ranges_overlap(const struct iommu_iova_range *r, uint32_t num)
{
    uint16_t idx[MOAT_IOAS_UNMAP_MANY_MAX];
    uint32_t ascending = 1;
    while (ascending < num && r[ascending].start > r[ascending - 1].last)
        ascending++;
    if (ascending == num)
        return false;
    for (uint32_t i = 0; i < num; i++) {
        uint32_t j = i;
        while (j > 0 && r[idx[j - 1]].start > r[i].start) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = (uint16_t)i;
    }
    for (uint32_t i = 1; i < num; i++)
        if (r[idx[i]].start <= r[idx[i - 1]].last)
            return true;
    return false;
}

int moat_ioas_unmap_many(struct moat_iommufd *ctx, uint32_t ioas_id,
                         const struct iommu_iova_range *ranges, uint32_t num, uint64_t *unmapped)
{
    uint64_t total = 0, bytes;
    struct iova_node *first[MOAT_IOAS_UNMAP_MANY_MAX], *tail = NULL;
    struct ioas *ioas = ioas_get(ctx, ioas_id);
    if (!ioas)
        return ERR(-ENOENT);
    if (!num)
        return ERR(-EINVAL);
    if (num > MOAT_IOAS_UNMAP_MANY_MAX)
        return ERR(-E2BIG);
    if (!ranges)
        return ERR(-EFAULT);
    for (uint32_t i = 0; i < num; i++)
        if (ranges[i].start > ranges[i].last)
            return ERR(-EINVAL);
    if (ranges_overlap(ranges, num))
        return ERR(-EINVAL);
    for (uint32_t i = 0; i < num; i++) {
        /* After a range below this one, its last area is a node below this range. */
        const struct iova_node *below =
            i && ranges[i].start > ranges[i - 1].last ? tail : NULL;
        int err = unmap_check(ioas, ranges[i].start, ranges[i].last, below, &bytes, &first[i],
                              &tail);
        if (err)
            return err;
        total += bytes;
    }
    unmap_commit(ioas, ranges, first, num);
    *unmapped = total;
    return 0;
}

uint64_t ioas_pinned_bytes(struct ioas *ioas, const void *va, uint64_t len, bool *hit)
{
    uint64_t total = 0, q = (uint64_t)(uintptr_t)va;
    struct iova_node *n = iova_first(&ioas->tree, 0, UINT64_MAX);
    for (; n; n = iova_next(&ioas->tree, n, UINT64_MAX)) {
        if (n->kind != IOVA_AREA || is_window(n))
            continue;       /* a window's slots belong to its owner's requests */
        struct ioas_area *a = container_of(n, struct ioas_area, node);
        uint64_t s = (uint64_t)(uintptr_t)a->va, size = n->last - n->start + 1;
        total += size;
        if (hit && len && q <= s + size - 1 && s <= q + len - 1)
            *hit = true;
    }
    return total;
}
