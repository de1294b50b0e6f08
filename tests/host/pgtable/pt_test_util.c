#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/pgtable/pt_internal.h"
#include "tests/host/pgtable/pt_test_util.h"

#define PG 4096ULL

static void die(const char *what, uint64_t v)
{
    fprintf(stderr, "pt_test_util: %s (0x%llx)\n", what, (unsigned long long)v);
    abort();
}

void tmem_init(struct tmem *tm, uint64_t npages)
{
    memset(tm, 0, sizeof(*tm));
    tm->npages = npages;
    npages = ALIGN_UP(npages, 16);
    tm->npages = npages;
    tm->mem = aligned_alloc(65536, npages * PG);
    tm->shadow = calloc(npages, PG);
    tm->state = calloc(npages, 1);
    tm->free_stack = calloc(npages, sizeof(uint32_t));
    tm->multi_pages = MAX((uint64_t)TMEM_MULTI_MIN, ALIGN_DOWN(npages / 2, 256));
    for (int i = 0; i < 8; i++)
        tm->multi_free[i] = calloc(tm->multi_pages, sizeof(uint32_t));
    if (!tm->mem || !tm->shadow || !tm->state || !tm->free_stack || !tm->multi_free[7])
        die("out of host memory", npages);
    memset(tm->mem, 0xa5, npages * PG);
    tmem_reset(tm);
}

void tmem_reset(struct tmem *tm)
{
    if (tm->live)
        die("reset with pages still allocated", (uint64_t)tm->live);
    tm->nfree = 0;
    for (uint64_t i = tm->npages; i-- > tm->multi_pages;)
        tm->free_stack[tm->nfree++] = (uint32_t)i;
    tm->multi_next = 0;
    memset(tm->multi_nfree, 0, sizeof(tm->multi_nfree));
    tm->nr_allocs = 0;
    tm->fail_at = 0;
    tm->peak = 0;
}

void tmem_fini(struct tmem *tm)
{
    free(tm->mem);
    free(tm->shadow);
    free(tm->state);
    free(tm->free_stack);
    for (int i = 0; i < 8; i++)
        free(tm->multi_free[i]);
}

static unsigned int multi_class(uint64_t n)
{
    unsigned int c = (unsigned int)__builtin_ctzll(n) - 1; /* 2 pages: class 0 */
    return c < 8 ? c : 7;
}

static uint64_t tmem_multi(struct tmem *tm, uint64_t n)
{
    unsigned int c = multi_class(n);
    uint64_t first;

    if (tm->multi_nfree[c])
        return tm->multi_free[c][--tm->multi_nfree[c]];
    first = ALIGN_UP(tm->multi_next, n);
    if (first + n > tm->multi_pages)
        die("multi-page area exhausted", n);
    tm->multi_next = first + n;
    return first;
}

static void *tmem_alloc(void *ctx, size_t size, uint64_t *pa)
{
    struct tmem *tm = ctx;
    uint64_t n = size / PG, first;

    if (size % PG || !size || (size & (size - 1)))
        die("bad allocation size", size);
    if (++tm->nr_allocs == tm->fail_at)
        return NULL;
    if (n == 1) {
        if (!tm->nfree)
            die("table memory exhausted", tm->npages);
        first = tm->free_stack[--tm->nfree];
    } else {
        first = tmem_multi(tm, n);
    }
    for (uint64_t i = 0; i < n; i++)
        tm->state[first + i] = i ? 2 : 1;
    memset(tm->mem + first * PG, 0, size);
    tm->live += (int64_t)n;
    tm->peak = MAX(tm->peak, tm->live);
    *pa = TMEM_PA_BASE + first * PG;
    return tm->mem + first * PG;
}

static void tmem_free(void *ctx, void *va, uint64_t pa, size_t size)
{
    struct tmem *tm = ctx;
    uint64_t first = (pa - TMEM_PA_BASE) / PG, n = size / PG;

    if (pa < TMEM_PA_BASE || first + n > tm->npages || tm->state[first] != 1)
        die("free of a page not allocated", pa);
    if ((uint8_t *)va != tm->mem + first * PG)
        die("free: va does not match pa", pa);
    for (uint64_t i = 0; i < n; i++) {
        if (i && tm->state[first + i] != 2)
            die("free: wrong size", pa);
        tm->state[first + i] = 0;
    }
    if (n == 1)
        tm->free_stack[tm->nfree++] = (uint32_t)first;
    else
        tm->multi_free[multi_class(n)][tm->multi_nfree[multi_class(n)]++] = (uint32_t)first;
    /* Poison, so that a walker still using the page would read garbage. */
    memset(va, 0xa5, size);
    tm->live -= (int64_t)n;
}

