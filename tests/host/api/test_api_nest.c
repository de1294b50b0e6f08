/* Nesting through a vIOMMU over the strict mock (its unit 0 makes Arm SMMUv3 vIOMMUs through
 * the SMMUv3 driver's nesting code): IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC, nested HWPTs from
 * IOMMU_HWPT_DATA_ARM_SMMUV3 (every STE bit a program may not set refused with -EIO),
 * IOMMU_HWPT_INVALIDATE on the vIOMMU (every opcode; VMID forced, virtual StreamIDs translated,
 * Linux's count on partial failure), IOMMU_VEVENTQ_ALLOC and its read format with overflow,
 * destroy rules and teardown in every order, natively and through the ioctl face. */
#include "iommu/arm-smmu-v3/smmu_hw.h"
#include "kernel/fd.h"
#include "iommu/arm-smmu-v3/nested.h"
#include "tests/host/api/api_util.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define UP(p) ((__u64)(uintptr_t)(p))
#define VSID 0x42                       /* the program's name for api_devs[0] */
#define VSID3 0x43                      /* ... and for api_devs[3] */
#define CD_IPA 0x7000000ULL             /* where the program put its CD (a stage-2 IPA) */

static const uint64_t ste_s1[2] = { STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_S1) | CD_IPA,
                                    FIELD_PREP(STE1_S1CIR, 1) | FIELD_PREP(STE1_S1COR, 1) |
                                    FIELD_PREP(STE1_S1CSH, 3) };

struct nest {
    struct moat_iommufd *ctx;
    uint32_t ioas, dev, dev3, par, viommu, vdev, nested;
    struct iommu_viommu *v;
};

static int nested_alloc(struct nest *n, const void *ste, uint32_t len, uint32_t type,
                        uint32_t flags, uint32_t *out)
{
    struct moat_hwpt_alloc a = { .dev_id = n->dev, .pt_id = n->viommu, .data = ste,
                                 .data_len = len, .data_type = type, .flags = flags };
    return moat_hwpt_alloc(n->ctx, &a, out);
}

