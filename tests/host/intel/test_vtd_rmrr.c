/* RMRRs per device, on parsed DMAR tables over a model PCI tree: which functions each RMRR
 * concerns (the named endpoint, functions below a named bridge, functions whose DMA alias is
 * named), the 1:1 mappings the core makes in every kernel paging domain of such a device (all
 * or nothing), the blocked domain refused to it, and the object layer's refusal to bind it or
 * its group (Linux's require_direct, -EINVAL). QEMU's intel-iommu emits no RMRR, so these
 * tests are the coverage. The unit is the strict mock, asking vtd_rmrr_regions per device. */
#include <stdlib.h>

#include "iommu/intel/rmrr.h"
#include "iommu/intel/vtd_hw.h"
#include "lib/errno.h"
#include "moat/iommufd.h"
#include "pci/pci_regs.h"
#include "tests/host/mock_iommu.h"
#include "tests/host/pci/pci_test_util.h"

static uint8_t tbl[4096];
static size_t tlen;
static struct vtd_dmar dmar;
static struct topo topo;

static void put(size_t off, uint64_t v, unsigned n) { memcpy(tbl + off, &v, n); }

static void dmar_begin(void)
{
    memset(tbl, 0, sizeof(tbl));
    memcpy(tbl, "DMAR", 4);
    tbl[DMAR_OFF_HAW] = 38;
    tlen = DMAR_HEADER_LEN;
    size_t o = tlen;                        /* one INCLUDE_PCI_ALL unit on segment 0 */
    put(o, DMAR_TYPE_DRHD, 2);
    put(o + 2, DRHD_LEN, 2);
    tbl[o + DRHD_OFF_FLAGS] = DRHD_FLAG_INCLUDE_PCI_ALL;
    put(o + DRHD_OFF_BASE, 0xfed90000, 8);
    tlen += DRHD_LEN;
}

/* An RMRR [base, base + size) with one scope: start bus, then n (dev, fn) hops. */
static void rmrr(uint64_t base, uint64_t size, unsigned type, uint8_t bus, unsigned n,
                 const uint8_t *path)
{
    size_t o = tlen, slen = SCOPE_HDR_LEN + 2 * n;
    put(o, DMAR_TYPE_RMRR, 2);
    put(o + 2, RMRR_LEN + slen, 2);
    put(o + RMRR_OFF_BASE, base, 8);
    put(o + RMRR_OFF_LIMIT, base + size - 1, 8);
    tbl[o + RMRR_LEN] = (uint8_t)type;
    tbl[o + RMRR_LEN + 1] = (uint8_t)slen;
    tbl[o + RMRR_LEN + SCOPE_OFF_START_BUS] = bus;
    memcpy(tbl + o + RMRR_LEN + SCOPE_HDR_LEN, path, 2 * n);
    tlen += RMRR_LEN + slen;
}

static void dmar_end(void)
{
    put(4, tlen, 4);
    REQUIRE(vtd_dmar_parse(tbl, tlen, &dmar) == 0);
    CHECK_EQ(dmar.nr_rejected, 0);
}

static int dev_resv(void *ctx, struct pci_dev *dev, struct iommu_resv_region *out, unsigned *n,
                    unsigned max)
{
    return vtd_rmrr_regions(&dmar, &topo.sys, dev, out, n, max);
}

#define RMRR_EP 0x7c000000ULL       /* names 00:03.0 */
#define RMRR_BEHIND 0x7d000000ULL   /* names 01:01.0, behind the PCIe-to-PCI bridge */
#define RMRR_USB 0x7e000000ULL      /* names 00:05.0, a USB controller: relaxable */

/* 00:03.0 edu, 00:04.0 PCIe-to-PCI bridge to bus 1 with edus at 01:01.0 and 01:02.0 (one
 * group, and both DMA as 01:00.0), 00:05.0 a USB controller, 00:06.0 an edu nobody names. */
static void topology(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    char err[256];
    topo_begin(&topo);
    REQUIRE(fake_from_qemu_args(&topo.f, "-device edu,addr=03.0\n"
                                         "-device pcie-pci-bridge,id=b,addr=04.0\n"
                                         "-device edu,bus=b,addr=01.0\n"
                                         "-device edu,bus=b,addr=02.0\n"
                                         "-device e1000e,addr=05.0\n"
                                         "-device edu,addr=06.0\n", err, sizeof(err)) == 0);
    for (unsigned i = 0; i < topo.f.n; i++)
        if (topo.f.fns[i].parent == FAKE_ROOT(0) && topo.f.fns[i].devfn == (5 << 3))
            fake_w32(&topo.f, (int)i, PCI_CLASS_REVISION, 0x0c033000u);   /* xHCI */
    REQUIRE(topo_run(&topo) > 0);
    mock_iommu_setup();
    moat_iommufd_set_pci_devs(topo.sys.devs, topo.sys.ndevs);
}

