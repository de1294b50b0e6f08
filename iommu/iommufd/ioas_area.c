/* IOAS areas: choosing IOVAs (first fit with guard gaps, plus a cache of freed ranges per common
 * size), checking fixed IOVAs, and fanning areas out to every paging domain of the IOAS. Freed
 * ranges of a cached size stay in the tree as IOVA_CACHED nodes, whoever placed them: a map at
 * exactly that range takes the node over; only chosen ones are handed out again by the
 * allocator. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"

/* An area structure: a spare one when there is one (no allocation on the map path), else a
 * new one. Zeroed either way. */
static struct ioas_area *area_alloc(struct ioas *ioas)
{
    struct ioas_area *a = ioas->spare;
    if (!a)
        return iommufd_zalloc(sizeof(*a));
    ioas->spare = a->node.next ? container_of(a->node.next, struct ioas_area, node) : NULL;
    ioas->nr_spare--;
    *a = (struct ioas_area){ 0 };
    return a;
}

/* a is in no tree and no cache list. */
static void area_free(struct ioas *ioas, struct ioas_area *a)
{
    if (ioas->nr_spare >= IOAS_SPARE_AREAS) {
        kfree(a);
        return;
    }
    a->node.next = ioas->spare ? &ioas->spare->node : NULL;
    ioas->spare = a;
    ioas->nr_spare++;
}

static void spares_free(struct ioas *ioas)
{
    while (ioas->spare) {
        struct ioas_area *a = ioas->spare;
        ioas->spare = a->node.next ? container_of(a->node.next, struct ioas_area, node) : NULL;
        kfree(a);
    }
    ioas->nr_spare = 0;
}

static int cache_class(uint64_t length)
{
    if (length & (length - 1))
        return -1;
    int c = __builtin_ctzll(length) - 12;
    return c >= 0 && c < IOAS_CACHE_CLASSES ? c : -1;
}

static inline void cache_unlink(struct ioas *ioas, struct iova_node *n)
{
    int c = cache_class(n->last - n->start + 1);
    MOAT_ASSERT(c >= 0 && n->kind == IOVA_CACHED);
    if (n->cprev)
        n->cprev->cnext = n->cnext;
    else
        ioas->cache[c] = n->cnext;
    if (n->cnext)
        n->cnext->cprev = n->cprev;
    n->cnext = n->cprev = NULL;
    ioas->cache_len[c]--;
}

static bool cache_push(struct ioas *ioas, struct iova_node *n)
{
    int c = cache_class(n->last - n->start + 1);
    if (c < 0 || ioas->cache_len[c] >= IOAS_CACHE_DEPTH)
        return false;
    n->kind = IOVA_CACHED;
    n->cprev = NULL;
    n->cnext = ioas->cache[c];
    if (n->cnext)
        n->cnext->cprev = n;
    ioas->cache[c] = n;
    ioas->cache_len[c]++;
    return true;
}

/* Frees cached ranges intersecting [start, last] so that others may use them. */
void ioas_cache_evict(struct ioas *ioas, uint64_t start, uint64_t last)
{
    struct iova_node *n = iova_first(&ioas->tree, start, last);
    while (n) {
        struct iova_node *next = iova_next(&ioas->tree, n, last);
        if (n->kind == IOVA_CACHED) {
            cache_unlink(ioas, n);
            iova_remove(&ioas->tree, n);
            area_free(ioas, container_of(n, struct ioas_area, node));
        }
        n = next;
    }
}

static void cache_evict_all(struct ioas *ioas)
{
    for (int c = 0; c < IOAS_CACHE_CLASSES; c++)
        while (ioas->cache[c]) {
            struct iova_node *n = ioas->cache[c];
            cache_unlink(ioas, n);
            iova_remove(&ioas->tree, n);
            area_free(ioas, container_of(n, struct ioas_area, node));
        }
}

