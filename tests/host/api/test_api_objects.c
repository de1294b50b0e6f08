/* HWPTs, devices and fault queues over the strict mock: explicit and nested HWPTs, user
 * invalidation, dirty tracking, binding with isolation groups, attach/replace/detach, fault
 * delivery and overflow, GET_HW_INFO, and teardown with everything live. */
#include "tests/host/api/api_util.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED (RW | IOMMU_IOAS_MAP_FIXED_IOVA)

static struct moat_iommufd *open_ioas(uint32_t *ioas)
{
    struct moat_iommufd *ctx;
    if (moat_iommufd_open(&ctx) || moat_ioas_alloc(ctx, 0, ioas))
        return NULL;
    return ctx;
}

static const struct iommu_hwpt_vtd_s1 good_s1 = { .pgtbl_addr = 0x1000, .addr_width = 48 };

TEST(device_bind_and_groups)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *c1, *c2;
    uint32_t a, s, x, y;
    REQUIRE(moat_iommufd_open(&c1) == 0 && moat_iommufd_open(&c2) == 0);
    CHECK_EQ(moat_device_bind(c1, &api_devs[0], &a), 0);
    CHECK_EQ(moat_device_bind(c1, &api_devs[0], &x), -EBUSY);      /* bound already */
    CHECK_EQ(moat_device_bind(c2, &api_devs[1], &x), -EPERM);      /* sibling elsewhere */
    CHECK_EQ(moat_device_bind(c1, &api_devs[1], &s), 0);           /* same context: fine */
    CHECK_EQ(moat_device_bind(c2, &api_devs[2], &y), 0);           /* another group */
    CHECK_EQ(moat_device_bind(c1, &api_devs[5], &x), -ENODEV);     /* no IOMMU */
    CHECK_EQ(moat_device_bind(c1, NULL, &x), -EINVAL);
    CHECK_EQ(moat_device_bind_bdf(c2, 0, 0, 0x18, &x), 0);
    CHECK_EQ(moat_device_bind_bdf(c2, 0, 0, 0x19, &x), -ENODEV);
    CHECK_EQ(moat_iommufd_destroy(c1, a), -EBUSY);                 /* devices go by unbind */
    CHECK_EQ(moat_device_unbind(c1, a), 0);
    CHECK_EQ(moat_device_unbind(c1, a), -ENOENT);
    CHECK_EQ(moat_device_bind(c2, &api_devs[0], &x), -EPERM);      /* s still in c1 */
    CHECK_EQ(moat_device_unbind(c1, s), 0);
    CHECK_EQ(moat_device_bind(c2, &api_devs[0], &x), 0);
    moat_iommufd_close(c1);
    moat_iommufd_close(c2);
    API_CLEAN(&b);
}

