/* The portable half of kernel/time.h: waits built on each architecture's clock_ns, and the wall
 * clock's base. */
#include "kernel/time.h"
#include "lib/date.h"
#include "lib/log.h"

static uint64_t wall_base_ns;

uint64_t clock_wall_base_ns(void)
{
    return wall_base_ns;
}

void clock_set_wall(int64_t unix_seconds, const char *source)
{
    uint64_t now = clock_ns();
    struct civil_time c = civil_from_unix(unix_seconds);
    if (unix_seconds <= 0 || (uint64_t)unix_seconds * NSEC_PER_SEC < now) {
        kprintf("clock: the %s says %lld s since 1970: before moat started, not used\n", source,
                (long long)unix_seconds);
        return;
    }
    wall_base_ns = (uint64_t)unix_seconds * NSEC_PER_SEC - now;
    kprintf("clock: wall clock %04lld-%02u-%02u %02u:%02u:%02u UTC (%s)\n", (long long)c.year,
            c.month, c.day, c.hour, c.min, c.sec, source);
}

void udelay(uint64_t us)
{
    uint64_t end = clock_ns() + us * NSEC_PER_USEC;
    while (clock_ns() < end)
        arch_cpu_relax();
}
