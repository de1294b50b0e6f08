/* Page-table benchmarks (VT-d second-stage format). Prints `bench <name> <value> <unit>` with
 * the median over rounds, and a `# <name> min .. max ..` comment line for each.
 *
 *   pgtable_map_unmap_4k   one 4 KiB map + unmap, tables already present (steady state),
 *                          neighbouring pages (the leaf-table cache hits)
 *   pgtable_map_unmap_4k_scattered  the same, each page in another 2 MiB region (each map
 *                          walks from the root; its unmap then finds the cached table)
 *   pgtable_map_unmap_2m   one 2 MiB leaf map + unmap
 *   pgtable_map_unmap_1g   one 1 GiB leaf map + unmap
 *   pgtable_bulk_4k        map 1 GiB as 4 KiB pages into an empty table (allocating and
 *                          zeroing the 513 table pages included), per page
 *   pgtable_bulk_unmap_4k  unmap that 1 GiB again (freeing the tables), per page
 *   pgtable_raw_store      the floor: the same number of 8-byte entry stores into a
 *                          preallocated table, per page
 *   pgtable_bulk_vs_raw    pgtable_bulk_4k / pgtable_raw_store
 *   pgtable_mem_per_gib_4k / _2m / _1g   table memory per mapped GiB: the table pages
 *                          allocated to map 4 GiB (aligned) into an empty table with 4 KiB,
 *                          2 MiB or 1 GiB leaves, root excluded, in KiB per GiB
 *
 * --short runs few rounds for CI; --only=NAME runs one map/unmap figure (for a profiler). Table pages come from a host pool and are zeroed by the
 * allocator when handed out, inside the timed region; the flush callback only counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"
#include "iommu/pgtable/pgtable.h"

#define K4 PGTABLE_SZ_4K
#define M2 PGTABLE_SZ_2M
#define G1 PGTABLE_SZ_1G
#define RW (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)
#define MAX_ROUNDS 64

static volatile uint64_t sink;

/* ---- a host page pool: pa is the host address (fits VT-d's 52-bit field) ---- */

struct pool {
    void **free;
    size_t nfree;
    uint64_t flushes;
};

static void *pool_alloc(void *ctx, size_t size, uint64_t *pa)
{
    struct pool *p = ctx;
    void *va;

    if (size != K4 || !p->nfree)
        return NULL;
    va = p->free[--p->nfree];
    memset(va, 0, K4);
    *pa = (uint64_t)(uintptr_t)va;
    return va;
}

static void pool_free(void *ctx, void *va, uint64_t pa, size_t size)
{
    struct pool *p = ctx;
    p->free[p->nfree++] = va;
}

static void *pool_p2v(void *ctx, uint64_t pa)
{
    return (void *)(uintptr_t)pa;
}

static void bench_flush(void *ctx, const struct pgtable_gather *g)
{
    struct pool *p = ctx;
    p->flushes += g->nr_ranges;
}

static const struct pgtable_mem_ops pool_ops = {
    .alloc = pool_alloc, .free = pool_free, .phys_to_virt = pool_p2v,
};
static const struct pgtable_flush_ops flush_ops = { .flush = bench_flush };

static void pool_init(struct pool *p, size_t pages)
{
    uint8_t *mem = aligned_alloc(K4, pages * K4);
    p->free = malloc(pages * sizeof(void *));
    if (!mem || !p->free) {
        fprintf(stderr, "bench_pgtable: out of memory\n");
        exit(1);
    }
    memset(mem, 0, pages * K4); /* fault the pool in before timing */
    p->nfree = 0;
    for (size_t i = pages; i-- > 0;)
        p->free[p->nfree++] = mem + i * K4;
    p->flushes = 0;
}

/* ---- timing ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints the median of v[0..n) and a min/max comment; returns the median. */
static double report(const char *name, const char *unit, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("bench %s %.2f %s\n", name, med, unit);
    printf("# %s min %.2f max %.2f %s over %d rounds\n", name, v[0], v[n - 1], unit, n);
    fflush(stdout);
    return med;
}

static void check(int ret, const char *what)
{
    if (ret) {
        fprintf(stderr, "bench_pgtable: %s failed: %d\n", what, ret);
        exit(1);
    }
}

static void make_table(struct pgtable *pt, struct pool *p, uint64_t pgsizes)
{
    struct pgtable_cfg cfg = { .fmt = PGTABLE_FMT_VTD_SS, .levels = 4, .pgsize_bitmap = pgsizes };
    check(pgtable_init(pt, &cfg, &pool_ops, p, &flush_ops, p), "init");
}

/* Map + unmap of one leaf of `size`, cycling over 64 slots `stride` apart; tables stay
 * allocated. With a 4 KiB stride the slots share one leaf table (the walk is cached); with a
 * 2 MiB stride every operation walks from the root. */
