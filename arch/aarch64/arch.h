/* What arch/aarch64 offers the rest of the runtime (the same interface as arch/x86_64). */
#ifndef MOAT_ARCH_AARCH64_ARCH_H
#define MOAT_ARCH_AARCH64_ARCH_H

#include "arch/aarch64/cpu.h"

/* Guest exit statuses (DESIGN.md: 0 when everything passed). */
#define MOAT_EXIT_OK 0
#define MOAT_EXIT_TESTS_FAILED 1
#define MOAT_EXIT_PANIC 2
#define MOAT_EXIT_EXCEPTION 3

/* The PL011 UART the device tree names (boot/arm64 records it before kmain). */
void serial_init(void);
void serial_write(const char *s, size_t n);
/* What the console cost: bytes written and MMIO register accesses made (under a hypervisor
 * each is an exit; the field keeps x86_64's name). */
struct serial_stats {
    uint64_t bytes, port_io;
};
const struct serial_stats *serial_stats(void);
void console_flush(void);

/* No PC BIOS areas: ACPI comes only from an RSDP the loader hands over (UEFI). */
#define ARCH_LEGACY_BIOS_AREA 0

/* Ends the run: PSCI SYSTEM_OFF for status 0; a failure status leaves through semihosting's
 * SYS_EXIT (QEMU with -semihosting exits with it), else through SYSTEM_OFF, status lost. */
__noreturn void arch_power_off(int status);
void arch_backtrace(uintptr_t fp);

/* Page attributes for arch_map / arch_virt_flags. */
#define ARCH_MAP_WRITE BIT(0)
#define ARCH_MAP_EXEC BIT(1)
#define ARCH_MAP_UNCACHED BIT(2)
#define ARCH_MAP_PRESENT BIT(3)     /* only reported by arch_virt_flags */

/* Maps device registers (Device-nGnRE, never executable) at their physical address. */
void *mmio_map(uint64_t pa, uint64_t size);
/* Maps firmware-owned memory read-only, cached; NULL on failure. */
const void *firmware_map(uint64_t pa, uint64_t size);
int arch_map_page(uintptr_t va, uint64_t pa, unsigned flags);
int arch_unmap_page(uintptr_t va, uint64_t *pa_out);
int arch_virt_to_phys(uintptr_t va, uint64_t *pa);
unsigned arch_virt_flags(uintptr_t va);

/* Interrupts. A handler runs with interrupts off; the end of interrupt is sent after it
 * returns. Vectors are GIC interrupt IDs (LPIs for MSIs). */
typedef void (*irq_handler_fn)(unsigned vector, void *ctx);
int irq_alloc_vector(irq_handler_fn fn, void *ctx);
void irq_free_vector(unsigned vector);
/* The generic timer (EL1 virtual timer, its PPI), once, after ns: runs vector's handler. */
void arch_timer_oneshot(unsigned vector, uint64_t ns);
/* Stage-1 translation is on (SCTLR_EL1.M): EL1 writes then always honour read-only pages. */
static inline bool arch_read_only_enforced(void) { return read_sysreg(sctlr_el1) & BIT(0); }

/* A free-running count for boot-time accounting: the generic timer's (its frequency is
 * CNTFRQ_EL0, 1 GHz on QEMU 10's virt; far below the CPU clock on hardware). */
static inline uint64_t arch_cycles(void) { return cntvct(); }

#endif
