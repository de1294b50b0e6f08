/* What arch/x86_64 offers the rest of the runtime (arch/common.h, and the pieces below). */
#ifndef MOAT_ARCH_X86_64_ARCH_H
#define MOAT_ARCH_X86_64_ARCH_H

#include "arch/common.h"
#include "arch/x86_64/cpu.h"

/* The PC's BIOS areas (EBDA, 0xe0000-0xfffff) exist: ACPI may search them for the RSDP. */
#define ARCH_LEGACY_BIOS_AREA 1

/* RAM below 1 MiB (BIOS data, EBDA, option ROMs) is not given to the page allocator; the PVH
 * and UEFI entries' early tables map the first 4 GiB. */
#define ARCH_RAM_FLOOR 0x100000ULL
#define ARCH_EARLY_MAP_END (4ULL << 30)

/* A backtrace names return addresses as they are (the call's length varies). */
#define ARCH_CALL_SITE(ret) (ret)

/* What the console's serial_stats.port_io counts, for the boot-work line. */
#define ARCH_CONSOLE_ACCESS "port I/O instructions"

/* A free-running cycle count for boot-time accounting (the TSC). */
static inline uint64_t arch_cycles(void) { return rdtsc(); }

uint32_t apic_id(void);
/* Arms the local APIC timer to fire vector once after ns. */
void apic_timer_oneshot(unsigned vector, uint64_t ns);
uint64_t apic_timer_hz(void);
bool apic_is_x2apic(void);
/* The CPU's timer, once, after ns: the local APIC's. */
static inline void arch_timer_oneshot(unsigned vector, uint64_t ns) { apic_timer_oneshot(vector, ns); }
/* Supervisor writes honour read-only pages (CR0.WP). */
static inline bool arch_read_only_enforced(void) { return read_cr0() & BIT(16); }

#endif