static void bench_map_unmap(const char *name, struct pool *p, uint64_t size, uint64_t stride,
                            int rounds, int iters)
{
    struct pgtable pt;
    double v[MAX_ROUNDS];
    const uint64_t base = 64 * G1, pa = 1ULL << 40;

    if (!bench_wanted(name))
        return;
    make_table(&pt, p, K4 | M2 | G1);
    for (int i = 0; i < 64; i++) { /* build the tables once */
        check(pgtable_map(&pt, base + i * stride, pa, size, RW), "warm map");
        check(pgtable_unmap(&pt, base + i * stride, size, 0), "warm unmap");
    }
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            uint64_t iova = base + (uint64_t)(i & 63) * stride;
            int ret = pgtable_map(&pt, iova, pa + (uint64_t)(i & 63) * size, size, RW);
            ret |= pgtable_unmap(&pt, iova, size, 0);
            sink += (uint64_t)ret;
        }
        v[r] = (double)(now_ns() - t0) / iters;
    }
    check((int)sink, "map/unmap loop");
    report(name, "ns", v, rounds);
    pgtable_destroy(&pt);
}

/* Map 1 GiB as 4 KiB pages into an empty table, then unmap it; per page. */
static double bench_bulk(struct pool *p, int rounds)
{
    double map[MAX_ROUNDS], unmap[MAX_ROUNDS];
    const uint64_t pages = G1 / K4;

    for (int r = 0; r < rounds; r++) {
        struct pgtable pt;
        make_table(&pt, p, K4);
        uint64_t t0 = now_ns();
        check(pgtable_map(&pt, 3 * G1, 1ULL << 40, G1, RW), "bulk map");
        uint64_t t1 = now_ns();
        check(pgtable_unmap(&pt, 3 * G1, G1, 0), "bulk unmap");
        uint64_t t2 = now_ns();
        map[r] = (double)(t1 - t0) / pages;
        unmap[r] = (double)(t2 - t1) / pages;
        pgtable_destroy(&pt);
    }
    double med = report("pgtable_bulk_4k", "ns/page", map, rounds);
    report("pgtable_bulk_unmap_4k", "ns/page", unmap, rounds);
    return med;
}

/* The same entries as single 8-byte stores (as the walker writes them: single-copy-atomic),
 * into 512 preallocated tables. */
static double bench_raw(int rounds)
{
    const uint64_t pages = G1 / K4;
    uint64_t *tbl = aligned_alloc(K4, pages * sizeof(uint64_t));
    double v[MAX_ROUNDS];

    if (!tbl)
        exit(1);
    memset(tbl, 0, pages * sizeof(uint64_t));
    for (int r = 0; r < rounds; r++) {
        const uint64_t tmpl = 3; /* R | W */
        uint64_t pa = (1ULL << 40) + (uint64_t)r * K4;
        uint64_t t0 = now_ns();
        for (uint64_t i = 0; i < pages; i++, pa += K4)
            __atomic_store_n(&tbl[i], tmpl | pa, __ATOMIC_RELAXED);
        barrier();
        v[r] = (double)(now_ns() - t0) / pages;
        sink += tbl[r * 4099 % pages];
    }
    free(tbl);
    return report("pgtable_raw_store", "ns/page", v, rounds);
}

/* Counts the pool pages a 4 GiB mapping takes (the root was allocated by pgtable_init). */
static void bench_table_memory(struct pool *p, const char *name, uint64_t pgsizes)
{
    const uint64_t gib = 4, size = gib * G1;
    struct pgtable pt;
    make_table(&pt, p, pgsizes);
    size_t before = p->nfree;
    check(pgtable_map(&pt, 4 * size, 1ULL << 40, size, RW), "memory map");
    size_t pages = before - p->nfree;
    printf("bench %s %.2f KiB/GiB\n", name, (double)pages * 4 / (double)gib);
    printf("# %s: %zu table pages for %llu GiB, %.4f%% of the memory mapped\n", name, pages,
           (unsigned long long)gib, 100.0 * (double)pages * K4 / (double)size);
    check(pgtable_unmap(&pt, 4 * size, size, 0), "memory unmap");
    pgtable_destroy(&pt);
}

int main(int argc, char **argv)
{
    bool short_run = bench_short(argc, argv);
    int rounds = short_run ? 5 : 15, iters = short_run ? 20000 : 200000;
    struct pool p;

    bench_parse_only(argc, argv);
    pool_init(&p, 4096);
    printf("# bench_pgtable: VT-d second-stage, 4 levels%s\n", short_run ? " (--short)" : "");
    bench_map_unmap("pgtable_map_unmap_4k", &p, K4, K4, rounds, iters);
    bench_map_unmap("pgtable_map_unmap_4k_scattered", &p, K4, M2, rounds, iters);
    bench_map_unmap("pgtable_map_unmap_2m", &p, M2, M2, rounds, iters);
    bench_map_unmap("pgtable_map_unmap_1g", &p, G1, G1, rounds, iters);
    if (bench_only_name)   /* profiling one map/unmap figure */
        return 0;
    double bulk = bench_bulk(&p, rounds);
    double raw = bench_raw(rounds);
    printf("bench pgtable_bulk_vs_raw %.2f x\n", bulk / raw);
    bench_table_memory(&p, "pgtable_mem_per_gib_4k", K4);
    bench_table_memory(&p, "pgtable_mem_per_gib_2m", K4 | M2);
    bench_table_memory(&p, "pgtable_mem_per_gib_1g", K4 | M2 | G1);
    printf("# targets: map_unmap_4k < 150 ns, bulk_vs_raw < 3 x\n");
    return 0;
}
