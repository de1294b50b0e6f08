#include "kernel/vm.h"
#include "arch/arch.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/fd.h"
#include "kernel/uaccess.h"
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
    bool stack;                     /* the program's stack: never unmapped or re-protected */
    int prot;                       /* VM_PROT_* as the program last set it */
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

static unsigned arch_flags(const struct vma *v)
{
    return (v->prot & VM_PROT_WRITE ? ARCH_MAP_WRITE : 0) | (v->anon ? 0 : ARCH_MAP_UNCACHED);
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
            if (arch_map_page(a, c->pa + k * PAGE_SIZE, arch_flags(v)))
                return -ENOMEM;
    }
    return 0;
}

static struct vma *vma_new(uintptr_t start, size_t len, bool anon, int prot)
{
    struct vma *v = kzalloc(sizeof(*v));
    if (!v)
        return NULL;
    v->start = start;
    v->end = start + ALIGN_UP(len, PAGE_SIZE);
    v->anon = anon;
    v->prot = prot;
    return v;
}

/* The mapping becomes the program's: linked, and in kernel/uaccess's table. */
static int vma_publish(struct vma *v, void **out)
{
    int err = vm_prog_region((void *)v->start, v->end - v->start, v->prot,
                             v->stack ? VM_KIND_STACK : v->anon ? VM_KIND_ANON : VM_KIND_BAR);
    if (err)
        return err;
    v->next = vmas;
    vmas = v;
    *out = (void *)v->start;
    return 0;
}

static int map_anon(size_t len, int prot, bool stack, void **out)
{
    uintptr_t start;
    int err = vm_reserve(len, &start);
    if (err)
        return err;
    struct vma *v = vma_new(start, len, true, prot);
    if (!v)
        return -ENOMEM;
    v->stack = stack;
    if (fill_anon(v) || vma_publish(v, out)) {
        release_pages(v);           /* undo what was mapped so far */
        kfree(v);
        return -ENOMEM;
    }
    return 0;
}

int vm_map_anon_prot(size_t len, int prot, void **out)
{
    return map_anon(len, prot, false, out);
}

int vm_map_stack(size_t len, void **out)
{
    return map_anon(len, VM_PROT_READ | VM_PROT_WRITE, true, out);
}

int vm_map_anon(size_t len, void **out)
{
    return vm_map_anon_prot(len, VM_PROT_READ | VM_PROT_WRITE, out);
}

int vm_map_mmio(uint64_t pa, size_t len, int prot, void **out)
{
    if (!IS_ALIGNED(pa, PAGE_SIZE))
        return -EINVAL;
    uintptr_t start;
    int err = vm_reserve(len, &start);
    if (err)
        return err;
    struct vma *v = vma_new(start, len, false, prot);
    if (!v)
        return -ENOMEM;
    for (uintptr_t a = v->start; a < v->end; a += PAGE_SIZE) {
        if (arch_map_page(a, pa + (a - v->start), arch_flags(v))) {
            v->end = a;
            release_pages(v);
            kfree(v);
            return -ENOMEM;
        }
    }
    if (vma_publish(v, out)) {
        release_pages(v);
        kfree(v);
        return -ENOMEM;
    }
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
    if (!v || v->start != a || v->end != a + ALIGN_UP(len, PAGE_SIZE) || v->stack)
        return -EINVAL;
    vm_prog_forget(va, v->end - v->start);      /* no copy or map call reaches it any more */
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

int vm_protect(void *va, size_t len, int prot)
{
    uintptr_t s = (uintptr_t)va, e;
    if (!IS_ALIGNED(s, PAGE_SIZE) || (prot & ~(VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC)))
        return -EINVAL;
    if (!len)
        return 0;
    if (__builtin_add_overflow(s, ALIGN_UP(len, PAGE_SIZE), &e) || e < s)
        return -ENOMEM;
    for (uintptr_t a = s; a < e; a += PAGE_SIZE) {
        struct vma *v = vma_find(a);
        if (!v)
            return -ENOMEM;     /* all or nothing: every page must be mapped here */
        if (v->stack)
            return -EINVAL;
    }
    int err = vm_prog_protect(va, e - s, prot);
    if (err)
        return err;
    for (uintptr_t a = s; a < e; a += PAGE_SIZE) {
        struct vma *v = vma_find(a);
        struct vma page = { .anon = v->anon, .prot = prot };
        uint64_t pa;
        arch_unmap_page(a, &pa);
        arch_map_page(a, pa, arch_flags(&page));
    }
    return 0;
}

#define VM_MAP_SHARED 0x01
#define VM_MAP_PRIVATE 0x02
#define VM_MAP_FIXED 0x10
#define VM_MAP_ANONYMOUS 0x20

int sys_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off, void **out)
{
    if (len == 0 || (flags & VM_MAP_FIXED) || !(flags & (VM_MAP_SHARED | VM_MAP_PRIVATE)))
        return -EINVAL;
    if (prot & ~(VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC))
        return -EINVAL;
    if (flags & VM_MAP_ANONYMOUS)
        return vm_map_anon_prot(len, prot, out);
    if (off < 0 || !IS_ALIGNED((uint64_t)off, PAGE_SIZE))
        return -EINVAL;
    return sys_mmap_file(fd, (uint64_t)off, len, prot, out);
}

int sys_munmap(void *addr, size_t len)
{
    if (!IS_ALIGNED((uintptr_t)addr, PAGE_SIZE) || !len)
        return -EINVAL;
    return vm_unmap(addr, len);
}

int sys_mprotect(void *addr, size_t len, int prot)
{
    return vm_protect(addr, len, prot);
}

uint64_t vm_phys_run(const void *va, uint64_t len, uint64_t *pa)
{
    uintptr_t v = (uintptr_t)va;
    uint64_t first, next, run = PAGE_SIZE - (v & (PAGE_SIZE - 1));
    if (arch_virt_to_phys(v, &first))
        return 0;
    while (run < len && !arch_virt_to_phys(v + run, &next) && next == first + run)
        run += PAGE_SIZE;
    *pa = first;
    return MIN(run, len);
}

int vm_dma_pin(const void *va, uint64_t len, int prot, bool allow_bar, uint64_t *pa)
{
    int err = vm_dma_check(va, len, prot, allow_bar);
    if (err)
        return err;
    return vm_phys_run(va, len, pa) == len ? 0 : ERR(-EFAULT);
}

uint64_t vm_quarantined_pages(void)
{
    return quarantined;
}
