/* The portable half of kernel/time.h: waits built on each architecture's clock_ns. */
#include "kernel/time.h"

void udelay(uint64_t us)
{
    uint64_t end = clock_ns() + us * NSEC_PER_USEC;
    while (clock_ns() < end)
        arch_cpu_relax();
}
