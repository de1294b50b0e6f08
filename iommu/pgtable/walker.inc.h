/* The page-table walker, written once and compiled once per format.
 *
 * A format source includes its fmt_*.h (the fmt_* inline functions and FMT_* constants), defines
 * PT_OPS_NAME, then includes this file. Every operation runs twice over the same code: a check
 * pass that only reads (and counts the table pages the commit will need), then, once those
 * pages are allocated, a commit pass that makes the same decisions and cannot fail.
 * Ranges are [lo, hi] with hi inclusive, so a range may end at the last byte of a 64-bit space.
 * No header guard: it is meant to be included once per translation unit. */

#ifndef PT_OPS_NAME
#error "define PT_OPS_NAME and include a fmt_*.h before walker.inc.h"
#endif

static inline uint64_t pt_load(const uint64_t *ptep)
{
    return __atomic_load_n(ptep, __ATOMIC_RELAXED);
}

/* The only function that writes a whole entry. Each format's entry is one 64-bit word holding
 * its Present/valid bit, so one single-copy-atomic store publishes it: a concurrent walker sees
 * the old entry or the new one, never a mix. Batches are then pt_sync()ed for walkers that do
 * not snoop. (Dirty-state clearing changes only hardware-owned bits: see pt_clear_dirty.) */
static inline void pt_store(uint64_t *ptep, uint64_t v)
{
    __atomic_store_n(ptep, v, __ATOMIC_RELAXED);
}

static inline uint64_t *pt_table_va(const struct pgtable *pt, uint64_t e)
{
    return pt->mem->phys_to_virt(pt->mem_ctx, fmt_table_pa(e));
}

/* Links a zeroed table page into `slot`. The barrier orders its zeroed contents (and, for a
 * split, its filled entries) before the link a walker may follow at once. */
static void pt_link_table(const struct pgtable *pt, uint64_t *slot, unsigned int level,
                          uint64_t child_pa)
{
    pt_publish_barrier();
    pt_store(slot, fmt_mk_table(pt, level, child_pa));
    pt_sync(pt, slot, 1);
}

/* ================================ map ================================ */

struct pt_map {
    struct pgtable *pt;
    uint64_t iova, pa0;  /* the request's start: va maps to pa0 + (va - iova) */
    uint64_t attrs;
    bool commit;
    uint64_t need;       /* check pass: table pages the commit will allocate */
    struct pt_pool pool; /* commit pass: those pages */
};

static int pt_map_range(struct pt_map *m, uint64_t *tbl, unsigned int level, uint64_t lo,
                        uint64_t hi, bool fresh);

static inline uint64_t pt_map_pa(const struct pt_map *m, uint64_t va)
{
    return m->pa0 + (va - m->iova);
}

/* A leaf at `level` fits at va when the level allows leaves and the slot is wholly inside the
 * request, with iova and pa equally aligned. */
static inline bool pt_leaf_fits(const struct pt_map *m, unsigned int level, uint64_t va,
                                uint64_t hi)
{
    uint64_t mask = pt_size(level) - 1;
    if (!(m->pt->leaf_levels & BIT(level)))
        return false;
    return !(va & mask) && hi - va >= mask && !(pt_map_pa(m, va) & mask);
}

/* The hot loop: n leaves into slots known to be empty. */
static void pt_fill_leaves(struct pt_map *m, uint64_t *tbl, unsigned int level, uint64_t va,
                           uint64_t n)
{
    const uint64_t tmpl = fmt_leaf_tmpl(m->pt, level, m->attrs);
    const uint64_t step = pt_size(level);
    uint64_t *p = &tbl[pt_index(m->pt, level, va)];
    uint64_t pa = pt_map_pa(m, va);

    for (uint64_t i = 0; i < n; i++, pa += step)
        pt_store(&p[i], tmpl | pa);
    pt_sync(m->pt, p, n);
}

/* n leaf-sized slots in an existing table: empty ones take a leaf, a table in the way is
 * descended into (leaving a smaller mapping there), a leaf in the way is an overlap. */
