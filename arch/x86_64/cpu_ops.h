/* x86_64's arch/cpu_ops.h operations. */
#ifndef MOAT_ARCH_X86_64_CPU_OPS_H
#define MOAT_ARCH_X86_64_CPU_OPS_H

#include <stdbool.h>
#include <stdint.h>

static inline void arch_cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }

/* lock cmpxchg16b until it lands: the compare value is refreshed by each failed attempt. */
static inline void arch_store128(volatile uint64_t *p, uint64_t lo, uint64_t hi)
{
    uint64_t old_lo = p[0], old_hi = p[1];
    bool ok;
    do {
        __asm__ __volatile__("lock cmpxchg16b %1"
                             : "=@ccz"(ok), "+m"(*(volatile __int128 *)p), "+a"(old_lo),
                               "+d"(old_hi)
                             : "b"(lo), "c"(hi)
                             : "memory");
    } while (!ok);
}

/* x86 does not reorder stores with stores: only the compiler must be kept in order. */
static inline void arch_dma_publish_barrier(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }

#endif
