/* What arch/x86_64 offers the rest of the runtime. */
#ifndef MOAT_ARCH_X86_64_ARCH_H
#define MOAT_ARCH_X86_64_ARCH_H

#include "arch/x86_64/cpu.h"

/* Guest exit statuses (DESIGN.md: 0 when everything passed). */
#define MOAT_EXIT_OK 0
#define MOAT_EXIT_TESTS_FAILED 1
#define MOAT_EXIT_PANIC 2
#define MOAT_EXIT_EXCEPTION 3

void serial_init(void);
void serial_write(const char *s, size_t n);
/* What the console cost: bytes written and port I/O instructions issued (under a hypervisor
 * each is an exit). */
struct serial_stats {
    uint64_t bytes, port_io;
};
const struct serial_stats *serial_stats(void);
void console_flush(void);

/* The PC's BIOS areas (EBDA, 0xe0000-0xfffff) exist: ACPI may search them for the RSDP. */
#define ARCH_LEGACY_BIOS_AREA 1

/* Ends the run: ACPI S5 for status 0, QEMU's isa-debug-exit for a failure status. */
__noreturn void arch_power_off(int status);
void arch_backtrace(uintptr_t rbp);

/* Page attributes for arch_map / arch_virt_flags. */
#define ARCH_MAP_WRITE BIT(0)
#define ARCH_MAP_EXEC BIT(1)
#define ARCH_MAP_UNCACHED BIT(2)
#define ARCH_MAP_PRESENT BIT(3)     /* only reported by arch_virt_flags */

/* Maps device registers (uncached, no-execute) at their physical address; NULL on failure. */
void *mmio_map(uint64_t pa, uint64_t size);
/* Maps firmware-owned memory (ACPI tables in reserved RAM) read-only, cached; NULL on failure. */
const void *firmware_map(uint64_t pa, uint64_t size);
/* One 4 KiB page at va (outside the direct map: the mmap area). -EEXIST when va is mapped. */
int arch_map_page(uintptr_t va, uint64_t pa, unsigned flags);
/* Removes a 4 KiB mapping (and its TLB entry); the frame it held in *pa_out. */
int arch_unmap_page(uintptr_t va, uint64_t *pa_out);
/* The physical address behind va through the CPU page tables; -EFAULT when unmapped. */
int arch_virt_to_phys(uintptr_t va, uint64_t *pa);
/* The attributes of the page holding va (0 when unmapped). */
unsigned arch_virt_flags(uintptr_t va);

/* A free-running cycle count for boot-time accounting (the TSC). */
static inline uint64_t arch_cycles(void) { return rdtsc(); }

/* Interrupts. A handler runs with interrupts off; the EOI is sent after it returns. */
typedef void (*irq_handler_fn)(unsigned vector, void *ctx);
/* A free vector in 0x30..0xef, with its handler installed; -ENOSPC when none is free. */
int irq_alloc_vector(irq_handler_fn fn, void *ctx);
void irq_free_vector(unsigned vector);
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
