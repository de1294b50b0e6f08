/* Fail the Nth allocation of a good sequence, for every N (this layer's allocations, the mock
 * driver's domain and page-table allocations, its attaches): every step either succeeds or
 * fails with its errno and changes nothing, and closing the context always leaves no heap
 * object, no page-table page, nothing mapped and nothing attached. */
#include "tests/host/api/api_util.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

/* In a sequence function (an int steps in scope): one step that must succeed, or end the
 * sequence with an allocation error (steps done so far) or an unexpected one (-1000 - steps). */
#define STEP(x)                                                                 \
    do {                                                                        \
        int _e = (x);                                                           \
        if (_e)                                                                 \
            return _e == -ENOMEM || _e == -ENOSPC ? steps : -1000 - steps;      \
        steps++;                                                                \
    } while (0)

static const struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x1000, .addr_width = 48 };

/* Returns the number of steps that succeeded; stops at the first failure. */
static int sequence(struct moat_iommufd *ctx, uint8_t *buf)
{
    uint32_t io1, io2, d0, d3, par, nest, fq, pt, hw;
    uint64_t iova = 0, to = 0, got;
    int steps = 0;
    STEP(moat_ioas_alloc(ctx, 0, &io1));
    STEP(moat_ioas_alloc(ctx, 0, &io2));
    STEP(moat_ioas_map(ctx, io1, RW, buf, 8192, &iova));
    STEP(moat_device_bind(ctx, &api_devs[0], &d0));
    STEP(moat_device_bind(ctx, &api_devs[3], &d3));
    pt = io1;
    STEP(moat_device_attach(ctx, d0, &pt));
    iova = 0;
    STEP(moat_ioas_map(ctx, io1, RW, buf + 8192, 2u << 20, &iova));
    STEP(moat_ioas_copy(ctx, io2, io1, RW, iova, 4096, &to));
    pt = io2;
    STEP(moat_device_attach(ctx, d3, &pt));
    STEP(moat_fault_queue_alloc(ctx, 0, &fq));
    struct moat_hwpt_alloc a = { .dev_id = d0, .pt_id = io1, .fault_id = fq,
                                 .flags = IOMMU_HWPT_ALLOC_NEST_PARENT |
                                          IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
                                          IOMMU_HWPT_FAULT_ID_VALID };
    STEP(moat_hwpt_alloc(ctx, &a, &par));
    struct moat_hwpt_alloc n = { .dev_id = d0, .pt_id = par, .data = &s1,
                                 .data_type = IOMMU_HWPT_DATA_VTD_S1, .data_len = sizeof(s1) };
    STEP(moat_hwpt_alloc(ctx, &n, &nest));
    pt = par;
    STEP(moat_device_replace(ctx, d0, &pt));
    pt = nest;
    STEP(moat_device_replace(ctx, d3, &pt));
    STEP(moat_hwpt_set_dirty_tracking(ctx, par, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
    for (int i = 0; i < 40; i++) {
        iova = 0;
        STEP(moat_ioas_map(ctx, io1, RW, buf + i * 4096, 4096 * (1 + i % 2), &iova));
    }
    STEP(moat_ioas_unmap(ctx, io1, 0, UINT64_MAX, &got));
    iova = 0;
    STEP(moat_ioas_map(ctx, io1, RW, buf, 4096, &iova));
    pt = io2;
    STEP(moat_device_replace(ctx, d0, &pt));
    STEP(moat_device_detach(ctx, d3));
    a = (struct moat_hwpt_alloc){ .dev_id = d3, .pt_id = io2 };
    STEP(moat_hwpt_alloc(ctx, &a, &hw));
    pt = hw;
    STEP(moat_device_attach(ctx, d3, &pt));
    STEP(moat_iommufd_destroy(ctx, nest));
    return steps;
}

typedef int (*sequence_fn)(struct moat_iommufd *ctx, uint8_t *buf);

/* Runs seq once whole (*full: its steps), then again with the n-th allocation failing for
 * n = 1, 2, ... until the sequence outruns the failure or n reaches max: every run must end
 * in an allocation error or succeed, and leave nothing behind. *swept: the last n. */
static void sweep(sequence_fn seq, size_t pages, unsigned long max, int *full,
                  unsigned long *swept)
{
    struct api_base b;
    api_setup(&b);
    uint8_t *buf = api_pages(pages);
    struct moat_iommufd *ctx;
    *swept = 0;
    *full = 0;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    *full = seq(ctx, buf);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
    unsigned long n;
    for (n = 1; n < max; n++) {
        REQUIRE(moat_iommufd_open(&ctx) == 0);
        moat_iommufd_fail_nth(n);
        int steps = seq(ctx, buf);
        moat_iommufd_fail_nth(0);
        if (steps < 0) {
            printf("    fail at allocation %lu: unexpected error in step %d\n", n, -steps - 1000);
            CHECK(steps >= 0);
        }
        moat_iommufd_close(ctx);
        API_CLEAN(&b);
        if (steps == *full)
            break;          /* the sequence outran the injected failure: all N covered */
    }
    printf("    %lu allocation points swept\n", n);
    *swept = n;
}

TEST(fail_nth_allocation_sweep)
{
    int full = 0;
    unsigned long n = 0;
    sweep(sequence, 1024, 5000, &full, &n);
    CHECK(full > 20);
    CHECK(n > 30 && n < 5000);
}

/* Nesting through a vIOMMU: parent, vIOMMU, vDEVICEs, nested HWPTs from SMMUv3 STE words,
 * attach/replace between them, an invalidation, a vEVENTQ and an event into it. */
static const uint64_t vste[2] = { 0xb | 0x7000000, 0 };    /* V, Config stage 1, S1ContextPtr */

static int nest_sequence(struct moat_iommufd *ctx, uint8_t *buf)
{
    uint32_t io, d0, d3, par, vi, vd0, vd3, n1, n2, q, pt, num;
    uint64_t iova = 0;
    int steps = 0;
    STEP(moat_ioas_alloc(ctx, 0, &io));
    STEP(moat_ioas_map(ctx, io, RW, buf, 8192, &iova));
    STEP(moat_device_bind(ctx, &api_devs[0], &d0));
    STEP(moat_device_bind(ctx, &api_devs[3], &d3));
    struct moat_hwpt_alloc a = { .dev_id = d0, .pt_id = io, .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
    STEP(moat_hwpt_alloc(ctx, &a, &par));
    STEP(moat_viommu_alloc(ctx, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, d0, par, &vi));
    STEP(moat_vdevice_alloc(ctx, vi, d0, 1, &vd0));
    STEP(moat_vdevice_alloc(ctx, vi, d3, 2, &vd3));
    struct moat_hwpt_alloc n = { .dev_id = d0, .pt_id = vi, .data = vste,
                                 .data_type = IOMMU_HWPT_DATA_ARM_SMMUV3, .data_len = 16 };
    STEP(moat_hwpt_alloc(ctx, &n, &n1));
    STEP(moat_hwpt_alloc(ctx, &n, &n2));
    STEP(moat_veventq_alloc(ctx, 0, vi, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 16, &q));
    pt = par;
    STEP(moat_device_attach(ctx, d0, &pt));
    pt = n1;
    STEP(moat_device_replace(ctx, d0, &pt));
    pt = n2;
    STEP(moat_device_attach(ctx, d3, &pt));
    uint64_t cmds[2][2] = { { 0x10, 0 }, { 0x05 | (2ULL << 32), 0 } };
    num = 2;
    STEP(moat_hwpt_invalidate(ctx, vi, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, cmds, 16, &num));
    uint64_t evt[4] = { 0x10 | (0x18ULL << 32), 0, 0x1000, 0 };
    STEP(mock_smmu_event(&api_devs[3], evt));
    iova = 0;
    STEP(moat_ioas_map(ctx, io, RW, buf + 8192, 4096, &iova));
    STEP(moat_iommufd_destroy(ctx, vd3));
    return steps;
}

TEST(fail_nth_nesting_sweep)
{
    int full = 0;
    unsigned long n = 0;
    sweep(nest_sequence, 8, 2000, &full, &n);
    CHECK_EQ(full, 18);
    CHECK(n > 10 && n < 2000);
}

/* The same sweep through the ioctl face (its own copies of user arrays included). */
static int ioctl_sequence(struct moat_iommufd *ctx, uint8_t *buf)
{
    int steps = 0;
    uint32_t dev;
    struct iommu_ioas_alloc al = { .size = sizeof(al) };
    STEP(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &al));
    STEP(moat_device_bind(ctx, &api_devs[2], &dev));
    struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .dev_id = dev, .pt_id = al.out_ioas_id,
                                   .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
    STEP(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &ha));
    uint32_t pt = ha.out_hwpt_id;
    STEP(moat_device_attach(ctx, dev, &pt));
    struct iommu_iova_range r[2] = { { 0x100000, 0x1fffff }, { 0x400000, 0x4fffff } };
    struct iommu_ioas_allow_iovas aw = { .size = sizeof(aw), .ioas_id = al.out_ioas_id,
                                         .num_iovas = 2, .allowed_iovas = (uintptr_t)r };
    STEP(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOW_IOVAS, &aw));
    for (int i = 0; i < 8; i++) {
        struct iommu_ioas_map m = { .size = sizeof(m), .flags = RW, .ioas_id = al.out_ioas_id,
                                    .user_va = (uintptr_t)(buf + i * 4096), .length = 4096 };
        STEP(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, &m));
    }
    struct iommu_iova_range out[4];
    struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = al.out_ioas_id,
                                        .num_iovas = 4, .allowed_iovas = (uintptr_t)out };
    STEP(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, &q));
    struct iommu_hwpt_vtd_s1 s = s1;
    ha = (struct iommu_hwpt_alloc){ .size = sizeof(ha), .dev_id = dev, .pt_id = pt,
                                    .data_type = IOMMU_HWPT_DATA_VTD_S1, .data_len = sizeof(s),
                                    .data_uptr = (uintptr_t)&s };
    STEP(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &ha));
    struct iommu_hwpt_vtd_s1_invalidate inv = { .addr = 0, .npages = 1 };
    struct iommu_hwpt_invalidate hi = { .size = sizeof(hi), .hwpt_id = ha.out_hwpt_id,
                                        .data_uptr = (uintptr_t)&inv, .entry_len = sizeof(inv),
                                        .entry_num = 1 };
    STEP(moat_iommufd_ioctl(ctx, IOMMU_HWPT_INVALIDATE, &hi));
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = al.out_ioas_id,
                                  .length = UINT64_MAX };
    STEP(moat_iommufd_ioctl(ctx, IOMMU_IOAS_UNMAP, &u));
    return steps;
}

TEST(fail_nth_ioctl_sweep)
{
    int full = 0;
    unsigned long n = 0;
    sweep(ioctl_sequence, 16, 2000, &full, &n);
    CHECK(full == 17);
    CHECK(n > 10 && n < 2000);
}
