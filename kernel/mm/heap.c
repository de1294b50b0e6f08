#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/log.h"
#include "lib/string.h"

#define HEAP_MAGIC_LIVE 0x6d6f6174u     /* "moat" */
#define HEAP_MAGIC_FREE 0x66726565u     /* "free" */
#define HEAP_LARGE 0x80u                /* kind flag in hdr.cls: whole page block */

struct heap_hdr {
    uint32_t magic;
    uint32_t cls;       /* size-class index, or HEAP_LARGE | page order */
    uint64_t size;      /* what the caller asked for */
};
_Static_assert(sizeof(struct heap_hdr) == 16, "heap header keeps 16-byte alignment");

static const uint32_t class_size[] = { 32, 64, 128, 256, 512, 1024, 2048 };
#define NR_CLASSES ARRAY_SIZE(class_size)

struct free_obj {
    struct free_obj *next;
};
static struct free_obj *free_list[NR_CLASSES];
static size_t live_bytes;

static int class_for(size_t total)
{
    for (unsigned i = 0; i < NR_CLASSES; i++)
        if (total <= class_size[i])
            return (int)i;
    return -1;
}

static bool refill(unsigned cls)
{
    void *page = pmm_alloc_zeroed(0, NULL);
    if (!page)
        return false;
    for (uint32_t off = 0; off + class_size[cls] <= PAGE_SIZE; off += class_size[cls]) {
        struct free_obj *o = (void *)((char *)page + off);
        ((struct heap_hdr *)o)->magic = HEAP_MAGIC_FREE;
        o = (void *)((char *)o + sizeof(struct heap_hdr));
        o->next = free_list[cls];
        free_list[cls] = o;
    }
    return true;
}

static struct heap_hdr *alloc_large(size_t total)
{
    unsigned order = 0;
    while ((PAGE_SIZE << order) < total)
        order++;
    void *p = pmm_alloc_zeroed(order, NULL);
    if (!p)
        return NULL;
    struct heap_hdr *h = p;
    h->cls = HEAP_LARGE | order;
    return h;
}

void *kmalloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (size > HEAP_MAX_ALLOC)
        return NULL;
    size_t total = size + sizeof(struct heap_hdr);
    int cls = class_for(total);
    struct heap_hdr *h;
    if (cls < 0) {
        h = alloc_large(total);
        if (!h)
            return NULL;
    } else {
        if (!free_list[cls] && !refill((unsigned)cls))
            return NULL;
        struct free_obj *o = free_list[cls];
        free_list[cls] = o->next;
        h = (struct heap_hdr *)o - 1;
        h->cls = (uint32_t)cls;
    }
    h->magic = HEAP_MAGIC_LIVE;
    h->size = size;
    live_bytes += size;
    return h + 1;
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *kcalloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return NULL;
    return kzalloc(total);
}

static struct heap_hdr *hdr_of(const void *p, const char *who)
{
    struct heap_hdr *h = (struct heap_hdr *)p - 1;
    if (h->magic == HEAP_MAGIC_FREE)
        panic("%s: double free of %p", who, p);
    if (h->magic != HEAP_MAGIC_LIVE)
        panic("%s: %p was not allocated by kmalloc", who, p);
    return h;
}

void kfree(void *p)
{
    if (!p)
        return;
    struct heap_hdr *h = hdr_of(p, "kfree");
    live_bytes -= h->size;
    h->magic = HEAP_MAGIC_FREE;
    if (h->cls & HEAP_LARGE) {
        pmm_free(virt_to_phys(h), h->cls & ~HEAP_LARGE);
        return;
    }
    struct free_obj *o = p;
    o->next = free_list[h->cls];
    free_list[h->cls] = o;
}

size_t kmalloc_usable_size(const void *p)
{
    return p ? hdr_of(p, "kmalloc_usable_size")->size : 0;
}

size_t heap_live_bytes(void)
{
    return live_bytes;
}

void heap_reset(void)
{
    for (unsigned i = 0; i < NR_CLASSES; i++)
        free_list[i] = NULL;
    live_bytes = 0;
}