static uint64_t choose_align(const struct ioas *ioas, uint64_t length, uint64_t pa)
{
    static const uint64_t sizes[] = { PGTABLE_SZ_1G, PGTABLE_SZ_2M };
    if (ioas->no_huge)
        return IOMMUFD_PAGE;
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++)
        if (length >= sizes[i] && IS_ALIGNED(pa, sizes[i]))
            return sizes[i];
    return IOMMUFD_PAGE;
}

/* First fit of [.., + length) with `guard` free bytes on both sides, aligned to align, inside
 * [lo, hi] (page-aligned bounds; every hole then starts page-aligned). */
static bool fit_in(const struct ioas *ioas, uint64_t length, uint64_t align, uint64_t guard,
                   uint64_t lo, uint64_t hi, uint64_t *iova)
{
    uint64_t need, gs, ge, start, end;
    if (__builtin_add_overflow(length, 2 * guard + align - IOMMUFD_PAGE, &need))
        return false;
    if (!iova_find_gap(&ioas->tree, need, lo, hi, &gs, &ge))
        return false;
    if (__builtin_add_overflow(gs, guard + align - 1, &start))
        return false;
    start = ALIGN_DOWN(start, align);
    if (__builtin_add_overflow(start, length - 1 + guard, &end) || end > ge)
        return false;
    *iova = start;
    return true;
}

static bool fit_allowed(const struct ioas *ioas, uint64_t length, uint64_t align, uint64_t guard,
                        uint64_t *iova)
{
    if (!ioas->nr_allowed)
        return fit_in(ioas, length, align, guard, 0, UINT64_MAX, iova);
    for (uint32_t i = 0; i < ioas->nr_allowed; i++) {
        const struct iommu_iova_range *r = &ioas->allowed[i];
        uint64_t lo = ALIGN_UP(r->start, IOMMUFD_PAGE);
        uint64_t hi = r->last == UINT64_MAX ? r->last : ALIGN_DOWN(r->last + 1, IOMMUFD_PAGE) - 1;
        if (lo >= r->start && lo < hi && fit_in(ioas, length, align, guard, lo, hi, iova))
            return true;
    }
    return false;
}

static inline bool fit_cached(struct ioas *ioas, uint64_t length, uint64_t *iova,
                              struct iova_node **first)
{
    int c = cache_class(length);
    for (struct iova_node *n = c >= 0 ? ioas->cache[c] : NULL; n; n = n->cnext) {
        /* A range a caller fixed may lack the guard gaps chosen ones keep. */
        if (!container_of(n, struct ioas_area, node)->chosen)
            continue;
        if (ioas->nr_allowed) {
            bool ok = false;
            for (uint32_t i = 0; i < ioas->nr_allowed && !ok; i++)
                ok = n->start >= ioas->allowed[i].start && n->last <= ioas->allowed[i].last;
            if (!ok)
                continue;
        }
        *iova = n->start;
        *first = n;
        return true;
    }
    return false;
}

/* Linux's iopt_alloc_iova alignment: the length rounded up to a power of two, no more than the
 * user address's own alignment, at most HPAGE_SIZE (2 MiB). */
static uint64_t linux_align(uint64_t length, uint64_t va)
{
    uint64_t a = length <= IOMMUFD_PAGE ? IOMMUFD_PAGE : 1ULL << (64 - __builtin_clzll(length - 1));
    if (va)
        a = MIN(a, 1ULL << __builtin_ctzll(va));
    return MIN(a, (uint64_t)PGTABLE_SZ_2M);
}

/* The lowest start at align in [lo, hi] where [start, start + length) meets only free or cached
 * IOVA: past each area or reserved range in the way, try again. */
