/* newlib's <time.h> plus what it declares only for targets with POSIX timers: the clocks
 * (Linux's ids) and clock_gettime/nanosleep, which moat's system layer provides. */
#ifndef MOAT_POSIX_TIME_H
#define MOAT_POSIX_TIME_H

#include_next <time.h>

__BEGIN_DECLS

/* Linux's clock ids (newlib numbers them its own way: CLOCK_REALTIME 1, CLOCK_MONOTONIC 4),
 * so that a zeroed pthread_cond_t waits on CLOCK_REALTIME as on Linux, and an id a program
 * stores or prints is Linux's. */
#undef CLOCK_REALTIME
#undef CLOCK_MONOTONIC
#undef CLOCK_PROCESS_CPUTIME_ID
#undef CLOCK_THREAD_CPUTIME_ID
#undef CLOCK_MONOTONIC_RAW
#undef CLOCK_REALTIME_COARSE
#undef CLOCK_MONOTONIC_COARSE
#undef CLOCK_BOOTTIME
#define CLOCK_REALTIME ((clockid_t)0)
#define CLOCK_MONOTONIC ((clockid_t)1)
#define CLOCK_PROCESS_CPUTIME_ID ((clockid_t)2)
#define CLOCK_THREAD_CPUTIME_ID ((clockid_t)3)
#define CLOCK_MONOTONIC_RAW ((clockid_t)4)
#define CLOCK_REALTIME_COARSE ((clockid_t)5)
#define CLOCK_MONOTONIC_COARSE ((clockid_t)6)
#define CLOCK_BOOTTIME ((clockid_t)7)

#if !defined(_POSIX_TIMERS)
int clock_gettime(clockid_t clock_id, struct timespec *tp);
int clock_getres(clockid_t clock_id, struct timespec *res);
int nanosleep(const struct timespec *req, struct timespec *rem);
#endif

__END_DECLS

#endif
