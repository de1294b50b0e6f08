/* x86-64 CPU page tables (4-level): the table format behind kernel/mm/direct_map.c's direct
 * map, low memory read-only, page 0 left unmapped so NULL dereferences fault. */
#include "arch/x86_64/arch.h"
#include "kernel/boot_info.h"
#include "kernel/mm/direct_map.h"
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

int arch_map_one(uint64_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    uint64_t *pdpt = next_table(&pml4[(va >> 39) & 511]);
    uint64_t *pd = pdpt ? next_table(&pdpt[(va >> 30) & 511]) : NULL;
    if (!pd)
        return -ENOMEM;
    uint64_t *pde = &pd[(va >> 21) & 511];
    if (size == DM_SIZE_2M) {
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

int arch_paging_init(void)
{
    uint64_t pa;
    pml4 = pmm_alloc_zeroed(0, &pa);
    if (!pml4)
        return -ENOMEM;
    int err = dm_map_kernel_image();
    /* Low memory (BIOS data, EBDA, the RSDP area) read-only; page 0 stays unmapped. */
    if (!err)
        err = dm_map_range(PAGE_SIZE, 0x100000, 0);
    for (uint32_t i = 0; !err && i < boot_info.nr_mem; i++) {
        const struct mem_region *r = &boot_info.mem[i];
        if (r->type != MEM_USABLE && r->type != MEM_ACPI_RECLAIM && r->type != MEM_ACPI_NVS)
            continue;
        uint64_t b = MAX(r->base, 0x100000ULL);
        if (b < r->base + r->size)
            err = dm_map_ram_region(b, r->base + r->size);
    }
    if (err)
        return err;
    write_cr3(pa);
    return 0;
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

uint64_t arch_page_table_root(void)
{
    return read_cr3() & PTE_ADDR;
}