TEST(attach_replace_detach)
{
    struct api_base b;
    api_setup(&b);
    uint32_t io1, io2, dev, dev4, pt, hw;
    uint64_t i1 = 0x100000, i2 = 0x100000;
    struct moat_iommufd *ctx = open_ioas(&io1);
    REQUIRE(ctx);
    CHECK_EQ(moat_ioas_alloc(ctx, 0, &io2), 0);
    uint8_t *buf = api_pages(2);
    CHECK_EQ(moat_ioas_map(ctx, io1, FIXED, buf, 4096, &i1), 0);
    CHECK_EQ(moat_ioas_map(ctx, io2, FIXED, buf + 4096, 4096, &i2), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    CHECK_EQ(moat_device_detach(ctx, dev), -EINVAL);
    pt = 999;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), -ENOENT);
    pt = dev;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), -EINVAL);          /* not a page table */
    pt = io2;
    CHECK_EQ(moat_device_replace(ctx, dev, &pt), -EINVAL);         /* not attached */
    pt = io1;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    CHECK(pt != io1);                                               /* the automatic HWPT */
    uint32_t auto1 = pt;
    CHECK_EQ(api_xlate(&api_devs[2], 0x100000), (uint64_t)(uintptr_t)buf);
    pt = io1;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), -EINVAL);          /* attached: use replace */
    uint64_t attaches = mock_stats.attach_calls;
    pt = io2;
    CHECK_EQ(moat_device_replace(ctx, dev, &pt), 0);
    CHECK_EQ(mock_stats.attach_calls, attaches + 1);   /* one replace, never via blocking */
    CHECK_EQ(api_xlate(&api_devs[2], 0x100000), (uint64_t)(uintptr_t)buf + 4096);
    CHECK_EQ(mock_live_domains(), 1);                   /* the old automatic one is gone */
    CHECK_EQ(moat_iommufd_destroy(ctx, auto1), -ENOENT);
    /* Replace onto an explicit HWPT of io1, then a failing replace keeps the device put. */
    struct moat_hwpt_alloc a = { .dev_id = dev, .pt_id = io1 };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &hw), 0);
    pt = hw;
    CHECK_EQ(moat_device_replace(ctx, dev, &pt), 0);
    CHECK_EQ(api_xlate(&api_devs[2], 0x100000), (uint64_t)(uintptr_t)buf);
    mock_fail_attach(-EIO);
    pt = io2;
    CHECK_EQ(moat_device_replace(ctx, dev, &pt), -EIO);
    CHECK_EQ(api_xlate(&api_devs[2], 0x100000), (uint64_t)(uintptr_t)buf);
    CHECK_EQ(mock_live_domains(), 1);
    pt = hw;
    CHECK_EQ(moat_device_replace(ctx, dev, &pt), 0);   /* same: nothing to do */
    /* Another unit's device cannot use this HWPT. */
    CHECK_EQ(moat_device_bind(ctx, &api_devs[4], &dev4), 0);
    pt = hw;
    CHECK_EQ(moat_device_attach(ctx, dev4, &pt), -EINVAL);
    pt = io1;
    CHECK_EQ(moat_device_attach(ctx, dev4, &pt), 0);   /* its own automatic HWPT */
    CHECK_EQ(mock_live_domains(), 2);
    CHECK_EQ(moat_device_detach(ctx, dev), 0);
    CHECK(iommu_dev_domain(&api_devs[2]) == mock_unit(0)->blocked);
    CHECK_EQ(moat_device_detach(ctx, dev), -EINVAL);
    CHECK_EQ(moat_iommufd_destroy(ctx, hw), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(hwpt_alloc_errno_and_nesting)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, par, plain, nest, pt;
    struct moat_iommufd *ctx = open_ioas(&ioas);
    REQUIRE(ctx);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    struct moat_hwpt_alloc a = { .dev_id = dev, .pt_id = ioas };
    a.flags = 1u << 7;
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), -EOPNOTSUPP);
    a.flags = 0;
    a.data_len = 8;
    a.data = &good_s1;
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), -EINVAL);             /* data without a type */
    a.data_type = IOMMU_HWPT_DATA_VTD_S1;
    a.data_len = 0;
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), -EINVAL);             /* type without data */
    a.data_len = sizeof(good_s1);
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), -EOPNOTSUPP);         /* paging user data */
    a = (struct moat_hwpt_alloc){ .dev_id = 77, .pt_id = ioas };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), -ENOENT);
    a = (struct moat_hwpt_alloc){ .dev_id = dev, .pt_id = 77 };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), -EINVAL);
    a = (struct moat_hwpt_alloc){ .dev_id = dev, .pt_id = ioas,
                                  .flags = IOMMU_HWPT_FAULT_ID_VALID, .fault_id = 55 };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), -ENOENT);
    a = (struct moat_hwpt_alloc){ .dev_id = dev, .pt_id = ioas };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &plain), 0);
    a.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), 0);
    /* Nested: over a NEST_PARENT HWPT only, with checked VT-d stage-1 data. */
    struct iommu_hwpt_vtd_s1 s1 = good_s1;
    struct moat_hwpt_alloc n = { .dev_id = dev, .pt_id = plain, .data = &s1,
                                 .data_type = IOMMU_HWPT_DATA_VTD_S1, .data_len = sizeof(s1) };
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EINVAL);
    n.pt_id = par;
    n.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EOPNOTSUPP);
    n.flags = 0;
    n.data_len = 16;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EINVAL);            /* too short */
    uint8_t big[64] = { 0 };
    memcpy(big, &s1, sizeof(s1));
    big[40] = 1;
    n.data = big;
    n.data_len = sizeof(big);
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -E2BIG);             /* non-zero tail */
    big[40] = 0;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), 0);                  /* zero tail: fine */
    CHECK_EQ(moat_iommufd_destroy(ctx, nest), 0);
    n.data = &s1;
    n.data_len = sizeof(s1);
    s1.flags = 1u << 9;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EOPNOTSUPP);
    s1.flags = IOMMU_VTD_S1_SRE;
    s1.addr_width = 39;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EINVAL);
    s1.addr_width = 57;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), 0);
    pt = nest;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    CHECK(iommu_dev_domain(&api_devs[2])->type == IOMMU_DOMAIN_NESTED);
    CHECK_EQ(moat_iommufd_destroy(ctx, par), -EBUSY);              /* nested on it */
    CHECK_EQ(moat_iommufd_destroy(ctx, nest), -EBUSY);             /* device on it */
    CHECK_EQ(moat_iommufd_destroy(ctx, ioas), -EBUSY);             /* HWPTs on it */
    /* Nested over an automatic HWPT is refused. */
    uint32_t d3, auto_pt = ioas;
    CHECK_EQ(moat_device_bind(ctx, &api_devs[3], &d3), 0);
    CHECK_EQ(moat_device_attach(ctx, d3, &auto_pt), 0);
    n.pt_id = auto_pt;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EINVAL);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* Nested data belongs to the unit: a type it does not take, or a unit with no nested support,
 * is -EOPNOTSUPP, checked before anything is allocated. */