static void *tmem_p2v(void *ctx, uint64_t pa)
{
    struct tmem *tm = ctx;
    uint64_t idx = (pa - TMEM_PA_BASE) / PG;

    if (pa < TMEM_PA_BASE || idx >= tm->npages || !tm->state[idx])
        die("walker followed a table address that is not an allocated page", pa);
    return tm->mem + (pa - TMEM_PA_BASE);
}

void *tmem_p2v_any(void *ctx, uint64_t pa)
{
    struct tmem *tm = ctx;

    if (pa < TMEM_PA_BASE || (pa - TMEM_PA_BASE) / PG >= tm->npages)
        die("physical address outside simulated memory", pa);
    return tm->mem + (pa - TMEM_PA_BASE);
}

static void tmem_clean(void *ctx, const void *va, size_t len)
{
    struct tmem *tm = ctx;
    size_t off = (size_t)((const uint8_t *)va - tm->mem);

    if ((const uint8_t *)va < tm->mem || off + len > tm->npages * PG)
        die("clean outside table memory", off);
    memcpy(tm->shadow + off, va, len);
    tm->cleans++;
}

const struct pgtable_mem_ops tmem_ops = {
    .alloc = tmem_alloc, .free = tmem_free, .phys_to_virt = tmem_p2v,
};
const struct pgtable_mem_ops tmem_ops_noncoherent = {
    .alloc = tmem_alloc, .free = tmem_free, .phys_to_virt = tmem_p2v, .clean = tmem_clean,
};

/* ---- flush recorder: asserts what it is handed ---- */

static void flush_log_flush(void *ctx, const struct pgtable_gather *g)
{
    struct flush_log *fl = ctx;

    if (!g->nr_ranges && !g->nr_pages)
        die("empty flush", 0);
    if (g->nr_pages && !g->nr_ranges)
        die("pages freed without an invalidated range", g->nr_pages);
    if (g->nr_pages && g->leaf_only)
        die("table pages freed by a leaf-only flush", g->nr_pages);
    for (unsigned int i = 0; i < g->nr_ranges; i++) {
        if (g->range[i].start > g->range[i].last || (g->range[i].start & (PG - 1)) ||
            ((g->range[i].last + 1) & (PG - 1)))
            die("bad gathered range", g->range[i].start);
        if (fl->nr < ARRAY_SIZE(fl->ranges))
            fl->ranges[fl->nr++] = g->range[i];
        else
            die("flush log full", fl->nr);
    }
    for (unsigned int i = 0; i < g->nr_pages; i++) {
        uint64_t idx = (g->pages[i].pa - TMEM_PA_BASE) / PG;
        if (fl->tm && fl->tm->state[idx] != 1)
            die("gathered page is not an allocated table page", g->pages[i].pa);
    }
    fl->all_leaf_only = fl->all_leaf_only && g->leaf_only;
    fl->pages += g->nr_pages;
    fl->calls++;
}

static void flush_log_sync(void *ctx, uint64_t iova, uint64_t size)
{
    struct flush_log *fl = ctx;

    fl->map_syncs++;
    fl->sync_iova = iova;
    fl->sync_size = size;
}

const struct pgtable_flush_ops flush_log_ops = {
    .flush = flush_log_flush, .map_sync = flush_log_sync,
};

