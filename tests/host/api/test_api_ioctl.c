/* The ioctl face: Linux's IOMMU_* numbers and structures through moat_iommufd_ioctl, the size
 * extensibility rule, and the errnos and copy-back behaviour Linux has. */
#include "tests/host/api/api_util.h"
#include "kernel/fd.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define UP(p) ((__u64)(uintptr_t)(p))

TEST(ioctl_size_rules)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    struct {
        struct iommu_ioas_alloc a;
        uint8_t tail[40];
    } big;
    memset(&big, 0, sizeof(big));
    big.a.size = sizeof(big);               /* longer, zero tail: accepted */
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &big), 0);
    CHECK_EQ(big.a.out_ioas_id, 1);
    CHECK_EQ(big.tail[0], 0);               /* only the known bytes are written back */
    big.tail[39] = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &big), -E2BIG);
    struct iommu_ioas_alloc a = { .size = 8 };  /* below offsetofend(out_ioas_id) */
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &a), -EINVAL);
    a.size = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &a), -EINVAL);
    a.size = sizeof(a);
    a.flags = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &a), -EOPNOTSUPP);
    /* Unknown and mismatched commands. */
    CHECK_EQ(moat_iommufd_ioctl(ctx, _IO(IOMMUFD_TYPE, 0x7f), &a), -ENOTTY);
    CHECK_EQ(moat_iommufd_ioctl(ctx, _IO(IOMMUFD_TYPE, 0xa0), &a), -ENOTTY);
    CHECK_EQ(moat_iommufd_ioctl(ctx, _IO('x', IOMMUFD_CMD_IOAS_ALLOC), &a), -ENOTTY);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, NULL), -EFAULT);
    /* A short but valid GET_HW_INFO (no out_capabilities) and HWPT_ALLOC (no data). */
    struct iommu_destroy d = { .size = sizeof(d), .id = 1 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), 0);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), -ENOENT);
    d.size = 4;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), -EINVAL);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(ioctl_map_unmap_copy_ranges)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    uint32_t ioas = api_ioas_alloc(ctx), ioas2 = api_ioas_alloc(ctx), dev, pt = ioas;
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    uint8_t *buf = api_pages(4);
    struct iommu_ioas_map m = { .size = sizeof(m), .flags = RW, .ioas_id = ioas,
                                .user_va = UP(buf), .length = 8192 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m), 0);
    CHECK(m.iova != 0);
    CHECK_EQ(api_xlate(&api_devs[2], m.iova + 4096), UP(buf) + 4096);
    m.__reserved = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m), -EOPNOTSUPP);
    m.__reserved = 0;
    m.flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m), -EEXIST);
    m.length = UINT64_MAX;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m), -EOVERFLOW);
    struct iommu_ioas_copy c = { .size = sizeof(c), .flags = RW, .dst_ioas_id = ioas2,
                                 .src_ioas_id = ioas, .length = 4096, .src_iova = m.iova };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_COPY, &c), 0);
    CHECK(c.dst_iova != 0);
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = m.iova,
                                  .length = 4096 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_UNMAP, &u), -ENOENT);   /* would split */
    CHECK_EQ(u.length, 4096);                                            /* not written */
    u.length = 8192;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_UNMAP, &u), 0);
    CHECK_EQ(u.length, 8192);
    u = (struct iommu_ioas_unmap){ .size = sizeof(u), .ioas_id = ioas2, .length = UINT64_MAX };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_UNMAP, &u), 0);
    CHECK_EQ(u.length, 4096);
    /* IOVA ranges: -EMSGSIZE still reports the count; the array gets what fits. */
    struct iommu_iova_range r[4];
    memset(r, 0xff, sizeof(r));
    struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = ioas, .num_iovas = 1,
                                        .allowed_iovas = UP(r) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &q), -EMSGSIZE);
    CHECK_EQ(q.num_iovas, 2);
    CHECK_EQ(q.out_iova_alignment, 4096);
    CHECK_EQ(r[0].start, 0);
    CHECK_EQ(r[1].start, UINT64_MAX);       /* untouched */
    q.num_iovas = 4;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &q), 0);
    CHECK_EQ(q.num_iovas, 2);
    CHECK_EQ(r[1].start, MOCK_MSI_LAST + 1);
    q.__reserved = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &q), -EOPNOTSUPP);
    q.__reserved = 0;
    q.allowed_iovas = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &q), -EFAULT);
    /* Allowed IOVAs. */
    struct iommu_iova_range al[1] = { { 0x100000, 0x1fffff } };
    struct iommu_ioas_allow_iovas aw = { .size = sizeof(aw), .ioas_id = ioas, .num_iovas = 1,
                                         .allowed_iovas = UP(al) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOW_IOVAS, &aw), 0);
    aw.allowed_iovas = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOW_IOVAS, &aw), -EFAULT);
    aw.ioas_id = 99;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOW_IOVAS, &aw), -ENOENT);
    m = (struct iommu_ioas_map){ .size = sizeof(m), .flags = RW, .ioas_id = ioas,
                                 .user_va = UP(buf), .length = 4096 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m), 0);
    CHECK(m.iova >= 0x100000 && m.iova < 0x200000);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(ioctl_option_hwpt_dirty_invalidate_fault)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    struct iommu_option o = { .size = sizeof(o), .option_id = IOMMU_OPTION_RLIMIT_MODE,
                              .op = IOMMU_OPTION_OP_SET, .val64 = 1 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_OPTION, &o), 0);    /* no objects yet */
    uint32_t ioas = api_ioas_alloc(ctx), dev;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_OPTION, &o), -EBUSY);
    o = (struct iommu_option){ .size = sizeof(o), .option_id = IOMMU_OPTION_HUGE_PAGES,
                               .op = IOMMU_OPTION_OP_GET, .object_id = ioas, .val64 = 9 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_OPTION, &o), 0);
    CHECK_EQ(o.val64, 1);
    o.__reserved = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_OPTION, &o), -EOPNOTSUPP);
    o.__reserved = 0;
    o.option_id = 7;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_OPTION, &o), -EOPNOTSUPP);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    /* HW info through the ioctl, buffer bigger than the data: zero-filled tail. */
    uint8_t info[48];
    memset(info, 0xcc, sizeof(info));
    struct iommu_hw_info hi = { .size = sizeof(hi), .dev_id = dev, .data_len = sizeof(info),
                                .data_uptr = UP(info) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_GET_HW_INFO, &hi), 0);
    CHECK_EQ(hi.data_len, sizeof(struct iommu_hw_info_vtd));
    CHECK_EQ(hi.out_data_type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
    CHECK_EQ(hi.out_capabilities, IOMMU_HW_CAP_DIRTY_TRACKING);
    CHECK_EQ(info[47], 0);
    hi.__reserved[1] = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_GET_HW_INFO, &hi), -EOPNOTSUPP);
    /* Fault queue, dirty-tracking NEST_PARENT HWPT, nested HWPT, invalidation. */
    struct iommu_fault_alloc fa = { .size = sizeof(fa) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_FAULT_QUEUE_ALLOC, &fa), 0);
    struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .dev_id = dev, .pt_id = ioas,
                                   .flags = IOMMU_HWPT_ALLOC_NEST_PARENT |
                                            IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
                                            IOMMU_HWPT_FAULT_ID_VALID,
                                   .fault_id = fa.out_fault_id };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &ha), 0);
    uint32_t par = ha.out_hwpt_id;
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x2000, .addr_width = 48 };
    ha = (struct iommu_hwpt_alloc){ .size = sizeof(ha), .dev_id = dev, .pt_id = par,
                                    .data_type = IOMMU_HWPT_DATA_VTD_S1,
                                    .data_len = sizeof(s1), .data_uptr = UP(&s1) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &ha), 0);
    uint32_t nest = ha.out_hwpt_id;
    ha.data_uptr = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &ha), -EFAULT);
    ha.__reserved = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &ha), -EOPNOTSUPP);
    struct iommu_hwpt_vtd_s1_invalidate inv[2] = { { .addr = 0x3000, .npages = 2 },
                                                   { .addr = 0x3001, .npages = 1 } };
    struct iommu_hwpt_invalidate hi2 = { .size = sizeof(hi2), .hwpt_id = nest,
                                         .data_uptr = UP(inv), .entry_len = sizeof(inv[0]),
                                         .entry_num = 2,
                                         .data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_INVALIDATE, &hi2), -EINVAL);
    CHECK_EQ(hi2.entry_num, 1);             /* progress reported with the error */
    hi2.entry_num = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_INVALIDATE, &hi2), 0);
    CHECK_EQ(hi2.entry_num, 1);
    hi2.hwpt_id = par;
    hi2.entry_num = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_INVALIDATE, &hi2), -EINVAL);
    CHECK_EQ(hi2.entry_num, 0);
    /* Dirty bitmap through user memory, in chunks. */
    uint32_t pt = par;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    uint8_t *buf = api_pages(512);
    struct iommu_ioas_map m = { .size = sizeof(m), .flags = RW | IOMMU_IOAS_MAP_FIXED_IOVA,
                                .ioas_id = ioas, .user_va = UP(buf), .length = 2u << 20,
                                .iova = 0x40000000 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m), 0);
    struct iommu_hwpt_set_dirty_tracking sd = { .size = sizeof(sd), .hwpt_id = par,
                                                .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), 0);
    mock_dma_write(iommu_dev_domain(&api_devs[2]), 0x40000000);    /* one 2 MiB leaf */
    uint64_t bits[8] = { 0 };
    struct iommu_hwpt_get_dirty_bitmap gd = { .size = sizeof(gd), .hwpt_id = par,
                                              .iova = 0x40000000, .length = 2u << 20,
                                              .page_size = 4096, .data = UP(bits) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(bits[i], UINT64_MAX);      /* every 4 KiB page of the dirty leaf */
    gd.__reserved = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), -EOPNOTSUPP);
    gd.__reserved = 0;
    gd.data = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), -EFAULT);
    struct iommu_destroy d = { .size = sizeof(d), .id = fa.out_fault_id };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), -EBUSY);
    CHECK_EQ(sys_close((int)fa.out_fault_fd), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}