TEST(nested_data_is_the_units)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, d2, d4, par2, par4, nest;
    struct moat_iommufd *ctx = open_ioas(&ioas);
    REQUIRE(ctx);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &d2), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[4], &d4), 0);
    struct moat_hwpt_alloc a = { .dev_id = d2, .pt_id = ioas,
                                 .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par2), 0);
    a.dev_id = d4;
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par4), 0);
    unsigned live = mock_live_domains();
    struct moat_hwpt_alloc n = { .dev_id = d2, .pt_id = par2, .data = &good_s1,
                                 .data_type = 77, .data_len = sizeof(good_s1) };
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EOPNOTSUPP);      /* a type unit 0 lacks */
    n = (struct moat_hwpt_alloc){ .dev_id = d4, .pt_id = par4, .data = &good_s1,
                                  .data_type = IOMMU_HWPT_DATA_VTD_S1,
                                  .data_len = sizeof(good_s1) };
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EOPNOTSUPP);      /* unit 1: no nesting */
    n.pt_id = par2;
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), -EINVAL);          /* parent of another unit */
    CHECK_EQ(mock_live_domains(), live);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(nested_user_invalidation)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, par, nest, num;
    struct moat_iommufd *ctx = open_ioas(&ioas);
    REQUIRE(ctx);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    struct moat_hwpt_alloc a = { .dev_id = dev, .pt_id = ioas,
                                 .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), 0);
    struct moat_hwpt_alloc n = { .dev_id = dev, .pt_id = par, .data = &good_s1,
                                 .data_type = IOMMU_HWPT_DATA_VTD_S1,
                                 .data_len = sizeof(good_s1) };
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), 0);
    struct iommu_hwpt_vtd_s1_invalidate inv[3] = {
        { .addr = 0x1000, .npages = 1 },
        { .addr = 0, .npages = UINT64_MAX },
        { .addr = 0x200000, .npages = 512, .flags = IOMMU_VTD_INV_FLAGS_LEAF },
    };
    const uint32_t T = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
    uint64_t calls = mock_stats.inv_calls;
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, nest, T, inv, sizeof(inv[0]), &num), 0);
    CHECK_EQ(num, 3);
    CHECK_EQ(mock_stats.inv_calls, calls + 3);
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, par, T, inv, sizeof(inv[0]), &num), -EINVAL);
    CHECK_EQ(num, 0);
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, 99, T, inv, sizeof(inv[0]), &num), -ENOENT);
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, nest, 5, inv, sizeof(inv[0]), &num), -EINVAL);
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, nest, T, NULL, sizeof(inv[0]), &num), -EINVAL);
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, nest, T, inv, 8, &num), -EINVAL);  /* entry too short */
    num = 0;
    CHECK_EQ(moat_hwpt_invalidate(ctx, nest, T, NULL, 0, &num), 0);
    /* A bad entry in the middle: the good prefix is done and counted. */
    inv[1].__reserved = 1;
    calls = mock_stats.inv_calls;
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, nest, T, inv, sizeof(inv[0]), &num), -EOPNOTSUPP);
    CHECK_EQ(num, 1);
    CHECK_EQ(mock_stats.inv_calls, calls + 1);
    inv[1].__reserved = 0;
    inv[1].addr = 0x1000;       /* npages ~0 needs addr 0 */
    num = 3;
    CHECK_EQ(moat_hwpt_invalidate(ctx, nest, T, inv, sizeof(inv[0]), &num), -EINVAL);
    CHECK_EQ(num, 1);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(dirty_tracking_and_bitmaps)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, hw, plain, pt;
    uint64_t iova = 0x200000, bm[2];
    struct moat_iommufd *ctx = open_ioas(&ioas);
    REQUIRE(ctx);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    struct moat_hwpt_alloc a = { .dev_id = dev, .pt_id = ioas };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &plain), 0);
    a.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &hw), 0);
    pt = hw;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    uint8_t *buf = api_pages(16);
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 16 * 4096, &iova), 0);
    CHECK_EQ(moat_hwpt_set_dirty_tracking(ctx, plain, IOMMU_HWPT_DIRTY_TRACKING_ENABLE),
             -EOPNOTSUPP);
    CHECK_EQ(moat_hwpt_set_dirty_tracking(ctx, hw, 2), -EOPNOTSUPP);
    CHECK_EQ(moat_hwpt_set_dirty_tracking(ctx, ioas, 1), -ENOENT);
    struct iommu_domain *d = iommu_dev_domain(&api_devs[2]);
    mock_dma_write(d, iova + 5 * 4096);     /* stale: cleared by enabling */
    CHECK_EQ(moat_hwpt_set_dirty_tracking(ctx, hw, IOMMU_HWPT_DIRTY_TRACKING_ENABLE), 0);
    CHECK(mock_dirty_enabled(d));
    mock_dma_write(d, iova + 1 * 4096);
    mock_dma_write(d, iova + 9 * 4096);
    memset(bm, 0, sizeof(bm));
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, iova,
                                        16 * 4096, 4096, bm), 0);
    CHECK_EQ(bm[0], (1u << 1) | (1u << 9));
    memset(bm, 0, sizeof(bm));
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 16 * 4096, 4096, bm), 0);
    CHECK_EQ(bm[0], (1u << 1) | (1u << 9));
    memset(bm, 0, sizeof(bm));
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 16 * 4096, 4096, bm), 0);
    CHECK_EQ(bm[0], 0);                     /* read-and-clear */
    mock_dma_write(d, iova + 9 * 4096);
    memset(bm, 0, sizeof(bm));
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 16 * 4096, 8192, bm), 0);
    CHECK_EQ(bm[0], 1u << 4);               /* 8 KiB granules */
    /* errno table */
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 2, iova, 4096, 4096, bm), -EOPNOTSUPP);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, plain, 0, iova, 4096, 4096, bm), -EOPNOTSUPP);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, 99, 0, iova, 4096, 4096, bm), -ENOENT);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 0, 4096, bm), -EINVAL);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 4096, 0, bm), -EINVAL);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 4096, 12288, bm), -EINVAL);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova + 1, 4096, 4096, bm), -EINVAL);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 4096, 8192, bm), -EINVAL);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, UINT64_MAX - 4095, 8192, 4096, bm),
             -EOVERFLOW);
    CHECK_EQ(moat_hwpt_get_dirty_bitmap(ctx, hw, 0, iova, 4096, 4096, NULL), -EFAULT);
    CHECK_EQ(moat_hwpt_set_dirty_tracking(ctx, hw, 0), 0);
    CHECK(!mock_dirty_enabled(d));
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