static int pt_map_leaf_slots(struct pt_map *m, uint64_t *tbl, unsigned int level, uint64_t va,
                             uint64_t n)
{
    uint64_t *p = &tbl[pt_index(m->pt, level, va)];
    uint64_t sz = pt_size(level);

    for (uint64_t i = 0; i < n; i++, va += sz) {
        uint64_t e = pt_load(&p[i]);
        enum pt_kind k = fmt_kind(m->pt, level, e);
        int ret = 0;
        if (k == PT_LEAF)
            return -EEXIST;
        if (k == PT_TABLE)
            ret = pt_map_range(m, pt_table_va(m->pt, e), level - 1, va, va + sz - 1, false);
        else if (m->commit)
            pt_fill_leaves(m, tbl, level, va, 1);
        if (ret)
            return ret;
    }
    return 0;
}

/* One slot that cannot hold a leaf for this request: go one level down, creating the table. */
static int pt_map_descend(struct pt_map *m, uint64_t *tbl, unsigned int level, uint64_t lo,
                          uint64_t hi, bool fresh)
{
    uint64_t *slot = tbl ? &tbl[pt_index(m->pt, level, lo)] : NULL;
    uint64_t e = (slot && !fresh) ? pt_load(slot) : 0;
    uint64_t child_pa;
    uint64_t *child;

    switch (fmt_kind(m->pt, level, e)) {
    case PT_LEAF:
        return -EEXIST;
    case PT_TABLE:
        return pt_map_range(m, pt_table_va(m->pt, e), level - 1, lo, hi, false);
    case PT_EMPTY:
        break;
    }
    if (!m->commit) {
        m->need++;
        return pt_map_range(m, NULL, level - 1, lo, hi, true);
    }
    child = pt_pool_take(m->pt, &m->pool, &child_pa);
    pt_link_table(m->pt, slot, level, child_pa);
    return pt_map_range(m, child, level - 1, lo, hi, true);
}

/* Maps [lo, hi] inside the span of `tbl` at `level`. In the check pass tbl is NULL for a table
 * the commit will create; `fresh` says the table is known to be empty. */
static int pt_map_range(struct pt_map *m, uint64_t *tbl, unsigned int level, uint64_t lo,
                        uint64_t hi, bool fresh)
{
    uint64_t va = lo;

    for (;;) {
        uint64_t chunk_hi = MIN(hi, va | (pt_size(level) - 1));
        int ret;

        if (pt_leaf_fits(m, level, va, hi)) {
            uint64_t n = (hi - va + 1) >> pt_shift(level);
            chunk_hi = va + (n << pt_shift(level)) - 1;
            ret = 0;
            if (tbl && !fresh)
                ret = pt_map_leaf_slots(m, tbl, level, va, n);
            else if (m->commit)
                pt_fill_leaves(m, tbl, level, va, n);
        } else {
            ret = pt_map_descend(m, tbl, level, va, chunk_hi, fresh);
        }
        if (ret || chunk_hi == hi)
            return ret;
        va = chunk_hi + 1;
    }
}

/* Follows table entries from the root towards iova's entry at `stop` level; returns the table
 * reached and its level (above `stop` when a non-table entry ends the walk). */
static uint64_t *pt_walk_tables(const struct pgtable *pt, uint64_t iova, unsigned int stop,
                                unsigned int *level)
{
    uint64_t *tbl = pt->root;
    unsigned int l = pt->levels - 1;

    for (; l > stop; l--) {
        uint64_t e = pt_load(&tbl[pt_index(pt, l, iova)]);
        if (fmt_kind(pt, l, e) != PT_TABLE)
            break;
        tbl = pt_table_va(pt, e);
    }
    *level = l;
    return tbl;
}

/* The highest level whose leaf fits at the start of the request. */
static unsigned int pt_map_first_level(const struct pt_map *m, uint64_t last)
{
    unsigned int l = m->pt->levels - 1;
    while (l && !pt_leaf_fits(m, l, m->iova, last))
        l--;
    return l;
}

/* The common case, done with one walk: every leaf of the request is of one size, in one
 * existing table, into empty slots. Anything else (a table to create, an occupied slot) is
 * left to the general two-pass path; returns false then, having changed nothing. */
