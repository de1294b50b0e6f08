/* arch_cpu_relax: the spin-wait hint, for portable code (host builds too) that polls memory.
 * x86_64: pause; aarch64: yield. */
#ifndef MOAT_ARCH_RELAX_H
#define MOAT_ARCH_RELAX_H

#if defined(__x86_64__)
static inline void arch_cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }
#elif defined(__aarch64__)
static inline void arch_cpu_relax(void) { __asm__ __volatile__("yield" ::: "memory"); }
#else
#error "unsupported architecture"
#endif

#endif