static struct pci_dev *dev(uint8_t bus, uint8_t slot, uint8_t fn)
{
    struct pci_dev *d = pci_get_dev(&topo.sys, 0, bus, (uint8_t)(slot << 3 | fn));
    if (!d)
        abort();
    return d;
}

static void dmar_three(void)
{
    static const uint8_t ep[] = { 3, 0 }, behind[] = { 4, 0, 1, 0 }, usb[] = { 5, 0 };
    dmar_begin();
    rmrr(RMRR_EP, 0x100000, SCOPE_PCI_ENDPOINT, 0, 1, ep);
    rmrr(RMRR_BEHIND, 0x10000, SCOPE_PCI_ENDPOINT, 0, 2, behind);
    rmrr(RMRR_USB, 0x1000, SCOPE_PCI_ENDPOINT, 0, 1, usb);
    dmar_end();
    mock_set_dev_resv(dev_resv, NULL);
}

static unsigned regions(struct pci_dev *d, struct iommu_resv_region *r)
{
    unsigned n = 0;
    if (vtd_rmrr_regions(&dmar, &topo.sys, d, r, &n, IOMMU_MAX_RESV))
        abort();
    return n;
}

static bool mapped_1to1(struct iommu_domain *d, uint64_t a)
{
    uint64_t pa;
    return iommu_iova_to_phys(d, a, &pa) == 0 && pa == a;
}

TEST(each_rmrr_concerns_only_the_devices_it_names)
{
    topology();
    dmar_three();
    struct iommu_resv_region r[IOMMU_MAX_RESV];
    REQUIRE(regions(dev(0, 3, 0), r) == 1);
    CHECK_EQ(r[0].start, RMRR_EP);
    CHECK_EQ(r[0].last, RMRR_EP + 0xfffff);
    CHECK_EQ(r[0].type, IOMMU_RESV_DIRECT);
    CHECK_EQ(r[0].prot, IOMMU_READ | IOMMU_WRITE);
    REQUIRE(regions(dev(1, 1, 0), r) == 1);
    CHECK_EQ(r[0].start, RMRR_BEHIND);
    CHECK_EQ(regions(dev(1, 2, 0), r), 0);      /* its neighbour is not named */
    REQUIRE(regions(dev(0, 5, 0), r) == 1);
    CHECK_EQ(r[0].type, IOMMU_RESV_DIRECT_RELAXABLE);
    CHECK_EQ(regions(dev(0, 6, 0), r), 0);
    CHECK_EQ(regions(dev(0, 4, 0), r), 0);
    /* Through the driver contract: the interrupt window comes from the unit's list. */
    struct iommu_resv_region all[IOMMU_MAX_RESV];
    CHECK_EQ(iommu_resv_regions(dev(0, 6, 0), all, IOMMU_MAX_RESV), 1);
    CHECK_EQ(all[0].type, IOMMU_RESV_MSI);
    CHECK_EQ(iommu_resv_regions(dev(0, 3, 0), all, IOMMU_MAX_RESV), 2);
    CHECK(iommu_dev_require_direct(dev(0, 3, 0)));
    CHECK(!iommu_dev_require_direct(dev(0, 5, 0)));
    CHECK(!iommu_dev_require_direct(dev(0, 6, 0)));
}

TEST(a_named_bridge_or_dma_alias_covers_the_functions_below)
{
    topology();
    static const uint8_t bridge[] = { 4, 0 }, alias[] = { 0, 0 };
    dmar_begin();
    rmrr(0x60000000, 0x1000, SCOPE_PCI_ENDPOINT, 0, 1, bridge);     /* 00:04.0 itself */
    rmrr(0x61000000, 0x1000, SCOPE_PCI_ENDPOINT, 1, 1, alias);      /* RID 01:00.0 */
    dmar_end();
    struct iommu_resv_region r[IOMMU_MAX_RESV];
    for (uint8_t slot = 1; slot <= 2; slot++) {
        REQUIRE(regions(dev(1, slot, 0), r) == 2);
        CHECK_EQ(r[0].start, 0x60000000);
        CHECK_EQ(r[1].start, 0x61000000);
    }
    REQUIRE(regions(dev(0, 4, 0), r) == 1);
    CHECK_EQ(r[0].start, 0x60000000);
    CHECK_EQ(regions(dev(0, 3, 0), r), 0);
}

