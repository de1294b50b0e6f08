/* Format-independent parts: configuration, argument validation, table pages, the gather. */
#include "iommu/pgtable/pt_internal.h"
#include "lib/string.h"

static const struct pgtable_fmt_ops *const pt_formats[PGTABLE_FMT_COUNT] = {
    [PGTABLE_FMT_VTD_SS] = &pt_fmt_vtd_ss,
    [PGTABLE_FMT_X86_64] = &pt_fmt_x86_64,
    [PGTABLE_FMT_AMD_V1] = &pt_fmt_amd_v1,
    [PGTABLE_FMT_ARM_S1] = &pt_fmt_arm_s1,
    [PGTABLE_FMT_ARM_S2] = &pt_fmt_arm_s2,
    [PGTABLE_FMT_ARM_S1_16K] = &pt_fmt_arm_s1_16k,
    [PGTABLE_FMT_ARM_S1_64K] = &pt_fmt_arm_s1_64k,
    [PGTABLE_FMT_ARM_S2_16K] = &pt_fmt_arm_s2_16k,
    [PGTABLE_FMT_ARM_S2_64K] = &pt_fmt_arm_s2_64k,
};

/* ============================ table pages ============================ */

void *pt_alloc_table(struct pgtable *pt, size_t size, uint64_t *pa)
{
    void *va = pt->mem->alloc(pt->mem_ctx, size, pa);

    if (!va)
        return NULL;
    /* The allocator's contract: the address fits the entries' address field. */
    MOAT_ASSERT(IS_ALIGNED(*pa, size) && *pa + size - 1 <= pt->oa_last);
    pt->nr_tables += size >> pt->granule_shift;
    if (pt->flags & PGTABLE_CFG_NONCOHERENT)
        pt->mem->clean(pt->mem_ctx, va, size);
    return va;
}

void pt_free_table(struct pgtable *pt, void *va, uint64_t pa, size_t size)
{
    pt->nr_tables -= size >> pt->granule_shift;
    pt->mem->free(pt->mem_ctx, va, pa, size);
}

int pt_pool_fill(struct pgtable *pt, struct pt_pool *pool, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pa;
        uint64_t *va = pt_alloc_table(pt, pt->granule, &pa);
        if (!va) {
            pt_pool_drain(pt, pool);
            return ERR(-ENOMEM);
        }
        va[0] = (uint64_t)(uintptr_t)pool->head;
        va[1] = pa;
        pool->head = va;
        pool->count++;
    }
    return 0;
}

void *pt_pool_take(struct pgtable *pt, struct pt_pool *pool, uint64_t *pa)
{
    uint64_t *va = pool->head;

    MOAT_ASSERT(va && pool->count);
    pool->head = (void *)(uintptr_t)va[0];
    pool->count--;
    *pa = va[1];
    va[0] = 0;
    va[1] = 0;
    pt_sync(pt, va, 2);
    return va;
}

void pt_pool_drain(struct pgtable *pt, struct pt_pool *pool)
{
    while (pool->count) {
        uint64_t pa;
        void *va = pt_pool_take(pt, pool, &pa);
        pt_free_table(pt, va, pa, pt->granule);
    }
}

/* =============================== gather ============================== */

void pt_gather_init(struct pgtable_gather *g)
{
    g->nr_ranges = 0;
    g->nr_pages = 0;
    g->leaf_only = true;
    g->widen = false;
    g->span = false;
    g->keep_tables = false;
}

/* keep_ranges: the flush was forced by a full page list; the ranges stay gathered so that the
 * pages gathered next are again handed over with the ranges that made them unreachable. */
static void pt_gather_flush(struct pgtable *pt, struct pgtable_gather *g, bool keep_ranges)
{
    if (!g->nr_ranges && !g->nr_pages)
        return;
    pt->flush->flush(pt->flush_ctx, g);
    /* Only now can no walker reach the pages. */
    for (unsigned int i = 0; i < g->nr_pages; i++)
        pt_free_table(pt, g->pages[i].va, g->pages[i].pa, g->pages[i].size);
    g->nr_pages = 0;
    if (!keep_ranges) {
        g->nr_ranges = 0;
        g->leaf_only = true;
    }
}

