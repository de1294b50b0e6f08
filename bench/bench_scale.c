/* Scaling of the object layer with the number of live mappings, through the native API (one
 * IOAS, one device attached, the host tests' mock IOMMU: a real VT-d second-stage table,
 * invalidation a counter). The IOAS is filled with N live 4 KiB mappings at kernel-chosen
 * IOVAs, N = 10, 10^3, 10^5, 10^6 (--short: up to 10^5), and at each N:
 *
 *   api_map_unmap_4k_live_<N>  one more 4 KiB map + unmap, kernel-chosen IOVA; after the first
 *                              the range comes back from the IOAS's per-size cache of freed
 *                              ranges, so this is the steady state of a driver's map/unmap
 *   api_map_4k_fresh_live_<N>  one 4 KiB map whose IOVA the first-fit search must find (the
 *                              cache drained first), per map, over batches of 1000
 *   iova_alloc_live_<N>        the allocator's tree alone (iommu/iommufd/iova.h) holding N ranges
 *                              with holes too small for the request everywhere but at the end:
 *                              find the lowest fitting hole, insert, remove
 *   api_scale_ratio            api_map_unmap_4k_live_<largest N> / api_map_unmap_4k_live_10
 *
 * Every figure is the median over rounds, with min and max on a comment line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "iommu/iommufd/iommufd_private.h"
#include "iommu/iommufd/iova.h"
#include "kernel/mm/pmm.h"
#include "moat/iommufd.h"
#include "tests/host/mock_iommu.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define K4 4096ULL
#define FRESH_BATCH 1000
#define EXTRA_ARENA (768ULL << 20)  /* heap and tables for 10^6 areas; touched only as used */

static struct moat_iommufd *ctx;
static uint32_t ioas;
static void *page;
static uint64_t batch[FRESH_BATCH + IOAS_CACHE_DEPTH];

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_scale: %s failed: %d\n", what, err);
    exit(1);
}

static uint64_t map_one(void)
{
    uint64_t iova = 0;
    int err = moat_ioas_map(ctx, ioas, RW, page, K4, &iova);
    if (err)
        die("moat_ioas_map", err);
    return iova;
}

static void unmap_one(uint64_t iova)
{
    uint64_t got;
    int err = moat_ioas_unmap(ctx, ioas, iova, K4, &got);
    if (err)
        die("moat_ioas_unmap", err);
}

static void bench_steady(const char *name, int rounds, int iters, double *median)
{
    double v[BENCH_MAX_ROUNDS];
    for (int i = 0; i < 100; i++)
        unmap_one(map_one());
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < iters; i++)
            unmap_one(map_one());
        v[r] = (double)(bench_now_ns() - t0) / iters;
    }
    *median = bench_report(name, "ns", v, rounds);
}

/* The cache holds at most IOAS_CACHE_DEPTH ranges of a size: taking that many first leaves the
 * timed maps to the first-fit search. */
static void bench_fresh(const char *name, int rounds)
{
    double v[BENCH_MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < IOAS_CACHE_DEPTH; i++)
            batch[FRESH_BATCH + i] = map_one();
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < FRESH_BATCH; i++)
            batch[i] = map_one();
        v[r] = (double)(bench_now_ns() - t0) / FRESH_BATCH;
        for (int i = 0; i < FRESH_BATCH + IOAS_CACHE_DEPTH; i++)
            unmap_one(batch[i]);
    }
    bench_report(name, "ns", v, rounds);
}

/* N nodes one page long, one page apart: a request of one page plus a guard page on each side
 * (three pages, as the IOAS asks) fits only above the last node. */
static void bench_iova_tree(const char *name, uint64_t n, int rounds, int iters)
{
    struct iova_tree t = { 0 };
    struct iova_node *nodes = calloc(n, sizeof(*nodes)), extra = { 0 };
    double v[BENCH_MAX_ROUNDS];
    uint64_t gs, ge;
    if (!nodes)
        die("calloc", -12);
    for (uint64_t i = 0; i < n; i++) {
        nodes[i].start = i * 2 * K4;
        nodes[i].last = nodes[i].start + K4 - 1;
        iova_insert(&t, &nodes[i]);
    }
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < iters; i++) {
            if (!iova_find_gap(&t, 3 * K4, 0, UINT64_MAX, &gs, &ge))
                die("iova_find_gap", -28);
            extra.start = gs + K4;
            extra.last = gs + 2 * K4 - 1;
            iova_insert(&t, &extra);
            iova_remove(&t, &extra);
        }
        v[r] = (double)(bench_now_ns() - t0) / iters;
    }
    if (gs != n * 2 * K4 - K4)
        die("the gap found", (int)(gs >> 12));
    bench_report(name, "ns", v, rounds);
    free(nodes);
}

int main(int argc, char **argv)
{
    static const uint64_t sizes[] = { 10, 1000, 100000, 1000000 };
    bool short_run = bench_short(argc, argv);
    int rounds = short_run ? 5 : 15, iters = short_run ? 2000 : 20000;
    unsigned nsizes = short_run ? 3 : 4;
    static struct pci_dev dev;
    uint32_t dev_id, pt;
    double first = 0, last = 0;
    char name[64];

    mock_iommu_setup();
    void *arena = aligned_alloc(2u << 20, EXTRA_ARENA);
    page = aligned_alloc(K4, K4);
    if (!arena || !page || pmm_add_region((uint64_t)(uintptr_t)arena, EXTRA_ARENA))
        die("arena", -12);
    mock_pci_dev(&dev, 0, 0, 0x10, 1);
    if (moat_iommufd_open(&ctx) || moat_ioas_alloc(ctx, 0, &ioas) ||
        moat_device_bind(ctx, &dev, &dev_id))
        die("setup", -1);
    pt = ioas;
    if (moat_device_attach(ctx, dev_id, &pt))
        die("attach", -1);
    printf("# bench_scale: native API, mock IOMMU (invalidation not timed)%s\n",
           short_run ? " (--short)" : "");
    uint64_t live = 0;
    for (unsigned s = 0; s < nsizes; s++) {
        uint64_t t0 = bench_now_ns();
        for (; live < sizes[s]; live++)
            map_one();
        printf("# %llu live mappings (filled in %.1f ms, %lld table pages)\n",
               (unsigned long long)live, (double)(bench_now_ns() - t0) / 1e6, mock_pt_pages());
        snprintf(name, sizeof(name), "api_map_unmap_4k_live_%llu", (unsigned long long)live);
        bench_steady(name, rounds, iters, s ? &last : &first);
        snprintf(name, sizeof(name), "api_map_4k_fresh_live_%llu", (unsigned long long)live);
        bench_fresh(name, rounds);
    }
    printf("bench api_scale_ratio %.2f x\n", last / first);
    printf("# api_scale_ratio: api_map_unmap_4k_live_%llu / api_map_unmap_4k_live_10\n",
           (unsigned long long)live);
    moat_iommufd_close(ctx);
    for (unsigned s = 0; s < nsizes; s++) {
        snprintf(name, sizeof(name), "iova_alloc_live_%llu", (unsigned long long)sizes[s]);
        bench_iova_tree(name, sizes[s], rounds, iters * 5);
    }
    return 0;
}