/* IOAS, device 0 and 3, a NEST_PARENT HWPT, a vIOMMU, device 0's vDEVICE. */
static void nest_setup(struct nest *n)
{
    memset(n, 0, sizeof(*n));
    REQUIRE(moat_iommufd_open(&n->ctx) == 0);
    REQUIRE(moat_ioas_alloc(n->ctx, 0, &n->ioas) == 0);
    REQUIRE(moat_device_bind(n->ctx, &api_devs[0], &n->dev) == 0);
    REQUIRE(moat_device_bind(n->ctx, &api_devs[3], &n->dev3) == 0);
    struct moat_hwpt_alloc a = { .dev_id = n->dev, .pt_id = n->ioas,
                                 .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
    REQUIRE(moat_hwpt_alloc(n->ctx, &a, &n->par) == 0);
    REQUIRE(moat_viommu_alloc(n->ctx, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, n->dev, n->par,
                              &n->viommu) == 0);
    n->v = viommu_get(n->ctx, n->viommu)->v;
    REQUIRE(moat_vdevice_alloc(n->ctx, n->viommu, n->dev, VSID, &n->vdev) == 0);
}

/* nest_setup, then a nested HWPT with device 0 attached and a vEVENTQ (*q). */
static void nest_setup_all(struct nest *n, uint32_t *q)
{
    uint32_t pt;
    nest_setup(n);
    REQUIRE(nested_alloc(n, ste_s1, sizeof(ste_s1), IOMMU_HWPT_DATA_ARM_SMMUV3, 0,
                         &n->nested) == 0);
    REQUIRE(moat_veventq_alloc(n->ctx, 0, n->viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, q) == 0);
    pt = n->nested;
    REQUIRE(moat_device_attach(n->ctx, n->dev, &pt) == 0);
}

TEST(viommu_alloc_checks)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    uint32_t ioas, dev, dev4, plain, par, par4, v, x;
    const uint32_t T = IOMMU_VIOMMU_TYPE_ARM_SMMUV3;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    REQUIRE(moat_ioas_alloc(ctx, 0, &ioas) == 0);
    REQUIRE(moat_device_bind(ctx, &api_devs[0], &dev) == 0);
    REQUIRE(moat_device_bind(ctx, &api_devs[4], &dev4) == 0);
    struct moat_hwpt_alloc a = { .dev_id = dev, .pt_id = ioas };
    REQUIRE(moat_hwpt_alloc(ctx, &a, &plain) == 0);
    a.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
    REQUIRE(moat_hwpt_alloc(ctx, &a, &par) == 0);
    a.dev_id = dev4;
    REQUIRE(moat_hwpt_alloc(ctx, &a, &par4) == 0);
    CHECK_EQ(moat_viommu_alloc(ctx, 1, T, dev, par, &x), -EOPNOTSUPP);     /* flags */
    CHECK_EQ(moat_viommu_alloc(ctx, 0, IOMMU_VIOMMU_TYPE_DEFAULT, dev, par, &x), -EOPNOTSUPP);
    CHECK_EQ(moat_viommu_alloc(ctx, 0, T, 999, par, &x), -ENOENT);
    CHECK_EQ(moat_viommu_alloc(ctx, 0, T, dev4, par4, &x), -EOPNOTSUPP);   /* unit: none */
    CHECK_EQ(moat_viommu_alloc(ctx, 0, T, dev, ioas, &x), -ENOENT);        /* not an HWPT */
    CHECK_EQ(moat_viommu_alloc(ctx, 0, T, dev, 999, &x), -ENOENT);
    CHECK_EQ(moat_viommu_alloc(ctx, 0, T, dev, plain, &x), -EINVAL);       /* not a parent */
    CHECK_EQ(moat_viommu_alloc(ctx, 0, 2, dev, par, &x), -EOPNOTSUPP);     /* Tegra CMDQV */
    CHECK_EQ(moat_viommu_alloc(ctx, 0, T, dev, par4, &x), -EINVAL);        /* other unit */
    CHECK_EQ(moat_viommu_alloc(ctx, 0, T, dev, par, &v), 0);
    CHECK_EQ(mock_live_viommus(), 1);
    CHECK_EQ(moat_iommufd_destroy(ctx, par), -EBUSY);                      /* the vIOMMU's */
    CHECK_EQ(moat_iommufd_destroy(ctx, v), 0);
    CHECK_EQ(moat_iommufd_destroy(ctx, v), -ENOENT);
    CHECK_EQ(mock_live_viommus(), 0);
    CHECK_EQ(moat_iommufd_destroy(ctx, par), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(vdevice_alloc_checks)
{
    struct api_base b;
    api_setup(&b);
    struct nest n;
    uint32_t x, dev4, v2;
    nest_setup(&n);
    REQUIRE(moat_device_bind(n.ctx, &api_devs[4], &dev4) == 0);
    CHECK_EQ(moat_vdevice_alloc(n.ctx, 999, n.dev3, 1, &x), -ENOENT);
    CHECK_EQ(moat_vdevice_alloc(n.ctx, n.par, n.dev3, 1, &x), -ENOENT);  /* not a vIOMMU */
    CHECK_EQ(moat_vdevice_alloc(n.ctx, n.viommu, 999, 1, &x), -ENOENT);
    CHECK_EQ(moat_vdevice_alloc(n.ctx, n.viommu, dev4, 1, &x), -EINVAL); /* another unit */
    CHECK_EQ(moat_vdevice_alloc(n.ctx, n.viommu, n.dev3, VSID, &x), -EEXIST);  /* its ID */
    CHECK_EQ(moat_vdevice_alloc(n.ctx, n.viommu, n.dev, 7, &x), -EEXIST);      /* one each */
    CHECK(iommu_viommu_dev(n.v, VSID) == &api_devs[0]);
    CHECK(iommu_viommu_dev(n.v, 7) == NULL);
    /* A second vIOMMU on the same parent takes the same device under another ID. */
    CHECK_EQ(moat_viommu_alloc(n.ctx, 0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, n.dev, n.par, &v2), 0);
    CHECK_EQ(moat_vdevice_alloc(n.ctx, v2, n.dev, 9, &x), 0);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, v2), -EBUSY);                  /* its vDEVICE */
    CHECK_EQ(moat_iommufd_destroy(n.ctx, x), 0);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, v2), 0);
    /* Destroying a vDEVICE frees its ID; unbinding a device takes its vDEVICE along. */
    CHECK_EQ(moat_iommufd_destroy(n.ctx, n.viommu), -EBUSY);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, n.vdev), 0);
    CHECK_EQ(moat_vdevice_alloc(n.ctx, n.viommu, n.dev3, VSID, &x), 0);
    CHECK_EQ(moat_device_unbind(n.ctx, n.dev3), 0);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, x), -ENOENT);
    CHECK(iommu_viommu_dev(n.v, VSID) == NULL);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, n.viommu), 0);
    moat_iommufd_close(n.ctx);
    API_CLEAN(&b);
}

/* Every bit of STE words 0 and 1 outside what Linux lets a program set is -EIO, alone; the
 * allowed fields are taken, Config only abort/bypass/stage-1, EATS only 0/1 (and cleared). */
