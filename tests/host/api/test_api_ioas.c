/* IOAS entry points over the strict mock: map/unmap/copy errno tables, translations, the IOVA
 * allocator (guards, cache, alignment, allowed ranges), IOVA ranges with reserved regions and
 * -EMSGSIZE, the huge-pages option, pinning. */
#include "tests/host/api/api_util.h"

static struct moat_iommufd *open_ctx(uint32_t *ioas)
{
    struct moat_iommufd *ctx;
    if (moat_iommufd_open(&ctx))
        return NULL;
    if (ioas && moat_ioas_alloc(ctx, 0, ioas))
        return NULL;
    return ctx;
}

/* A device of unit 0 attached to ioas (so the mock sees every map). */
static uint32_t attach_dev(struct moat_iommufd *ctx, uint32_t ioas, int i)
{
    uint32_t dev, pt = ioas;
    CHECK_EQ(moat_device_bind(ctx, &api_devs[i], &dev), 0);
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    return dev;
}

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED (RW | IOMMU_IOAS_MAP_FIXED_IOVA)

TEST(ioas_alloc_and_destroy)
{
    struct api_base b;
    api_setup(&b);
    uint32_t id;
    struct moat_iommufd *ctx = open_ctx(NULL);
    REQUIRE(ctx);
    CHECK_EQ(moat_ioas_alloc(ctx, 1, &id), -EOPNOTSUPP);
    CHECK_EQ(moat_ioas_alloc(ctx, 0, &id), 0);
    CHECK_EQ(id, 1);
    CHECK_EQ(moat_iommufd_destroy(ctx, 2), -ENOENT);
    CHECK_EQ(moat_iommufd_destroy(ctx, 0), -ENOENT);
    CHECK_EQ(moat_iommufd_destroy(ctx, id), 0);
    CHECK_EQ(moat_iommufd_destroy(ctx, id), -ENOENT);
    for (int i = 0; i < 40; i++)        /* grows the object table */
        CHECK_EQ(moat_ioas_alloc(ctx, 0, &id), 0);
    CHECK_EQ(id, 40);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(map_errno_table)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    attach_dev(ctx, ioas, 2);
    uint8_t *buf = api_pages(4);
    uint64_t base_calls = mock_stats.map_calls;
    struct {
        uint32_t ioas, flags;
        const void *va;
        uint64_t len, iova;
        int err;
    } t[] = {
        { ioas, RW | 8, buf, 4096, 0, -EOPNOTSUPP },           /* unknown flag */
        { ioas, IOMMU_IOAS_MAP_FIXED_IOVA, buf, 4096, 0, -EINVAL },  /* neither R nor W */
        { ioas, FIXED, buf, UINT64_MAX, 0, -EOVERFLOW },
        { ioas, FIXED, buf, 4096, UINT64_MAX, -EOVERFLOW },
        { ioas + 100, FIXED, buf, 4096, 0, -ENOENT },
        { ioas, FIXED, buf, 0, 0x1000, -EINVAL },             /* zero length */
        { ioas, FIXED, buf + 1, 4096, 0x1000, -EINVAL },      /* misaligned va */
        { ioas, FIXED, buf, 4095, 0x1000, -EINVAL },          /* misaligned length */
        { ioas, FIXED, buf, 4096, 0x1800, -EINVAL },          /* misaligned iova */
        { ioas, FIXED, buf, 8192, UINT64_MAX - 4095, -EOVERFLOW },  /* iova + len - 1 wraps */
        { ioas, FIXED, (void *)(uintptr_t)(UINT64_MAX - 4095), 8192, 0x1000, -EOVERFLOW },
        { ioas, FIXED, NULL, 4096, 0x1000, -EFAULT },
        { ioas, FIXED, buf, 4096, MOCK_MSI_START + 0x1000, -EINVAL },   /* reserved */
        { ioas, FIXED, buf, 4096, 1ULL << 48, -EINVAL },      /* beyond the domain */
    };
    for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
        uint64_t iova = t[i].iova;
        int err = moat_ioas_map(ctx, t[i].ioas, t[i].flags, t[i].va, t[i].len, &iova);
        if (err != t[i].err)
            printf("    case %u: %d\n", i, err);
        CHECK_EQ(err, t[i].err);
        CHECK_EQ(iova, t[i].iova);
    }
    CHECK_EQ(mock_stats.map_calls, base_calls);     /* nothing reached the driver */
    uint64_t iova = 0x10000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 8192, &iova), 0);
    iova = 0x11000;         /* overlaps the second page */
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &iova), -EEXIST);
    iova = 0xf000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 8192, &iova), -EEXIST);
    CHECK_EQ(mock_stats.map_calls, base_calls + 1);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(map_translates_and_unmap_is_exact)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    attach_dev(ctx, ioas, 2);
    uint8_t *buf = api_pages(16);
    uint64_t iova = 0x40000000, got;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 16 * 4096, &iova), 0);
    CHECK_EQ(mock_stats.last_iova, 0x40000000);
    CHECK_EQ(mock_stats.last_size, 16 * 4096);
    CHECK_EQ(mock_stats.last_pa, (uint64_t)(uintptr_t)buf);
    CHECK_EQ(mock_stats.last_prot, IOMMU_READ | IOMMU_WRITE);
    for (int p = 0; p < 16; p++)
        CHECK_EQ(api_xlate(&api_devs[2], iova + p * 4096 + 12),
                 (uint64_t)(uintptr_t)buf + p * 4096 + 12);
    CHECK(moat_iommufd_is_pinned(buf + 4096, 1));
    CHECK(!moat_iommufd_is_pinned(buf + 16 * 4096, 4096));
    CHECK_EQ(moat_iommufd_pinned_bytes(), 16 * 4096);
    /* A kernel-chosen, read-only one. */
    uint64_t ro = 0;
    CHECK_EQ(moat_ioas_map(ctx, ioas, IOMMU_IOAS_MAP_READABLE, buf, 4096, &ro), 0);
    CHECK_EQ(mock_stats.last_prot, IOMMU_READ);
    CHECK(ro != 0);
    CHECK_EQ(api_xlate(&api_devs[2], ro), (uint64_t)(uintptr_t)buf);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, ro, 4096, &got), 0);
    CHECK_EQ(got, 4096);
    CHECK_EQ(mock_stats.last_iova, ro);
    CHECK_EQ(api_xlate(&api_devs[2], ro), UINT64_MAX);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, iova, 16 * 4096, &got), 0);
    CHECK_EQ(mock_stats.last_size, 16 * 4096);
    CHECK_EQ(api_xlate(&api_devs[2], iova), UINT64_MAX);
    CHECK(!moat_iommufd_is_pinned(buf, 16 * 4096));
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(unmap_never_splits)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t got = 77, iova;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    attach_dev(ctx, ioas, 2);
    uint8_t *buf = api_pages(8);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);     /* empty: fine */
    CHECK_EQ(got, 0);
    iova = 0x100000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4 * 4096, &iova), 0);
    iova = 0x200000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf + 4 * 4096, 4 * 4096, &iova), 0);
    uint64_t calls = mock_stats.unmap_calls;
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0x101000, 4096, &got), -ENOENT);     /* inside */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0x100000, 0x101000, &got), -ENOENT); /* 1st + half */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0x300000, 4096, &got), -ENOENT);     /* nothing */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0x100000, 0, &got), -EINVAL);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, UINT64_MAX, 1, &got), -EOVERFLOW);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 1, UINT64_MAX, &got), -EOVERFLOW);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0x1000, UINT64_MAX - 0x10, &got), -EOVERFLOW);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas + 9, 0x100000, 4096, &got), -ENOENT);
    CHECK_EQ(mock_stats.unmap_calls, calls);    /* nothing was unmapped by a failure */
    CHECK_EQ(mock_mapped_bytes(), 8 * 4096);
    /* One call covering both, with slack around them. */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0x80000, 0x300000, &got), 0);
    CHECK_EQ(got, 8 * 4096);
    CHECK_EQ(mock_mapped_bytes(), 0);
    iova = 0x100000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &iova), 0);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(got, 4096);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(allocator_guards_alignment_and_cache)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t a = 0, c = 0, d = 0, got;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(1024);         /* 4 MiB, 2 MiB aligned */
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 4096, &a), 0);
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 4096, &c), 0);
    CHECK(a != 0 && c != 0);
    CHECK(c > a + 4096 || a > c + 4096);   /* a guard page between them */
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 2u << 20, &d), 0);
    CHECK_EQ(d & ((2u << 20) - 1), 0);      /* huge-page friendly */
    /* The cache hands a freed range of the same size straight back. */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, a, 4096, &got), 0);
    uint64_t e = 0;
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf + 4096, 4096, &e), 0);
    CHECK_EQ(e, a);
    /* A cached range is free for a fixed map. */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, e, 4096, &got), 0);
    uint64_t f = e;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &f), 0);
    /* Many allocations: all distinct and non-overlapping. */
    uint64_t v[300];
    for (int i = 0; i < 300; i++) {
        v[i] = 0;
        CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 4096 * (1 + i % 3), &v[i]), 0);
        CHECK(moat_iommufd_is_pinned(buf, 4096));
    }
    for (int i = 1; i < 300; i++)
        CHECK(v[i] != v[i - 1]);
    for (int i = 0; i < 300; i += 2)
        CHECK_EQ(moat_ioas_unmap(ctx, ioas, v[i], 4096 * (1 + i % 3), &got), 0);
    for (int i = 0; i < 300; i += 2)
        CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 4096 * (1 + i % 3), &v[i]), 0);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(allowed_iovas)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t iova = 0, got;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    attach_dev(ctx, ioas, 2);
    uint8_t *buf = api_pages(4);
    struct iommu_iova_range bad1[] = { { 0x10000, 0x10000 } };
    struct iommu_iova_range bad2[] = { { 0x10000, 0x2ffff }, { 0x20000, 0x3ffff } };
    struct iommu_iova_range msi[] = { { 0xfe000000, 0xfeffffff } };
    struct iommu_iova_range ok[] = { { 0x7000000, 0x7003fff }, { 0x5000000, 0x5001fff } };
    CHECK_EQ(moat_ioas_allow_iovas(ctx, ioas, bad1, 1), -EINVAL);
    CHECK_EQ(moat_ioas_allow_iovas(ctx, ioas, bad2, 2), -EINVAL);
    CHECK_EQ(moat_ioas_allow_iovas(ctx, ioas, msi, 1), -EADDRINUSE);
    CHECK_EQ(moat_ioas_allow_iovas(ctx, ioas + 5, ok, 2), -ENOENT);
    CHECK_EQ(moat_ioas_allow_iovas(ctx, ioas, ok, 2), 0);
    /* Kernel-chosen IOVAs land inside the allowed ranges (guard gaps first, then tight). */
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 4096, &iova), 0);
    CHECK(iova >= 0x7000000 && iova + 4095 <= 0x7003fff);
    iova = 0;
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 8192, &iova), 0);
    CHECK_EQ(iova, 0x5000000);
    iova = 0;
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 4 * 4096, &iova), -ENOSPC);
    iova = 0x100000;        /* fixed maps are not limited by allowed ranges (as Linux) */
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &iova), 0);
    CHECK_EQ(moat_ioas_allow_iovas(ctx, ioas, NULL, 0), 0);
    iova = 0;
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf, 4 * 4096, &iova), 0);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(iova_ranges_narrow_with_reserved_regions)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, n;
    uint64_t align;
    struct iommu_iova_range r[8];
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    n = 8;
    CHECK_EQ(moat_ioas_iova_ranges(ctx, ioas, r, &n, &align), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(r[0].start, 0);
    CHECK_EQ(r[0].last, UINT64_MAX);
    CHECK_EQ(align, 4096);
    /* A reserved range besides the interrupt window. */
    struct iommu_resv_region rr[] = { { MOCK_MSI_START, MOCK_MSI_LAST, 0, IOMMU_RESV_MSI },
                                      { 0xe0000, 0xfffff, 0, IOMMU_RESV_RESERVED } };
    mock_set_resv(0, rr, 2);
    uint32_t dev = attach_dev(ctx, ioas, 2);
    n = 8;
    CHECK_EQ(moat_ioas_iova_ranges(ctx, ioas, r, &n, &align), 0);
    REQUIRE(n == 3);
    CHECK_EQ(r[0].start, 0);
    CHECK_EQ(r[0].last, 0xdffff);
    CHECK_EQ(r[1].start, 0x100000);
    CHECK_EQ(r[1].last, MOCK_MSI_START - 1);
    CHECK_EQ(r[2].start, MOCK_MSI_LAST + 1);
    CHECK_EQ(r[2].last, (1ULL << MOCK_IAS) - 1);
    /* Too small an array: -EMSGSIZE, the count, and the entries that fit. */
    struct iommu_iova_range one[1] = { { 5, 5 } };
    n = 1;
    CHECK_EQ(moat_ioas_iova_ranges(ctx, ioas, one, &n, &align), -EMSGSIZE);
    CHECK_EQ(n, 3);
    CHECK_EQ(one[0].last, 0xdffff);
    n = 0;
    CHECK_EQ(moat_ioas_iova_ranges(ctx, ioas, NULL, &n, &align), -EMSGSIZE);
    CHECK_EQ(n, 3);
    CHECK_EQ(moat_ioas_iova_ranges(ctx, ioas + 7, r, &n, &align), -ENOENT);
    /* A second device with the same regions changes nothing; detaching both widens again. */
    uint32_t dev2 = attach_dev(ctx, ioas, 3);
    n = 8;
    CHECK_EQ(moat_ioas_iova_ranges(ctx, ioas, r, &n, &align), 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(moat_device_detach(ctx, dev), 0);
    CHECK_EQ(moat_device_detach(ctx, dev2), 0);
    n = 8;
    CHECK_EQ(moat_ioas_iova_ranges(ctx, ioas, r, &n, &align), 0);
    CHECK_EQ(n, 1);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(reserved_region_conflicts_refuse_attach)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, dev, pt;
    uint64_t iova = MOCK_MSI_START, got;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(1);
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &iova), 0);
    CHECK_EQ(moat_device_bind(ctx, &api_devs[2], &dev), 0);
    pt = ioas;
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), -EADDRINUSE);
    CHECK_EQ(pt, ioas);
    CHECK_EQ(mock_live_domains(), 0);
    CHECK_EQ(mock_attached_devs(), 0);
    CHECK(iommu_dev_domain(&api_devs[2]) == mock_unit(0)->blocked);
    /* An allowed range over a reserved one is refused once the device is there. */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, iova, 4096, &got), 0);
    CHECK_EQ(moat_device_attach(ctx, dev, &pt), 0);
    struct iommu_iova_range over[] = { { MOCK_MSI_START - 0x1000, MOCK_MSI_START } };
    CHECK_EQ(moat_ioas_allow_iovas(ctx, ioas, over, 1), -EADDRINUSE);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(copy_between_ioas)
{
    struct api_base b;
    api_setup(&b);
    uint32_t src, dst, pt;
    uint64_t i1 = 0x100000, i2 = 0x102000, to = 0, got;
    struct moat_iommufd *ctx = open_ctx(&src);
    REQUIRE(ctx);
    CHECK_EQ(moat_ioas_alloc(ctx, 0, &dst), 0);
    attach_dev(ctx, src, 2);
    uint32_t dev = attach_dev(ctx, dst, 3);
    uint8_t *buf = api_pages(8);
    CHECK_EQ(moat_ioas_map(ctx, src, FIXED, buf, 8192, &i1), 0);
    CHECK_EQ(moat_ioas_map(ctx, src, FIXED | 0, buf + 4 * 4096, 8192, &i2), 0);
    uint64_t ro = 0x200000;
    CHECK_EQ(moat_ioas_map(ctx, src, IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
                           buf, 4096, &ro), 0);
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, RW | 16, 0x101000, 8192, &to), -EOPNOTSUPP);
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, 0, 0x101000, 8192, &to), -EINVAL);
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, RW, 0x101000, 0, &to), -EINVAL);
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, RW, UINT64_MAX, 8192, &to), -EOVERFLOW);
    CHECK_EQ(moat_ioas_copy(ctx, dst, src + 10, RW, 0x101000, 8192, &to), -ENOENT);
    CHECK_EQ(moat_ioas_copy(ctx, dst + 10, src, RW, 0x101000, 8192, &to), -ENOENT);
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, RW, 0x103000, 8192, &to), -ENOENT);   /* hole */
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, RW, 0x200000, 4096, &to), -EPERM);
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, IOMMU_IOAS_MAP_READABLE, 0x200000, 4096, &to), 0);
    /* The second page of the first map and the first of the second: two pieces. */
    to = 0x400000;
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, RW | IOMMU_IOAS_MAP_FIXED_IOVA, 0x101000, 8192,
                            &to), 0);
    CHECK_EQ(api_xlate(&api_devs[3], 0x400000), (uint64_t)(uintptr_t)buf + 4096);
    CHECK_EQ(api_xlate(&api_devs[3], 0x401000), (uint64_t)(uintptr_t)buf + 4 * 4096);
    CHECK_EQ(moat_ioas_unmap(ctx, dst, 0x400000, 8192, &got), 0);
    CHECK_EQ(got, 8192);
    /* A copy outlives its source. */
    to = 0;
    CHECK_EQ(moat_ioas_copy(ctx, dst, src, RW, 0x100000, 8192, &to), 0);
    CHECK_EQ(moat_ioas_unmap(ctx, src, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(api_xlate(&api_devs[3], to + 4096), (uint64_t)(uintptr_t)buf + 4096);
    CHECK(moat_iommufd_is_pinned(buf, 4096));
    pt = src;
    CHECK_EQ(moat_device_replace(ctx, dev, &pt), 0);
    CHECK_EQ(api_xlate(&api_devs[3], to), UINT64_MAX);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* The size of the leaf that maps iova in dev's domain (0: none). */
static uint64_t leaf_size(struct pci_dev *dev, uint64_t iova)
{
    struct pgtable_xlate x;
    struct iommu_domain *d = iommu_dev_domain(dev);
    return d && !pgtable_translate(&d->pt, iova, &x) ? x.pgsize : 0;
}

TEST(huge_pages_option)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t v, iova, got;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    CHECK_EQ(moat_ioas_option(ctx, ioas, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, &v), 0);
    CHECK_EQ(v, 1);
    v = 2;
    CHECK_EQ(moat_ioas_option(ctx, ioas, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, &v),
             -EINVAL);
    CHECK_EQ(moat_ioas_option(ctx, ioas, IOMMU_OPTION_HUGE_PAGES, 7, &v), -EOPNOTSUPP);
    CHECK_EQ(moat_ioas_option(ctx, ioas, 99, IOMMU_OPTION_OP_GET, &v), -EOPNOTSUPP);
    CHECK_EQ(moat_ioas_option(ctx, ioas + 1, IOMMU_OPTION_HUGE_PAGES, 0, &v), -ENOENT);
    attach_dev(ctx, ioas, 2);
    uint8_t *buf = api_pages(512);
    iova = 0x40000000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 2u << 20, &iova), 0);
    v = 0;      /* a domain with mappings, maybe in large leaves */
    CHECK_EQ(moat_ioas_option(ctx, ioas, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, &v),
             -EINVAL);
    CHECK_EQ(leaf_size(&api_devs[2], iova), 2u << 20);      /* huge pages on: one 2 MiB leaf */
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(moat_ioas_option(ctx, ioas, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, &v), 0);
    uint64_t calls = mock_stats.map_calls;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 2u << 20, &iova), 0);
    /* Off: the same aligned range in 4 KiB leaves, written by one call, not one per page. */
    CHECK_EQ(mock_stats.map_calls - calls, 1);
    for (uint64_t off = 0; off < (2u << 20); off += 0x3f000) {
        CHECK_EQ(leaf_size(&api_devs[2], iova + off), 4096);
        CHECK_EQ(api_xlate(&api_devs[2], iova + off), (uint64_t)(uintptr_t)buf + off);
    }
    CHECK_EQ(api_xlate(&api_devs[2], iova + 0x1ff000), (uint64_t)(uintptr_t)buf + 0x1ff000);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, iova, 2u << 20, &got), 0);
    CHECK_EQ(moat_ioas_option(ctx, ioas, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, &v), 0);
    CHECK_EQ(v, 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* Huge pages off, a device attached after the map (the fuzzer's slow input: a 1 GiB area filled
 * by one call per page, each walking from the root): one map call per area and domain. */
TEST(huge_pages_off_attach_maps_each_area_once)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t v = 0, iova = 0x40000000, got;
    const uint64_t len = 16u << 20;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    CHECK_EQ(moat_ioas_option(ctx, ioas, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, &v), 0);
    uint8_t *buf = api_pages(len / 4096);
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, len, &iova), 0);
    uint64_t calls = mock_stats.map_calls;
    attach_dev(ctx, ioas, 2);
    CHECK_EQ(mock_stats.map_calls - calls, 1);
    CHECK_EQ(mock_mapped_bytes(), len);
    for (uint64_t off = 0; off < len; off += 0x1ff000) {
        CHECK_EQ(leaf_size(&api_devs[2], iova + off), 4096);
        CHECK_EQ(api_xlate(&api_devs[2], iova + off), (uint64_t)(uintptr_t)buf + off);
    }
    CHECK_EQ(api_xlate(&api_devs[2], iova + len - 4096), (uint64_t)(uintptr_t)buf + len - 4096);
    CHECK_EQ(api_xlate(&api_devs[2], iova + len), UINT64_MAX);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(got, len);
    CHECK_EQ(mock_mapped_bytes(), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(ioas_fans_out_to_every_hwpt)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas, d1, hwpt;
    uint64_t iova = 0x800000, got;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    uint8_t *buf = api_pages(2);
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 8192, &iova), 0);    /* before any domain */
    d1 = attach_dev(ctx, ioas, 2);
    struct moat_hwpt_alloc a = { .dev_id = d1, .pt_id = ioas };
    CHECK_EQ(moat_hwpt_alloc(ctx, &a, &hwpt), 0);
    uint32_t d2, pt = hwpt;
    CHECK_EQ(moat_device_bind(ctx, &api_devs[3], &d2), 0);
    CHECK_EQ(moat_device_attach(ctx, d2, &pt), 0);
    CHECK_EQ(pt, hwpt);
    CHECK_EQ(mock_live_domains(), 2);
    CHECK_EQ(api_xlate(&api_devs[2], iova), (uint64_t)(uintptr_t)buf);
    CHECK_EQ(api_xlate(&api_devs[3], iova), (uint64_t)(uintptr_t)buf);
    uint64_t j = 0;
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, buf + 4096, 4096, &j), 0);
    CHECK_EQ(api_xlate(&api_devs[2], j), (uint64_t)(uintptr_t)buf + 4096);
    CHECK_EQ(api_xlate(&api_devs[3], j), (uint64_t)(uintptr_t)buf + 4096);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(got, 3 * 4096);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(moat_iommufd_destroy(ctx, ioas), -EBUSY);
    CHECK_EQ(moat_iommufd_destroy(ctx, hwpt), -EBUSY);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* Memory in pages that are not physically contiguous: the pages of [base, base + 4 pages) lie in
 * reverse order, and *bad (when set) is a page a device may not reach. */
