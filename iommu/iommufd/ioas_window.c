/* IOAS windows: a fixed IOVA range of an IOAS whose page-table pages are allocated once and
 * stay, for a driver that maps each request into a slot of it (a slot per tag: the idea of
 * rIOMMU, ASPLOS 2015). The window is an ordinary area of the IOAS (it occupies its range,
 * IOVA_RANGES and fixed maps see it), created and destroyed like other objects; in between,
 * the data path is three calls on the window itself, with no ID, tree or allocator lookup:
 *   map    stores a run's leaf entries (the tables are there: one walk, no allocation);
 *   clear  removes them into the window's gather (no invalidation yet);
 *   sync   one invalidation covering everything cleared since the last sync, one wait.
 * Until sync returns the device may still reach what clear removed. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/bitmap.h"
#include "lib/string.h"

/* The window's own record of which pages are mapped (w->live): the object layer checks a
 * request against it, so the units below are never asked to map over a mapping or clear a
 * hole. */
static inline void pages_set(struct moat_ioas_window *w, uint64_t first, uint64_t n, bool live)
{
    bitmap_assign(w->live, first, n, live);
    w->live_pages = live ? w->live_pages + n : w->live_pages - n;
}

/* The window's one domain (windows refuse a second one): NULL while no device is attached. */
static inline struct iommu_domain *window_domain(const struct moat_ioas_window *w)
{
    return w->ioas->hwpts ? w->ioas->hwpts->domain : NULL;
}

/* A domain the IOAS gains (an attach): the window's tables are built there. A fresh domain
 * maps nothing of the window; a second domain would need every map and clear twice, which the
 * data path does not do. */
int ioas_window_fill(struct moat_ioas_window *w, struct iommu_domain *d)
{
    const struct hwpt *h = w->ioas->hwpts;
    if (h && (h->domain != d || h->next))
        return ERR(-EBUSY);
    int err = iommu_populate(d, w->iova, w->length);
    if (err)
        return err;
    memset(w->live, 0, ((w->length / IOMMUFD_PAGE + 63) / 64) * sizeof(uint64_t));
    w->live_pages = 0;
    w->pending = false;
    return 0;
}

/* The domain is leaving the IOAS (no device on it any more, it is about to be freed): a
 * domain is freed with nothing mapped, so slots still mapped (requests never completed) are
 * found page by page and cleared, with one invalidation. What was cleared and not synced goes
 * with the same sync. Teardown only: the data path never comes here. */
void ioas_window_drop(struct moat_ioas_window *w, struct iommu_domain *d)
{
    if (!w->pending) {
        iommu_gather_init(&w->gather);
        w->gather.keep_tables = true;
    }
    for (uint64_t i = 0; w->live_pages && i < w->length / IOMMUFD_PAGE; i++) {
        if (!bitmap_test(w->live, i))
            continue;
        MOAT_ASSERT(iommu_unmap_gather(d, w->iova + i * IOMMUFD_PAGE, IOMMUFD_PAGE,
                                       &w->gather) == 0);
        pages_set(w, i, 1, false);
    }
    iommu_gather_sync(d, &w->gather);
    w->pending = false;
}

int moat_ioas_window_alloc(struct moat_iommufd *ctx, uint32_t ioas_id, uint64_t iova,
                           uint64_t length, uint32_t *out_id, struct moat_ioas_window **out)
{
    struct iova_node *first;
    struct ioas *ioas = ioas_get(ctx, ioas_id);
    if (!ioas)
        return ERR(-ENOENT);
    if (!length || !IS_ALIGNED(length, IOMMUFD_PAGE))
        return ERR(-EINVAL);
    if (ioas->hwpts && ioas->hwpts->next)
        return ERR(-EBUSY);
    int err = ioas_check_fixed(ioas, iova, length, &first);
    if (err)
        return err;
    err = iommufd_slot_reserve(ctx);
    if (err)
        return err;
    struct moat_ioas_window *w = iommufd_zalloc(sizeof(*w));
    uint64_t *live = iommufd_zalloc(((length / IOMMUFD_PAGE + 63) / 64) * sizeof(uint64_t));
    struct ioas_area *a = w && live ? ioas_area_prepare(ioas, iova, length, first) : NULL;
    if (!a) {
        kfree(live);
        kfree(w);
        return ERR(-ENOMEM);
    }
    *w = (struct moat_ioas_window){ .ctx = ctx, .ioas = ioas, .area = a, .iova = iova,
                                    .length = length, .live = live };
    a->win = w;
    a->prot = IOMMU_READ | IOMMU_WRITE;
    err = ioas_areas_commit(ioas, &a, 1);   /* fills the domain through ioas_window_fill */
    if (err) {
        kfree(live);
        kfree(w);
        return err;
    }
    ioas->obj.users++;
    iommufd_obj_install(ctx, &w->obj, IOMMUFD_OBJ_WINDOW);
    *out_id = w->obj.id;
    *out = w;
    return 0;
}