TEST(rmrrs_are_mapped_in_every_kernel_domain_of_their_device)
{
    topology();
    dmar_three();
    mock_violations = 0;
    struct iommu_domain *d1, *d2;
    REQUIRE(iommu_domain_alloc(mock_unit(0), IOMMU_DOMAIN_PAGING, NULL, &d1) == 0);
    REQUIRE(iommu_domain_alloc(mock_unit(0), IOMMU_DOMAIN_PAGING, NULL, &d2) == 0);
    struct pci_dev *ep = dev(0, 3, 0), *behind = dev(1, 1, 0), *usb = dev(0, 5, 0);
    CHECK_EQ(iommu_attach(d1, ep), 0);
    CHECK(mapped_1to1(d1, RMRR_EP) && mapped_1to1(d1, RMRR_EP + 0xff000));
    CHECK(!mapped_1to1(d1, RMRR_BEHIND));       /* only the device's own RMRRs */
    CHECK_EQ(iommu_attach(d1, behind), 0);
    CHECK(mapped_1to1(d1, RMRR_BEHIND));
    CHECK_EQ(iommu_attach(d2, ep), 0);          /* a replace: the new domain has it too */
    CHECK(mapped_1to1(d2, RMRR_EP));
    CHECK(mapped_1to1(d1, RMRR_EP));            /* and it stays with the old one (Linux) */
    /* The blocked domain is refused to a device that needs its RMRR; it stays where it was. */
    CHECK_EQ(iommu_attach(NULL, ep), -EINVAL);
    CHECK(iommu_dev_domain(ep) == d2);
    /* A relaxable RMRR is mapped in kernel domains, and blocking is allowed. */
    CHECK_EQ(iommu_attach(d2, usb), 0);
    CHECK(mapped_1to1(d2, RMRR_USB));
    CHECK_EQ(iommu_attach(NULL, usb), 0);
    /* Without the RMRRs (firmware tables gone) the devices may leave; the domains give
     * their 1:1 ranges back when freed. */
    mock_set_dev_resv(NULL, NULL);
    CHECK_EQ(iommu_attach(NULL, ep), 0);
    CHECK_EQ(iommu_attach(NULL, behind), 0);
    iommu_domain_free(d1);
    iommu_domain_free(d2);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(mock_violations, 0);
}

TEST(an_attach_that_fails_leaves_no_rmrr_mapping_behind)
{
    topology();
    dmar_three();
    mock_violations = 0;
    struct iommu_domain *d;
    REQUIRE(iommu_domain_alloc(mock_unit(0), IOMMU_DOMAIN_PAGING, NULL, &d) == 0);
    struct pci_dev *usb = dev(0, 5, 0);
    mock_fail_attach(-EIO);
    CHECK_EQ(iommu_attach(d, usb), -EIO);
    CHECK(!mapped_1to1(d, RMRR_USB));
    CHECK_EQ(d->nr_direct, 0);
    /* Something else mapped at the RMRR: -EEXIST, nothing left either. */
    CHECK_EQ(iommu_map(d, RMRR_USB, 0x12345000, 0x1000, IOMMU_READ), 0);
    CHECK_EQ(iommu_attach(d, usb), -EEXIST);
    CHECK(iommu_dev_domain(usb) == mock_unit(0)->blocked);
    CHECK_EQ(iommu_unmap(d, RMRR_USB, 0x1000), 0);
    /* A domain that got RMRR mappings gives them back when it is freed. */
    CHECK_EQ(iommu_attach(d, usb), 0);
    CHECK_EQ(iommu_attach(NULL, usb), 0);
    iommu_domain_free(d);
    CHECK_EQ(mock_violations, 0);
}

/* ---- the object layer (IOMMUFD): Linux's policy for user domains ---- */

