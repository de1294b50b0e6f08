/* Fixture for the object-layer tests (api_util.h). */
#include "tests/host/api/api_util.h"

struct pci_dev api_devs[NDEVS];

void api_setup(struct api_base *b)
{
    mock_iommu_setup();
    mock_pci_dev(&api_devs[0], 0, 0, 0x08, 1);
    mock_pci_dev(&api_devs[1], 0, 0, 0x09, 1);
    mock_pci_dev(&api_devs[2], 0, 0, 0x10, 2);
    mock_pci_dev(&api_devs[3], 0, 0, 0x18, 3);
    mock_pci_dev(&api_devs[4], 1, 1, 0x00, 10);
    mock_pci_dev(&api_devs[5], 5, 0, 0x00, 20);
    moat_iommufd_set_pci_devs(api_devs, NDEVS);
    struct iommu_resv_region msi = { MOCK_MSI_START, MOCK_MSI_LAST, 0, IOMMU_RESV_MSI };
    mock_set_resv(0, &msi, 1);
    mock_set_resv(1, NULL, 0);
    moat_iommufd_fail_nth(0);
    mock_violations = 0;
    b->heap = heap_live_bytes();
    b->pmm = pmm_free_bytes();
}

void api_check_clean(const struct api_base *b, const char *file, int line)
{
    struct {
        const char *what;
        long long got, want;
    } c[] = {
        { "heap bytes", (long long)heap_live_bytes(), (long long)b->heap },
        { "page-table pages", mock_pt_pages(), 0 },
        { "mock live domains", mock_live_domains(), 0 },
        { "mock live vIOMMUs", mock_live_viommus(), 0 },
        { "mock mapped bytes", (long long)mock_mapped_bytes(), 0 },
        { "mock attached devices", mock_attached_devs(), 0 },
        { "mock violations", mock_violations, 0 },
        { "pinned bytes", (long long)moat_iommufd_pinned_bytes(), 0 },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(c); i++) {
        if (c[i].got != c[i].want) {
            char m[160];
            snprintf(m, sizeof(m), "clean: %s %lld, want %lld", c[i].what, c[i].got, c[i].want);
            host_check_failed(file, line, m);
        }
    }
    mock_violations = 0;
}

/* A bump pool, reused from the start when it runs out (tests do not keep buffers). */
void *api_pages(size_t n)
{
    static uint8_t *pool;
    static size_t used;
    const size_t size = 64u << 20;
    size_t bytes = n * 4096, align = bytes >= (2u << 20) ? (2u << 20) : 4096;
    if (!pool)
        pool = aligned_alloc(2u << 20, size);
    used = ALIGN_UP(used, align);
    if (used + bytes > size)
        used = 0;
    void *p = pool + used;
    used += bytes;
    memset(p, 0, bytes);
    return p;
}

uint64_t api_xlate(struct pci_dev *dev, uint64_t iova)
{
    uint64_t pa;
    struct iommu_domain *d = iommu_dev_domain(dev);
    if (!d || iommu_iova_to_phys(d, iova, &pa))
        return UINT64_MAX;
    return pa;
}

uint32_t api_ioas_alloc(struct moat_iommufd *ctx)
{
    struct iommu_ioas_alloc a = { .size = sizeof(a) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, &a), 0);
    return a.out_ioas_id;
}
