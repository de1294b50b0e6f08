/* The few CPU operations portable code needs (host builds too, which compile it for the build
 * machine's architecture): each architecture's inline versions live in arch/<arch>/cpu_ops.h.
 *   arch_cpu_relax()               the spin-wait hint (pause, yield)
 *   arch_store128(p, lo, hi)       one single-copy-atomic 16-byte store (p 16-byte aligned), a
 *                                  full barrier: a hardware walker sees the old or the new
 *                                  16 bytes, never a mix
 *   arch_dma_publish_barrier()     earlier stores ordered before later ones as a device's
 *                                  table walker observes them (a new table before its link) */
#ifndef MOAT_ARCH_CPU_OPS_H
#define MOAT_ARCH_CPU_OPS_H

#include <stdint.h>

#if defined(__x86_64__)
#include "arch/x86_64/cpu_ops.h"
#elif defined(__aarch64__)
#include "arch/aarch64/cpu_ops.h"
#else
#error "unsupported architecture"
#endif

#endif