static bool pt_map_fast(struct pt_map *m, uint64_t last)
{
    const struct pgtable *pt = m->pt;
    unsigned int level = pt_map_first_level(m, last), reached;
    uint64_t n = (last - m->iova + 1) >> pt_shift(level);
    uint64_t *tbl, *p;

    if ((last - m->iova + 1) & (pt_size(level) - 1))
        return false;
    if (level + 1 < pt->levels && (m->iova >> pt_shift(level + 1)) != (last >> pt_shift(level + 1)))
        return false;
    tbl = pt_walk_tables(pt, m->iova, level, &reached);
    if (reached != level)
        return false;
    p = &tbl[pt_index(pt, level, m->iova)];
    for (uint64_t i = 0; i < n; i++) {
        if (pt_load(&p[i]))
            return false;
    }
    pt_fill_leaves(m, tbl, level, m->iova, n);
    return true;
}

static int pt_map(struct pgtable *pt, uint64_t iova, uint64_t pa, uint64_t last, uint32_t prot)
{
    struct pt_map m = {
        .pt = pt, .iova = iova, .pa0 = pa, .attrs = fmt_leaf_attrs(pt, prot), .commit = true,
    };
    if (pt_map_fast(&m, last))
        return 0;
    m.commit = false;
    int ret = pt_map_range(&m, pt->root, pt->levels - 1, iova, last, false);

    if (ret)
        return ret;
    ret = pt_pool_fill(pt, &m.pool, m.need);
    if (ret)
        return ret;
    m.commit = true;
    ret = pt_map_range(&m, pt->root, pt->levels - 1, iova, last, false);
    MOAT_ASSERT(ret == 0 && m.pool.count == 0);
    return 0;
}

/* =============================== unmap =============================== */

struct pt_unmap {
    struct pgtable *pt;
    uint32_t flags;
    bool commit;
    uint64_t need;
    struct pt_pool pool;
    struct pgtable_gather g;
};

static int pt_unmap_range(struct pt_unmap *u, uint64_t *tbl, unsigned int level, uint64_t lo,
                          uint64_t hi);

/* The highest level below `level` that may hold leaves (level 0 always may). */
static unsigned int pt_lower_leaf_level(const struct pgtable *pt, unsigned int level)
{
    unsigned int l = level - 1;
    while (l && !(pt->leaf_levels & BIT(l)))
        l--;
    return l;
}

/* Table pages that rebuild one leaf at `level` as leaves at `ll`. */
static uint64_t pt_expand_count(unsigned int level, unsigned int ll)
{
    uint64_t n = 0, per = 1;
    for (unsigned int l = level; l > ll; l--, per *= PT_ENTRIES)
        n += per;
    return n;
}

/* Table pages a commit needs to carve [lo, hi] out of a leaf at `level`; mirrors what
 * pt_unmap_split and the unmap it continues with do. */
static uint64_t pt_split_count(const struct pgtable *pt, unsigned int level, uint64_t lo,
                               uint64_t hi)
{
    unsigned int ll = pt_lower_leaf_level(pt, level);
    uint64_t mask = pt_size(ll) - 1;
    uint64_t lo_slot = lo & ~mask, hi_slot = hi & ~mask;
    uint64_t n = pt_expand_count(level, ll);

    if (lo != lo_slot || hi < lo_slot + mask)
        n += pt_split_count(pt, ll, lo, MIN(hi, lo_slot + mask));
    if (hi_slot != lo_slot && hi != hi_slot + mask)
        n += pt_split_count(pt, ll, hi_slot, hi);
    return n;
}

/* Builds a table at `level` whose entries rebuild, as leaves at `ll`, the leaf of the level
 * above that mapped pa with attrs. Nothing points at it yet. */
static uint64_t *pt_build_expanded(struct pt_unmap *u, unsigned int level, unsigned int ll,
                                   uint64_t pa, uint64_t attrs, uint64_t *tbl_pa)
{
    uint64_t *tbl = pt_pool_take(u->pt, &u->pool, tbl_pa);
    uint64_t tmpl = fmt_leaf_tmpl(u->pt, level, attrs);

    for (unsigned int i = 0; i < PT_ENTRIES; i++, pa += pt_size(level)) {
        uint64_t sub_pa;
        if (level == ll) {
            pt_store(&tbl[i], tmpl | pa);
            continue;
        }
        pt_build_expanded(u, level - 1, ll, pa, attrs, &sub_pa);
        pt_store(&tbl[i], fmt_mk_table(u->pt, level, sub_pa));
    }
    pt_sync(u->pt, tbl, PT_ENTRIES);
    return tbl;
}