TEST(nested_ste_fields)
{
    struct api_base b;
    api_setup(&b);
    struct nest n;
    uint32_t h;
    nest_setup(&n);
    const uint32_t D = IOMMU_HWPT_DATA_ARM_SMMUV3;
    unsigned refused = 0;
    for (unsigned w = 0; w < 2; w++) {
        for (unsigned bit = 0; bit < 64; bit++) {
            uint64_t ste[2] = { ste_s1[0], ste_s1[1] };
            uint64_t m = 1ULL << bit;
            if (smmu_vste_allowed[w] & m)
                continue;
            ste[w] |= m;
            CHECK_EQ(nested_alloc(&n, ste, sizeof(ste), D, 0, &h), -EIO);
            refused++;
        }
    }
    CHECK_EQ(refused, 128 - 57 - 11);       /* 57 + 11 bits of allowed fields */
    CHECK_EQ(mock_live_domains(), 1);       /* the parent only: nothing was made */
    for (unsigned cfg = 0; cfg < 8; cfg++) {
        uint64_t ste[2] = { STE0_V | FIELD_PREP(STE0_CONFIG, cfg), 0 };
        bool ok = cfg == STE_CFG_ABORT || cfg == STE_CFG_BYPASS || cfg == STE_CFG_S1;
        int err = nested_alloc(&n, ste, sizeof(ste), D, 0, &h);
        CHECK_EQ(err, ok ? 0 : -EIO);
        if (!err)
            CHECK_EQ(moat_iommufd_destroy(n.ctx, h), 0);
    }
    for (unsigned eats = 0; eats < 4; eats++) {
        uint64_t ste[2] = { ste_s1[0], ste_s1[1] | FIELD_PREP(STE1_EATS, eats) };
        int err = nested_alloc(&n, ste, sizeof(ste), D, 0, &h);
        CHECK_EQ(err, eats < 2 ? 0 : -EIO);
        if (!err) {
            uint32_t pt = h;
            CHECK_EQ(moat_device_attach(n.ctx, n.dev, &pt), 0);
            const uint64_t *got = mock_nested_ste(iommu_dev_domain(&api_devs[0]));
            REQUIRE(got);
            CHECK_EQ(got[0], ste_s1[0]);
            CHECK_EQ(got[1], ste_s1[1]);                    /* EATS is the driver's */
            CHECK_EQ(moat_device_detach(n.ctx, n.dev), 0);
            CHECK_EQ(moat_iommufd_destroy(n.ctx, h), 0);
        }
    }
    /* V clear: anything else is ignored and the STE becomes all zero (abort). */
    uint64_t inval[2] = { ~STE0_V, ~0ULL };
    CHECK_EQ(nested_alloc(&n, inval, sizeof(inval), D, 0, &h), 0);
    uint32_t pt = h;
    CHECK_EQ(moat_device_attach(n.ctx, n.dev, &pt), 0);
    const uint64_t *got = mock_nested_ste(iommu_dev_domain(&api_devs[0]));
    CHECK(got && got[0] == 0 && got[1] == 0);
    CHECK_EQ(moat_device_detach(n.ctx, n.dev), 0);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, h), 0);
    /* Sizes, type and flags. */
    uint64_t longer[3] = { ste_s1[0], ste_s1[1], 0 };
    CHECK_EQ(nested_alloc(&n, longer, 24, D, 0, &h), 0);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, h), 0);
    longer[2] = 1;
    CHECK_EQ(nested_alloc(&n, longer, 24, D, 0, &h), -E2BIG);
    CHECK_EQ(nested_alloc(&n, ste_s1, 8, D, 0, &h), -EINVAL);
    CHECK_EQ(nested_alloc(&n, ste_s1, sizeof(ste_s1), IOMMU_HWPT_DATA_VTD_S1, 0, &h), -EINVAL);
    CHECK_EQ(nested_alloc(&n, ste_s1, sizeof(ste_s1), IOMMU_HWPT_DATA_NONE, 0, &h), -EINVAL);
    CHECK_EQ(nested_alloc(&n, ste_s1, sizeof(ste_s1), D, IOMMU_HWPT_ALLOC_NEST_PARENT, &h),
             -EOPNOTSUPP);
    CHECK_EQ(nested_alloc(&n, ste_s1, sizeof(ste_s1), D, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &h),
             -EOPNOTSUPP);
    /* A device of another unit cannot use the vIOMMU. */
    uint32_t dev4;
    REQUIRE(moat_device_bind(n.ctx, &api_devs[4], &dev4) == 0);
    struct moat_hwpt_alloc o = { .dev_id = dev4, .pt_id = n.viommu, .data = ste_s1,
                                 .data_len = sizeof(ste_s1), .data_type = D };
    CHECK_EQ(moat_hwpt_alloc(n.ctx, &o, &h), -EINVAL);
    /* SMMUv3 data on a plain NEST_PARENT HWPT is the unit's nested_parse's (VT-d): refused. */
    struct moat_hwpt_alloc a = { .dev_id = n.dev, .pt_id = n.par, .data = ste_s1,
                                 .data_len = sizeof(ste_s1), .data_type = D };
    CHECK_EQ(moat_hwpt_alloc(n.ctx, &a, &h), -EOPNOTSUPP);
    CHECK_EQ(mock_live_domains(), 1);
    moat_iommufd_close(n.ctx);
    API_CLEAN(&b);
}

