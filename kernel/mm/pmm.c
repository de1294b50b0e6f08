#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

static struct buddy_zone zones[PMM_MAX_ZONES];
static unsigned nr_zones;
static uint64_t total_bytes;
static uint64_t zeroed_bytes;

void pmm_reset(void)
{
    nr_zones = 0;
    total_bytes = 0;
}

int pmm_add_region(uint64_t base, uint64_t size)
{
    uint64_t start = ALIGN_UP(base, PAGE_SIZE);
    if (size < PAGE_SIZE || start - base >= size)
        return -ENOSPC;
    uint64_t end = ALIGN_DOWN(base + size, PAGE_SIZE);
    uint64_t npages = (end - start) >> PAGE_SHIFT;
    /* Zones hold at most 2^32 - 1 pages (16 TiB); split bigger regions. */
    while (npages > 0xfffff000ULL) {
        int err = pmm_add_region(start, 0xfffff000ULL << PAGE_SHIFT);
        if (err)
            return err;
        start += 0xfffff000ULL << PAGE_SHIFT;
        npages -= 0xfffff000ULL;
    }
    uint64_t meta_pages = (buddy_meta_size(npages) + 8 + PAGE_SIZE - 1) >> PAGE_SHIFT;
    if (npages <= meta_pages + 1)
        return -ENOSPC;
    if (nr_zones == PMM_MAX_ZONES)
        return -ENOMEM;
    void *meta = phys_to_virt(start);
    memset(meta, 0, meta_pages << PAGE_SHIFT);
    struct buddy_zone *z = &zones[nr_zones];
    int err = buddy_init(z, start + (meta_pages << PAGE_SHIFT), npages - meta_pages, meta);
    if (err)
        return err;
    nr_zones++;
    total_bytes += (npages - meta_pages) << PAGE_SHIFT;
    return 0;
}

int pmm_alloc(unsigned order, uint64_t *pa_out)
{
    if (order > BUDDY_MAX_ORDER)
        return -EINVAL;
    for (unsigned i = 0; i < nr_zones; i++)
        if (buddy_alloc(&zones[i], order, pa_out) == 0)
            return 0;
    return -ENOMEM;
}

void *pmm_alloc_zeroed(unsigned order, uint64_t *pa_out)
{
    uint64_t pa;
    if (pmm_alloc(order, &pa))
        return NULL;
    void *va = phys_to_virt(pa);
    memset(va, 0, PAGE_SIZE << order);
    zeroed_bytes += PAGE_SIZE << order;
    if (pa_out)
        *pa_out = pa;
    return va;
}

static struct buddy_zone *zone_of(uint64_t pa, const char *what)
{
    for (unsigned i = 0; i < nr_zones; i++)
        if (buddy_contains(&zones[i], pa))
            return &zones[i];
    panic("%s: %#llx is not in any zone", what, (unsigned long long)pa);
}

void pmm_free(uint64_t pa, unsigned order)
{
    buddy_free(zone_of(pa, "pmm_free"), pa, order);
}

void pmm_split(uint64_t pa, unsigned order)
{
    buddy_split(zone_of(pa, "pmm_split"), pa, order);
}

uint64_t pmm_free_bytes(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < nr_zones; i++)
        n += zones[i].free_pages << PAGE_SHIFT;
    return n;
}

uint64_t pmm_zeroed_bytes(void)
{
    return zeroed_bytes;
}

uint64_t pmm_total_bytes(void)
{
    return total_bytes;
}
