/* The mmap area: virtual ranges above the direct map, backed by pages that need not be
 * physically contiguous (anonymous memory) or by device registers (BAR mappings). An anonymous
 * range still mapped for DMA when it is unmapped keeps its pages for good (quarantined): memory
 * a device can reach is never handed out again. */
#ifndef MOAT_KERNEL_VM_H
#define MOAT_KERNEL_VM_H

#include "lib/compiler.h"

#define VM_AREA_START 0x0000400000000000ULL
#define VM_AREA_END 0x0000700000000000ULL

/* Anonymous, zero-filled, read/write memory; -ENOMEM, -EINVAL (len 0 or too big). */
int vm_map_anon(size_t len, void **out);
/* Device registers at physical pa (uncached); -EINVAL when misaligned. */
int vm_map_mmio(uint64_t pa, size_t len, void **out);
/* Unmaps the range [va, va + len) that must be exactly one earlier mapping (-EINVAL otherwise). */
int vm_unmap(void *va, size_t len);
/* Asks whether any byte of [va, va + len) is mapped for DMA. The IOMMU object layer registers
 * it (kernel/vm sits below that layer); vm_unmap of such a range quarantines its pages. */
typedef bool (*vm_pinned_fn)(const void *va, uint64_t len);
void vm_set_pinned_query(vm_pinned_fn fn);
/* The physical address behind a CPU address of the runtime (direct map or mmap area). */
int vm_virt_to_phys(const void *va, uint64_t *pa);
/* Pages held back because a device could still reach them when their range was unmapped. */
uint64_t vm_quarantined_pages(void);

#endif