/* [lo, hi] cuts through the leaf in `slot`: replace it by an equivalent table (same
 * translations, so a walker sees no gap), then unmap inside that. */
static int pt_unmap_split(struct pt_unmap *u, uint64_t *slot, unsigned int level, uint64_t e,
                          uint64_t lo, uint64_t hi)
{
    struct pgtable *pt = u->pt;
    uint64_t child_pa, start = lo & ~(pt_size(level) - 1);
    uint64_t *child;

    if (!(u->flags & PGTABLE_UNMAP_SPLIT))
        return -PGTABLE_ESPLIT;
    if (!u->commit) {
        u->need += pt_split_count(pt, level, lo, hi);
        return 0;
    }
    child = pt_build_expanded(u, level - 1, pt_lower_leaf_level(pt, level),
                              fmt_leaf_pa(level, e), fmt_leaf_attrs_of(level, e), &child_pa);
    pt_link_table(pt, slot, level, child_pa);
    /* The old leaf may sit in the IOTLB whole: invalidate all of it. */
    pt_gather_range(pt, &u->g, start, start + pt_size(level) - 1, false);
    return pt_unmap_range(u, child, level - 1, lo, hi);
}

/* Queues every table page under (and including) tbl for freeing after the flush. */
static void pt_gather_subtree(struct pt_unmap *u, uint64_t *tbl, uint64_t tbl_pa,
                              unsigned int level)
{
    for (unsigned int i = 0; level && i < PT_ENTRIES; i++) {
        uint64_t e = pt_load(&tbl[i]);
        if (fmt_kind(u->pt, level, e) == PT_TABLE)
            pt_gather_subtree(u, pt_table_va(u->pt, e), fmt_table_pa(e), level - 1);
    }
    pt_gather_page(u->pt, &u->g, tbl, tbl_pa, PGTABLE_GRANULE);
}

/* A table whose whole span is unmapped: check it is fully mapped, then unlink it at once. */
static int pt_unmap_table(struct pt_unmap *u, uint64_t *slot, unsigned int level, uint64_t e,
                          uint64_t start)
{
    uint64_t last = start + pt_size(level) - 1;
    uint64_t *child = pt_table_va(u->pt, e);

    if (!u->commit)
        return pt_unmap_range(u, child, level - 1, start, last);
    pt_store(slot, 0);
    pt_sync(u->pt, slot, 1);
    pt_gather_range(u->pt, &u->g, start, last, false);
    pt_gather_subtree(u, child, fmt_table_pa(e), level - 1);
    return 0;
}

/* Whole leaves at `level` from va on, up to hi: how many, after clearing them (commit). */
static uint64_t pt_unmap_leaves(struct pt_unmap *u, uint64_t *tbl, unsigned int level,
                                uint64_t va, uint64_t hi)
{
    unsigned int first = pt_index(u->pt, level, va);
    uint64_t *p = &tbl[first];
    uint64_t max = (hi - va + 1) >> pt_shift(level), n = 0; /* [va, hi] lies in tbl's span */

    while (n < max && fmt_kind(u->pt, level, pt_load(&p[n])) == PT_LEAF)
        n++;
    if (!u->commit)
        return n;
    for (uint64_t i = 0; i < n; i++)
        pt_store(&p[i], 0);
    pt_sync(u->pt, p, n);
    pt_gather_range(u->pt, &u->g, va, va + (n << pt_shift(level)) - 1, true);
    return n;
}

