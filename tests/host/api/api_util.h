/* Shared fixture for the object-layer tests: the mock IOMMU, fake PCI functions with groups,
 * page-aligned buffers, and leak checks (heap, page allocator, mock state). */
#ifndef MOAT_TESTS_HOST_API_API_UTIL_H
#define MOAT_TESTS_HOST_API_API_UTIL_H

#include <stdlib.h>

#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "moat/iommufd.h"
#include "tests/host/harness.h"
#include "tests/host/mock_iommu.h"

/* 0,1: seg 0 group 1 (siblings); 2: seg 0 group 2; 3: seg 0 group 3; 4: seg 1 group 10;
 * 5: seg 5, no IOMMU. */
#define NDEVS 6
extern struct pci_dev api_devs[NDEVS];

struct api_base {
    size_t heap;
    uint64_t pmm;
};

void api_setup(struct api_base *b);
/* Everything released: no heap object, no page, nothing mapped or attached in the mock. */
void api_check_clean(const struct api_base *b, const char *file, int line);
#define API_CLEAN(b) api_check_clean((b), __FILE__, __LINE__)

/* Page-aligned memory, n pages (freed at exit). */
void *api_pages(size_t n);
uint64_t api_xlate(struct pci_dev *dev, uint64_t iova);

/* A new IOAS through the ioctl face (IOMMU_IOAS_ALLOC), checked to succeed; its id. */
uint32_t api_ioas_alloc(struct moat_iommufd *ctx);

#endif
