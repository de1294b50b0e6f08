/* The SMMUv3 driver under the native IOMMUFD object layer, against the model of the unit: the
 * IOAS narrows around the software MSI window as Linux's does on arm64, GET_HW_INFO answers with
 * the SMMUv3 type and ID registers, and DMA through an IOAS mapping moves the right bytes. */
#include "kernel/fd.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "moat/iommufd.h"
#include "moat/iommufd_smmuv3.h"
#include "tests/host/harness.h"
#include "tests/host/smmu/mock_smmu.h"

static struct mock_smmu M;
static struct smmu_unit U;
static struct pci_dev dev;

static void setup(void)
{
    static bool registered;
    mock_smmu_prepare(&M, &U);
    MOAT_ASSERT(smmu_unit_init(&U) == 0);
    if (!registered)
        iommu_register_unit(&U.iu);     /* the same object every test: registered once */
    registered = true;
    dev.seg = 0;
    dev.bus = 0;
    dev.devfn = 0x18;
    dev.group = 1;
    moat_iommufd_set_pci_devs(&dev, 1);
}

TEST(ioas_narrows_around_msi_window)
{
    setup();
    struct moat_iommufd *ctx;
    uint32_t ioas, dev_id, pt;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    REQUIRE(moat_ioas_alloc(ctx, 0, &ioas) == 0);
    REQUIRE(moat_device_bind(ctx, &dev, &dev_id) == 0);
    pt = ioas;
    REQUIRE(moat_device_attach(ctx, dev_id, &pt) == 0);
    struct iommu_iova_range r[4];
    uint32_t num = 4;
    uint64_t align = 0;
    REQUIRE(moat_ioas_iova_ranges(ctx, ioas, r, &num, &align) == 0);
    /* Linux 6.12 on QEMU's virt with SMMUv3 (shared/reference/linux-arm64). */
    CHECK_EQ(num, 2);
    CHECK_EQ(r[0].start, 0);
    CHECK_EQ(r[0].last, 0x7ffffff);
    CHECK_EQ(r[1].start, 0x8100000);
    CHECK_EQ(r[1].last, 0xffffffffffffULL);
    CHECK_EQ(align, 4096);

    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(0, &pa);
    REQUIRE(buf);
    uint64_t iova = 0x8000000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                           IOMMU_IOAS_MAP_WRITEABLE, buf, 4096, &iova), -EINVAL);
    iova = 0xfee00000;      /* x86's interrupt window is ordinary memory here */
    REQUIRE(moat_ioas_map(ctx, ioas, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                          IOMMU_IOAS_MAP_WRITEABLE, buf, 4096, &iova) == 0);
    uint8_t v[16] = "through smmuv3";
    CHECK_EQ(mock_smmu_dma(&M, 0x18, 0xfee00010, v, sizeof(v), true), 0);
    CHECK(memcmp(buf + 0x10, v, sizeof(v)) == 0);

    struct moat_iommu_hw_info_arm_smmuv3 info;
    uint32_t len = sizeof(info), type = 0;
    uint64_t caps = 0;
    REQUIRE(moat_device_get_hw_info(ctx, dev_id, 0, &info, &len, &type, &caps) == 0);
    CHECK_EQ(type, MOAT_IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
    CHECK_EQ(len, 40);
    CHECK_EQ(info.idr[0], M.idr[0]);
    CHECK_EQ(info.idr[5], M.idr[5]);

    uint64_t unmapped = 0;
    REQUIRE(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &unmapped) == 0);
    CHECK_EQ(unmapped, 4096);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, 0xfee00010, v, sizeof(v), true), EVT_F_TRANSLATION);
    moat_iommufd_close(ctx);
    uint8_t x;
    CHECK_EQ(mock_smmu_dma(&M, 0x18, 0xfee00010, &x, 1, false), -1);   /* blocked again */
    CHECK_EQ(M.violations, 0);
}

