/* A simulated hardware walker on another thread translates continuously while this thread
 * splits, unmaps and remaps. Pages that stay mapped must translate correctly at every instant
 * (a split must never show a hole or a half-built table), and a table page must not be freed
 * while a walk that could reach it is still running: the flush callback, like an IOTLB
 * invalidation with a wait, returns only once the walker has started a new walk. Freed pages
 * are poisoned, so a walker reading one would see garbage and report it. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "iommu/pgtable/pgtable.h"
#include "tests/host/harness.h"
#include "tests/host/pgtable/pt_test_util.h"

#define K4 PGTABLE_SZ_4K
#define M2 PGTABLE_SZ_2M
#define G1 PGTABLE_SZ_1G
#define RW (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)
#define REGION G1           /* iova of the 1 GiB region the main thread reshapes */
#define REGION_PA (8 * G1)

static struct tmem tm;
static struct pgtable pt;
static uint64_t flush_epoch, walker_epoch; /* atomics */
static uint64_t stable_seq;                /* even: the region outside `hole` is mapped */
static uint64_t hole = ~0ULL;              /* the one page the main thread toggles */
static bool stop;
static uint64_t walks, bad_walks;

static void *p2v(void *ctx, uint64_t pa)
{
    return tmem_p2v_any(ctx, pa);
}

static void *walker(void *arg)
{
    uint64_t x = 0x12345;

    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&walker_epoch, __atomic_load_n(&flush_epoch, __ATOMIC_ACQUIRE),
                         __ATOMIC_RELEASE);
        uint64_t seq = __atomic_load_n(&stable_seq, __ATOMIC_ACQUIRE);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t off = ((x >> 20) % (G1 / K4)) * K4;
        struct pgtable_xlate xl;
        int ret = pgtable_translate(&pt, REGION + off, &xl);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((seq & 1) || seq != __atomic_load_n(&stable_seq, __ATOMIC_ACQUIRE) ||
            REGION + off == __atomic_load_n(&hole, __ATOMIC_ACQUIRE))
            continue; /* the region was being rebuilt: no promise */
        walks++;
        if (ret || xl.pa != REGION_PA + off)
            bad_walks++;
    }
    return NULL;
}

/* Invalidate and wait: returns once the walker has begun a walk after this point. */
static void flush(void *ctx, const struct pgtable_gather *g)
{
    uint64_t e = __atomic_add_fetch(&flush_epoch, 1, __ATOMIC_ACQ_REL);
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (__atomic_load_n(&walker_epoch, __ATOMIC_ACQUIRE) < e) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 5) {
            fprintf(stderr, "walker did not drain\n");
            return;
        }
    }
}

static const struct pgtable_flush_ops flush_ops = { .flush = flush };

TEST(walker_sees_no_gap)
{
    struct pgtable_mem_ops m = tmem_ops;
    struct pgtable_cfg cfg = { .fmt = PGTABLE_FMT_VTD_SS };
    pthread_t th;

    m.phys_to_virt = p2v; /* the walker thread must not read the allocator's bookkeeping */
    tmem_init(&tm, 2048);
    REQUIRE(pgtable_init(&pt, &cfg, &m, &tm, &flush_ops, NULL) == 0);
    REQUIRE(pgtable_map(&pt, REGION, REGION_PA, G1, RW) == 0);
    REQUIRE(pthread_create(&th, NULL, walker, NULL) == 0);

    for (int cycle = 0; cycle < 1500; cycle++) {
        uint64_t p = REGION + ((uint64_t)(cycle * 7919) % (G1 / K4)) * K4;
        __atomic_store_n(&hole, p, __ATOMIC_RELEASE);
        /* 1 GiB leaf -> 2 MiB leaves -> 4 KiB leaves around p, with p unmapped */
        CHECK_EQ(pgtable_unmap(&pt, p, K4, PGTABLE_UNMAP_SPLIT), 0);
        CHECK_EQ(pgtable_map(&pt, p, REGION_PA + (p - REGION), K4, RW), 0);
        /* Back to one leaf: the region is briefly unmapped, so the walker is told. */
        __atomic_add_fetch(&stable_seq, 1, __ATOMIC_ACQ_REL);
        CHECK_EQ(pgtable_unmap(&pt, REGION, G1, 0), 0);
        CHECK_EQ(pgtable_map(&pt, REGION, REGION_PA, G1, RW), 0);
        __atomic_add_fetch(&stable_seq, 1, __ATOMIC_ACQ_REL);
    }
    __atomic_store_n(&stop, true, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    printf("    %llu checked walks, %llu wrong\n", (unsigned long long)walks,
           (unsigned long long)bad_walks);
    CHECK(walks > 1000);
    CHECK_EQ(bad_walks, 0);
    pgtable_destroy(&pt);
    CHECK_EQ(tm.live, 0);
    tmem_fini(&tm);
}
