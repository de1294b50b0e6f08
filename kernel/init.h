/* Units: each part of the runtime registers an init function with MOAT_UNIT, placed in a linker
 * section; kmain runs them sorted by level name, then by unit name. The order, in one place:
 *
 *   (kmain itself)  serial console — first, so that everything after can report errors
 *   10_cpu          x86_64: GDT, TSS, IDT: exceptions print a dump from here on (aarch64: the
 *                   vectors are installed by boot/arm64 before kmain)
 *   20_mem          physical pages from the boot memory map, the direct map, the heap
 *   30_acpi         RSDP, XSDT/RSDT, FADT, MADT, MCFG (DMAR/IVRS located for the IOMMU drivers);
 *                   none on a device-tree boot (boot/arm64 parsed the tree before kmain)
 *   40_time         x86_64: TSC clock calibrated against the ACPI PM timer, local APIC and its
 *                   timer; aarch64: the generic timer, the GICv3 and its ITS
 *   50_bus          PCI enumeration, resources, isolation groups
 *   60_iommu        IOMMU units, default-deny domains
 *   70_driver       device drivers
 *   80_late         reports; PCI decode given back to functions no driver enabled
 *
 * A unit returns 0 or a negative errno. A required unit's failure stops the boot with a panic
 * naming it; an optional one's is logged and the boot goes on.
 */
#ifndef MOAT_KERNEL_INIT_H
#define MOAT_KERNEL_INIT_H

#include "lib/compiler.h"

struct moat_unit {
    const char *name;
    int (*init)(void);
    bool required;
};

#define MOAT_UNIT_DEFINE(level, uname, fn, req)                                        \
    static const struct moat_unit __unit_##uname __used                                 \
        __section(".moat_init." #level "." #uname) __aligned(8) = { #uname, fn, req }

#define MOAT_UNIT(level, uname, fn) MOAT_UNIT_DEFINE(level, uname, fn, true)
#define MOAT_UNIT_OPTIONAL(level, uname, fn) MOAT_UNIT_DEFINE(level, uname, fn, false)

void units_run(void);

#endif
