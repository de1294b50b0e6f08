/* Object-layer benchmarks: map + unmap through the native API and through the ioctl face,
 * kernel-chosen IOVA, one device attached. Prints `bench <name> <value> <unit>` (median over
 * rounds) and a `# <name> min .. max ..` comment line for each.
 *
 *   api_map_unmap_4k       moat_ioas_map + moat_ioas_unmap of one 4 KiB page
 *   ioctl_map_unmap_4k     IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP through moat_iommufd_ioctl
 *   api_map_unmap_<S>      one mapping of S bytes (4k .. 1g, steps of 8x) of memory aligned
 *                          to S: superpages where S allows (2 MiB and 1 GiB leaves)
 *   api_map_unmap_4kb_<S>  the same size with memory only 4 KiB aligned (4 KiB leaves only)
 *   ioctl_map_unmap_2m/1g  the superpage sizes through the ioctl face
 *   api_map_unmap_256m_4kb_per_page  256 MiB of 4 KiB-backed memory, per 4 KiB page
 *   api_fixed_map_unmap_many_<S>     a block driver's pattern (drivers/dma): FIXED_BATCH maps
 *                          of S bytes at consecutive fixed IOVAs, then one moat_ioas_unmap_many
 *                          of them all; per map. 4k: a cached size (the IOAS keeps the freed
 *                          nodes in its tree); 12k: not a cached size, every map inserts a node
 *                          and every unmap removes it
 *
 * The IOMMU is the host tests' strict mock (tests/host/mock_iommu.c): a real VT-d second-stage
 * page table, but invalidation is a counter, so hardware invalidation cost is not included
 * (the in-image vtd/amdvi benchmarks include it). Mappings larger than a page are of memory
 * that is never touched (the mock translates, nothing reads it): only the tables are real.
 * --short runs few rounds for CI; --only=NAME runs one figure (for a profiler). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "kernel/mm/heap.h"
#include "moat/iommufd.h"
#include "tests/host/mock_iommu.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FAKE_VA (1ULL << 40)    /* 1 GiB aligned, never dereferenced */

static struct moat_iommufd *ctx;
static uint32_t ioas;
static const void *buf;         /* what the current figure maps */
static uint64_t len;

static void die(const char *what)
{
    fprintf(stderr, "bench_api: %s failed\n", what);
    exit(1);
}

static void native_once(void)
{
    uint64_t iova = 0, got;
    if (moat_ioas_map(ctx, ioas, RW, buf, len, &iova) ||
        moat_ioas_unmap(ctx, ioas, iova, len, &got))
        die("native map/unmap");
}

static void ioctl_once(void)
{
    struct iommu_ioas_map m = { .size = sizeof(m), .flags = RW, .ioas_id = ioas,
                                .user_va = (uintptr_t)buf, .length = len };
    if (moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m))
        die("IOMMU_IOAS_MAP");
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = m.iova,
                                  .length = len };
    if (moat_iommufd_ioctl(ctx, IOMMU_IOAS_UNMAP, &u))
        die("IOMMU_IOAS_UNMAP");
}

#define FIXED_BATCH 32
#define FIXED_IOVA (1ULL << 32)

static void fixed_batch_once(void)
{
    struct iommu_iova_range r[FIXED_BATCH];
    uint64_t got;
    for (unsigned i = 0; i < FIXED_BATCH; i++) {
        uint64_t iova = FIXED_IOVA + i * len;
        if (moat_ioas_map(ctx, ioas, RW | IOMMU_IOAS_MAP_FIXED_IOVA,
                          (const char *)buf + i * len, len, &iova))
            die("fixed map");
        r[i] = (struct iommu_iova_range){ iova, iova + len - 1 };
    }
    if (moat_ioas_unmap_many(ctx, ioas, r, FIXED_BATCH, &got) || got != FIXED_BATCH * len)
        die("unmap_many");
}

