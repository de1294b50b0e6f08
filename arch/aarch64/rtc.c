/* The wall clock from an Arm PL031 real-time clock (QEMU virt has one; the device tree names
 * it), read once at boot: its data register counts seconds since the Unix epoch. */
#include "arch/aarch64/arch.h"
#include "arch/aarch64/platform.h"
#include "kernel/init.h"
#include "kernel/mm/direct_map.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"

#define PL031_DR 0x000          /* data: the seconds count */

static int rtc_init(void)
{
    const struct dt_platform *dt = platform_dt();
    if (!dt || !dt->rtc.present) {
        kprintf("clock: no real-time clock in the device tree; no wall clock\n");
        return 0;
    }
    int err = dm_map_range(dt->rtc.base, dt->rtc.base + PAGE_SIZE,
                           ARCH_MAP_WRITE | ARCH_MAP_UNCACHED);
    if (err) {
        kprintf("clock: cannot map the PL031 at %#llx (%d); no wall clock\n",
                (unsigned long long)dt->rtc.base, err);
        return 0;
    }
    uint32_t secs = *(volatile uint32_t *)phys_to_virt(dt->rtc.base + PL031_DR);
    clock_set_wall(secs, "PL031 real-time clock");
    return 0;
}
MOAT_UNIT(40_time, c_rtc, rtc_init);
