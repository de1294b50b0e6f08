/* moat_ioas_unmap_many and batched unmaps over the strict mock: the exact ranges the unit is
 * asked to unmap, exactly one invalidation (flush) per domain per call and none left pending,
 * the errno table with nothing changed on an error, and a batch larger than a gather's range
 * list still flushing once. */
#include "tests/host/api/api_util.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED (RW | IOMMU_IOAS_MAP_FIXED_IOVA)
#define BASE 0x40000000ULL

static struct moat_iommufd *open_attached(uint32_t *ioas, int dev_index)
{
    struct moat_iommufd *ctx;
    uint32_t dev, pt;
    if (moat_iommufd_open(&ctx) || moat_ioas_alloc(ctx, 0, ioas))
        return NULL;
    pt = *ioas;
    if (moat_device_bind(ctx, &api_devs[dev_index], &dev) ||
        moat_device_attach(ctx, dev, &pt))
        return NULL;
    return ctx;
}

/* n mappings of one page each, at BASE + 2 * i pages (a hole between neighbours). */
static void map_spaced(struct moat_iommufd *ctx, uint32_t ioas, uint8_t *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t iova = BASE + 2ULL * i * 4096;
        CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf + (size_t)i * 4096, 4096, &iova), 0);
    }
}

static bool logged(uint64_t iova, uint64_t size)
{
    for (unsigned i = 0; i < mock_stats.nr_unmap_log; i++)
        if (mock_stats.unmap_log[i].iova == iova && mock_stats.unmap_log[i].size == size)
            return true;
    return false;
}

