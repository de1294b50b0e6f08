/* Reserved IOVA ranges of an IOAS: the raw list (who reserved what: a device's unit regions, a
 * domain's input width) and its merged form, which sits in the IOVA tree so that the allocator
 * skips it. The merged list never has more entries than the raw one, so its node array (sized
 * for the raw list) always suffices: removing reservations needs no allocation. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"

static bool ranges_meet(uint64_t s1, uint64_t l1, uint64_t s2, uint64_t l2)
{
    return s1 <= l2 && s2 <= l1;
}

/* New reservations may not cover a mapping or an allowed range: -EADDRINUSE (as Linux). */
int ioas_resv_check(struct ioas *ioas, const struct ioas_resv *r, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        for (struct iova_node *x = iova_first(&ioas->tree, r[i].start, r[i].last); x;
             x = iova_next(&ioas->tree, x, r[i].last))
            if (x->kind == IOVA_AREA)
                return ERR(-EADDRINUSE);
        for (uint32_t j = 0; j < ioas->nr_allowed; j++)
            if (ranges_meet(r[i].start, r[i].last, ioas->allowed[j].start,
                            ioas->allowed[j].last))
                return ERR(-EADDRINUSE);
    }
    return 0;
}

/* Allocates bigger arrays when n_more entries would not fit; NULL outputs when they do. */
int ioas_resv_prepare(struct ioas *ioas, uint32_t n_more, struct ioas_resv **new_resv,
                      struct iova_node **new_nodes)
{
    uint32_t need = ioas->nr_resv + n_more;
    *new_resv = NULL;
    *new_nodes = NULL;
    if (need <= ioas->cap_resv && need <= ioas->cap_nodes)
        return 0;
    uint32_t cap = MAX(need, ioas->cap_resv * 2);
    *new_resv = iommufd_zalloc(cap * sizeof(**new_resv));
    *new_nodes = iommufd_zalloc(cap * sizeof(**new_nodes));
    if (!*new_resv || !*new_nodes) {
        ioas_resv_abort(*new_resv, *new_nodes);
        *new_resv = NULL;
        *new_nodes = NULL;
        return ERR(-ENOMEM);
    }
    (*new_nodes)[0].height = (int)cap;  /* carries the capacity to commit */
    return 0;
}

void ioas_resv_abort(struct ioas_resv *new_resv, struct iova_node *new_nodes)
{
    kfree(new_resv);
    kfree(new_nodes);
}

static void unlink_merged(struct ioas *ioas)
{
    for (uint32_t i = 0; i < ioas->nr_merged; i++)
        iova_remove(&ioas->tree, &ioas->resv_nodes[i]);
    ioas->nr_merged = 0;
}

static void sort_nodes(struct iova_node *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct iova_node x = v[i];
        uint32_t j = i;
        while (j > 0 && v[j - 1].start > x.start) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Recomputes the merged ranges from the raw list and puts them in the tree. */
void ioas_resv_rebuild(struct ioas *ioas)
{
    unlink_merged(ioas);
    struct iova_node *v = ioas->resv_nodes;
    uint32_t n = ioas->nr_resv, m = 0;
    MOAT_ASSERT(n <= ioas->cap_nodes);
    for (uint32_t i = 0; i < n; i++)
        v[i] = (struct iova_node){ .start = ioas->resv[i].start, .last = ioas->resv[i].last };
    sort_nodes(v, n);
    for (uint32_t i = 0; i < n; i++) {
        if (m && (v[i].start <= v[m - 1].last || v[i].start == v[m - 1].last + 1)) {
            v[m - 1].last = MAX(v[m - 1].last, v[i].last);
            continue;
        }
        v[m++] = v[i];
    }
    for (uint32_t i = 0; i < m; i++) {
        ioas_cache_evict(ioas, v[i].start, v[i].last);
        v[i].kind = IOVA_RESV;
        iova_insert(&ioas->tree, &v[i]);
    }
    ioas->nr_merged = m;
}

void ioas_resv_commit(struct ioas *ioas, const struct ioas_resv *r, uint32_t n,
                      struct ioas_resv *new_resv, struct iova_node *new_nodes)
{
    unlink_merged(ioas);
    if (new_resv) {
        uint32_t cap = (uint32_t)new_nodes[0].height;
        if (ioas->nr_resv)
            memcpy(new_resv, ioas->resv, ioas->nr_resv * sizeof(*new_resv));
        kfree(ioas->resv);
        kfree(ioas->resv_nodes);
        ioas->resv = new_resv;
        ioas->resv_nodes = new_nodes;
        ioas->cap_resv = ioas->cap_nodes = cap;
    }
    MOAT_ASSERT(ioas->nr_resv + n <= ioas->cap_resv);
    for (uint32_t i = 0; i < n; i++)
        ioas->resv[ioas->nr_resv++] = r[i];
    ioas_resv_rebuild(ioas);
}

void ioas_resv_remove(struct ioas *ioas, const void *owner)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < ioas->nr_resv; i++)
        if (ioas->resv[i].owner != owner)
            ioas->resv[m++] = ioas->resv[i];
    if (m == ioas->nr_resv)
        return;
    ioas->nr_resv = m;
    ioas_resv_rebuild(ioas);
}

/* Check, prepare, commit: reserves n ranges for owner, or changes nothing. */
int ioas_resv_add(struct ioas *ioas, const struct ioas_resv *r, uint32_t n)
{
    struct ioas_resv *nr;
    struct iova_node *nn;
    if (!n)
        return 0;
    int err = ioas_resv_check(ioas, r, n);
    if (!err)
        err = ioas_resv_prepare(ioas, n, &nr, &nn);
    if (err)
        return err;
    ioas_resv_commit(ioas, r, n, nr, nn);
    return 0;
}
