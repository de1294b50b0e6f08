/* The IOMMUFD ioctl face against Linux 6.12's drivers/iommu/iommufd (main.c, ioas.c,
 * io_pagetable.c, hw_pagetable.c, device.c) and drivers/iommu/iommu.c: each test names the Linux
 * function whose answer it checks. */
#include "tests/host/api/api_util.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define UP(p) ((__u64)(uintptr_t)(p))

static long destroy(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommu_destroy d = { .size = sizeof(d), .id = id };
    return moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d);
}

/* iommufd_device_bind -> iommu_device_claim_dma_owner: a group whose DMA another context owns
 * refuses with EPERM (the owner differs), whatever the member. */
TEST(linux_bind_sibling_in_another_context)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *c1, *c2;
    uint32_t a, x;
    REQUIRE(moat_iommufd_open(&c1) == 0 && moat_iommufd_open(&c2) == 0);
    CHECK_EQ(moat_device_bind(c1, &api_devs[0], &a), 0);
    CHECK_EQ(moat_device_bind(c2, &api_devs[1], &x), -EPERM);
    CHECK_EQ(moat_device_bind(c2, &api_devs[0], &x), -EPERM);
    CHECK_EQ(moat_device_unbind(c1, a), 0);
    CHECK_EQ(moat_device_bind(c2, &api_devs[1], &x), 0);
    moat_iommufd_close(c1);
    moat_iommufd_close(c2);
    API_CLEAN(&b);
}

/* iommufd_destroy -> iommufd_object_remove: an object something else holds is EBUSY (an IOAS
 * with an HWPT or a device on it, an HWPT with a device attached), an unknown id ENOENT; once
 * released each goes. */
TEST(linux_destroy_in_use)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    uint32_t ioas = api_ioas_alloc(ctx), dev, pt;
    REQUIRE(moat_device_bind(ctx, &api_devs[2], &dev) == 0);
    pt = ioas;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    CHECK_EQ(destroy(ctx, ioas), -EBUSY);
    CHECK_EQ(destroy(ctx, pt), -EBUSY);          /* the automatic HWPT, attached */
    struct iommu_hwpt_alloc h = { .size = sizeof(h), .dev_id = dev, .pt_id = ioas };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &h), 0);
    CHECK_EQ(moat_device_detach(ctx, dev), 0);
    CHECK_EQ(destroy(ctx, ioas), -EBUSY);        /* the HWPT made above holds it */
    CHECK_EQ(destroy(ctx, h.out_hwpt_id), 0);
    CHECK_EQ(destroy(ctx, h.out_hwpt_id), -ENOENT);
    CHECK_EQ(destroy(ctx, ioas), 0);
    CHECK_EQ(destroy(ctx, 0), -ENOENT);
    CHECK_EQ(moat_device_unbind(ctx, dev), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* iommufd_ioas_iova_ranges: the alignment is the page size (iopt->iova_alignment); too small an
 * array gets the count needed in num_iovas and EMSGSIZE. */
TEST(linux_iova_ranges_alignment_and_count)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    uint32_t ioas = api_ioas_alloc(ctx), dev, pt;
    REQUIRE(moat_device_bind(ctx, &api_devs[2], &dev) == 0);
    pt = ioas;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    struct iommu_iova_range r[8];
    struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = ioas, .num_iovas = 0,
                                        .allowed_iovas = UP(r) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &q), -EMSGSIZE);
    CHECK_EQ(q.out_iova_alignment, 4096);
    uint32_t n = q.num_iovas;
    CHECK(n >= 2);      /* the MSI window splits the aperture */
    q.num_iovas = 8;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &q), 0);
    CHECK_EQ(q.num_iovas, n);
    CHECK_EQ(r[0].start, 0);
    CHECK_EQ(r[0].last, MOCK_MSI_START - 1);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

static uint64_t map_auto(struct moat_iommufd *ctx, uint32_t ioas, void *p, uint64_t len)
{
    struct iommu_ioas_map m = { .size = sizeof(m), .flags = RW, .ioas_id = ioas,
                                .user_va = UP(p), .length = len };
    long r = moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m);
    if (r)
        return (uint64_t)r;
    return m.iova;
}

/* iopt_alloc_iova: first fit from PAGE_SIZE up, at an alignment of the length rounded up to a
 * power of two, no more than the user address's own alignment, and at most 2 MiB (HPAGE_SIZE);
 * holes left by unmaps are reused. */
TEST(linux_auto_iova_first_fit)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    uint32_t ioas = api_ioas_alloc(ctx);
    uint8_t *buf = api_pages(1024);     /* 4 MiB, 2 MiB aligned */
    CHECK_EQ(map_auto(ctx, ioas, buf, 4096), 0x1000);
    CHECK_EQ(map_auto(ctx, ioas, buf, 4096), 0x2000);
    CHECK_EQ(map_auto(ctx, ioas, buf, 8192), 0x4000);                    /* 8 KiB aligned */
    CHECK_EQ(map_auto(ctx, ioas, buf + 4096, 8192), 0x6000);             /* uptr: 4 KiB */
    CHECK_EQ(map_auto(ctx, ioas, buf, 3 * 4096), 0x8000);                /* 16 KiB aligned */
    CHECK_EQ(map_auto(ctx, ioas, buf, 2u << 20), 0x200000);
    CHECK_EQ(map_auto(ctx, ioas, buf, 4u << 20), 0x400000);              /* 2 MiB at most */
    CHECK_EQ(map_auto(ctx, ioas, buf, 4096), 0x3000);
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = 0x2000,
                                  .length = 4096 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_UNMAP, &u), 0);
    CHECK_EQ(map_auto(ctx, ioas, buf, 4096), 0x2000);
    CHECK_EQ(map_auto(ctx, ioas, buf, 4096), 0xb000);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* iommu_read_and_clear_dirty: after tracking stops VT-d's read_and_clear_dirty refuses a bitmap
 * (EINVAL); a range not wholly covered by mappings is EINVAL (iopt_area_contig_done). */
TEST(linux_dirty_bitmap_after_stop_and_holes)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    uint32_t ioas = api_ioas_alloc(ctx), dev, hwpt;
    uint64_t iova = 0x200000, bm[2] = { 0 };
    REQUIRE(moat_device_bind(ctx, &api_devs[2], &dev) == 0);
    struct moat_hwpt_alloc a = { .dev_id = dev, .pt_id = ioas,
                                 .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &hwpt), 0);
    uint32_t pt = hwpt;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    uint8_t *buf = api_pages(16);
    CHECK_EQ(moat_ioas_map(ctx, ioas, IOMMU_IOAS_MAP_FIXED_IOVA | RW, buf, 8 * 4096, &iova), 0);
    struct iommu_hwpt_set_dirty_tracking t = { .size = sizeof(t), .hwpt_id = hwpt,
                                               .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_SET_DIRTY_TRACKING, &t), 0);
    struct iommu_hwpt_get_dirty_bitmap g = { .size = sizeof(g), .hwpt_id = hwpt, .iova = iova,
                                             .length = 8 * 4096, .page_size = 4096,
                                             .data = UP(bm) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_GET_DIRTY_BITMAP, &g), 0);
    g.length = 16 * 4096;       /* half of it is not mapped */
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_GET_DIRTY_BITMAP, &g), -EINVAL);
    g.length = 8 * 4096;
    t.flags = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_SET_DIRTY_TRACKING, &t), 0);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_SET_DIRTY_TRACKING, &t), 0);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_GET_DIRTY_BITMAP, &g), -EINVAL);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}
