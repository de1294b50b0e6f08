/* Local APIC (x2APIC when the CPU has it, else xAPIC MMIO) and its timer, calibrated against the
 * TSC clock. The legacy 8259 PICs are remapped away from the exception vectors and masked. */
#include "arch/x86_64/trap.h"
#include "kernel/acpi/platform.h"
#include "kernel/init.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"

#define APIC_BASE_EXTD BIT(10)
#define APIC_BASE_EN BIT(11)
#define APIC_BASE_ADDR GENMASK(51, 12)

#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_SVR_ENABLE BIT(8)
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_MASKED BIT(16)
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0
#define APIC_DIV_16 0x3

static bool x2apic;
static volatile uint32_t *xapic;
static uint64_t timer_hz;

static uint32_t apic_read(uint32_t reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(0x800 + (reg >> 4));
    return xapic[reg / 4];
}

static void apic_write(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + (reg >> 4), v);
    else
        xapic[reg / 4] = v;
}

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

uint32_t apic_id(void)
{
    return x2apic ? apic_read(APIC_ID) : apic_read(APIC_ID) >> 24;
}

bool apic_is_x2apic(void)
{
    return x2apic;
}

uint64_t apic_timer_hz(void)
{
    return timer_hz;
}

void apic_timer_oneshot(unsigned vector, uint64_t ns)
{
    uint64_t count = (uint64_t)(((unsigned __int128)ns * timer_hz) / NSEC_PER_SEC);
    if (count == 0)
        count = 1;
    if (count > 0xffffffffULL)
        count = 0xffffffffULL;
    apic_write(APIC_LVT_TIMER, vector & 0xff);
    apic_write(APIC_TIMER_INIT, (uint32_t)count);
}

static void pic_disable(void)
{
    /* ICW1-4: cascade mode, vectors 0x20/0x28 (away from exceptions), then mask everything. */
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 0x20); outb(0xa1, 0x28);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    outb(0x21, 0xff); outb(0xa1, 0xff);
}

static void timer_calibrate(void)
{
    apic_write(APIC_TIMER_DIV, APIC_DIV_16);
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
    apic_write(APIC_TIMER_INIT, 0xffffffffu);
    uint64_t t0 = clock_ns();
    while (clock_ns() - t0 < NSEC_PER_MSEC)
        cpu_relax();
    uint32_t left = apic_read(APIC_TIMER_CUR);
    uint64_t t1 = clock_ns();
    apic_write(APIC_TIMER_INIT, 0);
    timer_hz = (uint64_t)(0xffffffffu - left) * NSEC_PER_SEC / (t1 - t0);
}

static int apic_init(void)
{
    const struct acpi_info *ai = platform_acpi();
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[3] & BIT(9)))
        return -ENODEV;
    if (!ai || ai->pcat_compat)
        pic_disable();
    x2apic = r[2] & BIT(21);
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (x2apic) {
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
    } else {
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN);
        xapic = mmio_map(base & APIC_BASE_ADDR, 4096);
        if (!xapic)
            return -ENOMEM;
    }
    apic_write(APIC_SVR, APIC_SVR_ENABLE | VEC_SPURIOUS);
    timer_calibrate();
    kprintf("apic: %s, id %u, timer %llu kHz\n", x2apic ? "x2APIC" : "xAPIC", apic_id(),
            (unsigned long long)(timer_hz / 1000));
    irq_enable();
    return 0;
}
MOAT_UNIT(40_time, b_apic, apic_init);