/* Attach and replace between blocked, the parent (paging), nested and nested again, each one
 * driver call (a replace, no blocked step between). */
TEST(nested_attach_replace)
{
    struct api_base b;
    api_setup(&b);
    struct nest n;
    uint32_t h1, h2, pt;
    nest_setup(&n);
    uint8_t *buf = api_pages(1);
    uint64_t iova = 0x100000;
    CHECK_EQ(moat_ioas_map(n.ctx, n.ioas, RW | IOMMU_IOAS_MAP_FIXED_IOVA, buf, 4096, &iova), 0);
    const uint32_t D = IOMMU_HWPT_DATA_ARM_SMMUV3;
    CHECK_EQ(nested_alloc(&n, ste_s1, sizeof(ste_s1), D, 0, &h1), 0);
    uint64_t byp[2] = { STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_BYPASS), 0 };
    CHECK_EQ(nested_alloc(&n, byp, sizeof(byp), D, 0, &h2), 0);
    uint64_t at = mock_stats.attach_calls;
    pt = h1;
    CHECK_EQ(moat_device_attach(n.ctx, n.dev, &pt), 0);
    CHECK_EQ(mock_nested_ste(iommu_dev_domain(&api_devs[0]))[0], ste_s1[0]);
    pt = n.par;
    CHECK_EQ(moat_device_replace(n.ctx, n.dev, &pt), 0);
    CHECK_EQ(api_xlate(&api_devs[0], 0x100000), (uint64_t)(uintptr_t)buf);
    pt = h2;
    CHECK_EQ(moat_device_replace(n.ctx, n.dev, &pt), 0);
    CHECK_EQ(mock_nested_ste(iommu_dev_domain(&api_devs[0]))[0], byp[0]);
    pt = h1;
    CHECK_EQ(moat_device_replace(n.ctx, n.dev, &pt), 0);
    CHECK_EQ(mock_stats.attach_calls, at + 4);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, h1), -EBUSY);              /* attached */
    CHECK_EQ(moat_iommufd_destroy(n.ctx, n.viommu), -EBUSY);        /* nested HWPTs on it */
    CHECK_EQ(moat_iommufd_destroy(n.ctx, n.par), -EBUSY);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, h2), 0);
    CHECK_EQ(moat_device_detach(n.ctx, n.dev), 0);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, h1), 0);
    moat_iommufd_close(n.ctx);
    API_CLEAN(&b);
}

static int invalidate(struct nest *n, uint32_t id, const void *cmds, uint32_t len, uint32_t *num)
{
    return moat_hwpt_invalidate(n->ctx, id, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, cmds, len,
                                num);
}

/* Every opcode: the eight Linux passes on are converted (VMID forced over whatever the program
 * wrote, NSNH_ALL narrowed to NH_ALL of the VMID, virtual StreamIDs made physical), every other
 * one is -EIO with nothing done. */
TEST(viommu_invalidate_commands)
{
    struct api_base b;
    api_setup(&b);
    struct nest n;
    uint32_t num;
    nest_setup(&n);
    const uint64_t vmid = mock_viommu_vmid(n.v);
    const uint64_t rid0 = 0x08;                             /* api_devs[0]: bus 0, devfn 8 */
    unsigned passed = 0;
    for (unsigned op = 0; op < 256; op++) {
        bool sid = op == CMD_CFGI_CD || op == CMD_CFGI_CD_ALL || op == 0x40;
        uint64_t c[2] = { op | (sid ? FIELD_PREP(CMD0_SID, VSID)
                                    : FIELD_PREP(CMD0_VMID, 0xbeef) | FIELD_PREP(CMD0_ASID, 5)),
                          0x123000 };
        mock_cmd_log_reset();
        num = 1;
        int err = invalidate(&n, n.viommu, c, sizeof(c), &num);
        switch (op) {
        case CMD_TLBI_NH_ALL:
        case CMD_TLBI_NH_ASID:
        case CMD_TLBI_NH_VA:
        case CMD_TLBI_NH_VAA:
            CHECK_EQ(err, 0);
            CHECK_EQ(num, 1);
            CHECK_EQ(mock_stats.cmds[0][0], (c[0] & ~CMD0_VMID) | FIELD_PREP(CMD0_VMID, vmid));
            CHECK_EQ(mock_stats.cmds[0][1], c[1]);
            passed++;
            break;
        case CMD_TLBI_NSNH_ALL:
            CHECK_EQ(err, 0);
            CHECK_EQ(mock_stats.cmds[0][0], CMD_TLBI_NH_ALL | FIELD_PREP(CMD0_VMID, vmid));
            CHECK_EQ(mock_stats.cmds[0][1], 0);
            passed++;
            break;
        case CMD_CFGI_CD:
        case CMD_CFGI_CD_ALL:
        case 0x40:                                          /* ATC_INV */
            CHECK_EQ(err, 0);
            CHECK_EQ(mock_stats.cmds[0][0], (c[0] & ~CMD0_SID) | FIELD_PREP(CMD0_SID, rid0));
            CHECK_EQ(mock_stats.cmds[0][1], c[1]);
            passed++;
            break;
        default:
            CHECK_EQ(err, -EIO);
            CHECK_EQ(num, 0);
            CHECK_EQ(mock_stats.nr_cmds, 0);
        }
    }
    CHECK_EQ(passed, 8);
    moat_iommufd_close(n.ctx);
    API_CLEAN(&b);
}

