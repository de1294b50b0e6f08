/* The runtime's CPU address space, built the same way on every architecture: RAM mapped at its
 * physical address (the direct map; 2 MiB pages where a whole aligned one fits), the kernel
 * image in 4 KiB pages with its own rights (text read-only and executable, read-only data
 * read-only, the rest never-executable), MMIO and firmware tables mapped on request. The
 * architecture supplies the table format (arch_map_one) and its part of paging_init. */
#ifndef MOAT_KERNEL_MM_DIRECT_MAP_H
#define MOAT_KERNEL_MM_DIRECT_MAP_H

#include "lib/compiler.h"

#define DM_SIZE_2M (2ULL << 20)

/* Maps one 4 KiB page or 2 MiB page (size) va -> pa with ARCH_MAP_* flags; an existing mapping
 * is left as it is. -ENOMEM when a table cannot be allocated, -EINVAL for a va the tables
 * cannot hold. */
int arch_map_one(uint64_t va, uint64_t pa, uint64_t size, unsigned flags);
/* Builds and switches to the architecture's tables (dm_* below do the common parts); called
 * once by the mem unit, after the first free RAM reached the page allocator. */
int arch_paging_init(void);

/* [start, end) identity-mapped with flags. */
int dm_map_range(uint64_t start, uint64_t end, unsigned flags);
/* The kernel image, page by page with its sections' rights. */
int dm_map_kernel_image(void);
/* Usable RAM [base, end) read-write, the 2 MiB chunks that hold the image in 4 KiB pages (the
 * image's own pages, mapped first, keep their rights). */
int dm_map_ram_region(uint64_t base, uint64_t end);

#endif
