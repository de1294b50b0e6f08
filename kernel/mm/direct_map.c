/* The direct map and the mem unit: free RAM to the page allocator in two steps (what the early
 * boot map covers, then the rest once the real map does), the common parts of the tables. */
#include "kernel/mm/direct_map.h"
#include "arch/arch.h"
#include "kernel/boot_info.h"
#include "kernel/init.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"

extern char __image_start[], __image_end[], __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];

int dm_map_range(uint64_t start, uint64_t end, unsigned flags)
{
    uint64_t a = ALIGN_DOWN(start, PAGE_SIZE);
    while (a < end) {
        bool big = IS_ALIGNED(a, DM_SIZE_2M) && a + DM_SIZE_2M <= end;
        int err = arch_map_one(a, a, big ? DM_SIZE_2M : PAGE_SIZE, flags);
        if (err)
            return err;
        a += big ? DM_SIZE_2M : PAGE_SIZE;
    }
    return 0;
}

int dm_map_kernel_image(void)
{
    uint64_t t0 = (uintptr_t)__text_start, t1 = (uintptr_t)__text_end;
    uint64_t r0 = (uintptr_t)__rodata_start, r1 = (uintptr_t)__rodata_end;
    uint64_t i0 = (uintptr_t)__image_start, i1 = ALIGN_UP((uintptr_t)__image_end, PAGE_SIZE);
    for (uint64_t a = i0; a < i1; a += PAGE_SIZE) {
        unsigned f = ARCH_MAP_WRITE;
        if (a >= t0 && a < t1)
            f = ARCH_MAP_EXEC;
        else if (a >= r0 && a < r1)
            f = 0;
        int err = arch_map_one(a, a, PAGE_SIZE, f);
        if (err)
            return err;
    }
    return 0;
}

int dm_map_ram_region(uint64_t base, uint64_t end)
{
    uint64_t i0 = ALIGN_DOWN((uintptr_t)__image_start, DM_SIZE_2M);
    uint64_t i1 = ALIGN_UP((uintptr_t)__image_end, DM_SIZE_2M);
    if (end <= i0 || base >= i1)
        return dm_map_range(base, end, ARCH_MAP_WRITE);
    int err = 0;
    if (base < i0)
        err = dm_map_range(base, i0, ARCH_MAP_WRITE);
    for (uint64_t a = MAX(base, i0); !err && a < MIN(end, i1); a += PAGE_SIZE)
        err = arch_map_one(a, a, PAGE_SIZE, ARCH_MAP_WRITE);
    if (!err && end > i1)
        err = dm_map_range(i1, end, ARCH_MAP_WRITE);
    return err;
}

void *mmio_map(uint64_t pa, uint64_t size)
{
    if (size == 0 || pa + size < pa)
        return NULL;
    if (dm_map_range(pa, pa + size, ARCH_MAP_WRITE | ARCH_MAP_UNCACHED))
        return NULL;
    return phys_to_virt(pa);
}

const void *firmware_map(uint64_t pa, uint64_t size)
{
    if (size == 0 || pa + size < pa)
        return NULL;
    /* Firmware tables may sit in reserved memory outside the direct map: map them read-only. */
    if (dm_map_range(pa, pa + size, 0))
        return NULL;
    return phys_to_virt(pa);
}

int arch_map_page(uintptr_t va, uint64_t pa, unsigned flags)
{
    if (!IS_ALIGNED(va, PAGE_SIZE) || !IS_ALIGNED(pa, PAGE_SIZE))
        return -EINVAL;
    if (arch_virt_flags(va) & ARCH_MAP_PRESENT)
        return -EEXIST;
    return arch_map_one(va, pa, PAGE_SIZE, flags);
}

/* Free RAM for the page allocator: usable regions from ARCH_RAM_FLOOR on, minus the image;
 * the part below ARCH_EARLY_MAP_END (what the boot path's early tables cover) first, the rest
 * once the real tables cover it. */
static void add_free_ram(bool high)
{
    uint64_t img0 = (uintptr_t)__image_start, img1 = ALIGN_UP((uintptr_t)__image_end, PAGE_SIZE);
    for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
        const struct mem_region *r = &boot_info.mem[i];
        if (r->type != MEM_USABLE)
            continue;
        uint64_t b = ALIGN_UP(MAX(r->base, (uint64_t)ARCH_RAM_FLOOR), PAGE_SIZE);
        uint64_t e = ALIGN_DOWN(r->base + r->size, PAGE_SIZE);
        if (high)
            b = MAX(b, (uint64_t)ARCH_EARLY_MAP_END);
        else
            e = MIN(e, (uint64_t)ARCH_EARLY_MAP_END);
        if (b >= e)
            continue;
        if (b < img1 && e > img0) {
            if (b < img0)
                pmm_add_region(b, img0 - b);
            if (e > img1)
                pmm_add_region(img1, e - img1);
        } else {
            pmm_add_region(b, e - b);
        }
    }
}

static int mem_init(void)
{
    add_free_ram(false);
    if (pmm_total_bytes() == 0)
        return -ENOMEM;
    int err = arch_paging_init();
    if (err)
        return err;
    add_free_ram(true);
    kprintf("mem: %llu MiB usable in page allocator\n",
            (unsigned long long)(pmm_total_bytes() >> 20));
    return 0;
}
MOAT_UNIT(20_mem, mem, mem_init);
