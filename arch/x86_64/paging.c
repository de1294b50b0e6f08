/* CPU page tables: RAM mapped at its physical address (the runtime is one address space), data
 * no-execute, kernel text read-only, page 0 left unmapped so NULL dereferences fault. MMIO is
 * mapped uncached on request. */
#include "arch/x86_64/arch.h"
#include "kernel/boot_info.h"
#include "kernel/init.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define PTE_P BIT(0)
#define PTE_W BIT(1)
#define PTE_PWT BIT(3)
#define PTE_PCD BIT(4)
#define PTE_PS BIT(7)
#define PTE_NX BIT(63)
#define PTE_ADDR GENMASK(51, 12)
#define SIZE_2M (2ULL << 20)

extern char __image_start[], __image_end[], __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];

static uint64_t *pml4;

/* The table one level down from entry e, allocated if absent. */
static uint64_t *next_table(uint64_t *e)
{
    if (*e & PTE_P) {
        if (*e & PTE_PS)
            return NULL;
        return phys_to_virt(*e & PTE_ADDR);
    }
    uint64_t pa;
    uint64_t *t = pmm_alloc_zeroed(0, &pa);
    if (!t)
        return NULL;
    *e = pa | PTE_P | PTE_W;    /* permissions are decided at the leaf */
    return t;
}

static uint64_t leaf_bits(unsigned flags)
{
    uint64_t b = PTE_P;
    if (flags & ARCH_MAP_WRITE)
        b |= PTE_W;
    if (!(flags & ARCH_MAP_EXEC))
        b |= PTE_NX;
    if (flags & ARCH_MAP_UNCACHED)
        b |= PTE_PCD | PTE_PWT;
    return b;
}

/* Maps one 4 KiB or 2 MiB page; an existing mapping is left as it is. */
static int map_one(uint64_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    uint64_t *pdpt = next_table(&pml4[(va >> 39) & 511]);
    uint64_t *pd = pdpt ? next_table(&pdpt[(va >> 30) & 511]) : NULL;
    if (!pd)
        return -ENOMEM;
    uint64_t *pde = &pd[(va >> 21) & 511];
    if (size == SIZE_2M) {
        if (!(*pde & PTE_P))
            *pde = pa | PTE_PS | leaf_bits(flags);
        return 0;
    }
    if ((*pde & PTE_P) && (*pde & PTE_PS))
        return 0;
    uint64_t *pt = next_table(pde);
    if (!pt)
        return -ENOMEM;
    uint64_t *pte = &pt[(va >> 12) & 511];
    if (!(*pte & PTE_P))
        *pte = pa | leaf_bits(flags);
    return 0;
}

/* Maps [start, end) with 2 MiB pages where a whole aligned 2 MiB fits, else 4 KiB pages. */
static int map_range(uint64_t start, uint64_t end, unsigned flags)
{
    uint64_t a = ALIGN_DOWN(start, PAGE_SIZE);
    while (a < end) {
        bool big = IS_ALIGNED(a, SIZE_2M) && a + SIZE_2M <= end;
        int err = map_one(a, a, big ? SIZE_2M : PAGE_SIZE, flags);
        if (err)
            return err;
        a += big ? SIZE_2M : PAGE_SIZE;
    }
    return 0;
}

static int map_kernel_image(void)
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
        int err = map_one(a, a, PAGE_SIZE, f);
        if (err)
            return err;
    }
    return 0;
}

/* RAM around the kernel image: the image's own pages are mapped first with their own rights,
 * so the 2 MiB chunk holding it must be split into 4 KiB pages. */
static int map_ram_region(uint64_t base, uint64_t end)
{
    uint64_t i0 = ALIGN_DOWN((uintptr_t)__image_start, SIZE_2M);
    uint64_t i1 = ALIGN_UP((uintptr_t)__image_end, SIZE_2M);
    if (end <= i0 || base >= i1)
        return map_range(base, end, ARCH_MAP_WRITE);
    int err = 0;
    if (base < i0)
        err = map_range(base, i0, ARCH_MAP_WRITE);
    for (uint64_t a = MAX(base, i0); !err && a < MIN(end, i1); a += PAGE_SIZE)
        err = map_one(a, a, PAGE_SIZE, ARCH_MAP_WRITE);
    if (!err && end > i1)
        err = map_range(i1, end, ARCH_MAP_WRITE);
    return err;
}

static int paging_init(void)
{
    uint64_t pa;
    pml4 = pmm_alloc_zeroed(0, &pa);
    if (!pml4)
        return -ENOMEM;
    int err = map_kernel_image();
    /* Low memory (BIOS data, EBDA, the RSDP area) read-only; page 0 stays unmapped. */
    if (!err)
        err = map_range(PAGE_SIZE, 0x100000, 0);
    for (uint32_t i = 0; !err && i < boot_info.nr_mem; i++) {
        const struct mem_region *r = &boot_info.mem[i];
        if (r->type != MEM_USABLE && r->type != MEM_ACPI_RECLAIM && r->type != MEM_ACPI_NVS)
            continue;
        uint64_t b = MAX(r->base, 0x100000ULL);
        if (b < r->base + r->size)
            err = map_ram_region(b, r->base + r->size);
    }
    if (err)
        return err;
    write_cr3(pa);
    return 0;
}

