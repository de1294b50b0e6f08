/* The physical page allocator and the heap, on a host arena standing in for RAM. */
#include <stdlib.h>

#include "kernel/mm/buddy.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "tests/host/harness.h"

#define ARENA_MB 16

static void *arena;

static uint64_t arena_setup(uint64_t offset, uint64_t size)
{
    if (!arena)
        arena = aligned_alloc(2u << 20, ARENA_MB << 20);
    pmm_reset();
    heap_reset();
    uint64_t base = (uint64_t)(uintptr_t)arena + offset;
    CHECK_EQ(pmm_add_region(base, size), 0);
    return base;
}

static uint8_t zone_meta[1 << 20];

TEST(buddy_alignment_every_order)
{
    struct buddy_zone z;
    memset(zone_meta, 0, sizeof(zone_meta));
    /* The zone's pages are never touched (bookkeeping is out of band), so any address works.
     * A zone starting at an odd page: blocks must still be naturally aligned physically. */
    uint64_t zbase = 0x40001000ULL;
    REQUIRE(buddy_init(&z, zbase, 3000, zone_meta) == 0);
    CHECK_EQ(z.free_pages, 3000);
    for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
        uint64_t pa;
        int err = buddy_alloc(&z, o, &pa);
        if (o == BUDDY_MAX_ORDER) {
            /* pfns 0x40001..0x40bb8 hold four aligned 512-page runs (0x40200 .. 0x40800) */
            CHECK_EQ(err, 0);
        }
        if (err == 0) {
            CHECK_EQ(pa & ((PAGE_SIZE << o) - 1), 0);
            CHECK(pa >= zbase && pa + (PAGE_SIZE << o) <= zbase + 3000 * PAGE_SIZE);
            buddy_free(&z, pa, o);
        }
    }
    CHECK_EQ(z.free_pages, 3000);
}

TEST(buddy_exhaustion_and_merge)
{
    struct buddy_zone z;
    memset(zone_meta, 0, sizeof(zone_meta));
    REQUIRE(buddy_init(&z, 0x10000000ULL, 1024, zone_meta) == 0);
    static uint64_t pages[1024];
    for (int i = 0; i < 1024; i++)
        REQUIRE(buddy_alloc(&z, 0, &pages[i]) == 0);
    uint64_t pa;
    CHECK_EQ(buddy_alloc(&z, 0, &pa), -ENOMEM);
    CHECK_EQ(z.free_pages, 0);
    /* All distinct. */
    for (int i = 1; i < 1024; i++)
        CHECK(pages[i] != pages[i - 1]);
    for (int i = 1023; i >= 0; i--)
        buddy_free(&z, pages[i], 0);
    /* Freed pages merge back: two 2 MiB blocks must be available again. */
    uint64_t a, b;
    CHECK_EQ(buddy_alloc(&z, BUDDY_MAX_ORDER, &a), 0);
    CHECK_EQ(buddy_alloc(&z, BUDDY_MAX_ORDER, &b), 0);
    CHECK_EQ(buddy_alloc(&z, 0, &pa), -ENOMEM);
    CHECK_EQ(buddy_alloc(&z, BUDDY_MAX_ORDER + 1, &pa), -EINVAL);
}

TEST(buddy_detects_double_free_and_bad_frees)
{
    struct buddy_zone z;
    memset(zone_meta, 0, sizeof(zone_meta));
    REQUIRE(buddy_init(&z, 0x10000000ULL, 64, zone_meta) == 0);
    uint64_t pa;
    REQUIRE(buddy_alloc(&z, 2, &pa) == 0);
    CHECK_PANICS(buddy_free(&z, pa, 1));                    /* wrong order */
    CHECK_PANICS(buddy_free(&z, pa + PAGE_SIZE, 0));        /* inside a block */
    CHECK_PANICS(buddy_free(&z, 0x20000000ULL, 0));         /* not in the zone */
    CHECK_PANICS(buddy_free(&z, pa + 1, 0));                /* misaligned */
    buddy_free(&z, pa, 2);
    CHECK_PANICS(buddy_free(&z, pa, 2));                    /* double free */
    CHECK(strstr(host_last_panic, "double free") != NULL);
    CHECK_EQ(z.free_pages, 64);
}