static int pt_unmap_range(struct pt_unmap *u, uint64_t *tbl, unsigned int level, uint64_t lo,
                          uint64_t hi)
{
    uint64_t va = lo;

    for (;;) {
        uint64_t start = va & ~(pt_size(level) - 1), slot_last = start + pt_size(level) - 1;
        uint64_t chunk_hi = MIN(hi, slot_last);
        uint64_t *slot = &tbl[pt_index(u->pt, level, va)];
        uint64_t e = pt_load(slot);
        bool whole = va == start && chunk_hi == slot_last;
        int ret = 0;

        switch (fmt_kind(u->pt, level, e)) {
        case PT_EMPTY:
            MOAT_ASSERT(!u->commit);
            return -ENOENT;
        case PT_LEAF:
            if (whole)
                chunk_hi = va + (pt_unmap_leaves(u, tbl, level, va, hi) << pt_shift(level)) - 1;
            else
                ret = pt_unmap_split(u, slot, level, e, va, chunk_hi);
            break;
        case PT_TABLE:
            if (whole)
                ret = pt_unmap_table(u, slot, level, e, start);
            else
                ret = pt_unmap_range(u, pt_table_va(u->pt, e), level - 1, va, chunk_hi);
            break;
        }
        if (ret || chunk_hi == hi)
            return ret;
        va = chunk_hi + 1;
    }
}

/* The common case, done with one walk: the range is whole leaves of one size in one table,
 * not that table's whole span (which the general path frees). Returns false, having changed
 * nothing, for anything else. */
static bool pt_unmap_fast(struct pt_unmap *u, uint64_t iova, uint64_t last)
{
    struct pgtable *pt = u->pt;
    unsigned int level;
    uint64_t *tbl = pt_walk_tables(pt, iova, 0, &level), *p;
    uint64_t mask = pt_size(level) - 1, n = (last - iova + 1) >> pt_shift(level);

    if ((iova & mask) || ((last + 1) & mask) || n >= PT_ENTRIES)
        return false;
    if (level + 1 < pt->levels && (iova >> pt_shift(level + 1)) != (last >> pt_shift(level + 1)))
        return false;
    p = &tbl[pt_index(pt, level, iova)];
    for (uint64_t i = 0; i < n; i++) {
        if (fmt_kind(pt, level, pt_load(&p[i])) != PT_LEAF)
            return false;
    }
    for (uint64_t i = 0; i < n; i++)
        pt_store(&p[i], 0);
    pt_sync(pt, p, n);
    pt_gather_init(&u->g);
    pt_gather_range(pt, &u->g, iova, last, true);
    pt_gather_finish(pt, &u->g);
    return true;
}

static int pt_unmap(struct pgtable *pt, uint64_t iova, uint64_t last, uint32_t flags)
{
    struct pt_unmap u = { .pt = pt, .flags = flags };
    if (pt_unmap_fast(&u, iova, last))
        return 0;
    int ret = pt_unmap_range(&u, pt->root, pt->levels - 1, iova, last);

    if (ret)
        return ret;
    ret = pt_pool_fill(pt, &u.pool, u.need);
    if (ret)
        return ret;
    u.commit = true;
    pt_gather_init(&u.g);
    ret = pt_unmap_range(&u, pt->root, pt->levels - 1, iova, last);
    MOAT_ASSERT(ret == 0 && u.pool.count == 0);
    pt_gather_finish(pt, &u.g);
    return 0;
}

/* ============================= translate ============================= */

static int pt_translate(const struct pgtable *pt, uint64_t iova, struct pgtable_xlate *out)
{
    const uint64_t *tbl = pt->root;

    for (unsigned int level = pt->levels - 1;; level--) {
        uint64_t e = pt_load(&tbl[pt_index(pt, level, iova)]);
        switch (fmt_kind(pt, level, e)) {
        case PT_EMPTY:
            return -ENOENT;
        case PT_LEAF:
            out->pgsize = pt_size(level);
            out->pa = fmt_leaf_pa(level, e) | (iova & (out->pgsize - 1));
            out->prot = fmt_prot(pt, level, e);
            return 0;
        case PT_TABLE:
            tbl = pt_table_va(pt, e);
            break;
        }
    }
}

static enum pt_kind pt_decode(const struct pgtable *pt, unsigned int level, uint64_t e,
                              uint64_t *addr, uint32_t *prot)
{
    enum pt_kind k = fmt_kind(pt, level, e);

    *addr = k == PT_TABLE ? fmt_table_pa(e) : fmt_leaf_pa(level, e);
    *prot = k == PT_LEAF ? fmt_prot(pt, level, e) : 0;
    return k;
}

/* =============================== dirty =============================== */

struct pt_dirty {
    struct pgtable *pt;
    uint64_t base;
    unsigned int pgshift;
    uint64_t *bitmap;
    bool clear;
    struct pgtable_gather g;
};

