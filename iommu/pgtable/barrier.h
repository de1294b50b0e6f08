/* CPU write ordering for page-table publication, usable freestanding on x86_64 and aarch64. */
#ifndef MOAT_IOMMU_PGTABLE_BARRIER_H
#define MOAT_IOMMU_PGTABLE_BARRIER_H

/* Orders every earlier store (a new table's zeroed or filled entries) before the store that
 * links it into its parent, so a concurrent hardware walker never follows a link into stale
 * memory. On x86 a release fence only constrains the compiler (stores are not reordered with
 * stores). On aarch64 the SMMU observes memory in the outer-shareable domain, which a release
 * fence (dmb ish) does not order for, hence dmb oshst. */
static inline void pt_publish_barrier(void)
{
#if defined(__aarch64__)
    __asm__ __volatile__("dmb oshst" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

#endif