TEST(unmap_many_exact_ranges_one_flush)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t got;
    struct moat_iommufd *ctx = open_attached(&ioas, 2);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(8);
    map_spaced(ctx, ioas, buf, 6);
    /* A three-page mapping right after the last one: a "scattered buffer" made of runs. */
    uint64_t iova = BASE + 0x20000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf + 6 * 4096, 4096, &iova), 0);
    iova = BASE + 0x21000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf + 7 * 4096, 4096, &iova), 0);

    struct iommu_iova_range r[3] = {
        { BASE + 2 * 4096, BASE + 3 * 4096 - 1 },          /* mapping 1 exactly */
        { BASE + 7 * 4096, BASE + 11 * 4096 - 1 },         /* 4 and 5, with the holes */
        { BASE + 0x1f000, BASE + 0x22fff },                /* both runs, slack around */
    };
    mock_unmap_log_reset();
    uint64_t flushes = mock_stats.flushes, syncs = mock_stats.gather_syncs;
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, 3, &got), 0);
    CHECK_EQ(got, 5 * 4096);
    CHECK_EQ(mock_stats.flushes - flushes, 1);
    CHECK_EQ(mock_stats.gather_syncs - syncs, 1);
    CHECK_EQ(mock_stats.nr_unmap_log, 5);
    CHECK(logged(BASE + 2 * 4096, 4096));
    CHECK(logged(BASE + 8 * 4096, 4096));
    CHECK(logged(BASE + 10 * 4096, 4096));
    CHECK(logged(BASE + 0x20000, 4096));
    CHECK(logged(BASE + 0x21000, 4096));
    CHECK_EQ(mock_pending_invalidations(), 0);
    CHECK_EQ(api_xlate(&api_devs[2], BASE + 2 * 4096), UINT64_MAX);
    CHECK_EQ(api_xlate(&api_devs[2], BASE + 0x21000), UINT64_MAX);
    /* What was not named stays. */
    CHECK_EQ(api_xlate(&api_devs[2], BASE), (uint64_t)(uintptr_t)buf);
    CHECK_EQ(api_xlate(&api_devs[2], BASE + 6 * 4096), (uint64_t)(uintptr_t)buf + 3 * 4096);
    CHECK_EQ(mock_mapped_bytes(), 3 * 4096);
    CHECK(!moat_iommufd_is_pinned(buf + 4096, 4096));
    CHECK(moat_iommufd_is_pinned(buf, 4096));
    CHECK_EQ(mock_violations, 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* A single moat_ioas_unmap over several mappings also invalidates once. */
TEST(unmap_over_several_mappings_flushes_once)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t got;
    struct moat_iommufd *ctx = open_attached(&ioas, 2);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(5);
    map_spaced(ctx, ioas, buf, 5);
    uint64_t flushes = mock_stats.flushes;
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, BASE, 10 * 4096, &got), 0);
    CHECK_EQ(got, 5 * 4096);
    CHECK_EQ(mock_stats.flushes - flushes, 1);
    CHECK_EQ(mock_pending_invalidations(), 0);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(mock_violations, 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* More ranges than a gather lists (PGTABLE_GATHER_RANGES): still one flush, every range
 * invalidated (the mock checks coverage), none left reachable. */
TEST(unmap_many_beyond_the_gather_flushes_once)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t got;
    enum { N = 40 };
    struct moat_iommufd *ctx = open_attached(&ioas, 2);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(N);
    map_spaced(ctx, ioas, buf, N);
    struct iommu_iova_range r[N];
    for (unsigned i = 0; i < N; i++) {     /* an order that is not sorted */
        uint64_t k = (i * 7) % N;
        r[i] = (struct iommu_iova_range){ BASE + 2 * k * 4096, BASE + (2 * k + 1) * 4096 - 1 };
    }
    uint64_t flushes = mock_stats.flushes;
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, N, &got), 0);
    CHECK_EQ(got, N * 4096);
    CHECK_EQ(mock_stats.flushes - flushes, 1);
    CHECK_EQ(mock_pending_invalidations(), 0);
    for (unsigned i = 0; i < N; i++)
        CHECK_EQ(api_xlate(&api_devs[2], BASE + 2ULL * i * 4096), UINT64_MAX);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(mock_violations, 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(unmap_many_errno_table_changes_nothing)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t got = 99;
    struct moat_iommufd *ctx = open_attached(&ioas, 2);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(4);
    map_spaced(ctx, ioas, buf, 4);
    uint64_t calls = mock_stats.unmap_calls, flushes = mock_stats.flushes;
    struct iommu_iova_range good = { BASE, BASE + 4095 };
    struct iommu_iova_range r[2];
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas + 9, &good, 1, &got), -ENOENT);
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, &good, 0, &got), -EINVAL);
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, NULL, 1, &got), -EFAULT);
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, &good, MOAT_IOAS_UNMAP_MANY_MAX + 1, &got),
             -E2BIG);
    r[0] = good;
    r[1] = (struct iommu_iova_range){ BASE + 2 * 4096, BASE + 2 * 4096 - 1 };  /* start > last */
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, 2, &got), -EINVAL);
    r[1] = (struct iommu_iova_range){ BASE + 4095, BASE + 3 * 4096 - 1 };      /* overlaps r[0] */
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, 2, &got), -EINVAL);
    r[1] = (struct iommu_iova_range){ BASE + 2 * 4096, BASE + 2 * 4096 + 4094 }; /* splits one */
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, 2, &got), -ENOENT);
    r[1] = (struct iommu_iova_range){ BASE + 4096, BASE + 2 * 4096 - 1 };      /* a hole only */
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, 2, &got), -ENOENT);
    CHECK_EQ(got, 99);
    CHECK_EQ(mock_stats.unmap_calls, calls);
    CHECK_EQ(mock_stats.flushes, flushes);
    CHECK_EQ(mock_mapped_bytes(), 4 * 4096);
    /* The last range touching the end of the address space is fine. */
    r[1] = (struct iommu_iova_range){ BASE + 6 * 4096, UINT64_MAX };
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, 2, &got), 0);
    CHECK_EQ(got, 2 * 4096);
    CHECK_EQ(mock_mapped_bytes(), 2 * 4096);
    CHECK_EQ(mock_violations, 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* Two domains on one IOAS: each gets its one flush. */
TEST(unmap_many_flushes_once_per_domain)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, d1, d2, hwpt;
    uint64_t got;
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0 && moat_ioas_alloc(ctx, 0, &ioas) == 0);
    uint32_t pt = ioas;
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &d1), 0);
    CHECK_EQ(moat_device_attach(ctx, d1, &pt), 0);
    struct moat_hwpt_alloc a = { .dev_id = d1, .pt_id = ioas };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &hwpt), 0);
    pt = hwpt;
    CHECK_EQ(moat_device_bind(ctx, &api_devs[3], &d2), 0);
    CHECK_EQ(moat_device_attach(ctx, d2, &pt), 0);
    uint8_t *buf = api_pages(3);
    map_spaced(ctx, ioas, buf, 3);
    struct iommu_iova_range r[2] = { { BASE, BASE + 4095 }, { BASE + 0x4000, BASE + 0x4fff } };
    uint64_t flushes = mock_stats.flushes;
    CHECK_EQ(moat_ioas_unmap_many(ctx, ioas, r, 2, &got), 0);
    CHECK_EQ(mock_stats.flushes - flushes, 2);
    CHECK_EQ(api_xlate(&api_devs[2], BASE), UINT64_MAX);
    CHECK_EQ(api_xlate(&api_devs[3], BASE + 0x4000), UINT64_MAX);
    CHECK_EQ(api_xlate(&api_devs[3], BASE + 0x2000), (uint64_t)(uintptr_t)buf + 4096);
    CHECK_EQ(mock_pending_invalidations(), 0);
    CHECK_EQ(mock_violations, 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}
