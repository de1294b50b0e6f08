#include "kernel/acpi/platform.h"
#include "arch/arch.h"
#include "kernel/boot_info.h"
#include "kernel/init.h"
#include "kernel/mm/pmm.h"
#include "lib/log.h"

static struct acpi_info acpi;
static bool acpi_ok;

const struct acpi_info *platform_acpi(void)
{
    return acpi_ok ? &acpi : NULL;
}

/* Tables must lie in memory the firmware described (RAM, ACPI or reserved regions) or in the
 * low BIOS area; an address anywhere else (MMIO, a hole) is refused, not mapped. */
static bool in_described_memory(uint64_t pa, uint64_t end)
{
    if (end <= 0x100000)
        return true;
    for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
        const struct mem_region *r = &boot_info.mem[i];
        if (pa >= r->base && end <= r->base + r->size)
            return r->type != MEM_UNUSABLE;
    }
    return false;
}

static const void *acpi_map_phys(uint64_t pa, uint64_t len)
{
    uint64_t end;
    if (pa == 0 || len == 0 || __builtin_add_overflow(pa, len, &end))
        return NULL;
    if (!in_described_memory(pa, end))
        return NULL;
    return firmware_map(pa, len);
}

static int acpi_init(void)
{
    /* Booted from a device tree without a firmware RSDP: no ACPI, and no BIOS area to search. */
    if (boot_info.rsdp_pa == 0 && !ARCH_LEGACY_BIOS_AREA) {
        kprintf("acpi: none (the %s loader passed no RSDP)\n", boot_info.loader);
        return 0;
    }
    int err = acpi_parse(&acpi, boot_info.rsdp_pa, acpi_map_phys);
    if (err)
        return err;
    acpi_ok = true;
    acpi_print(&acpi);
    return 0;
}
MOAT_UNIT_OPTIONAL(30_acpi, acpi, acpi_init);
