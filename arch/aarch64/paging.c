/* Stage-1 CPU page tables (4 KiB granule, four levels, 48-bit addresses): the table format
 * behind kernel/mm/direct_map.c's direct map (MMIO as Device-nGnRE, never executable; page 0
 * unmapped so NULL dereferences fault). Replaces the early tables of boot/arm64/entry.S. */
#include "arch/aarch64/arch.h"
#include "arch/aarch64/mmu.h"
#include "kernel/boot_info.h"
#include "kernel/mm/direct_map.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"

#define D_VALID BIT(0)
#define D_TABLE BIT(1)      /* at L0-L2: next-level table; at L3: page (must be set) */
#define D_ATTR(i) ((uint64_t)(i) << 2)
#define D_ATTR_MASK GENMASK(4, 2)
#define D_RO BIT(7)         /* AP[2] */
#define D_SH_INNER (3ULL << 8)
#define D_AF BIT(10)
#define D_PXN BIT(53)
#define D_UXN BIT(54)
#define D_ADDR GENMASK(47, 12)

uint64_t serial_base(void);

static uint64_t *l0;

static inline void tables_published(void)
{
    __asm__ __volatile__("dsb ishst\n\tisb" ::: "memory");
}

static uint64_t *next_table(uint64_t *e)
{
    if (*e & D_VALID) {
        if (!(*e & D_TABLE))
            return NULL;        /* a block */
        return phys_to_virt(*e & D_ADDR);
    }
    uint64_t pa;
    uint64_t *t = pmm_alloc_zeroed(0, &pa);
    if (!t)
        return NULL;
    tables_published();         /* the zeroed table before the link to it */
    *e = pa | D_VALID | D_TABLE;    /* permissions are decided at the leaf */
    return t;
}

static uint64_t leaf_bits(unsigned flags)
{
    uint64_t b = D_VALID | D_AF | D_UXN;
    if (!(flags & ARCH_MAP_WRITE))
        b |= D_RO;
    if (!(flags & ARCH_MAP_EXEC))
        b |= D_PXN;
    if (flags & ARCH_MAP_UNCACHED)
        b |= D_ATTR(MAIR_IDX_DEVICE) | D_PXN;
    else
        b |= D_ATTR(MAIR_IDX_NORMAL) | D_SH_INNER;
    return b;
}

/* Maps one 4 KiB page or 2 MiB block; an existing mapping is left as it is. */
static int map_one(uint64_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    if (va >> 48)
        return -EINVAL;
    uint64_t *l1 = next_table(&l0[(va >> 39) & 511]);
    uint64_t *l2 = l1 ? next_table(&l1[(va >> 30) & 511]) : NULL;
    if (!l2)
        return -ENOMEM;
    uint64_t *l2e = &l2[(va >> 21) & 511];
    if (size == DM_SIZE_2M) {
        if (!(*l2e & D_VALID))
            *l2e = pa | leaf_bits(flags);       /* a block: bit 1 clear */
        return 0;
    }
    if ((*l2e & D_VALID) && !(*l2e & D_TABLE))
        return 0;
    uint64_t *l3 = next_table(l2e);
    if (!l3)
        return -ENOMEM;
    uint64_t *pte = &l3[(va >> 12) & 511];
    if (!(*pte & D_VALID))
        *pte = pa | leaf_bits(flags) | D_TABLE;
    return 0;
}

int arch_map_one(uint64_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    int err = map_one(va, pa, size, flags);
    tables_published();         /* a new entry is seen before the mapping is used */
    return err;
}

int arch_paging_init(void)
{
    uint64_t pa;
    l0 = pmm_alloc_zeroed(0, &pa);
    if (!l0)
        return -ENOMEM;
    int err = dm_map_kernel_image();
    for (uint32_t i = 0; !err && i < boot_info.nr_mem; i++) {
        const struct mem_region *r = &boot_info.mem[i];
        /* Usable RAM read-write; reserved RAM (the device tree) read-only. */
        if (r->type == MEM_USABLE)
            err = dm_map_ram_region(r->base, r->base + r->size);
        else if (r->type == MEM_RESERVED)
            err = dm_map_range(r->base, r->base + r->size, 0);
    }
    /* The console keeps working across the switch. */
    if (!err)
        err = dm_map_range(serial_base(), serial_base() + PAGE_SIZE,
                           ARCH_MAP_WRITE | ARCH_MAP_UNCACHED);
    if (err)
        return err;
    tables_published();
    write_sysreg(ttbr0_el1, pa);
    isb();
    __asm__ __volatile__("tlbi vmalle1\n\tdsb nsh\n\tisb" ::: "memory");
    return 0;
}

/* The entry mapping va (a block or page descriptor) and its level's shift; NULL if unmapped. */
static uint64_t *walk(uintptr_t va, int *shift_out)
{
    if (va >> 48)
        return NULL;
    uint64_t *t = l0 ? l0 : phys_to_virt(read_sysreg(ttbr0_el1) & D_ADDR);
    for (int shift = 39; shift >= 12; shift -= 9) {
        uint64_t *e = &t[(va >> shift) & 511];
        if (!(*e & D_VALID))
            return NULL;
        if (shift == 12 || !(*e & D_TABLE)) {
            if (shift == 39)
                return NULL;    /* no blocks at L0 */
            *shift_out = shift;
            return e;
        }
        t = phys_to_virt(*e & D_ADDR);
    }
    return NULL;
}

int arch_unmap_page(uintptr_t va, uint64_t *pa_out)
{
    int shift;
    uint64_t *pte = walk(va, &shift);
    if (!pte || shift != 12)
        return -ENOENT;
    if (pa_out)
        *pa_out = *pte & D_ADDR;
    *pte = 0;
    __asm__ __volatile__("dsb ishst\n\ttlbi vaae1is, %0\n\tdsb ish\n\tisb"
                         :: "r"((uint64_t)va >> 12) : "memory");
    return 0;
}

int arch_virt_to_phys(uintptr_t va, uint64_t *pa)
{
    int shift;
    uint64_t *e = walk(va, &shift);
    if (!e)
        return -EFAULT;
    uint64_t span = 1ULL << shift;
    *pa = (*e & D_ADDR & ~(span - 1)) | (va & (span - 1));
    return 0;
}

unsigned arch_virt_flags(uintptr_t va)
{
    int shift;
    uint64_t *e = walk(va, &shift);
    if (!e)
        return 0;
    unsigned f = ARCH_MAP_PRESENT;
    if (!(*e & D_RO))
        f |= ARCH_MAP_WRITE;
    if (!(*e & D_PXN))
        f |= ARCH_MAP_EXEC;
    if ((*e & D_ATTR_MASK) == D_ATTR(MAIR_IDX_DEVICE))
        f |= ARCH_MAP_UNCACHED;
    return f;
}

uint64_t arch_page_table_root(void)
{
    return read_sysreg(ttbr0_el1) & D_ADDR;
}