static bool linux_fit(const struct ioas *ioas, uint64_t lo, uint64_t hi, uint64_t length,
                      uint64_t align, uint64_t *iova)
{
    for (uint64_t start = lo;;) {
        uint64_t s;
        if (__builtin_add_overflow(start, align - 1, &s))
            return false;
        s &= ~(align - 1);
        if (s >= hi || hi - s < length - 1)
            return false;
        const struct iova_node *n = iova_first(&ioas->tree, s, s + length - 1);
        while (n && n->kind == IOVA_CACHED)
            n = iova_next(&ioas->tree, n, s + length - 1);
        if (!n) {
            *iova = s;
            return true;
        }
        if (n->last >= hi)
            return false;
        start = n->last + 1;
    }
}

/* Linux's iopt_alloc_iova, for IOASes made through the ioctl face, so that a program written for
 * Linux gets the IOVAs Linux would give it: first fit from PAGE_SIZE up (to ULONG_MAX - PAGE_SIZE)
 * in each allowed range, at linux_align. */
static int linux_choose(const struct ioas *ioas, uint64_t length, uint64_t va, uint64_t *iova)
{
    const uint64_t lo = IOMMUFD_PAGE, hi = UINT64_MAX - IOMMUFD_PAGE;
    if (length >= UINT64_MAX / 2)
        return ERR(-EOVERFLOW);
    uint64_t align = linux_align(length, va);
    if (align < IOMMUFD_PAGE)
        return ERR(-EINVAL);
    if (!ioas->nr_allowed)
        return linux_fit(ioas, lo, hi, length, align, iova) ? 0 : ERR(-ENOSPC);
    for (uint32_t i = 0; i < ioas->nr_allowed; i++) {
        uint64_t a = MAX(ioas->allowed[i].start, lo), b = MIN(ioas->allowed[i].last, hi);
        if (a <= b && linux_fit(ioas, a, b, length, align, iova))
            return 0;
    }
    return ERR(-ENOSPC);
}

/* A range found in a hole meets no node; a cached one is its own node (or, with Linux's
 * choice, cached ranges in the way, evicted at commit). */
int ioas_choose_iova(struct ioas *ioas, uint64_t length, uint64_t pa, const void *va,
                     uint64_t *iova, struct iova_node **first)
{
    if (ioas->linux_iova) {
        int err = linux_choose(ioas, length, (uint64_t)(uintptr_t)va, iova);
        *first = err ? NULL : iova_first(&ioas->tree, *iova, *iova + length - 1);
        return err;
    }
    uint64_t align = choose_align(ioas, length, pa);
    if (fit_cached(ioas, length, iova, first))
        return 0;
    *first = NULL;
    for (int pass = 0; pass < 2; pass++) {
        if (fit_allowed(ioas, length, align, IOAS_GUARD, iova) ||
            fit_allowed(ioas, length, IOMMUFD_PAGE, 0, iova))
            return 0;
        cache_evict_all(ioas);
    }
    return ERR(-ENOSPC);
}