/* Out of the object table. Its leaves must be cleared and synced unless no device can use
 * them any more (moat_iommufd_destroy checks; a context teardown has detached every device).
 * The tables stay in the domain, which frees them with itself. */
void ioas_window_destroy(struct moat_ioas_window *w)
{
    w->area->win = NULL;
    ioas_area_forget(w->ioas, w->area);
    w->ioas->obj.users--;
    kfree(w->live);
    kfree(w);
}

bool ioas_window_busy(const struct moat_ioas_window *w)
{
    return window_domain(w) && (w->live_pages || w->pending);
}

/* [offset, offset + length) inside the window, page aligned. */
static inline int window_range(const struct moat_ioas_window *w, uint64_t offset,
                               uint64_t length)
{
    uint64_t end;
    if (!length || !IS_ALIGNED(offset | length, IOMMUFD_PAGE))
        return ERR(-EINVAL);
    if (__builtin_add_overflow(offset, length, &end) || end > w->length)
        return ERR(-ERANGE);
    return 0;
}

int moat_ioas_window_map(struct moat_ioas_window *w, uint64_t offset, const void *va,
                         uint64_t length, uint32_t prot)
{
    uint64_t pa;
    int err = window_range(w, offset, length);
    if (err)
        return err;
    if (!prot || (prot & ~(IOMMU_READ | IOMMU_WRITE)) || !IS_ALIGNED((uintptr_t)va, IOMMUFD_PAGE))
        return ERR(-EINVAL);
    uint64_t first = offset / IOMMUFD_PAGE, n = length / IOMMUFD_PAGE;
    if (!bitmap_all(w->live, first, n, false))
        return ERR(-EEXIST);
    uint32_t access = (prot & IOMMU_READ ? IOMMU_IOAS_MAP_READABLE : 0) |
                      (prot & IOMMU_WRITE ? IOMMU_IOAS_MAP_WRITEABLE : 0);
    err = iommufd_v2p(w->ctx, va, length, access, &pa);
    if (err)
        return err;
    struct iommu_domain *d = window_domain(w);
    if (d && (err = iommu_map(d, w->iova + offset, pa, length, prot)))
        return err;     /* -ENOMEM (tables are there: only a unit without them) */
    pages_set(w, first, n, true);
    return 0;
}

int moat_ioas_window_clear(struct moat_ioas_window *w, uint64_t offset, uint64_t length)
{
    int err = window_range(w, offset, length);
    if (err)
        return err;
    uint64_t first = offset / IOMMUFD_PAGE, n = length / IOMMUFD_PAGE;
    if (!bitmap_all(w->live, first, n, true))
        return ERR(-ENOENT);
    struct iommu_domain *d = window_domain(w);
    if (d) {
        if (!w->pending) {
            iommu_gather_init(&w->gather);
            w->gather.span = true;          /* one invalidation for the touched part */
            w->gather.keep_tables = true;
        }
        MOAT_ASSERT(iommu_unmap_gather(d, w->iova + offset, length, &w->gather) == 0);
        w->pending = true;
    }
    pages_set(w, first, n, false);
    return 0;
}

void moat_ioas_window_sync(struct moat_ioas_window *w)
{
    struct iommu_domain *d = window_domain(w);
    if (w->pending && d)
        iommu_gather_sync(d, &w->gather);
    w->pending = false;
}
