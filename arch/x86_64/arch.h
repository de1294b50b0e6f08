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

/* Ends the run: ACPI S5 for status 0, QEMU's isa-debug-exit for a failure status. */
__noreturn void arch_power_off(int status);
/* The same without a word on the console: for a trap taken while the dump itself faults. */
__noreturn void arch_power_off_quiet(int status);
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
/* The physical address of the CPU's top-level page table. */
uint64_t arch_page_table_root(void);
/* The attributes of the page holding va (0 when unmapped). */
unsigned arch_virt_flags(uintptr_t va);

/* Runs fn on another stack (top: its highest address, 16-byte aligned) and returns its value. */
int arch_call_on_stack(int (*fn)(void), void *top);

/* The CPU's own bulk memory copies (string instructions and the like), for lengths that are
 * multiples of 64 bytes between 8-byte-aligned buffers that do not overlap (copy.c says why
 * there are several); drivers/dma times them beside a portable loop. */
struct arch_copy {
    const char *name;
    void (*fn)(void *dst, const void *src, size_t n);
};
extern const struct arch_copy arch_copies[];
extern const unsigned arch_nr_copies;

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

#endif