struct scattered {
    uint64_t base, bad;
};

static int scattered_v2p(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    const struct scattered *s = arg;
    uint64_t v = (uint64_t)(uintptr_t)va, page = (v - s->base) / 4096;
    if (v < s->base || v + len > s->base + 4 * 4096 || len != 4096 || (s->bad && v == s->bad))
        return -EFAULT;     /* not one contiguous run, or not the program's */
    *pa = s->base + (3 - page) * 4096;
    return 0;
}

/* RUNS runs of RUN_PAGES pages, each physically contiguous, the runs in reverse order; counts
 * the questions. */
#define RUNS 64
#define RUN_PAGES 16
struct equal_runs {
    uint64_t base, questions;
};

static int equal_runs_v2p(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    struct equal_runs *r = arg;
    const uint64_t run = RUN_PAGES * 4096, v = (uint64_t)(uintptr_t)va;
    r->questions++;
    if (v < r->base || !len || v - r->base >= RUNS * run)
        return -EFAULT;
    uint64_t k = (v - r->base) / run, off = (v - r->base) % run;
    if (off + len > run)
        return -EFAULT;     /* crosses into the next run: not contiguous */
    *pa = r->base + (RUNS - 1 - k) * run + off;
    return 0;
}

/* A map of memory in equal runs finds each after the first with three questions (the last
 * run's length, one page more, its first page), in each of map_runs' two passes: not the
 * doubling and halving every run would need alone (~10 a run here). */
