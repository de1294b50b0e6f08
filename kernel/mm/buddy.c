#include "kernel/mm/buddy.h"
#include "lib/errno.h"
#include "lib/log.h"

#define BUDDY_NIL 0xffffffffu
#define ST_FREE 0x10u
#define ST_ALLOC 0x20u
#define ST_ORDER 0x0fu

uint64_t buddy_meta_size(uint64_t npages)
{
    return npages * (sizeof(uint8_t) + 2 * sizeof(uint32_t));
}

static void list_push(struct buddy_zone *z, unsigned order, uint32_t i)
{
    uint32_t h = z->head[order];
    z->next[i] = h;
    z->prev[i] = BUDDY_NIL;
    if (h != BUDDY_NIL)
        z->prev[h] = i;
    z->head[order] = i;
    z->state[i] = (uint8_t)(ST_FREE | order);
}

static void list_remove(struct buddy_zone *z, unsigned order, uint32_t i)
{
    uint32_t n = z->next[i], p = z->prev[i];
    if (p != BUDDY_NIL)
        z->next[p] = n;
    else
        z->head[order] = n;
    if (n != BUDDY_NIL)
        z->prev[n] = p;
    z->state[i] = 0;
}

/* The largest order a free run starting at pfn may have: aligned, and not past end. */
static unsigned fit_order(uint64_t pfn, uint64_t end_pfn)
{
    unsigned order = 0;
    while (order < BUDDY_MAX_ORDER && (pfn & (1ULL << order)) == 0 &&
           pfn + (2ULL << order) <= end_pfn)
        order++;
    return order;
}

int buddy_init(struct buddy_zone *z, uint64_t base_pa, uint64_t npages, void *meta)
{
    if (!IS_ALIGNED(base_pa, PAGE_SIZE) || npages >= BUDDY_NIL)
        return -EINVAL;
    z->base_pfn = base_pa >> PAGE_SHIFT;
    z->npages = npages;
    z->state = meta;
    z->next = (uint32_t *)ALIGN_UP((uintptr_t)(z->state + npages), 4);
    z->prev = z->next + npages;
    for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
        z->head[o] = BUDDY_NIL;
    z->free_pages = npages;
    uint64_t end = z->base_pfn + npages;
    for (uint64_t pfn = z->base_pfn; pfn < end;) {
        unsigned order = fit_order(pfn, end);
        list_push(z, order, (uint32_t)(pfn - z->base_pfn));
        pfn += 1ULL << order;
    }
    return 0;
}

int buddy_alloc(struct buddy_zone *z, unsigned order, uint64_t *pa_out)
{
    if (order > BUDDY_MAX_ORDER)
        return -EINVAL;
    unsigned o = order;
    while (o <= BUDDY_MAX_ORDER && z->head[o] == BUDDY_NIL)
        o++;
    if (o > BUDDY_MAX_ORDER)
        return -ENOMEM;
    uint32_t i = z->head[o];
    list_remove(z, o, i);
    /* Split: the upper half of each level goes back on the list one order lower. */
    while (o > order) {
        o--;
        list_push(z, o, i + (1u << o));
    }
    z->state[i] = (uint8_t)(ST_ALLOC | order);
    z->free_pages -= 1ULL << order;
    *pa_out = (z->base_pfn + i) << PAGE_SHIFT;
    return 0;
}

void buddy_split(struct buddy_zone *z, uint64_t pa, unsigned order)
{
    uint64_t pfn = pa >> PAGE_SHIFT;
    if (!buddy_contains(z, pa) || order == 0 || order > BUDDY_MAX_ORDER ||
        z->state[pfn - z->base_pfn] != (ST_ALLOC | order))
        panic("buddy_split: %#llx order %u does not head an allocated block",
              (unsigned long long)pa, order);
    uint32_t i = (uint32_t)(pfn - z->base_pfn);
    z->state[i] = (uint8_t)(ST_ALLOC | (order - 1));
    z->state[i + (1u << (order - 1))] = (uint8_t)(ST_ALLOC | (order - 1));
}

bool buddy_contains(const struct buddy_zone *z, uint64_t pa)
{
    uint64_t pfn = pa >> PAGE_SHIFT;
    return pfn >= z->base_pfn && pfn < z->base_pfn + z->npages;
}

/* Whether the page lies in a free block (it may have merged into a bigger one since). */
static bool page_is_free(const struct buddy_zone *z, uint64_t pfn)
{
    for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
        uint64_t head = pfn & ~((1ULL << k) - 1);
        if (head < z->base_pfn)
            break;
        uint8_t st = z->state[head - z->base_pfn];
        /* Blocks never overlap: the first block head at or below pfn decides. */
        if (st & (ST_FREE | ST_ALLOC))
            return (st & ST_FREE) && (st & ST_ORDER) >= k;
    }
    return false;
}

void buddy_free(struct buddy_zone *z, uint64_t pa, unsigned order)
{
    if (!buddy_contains(z, pa) || !IS_ALIGNED(pa, PAGE_SIZE << order) || order > BUDDY_MAX_ORDER)
        panic("buddy_free: %#llx order %u is not a block of this zone",
              (unsigned long long)pa, order);
    uint64_t pfn = pa >> PAGE_SHIFT;
    uint32_t i = (uint32_t)(pfn - z->base_pfn);
    uint8_t st = z->state[i];
    if (st != (ST_ALLOC | order) && page_is_free(z, pfn))
        panic("buddy_free: double free of %#llx (order %u)", (unsigned long long)pa, order);
    if (st != (ST_ALLOC | order))
        panic("buddy_free: %#llx order %u does not head an allocated block (state %#x)",
              (unsigned long long)pa, order, st);
    z->state[i] = 0;
    z->free_pages += 1ULL << order;
    uint64_t end = z->base_pfn + z->npages;
    while (order < BUDDY_MAX_ORDER) {
        uint64_t bpfn = pfn ^ (1ULL << order);
        if (bpfn < z->base_pfn || bpfn + (1ULL << order) > end)
            break;
        uint32_t bi = (uint32_t)(bpfn - z->base_pfn);
        if (z->state[bi] != (ST_FREE | order))
            break;
        list_remove(z, order, bi);
        pfn &= ~(1ULL << order);
        order++;
    }
    list_push(z, order, (uint32_t)(pfn - z->base_pfn));
}