TEST(viommu_invalidate_protocol)
{
    struct api_base b;
    api_setup(&b);
    struct nest n;
    uint32_t num;
    nest_setup(&n);
    const uint64_t nh_all = CMD_TLBI_NH_ALL, cd = CMD_CFGI_CD | FIELD_PREP(CMD0_SID, VSID);
    /* Partial failure: the good ones before the bad one are done and counted. */
    uint64_t c[5][2] = { { nh_all, 0 }, { cd, 0 }, { CMD_CFGI_STE, 0 }, { nh_all, 0 },
                         { nh_all, 0 } };
    mock_cmd_log_reset();
    num = 5;
    CHECK_EQ(invalidate(&n, n.viommu, c, 16, &num), -EIO);
    CHECK_EQ(num, 2);
    CHECK_EQ(mock_stats.nr_cmds, 2);
    /* A virtual StreamID without a vDEVICE is -EIO there. */
    c[2][0] = CMD_CFGI_CD_ALL | FIELD_PREP(CMD0_SID, VSID3);
    mock_cmd_log_reset();
    num = 5;
    CHECK_EQ(invalidate(&n, n.viommu, c, 16, &num), -EIO);
    CHECK_EQ(num, 2);
    c[2][0] = nh_all;
    mock_cmd_log_reset();
    num = 5;
    CHECK_EQ(invalidate(&n, n.viommu, c, 16, &num), 0);
    CHECK_EQ(num, 5);
    CHECK_EQ(mock_stats.nr_cmds, 5);
    /* A unit that fails the batch: the error, nothing counted. */
    mock_fail_issue(-ETIMEDOUT);
    num = 5;
    CHECK_EQ(invalidate(&n, n.viommu, c, 16, &num), -ETIMEDOUT);
    CHECK_EQ(num, 0);
    /* Many commands: issued in batches, all counted; a bad one at 70 stops at 70. */
    static uint64_t many[100][2];
    for (int i = 0; i < 100; i++)
        many[i][0] = nh_all;
    mock_cmd_log_reset();
    num = 100;
    CHECK_EQ(invalidate(&n, n.viommu, many, 16, &num), 0);
    CHECK_EQ(num, 100);
    CHECK_EQ(mock_stats.nr_cmds, 100);
    CHECK(mock_stats.issue_calls >= 2 && mock_stats.issue_calls <= 4);
    many[70][0] = 0x99;
    mock_cmd_log_reset();
    num = 100;
    CHECK_EQ(invalidate(&n, n.viommu, many, 16, &num), -EIO);
    CHECK_EQ(num, 70);
    CHECK_EQ(mock_stats.nr_cmds, 70);
    many[70][0] = nh_all;
    /* Entry sizes: shorter entries are zero-extended, longer ones must be zero beyond 16
     * bytes (checked for every entry before anything is done). */
    uint64_t wide[3][3] = { { nh_all, 0, 0 }, { nh_all, 0, 0 }, { nh_all, 0, 1 } };
    mock_cmd_log_reset();
    num = 3;
    CHECK_EQ(invalidate(&n, n.viommu, wide, 24, &num), -E2BIG);
    CHECK_EQ(num, 0);
    CHECK_EQ(mock_stats.nr_cmds, 0);
    wide[2][2] = 0;
    num = 3;
    CHECK_EQ(invalidate(&n, n.viommu, wide, 24, &num), 0);
    CHECK_EQ(num, 3);
    uint64_t narrow[2] = { nh_all, nh_all };
    num = 2;
    CHECK_EQ(invalidate(&n, n.viommu, narrow, 8, &num), 0);
    CHECK_EQ(num, 2);
    /* Type, count and object. */
    num = 1;
    CHECK_EQ(moat_hwpt_invalidate(n.ctx, n.viommu, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, c, 16, &num),
             -EINVAL);
    CHECK_EQ(num, 0);
    num = 0;
    CHECK_EQ(invalidate(&n, n.viommu, c, 16, &num), -EINVAL);      /* the driver's rule */
    num = 1;
    CHECK_EQ(invalidate(&n, n.par, c, 16, &num), -EINVAL);         /* a paging HWPT */
    num = 1;
    CHECK_EQ(invalidate(&n, 999, c, 16, &num), -ENOENT);
    num = 1;
    CHECK_EQ(invalidate(&n, n.viommu, NULL, 16, &num), -EINVAL);
    moat_iommufd_close(n.ctx);
    API_CLEAN(&b);
}

