/* Ending a run with a status. Success: PSCI SYSTEM_OFF (QEMU exits 0). Failure: semihosting's
 * SYS_EXIT with the status (QEMU started with -semihosting-config enable=on,target=native exits
 * with it; ./moat does that). On hardware, or a QEMU without semihosting, the HLT #0xf000 that
 * asks for it is an undefined instruction: the exception handler sees arch_powering_off and
 * comes back to SYSTEM_OFF, so the machine still powers off, but the status is lost (the log's
 * "power off, status N" line is then the only record). */
#include "arch/aarch64/arch.h"
#include "arch/aarch64/platform.h"
#include "lib/log.h"

#define PSCI_SYSTEM_OFF 0x84000008u
#define SEMIHOST_SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

bool arch_powering_off;

static void psci_call(uint32_t fn)
{
    bool hvc = platform_dt()->psci.hvc;     /* before x0 is loaded: a call would clobber it */
    register uint64_t x0 __asm__("x0") = fn;
    if (hvc)
        __asm__ __volatile__("hvc #0" : "+r"(x0) :: "x1", "x2", "x3", "memory");
    else
        __asm__ __volatile__("smc #0" : "+r"(x0) :: "x1", "x2", "x3", "memory");
}

__noreturn void arch_psci_off(void);
void arch_psci_off(void)
{
    if (platform_dt()->psci.present)
        psci_call(PSCI_SYSTEM_OFF);
    serial_write("moat: PSCI SYSTEM_OFF did not power the machine off\n", 52);
    for (;;)
        cpu_halt();
}

void arch_power_off(int status)
{
    irq_disable();
    kprintf("moat: power off, status %d\n", status);
    console_flush();
    arch_power_off_quiet(status);
}

void arch_power_off_quiet(int status)
{
    irq_disable();
    if (status != 0) {
        arch_powering_off = true;
        static uint64_t block[2];
        block[0] = ADP_STOPPED_APPLICATION_EXIT;
        block[1] = (uint64_t)status;
        register uint64_t x0 __asm__("x0") = SEMIHOST_SYS_EXIT;
        register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;
        __asm__ __volatile__("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    }
    arch_psci_off();
}
