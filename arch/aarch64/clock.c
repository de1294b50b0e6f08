/* The generic timer's virtual counter as the clock: CNTFRQ_EL0 gives its frequency (firmware,
 * or QEMU, sets it), so there is nothing to calibrate. Nanoseconds are (ticks * mult) >> 32. */
#include "arch/aarch64/arch.h"
#include "arch/aarch64/gic.h"
#include "arch/aarch64/platform.h"
#include "kernel/boot_info.h"
#include "kernel/init.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"

static uint64_t cnt_hz;
static uint64_t ns_mult;            /* ns per tick, 32.32 fixed point */

static void clock_setup(void)
{
    cnt_hz = read_sysreg(cntfrq_el0) & 0xffffffffu;
    if (cnt_hz)
        ns_mult = (NSEC_PER_SEC << 32) / cnt_hz;
}

uint64_t clock_ns(void)
{
    if (!ns_mult)
        clock_setup();
    if (!ns_mult)
        return 0;
    uint64_t d = cntvct() - boot_info.entry_tsc;
    return (uint64_t)(((unsigned __int128)d * ns_mult) >> 32);
}

uint64_t clock_tsc_hz(void)
{
    return cnt_hz;
}

static int clock_init(void)
{
    clock_setup();
    if (!cnt_hz) {
        kprintf("clock: CNTFRQ_EL0 is 0 (firmware did not set the counter's frequency)\n");
        return -ENODEV;
    }
    kprintf("clock: generic timer at %llu Hz\n", (unsigned long long)cnt_hz);
    return 0;
}
MOAT_UNIT(40_time, a_clock, clock_init);

/* The EL1 virtual timer as a one-shot: its PPI (the device tree's third timer interrupt, 27
 * on virt) runs the handler of the vector the caller allocated. */
#define CNTV_CTL_ENABLE BIT(0)
#define CNTV_CTL_IMASK BIT(1)

static unsigned timer_vector;

static void timer_fired(unsigned intid, void *ctx)
{
    write_sysreg(cntv_ctl_el0, CNTV_CTL_IMASK);     /* once: off until armed again */
    isb();
    gic_run_vector(timer_vector);
}

void arch_timer_oneshot(unsigned vector, uint64_t ns)
{
    const struct dt_platform *dt = platform_dt();
    unsigned ppi = dt->timer.nr_irq >= 3 ? dt->timer.irq[2].intid : 27;
    timer_vector = vector;
    gic_ppi_attach(ppi, timer_fired, NULL);
    uint64_t ticks = (uint64_t)(((unsigned __int128)ns * cnt_hz) / NSEC_PER_SEC);
    write_sysreg(cntv_tval_el0, MAX(ticks, 1ULL));
    write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE);
    isb();
}
