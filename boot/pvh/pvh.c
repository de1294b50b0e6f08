/* PVH start-info → boot_info. Layouts from the Xen PVH ABI (xen/include/public/arch-x86/
 * hvm/start_info.h): version 1 adds the memory map. */
#include "kernel/boot_info.h"
#include "lib/string.h"

#define PVH_START_MAGIC 0x336ec578u

struct pvh_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;      /* version >= 1 */
    uint32_t memmap_entries;
    uint32_t reserved;
};
_Static_assert(sizeof(struct pvh_start_info) == 56, "PVH start info layout");

struct pvh_memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;              /* E820 types */
    uint32_t reserved;
};
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "PVH memmap entry layout");

extern uint64_t boot_tsc;
void pvh_main(uint32_t start_info_pa);
void early_panic(const char *msg);

static uint32_t e820_to_mem_type(uint32_t t)
{
    switch (t) {
    case 1: return MEM_USABLE;
    case 3: return MEM_ACPI_RECLAIM;
    case 4: return MEM_ACPI_NVS;
    case 5: return MEM_UNUSABLE;
    default: return MEM_RESERVED;
    }
}

void pvh_main(uint32_t start_info_pa)
{
    /* The early map covers the first 4 GiB identity, and QEMU places start info below 4 GiB. */
    const struct pvh_start_info *si = (const void *)(uintptr_t)start_info_pa;
    if (si->magic != PVH_START_MAGIC)
        early_panic("pvh: bad start-info magic");
    if (si->version < 1 || si->memmap_entries == 0)
        early_panic("pvh: start info has no memory map (needs PVH version 1)");

    boot_info.loader = "pvh";
    boot_info.entry_tsc = boot_tsc;
    boot_info.rsdp_pa = si->rsdp_paddr;
    const struct pvh_memmap_entry *mm = (const void *)(uintptr_t)si->memmap_paddr;
    uint32_t n = si->memmap_entries;
    if (n > BOOT_MAX_MEM_REGIONS)
        n = BOOT_MAX_MEM_REGIONS;
    for (uint32_t i = 0; i < n; i++) {
        boot_info.mem[i].base = mm[i].addr;
        boot_info.mem[i].size = mm[i].size;
        boot_info.mem[i].type = e820_to_mem_type(mm[i].type);
    }
    boot_info.nr_mem = n;
    if (si->cmdline_paddr) {
        /* Bounded: the command line need not be terminated within our buffer. */
        const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
        for (size_t i = 0; i + 1 < sizeof(boot_info.cmdline) && c[i]; i++)
            boot_info.cmdline[i] = c[i];
    }
    kmain();
}