/* Nesting end to end through the ioctl face, the driver and the model: the program's stage 1
 * (its CD and tables in memory it mapped into the IOAS, at their IPAs) over moat's stage 2. DMA
 * moves through both stages; a stage-1 change takes effect after IOMMU_HWPT_INVALIDATE on the
 * vIOMMU; a stage-1 fault is read from the vEVENTQ descriptor with the virtual StreamID; a
 * stage-1 entry naming memory outside the IOAS is a stage-2 fault in the HWPT's fault queue,
 * and that memory stays untouched. */
#define IPA(i) (0x40000000ULL + (i) * 4096ULL)
#define UP(p) ((__u64)(uintptr_t)(p))

static int ioctl_ok(struct moat_iommufd *ctx, unsigned long cmd, void *arg)
{
    int err = moat_iommufd_ioctl(ctx, cmd, arg);
    if (err)
        printf("    ioctl %#lx: %d\n", cmd, err);
    return err;
}

TEST(nesting_through_the_ioctl_face)
{
    setup();
    struct moat_iommufd *ctx;
    uint32_t dev_id, fq, pt;
    uint8_t *pg[7];         /* CD, L1, L2, L3, A, B; 6: not in the IOAS */
    uint64_t pa[7];
    for (unsigned i = 0; i < 7; i++) {
        pg[i] = pmm_alloc_zeroed(0, &pa[i]);
        REQUIRE(pg[i]);
        memset(pg[i], 0xc5, 4096);
    }
    memset(pg[3], 0, 4096);
    mock_smmu_s1_program(pg[0], pg[1], pg[2], IPA(1), IPA(2), IPA(3), 9);
    uint64_t *l3 = (uint64_t *)pg[3];
    l3[0] = MOCK_SMMU_S1_LEAF(IPA(4));
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    struct iommu_ioas_alloc al = { .size = sizeof(al) };
    REQUIRE(ioctl_ok(ctx, IOMMU_IOAS_ALLOC, &al) == 0);
    for (unsigned i = 0; i < 6; i++) {
        struct iommu_ioas_map m = { .size = sizeof(m), .ioas_id = al.out_ioas_id,
                                    .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                                             IOMMU_IOAS_MAP_WRITEABLE,
                                    .user_va = UP(pg[i]), .length = 4096, .iova = IPA(i) };
        REQUIRE(ioctl_ok(ctx, IOMMU_IOAS_MAP, &m) == 0);
    }
    REQUIRE(moat_device_bind(ctx, &dev, &dev_id) == 0);
    REQUIRE(moat_fault_queue_alloc(ctx, 0, &fq) == 0);
    struct iommu_hwpt_alloc par = { .size = sizeof(par), .flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
                                    .dev_id = dev_id, .pt_id = al.out_ioas_id };
    REQUIRE(ioctl_ok(ctx, IOMMU_HWPT_ALLOC, &par) == 0);
    struct iommu_viommu_alloc va = { .size = sizeof(va), .type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
                                     .dev_id = dev_id, .hwpt_id = par.out_hwpt_id };
    REQUIRE(ioctl_ok(ctx, IOMMU_VIOMMU_ALLOC, &va) == 0);
    struct iommu_vdevice_alloc vd = { .size = sizeof(vd), .viommu_id = va.out_viommu_id,
                                      .dev_id = dev_id, .virt_id = 0x42 };
    REQUIRE(ioctl_ok(ctx, IOMMU_VDEVICE_ALLOC, &vd) == 0);
    struct iommu_hwpt_arm_smmuv3 ste = { { STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_S1) | IPA(0),
                                           FIELD_PREP(STE1_S1CSH, 3) } };
    struct iommu_hwpt_alloc nh = { .size = sizeof(nh), .flags = IOMMU_HWPT_FAULT_ID_VALID,
                                   .dev_id = dev_id, .pt_id = va.out_viommu_id,
                                   .data_type = IOMMU_HWPT_DATA_ARM_SMMUV3,
                                   .data_len = sizeof(ste), .data_uptr = UP(&ste),
                                   .fault_id = fq };
    REQUIRE(ioctl_ok(ctx, IOMMU_HWPT_ALLOC, &nh) == 0);
    struct iommu_veventq_alloc qa = { .size = sizeof(qa), .viommu_id = va.out_viommu_id,
                                      .type = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, .veventq_depth = 4 };
    REQUIRE(ioctl_ok(ctx, IOMMU_VEVENTQ_ALLOC, &qa) == 0);
    pt = nh.out_hwpt_id;
    REQUIRE(moat_device_attach(ctx, dev_id, &pt) == 0);

    /* Both stages, bytes checked. */
    uint8_t v[32] = "two stages, one transfer";
    const uint64_t iova = MOCK_SMMU_NEST_IOVA;
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 0x20, v, sizeof(v), true), 0);
    CHECK(memcmp(pg[4] + 0x20, v, sizeof(v)) == 0);
    CHECK_EQ(pg[4][0x1f], 0xc5);
    CHECK_EQ(pg[5][0x20], 0xc5);

    /* A stage-1 change, then the program's invalidation through the vIOMMU. */
    l3[0] = MOCK_SMMU_S1_LEAF(IPA(5));
    uint64_t cmd[2] = { CMD_TLBI_NH_VA | FIELD_PREP(CMD0_ASID, 9), iova };
    struct iommu_hwpt_invalidate inv = { .size = sizeof(inv), .hwpt_id = va.out_viommu_id,
                                         .data_uptr = UP(cmd),
                                         .data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                                         .entry_len = sizeof(cmd), .entry_num = 1 };
    REQUIRE(ioctl_ok(ctx, IOMMU_HWPT_INVALIDATE, &inv) == 0);
    CHECK_EQ(inv.entry_num, 1);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 0x20, v, 8, true), 0);
    CHECK(memcmp(pg[5] + 0x20, v, 8) == 0);

    /* A stage-1 fault: the program's event, its virtual StreamID. */
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 0x3000, v, 4, false), EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    uint8_t rd[64];
    CHECK_EQ(sys_read((int)qa.out_veventq_fd, rd, sizeof(rd)), 40);
    struct iommufd_vevent_header hdr;
    struct iommu_vevent_arm_smmuv3 ev;
    memcpy(&hdr, rd, sizeof(hdr));
    memcpy(&ev, rd + sizeof(hdr), sizeof(ev));
    CHECK_EQ(hdr.flags, 0);
    CHECK_EQ(FIELD_GET(EVT0_SID, ev.evt[0]), 0x42);
    CHECK_EQ(FIELD_GET(EVT0_ID, ev.evt[0]), EVT_F_TRANSLATION);
    CHECK_EQ(ev.evt[2], iova + 0x3000);
    struct moat_fault_record fr[2];
    uint32_t nfr = 0;
    CHECK_EQ(moat_fault_queue_read(ctx, fq, fr, 2, &nfr), 0);
    CHECK_EQ(nfr, 0);                                   /* not moat's */

    /* A stage-1 entry naming page 6 (outside the IOAS): moat's stage 2 stops it. */
    l3[1] = MOCK_SMMU_S1_LEAF(pa[6]);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 0x1000, v, sizeof(v), true), EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    CHECK_EQ(moat_fault_queue_read(ctx, fq, fr, 2, &nfr), 0);
    CHECK_EQ(nfr, 1);
    CHECK_EQ(fr[0].fault.addr, iova + 0x1000);
    CHECK(fr[0].fault.write);
    CHECK_EQ(fr[0].hwpt_id, nh.out_hwpt_id);
    CHECK_EQ(sys_read((int)qa.out_veventq_fd, rd, sizeof(rd)), 0);
    for (unsigned i = 0; i < 4096; i++)
        if (pg[6][i] != 0xc5) {
            CHECK(pg[6][i] == 0xc5);
            break;
        }

    /* Destroy rules, then everything goes with the context. */
    struct iommu_destroy d = { .size = sizeof(d), .id = va.out_viommu_id };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), -EBUSY);
    d.id = par.out_hwpt_id;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), -EBUSY);
    CHECK_EQ(sys_close((int)qa.out_veventq_fd), 0);
    moat_iommufd_close(ctx);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova, v, 1, false), -1);      /* blocked again */
    CHECK_EQ(M.violations, 0);
    CHECK_EQ(U.nr_cmdq_errors, 0);
}
