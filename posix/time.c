/* Time: the runtime's clock (kernel/time.h: nanoseconds since moat's first instruction) for
 * CLOCK_MONOTONIC and the others; CLOCK_REALTIME, gettimeofday and time() add the wall clock's
 * base, read from the machine's real-time clock at boot (from boot, as the others, on a
 * machine without one). Sleeps wait on the runtime's clock, the program's other threads
 * running meanwhile (posix/thread.c). */
#include "posix/posix.h"
#include "kernel/time.h"

#include <errno.h>
#include <limits.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

static bool clock_known(clockid_t clk)
{
    return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC || clk == CLOCK_MONOTONIC_RAW ||
           clk == CLOCK_BOOTTIME || clk == CLOCK_REALTIME_COARSE ||
           clk == CLOCK_MONOTONIC_COARSE || clk == CLOCK_PROCESS_CPUTIME_ID ||
           clk == CLOCK_THREAD_CPUTIME_ID;
}

static uint64_t clock_of(clockid_t clk)
{
    bool wall = clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE;
    return clock_ns() + (wall ? clock_wall_base_ns() : 0);
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    if (!clock_known(clk))
        return (int)posix_ret(-EINVAL);
    uint64_t ns = clock_of(clk);
    ts->tv_sec = (time_t)(ns / NSEC_PER_SEC);
    ts->tv_nsec = (long)(ns % NSEC_PER_SEC);
    return 0;
}

int clock_getres(clockid_t clk, struct timespec *res)
{
    if (!clock_known(clk))
        return (int)posix_ret(-EINVAL);
    if (res)
        *res = (struct timespec){ .tv_sec = 0, .tv_nsec = 1 };
    return 0;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    uint64_t ns = clock_of(CLOCK_REALTIME);
    if (tv) {
        tv->tv_sec = (time_t)(ns / NSEC_PER_SEC);
        tv->tv_usec = (suseconds_t)(ns % NSEC_PER_SEC / NSEC_PER_USEC);
    }
    return 0;
}

clock_t times(struct tms *t)
{
    clock_t ticks = (clock_t)(clock_ns() / (NSEC_PER_SEC / CLK_TCK));
    if (t)
        *t = (struct tms){ .tms_utime = ticks };
    return ticks;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!req || req->tv_nsec < 0 || req->tv_nsec >= (long)NSEC_PER_SEC || req->tv_sec < 0)
        return (int)posix_ret(-EINVAL);
    posix_thread_sleep((uint64_t)req->tv_sec * NSEC_PER_SEC + (uint64_t)req->tv_nsec);
    if (rem)
        *rem = (struct timespec){ 0 };
    return 0;
}

int usleep(useconds_t us)
{
    posix_thread_sleep((uint64_t)us * NSEC_PER_USEC);
    return 0;
}

unsigned sleep(unsigned s)
{
    posix_thread_sleep((uint64_t)s * NSEC_PER_SEC);
    return 0;
}

long sysconf(int name)
{
    switch (name) {
    case _SC_PAGESIZE: return 4096;
    case _SC_CLK_TCK: return CLK_TCK;
    case _SC_NPROCESSORS_CONF: case _SC_NPROCESSORS_ONLN: return 1;
    case _SC_OPEN_MAX: return 256;
    case _SC_ARG_MAX: return 4096;
    case _SC_IOV_MAX: return 1024;
    default: return posix_ret(-EINVAL);
    }
}