/* Part of an allocated block goes while the rest stays (a partial munmap): a block splits
 * into halves freed on their own, and once every piece is back the zone merges whole again. */
TEST(buddy_split_frees_pieces)
{
    struct buddy_zone z;
    memset(zone_meta, 0, sizeof(zone_meta));
    REQUIRE(buddy_init(&z, 0x10000000ULL, 512, zone_meta) == 0);
    uint64_t pa, other;
    REQUIRE(buddy_alloc(&z, BUDDY_MAX_ORDER, &pa) == 0);
    CHECK_EQ(z.free_pages, 0);
    CHECK_PANICS(buddy_split(&z, pa, BUDDY_MAX_ORDER - 1));     /* wrong order */
    CHECK_PANICS(buddy_split(&z, pa + PAGE_SIZE, 0));           /* order 0 has no halves */
    buddy_split(&z, pa, BUDDY_MAX_ORDER);                       /* two 1 MiB blocks */
    buddy_split(&z, pa, BUDDY_MAX_ORDER - 1);                   /* the lower one in halves */
    CHECK_PANICS(buddy_free(&z, pa, BUDDY_MAX_ORDER));          /* no longer one block */
    buddy_free(&z, pa + (PAGE_SIZE << (BUDDY_MAX_ORDER - 2)), BUDDY_MAX_ORDER - 2);
    CHECK_EQ(z.free_pages, 1u << (BUDDY_MAX_ORDER - 2));
    /* the freed quarter is handed out again; the rest is still held */
    CHECK_EQ(buddy_alloc(&z, BUDDY_MAX_ORDER - 2, &other), 0);
    CHECK_EQ(other, pa + (PAGE_SIZE << (BUDDY_MAX_ORDER - 2)));
    CHECK_EQ(buddy_alloc(&z, 0, &other), -ENOMEM);
    buddy_free(&z, other, BUDDY_MAX_ORDER - 2);
    buddy_free(&z, pa, BUDDY_MAX_ORDER - 2);
    buddy_free(&z, pa + (PAGE_SIZE << (BUDDY_MAX_ORDER - 1)), BUDDY_MAX_ORDER - 1);
    CHECK_EQ(z.free_pages, 512);
    CHECK_EQ(buddy_alloc(&z, BUDDY_MAX_ORDER, &other), 0);      /* merged whole */
    CHECK_EQ(other, pa);
}

TEST(buddy_random_against_model)
{
    struct buddy_zone z;
    memset(zone_meta, 0, sizeof(zone_meta));
    enum { N = 4096 };
    REQUIRE(buddy_init(&z, 0x80000000ULL, N, zone_meta) == 0);
    static uint8_t owner[N];    /* 0 free, else 1 + order of the block owning the page */
    memset(owner, 0, sizeof(owner));
    struct { uint64_t pa; unsigned order; } live[512];
    int nlive = 0;
    srand(42);
    for (int step = 0; step < 200000; step++) {
        if (nlive < 512 && (rand() & 1)) {
            unsigned o = (unsigned)(rand() % (BUDDY_MAX_ORDER + 1));
            uint64_t pa;
            if (buddy_alloc(&z, o, &pa) != 0)
                continue;
            uint64_t first = (pa - 0x80000000ULL) >> PAGE_SHIFT;
            for (uint64_t i = first; i < first + (1u << o); i++) {
                if (owner[i]) {
                    CHECK(!"page handed out twice");
                    return;
                }
                owner[i] = (uint8_t)(1 + o);
            }
            live[nlive].pa = pa;
            live[nlive++].order = o;
        } else if (nlive) {
            int k = rand() % nlive;
            uint64_t first = (live[k].pa - 0x80000000ULL) >> PAGE_SHIFT;
            for (uint64_t i = first; i < first + (1u << live[k].order); i++)
                owner[i] = 0;
            buddy_free(&z, live[k].pa, live[k].order);
            live[k] = live[--nlive];
        }
    }
    uint64_t used = 0;
    for (int i = 0; i < N; i++)
        used += owner[i] != 0;
    CHECK_EQ(z.free_pages, N - used);
    while (nlive--)
        buddy_free(&z, live[nlive].pa, live[nlive].order);
    CHECK_EQ(z.free_pages, N);
}