static void evt_make(uint64_t evt[4], unsigned id, uint32_t sid, bool s2)
{
    evt[0] = id | FIELD_PREP(EVT0_SID, sid);
    evt[1] = EVT1_RNW | (s2 ? EVT1_S2 : 0);
    evt[2] = 0xabc000;
    evt[3] = 0;
}

TEST(veventq_events_and_overflow)
{
    struct api_base b;
    api_setup(&b);
    struct nest n;
    uint32_t q, x, h, pt;
    nest_setup(&n);
    const uint32_t T = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3;
    CHECK_EQ(moat_veventq_alloc(n.ctx, 1, n.viommu, T, 2, &x), -EOPNOTSUPP);
    CHECK_EQ(moat_veventq_alloc(n.ctx, 0, n.viommu, IOMMU_VEVENTQ_TYPE_DEFAULT, 2, &x),
             -EOPNOTSUPP);
    CHECK_EQ(moat_veventq_alloc(n.ctx, 0, n.viommu, T, 0, &x), -EINVAL);
    CHECK_EQ(moat_veventq_alloc(n.ctx, 0, 999, T, 2, &x), -ENOENT);
    CHECK_EQ(moat_veventq_alloc(n.ctx, 0, n.viommu, T, 2, &q), 0);
    CHECK_EQ(moat_veventq_alloc(n.ctx, 0, n.viommu, T, 2, &x), -EEXIST);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, n.viommu), -EBUSY);
    CHECK_EQ(nested_alloc(&n, ste_s1, sizeof(ste_s1), IOMMU_HWPT_DATA_ARM_SMMUV3, 0, &h), 0);
    pt = h;
    CHECK_EQ(moat_device_attach(n.ctx, n.dev, &pt), 0);
    uint64_t evt[4];
    const uint32_t rid0 = 0x08;
    /* Stage-2 faults and kinds Linux keeps are not forwarded (moat's fault path takes them). */
    evt_make(evt, EVT_F_TRANSLATION, rid0, true);
    CHECK_EQ(mock_smmu_event(&api_devs[0], evt), -EOPNOTSUPP);
    evt_make(evt, EVT_F_WALK_EABT, rid0, false);
    CHECK_EQ(mock_smmu_event(&api_devs[0], evt), -EOPNOTSUPP);
    CHECK_EQ(moat_veventq_readable(n.ctx, q), 0);
    uint8_t buf[256];
    CHECK_EQ(moat_veventq_read(n.ctx, q, buf, sizeof(buf)), 0);
    /* A stage-1 fault: the record, its StreamID the virtual one. */
    evt_make(evt, EVT_F_TRANSLATION, rid0, false);
    CHECK_EQ(mock_smmu_event(&api_devs[0], evt), 0);
    CHECK_EQ(moat_veventq_readable(n.ctx, q), 1);
    const size_t one = sizeof(struct iommufd_vevent_header) + sizeof(struct iommu_vevent_arm_smmuv3);
    CHECK_EQ(moat_veventq_read(n.ctx, q, buf, one - 1), 0);            /* whole events only */
    CHECK_EQ(moat_veventq_read(n.ctx, q, buf, sizeof(buf)), (long)one);
    struct iommufd_vevent_header hdr;
    struct iommu_vevent_arm_smmuv3 ve;
    memcpy(&hdr, buf, sizeof(hdr));
    memcpy(&ve, buf + sizeof(hdr), sizeof(ve));
    CHECK_EQ(hdr.flags, 0);
    CHECK_EQ(hdr.sequence, 0);
    CHECK_EQ(FIELD_GET(EVT0_SID, ve.evt[0]), VSID);
    CHECK_EQ(FIELD_GET(EVT0_ID, ve.evt[0]), EVT_F_TRANSLATION);
    CHECK_EQ(ve.evt[1], evt[1]);
    CHECK_EQ(ve.evt[2], evt[2]);
    /* Overflow: depth 2, four events: two, then one LOST_EVENTS header; the next event's
     * sequence number shows the gap. */
    for (int i = 0; i < 4; i++) {
        evt[2] = 0x1000 * (i + 1);
        CHECK_EQ(mock_smmu_event(&api_devs[0], evt), 0);
    }
    uint64_t lost;
    CHECK_EQ(moat_veventq_lost(n.ctx, q, &lost), 0);
    CHECK_EQ(lost, 2);
    CHECK_EQ(moat_veventq_read(n.ctx, q, buf, sizeof(buf)), (long)(2 * one + sizeof(hdr)));
    memcpy(&hdr, buf, sizeof(hdr));
    CHECK_EQ(hdr.sequence, 1);
    memcpy(&ve, buf + sizeof(hdr), sizeof(ve));
    CHECK_EQ(ve.evt[2], 0x1000);
    memcpy(&hdr, buf + one, sizeof(hdr));
    CHECK_EQ(hdr.sequence, 2);
    memcpy(&hdr, buf + 2 * one, sizeof(hdr));
    CHECK_EQ(hdr.flags, IOMMU_VEVENTQ_FLAG_LOST_EVENTS);
    CHECK_EQ(hdr.sequence, 3);
    CHECK_EQ(moat_veventq_readable(n.ctx, q), 0);
    CHECK_EQ(mock_smmu_event(&api_devs[0], evt), 0);
    CHECK_EQ(moat_veventq_read(n.ctx, q, buf, sizeof(buf)), (long)one);
    memcpy(&hdr, buf, sizeof(hdr));
    CHECK_EQ(hdr.sequence, 4);
    /* A LOST_EVENTS header still unread gives way to a later event. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(mock_smmu_event(&api_devs[0], evt), 0);
    CHECK_EQ(moat_veventq_read(n.ctx, q, buf, one), (long)one);        /* seq 5 */
    CHECK_EQ(mock_smmu_event(&api_devs[0], evt), 0);                   /* replaces LOST(7) */
    CHECK_EQ(moat_veventq_read(n.ctx, q, buf, sizeof(buf)), (long)(2 * one));
    memcpy(&hdr, buf + one, sizeof(hdr));
    CHECK_EQ(hdr.flags, 0);
    CHECK_EQ(hdr.sequence, 8);
    /* No vDEVICE: not forwarded. */
    CHECK_EQ(moat_iommufd_destroy(n.ctx, n.vdev), 0);
    CHECK_EQ(mock_smmu_event(&api_devs[0], evt), -ENOENT);
    CHECK_EQ(moat_veventq_readable(n.ctx, q), 0);
    CHECK_EQ(moat_iommufd_destroy(n.ctx, q), 0);
    CHECK_EQ(moat_device_detach(n.ctx, n.dev), 0);
    moat_iommufd_close(n.ctx);
    API_CLEAN(&b);
}