static bool resv_hit(const struct ioas *ioas, uint64_t start, uint64_t last)
{
    uint32_t lo = 0, hi = ioas->nr_merged;
    while (lo < hi) {       /* the first merged range ending at or after start */
        uint32_t mid = (lo + hi) / 2;
        if (ioas->resv_nodes[mid].last < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ioas->nr_merged && ioas->resv_nodes[lo].start <= last;
}

bool ioas_resv_hits(const struct ioas *ioas, uint64_t start, uint64_t last)
{
    return resv_hit(ioas, start, last);
}

/* A fixed IOVA: aligned, no wrap, not reserved (-EINVAL, as Linux), not mapped (-EEXIST).
 * Reserved ranges are in the tree too, so the nodes met past the reserved check are areas
 * or cached ranges. */
static inline int check_fixed(struct ioas *ioas, uint64_t iova, uint64_t length,
                              struct iova_node **first)
{
    uint64_t last;
    if (!IS_ALIGNED(iova, IOMMUFD_PAGE))
        return ERR(-EINVAL);
    if (__builtin_add_overflow(iova, length - 1, &last))
        return ERR(-EOVERFLOW);
    if (resv_hit(ioas, iova, last))
        return ERR(-EINVAL);
    *first = iova_first_near(&ioas->tree, iova, last);
    for (struct iova_node *n = *first; n; n = iova_next(&ioas->tree, n, last))
        if (n->kind == IOVA_AREA)
            return ERR(-EEXIST);
    return 0;
}

int ioas_check_fixed(struct ioas *ioas, uint64_t iova, uint64_t length,
                     struct iova_node **first)
{
    return check_fixed(ioas, iova, length, first);
}

/* The area for [iova, iova + length), whose lowest meeting node is first (NULL: none): a cached
 * node of exactly that range is taken over (it is already in the tree), otherwise a new one
 * is made, to evict what first begins at commit. */
static inline struct ioas_area *area_prepare(struct ioas *ioas, uint64_t iova,
                                             uint64_t length, struct iova_node *first)
{
    struct ioas_area *a;
    if (first && first->kind == IOVA_CACHED && first->start == iova &&
        first->last == iova + length - 1) {
        cache_unlink(ioas, first);
        first->kind = IOVA_AREA;
        return container_of(first, struct ioas_area, node);
    }
    a = area_alloc(ioas);
    if (!a)
        return NULL;
    a->node.start = iova;
    a->node.last = iova + length - 1;
    a->node.kind = IOVA_AREA;
    a->node.height = -1;                /* not in the tree yet */
    a->evict = first != NULL;
    return a;
}

struct ioas_area *ioas_area_prepare(struct ioas *ioas, uint64_t iova, uint64_t length,
                                    struct iova_node *first)
{
    return area_prepare(ioas, iova, length, first);
}

/* Undoes ioas_area_prepare for an area that was never committed. */
void ioas_area_abort(struct ioas *ioas, struct ioas_area *a)
{
    if (!a)
        return;
    if (a->node.height >= 0 && cache_push(ioas, &a->node))
        return;
    if (a->node.height >= 0)
        iova_remove(&ioas->tree, &a->node);
    area_free(ioas, a);
}

static inline int map_area_domain(struct ioas *ioas, struct iommu_domain *d,
                                  struct ioas_area *a)
{
    uint64_t len = a->node.last - a->node.start + 1;
    if (unlikely(a->win))
        return ioas_window_fill(a->win, d);
    /* Huge pages off: the table holds 4 KiB leaves only, still written by one call (a call
     * per page walked the table from its root for each of them). */
    return iommu_map(d, a->node.start, a->pa, len, a->prot | (ioas->no_huge ? IOMMU_SMALL : 0));
}

int ioas_map_area_domain(struct ioas *ioas, struct iommu_domain *d, struct ioas_area *a)
{
    return map_area_domain(ioas, d, a);
}

/* Unmap includes the invalidation and its wait (iommu.h): after this, no DMA reaches a. */
void ioas_unmap_area_domain(struct iommu_domain *d, struct ioas_area *a)
{
    if (a->win) {       /* the domain is leaving the IOAS: its window tables go with it */
        ioas_window_drop(a->win, d);
        return;
    }
    int err = iommu_unmap(d, a->node.start, a->node.last - a->node.start + 1);
    MOAT_ASSERT(err == 0);
}

static inline int map_everywhere(struct ioas *ioas, struct ioas_area *a)
{
    for (struct hwpt *h = ioas->hwpts; h; h = h->next) {
        int err = map_area_domain(ioas, h->domain, a);
        if (err) {
            for (struct hwpt *u = ioas->hwpts; u != h; u = u->next)
                ioas_unmap_area_domain(u->domain, a);
            return err;
        }
    }
    return 0;
}

static inline void unmap_everywhere(struct ioas *ioas, struct ioas_area *a)
{
    if (a->win)         /* a window just filled: empty tables, harmless, kept */
        return;
    for (struct hwpt *h = ioas->hwpts; h; h = h->next)
        MOAT_ASSERT(iommu_unmap(h->domain, a->node.start, a->node.last - a->node.start + 1) == 0);
}

static void area_insert(struct ioas *ioas, struct ioas_area *a)
{
    if (a->node.height >= 0)
        return;
    if (a->evict)
        ioas_cache_evict(ioas, a->node.start, a->node.last);
    iova_insert(&ioas->tree, &a->node);
}

/* Puts prepared areas into the tree and every domain. Page-table memory for the domains cannot
 * be reserved through the driver contract, so a driver -ENOMEM is rolled back: on error the
 * IOAS and every domain are as before and the areas are freed. */
int ioas_areas_commit(struct ioas *ioas, struct ioas_area **areas, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        area_insert(ioas, areas[i]);
    for (uint32_t i = 0; i < n; i++) {
        int err = map_everywhere(ioas, areas[i]);
        if (err) {
            for (uint32_t j = 0; j < i; j++)
                unmap_everywhere(ioas, areas[j]);
            for (uint32_t j = 0; j < n; j++)
                ioas_area_abort(ioas, areas[j]);
            return err;
        }
    }
    return 0;
}

/* moat_ioas_map after the checks that need no IOAS state: place, prepare and commit one area
 * in one call (ioas_areas_commit's rules for one area). */
int ioas_area_map(struct ioas *ioas, bool fixed, const void *va, uint64_t pa, uint64_t length,
                  uint32_t prot, uint64_t *iova)
{
    struct iova_node *first;
    uint64_t where = *iova;
    int err;
    if (!length || !IS_ALIGNED(length, IOMMUFD_PAGE))
        return ERR(-EINVAL);
    if (fixed)
        err = check_fixed(ioas, where, length, &first);
    else if (!ioas->linux_iova && fit_cached(ioas, length, &where, &first))
        err = 0;        /* the common case, without the first-fit search's frame */
    else
        err = ioas_choose_iova(ioas, length, pa, va, &where, &first);
    if (err)
        return err;
    struct ioas_area *a = area_prepare(ioas, where, length, first);
    if (!a)
        return ERR(-ENOMEM);
    a->pa = pa;
    a->va = va;
    a->prot = prot;
    a->chosen = !fixed;
    area_insert(ioas, a);
    err = map_everywhere(ioas, a);
    if (err) {
        ioas_area_abort(ioas, a);
        return err;
    }
    ioas->tree.near = &a->node;
    *iova = where;
    return 0;
}

/* Forgets an area no domain maps any more (its IOVA range may go to the cache). */
static inline void area_forget(struct ioas *ioas, struct ioas_area *a)
{
    a->pa = 0;
    a->va = NULL;
    a->prot = 0;
    /* Fixed ranges are cached too: a caller that maps at the IOVAs it just unmapped (a
     * driver's own allocator) then reuses the node, with no allocation and no tree update. */
    if (cache_push(ioas, &a->node))
        return;
    iova_remove(&ioas->tree, &a->node);
    area_free(ioas, a);
}

/* Unmaps a from every domain, then forgets it. */
void ioas_area_release(struct ioas *ioas, struct ioas_area *a)
{
    unmap_everywhere(ioas, a);
    area_forget(ioas, a);
}

void ioas_area_forget(struct ioas *ioas, struct ioas_area *a)
{
    area_forget(ioas, a);
}

static void free_subtree(struct iova_node *n)
{
    if (!n)
        return;
    free_subtree(n->left);
    free_subtree(n->right);
    if (n->kind != IOVA_RESV)
        kfree(container_of(n, struct ioas_area, node));
}

/* Frees every area and cached range; the IOAS has no domain left. */
void ioas_free_all_nodes(struct ioas *ioas)
{
    MOAT_ASSERT(!ioas->hwpts);
    free_subtree(ioas->tree.root);
    ioas->tree = (struct iova_tree){ 0 };
    for (int c = 0; c < IOAS_CACHE_CLASSES; c++) {
        ioas->cache[c] = NULL;
        ioas->cache_len[c] = 0;
    }
    ioas->nr_merged = 0;
    spares_free(ioas);
}
