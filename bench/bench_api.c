/* Object-layer benchmarks: map + unmap of one 4 KiB page through the native API and through
 * the ioctl face, kernel-chosen IOVA, one device attached. Prints `bench <name> <value> ns`
 * (median over rounds) and a `# <name> min .. max ..` comment line for each.
 *
 *   api_map_unmap_4k     moat_ioas_map + moat_ioas_unmap
 *   ioctl_map_unmap_4k   IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP through moat_iommufd_ioctl
 *
 * The IOMMU is the host tests' strict mock (tests/host/mock_iommu.c): a real VT-d second-stage
 * page table, but invalidation is a counter, so hardware invalidation cost is not included.
 * --short runs few rounds for CI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/mm/heap.h"
#include "moat/iommufd.h"
#include "tests/host/mock_iommu.h"

#define ROUNDS_MAX 31
#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

static struct moat_iommufd *ctx;
static uint32_t ioas;
static void *page;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_api: %s failed\n", what);
    exit(1);
}

static void native_once(void)
{
    uint64_t iova = 0, got;
    if (moat_ioas_map(ctx, ioas, RW, page, 4096, &iova) ||
        moat_ioas_unmap(ctx, ioas, iova, 4096, &got))
        die("native map/unmap");
}

static void ioctl_once(void)
{
    struct iommu_ioas_map m = { .size = sizeof(m), .flags = RW, .ioas_id = ioas,
                                .user_va = (uintptr_t)page, .length = 4096 };
    if (moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m))
        die("IOMMU_IOAS_MAP");
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = m.iova,
                                  .length = 4096 };
    if (moat_iommufd_ioctl(ctx, IOMMU_IOAS_UNMAP, &u))
        die("IOMMU_IOAS_UNMAP");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void run(const char *name, void (*fn)(void), int rounds, int iters)
{
    uint64_t t[ROUNDS_MAX];
    for (int i = 0; i < 1000; i++)
        fn();
    for (int r = 0; r < rounds; r++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < iters; i++)
            fn();
        t[r] = (now_ns() - t0) / (uint64_t)iters;
    }
    qsort(t, (size_t)rounds, sizeof(t[0]), cmp_u64);
    printf("bench %s %llu ns\n", name, (unsigned long long)t[rounds / 2]);
    printf("# %s min %llu max %llu ns (mock IOMMU, %d rounds x %d)\n", name,
           (unsigned long long)t[0], (unsigned long long)t[rounds - 1], rounds, iters);
}

int main(int argc, char **argv)
{
    bool short_run = argc > 1 && !strcmp(argv[1], "--short");
    int rounds = short_run ? 5 : ROUNDS_MAX, iters = short_run ? 2000 : 20000;
    static struct pci_dev dev;
    uint32_t dev_id, pt;
    mock_iommu_setup();
    mock_pci_dev(&dev, 0, 0, 0x10, 1);
    page = aligned_alloc(4096, 4096);
    if (moat_iommufd_open(&ctx) || moat_ioas_alloc(ctx, 0, &ioas) ||
        moat_device_bind(ctx, &dev, &dev_id))
        die("setup");
    pt = ioas;
    if (moat_device_attach(ctx, dev_id, &pt))
        die("attach");
    printf("# mock IOMMU: a real VT-d second-stage table, invalidation not timed\n");
    run("api_map_unmap_4k", native_once, rounds, iters);
    run("ioctl_map_unmap_4k", ioctl_once, rounds, iters);
    moat_iommufd_close(ctx);
    free(page);
    return 0;
}