/* Overlapping or adjacent, written so that nothing overflows at either end of 64 bits. */
static bool pt_ranges_touch(const struct pgtable_range *r, uint64_t start, uint64_t last)
{
    if (start > r->last)
        return start - r->last == 1;
    if (r->start > last)
        return r->start - last == 1;
    return true;
}

static uint64_t pt_range_gap(const struct pgtable_range *r, uint64_t start, uint64_t last)
{
    if (start > r->last)
        return start - r->last;
    if (r->start > last)
        return r->start - last;
    return 0;
}

/* A full gather that may widen (a batch): the range closest to [start, last] grows to cover
 * it. Invalidating entries that did not change is harmless (they are refetched), and keeps
 * the batch to one flush. */
static void pt_gather_widen(struct pgtable_gather *g, uint64_t start, uint64_t last)
{
    struct pgtable_range *best = &g->range[0];
    for (unsigned int i = 1; i < g->nr_ranges; i++)
        if (pt_range_gap(&g->range[i], start, last) < pt_range_gap(best, start, last))
            best = &g->range[i];
    best->start = MIN(best->start, start);
    best->last = MAX(best->last, last);
}

void pt_gather_range(struct pgtable *pt, struct pgtable_gather *g, uint64_t start,
                     uint64_t last, bool leaf)
{
    struct pgtable_range *r = g->nr_ranges ? &g->range[g->nr_ranges - 1] : NULL;

    if (r && (g->span || pt_ranges_touch(r, start, last))) {
        r->start = MIN(r->start, start);
        r->last = MAX(r->last, last);
    } else if (g->nr_ranges == PGTABLE_GATHER_RANGES && g->widen) {
        pt_gather_widen(g, start, last);
    } else {
        if (g->nr_ranges == PGTABLE_GATHER_RANGES)
            pt_gather_flush(pt, g, false);
        g->range[g->nr_ranges].start = start;
        g->range[g->nr_ranges].last = last;
        g->nr_ranges++;
    }
    g->leaf_only = g->leaf_only && leaf;
}

void pt_gather_page(struct pgtable *pt, struct pgtable_gather *g, void *va, uint64_t pa,
                    size_t size)
{
    pt->leaf_cache = NULL; /* it may be this page */
    if (g->nr_pages == PGTABLE_GATHER_PAGES)
        pt_gather_flush(pt, g, true);
    g->pages[g->nr_pages].va = va;
    g->pages[g->nr_pages].pa = pa;
    g->pages[g->nr_pages].size = size;
    g->nr_pages++;
}

void pt_gather_finish(struct pgtable *pt, struct pgtable_gather *g)
{
    pt_gather_flush(pt, g, false);
}

void pgtable_gather_init(struct pgtable_gather *g)
{
    pt_gather_init(g);
    g->widen = true;
}

void pgtable_gather_sync(struct pgtable *pt, struct pgtable_gather *g)
{
    pt_gather_flush(pt, g, false);
}

/* ============================ configuration ========================== */

static uint64_t pt_last_of_width(unsigned int bits)
{
    return bits >= 64 ? ~0ULL : BIT(bits) - 1;
}

static unsigned int fmt_shift(const struct pgtable_fmt_ops *f, unsigned int level)
{
    return f->granule_shift + (f->granule_shift - 3) * level;
}

/* Index bits a start-level table may have: one table, or up to 16 concatenated. */
static unsigned int fmt_max_root_bits(const struct pgtable_fmt_ops *f)
{
    return f->granule_shift - 3 + (f->concat_root ? PT_CONCAT_BITS : 0);
}

/* The fewest levels whose walk covers ias bits (concatenating the root where allowed). */
static unsigned int pt_levels_for(const struct pgtable_fmt_ops *f, unsigned int ias)
{
    for (unsigned int l = f->min_levels; l <= f->max_levels; l++) {
        if (ias <= fmt_shift(f, l - 1) + fmt_max_root_bits(f))
            return l;
    }
    return 0;
}

/* Without an explicit width: all the levels cover, capped by the format (x86-64: the lower
 * canonical half). */
static unsigned int pt_default_ias(const struct pgtable_fmt_ops *f, unsigned int levels)
{
    unsigned int ias = MIN(MIN(64u, fmt_shift(f, levels)), f->max_ias);

    if (f->canonical_half && ias == fmt_shift(f, levels))
        ias--;
    return ias;
}