static unsigned notified;
static void on_fault(void *arg)
{
    notified += (uintptr_t)arg;
}

static void fire(struct pci_dev *p, uint64_t addr)
{
    struct iommu_fault f = { .seg = p->seg, .rid = (uint16_t)(p->bus << 8 | p->devfn),
                             .addr = addr, .write = true, .reason = 5, .text = "mock" };
    iommu_report_fault(mock_unit(p->seg), &f);
}

TEST(fault_queue_delivery_and_overflow)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, fq, hw, pt, n;
    struct moat_fault_record rec[MOAT_FAULT_QUEUE_DEPTH + 8];
    uint64_t over;
    struct moat_iommufd *ctx = open_ioas(&ioas);
    REQUIRE(ctx);
    CHECK_EQ(moat_fault_queue_alloc(ctx, 1, &fq), -EOPNOTSUPP);
    CHECK_EQ(moat_fault_queue_alloc(ctx, 0, &fq), 0);
    CHECK_EQ(moat_fault_queue_readable(ctx, fq), 0);
    CHECK_EQ(moat_fault_queue_readable(ctx, ioas), -ENOENT);
    CHECK_EQ(moat_fault_queue_set_notify(ctx, fq, on_fault, (void *)1), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    struct moat_hwpt_alloc a = { .dev_id = dev, .pt_id = ioas,
                                 .flags = IOMMU_HWPT_FAULT_ID_VALID, .fault_id = fq };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &hw), 0);
    CHECK_EQ(moat_iommufd_destroy(ctx, fq), -EBUSY);
    fire(&api_devs[2], 0x1234000);          /* not attached yet: blocked domain, not queued */
    CHECK_EQ(moat_fault_queue_readable(ctx, fq), 0);
    pt = hw;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    notified = 0;
    fire(&api_devs[2], 0x5000);
    fire(&api_devs[2], 0x6000);
    CHECK_EQ(notified, 2);
    CHECK_EQ(moat_fault_queue_readable(ctx, fq), 1);
    CHECK_EQ(moat_fault_queue_read(ctx, fq, rec, 1, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(rec[0].fault.addr, 0x5000);     /* oldest first */
    CHECK_EQ(rec[0].dev_id, dev);
    CHECK_EQ(rec[0].hwpt_id, hw);
    CHECK_EQ(rec[0].fault.reason, 5);
    CHECK_EQ(moat_fault_queue_read(ctx, fq, rec, 8, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(rec[0].fault.addr, 0x6000);
    CHECK_EQ(moat_fault_queue_readable(ctx, fq), 0);
    for (int i = 0; i < MOAT_FAULT_QUEUE_DEPTH + 5; i++)
        fire(&api_devs[2], 0x10000 + i * 0x1000ULL);
    CHECK_EQ(moat_fault_queue_overflows(ctx, fq, &over), 0);
    CHECK_EQ(over, 5);
    CHECK_EQ(moat_fault_queue_read(ctx, fq, rec, ARRAY_SIZE(rec), &n), 0);
    CHECK_EQ(n, MOAT_FAULT_QUEUE_DEPTH);
    CHECK_EQ(rec[0].fault.addr, 0x10000);
    CHECK_EQ(rec[n - 1].fault.addr, 0x10000 + (MOAT_FAULT_QUEUE_DEPTH - 1) * 0x1000ULL);
    CHECK_EQ(moat_fault_queue_read(ctx, fq, NULL, 4, &n), -EFAULT);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(get_hw_info)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    uint32_t dev, len, type;
    uint64_t caps;
    uint8_t buf[64];
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    memset(buf, 0xaa, sizeof(buf));
    len = sizeof(buf);
    CHECK_EQ(moat_device_get_hw_info(ctx, dev, 0, buf, &len, &type, &caps), 0);
    CHECK_EQ(len, sizeof(struct iommu_hw_info_vtd));
    CHECK_EQ(type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
    CHECK_EQ(caps, IOMMU_HW_CAP_DIRTY_TRACKING);
    struct iommu_hw_info_vtd v;
    memcpy(&v, buf, sizeof(v));
    CHECK_EQ(v.cap_reg, 0xd2008c40660462ULL);
    CHECK_EQ(buf[sizeof(v)], 0);            /* the rest zero-filled */
    CHECK_EQ(buf[63], 0);
    len = 8;
    memset(buf, 0xaa, sizeof(buf));
    CHECK_EQ(moat_device_get_hw_info(ctx, dev, 0, buf, &len, &type, &caps), 0);
    CHECK_EQ(len, sizeof(v));
    CHECK_EQ(buf[8], 0xaa);                 /* only 8 bytes written */
    CHECK_EQ(moat_device_get_hw_info(ctx, dev, 1, buf, &len, &type, &caps), -EOPNOTSUPP);
    CHECK_EQ(moat_device_get_hw_info(ctx, 42, 0, buf, &len, &type, &caps), -ENOENT);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(close_tears_everything_down)
{
    struct api_base b;
    api_setup(&b);
    uint32_t io1, io2, d0, d1, d3, d4, par, nest, fq, pt;
    struct moat_iommufd *ctx = open_ioas(&io1);
    REQUIRE(ctx);
    CHECK_EQ(moat_ioas_alloc(ctx, 0, &io2), 0);
    uint8_t *buf = api_pages(64);
    for (int i = 0; i < 20; i++) {
        uint64_t iova = 0;
        CHECK_EQ(moat_ioas_map(ctx, i & 1 ? io2 : io1, RW, buf + i * 4096, 4096, &iova), 0);
    }
    CHECK_EQ(moat_fault_queue_alloc(ctx, 0, &fq), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[0], &d0), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[1], &d1), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[3], &d3), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[4], &d4), 0);
    struct moat_hwpt_alloc a = { .dev_id = d0, .pt_id = io1, .fault_id = fq,
                                 .flags = IOMMU_HWPT_ALLOC_NEST_PARENT |
                                          IOMMU_HWPT_FAULT_ID_VALID };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &par), 0);
    struct moat_hwpt_alloc n = { .dev_id = d0, .pt_id = par, .data = &good_s1,
                                 .data_type = IOMMU_HWPT_DATA_VTD_S1,
                                 .data_len = sizeof(good_s1) };
    CHECK_EQ(moat_hwpt_alloc(ctx, &n, &nest), 0);
    pt = par;
    CHECK_EQ(moat_device_attach(ctx, d0, &pt), 0);
    pt = nest;
    CHECK_EQ(moat_device_attach(ctx, d1, &pt), 0);
    pt = io2;
    CHECK_EQ(moat_device_attach(ctx, d3, &pt), 0);
    pt = io1;
    CHECK_EQ(moat_device_attach(ctx, d4, &pt), 0);
    fire(&api_devs[0], 0x7000);
    CHECK(mock_mapped_bytes() > 0);
    CHECK_EQ(mock_attached_devs(), 4);
    moat_iommufd_close(ctx);
    for (int i = 0; i < 4; i++)
        CHECK(iommu_dev_domain(&api_devs[i == 2 ? 4 : i]) ==
              mock_unit(api_devs[i == 2 ? 4 : i].seg)->blocked);
    API_CLEAN(&b);
    /* Everything unbound: the group is free for another context. */
    struct moat_iommufd *c2;
    REQUIRE(moat_iommufd_open(&c2) == 0);
    CHECK_EQ(moat_device_bind(c2, &api_devs[1], &d1), 0);
    moat_iommufd_close(c2);
    API_CLEAN(&b);
}
