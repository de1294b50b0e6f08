/* The wall clock from the PC's CMOS real-time clock (MC146818 and its successors), read once at
 * boot: index port 0x70, data port 0x71. Registers A and B say whether an update is under way
 * and how the fields are coded (BCD or binary, 12- or 24-hour); FADT names the century's
 * index, and says when a machine has no such clock. */
#include "arch/x86_64/arch.h"
#include "kernel/acpi/platform.h"
#include "kernel/init.h"
#include "kernel/time.h"
#include "lib/date.h"
#include "lib/log.h"
#include "lib/string.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_A_UPDATING BIT(7)
#define RTC_REG_B 0x0b
#define RTC_B_24H BIT(1)
#define RTC_B_BINARY BIT(2)
#define RTC_HOUR_PM BIT(7)

static uint8_t cmos(uint8_t index)
{
    outb(CMOS_INDEX, index);
    return inb(CMOS_DATA);
}

struct rtc_fields {
    uint8_t sec, min, hour, day, month, year, century;
};

static struct rtc_fields read_fields(uint8_t century_index)
{
    return (struct rtc_fields){
        .sec = cmos(RTC_SECONDS), .min = cmos(RTC_MINUTES), .hour = cmos(RTC_HOURS),
        .day = cmos(RTC_DAY), .month = cmos(RTC_MONTH), .year = cmos(RTC_YEAR),
        .century = century_index ? cmos(century_index) : 0,
    };
}

static unsigned from_bcd(uint8_t v)
{
    return (v >> 4) * 10 + (v & 0xf);
}

static int rtc_init(void)
{
    const struct acpi_info *ai = platform_acpi();
    if (ai && ai->no_cmos_rtc) {
        kprintf("clock: no CMOS real-time clock (FADT); no wall clock\n");
        return 0;
    }
    uint8_t century_index = ai ? ai->rtc_century_index : 0;
    /* A read between updates, the same twice: an update (once a second, under 2 ms) may
     * carry from seconds up to the year while the fields are read. */
    struct rtc_fields a, b;
    int tries = 0;
    do {
        if (poll_until(!(cmos(RTC_REG_A) & RTC_A_UPDATING), 10 * NSEC_PER_MSEC)) {
            kprintf("clock: the CMOS real-time clock never ends its update; no wall clock\n");
            return 0;
        }
        a = read_fields(century_index);
        b = read_fields(century_index);
    } while (memcmp(&a, &b, sizeof(a)) && ++tries < 5);
    uint8_t reg_b = cmos(RTC_REG_B);
    bool pm = a.hour & RTC_HOUR_PM;
    a.hour &= (uint8_t)~RTC_HOUR_PM;
    if (!(reg_b & RTC_B_BINARY)) {
        a.sec = (uint8_t)from_bcd(a.sec);
        a.min = (uint8_t)from_bcd(a.min);
        a.hour = (uint8_t)from_bcd(a.hour);
        a.day = (uint8_t)from_bcd(a.day);
        a.month = (uint8_t)from_bcd(a.month);
        a.year = (uint8_t)from_bcd(a.year);
        a.century = (uint8_t)from_bcd(a.century);
    }
    if (!(reg_b & RTC_B_24H))
        a.hour = (uint8_t)(a.hour % 12 + (pm ? 12 : 0));
    int64_t year = a.century ? a.century * 100 + a.year : (a.year < 70 ? 2000 : 1900) + a.year;
    int64_t t;
    if (!unix_time_of(year, a.month, a.day, a.hour, a.min, a.sec, &t)) {
        kprintf("clock: the CMOS real-time clock reads %lld-%u-%u %u:%u:%u, not a time; no wall "
                "clock\n", (long long)year, a.month, a.day, a.hour, a.min, a.sec);
        return 0;
    }
    clock_set_wall(t, "CMOS real-time clock");
    return 0;
}
MOAT_UNIT(40_time, c_rtc, rtc_init);