void flush_log_reset(struct flush_log *fl)
{
    fl->calls = 0;
    fl->nr = 0;
    fl->all_leaf_only = true;
    fl->pages = 0;
    fl->map_syncs = 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct pgtable_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

bool flush_log_covers_exactly(const struct flush_log *fl, uint64_t start, uint64_t last)
{
    struct pgtable_range r[ARRAY_SIZE(fl->ranges)];
    uint64_t cur_last;

    if (!fl->nr)
        return false;
    memcpy(r, fl->ranges, fl->nr * sizeof(r[0]));
    qsort(r, fl->nr, sizeof(r[0]), range_cmp);
    if (r[0].start != start)
        return false;
    cur_last = r[0].last;
    for (unsigned int i = 1; i < fl->nr; i++) {
        if (r[i].start > cur_last && r[i].start - cur_last > 1)
            return false; /* a hole */
        cur_last = MAX(cur_last, r[i].last);
    }
    return cur_last == last;
}

/* ---- snapshots ---- */

void tmem_snap_take(const struct tmem *tm, struct tmem_snap *s)
{
    uint64_t n = 0;

    s->state = malloc(tm->npages);
    memcpy(s->state, tm->state, tm->npages);
    for (uint64_t i = 0; i < tm->npages; i++)
        n += tm->state[i] != 0;
    s->pages = malloc(n * PG + 1);
    n = 0;
    for (uint64_t i = 0; i < tm->npages; i++) {
        if (tm->state[i])
            memcpy(s->pages + (n++) * PG, tm->mem + i * PG, PG);
    }
}

bool tmem_snap_same(const struct tmem *tm, const struct tmem_snap *s)
{
    uint64_t n = 0;

    if (memcmp(s->state, tm->state, tm->npages))
        return false;
    for (uint64_t i = 0; i < tm->npages; i++) {
        if (tm->state[i] && memcmp(s->pages + (n++) * PG, tm->mem + i * PG, PG))
            return false;
    }
    return true;
}

void tmem_snap_free(struct tmem_snap *s)
{
    free(s->state);
    free(s->pages);
}

bool tmem_shadow_same(const struct tmem *tm)
{
    for (uint64_t i = 0; i < tm->npages; i++) {
        if (tm->state[i] && memcmp(tm->shadow + i * PG, tm->mem + i * PG, PG))
            return false;
    }
    return true;
}

/* ---- hardware simulation ---- */

uint64_t *pt_test_leaf(const struct pgtable *pt, uint64_t iova, unsigned int *level)
{
    uint64_t *tbl = pt->root;

    for (unsigned int l = pt->levels - 1;; l--) {
        uint64_t *slot = &tbl[pt_index(pt, l, iova)], addr;
        uint32_t prot;
        switch (pt->ops->decode(pt, l, *slot, &addr, &prot)) {
        case PT_EMPTY:
            return NULL;
        case PT_LEAF:
            *level = l;
            return slot;
        case PT_TABLE:
            tbl = pt->mem->phys_to_virt(pt->mem_ctx, addr);
            break;
        }
    }
}

void pt_test_set_dirty(const struct pgtable *pt, uint64_t iova)
{
    unsigned int level;
    uint64_t *e = pt_test_leaf(pt, iova, &level);

    if (!e)
        die("set_dirty on an unmapped iova", iova);
    switch (pt->fmt) {
    case PGTABLE_FMT_VTD_SS: *e |= BIT(9); break;           /* D */
    case PGTABLE_FMT_X86_64: *e |= BIT(6); break;           /* D */
    case PGTABLE_FMT_AMD_V1: *e |= BIT(6); break;           /* D */
    case PGTABLE_FMT_ARM_S1:
    case PGTABLE_FMT_ARM_S1_16K:
    case PGTABLE_FMT_ARM_S1_64K: *e &= ~BIT(7); break;      /* DBM: clear AP[2] */
    case PGTABLE_FMT_ARM_S2:
    case PGTABLE_FMT_ARM_S2_16K:
    case PGTABLE_FMT_ARM_S2_64K: *e |= BIT(7); break;       /* DBM: set S2AP[1] */
    default: die("format", pt->fmt);
    }
}

const char *pt_fmt_name(enum pgtable_fmt fmt)
{
    static const char *const names[] = { "vtd-ss", "x86-64", "amd-v1", "arm-s1", "arm-s2",
                                         "arm-s1-16k", "arm-s1-64k", "arm-s2-16k",
                                         "arm-s2-64k" };
    return (unsigned int)fmt < ARRAY_SIZE(names) ? names[fmt] : "?";
}

uint32_t pt_test_prot_stored(enum pgtable_fmt fmt, uint32_t prot)
{
    uint32_t p = prot;
    if (fmt == PGTABLE_FMT_X86_64 || fmt == PGTABLE_FMT_ARM_S1 ||
        fmt == PGTABLE_FMT_ARM_S1_16K || fmt == PGTABLE_FMT_ARM_S1_64K)
        p |= PGTABLE_PROT_READ;
    if (fmt == PGTABLE_FMT_X86_64)
        p &= PGTABLE_PROT_READ | PGTABLE_PROT_WRITE;
    if (fmt == PGTABLE_FMT_VTD_SS || fmt == PGTABLE_FMT_AMD_V1)
        p &= ~PGTABLE_PROT_MMIO;
    return p;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

void pt_srand(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

uint64_t pt_rand(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}