TEST(a_device_needing_its_rmrr_cannot_be_bound_nor_its_group)
{
    topology();
    dmar_three();
    struct moat_iommufd *ctx;
    uint32_t id;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    CHECK_EQ(moat_device_bind(ctx, dev(0, 3, 0), &id), -EINVAL);
    CHECK_EQ(dev(1, 1, 0)->group, dev(1, 2, 0)->group);
    CHECK_EQ(moat_device_bind(ctx, dev(1, 1, 0), &id), -EINVAL);
    CHECK_EQ(moat_device_bind(ctx, dev(1, 2, 0), &id), -EINVAL);   /* a group member needs it */
    CHECK_EQ(moat_device_bind(ctx, dev(0, 6, 0), &id), 0);
    moat_iommufd_close(ctx);
}

static unsigned ranges(struct moat_iommufd *ctx, uint32_t ioas, struct iommu_iova_range *r)
{
    uint32_t n = 8;
    uint64_t align;
    if (moat_ioas_iova_ranges(ctx, ioas, r, &n, &align))
        abort();
    return n;
}

TEST(a_relaxable_rmrr_neither_narrows_the_ioas_nor_is_mapped_in_a_user_domain)
{
    topology();
    dmar_three();
    mock_violations = 0;
    struct moat_iommufd *ctx;
    uint32_t id, ioas, pt;
    struct iommu_iova_range r[8];
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    REQUIRE(moat_ioas_alloc(ctx, 0, &ioas) == 0);
    uint64_t before = mock_mapped_bytes();
    REQUIRE(moat_device_bind(ctx, dev(0, 5, 0), &id) == 0);
    pt = ioas;
    REQUIRE(moat_device_attach(ctx, id, &pt) == 0);
    CHECK_EQ(mock_mapped_bytes(), before);
    REQUIRE(ranges(ctx, ioas, r) == 2);          /* only the interrupt window is out */
    CHECK_EQ(r[0].last, MOCK_MSI_START - 1);
    CHECK_EQ(r[1].start, MOCK_MSI_LAST + 1);
    moat_iommufd_close(ctx);
    CHECK_EQ(mock_violations, 0);
}

/* A per-device reserved range of the plain kind, to see the IOAS narrow per attached device. */
static int dev_resv_one(void *ctx, struct pci_dev *d, struct iommu_resv_region *out,
                        unsigned *n, unsigned max)
{
    if (d != ctx)
        return 0;
    out[(*n)++] = (struct iommu_resv_region){ 0x40000000, 0x400fffff, 0, IOMMU_RESV_RESERVED };
    return 0;
}

TEST(the_ioas_narrows_only_when_the_device_with_the_range_attaches)
{
    topology();
    struct pci_dev *a = dev(0, 6, 0), *b = dev(0, 3, 0);
    mock_set_dev_resv(dev_resv_one, a);
    mock_violations = 0;
    struct moat_iommufd *ctx;
    uint32_t ida, idb, ioas, pt;
    struct iommu_iova_range r[8];
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    REQUIRE(moat_ioas_alloc(ctx, 0, &ioas) == 0);
    REQUIRE(moat_device_bind(ctx, a, &ida) == 0);
    REQUIRE(moat_device_bind(ctx, b, &idb) == 0);
    pt = ioas;
    REQUIRE(moat_device_attach(ctx, idb, &pt) == 0);
    CHECK_EQ(ranges(ctx, ioas, r), 2);
    /* Mapped where a's range lies: its attach is refused, as Linux's -EADDRINUSE. */
    static uint8_t buf[8192] __attribute__((aligned(4096)));
    uint64_t iova = 0x40000000;
    REQUIRE(moat_ioas_map(ctx, ioas, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE, buf,
                          4096, &iova) == 0);
    pt = ioas;
    CHECK_EQ(moat_device_attach(ctx, ida, &pt), -EADDRINUSE);
    uint64_t gone;
    REQUIRE(moat_ioas_unmap(ctx, ioas, 0x40000000, 4096, &gone) == 0);
    pt = ioas;
    REQUIRE(moat_device_attach(ctx, ida, &pt) == 0);
    REQUIRE(ranges(ctx, ioas, r) == 3);
    CHECK_EQ(r[0].last, 0x3fffffff);
    CHECK_EQ(r[1].start, 0x40100000);
    CHECK_EQ(moat_device_detach(ctx, ida), 0);
    CHECK_EQ(ranges(ctx, ioas, r), 2);           /* widens again when it leaves */
    moat_iommufd_close(ctx);
    mock_set_dev_resv(NULL, NULL);
    CHECK_EQ(mock_violations, 0);
}
