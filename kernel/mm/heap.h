/* The kernel heap: size classes carved from 4 KiB pages, bigger objects as whole page blocks
 * (up to 2 MiB). Every object carries a header so that a double free or a foreign pointer is
 * caught, not silently absorbed. */
#ifndef MOAT_KERNEL_MM_HEAP_H
#define MOAT_KERNEL_MM_HEAP_H

#include <stddef.h>

#define HEAP_MAX_ALLOC ((2u << 20) - 16u)

void *kmalloc(size_t size);                 /* NULL when out of memory or too big */
void *kzalloc(size_t size);
void *kcalloc(size_t n, size_t size);       /* NULL on n * size overflow */
void kfree(void *p);                        /* NULL is fine; panics on a double free */
size_t kmalloc_usable_size(const void *p);
/* Bytes in live objects (headers excluded): lets tests check that nothing leaked. */
size_t heap_live_bytes(void);
/* For host tests that rebuild the page allocator: forget every cached object. */
void heap_reset(void);

#endif
