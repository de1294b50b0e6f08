/* The TSC clock, calibrated against the ACPI PM timer (3.579545 MHz, a fixed-rate counter every
 * PC chipset has), or taken from CPUID leaf 0x15 when it names the crystal and one PM-timer
 * window confirms it. Nanoseconds are computed as (tsc_delta * mult) >> 32. */
#include "arch/x86_64/arch.h"
#include "kernel/acpi/platform.h"
#include "kernel/boot_info.h"
#include "kernel/init.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"

#define PM_TIMER_HZ 3579545ULL
#define CALIBRATE_PM_TICKS 1790     /* 0.5 ms per window */
#define CALIBRATE_MAX_WINDOWS 5
#define CALIBRATE_AGREE 2000        /* two windows within 1/2000 (0.05%) of each other */
#define CPUID_AGREE 100             /* CPUID's frequency within 1% of a PM-timer window */

static uint64_t tsc_hz;
static uint64_t ns_mult;            /* ns per TSC tick, 32.32 fixed point */

uint64_t clock_ns(void)
{
    uint64_t d = rdtsc() - boot_info.entry_tsc;
    if (!ns_mult)
        return 0;
    return (uint64_t)(((unsigned __int128)d * ns_mult) >> 32);
}

uint64_t clock_tsc_hz(void)
{
    return tsc_hz;
}

static uint32_t pm_timer_read(uint16_t port, uint32_t mask)
{
    return inl(port) & mask;
}

/* One (TSC, PM timer) pair read as close together as possible: the TSC is read on both sides
 * of the PM timer read and the tightest of a few tries wins, so that a vCPU preempted by its
 * host between the two reads (common under TCG on a loaded machine) does not skew the pair. */
struct clock_pair {
    uint64_t tsc;
    uint32_t pm;
};

static struct clock_pair read_pair(uint16_t port, uint32_t mask)
{
    struct clock_pair best = { 0, 0 };
    uint64_t best_gap = ~0ULL;
    for (int i = 0; i < 5; i++) {
        uint64_t a = rdtsc();
        uint32_t pm = pm_timer_read(port, mask);
        uint64_t b = rdtsc();
        if (b - a < best_gap) {
            best_gap = b - a;
            best = (struct clock_pair){ a + (b - a) / 2, pm };
        }
    }
    return best;
}

/* TSC ticks per second over CALIBRATE_PM_TICKS of the PM timer; 0 if the timer does not move. */
static uint64_t calibrate_once(uint16_t port, uint32_t mask)
{
    struct clock_pair p0 = read_pair(port, mask);
    /* Bounded by iterations, not time: the clock is what we are calibrating. */
    for (uint64_t spins = 0; spins < 200000000ULL; spins++) {
        if (((pm_timer_read(port, mask) - p0.pm) & mask) < CALIBRATE_PM_TICKS)
            continue;
        struct clock_pair p1 = read_pair(port, mask);
        uint32_t elapsed = (p1.pm - p0.pm) & mask;
        return (p1.tsc - p0.tsc) * PM_TIMER_HZ / elapsed;
    }
    return 0;
}

static bool close_to(uint64_t a, uint64_t b, uint64_t parts)
{
    uint64_t d = a > b ? a - b : b - a;
    return d <= b / parts;
}

/* Windows until two agree: one disturbed window cannot decide the clock, and an undisturbed
 * boot needs only two (1 ms). Without agreement, the median of all of them. */
static uint64_t calibrate_with_pm_timer(uint16_t port, bool wide)
{
    uint32_t mask = wide ? 0xffffffffu : 0xffffffu;
    uint64_t f[CALIBRATE_MAX_WINDOWS];
    for (int n = 0; n < CALIBRATE_MAX_WINDOWS; n++) {
        f[n] = calibrate_once(port, mask);
        if (!f[n])
            return 0;       /* the timer does not move */
        for (int i = 0; i < n; i++)
            if (close_to(f[i], f[n], CALIBRATE_AGREE))
                return (f[i] + f[n]) / 2;
    }
    for (int i = 0; i < CALIBRATE_MAX_WINDOWS - 1; i++)
        for (int j = i + 1; j < CALIBRATE_MAX_WINDOWS; j++)
            if (f[j] < f[i]) {
                uint64_t t = f[i];
                f[i] = f[j];
                f[j] = t;
            }
    return f[CALIBRATE_MAX_WINDOWS / 2];
}

/* The TSC's frequency from the crystal ratio of leaf 0x15, when the crystal is named. */
static uint64_t tsc_hz_from_crystal(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 0x15)
        return 0;
    cpuid(0x15, 0, r);
    return r[0] && r[1] && r[2] ? (uint64_t)r[2] * r[1] / r[0] : 0;
}

static uint64_t tsc_hz_from_cpuid(void)
{
    uint32_t r[4];
    uint64_t hz = tsc_hz_from_crystal();
    if (hz)
        return hz;
    cpuid(0, 0, r);
    if (r[0] >= 0x16) {
        cpuid(0x16, 0, r);
        if (r[0])
            return (uint64_t)r[0] * 1000000ULL;
    }
    return 0;
}

static int clock_init(void)
{
    const struct acpi_info *ai = platform_acpi();
    uint64_t crystal = tsc_hz_from_crystal();
    if (ai && ai->pm_timer_port && crystal) {
        /* An exact figure from CPUID, trusted once one PM-timer window agrees with it. */
        uint32_t mask = ai->pm_timer_32bit ? 0xffffffffu : 0xffffffu;
        if (close_to(calibrate_once(ai->pm_timer_port, mask), crystal, CPUID_AGREE))
            tsc_hz = crystal;
    }
    if (!tsc_hz && ai && ai->pm_timer_port)
        tsc_hz = calibrate_with_pm_timer(ai->pm_timer_port, ai->pm_timer_32bit);
    if (tsc_hz && (tsc_hz < 100000000ULL || tsc_hz > 20000000000ULL)) {
        kprintf("clock: PM-timer calibration gave an implausible %llu Hz, not used\n",
                (unsigned long long)tsc_hz);
        tsc_hz = 0;
    }
    if (!tsc_hz)
        tsc_hz = tsc_hz_from_cpuid();
    if (!tsc_hz) {
        tsc_hz = 2000000000ULL;
        kprintf("clock: no PM timer and no CPUID frequency; assuming a 2 GHz TSC\n");
    }
    ns_mult = (uint64_t)(((unsigned __int128)NSEC_PER_SEC << 32) / tsc_hz);
    kprintf("clock: TSC at %llu.%03llu MHz\n", (unsigned long long)(tsc_hz / 1000000),
            (unsigned long long)(tsc_hz / 1000 % 1000));
    return 0;
}
MOAT_UNIT(40_time, a_clock, clock_init);