TEST(pmm_regions_and_metadata_carving)
{
    uint64_t base = arena_setup(0x3000, 8u << 20);
    uint64_t total = pmm_total_bytes();
    CHECK(total > (7u << 20) && total < (8u << 20));    /* bookkeeping is carved from the region */
    CHECK_EQ(pmm_free_bytes(), total);
    uint64_t pa;
    REQUIRE(pmm_alloc(BUDDY_MAX_ORDER, &pa) == 0);
    CHECK(pa >= base && pa < base + (8u << 20));
    CHECK_EQ(pa & ((2u << 20) - 1), 0);
    pmm_free(pa, BUDDY_MAX_ORDER);
    CHECK_EQ(pmm_add_region(base, 100), -ENOSPC);
    CHECK_PANICS(pmm_free(0x1000, 0));
}

TEST(pmm_out_of_memory_is_an_error)
{
    arena_setup(0, 1u << 20);
    uint64_t pa;
    int n = 0;
    while (pmm_alloc(0, &pa) == 0)
        n++;
    CHECK(n > 200 && n < 256);
    CHECK_EQ(pmm_alloc(0, &pa), -ENOMEM);
    CHECK(pmm_alloc_zeroed(0, &pa) == NULL);
}

TEST(heap_sizes_alignment_and_reuse)
{
    arena_setup(0, 8u << 20);
    size_t live0 = heap_live_bytes();
    void *p[64];
    for (int i = 0; i < 64; i++) {
        size_t sz = (size_t)1 << (i % 20);
        p[i] = kmalloc(sz);
        REQUIRE(p[i] != NULL);
        CHECK_EQ((uintptr_t)p[i] & 15, 0);
        CHECK_EQ(kmalloc_usable_size(p[i]), sz);
        memset(p[i], 0x5a, sz);
    }
    for (int i = 0; i < 64; i++)
        kfree(p[i]);
    CHECK_EQ(heap_live_bytes(), live0);
    CHECK(kmalloc(HEAP_MAX_ALLOC + 1) == NULL);
    CHECK(kcalloc(SIZE_MAX / 2, 4) == NULL);
    int *z = kcalloc(100, sizeof(int));
    REQUIRE(z != NULL);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(z[i], 0);
    kfree(z);
    kfree(NULL);
}

TEST(heap_detects_double_free_and_foreign_pointers)
{
    arena_setup(0, 4u << 20);
    char *p = kmalloc(100);
    REQUIRE(p != NULL);
    kfree(p);
    CHECK_PANICS(kfree(p));
    CHECK(strstr(host_last_panic, "double free") != NULL);
    static uint64_t not_heap[8];
    CHECK_PANICS(kfree(&not_heap[4]));
    CHECK(strstr(host_last_panic, "not allocated by kmalloc") != NULL);
    char *big = kmalloc(100000);
    REQUIRE(big != NULL);
    kfree(big);
}

TEST(heap_exhaustion_returns_null)
{
    arena_setup(0, 1u << 20);
    int n = 0;
    void *p;
    while ((p = kmalloc(1000)) != NULL)
        n++;
    CHECK(n > 100);
    CHECK(kmalloc(3000) == NULL);
}
