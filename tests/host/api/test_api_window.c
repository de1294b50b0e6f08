/* IOAS windows over the strict mock: the table pages are allocated once (at alloc and at
 * attach) and never again on the data path; map stores leaves, clear defers the invalidation,
 * sync invalidates everything cleared with one flush (the mock checks that no cleared range is
 * left uninvalidated at the sync); the window is an area (fixed maps and unmaps around it see
 * it); errors change nothing; a domain leaving with slots still mapped is cleared. */
#include "tests/host/api/api_util.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED (RW | IOMMU_IOAS_MAP_FIXED_IOVA)
#define BASE 0x40000000ULL
#define WLEN (64 * 4096ULL)     /* 16 slots of 4 pages */
#define SLOT (4 * 4096ULL)

static struct moat_iommufd *open_ioas(uint32_t *ioas, uint32_t *dev, bool attach)
{
    struct moat_iommufd *ctx;
    if (moat_iommufd_open(&ctx) || moat_ioas_alloc(ctx, 0, ioas))
        return NULL;
    uint32_t pt = *ioas;
    if (moat_device_bind(ctx, &api_devs[2], dev) ||
        (attach && moat_device_attach(ctx, *dev, &pt)))
        return NULL;
    return ctx;
}

TEST(window_tables_stay)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, wid;
    struct moat_ioas_window *w;
    struct moat_iommufd *ctx = open_ioas(&ioas, &dev, true);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(8);
    long long pages0 = mock_pt_pages();
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE, WLEN, &wid, &w), 0);
    long long pages1 = mock_pt_pages();
    CHECK(pages1 > pages0);                     /* its tables, allocated now */
    CHECK_EQ(mock_mapped_bytes(), 0);           /* and nothing mapped */
    for (unsigned round = 0; round < 3; round++) {
        uint64_t maps = mock_stats.map_calls, flushes = mock_stats.flushes;
        for (unsigned s = 0; s < 16; s++)
            CHECK_EQ(moat_ioas_window_map(w, s * SLOT, buf + (s % 2) * 4096, 4096,
                                          s % 2 ? IOMMU_WRITE : IOMMU_READ), 0);
        CHECK_EQ(mock_stats.map_calls - maps, 16);
        CHECK_EQ(api_xlate(&api_devs[2], BASE + 3 * SLOT), (uint64_t)(uintptr_t)buf + 4096);
        CHECK_EQ(mock_pt_pages(), pages1);      /* no table allocated on the data path */
        for (unsigned s = 0; s < 16; s++)
            CHECK_EQ(moat_ioas_window_clear(w, s * SLOT, 4096), 0);
        CHECK_EQ(mock_stats.flushes, flushes);  /* deferred */
        CHECK(mock_pending_invalidations() > 0);
        moat_ioas_window_sync(w);
        CHECK_EQ(mock_stats.flushes - flushes, 1);      /* one invalidation for all 16 */
        CHECK_EQ(mock_pending_invalidations(), 0);
        CHECK_EQ(api_xlate(&api_devs[2], BASE + 3 * SLOT), UINT64_MAX);
        CHECK_EQ(mock_pt_pages(), pages1);      /* and none freed */
    }
    CHECK_EQ(moat_iommufd_destroy(ctx, wid), 0);
    CHECK_EQ(moat_device_unbind(ctx, dev), 0);
    moat_iommufd_close(ctx);
    CHECK_EQ(mock_violations, 0);
    API_CLEAN(&b);
}

