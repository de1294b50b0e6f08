/* x86_64 CPU primitives: port I/O, MSRs, CPUID, control registers, barriers. */
#ifndef MOAT_ARCH_X86_64_CPU_H
#define MOAT_ARCH_X86_64_CPU_H

#include "arch/cpu_ops.h"
#include "lib/compiler.h"

static inline void outb(uint16_t port, uint8_t v) { __asm__ __volatile__("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ __volatile__("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ __volatile__("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ __volatile__("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ __volatile__("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Running under KVM: the hypervisor bit (CPUID.1:ECX[31]) and KVM's signature at 0x40000000. */
static inline bool cpu_on_kvm(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 31)))
        return false;
    cpuid(0x40000000, 0, r);
    return r[1] == 0x4b4d564b && r[2] == 0x564b4d56 && r[3] == 0x4d;   /* "KVMKVMKVM\0\0\0" */
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Control-register bits (Intel SDM vol. 3, 2.5). */
#define CR0_MP BIT(1)           /* monitor coprocessor */
#define CR0_EM BIT(2)           /* x87 emulation: off, or every x87/SSE instruction faults */
#define CR0_TS BIT(3)           /* task switched: lazy FPU switching, unused */
#define CR0_NE BIT(5)           /* x87 errors as #MF exceptions */
#define CR4_OSFXSR BIT(9)       /* FXSAVE/FXRSTOR and SSE instructions enabled */
#define CR4_OSXMMEXCPT BIT(10)  /* unmasked SSE exceptions as #XM */
#define MXCSR_DEFAULT 0x1f80u   /* all SSE exceptions masked, round to nearest */

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ __volatile__("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ __volatile__("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ __volatile__("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ __volatile__("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ __volatile__("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ __volatile__("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ __volatile__("mov %0, %%cr4" :: "r"(v) : "memory"); }

static inline uint64_t irq_save(void)
{
    uint64_t f;
    __asm__ __volatile__("pushfq; popq %0; cli" : "=r"(f) :: "memory");
    return f;
}

static inline void irq_restore(uint64_t f)
{
    if (f & BIT(9))
        __asm__ __volatile__("sti" ::: "memory");
}

static inline void irq_enable(void) { __asm__ __volatile__("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ __volatile__("cli" ::: "memory"); }
static inline void cpu_relax(void) { arch_cpu_relax(); }
static inline void cpu_halt(void) { __asm__ __volatile__("hlt" ::: "memory"); }

/* Barriers for memory shared with devices: x86 keeps stores ordered with stores, but the
 * compiler must not reorder, and MMIO/DMA visibility needs sfence for non-temporal stores. */
static inline void mb(void) { __asm__ __volatile__("mfence" ::: "memory"); }
static inline void wmb(void) { __asm__ __volatile__("sfence" ::: "memory"); }
static inline void rmb(void) { __asm__ __volatile__("lfence" ::: "memory"); }

/* Leaves for entry with interrupts off and arg in %rdi (the UEFI loader's hand-off). */
static inline __noreturn void jump_with_arg(uint64_t entry, void *arg)
{
    __asm__ __volatile__("cli\n\tjmp *%1" :: "D"(arg), "r"(entry) : "memory");
    __builtin_unreachable();
}

/* Cache-line clean for non-coherent IOMMU walkers. */
static inline void clflush(const volatile void *p) { __asm__ __volatile__("clflush (%0)" :: "r"(p) : "memory"); }

#define MSR_APIC_BASE 0x1b
#define MSR_EFER 0xc0000080

#endif
