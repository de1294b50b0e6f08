/* AArch64 CPU primitives: system registers, barriers, interrupt masking, cache maintenance. */
#ifndef MOAT_ARCH_AARCH64_CPU_H
#define MOAT_ARCH_AARCH64_CPU_H

#include "arch/cpu_ops.h"
#include "lib/compiler.h"

#define read_sysreg(r) ({ uint64_t _v; __asm__ __volatile__("mrs %0, " #r : "=r"(_v)); _v; })
#define write_sysreg(r, v) __asm__ __volatile__("msr " #r ", %0" :: "r"((uint64_t)(v)) : "memory")

static inline void isb(void) { __asm__ __volatile__("isb" ::: "memory"); }

/* DAIF.I (bit 7) masks IRQs. irq_save returns DAIF as it was. */
static inline uint64_t irq_save(void)
{
    uint64_t f = read_sysreg(daif);
    __asm__ __volatile__("msr daifset, #2" ::: "memory");
    return f;
}

static inline void irq_restore(uint64_t f)
{
    if (!(f & BIT(7)))
        __asm__ __volatile__("msr daifclr, #2" ::: "memory");
}

static inline void irq_enable(void) { __asm__ __volatile__("msr daifclr, #2" ::: "memory"); }
static inline void irq_disable(void) { __asm__ __volatile__("msr daifset, #2" ::: "memory"); }
static inline void cpu_relax(void) { arch_cpu_relax(); }
static inline void cpu_halt(void) { __asm__ __volatile__("wfi" ::: "memory"); }

/* Barriers for memory shared with devices (virt's PCI is I/O-coherent: outer-shareable
 * ordering suffices for DMA; dsb orders memory against MMIO too). */
static inline void mb(void) { __asm__ __volatile__("dsb sy" ::: "memory"); }
static inline void wmb(void) { __asm__ __volatile__("dsb st" ::: "memory"); }
static inline void rmb(void) { __asm__ __volatile__("dsb ld" ::: "memory"); }

/* Clean and invalidate the data-cache line holding p to the point of coherency (for table
 * walkers that do not snoop the CPU's caches). */
static inline void clflush(const volatile void *p)
{
    __asm__ __volatile__("dc civac, %0\n\tdsb sy" :: "r"(p) : "memory");
}

/* The generic timer's virtual count and its frequency. */
static inline uint64_t cntvct(void)
{
    isb();
    return read_sysreg(cntvct_el0);
}

#endif