TEST(map_of_equal_runs_asks_few_questions)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t iova = 0, got;
    const uint64_t run = RUN_PAGES * 4096;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    attach_dev(ctx, ioas, 2);
    struct equal_runs r = { .base = (uint64_t)(uintptr_t)api_pages(RUNS * RUN_PAGES) };
    moat_iommufd_set_virt_to_phys(ctx, equal_runs_v2p, &r);
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, (void *)(uintptr_t)r.base, RUNS * run, &iova), 0);
    CHECK(r.questions <= 2 * 3 * RUNS + 32);
    for (uint64_t k = 0; k < RUNS; k++) {
        CHECK_EQ(api_xlate(&api_devs[2], iova + k * run), r.base + (RUNS - 1 - k) * run);
        CHECK_EQ(api_xlate(&api_devs[2], iova + k * run + run - 8),
                 r.base + (RUNS - 1 - k) * run + run - 8);
    }
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, iova, RUNS * run, &got), 0);
    CHECK_EQ(got, RUNS * run);
    CHECK_EQ(mock_mapped_bytes(), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

/* A non-identity CPU mapping: physical = virtual + 1 GiB, and a hole that is not RAM. */
static int shifted_v2p(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    uint64_t v = (uint64_t)(uintptr_t)va;
    if (v >= *(uint64_t *)arg && v < *(uint64_t *)arg + 4096)
        return -EFAULT;
    *pa = v + (1ULL << 30);
    return 0;
}

TEST(virt_to_phys_hook)
{
    struct api_base b;
    api_setup(&b);
    uint32_t ioas;
    uint64_t iova = 0x100000, got;
    struct moat_iommufd *ctx = open_ctx(&ioas);
    REQUIRE(ctx);
    attach_dev(ctx, ioas, 2);
    uint8_t *buf = api_pages(2);
    uint64_t hole = (uint64_t)(uintptr_t)(buf + 4096);
    moat_iommufd_set_virt_to_phys(ctx, shifted_v2p, &hole);
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf, 4096, &iova), 0);
    CHECK_EQ(api_xlate(&api_devs[2], iova), (uint64_t)(uintptr_t)buf + (1ULL << 30));
    CHECK(moat_iommufd_is_pinned(buf, 4096));       /* pins are by CPU address */
    iova = 0x200000;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf + 4096, 4096, &iova), -EFAULT);
    moat_iommufd_set_virt_to_phys(ctx, NULL, NULL);
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, buf + 4096, 4096, &iova), 0);
    CHECK_EQ(api_xlate(&api_devs[2], iova), (uint64_t)(uintptr_t)buf + 4096);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(got, 8192);
    /* Linux pins page by page (iopt_map_user_pages): a map of memory that is not one
     * physically contiguous run succeeds, each page translated to its own frame, and one
     * unmap takes it all; a page the device may not reach fails the whole map with nothing
     * left mapped. */
    uint8_t *four = api_pages(4);
    iova = 0;
    struct scattered s = { .base = (uint64_t)(uintptr_t)four };
    moat_iommufd_set_virt_to_phys(ctx, scattered_v2p, &s);
    CHECK_EQ(moat_ioas_map(ctx, ioas, RW, four, 4 * 4096, &iova), 0);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_EQ(api_xlate(&api_devs[2], iova + i * 4096 + 8), s.base + (3 - i) * 4096 + 8);
    CHECK_EQ(api_xlate(&api_devs[2], iova + 4 * 4096), UINT64_MAX);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, iova, 4 * 4096, &got), 0);
    CHECK_EQ(got, 4 * 4096);
    CHECK_EQ(mock_mapped_bytes(), 0);
    iova = 0x400000;        /* the same at a fixed IOVA */
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, four, 4 * 4096, &iova), 0);
    CHECK_EQ(iova, 0x400000);
    CHECK_EQ(api_xlate(&api_devs[2], 0x403000), s.base);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);
    CHECK_EQ(got, 4 * 4096);
    s.bad = s.base + 2 * 4096;
    CHECK_EQ(moat_ioas_map(ctx, ioas, FIXED, four, 4 * 4096, &iova), -EFAULT);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(api_xlate(&api_devs[2], 0x400000), UINT64_MAX);
    CHECK_EQ(moat_ioas_unmap(ctx, ioas, 0, UINT64_MAX, &got), 0);  /* Linux: empty is fine */
    CHECK_EQ(got, 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}