/* The five nesting objects and an attached device, destroyed in every order (each destroy
 * -EBUSY exactly while something still uses the object, then retried), and the device unbound
 * at every point; then the context closes clean. */
TEST(teardown_every_order)
{
    struct api_base b;
    api_setup(&b);
    enum { PAR, VIOMMU, VDEV, NESTED, VEVQ, UNBIND, NOBJ };
    int perm[NOBJ] = { 0, 1, 2, 3, 4, 5 };
    unsigned orders = 0;
    for (;;) {
        struct nest n;
        uint32_t q;
        nest_setup_all(&n, &q);
        const uint32_t id[NOBJ] = { n.par, n.viommu, n.vdev, n.nested, q, n.dev };
        bool gone[NOBJ] = { false };
        for (int round = 0; round < NOBJ; round++) {
            for (int i = 0; i < NOBJ; i++) {
                int o = perm[i];
                if (gone[o])
                    continue;
                /* Who still holds o: */
                bool busy = (o == PAR && !gone[VIOMMU]) ||
                            (o == VIOMMU && (!gone[VDEV] || !gone[NESTED] || !gone[VEVQ])) ||
                            (o == NESTED && !gone[UNBIND]);
                int err = o == UNBIND ? moat_device_unbind(n.ctx, id[o])
                                      : moat_iommufd_destroy(n.ctx, id[o]);
                if (o == UNBIND && !gone[VDEV]) {
                    gone[VDEV] = true;          /* the device takes its vDEVICE along */
                    CHECK_EQ(moat_iommufd_destroy(n.ctx, id[VDEV]), -ENOENT);
                }
                CHECK_EQ(err, busy ? -EBUSY : 0);
                if (!err)
                    gone[o] = true;
            }
        }
        for (int o = 0; o < NOBJ; o++)
            CHECK(gone[o]);
        moat_iommufd_close(n.ctx);
        API_CLEAN(&b);
        orders++;
        /* next permutation */
        int i = NOBJ - 2;
        while (i >= 0 && perm[i] > perm[i + 1])
            i--;
        if (i < 0)
            break;
        int j = NOBJ - 1;
        while (perm[j] < perm[i])
            j--;
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        for (int l = i + 1, r = NOBJ - 1; l < r; l++, r--) {
            t = perm[l];
            perm[l] = perm[r];
            perm[r] = t;
        }
    }
    CHECK_EQ(orders, 720);
    /* And a close with everything live. */
    struct nest n;
    uint32_t q;
    nest_setup_all(&n, &q);
    moat_iommufd_close(n.ctx);
    API_CLEAN(&b);
}

