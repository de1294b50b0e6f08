/* The physical page allocator: zones over the usable RAM regions. Addresses are physical;
 * the runtime maps all RAM at the same virtual address (phys_to_virt). */
#ifndef MOAT_KERNEL_MM_PMM_H
#define MOAT_KERNEL_MM_PMM_H

#include "kernel/mm/buddy.h"

#define PMM_MAX_ZONES 32

static inline void *phys_to_virt(uint64_t pa) { return (void *)(uintptr_t)pa; }
static inline uint64_t virt_to_phys(const void *va) { return (uint64_t)(uintptr_t)va; }

/* Adds [base, base+size) of free RAM. The zone's bookkeeping is carved from its own start.
 * Returns -ENOSPC when the region is too small to be worth a zone, -ENOMEM with no zone slot. */
int pmm_add_region(uint64_t base, uint64_t size);
/* A naturally aligned block of 4 KiB << order (order <= BUDDY_MAX_ORDER); -ENOMEM when none. */
int pmm_alloc(unsigned order, uint64_t *pa_out);
/* Same, zero-filled, returning the CPU pointer (NULL when out of memory). */
void *pmm_alloc_zeroed(unsigned order, uint64_t *pa_out);
void pmm_free(uint64_t pa, unsigned order);
/* An allocated block becomes two of order - 1 (buddy_split). */
void pmm_split(uint64_t pa, unsigned order);
/* The smallest order whose block holds bytes. */
static inline unsigned pmm_order_for(uint64_t bytes)
{
    unsigned order = 0;
    while ((4096ULL << order) < bytes)
        order++;
    return order;
}
uint64_t pmm_free_bytes(void);
uint64_t pmm_total_bytes(void);
/* Bytes pmm_alloc_zeroed has cleared so far (boot-time work accounting). */
uint64_t pmm_zeroed_bytes(void);
/* For tests: forget every zone. */
void pmm_reset(void);

#endif
