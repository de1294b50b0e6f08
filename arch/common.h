/* The interface every architecture gives the portable runtime (included by arch/<arch>/arch.h,
 * which adds its own inline pieces: irq_save/restore, barriers, arch_cycles, arch_timer_oneshot,
 * arch_read_only_enforced, ARCH_LEGACY_BIOS_AREA). */
#ifndef MOAT_ARCH_COMMON_H
#define MOAT_ARCH_COMMON_H

#include "lib/compiler.h"

/* Guest exit statuses (0 when everything passed, as the README promises). */
#define MOAT_EXIT_OK 0
#define MOAT_EXIT_TESTS_FAILED 1
#define MOAT_EXIT_PANIC 2
#define MOAT_EXIT_EXCEPTION 3

/* The serial console (x86_64: COM1's 16550; aarch64: the device tree's PL011). */
void serial_init(void);
void serial_write(const char *s, size_t n);
/* What the console cost: bytes written and register accesses made (port I/O instructions on
 * x86_64, MMIO accesses on aarch64; under a hypervisor each is an exit). */
struct serial_stats {
    uint64_t bytes, port_io;
};
const struct serial_stats *serial_stats(void);
void console_flush(void);

/* Ends the run with status (how each architecture reports it: README "Exit status"). */
__noreturn void arch_power_off(int status);
/* The same without a word on the console: for a trap taken while the dump itself faults. */
__noreturn void arch_power_off_quiet(int status);

/* Page attributes for arch_map / arch_virt_flags. */
#define ARCH_MAP_WRITE BIT(0)
#define ARCH_MAP_EXEC BIT(1)
#define ARCH_MAP_UNCACHED BIT(2)
#define ARCH_MAP_PRESENT BIT(3)     /* only reported by arch_virt_flags */

/* Maps device registers (uncached, no-execute) at their physical address; NULL on failure. */
void *mmio_map(uint64_t pa, uint64_t size);
/* Maps firmware-owned memory (ACPI tables, the device tree) read-only, cached; NULL on failure. */
const void *firmware_map(uint64_t pa, uint64_t size);
/* One 4 KiB page at va (outside the direct map: the mmap area). -EEXIST when va is mapped. */
int arch_map_page(uintptr_t va, uint64_t pa, unsigned flags);
/* Removes a 4 KiB mapping (and its TLB entry); the frame it held in *pa_out. */
int arch_unmap_page(uintptr_t va, uint64_t *pa_out);
/* The physical address behind va through the CPU page tables; -EFAULT when unmapped. */
int arch_virt_to_phys(uintptr_t va, uint64_t *pa);
/* The attributes of the page holding va (0 when unmapped). */
unsigned arch_virt_flags(uintptr_t va);
/* The physical address of the CPU's top-level page table. */
uint64_t arch_page_table_root(void);

/* Runs fn on another stack (top: its highest address, 16-byte aligned) and returns its value. */
int arch_call_on_stack(int (*fn)(void), void *top);

/* The CPU's own bulk memory copies (string instructions and the like), for lengths that are
 * multiples of 64 bytes between 8-byte-aligned buffers that do not overlap; drivers/dma times
 * them beside its portable loop. An architecture may have none (arch_nr_copies 0). */
struct arch_copy {
    const char *name;
    void (*fn)(void *dst, const void *src, size_t n);
};
extern const struct arch_copy arch_copies[];
extern const unsigned arch_nr_copies;

/* Interrupts. A handler runs with interrupts off; the end of interrupt is sent after it
 * returns. */
typedef void (*irq_handler_fn)(unsigned vector, void *ctx);
/* A free vector with its handler installed (x86_64: an IDT vector in 0x30..0xef; aarch64: an
 * LPI, for MSIs through the ITS); -ENOSPC when none is free. */
int irq_alloc_vector(irq_handler_fn fn, void *ctx);
void irq_free_vector(unsigned vector);

#endif