/* The same through the ioctl face: sizes, the vEVENTQ descriptor, the count Linux reports. */
TEST(ioctl_face)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    uint32_t dev;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    struct iommu_ioas_alloc al = { .size = sizeof(al) };
    REQUIRE(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &al) == 0);
    REQUIRE(moat_device_bind(ctx, &api_devs[0], &dev) == 0);
    struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .dev_id = dev, .pt_id = al.out_ioas_id,
                                   .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
    REQUIRE(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &ha) == 0);
    /* 6.16's longer vIOMMU structure: zeros beyond 6.13's end are fine, data is not. */
    struct {
        struct iommu_viommu_alloc a;
        uint32_t data_len, reserved;
        uint64_t data_uptr;
    } va;
    memset(&va, 0, sizeof(va));
    va.a = (struct iommu_viommu_alloc){ .size = sizeof(va), .type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
                                        .dev_id = dev, .hwpt_id = ha.out_hwpt_id };
    va.data_len = 8;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VIOMMU_ALLOC, &va), -E2BIG);
    va.data_len = 0;
    va.a.size = 20;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VIOMMU_ALLOC, &va), -EINVAL);
    va.a.size = sizeof(va);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VIOMMU_ALLOC, &va), 0);
    uint32_t viommu = va.a.out_viommu_id;
    CHECK(viommu != 0);
    struct iommu_vdevice_alloc vd = { .size = sizeof(vd), .viommu_id = viommu, .dev_id = dev,
                                      .virt_id = VSID };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VDEVICE_ALLOC, &vd), 0);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VDEVICE_ALLOC, &vd), -EEXIST);
    struct iommu_hwpt_arm_smmuv3 ste = { { ste_s1[0], ste_s1[1] } };
    struct iommu_hwpt_alloc hn = { .size = sizeof(hn), .dev_id = dev, .pt_id = viommu,
                                   .data_type = IOMMU_HWPT_DATA_ARM_SMMUV3,
                                   .data_len = sizeof(ste), .data_uptr = UP(&ste) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &hn), 0);
    ste.ste[1] |= STE1_STRW;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_ALLOC, &hn), -EIO);
    uint32_t pt = hn.out_hwpt_id;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    struct iommu_veventq_alloc qa = { .size = sizeof(qa), .viommu_id = viommu,
                                      .type = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
                                      .veventq_depth = 8, .__reserved = 1 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VEVENTQ_ALLOC, &qa), -EOPNOTSUPP);
    qa.__reserved = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VEVENTQ_ALLOC, &qa), 0);
    uint64_t evt[4];
    evt_make(evt, EVT_F_PERMISSION, 0x08, false);
    CHECK_EQ(mock_smmu_event(&api_devs[0], evt), 0);
    uint8_t buf[64];
    CHECK_EQ(sys_read((int)qa.out_veventq_fd, buf, sizeof(buf)), 40);
    struct iommu_vevent_arm_smmuv3 ve;
    memcpy(&ve, buf + 8, sizeof(ve));
    CHECK_EQ(FIELD_GET(EVT0_SID, ve.evt[0]), VSID);
    CHECK_EQ(sys_read((int)qa.out_veventq_fd, buf, sizeof(buf)), 0);
    struct iommu_destroy d = { .size = sizeof(d), .id = qa.out_veventq_id };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), -EBUSY);      /* the descriptor */
    /* Invalidation through the vIOMMU: the count comes back on partial failure. */
    uint64_t cmds[3][2] = { { CMD_TLBI_NH_ASID, 0 }, { CMD_TLBI_S2_IPA, 0 }, { 0, 0 } };
    struct iommu_hwpt_invalidate inv = { .size = sizeof(inv), .hwpt_id = viommu,
                                         .data_uptr = UP(cmds),
                                         .data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                                         .entry_len = 16, .entry_num = 3 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_HWPT_INVALIDATE, &inv), -EIO);
    CHECK_EQ(inv.entry_num, 1);
    CHECK_EQ(sys_close((int)qa.out_veventq_fd), 0);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}
