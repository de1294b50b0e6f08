#include "kernel/vm.h"
#include "arch/arch.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/fd.h"
#include "kernel/uaccess.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

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
    bool shared;                    /* MAP_SHARED: a fork's child and its parent see one copy */
    bool unbacked;                  /* PROT_NONE anonymous memory: address space alone, its
                                     * pages come with the first mprotect that allows access */
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

#define VM_LARGE (PAGE_SIZE << BUDDY_MAX_ORDER)

/* A guard page between ranges: an overrun faults instead of reaching a neighbour. A range of
 * 2 MiB or more starts on a 2 MiB boundary, so that its 2 MiB blocks (fill_anon) sit at virtual
 * addresses as aligned as their physical ones: a program that aligns its buffer to 2 MiB (as
 * for Linux's THP) then has runs a DMA mapping can store as 2 MiB leaves. */
static int vm_reserve(size_t len, uintptr_t *start)
{
    if (len == 0 || len > (VM_AREA_END - VM_AREA_START) / 4)
        return -EINVAL;
    size_t span = ALIGN_UP(len, PAGE_SIZE);
    uintptr_t at = span >= VM_LARGE ? ALIGN_UP(vm_next, VM_LARGE) : vm_next;
    if (at + span + PAGE_SIZE > VM_AREA_END)
        return -ENOMEM;
    *start = at;
    vm_next = at + span + PAGE_SIZE;
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
    /* A program reserves address space with PROT_NONE (libvfio aligns BAR mappings that way,
     * reserving the size plus 1 GiB): no memory behind it until it asks for access. */
    v->unbacked = prot == 0 && !stack;
    if ((!v->unbacked && fill_anon(v)) || vma_publish(v, out)) {
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

/* v's pages go: freed, or quarantined when a device may still reach them. */
static void vma_unmap(struct vma *v)
{
    vm_prog_forget((void *)v->start, v->end - v->start);  /* no copy or map call reaches it */
    if (v->anon && pinned_query && pinned_query((void *)v->start, v->end - v->start)) {
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
        return;
    }
    release_pages(v);
    vma_remove(v);
}

static int unmap_whole(void *va, size_t len, bool stack)
{
    uintptr_t a = (uintptr_t)va;
    struct vma *v = vma_find(a);
    if (!v || v->start != a || v->end != a + ALIGN_UP(len, PAGE_SIZE) || v->stack != stack)
        return -EINVAL;
    vma_unmap(v);
    return 0;
}

int vm_unmap(void *va, size_t len)
{
    return unmap_whole(va, len, false);
}

int vm_unmap_stack(void *va, size_t len)
{
    return unmap_whole(va, len, true);
}

/* Puts chunk c (at CPU address a) on the side of at it lies on, halving it while it straddles. */
static void split_chunk(struct vm_chunk c, uintptr_t a, uintptr_t at, struct vm_chunk *lo,
                        unsigned *nlo, struct vm_chunk *hi, unsigned *nhi)
{
    uintptr_t size = PAGE_SIZE << c.order;
    if (a + size <= at) {
        lo[(*nlo)++] = c;
    } else if (a >= at) {
        hi[(*nhi)++] = c;
    } else {
        pmm_split(c.pa, c.order);
        struct vm_chunk l = { c.pa, c.order - 1 }, h = { c.pa + size / 2, c.order - 1 };
        split_chunk(l, a, at, lo, nlo, hi, nhi);
        split_chunk(h, a + size / 2, at, lo, nlo, hi, nhi);
    }
}

/* v becomes [start, at) and a new vma [at, end) with the pages behind it (a block that
 * straddles at is split into halves until none does); -ENOMEM leaves v as it was. */
static int vma_split(struct vma *v, uintptr_t at)
{
    struct vma *r = vma_new(at, v->end - at, v->anon, v->prot);
    if (r) {
        r->shared = v->shared;
        r->unbacked = v->unbacked;
    }
    struct vm_chunk *lo = NULL, *hi = NULL;
    unsigned nlo = 0, nhi = 0;
    if (r && v->nr_chunks) {
        lo = kcalloc(v->nr_chunks + BUDDY_MAX_ORDER, sizeof(*lo));
        hi = kcalloc(v->nr_chunks + BUDDY_MAX_ORDER, sizeof(*hi));
    }
    if (!r || (v->nr_chunks && (!lo || !hi))) {
        kfree(r);
        kfree(lo);
        kfree(hi);
        return -ENOMEM;
    }
    uintptr_t a = v->start;
    for (unsigned i = 0; i < v->nr_chunks; a += PAGE_SIZE << v->chunks[i].order, i++)
        split_chunk(v->chunks[i], a, at, lo, &nlo, hi, &nhi);
    kfree(v->chunks);
    v->chunks = lo;
    v->nr_chunks = nlo;
    v->end = at;
    r->chunks = hi;
    r->nr_chunks = nhi;
    r->next = v->next;
    v->next = r;
    return 0;
}

static struct vma *vma_overlapping(uintptr_t s, uintptr_t e)
{
    for (struct vma *v = vmas; v; v = v->next)
        if (v->start < e && v->end > s)
            return v;
    return NULL;
}

/* Linux's munmap: whatever is mapped in [s, e) goes, the parts of mappings outside it stay, and
 * holes are fine. The program's stack is refused (-EINVAL) before anything changes. */
static int unmap_range(uintptr_t s, uintptr_t e)
{
    for (struct vma *v = vmas; v; v = v->next)
        if (v->start < e && v->end > s && v->stack)
            return -EINVAL;
    for (struct vma *v; (v = vma_overlapping(s, e));) {
        int err;
        if (v->start < s) {
            if ((err = vma_split(v, s)))
                return err;
            v = v->next;
        }
        if (v->end > e && (err = vma_split(v, e)))
            return err;
        vma_unmap(v);
    }
    return 0;
}

/* MAP_FIXED: the mapping just made at v moves to [at, at + its length): the CPU translations
 * and the program's region go with it. Nothing else is mapped there any more. */
static void vma_move(struct vma *v, uintptr_t at)
{
    size_t len = v->end - v->start;
    struct vma page = { .anon = v->anon, .prot = v->prot };
    vm_prog_forget((void *)v->start, len);
    for (uintptr_t off = 0; off < len && !v->unbacked; off += PAGE_SIZE) {
        uint64_t pa;
        arch_unmap_page(v->start + off, &pa);
        MOAT_ASSERT(arch_map_page(at + off, pa, arch_flags(&page)) == 0);
    }
    v->start = at;
    v->end = at + len;
    MOAT_ASSERT(vm_prog_region((void *)v->start, len, v->prot,
                               v->anon ? VM_KIND_ANON : VM_KIND_BAR) == 0);
    if (v->end + PAGE_SIZE > vm_next)
        vm_next = v->end + PAGE_SIZE;     /* later mappings start above it */
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
    /* Access to reserved address space: pages (zero-filled) for the part asked for, now. */
    for (uintptr_t a = s; a < e && prot;) {
        struct vma *v = vma_find(a);
        int err = 0;
        if (v->unbacked && v->start < a && !(err = vma_split(v, a)))
            v = v->next;
        if (!err && v->unbacked && v->end > e)
            err = vma_split(v, e);
        if (!err && v->unbacked && (err = fill_anon(v)))
            release_pages(v);
        if (err)
            return err;
        v->unbacked = false;
        a = v->end;
    }
    int err = vm_prog_protect(va, e - s, prot);
    if (err)
        return err;
    for (uintptr_t a = s; a < e; a += PAGE_SIZE) {
        struct vma *v = vma_find(a);
        if (v->unbacked)
            continue;
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

#define VM_MAP_FIXED_NOREPLACE 0x100000
#define VM_TASK_SIZE 0x00007ffffffff000ULL    /* x86_64, 4-level paging */

/* Linux's answers: EINVAL for len 0, no SHARED/PRIVATE, unknown protection bits, a misaligned
 * fixed address or file offset; EEXIST for MAP_FIXED_NOREPLACE over a mapping. A fixed range
 * must lie in the mmap area (ENOMEM otherwise: moat has nothing else to give a program). The new
 * mapping is made first and moved into place, so a failed mmap leaves the old range as it was. */
int sys_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off, void **out)
{
    uintptr_t at = (uintptr_t)addr, end = 0;
    bool fixed = flags & (VM_MAP_FIXED | VM_MAP_FIXED_NOREPLACE);
    if (len == 0 || !(flags & (VM_MAP_SHARED | VM_MAP_PRIVATE)))
        return -EINVAL;
    if (prot & ~(VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC))
        return -EINVAL;
    if (fixed) {
        if (!IS_ALIGNED(at, PAGE_SIZE))
            return -EINVAL;
        if (__builtin_add_overflow(at, ALIGN_UP(len, PAGE_SIZE), &end) || at < VM_AREA_START ||
            end > VM_AREA_END)
            return -ENOMEM;
        if ((flags & VM_MAP_FIXED_NOREPLACE) && vma_overlapping(at, end))
            return -EEXIST;
    }
    int err;
    if (flags & VM_MAP_ANONYMOUS) {
        err = vm_map_anon_prot(len, prot, out);
        if (!err)
            vma_find((uintptr_t)*out)->shared = flags & VM_MAP_SHARED;
    }
    else if (off < 0 || !IS_ALIGNED((uint64_t)off, PAGE_SIZE))
        err = -EINVAL;
    else
        err = sys_mmap_file(fd, (uint64_t)off, len, prot, out);
    if (err || !fixed)
        return err;
    struct vma *v = vma_find((uintptr_t)*out);
    if ((err = unmap_range(at, end))) {
        vma_unmap(v);
        return err;
    }
    vma_move(v, at);
    *out = addr;
    return 0;
}

int sys_munmap(void *addr, size_t len)
{
    uintptr_t s = (uintptr_t)addr, e;
    if (!IS_ALIGNED(s, PAGE_SIZE) || !len)
        return -EINVAL;
    if (__builtin_add_overflow(s, ALIGN_UP(len, PAGE_SIZE), &e) || e > VM_TASK_SIZE)
        return -EINVAL;     /* Linux: beyond TASK_SIZE */
    if (s < VM_AREA_START || e > VM_AREA_END)
        return -EINVAL;     /* moat: the runtime's memory, static data and stack never go */
    return unmap_range(s, e);
}

int sys_mprotect(void *addr, size_t len, int prot)
{
    return vm_protect(addr, len, prot);
}

/* Anonymous memory: its blocks say where it is, one step per block (up to 2 MiB) instead of a
 * page-table walk per 4 KiB page. 0 when va is past the blocks mapped (a failed fill). */
static uint64_t anon_phys_run(const struct vma *v, uintptr_t va, uint64_t len, uint64_t *pa)
{
    uintptr_t at = v->start;
    unsigned i = 0;
    while (i < v->nr_chunks && va >= at + (PAGE_SIZE << v->chunks[i].order))
        at += PAGE_SIZE << v->chunks[i++].order;
    if (i == v->nr_chunks)
        return 0;
    uint64_t first = v->chunks[i].pa + (va - at);
    uint64_t run = (PAGE_SIZE << v->chunks[i].order) - (va - at);
    for (i++; run < len && i < v->nr_chunks && v->chunks[i].pa == first + run; i++)
        run += PAGE_SIZE << v->chunks[i].order;
    *pa = first;
    return MIN(run, len);
}

uint64_t vm_phys_run(const void *va, uint64_t len, uint64_t *pa)
{
    uintptr_t v = (uintptr_t)va;
    const struct vma *area = vma_find(v);
    if (area && area->anon && area->nr_chunks)
        return anon_phys_run(area, v, MIN(len, area->end - v), pa);
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

/* fork's memory (posix/proc.c). The parent's private memory is copied aside, block by block of
 * the physical pages behind it (so PROT_NONE and read-only pages copy too), and put back when
 * the child ends. What the child mapped goes then, as a process exit takes it. */
struct vm_saved_block {
    uintptr_t va;                   /* where the block is mapped in the program */
    uint64_t pa, copy;              /* its pages, and the copy of them */
    unsigned order;
};

struct vm_fork_image {
    void *data;                     /* the program's static data, and its copy */
    size_t data_len;
    uint64_t data_copy;
    unsigned data_order;
    struct vm_saved_block *blocks;
    unsigned nr_blocks;
    uintptr_t (*ranges)[2];         /* every mapping that existed, [start, end) */
    unsigned nr_ranges;
};

static bool private_anon(const struct vma *v)
{
    return v->anon && !v->shared && !v->stack;
}

void vm_fork_discard(struct vm_fork_image *img)
{
    if (!img)
        return;
    for (unsigned i = 0; i < img->nr_blocks; i++)
        pmm_free(img->blocks[i].copy, img->blocks[i].order);
    if (img->data_len)
        pmm_free(img->data_copy, img->data_order);
    kfree(img->blocks);
    kfree(img->ranges);
    kfree(img);
}

int vm_fork_save(void *data, size_t data_len, struct vm_fork_image **out)
{
    struct vm_fork_image *img = kzalloc(sizeof(*img));
    unsigned nr_blocks = 0, nr_vmas = 0;
    for (struct vma *v = vmas; v; v = v->next, nr_vmas++)
        nr_blocks += private_anon(v) ? v->nr_chunks : 0;
    if (!img || !(img->blocks = kcalloc(nr_blocks + 1, sizeof(*img->blocks))) ||
        !(img->ranges = kcalloc(nr_vmas + 1, sizeof(*img->ranges))))
        goto nomem;
    for (struct vma *v = vmas; v; v = v->next) {
        img->ranges[img->nr_ranges][0] = v->start;
        img->ranges[img->nr_ranges++][1] = v->end;
        if (!private_anon(v))
            continue;
        uintptr_t va = v->start;
        for (unsigned i = 0; i < v->nr_chunks; va += PAGE_SIZE << v->chunks[i++].order) {
            struct vm_saved_block *b = &img->blocks[img->nr_blocks];
            *b = (struct vm_saved_block){ va, v->chunks[i].pa, 0, v->chunks[i].order };
            if (pmm_alloc(b->order, &b->copy))
                goto nomem;
            img->nr_blocks++;
            memcpy(phys_to_virt(b->copy), phys_to_virt(b->pa), PAGE_SIZE << b->order);
        }
    }
    if (data_len) {
        img->data_order = pmm_order_for(data_len);
        if (pmm_alloc(img->data_order, &img->data_copy))
            goto nomem;
        img->data = data;
        img->data_len = data_len;
        memcpy(phys_to_virt(img->data_copy), data, data_len);
    }
    *out = img;
    return 0;
nomem:
    vm_fork_discard(img);
    return -ENOMEM;
}

static bool existed(const struct vm_fork_image *img, const struct vma *v)
{
    for (unsigned i = 0; i < img->nr_ranges; i++)
        if (v->start >= img->ranges[i][0] && v->end <= img->ranges[i][1])
            return true;
    return false;
}

void vm_fork_restore(struct vm_fork_image *img)
{
    for (struct vma *v = vmas; v;) {
        struct vma *next = v->next;
        if (!existed(img, v))
            vma_unmap(v);           /* the child's (its threads' stacks too): freed, or
                                     * quarantined if a device has it */
        v = next;
    }
    /* A page goes back only where the parent's page still is: one the child unmapped may
     * belong to someone else by now. */
    for (unsigned i = 0; i < img->nr_blocks; i++) {
        const struct vm_saved_block *b = &img->blocks[i];
        for (uint64_t off = 0; off < (PAGE_SIZE << b->order); off += PAGE_SIZE) {
            uint64_t pa;
            const struct vma *v = vma_find(b->va + off);
            if (v && private_anon(v) && !arch_virt_to_phys(b->va + off, &pa) && pa == b->pa + off)
                memcpy(phys_to_virt(pa), phys_to_virt(b->copy + off), PAGE_SIZE);
        }
    }
    if (img->data_len)
        memcpy(img->data, phys_to_virt(img->data_copy), img->data_len);
    vm_fork_discard(img);
}