/* Hardware sets dirty state with atomic updates of the same word, so clearing it must not
 * overwrite a concurrent update: compare-and-exchange, changing only the dirty bits. */
static void pt_clear_dirty(const struct pgtable *pt, uint64_t *ptep, uint64_t e)
{
    while (!__atomic_compare_exchange_n(ptep, &e, fmt_dirty_clean(pt, e), false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    pt_sync(pt, ptep, 1);
}

static void pt_dirty_mark(struct pt_dirty *d, uint64_t lo, uint64_t hi)
{
    uint64_t first = (lo - d->base) >> d->pgshift, last = (hi - d->base) >> d->pgshift;
    for (uint64_t b = first; b <= last; b++)
        d->bitmap[b / 64] |= 1ULL << (b % 64);
}

static void pt_dirty_range(struct pt_dirty *d, uint64_t *tbl, unsigned int level, uint64_t lo,
                           uint64_t hi)
{
    uint64_t va = lo;

    for (;;) {
        uint64_t start = va & ~(pt_size(level) - 1), chunk_hi = MIN(hi, start + pt_size(level) - 1);
        uint64_t *slot = &tbl[pt_index(d->pt, level, va)];
        uint64_t e = pt_load(slot);
        enum pt_kind k = fmt_kind(d->pt, level, e);

        if (k == PT_TABLE) {
            pt_dirty_range(d, pt_table_va(d->pt, e), level - 1, va, chunk_hi);
        } else if (k == PT_LEAF && fmt_dirty(d->pt, e)) {
            pt_dirty_mark(d, va, chunk_hi);
            if (d->clear) {
                pt_clear_dirty(d->pt, slot, e);
                /* The IOTLB may hold the entry as dirty; without invalidation later writes
                 * would not set it again. */
                pt_gather_range(d->pt, &d->g, start, start + pt_size(level) - 1, true);
            }
        }
        if (chunk_hi == hi)
            return;
        va = chunk_hi + 1;
    }
}

static void pt_read_dirty(struct pgtable *pt, uint64_t iova, uint64_t last, unsigned int pgshift,
                          uint64_t *bitmap, uint32_t flags)
{
    struct pt_dirty d = {
        .pt = pt, .base = iova, .pgshift = pgshift, .bitmap = bitmap,
        .clear = !(flags & PGTABLE_DIRTY_NO_CLEAR),
    };

    pt_gather_init(&d.g);
    pt_dirty_range(&d, pt->root, pt->levels - 1, iova, last);
    pt_gather_finish(pt, &d.g);
}

/* ================================ free =============================== */

static void pt_free_subtree(struct pgtable *pt, uint64_t *tbl, unsigned int level,
                            unsigned int nents)
{
    for (unsigned int i = 0; level && i < nents; i++) {
        uint64_t e = pt_load(&tbl[i]);
        if (fmt_kind(pt, level, e) != PT_TABLE)
            continue;
        uint64_t *child = pt_table_va(pt, e);
        pt_free_subtree(pt, child, level - 1, PT_ENTRIES);
        pt_free_table(pt, child, fmt_table_pa(e), PGTABLE_GRANULE);
    }
}

static void pt_free_tables(struct pgtable *pt)
{
    pt_free_subtree(pt, pt->root, pt->levels - 1, 1u << pt->root_bits);
}

const struct pgtable_fmt_ops PT_OPS_NAME = {
    .name = FMT_NAME,
    .min_levels = FMT_MIN_LEVELS,
    .max_levels = FMT_MAX_LEVELS,
    .default_levels = FMT_DEFAULT_LEVELS,
    .max_ias = FMT_MAX_IAS,
    .oa_bits = FMT_OA_BITS,
    .leaf_levels = FMT_LEAF_LEVELS,
    .prot_stored = FMT_PROT_STORED,
    .write_only_ok = FMT_WRITE_ONLY_OK,
    .concat_root = FMT_CONCAT_ROOT,
    .canonical_half = FMT_CANONICAL_HALF,
    .map = pt_map,
    .unmap = pt_unmap,
    .translate = pt_translate,
    .read_dirty = pt_read_dirty,
    .free_tables = pt_free_tables,
    .decode = pt_decode,
};
