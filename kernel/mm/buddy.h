/* A buddy allocator over one physically contiguous zone: naturally aligned blocks of
 * 4 KiB << order, order 0..BUDDY_MAX_ORDER (4 KiB .. 2 MiB). Its bookkeeping lives outside the
 * pages it hands out, so memory a device scribbles on after a free cannot corrupt it. */
#ifndef MOAT_KERNEL_MM_BUDDY_H
#define MOAT_KERNEL_MM_BUDDY_H

#include "lib/compiler.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096ULL
#define BUDDY_MAX_ORDER 9

struct buddy_zone {
    uint64_t base_pfn;      /* first page frame */
    uint64_t npages;
    uint8_t *state;         /* per page: kind and order of the block it heads, 0 for a tail */
    uint32_t *next, *prev;  /* per page: free-list links (page index), BUDDY_NIL ends */
    uint32_t head[BUDDY_MAX_ORDER + 1];
    uint64_t free_pages;
};

/* Bytes of bookkeeping needed for npages pages. */
uint64_t buddy_meta_size(uint64_t npages);
/* Sets up a zone over [base_pa, base_pa + npages pages) with bookkeeping in meta (zeroed by the
 * caller, buddy_meta_size() bytes). All pages start free. Returns -EINVAL for a zone too big
 * for 32-bit page indices or a misaligned base. */
int buddy_init(struct buddy_zone *z, uint64_t base_pa, uint64_t npages, void *meta);
/* 0 and the block's physical address, or -ENOMEM; -EINVAL for order > BUDDY_MAX_ORDER. */
int buddy_alloc(struct buddy_zone *z, unsigned order, uint64_t *pa_out);
/* Frees a block: panics on a double free, a wrong order or an address that heads no block. */
void buddy_free(struct buddy_zone *z, uint64_t pa, unsigned order);
/* An allocated block of order > 0 becomes its two halves, each allocated at order - 1 and freed
 * on its own (part of a mapping goes while the rest stays); panics when pa heads no such block. */
void buddy_split(struct buddy_zone *z, uint64_t pa, unsigned order);
bool buddy_contains(const struct buddy_zone *z, uint64_t pa);

#endif