void *mmio_map(uint64_t pa, uint64_t size)
{
    if (size == 0 || pa + size < pa)
        return NULL;
    if (map_range(pa, pa + size, ARCH_MAP_WRITE | ARCH_MAP_UNCACHED))
        return NULL;
    return phys_to_virt(pa);
}

int arch_map_page(uintptr_t va, uint64_t pa, unsigned flags)
{
    if (!IS_ALIGNED(va, PAGE_SIZE) || !IS_ALIGNED(pa, PAGE_SIZE))
        return -EINVAL;
    if (arch_virt_flags(va) & ARCH_MAP_PRESENT)
        return -EEXIST;
    return map_one(va, pa, PAGE_SIZE, flags);
}

/* The 4 KiB leaf entry for va, or NULL (absent, or inside a 2 MiB page). */
static uint64_t *leaf_pte(uintptr_t va)
{
    uint64_t *t = pml4;
    for (int shift = 39; shift > 12; shift -= 9) {
        uint64_t e = t[(va >> shift) & 511];
        if (!(e & PTE_P) || (e & PTE_PS))
            return NULL;
        t = phys_to_virt(e & PTE_ADDR);
    }
    return &t[(va >> 12) & 511];
}

int arch_unmap_page(uintptr_t va, uint64_t *pa_out)
{
    uint64_t *pte = leaf_pte(va);
    if (!pte || !(*pte & PTE_P))
        return -ENOENT;
    if (pa_out)
        *pa_out = *pte & PTE_ADDR;
    *pte = 0;
    __asm__ __volatile__("invlpg (%0)" :: "r"(va) : "memory");
    return 0;
}

int arch_virt_to_phys(uintptr_t va, uint64_t *pa)
{
    uint64_t *t = pml4;
    for (int shift = 39; shift >= 12; shift -= 9) {
        uint64_t e = t[(va >> shift) & 511];
        if (!(e & PTE_P))
            return -EFAULT;
        if ((e & PTE_PS) || shift == 12) {
            uint64_t span = 1ULL << shift;
            *pa = (e & PTE_ADDR & ~(span - 1)) | (va & (span - 1));
            return 0;
        }
        t = phys_to_virt(e & PTE_ADDR);
    }
    return -EFAULT;
}

const void *firmware_map(uint64_t pa, uint64_t size)
{
    if (size == 0 || pa + size < pa)
        return NULL;
    /* Firmware tables may sit in reserved memory outside the direct map: map them read-only. */
    if (map_range(pa, pa + size, 0))
        return NULL;
    return phys_to_virt(pa);
}

unsigned arch_virt_flags(uintptr_t va)
{
    uint64_t *t = pml4 ? pml4 : phys_to_virt(read_cr3() & PTE_ADDR);
    uint64_t e = 0;
    for (int shift = 39; shift >= 12; shift -= 9) {
        e = t[(va >> shift) & 511];
        if (!(e & PTE_P))
            return 0;
        if ((e & PTE_PS) || shift == 12)
            break;
        t = phys_to_virt(e & PTE_ADDR);
    }
    unsigned f = ARCH_MAP_PRESENT;
    if (e & PTE_W)
        f |= ARCH_MAP_WRITE;
    if (!(e & PTE_NX))
        f |= ARCH_MAP_EXEC;
    if (e & PTE_PCD)
        f |= ARCH_MAP_UNCACHED;
    return f;
}

/* Free RAM for the page allocator: usable regions minus low memory and the image. Regions
 * above 4 GiB are added after the direct map covers them (the early map stops at 4 GiB). */
static void add_free_ram(bool high)
{
    uint64_t img0 = (uintptr_t)__image_start, img1 = ALIGN_UP((uintptr_t)__image_end, PAGE_SIZE);
    for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
        const struct mem_region *r = &boot_info.mem[i];
        uint64_t b = MAX(r->base, 0x100000ULL), e = r->base + r->size;
        if (r->type != MEM_USABLE || b >= e || (b >= (4ULL << 30)) != high)
            continue;
        if (!high)
            e = MIN(e, 4ULL << 30);
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
    int err = paging_init();
    if (err)
        return err;
    add_free_ram(true);
    kprintf("mem: %llu MiB usable in page allocator\n",
            (unsigned long long)(pmm_total_bytes() >> 20));
    return 0;
}
MOAT_UNIT(20_mem, mem, mem_init);

uint64_t arch_page_table_root(void)
{
    return read_cr3() & PTE_ADDR;
}
