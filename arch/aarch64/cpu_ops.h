/* aarch64's arch/cpu_ops.h operations. */
#ifndef MOAT_ARCH_AARCH64_CPU_OPS_H
#define MOAT_ARCH_AARCH64_CPU_OPS_H

#include <stdint.h>

static inline void arch_cpu_relax(void) { __asm__ __volatile__("yield" ::: "memory"); }

/* A successful exclusive pair (ldaxp/stlxp) is a single-copy-atomic 16-byte access; the dmb
 * makes the whole a full barrier like x86's locked instruction. */
static inline void arch_store128(volatile uint64_t *p, uint64_t lo, uint64_t hi)
{
    uint64_t t0, t1;
    uint32_t fail;
    do {
        __asm__ __volatile__("dmb ish\n\tldaxp %0, %1, [%3]\n\tstlxp %w2, %4, %5, [%3]"
                             : "=&r"(t0), "=&r"(t1), "=&r"(fail)
                             : "r"(p), "r"(lo), "r"(hi)
                             : "memory");
    } while (fail);
    __asm__ __volatile__("dmb ish" ::: "memory");
}

/* An SMMU observes memory in the outer-shareable domain, which a release fence (dmb ish) does
 * not order for: dmb oshst. */
static inline void arch_dma_publish_barrier(void) { __asm__ __volatile__("dmb oshst" ::: "memory"); }

#endif