static int pt_cfg_geometry(struct pgtable *pt, const struct pgtable_cfg *cfg)
{
    const struct pgtable_fmt_ops *f = pt->ops;
    unsigned int levels = cfg->levels, ias = cfg->ias, below, max_ias;

    if (!levels && !ias)
        levels = f->default_levels;
    if (levels > f->max_levels)
        return ERR(-EINVAL);
    if (!ias && levels)
        ias = pt_default_ias(f, levels);
    if (!levels)
        levels = pt_levels_for(f, ias);
    if (levels < f->min_levels || levels > f->max_levels)
        return ERR(-EINVAL);
    below = fmt_shift(f, levels - 1);
    max_ias = MIN(below + fmt_max_root_bits(f), f->max_ias);
    if (f->canonical_half)
        max_ias = MIN(max_ias, fmt_shift(f, levels) - 1);
    if (ias <= below || ias > max_ias)
        return ERR(-EINVAL);
    pt->granule_shift = f->granule_shift;
    pt->granule = 1ULL << f->granule_shift;
    pt->levels = levels;
    pt->ias = ias;
    pt->root_bits = ias - below;
    pt->ia_last = pt_last_of_width(ias);
    pt->root_size = MAX(pt->granule, 8ULL << pt->root_bits);
    return 0;
}

static int pt_cfg_sizes(struct pgtable *pt, const struct pgtable_cfg *cfg)
{
    const struct pgtable_fmt_ops *f = pt->ops;
    uint64_t offered = 0;

    pt->oas = cfg->oas ? cfg->oas : f->oa_bits;
    if (pt->oas < 32 || pt->oas > f->oa_bits)
        return ERR(-EINVAL);
    pt->oa_last = pt_last_of_width(pt->oas);
    for (unsigned int l = 0; l < pt->levels; l++) {
        if (f->leaf_levels & BIT(l))
            offered |= pt_lvl_size(pt, l);
    }
    pt->pgsize_bitmap = cfg->pgsize_bitmap ? cfg->pgsize_bitmap & offered : offered;
    if (!(pt->pgsize_bitmap & pt->granule))
        return ERR(-EINVAL);
    pt->leaf_levels = 0;
    for (unsigned int l = 0; l < pt->levels; l++) {
        if (pt->pgsize_bitmap & pt_lvl_size(pt, l))
            pt->leaf_levels |= BIT(l);
    }
    return 0;
}

static int pt_cfg_flags(struct pgtable *pt, const struct pgtable_cfg *cfg)
{
    bool arm = cfg->fmt >= PGTABLE_FMT_ARM_S1;

    if (cfg->flags & ~(PGTABLE_CFG_NONCOHERENT | PGTABLE_CFG_ARM_DBM))
        return ERR(-EINVAL);
    if ((cfg->flags & PGTABLE_CFG_ARM_DBM) && !arm)
        return ERR(-EINVAL);
    if ((cfg->flags & PGTABLE_CFG_NONCOHERENT) && !pt->mem->clean)
        return ERR(-EINVAL);
    pt->flags = cfg->flags;
    return 0;
}

int pgtable_init(struct pgtable *pt, const struct pgtable_cfg *cfg,
                 const struct pgtable_mem_ops *mem, void *mem_ctx,
                 const struct pgtable_flush_ops *flush, void *flush_ctx)
{
    int ret;

    memset(pt, 0, sizeof(*pt));
    if (!cfg || (unsigned int)cfg->fmt >= PGTABLE_FMT_COUNT)
        return ERR(-EINVAL);
    if (!mem || !mem->alloc || !mem->free || !mem->phys_to_virt || !flush || !flush->flush)
        return ERR(-EINVAL);
    pt->ops = pt_formats[cfg->fmt];
    pt->fmt = cfg->fmt;
    pt->mem = mem;
    pt->mem_ctx = mem_ctx;
    pt->flush = flush;
    pt->flush_ctx = flush_ctx;
    ret = pt_cfg_geometry(pt, cfg);
    if (!ret)
        ret = pt_cfg_sizes(pt, cfg);
    if (!ret)
        ret = pt_cfg_flags(pt, cfg);
    if (ret)
        return ret;
    pt->root = pt_alloc_table(pt, pt->root_size, &pt->root_pa);
    return pt->root ? 0 : ERR(-ENOMEM);
}

