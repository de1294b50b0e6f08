#include "kernel/vm.h"
#include "arch/arch.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Anonymous memory comes in naturally aligned blocks of up to 2 MiB, so that DMA mappings of it
 * are physically contiguous runs (and can use IOMMU superpages). */
struct vm_chunk {
    uint64_t pa;
    unsigned order;
};

struct vma {
    uintptr_t start, end;
    bool anon;
    struct vm_chunk *chunks;
    unsigned nr_chunks;
    struct vma *next;
};

static struct vma *vmas;
static uintptr_t vm_next = VM_AREA_START;
static uint64_t quarantined;
static vm_pinned_fn pinned_query;

void vm_set_pinned_query(vm_pinned_fn fn)
{
    pinned_query = fn;
}

/* A guard page between ranges: an overrun faults instead of reaching a neighbour. */
static int vm_reserve(size_t len, uintptr_t *start)
{
    if (len == 0 || len > (VM_AREA_END - VM_AREA_START) / 4)
        return -EINVAL;
    size_t span = ALIGN_UP(len, PAGE_SIZE);
    if (vm_next + span + PAGE_SIZE > VM_AREA_END)
        return -ENOMEM;
    *start = vm_next;
    vm_next += span + PAGE_SIZE;
    return 0;
}

static void release_pages(struct vma *v)
{
    for (uintptr_t a = v->start; a < v->end; a += PAGE_SIZE)
        arch_unmap_page(a, NULL);
    for (unsigned i = 0; i < v->nr_chunks; i++)
        pmm_free(v->chunks[i].pa, v->chunks[i].order);
    kfree(v->chunks);
    v->chunks = NULL;
    v->nr_chunks = 0;
}

/* The largest block for the pages left, falling back to smaller ones when memory is fragmented. */
static int alloc_chunk(uint64_t pages_left, struct vm_chunk *c)
{
    unsigned order = 0;
    while (order < BUDDY_MAX_ORDER && (2ULL << order) <= pages_left)
        order++;
    for (;; order--) {
        if (pmm_alloc_zeroed(order, &c->pa)) {
            c->order = order;
            return 0;
        }
        if (order == 0)
            return -ENOMEM;
    }
}

static int fill_anon(struct vma *v)
{
    uint64_t pages = (v->end - v->start) / PAGE_SIZE;
    v->chunks = kcalloc(pages / 512 + 10, sizeof(*v->chunks));
    unsigned cap = (unsigned)(pages / 512 + 10);
    if (!v->chunks)
        return -ENOMEM;
    for (uintptr_t a = v->start; a < v->end;) {
        struct vm_chunk *c = &v->chunks[v->nr_chunks];
        if (v->nr_chunks == cap || alloc_chunk((v->end - a) / PAGE_SIZE, c))
            return -ENOMEM;
        v->nr_chunks++;
        for (uint64_t k = 0; k < (1ULL << c->order); k++, a += PAGE_SIZE)
            if (arch_map_page(a, c->pa + k * PAGE_SIZE, ARCH_MAP_WRITE))
                return -ENOMEM;
    }
    return 0;
}

static struct vma *vma_new(uintptr_t start, size_t len, bool anon)
{
    struct vma *v = kzalloc(sizeof(*v));
    if (!v)
        return NULL;
    v->start = start;
    v->end = start + ALIGN_UP(len, PAGE_SIZE);
    v->anon = anon;
    return v;
}

int vm_map_anon(size_t len, void **out)
{
    uintptr_t start;
    int err = vm_reserve(len, &start);
    if (err)
        return err;
    struct vma *v = vma_new(start, len, true);
    if (!v)
        return -ENOMEM;
    if (fill_anon(v)) {
        release_pages(v);           /* undo what was mapped so far */
        kfree(v);
        return -ENOMEM;
    }
    v->next = vmas;
    vmas = v;
    *out = (void *)v->start;
    return 0;
}

int vm_map_mmio(uint64_t pa, size_t len, void **out)
{
    if (!IS_ALIGNED(pa, PAGE_SIZE))
        return -EINVAL;
    uintptr_t start;
    int err = vm_reserve(len, &start);
    if (err)
        return err;
    struct vma *v = vma_new(start, len, false);
    if (!v)
        return -ENOMEM;
    for (uintptr_t a = v->start; a < v->end; a += PAGE_SIZE) {
        if (arch_map_page(a, pa + (a - v->start), ARCH_MAP_WRITE | ARCH_MAP_UNCACHED)) {
            v->end = a;
            release_pages(v);
            kfree(v);
            return -ENOMEM;
        }
    }
    v->next = vmas;
    vmas = v;
    *out = (void *)v->start;
    return 0;
}

static struct vma *vma_find(uintptr_t a)
{
    for (struct vma *v = vmas; v; v = v->next)
        if (a >= v->start && a < v->end)
            return v;
    return NULL;
}

static void vma_remove(struct vma *v)
{
    struct vma **pp = &vmas;
    while (*pp != v)
        pp = &(*pp)->next;
    *pp = v->next;
    kfree(v);
}

int vm_unmap(void *va, size_t len)
{
    uintptr_t a = (uintptr_t)va;
    struct vma *v = vma_find(a);
    if (!v || v->start != a || v->end != a + ALIGN_UP(len, PAGE_SIZE))
        return -EINVAL;
    if (v->anon && pinned_query && pinned_query(va, v->end - v->start)) {
        /* A device may still reach these pages: the CPU loses the range, but its pages are
         * never handed out again (quarantined and counted). */
        for (uintptr_t page = v->start; page < v->end; page += PAGE_SIZE)
            arch_unmap_page(page, NULL);
        quarantined += (v->end - v->start) / PAGE_SIZE;
        kprintf("vm: %#lx..%#lx unmapped while mapped for DMA: %llu pages quarantined\n",
                (unsigned long)v->start, (unsigned long)v->end - 1,
                (unsigned long long)((v->end - v->start) / PAGE_SIZE));
        kfree(v->chunks);
        vma_remove(v);
        return 0;
    }
    release_pages(v);
    vma_remove(v);
    return 0;
}

int vm_virt_to_phys(const void *va, uint64_t *pa)
{
    return arch_virt_to_phys((uintptr_t)va, pa);
}

uint64_t vm_quarantined_pages(void)
{
    return quarantined;
}
