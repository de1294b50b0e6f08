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

/* The wall clock: UTC nanoseconds since the Unix epoch at clock_ns() == 0, as the machine's
 * real-time clock said at boot (x86's CMOS clock, Arm's PL031); 0 when it has none or it read
 * garbage. clock_set_wall is the architecture's, once, with the RTC's seconds now; it logs the
 * date and the source. */
uint64_t clock_wall_base_ns(void);
void clock_set_wall(int64_t unix_seconds, const char *source);

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
