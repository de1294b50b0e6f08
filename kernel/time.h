/* Time: a monotonic clock in nanoseconds since entry, and the one bounded poll helper that every
 * hardware wait goes through. */
#ifndef MOAT_KERNEL_TIME_H
#define MOAT_KERNEL_TIME_H

#include "lib/compiler.h"
#include "arch/cpu_ops.h"
#include "lib/errno.h"

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

uint64_t clock_ns(void);            /* since moat's first instruction */
uint64_t clock_tsc_hz(void);
void udelay(uint64_t us);

/* Evaluates cond until it holds (0) or timeout_ns passes (-ETIMEDOUT). cond is evaluated once
 * more after the deadline so that a slow host never reports a false timeout. */
#define poll_until(cond, timeout_ns)                                            \
    ({                                                                          \
        uint64_t _deadline = clock_ns() + (timeout_ns);                         \
        int _ret = 0;                                                           \
        while (!(cond)) {                                                       \
            if (clock_ns() > _deadline) {                                       \
                _ret = (cond) ? 0 : -ETIMEDOUT;                                 \
                break;                                                          \
            }                                                                   \
            arch_cpu_relax();                                                   \
        }                                                                       \
        _ret;                                                                   \
    })

#endif
