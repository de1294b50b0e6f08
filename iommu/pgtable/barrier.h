/* CPU write ordering for page-table publication, usable freestanding on x86_64 and aarch64. */
#ifndef MOAT_IOMMU_PGTABLE_BARRIER_H
#define MOAT_IOMMU_PGTABLE_BARRIER_H

#include "arch/cpu_ops.h"

/* Orders every earlier store (a new table's zeroed or filled entries) before the store that
 * links it into its parent, so a concurrent hardware walker never follows a link into stale
 * memory (arch_dma_publish_barrier says how each architecture does it). */
static inline void pt_publish_barrier(void)
{
    arch_dma_publish_barrier();
}

#endif
