/* What arch/aarch64 offers the rest of the runtime (arch/common.h, and the pieces below). */
#ifndef MOAT_ARCH_AARCH64_ARCH_H
#define MOAT_ARCH_AARCH64_ARCH_H

#include "arch/common.h"
#include "arch/aarch64/cpu.h"

/* No PC BIOS areas: ACPI comes only from an RSDP the loader hands over (UEFI). */
#define ARCH_LEGACY_BIOS_AREA 0

/* All RAM may go to the page allocator; the early tables (boot/arm64/entry.S) map up to 2 GiB,
 * the first GiB of virt's RAM. */
#define ARCH_RAM_FLOOR 0ULL
#define ARCH_EARLY_MAP_END 0x80000000ULL

/* A backtrace names the call itself: the instruction before the return address. */
#define ARCH_CALL_SITE(ret) ((ret) - 4)

/* What the console's serial_stats.port_io counts, for the boot-work line. */
#define ARCH_CONSOLE_ACCESS "MMIO accesses"

/* A free-running count for boot-time accounting: the generic timer's (its frequency is
 * CNTFRQ_EL0, 1 GHz on QEMU 10's virt; far below the CPU clock on hardware). */
static inline uint64_t arch_cycles(void) { return cntvct(); }

/* The generic timer (EL1 virtual timer, its PPI), once, after ns: runs vector's handler. */
void arch_timer_oneshot(unsigned vector, uint64_t ns);
/* Stage-1 translation is on (SCTLR_EL1.M): EL1 writes then always honour read-only pages. */
static inline bool arch_read_only_enforced(void) { return read_sysreg(sctlr_el1) & BIT(0); }

#endif