/* Rounds of `iters` calls (after a warm-up of iters / 4); per call, divided by `per`. */
static void run(const char *name, const char *unit, void (*fn)(void), int rounds, int iters,
                double per)
{
    double v[BENCH_MAX_ROUNDS];
    if (!bench_wanted(name))
        return;
    for (int i = 0; i < iters / 4 + 1; i++)
        fn();
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < iters; i++)
            fn();
        v[r] = (double)(bench_now_ns() - t0) / iters / per;
    }
    bench_report(name, unit, v, rounds);
}

/* Fewer calls for larger mappings: about the same number of table entries written per round. */
static int iters_for(uint64_t size, bool huge, int base)
{
    uint64_t entries = huge ? 1 : size / 4096;
    int n = (int)(base / (entries < 64 ? 1 : entries / 64));
    return n < 3 ? 3 : n;
}

static void size_sweep(int rounds, int base)
{
    static const char *names[] = { "4k", "32k", "256k", "2m", "16m", "128m", "1g" };
    char name[64];
    for (unsigned i = 0; i < 7; i++) {
        uint64_t size = 4096ULL << (3 * i);
        bool huge = size >= (2ULL << 20);
        buf = (const void *)(uintptr_t)FAKE_VA;
        len = size;
        snprintf(name, sizeof(name), "api_map_unmap_%s", names[i]);
        if (i)  /* 4k: api_map_unmap_4k above */
            run(name, "ns", native_once, rounds, iters_for(size, huge, base), 1);
        buf = (const void *)(uintptr_t)(FAKE_VA + 4096);
        snprintf(name, sizeof(name), "api_map_unmap_4kb_%s", names[i]);
        run(name, "ns", native_once, rounds, iters_for(size, false, base), 1);
    }
}

int main(int argc, char **argv)
{
    bool short_run = bench_short(argc, argv);
    bench_parse_only(argc, argv);
    int rounds = short_run ? 5 : 31, iters = short_run ? 2000 : 20000;
    static struct pci_dev dev;
    uint32_t dev_id, pt;
    void *page = aligned_alloc(4096, 4096);
    mock_iommu_setup();
    mock_pci_dev(&dev, 0, 0, 0x10, 1);
    if (!page || moat_iommufd_open(&ctx) || moat_ioas_alloc(ctx, 0, &ioas) ||
        moat_device_bind(ctx, &dev, &dev_id))
        die("setup");
    pt = ioas;
    if (moat_device_attach(ctx, dev_id, &pt))
        die("attach");
    printf("# mock IOMMU: a real VT-d second-stage table, invalidation not timed\n");
    buf = page;
    len = 4096;
    run("api_map_unmap_4k", "ns", native_once, rounds, iters, 1);
    run("ioctl_map_unmap_4k", "ns", ioctl_once, rounds, iters, 1);
    buf = (const void *)(uintptr_t)FAKE_VA;
    len = 2ULL << 20;
    run("ioctl_map_unmap_2m", "ns", ioctl_once, rounds, iters, 1);
    len = 1ULL << 30;
    run("ioctl_map_unmap_1g", "ns", ioctl_once, rounds, iters, 1);
    buf = (const void *)(uintptr_t)(FAKE_VA + 4096);
    len = 256ULL << 20;
    run("api_map_unmap_256m_4kb_per_page", "ns/page", native_once, rounds, short_run ? 2 : 5,
        (double)(len / 4096));
    buf = (const void *)(uintptr_t)FAKE_VA;
    len = 4096;
    run("api_fixed_map_unmap_many_4k", "ns", fixed_batch_once, rounds, iters / FIXED_BATCH,
        FIXED_BATCH);
    len = 3 * 4096;
    run("api_fixed_map_unmap_many_12k", "ns", fixed_batch_once, rounds, iters / FIXED_BATCH,
        FIXED_BATCH);
    size_sweep(rounds, iters);
    moat_iommufd_close(ctx);
    free(page);
    return 0;
}
