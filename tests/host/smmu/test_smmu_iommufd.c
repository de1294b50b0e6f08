/* The SMMUv3 driver under the native IOMMUFD object layer, against the model of the unit: the
 * IOAS narrows around the software MSI window as Linux's does on arm64, GET_HW_INFO answers with
 * the SMMUv3 type and ID registers, and DMA through an IOAS mapping moves the right bytes. */
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
    mock_smmu_prepare(&M, &U);
    MOAT_ASSERT(smmu_unit_init(&U) == 0);
    iommu_register_unit(&U.iu);
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