void pgtable_destroy(struct pgtable *pt)
{
    if (!pt->root)
        return;
    pt->leaf_cache = NULL;
    pt->ops->free_tables(pt);
    pt_free_table(pt, pt->root, pt->root_pa, pt->root_size);
    MOAT_ASSERT(pt->nr_tables == 0);
    pt->root = NULL;
}

/* ============================= validation ============================ */

/* [start, start + size) as an inclusive range inside a width: each failure its own errno. */
static int pt_check_span(uint64_t start, uint64_t size, uint64_t align, uint64_t width_last,
                         uint64_t *last)
{
    if (!size || !IS_ALIGNED(start | size, align))
        return ERR(-EINVAL);
    if (__builtin_add_overflow(start, size - 1, last))
        return ERR(-EOVERFLOW);
    if (*last > width_last)
        return ERR(-ERANGE);
    return 0;
}

static int pt_check_prot(const struct pgtable *pt, uint32_t prot)
{
    if (prot & ~PGTABLE_PROT_ALL)
        return ERR(-EINVAL);
    if (!(prot & (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)))
        return ERR(-EINVAL);
    if (!(prot & PGTABLE_PROT_READ) && !pt->ops->write_only_ok)
        return ERR(-EINVAL);
    if ((prot & PGTABLE_PROT_SNOOP) && (prot & PGTABLE_PROT_MMIO))
        return ERR(-EINVAL);
    return 0;
}

int pgtable_map(struct pgtable *pt, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot)
{
    uint64_t last, pa_last;
    int ret = pt_check_span(iova, size, pt->granule, pt->ia_last, &last);

    if (!ret)
        ret = pt_check_span(pa, size, pt->granule, pt->oa_last, &pa_last);
    if (!ret)
        ret = pt_check_prot(pt, prot);
    if (!ret)
        ret = pt->ops->map(pt, iova, pa, last, prot);
    if (!ret && pt->flush->map_sync)
        pt->flush->map_sync(pt->flush_ctx, iova, size);
    return ret;
}

int pgtable_unmap(struct pgtable *pt, uint64_t iova, uint64_t size, uint32_t flags)
{
    uint64_t last;
    int ret = pt_check_span(iova, size, pt->granule, pt->ia_last, &last);

    if (!ret && (flags & ~PGTABLE_UNMAP_SPLIT))
        ret = ERR(-EINVAL);
    return ret ? ret : pt->ops->unmap(pt, iova, last, flags, NULL);
}

int pgtable_unmap_gather(struct pgtable *pt, uint64_t iova, uint64_t size, uint32_t flags,
                         struct pgtable_gather *g)
{
    uint64_t last;
    int ret = pt_check_span(iova, size, pt->granule, pt->ia_last, &last);

    if (!ret && (flags & ~PGTABLE_UNMAP_SPLIT))
        ret = ERR(-EINVAL);
    return ret ? ret : pt->ops->unmap(pt, iova, last, flags, g);
}

int pgtable_populate(struct pgtable *pt, uint64_t iova, uint64_t size)
{
    uint64_t last;
    int ret = pt_check_span(iova, size, pt->granule, pt->ia_last, &last);

    return ret ? ret : pt->ops->populate(pt, iova, last);
}

int pgtable_translate(const struct pgtable *pt, uint64_t iova, struct pgtable_xlate *out)
{
    if (iova > pt->ia_last)
        return ERR(-ERANGE);
    return pt->ops->translate(pt, iova, out);
}

int pgtable_read_dirty(struct pgtable *pt, uint64_t iova, uint64_t size, uint64_t pgsize,
                       uint64_t *bitmap, uint32_t flags)
{
    uint64_t last;
    int ret;

    if (!bitmap || pgsize < pt->granule || (pgsize & (pgsize - 1)))
        return ERR(-EINVAL);
    if (flags & ~PGTABLE_DIRTY_NO_CLEAR)
        return ERR(-EINVAL);
    ret = pt_check_span(iova, size, pgsize, pt->ia_last, &last);
    if (ret)
        return ret;
    pt->ops->read_dirty(pt, iova, last, (unsigned int)__builtin_ctzll(pgsize), bitmap, flags);
    return 0;
}
