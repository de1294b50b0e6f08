/* VT-d nested translation: the caller's stage-1 description (IOMMU_HWPT_DATA_VTD_S1) and its
 * stage-1 cache invalidation entries (IOMMU_HWPT_INVALIDATE_DATA_VTD_S1), read and checked as
 * Linux's VT-d driver checks them. Portable: no registers, so the host tests' mock IOMMU takes
 * its nested data through the same code. */
#ifndef MOAT_IOMMU_INTEL_NESTED_H
#define MOAT_IOMMU_INTEL_NESTED_H

#include "iommu/iommu.h"

/* A stage-1 table the caller owns (VT-d 9.6: the first-stage fields of a nested PASID entry). */
struct vtd_s1_cfg {
    uint64_t fl_ptr;            /* first-stage table root, 4 KiB aligned */
    uint8_t addr_width;         /* 48 (4-level) or 57 (5-level) */
    bool sre;                   /* supervisor requests */
    bool eafe;                  /* extended accessed flag */
    bool wpe;                   /* write protect */
};
_Static_assert(sizeof(struct vtd_s1_cfg) <= sizeof(struct iommu_nested_cfg), "nested cfg");

/* One checked stage-1 invalidation: npages pages from addr, or everything (npages ~0, addr 0). */
struct vtd_s1_inv {
    uint64_t addr;
    uint64_t npages;
    bool leaf;                  /* only leaf entries changed: paging-structure caches stay */
};

/* iommu_unit_ops.nested_parse for VT-d stage-1 data. */
int vtd_nested_parse(struct iommu_unit *u, const struct iommu_user_data *data,
                     struct iommu_nested_cfg *out);
static inline const struct vtd_s1_cfg *vtd_s1_cfg(const struct iommu_nested_cfg *c)
{
    return (const struct vtd_s1_cfg *)c->words;
}

/* The body of iommu_unit_ops.cache_invalidate_user for a VT-d nested domain: checks the
 * entries, then hands each good one to flush (which does the hardware work) in order. */
typedef int (*vtd_s1_flush_fn)(struct iommu_domain *d, const struct vtd_s1_inv *inv);
int vtd_nested_invalidate_user(struct iommu_domain *d, struct iommu_user_array *a,
                               vtd_s1_flush_fn flush);

#endif
