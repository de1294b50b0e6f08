/* Ending a run with a status: ACPI S5 soft-off for success (QEMU exits 0), QEMU's isa-debug-exit
 * for failure (QEMU exits with (status << 1) | 1; ./moat turns that back into status). */
#include "arch/x86_64/arch.h"
#include "kernel/acpi/platform.h"
#include "lib/log.h"

#define DEBUG_EXIT_PORT 0xf4
#define PM1_SLP_EN BIT(13)

void arch_power_off(int status)
{
    irq_disable();
    kprintf("moat: power off, status %d\n", status);
    console_flush();
    const struct acpi_info *ai = platform_acpi();
    if (status == 0 && ai && ai->pm1a_cnt_port) {
        uint16_t slp_typ = ai->have_s5 ? ai->s5_slp_typ : 0;
        outw(ai->pm1a_cnt_port, (uint16_t)((slp_typ << 10) | PM1_SLP_EN));
        /* The machine acts on S5 asynchronously: give it a moment before the fallback. */
        uint64_t t0 = rdtsc();
        while (rdtsc() - t0 < 2000000000ULL)
            cpu_relax();
        kprintf("moat: ACPI S5 did not power the machine off\n");
        console_flush();
    }
    arch_power_off_quiet(status);
}

void arch_power_off_quiet(int status)
{
    irq_disable();
    outl(DEBUG_EXIT_PORT, (uint32_t)(status ? status : 0x7f));
    for (;;)
        cpu_halt();
}