TEST(window_errors_change_nothing)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, wid, wid2;
    struct moat_ioas_window *w, *w2;
    struct moat_iommufd *ctx = open_ioas(&ioas, &dev, true);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(8);
    uint64_t iova = BASE - 4096;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &iova), 0);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas + 100, BASE, WLEN, &wid, &w), -ENOENT);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE, 0, &wid, &w), -EINVAL);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE, 100, &wid, &w), -EINVAL);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE + 1, WLEN, &wid, &w), -EINVAL);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, UINT64_MAX - 4095, WLEN, &wid, &w), -EOVERFLOW);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE - 4096, WLEN, &wid, &w), -EEXIST);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE, WLEN, &wid, &w), 0);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE + WLEN - 4096, WLEN, &wid2, &w2), -EEXIST);
    /* the window is an area: fixed maps into it are refused, unmaps cannot cut into it */
    iova = BASE + 4096;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &iova), -EEXIST);
    uint64_t got;
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, BASE, WLEN, &got), -EBUSY);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, BASE - 4096, WLEN + 4096, &got), -EBUSY);
    CHECK_EQ(api_xlate(&api_devs[2], BASE - 4096), (uint64_t)(uintptr_t)buf);
    /* data-path arguments */
    CHECK_EQ(moat_ioas_window_map(w, 0, buf, 0, IOMMU_READ), -EINVAL);
    CHECK_EQ(moat_ioas_window_map(w, 100, buf, 4096, IOMMU_READ), -EINVAL);
    CHECK_EQ(moat_ioas_window_map(w, 0, buf + 1, 4096, IOMMU_READ), -EINVAL);
    CHECK_EQ(moat_ioas_window_map(w, 0, buf, 4096, 0), -EINVAL);
    CHECK_EQ(moat_ioas_window_map(w, 0, buf, 4096, 1u << 5), -EINVAL);
    CHECK_EQ(moat_ioas_window_map(w, WLEN - 4096, buf, 8192, IOMMU_READ), -ERANGE);
    CHECK_EQ(moat_ioas_window_map(w, UINT64_MAX - 4095, buf, 8192, IOMMU_READ), -ERANGE);
    CHECK_EQ(moat_ioas_window_clear(w, 0, 4096), -ENOENT);
    CHECK_EQ(mock_mapped_bytes(), 4096);
    CHECK_EQ(moat_ioas_window_map(w, 0, buf, 8192, IOMMU_READ), 0);
    CHECK_EQ(moat_ioas_window_map(w, 4096, buf, 4096, IOMMU_READ), -EEXIST);
    CHECK_EQ(moat_ioas_window_clear(w, 8192, 4096), -ENOENT);   /* not mapped there */
    CHECK_EQ(mock_mapped_bytes(), 3 * 4096);
    /* a mapped window cannot go while the device can reach it, nor a second HWPT come */
    CHECK_EQ(moat_iommufd_destroy(ctx, wid), -EBUSY);
    CHECK_EQ(moat_iommufd_destroy(ctx, ioas), -EBUSY);
    uint32_t hwpt;
    struct moat_hwpt_alloc ha = { .pt_id = ioas };
    ha.dev_id = dev;
    CHECK_EQ(moat_hwpt_alloc(ctx, &ha, &hwpt), -EBUSY);
    CHECK_EQ(moat_ioas_window_clear(w, 0, 8192), 0);
    CHECK_EQ(moat_iommufd_destroy(ctx, wid), -EBUSY);          /* cleared, not synced */
    moat_ioas_window_sync(w);
    CHECK_EQ(moat_iommufd_destroy(ctx, wid), 0);
    /* unmap-all, with a window, leaves it */
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE, WLEN, &wid, &w), 0);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(got, 4096);
    CHECK_EQ(moat_ioas_window_map(w, 0, buf, 4096, IOMMU_READ), 0);
    CHECK_EQ(api_xlate(&api_devs[2], BASE), (uint64_t)(uintptr_t)buf);
    CHECK_EQ(moat_ioas_window_clear(w, 0, 4096), 0);
    moat_ioas_window_sync(w);
    CHECK_EQ(moat_device_unbind(ctx, dev), 0);
    moat_iommufd_close(ctx);        /* destroys the window with the rest */
    CHECK_EQ(mock_violations, 0);
    API_CLEAN(&b);
}

/* A window made before any device is attached gets its tables at attach; a detach with slots
 * still mapped clears them (a domain is freed with nothing mapped), and a new attach starts
 * with an empty window. */
TEST(window_attach_detach)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, wid;
    struct moat_ioas_window *w;
    struct moat_iommufd *ctx = open_ioas(&ioas, &dev, false);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(4);
    CHECK_EQ(moat_ioas_window_alloc(ctx, ioas, BASE, WLEN, &wid, &w), 0);
    CHECK_EQ(moat_ioas_window_map(w, 0, buf, 4096, IOMMU_READ), 0);     /* no domain yet */
    CHECK_EQ(moat_ioas_window_clear(w, 0, 4096), 0);
    moat_ioas_window_sync(w);
    uint32_t pt = ioas;
    long long pages0 = mock_pt_pages();
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    long long pages1 = mock_pt_pages();
    CHECK(pages1 > pages0 + 1);     /* the root, and the window's tables below it */
    CHECK_EQ(moat_ioas_window_map(w, SLOT, buf, 8192, IOMMU_WRITE), 0);
    CHECK_EQ(mock_pt_pages(), pages1);
    CHECK_EQ(api_xlate(&api_devs[2], BASE + SLOT + 4096), (uint64_t)(uintptr_t)buf + 4096);
    CHECK_EQ(moat_device_detach(ctx, dev), 0);          /* the automatic HWPT goes */
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(mock_pending_invalidations(), 0);
    pt = ioas;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    CHECK_EQ(moat_ioas_window_map(w, SLOT, buf, 4096, IOMMU_READ), 0);  /* empty again */
    CHECK_EQ(api_xlate(&api_devs[2], BASE + SLOT), (uint64_t)(uintptr_t)buf);
    CHECK_EQ(moat_ioas_window_clear(w, SLOT, 4096), 0);
    moat_ioas_window_sync(w);
    CHECK_EQ(moat_device_detach(ctx, dev), 0);
    CHECK_EQ(moat_iommufd_destroy(ctx, wid), 0);        /* nothing can reach it now */
    CHECK_EQ(moat_device_unbind(ctx, dev), 0);
    moat_iommufd_close(ctx);
    CHECK_EQ(mock_violations, 0);
    API_CLEAN(&b);
}

