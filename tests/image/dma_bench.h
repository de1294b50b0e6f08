/* The map/unmap benchmark the vendors' in-image suites share (test_vtd.c, test_amdvi.c): one
 * 4 KiB map + unmap through the driver contract and through the native API, against the
 * invalidation alone, measured interleaved in one run. Vendor-neutral: the vendor hands in its
 * page-selective invalidation and its counter of completed waits. */
#ifndef MOAT_TESTS_IMAGE_DMA_BENCH_H
#define MOAT_TESTS_IMAGE_DMA_BENCH_H

#include "iommu/iommu.h"
#include "kernel/ktest.h"

struct edu_dev;

struct dma_bench_vendor {
    const char *prefix;                 /* "vtd", "amdvi": the bench lines' prefix */
    /* One page-selective IOTLB invalidation of [iova, iova + 4095] in d, and its wait. */
    int (*inval_page)(struct iommu_domain *d, uint64_t iova);
    const volatile uint64_t *nr_waits;  /* the unit's completed invalidation waits */
};

/* Prints, each the median of the rounds with a `# … min … max` comment:
 *   <p>_inval_4k                 the invalidation alone (ns)
 *   <p>_map_unmap_vs_inval       <p>_map_unmap_4k (driver contract, timed here) / <p>_inval_4k
 *   <p>_api_map_unmap_4k         moat_ioas_map + moat_ioas_unmap, kernel-chosen IOVA, into a
 *                                paging HWPT of the same unit (ns)
 *   <p>_api_map_unmap_vs_inval   <p>_api_map_unmap_4k / <p>_inval_4k
 *   <p>_waits_per_inval, <p>_waits_per_api_map_unmap   completed waits per operation
 * The API half binds e's device to a new context without attaching it (its DMA stays where it
 * was); it is skipped with a comment when the binding is refused. */
void dma_bench_vs_inval(struct ktest *t, const struct dma_bench_vendor *v, struct edu_dev *e,
                        struct iommu_domain *d, uint64_t pa, uint64_t iova);

#endif
