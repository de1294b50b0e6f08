/* Calendar arithmetic (lib/date.h). Days are counted in 400-year eras of 146097 days, with
 * March as the first month so that February's leap day ends the counted year. */
#include "lib/date.h"

int64_t days_from_civil(int64_t year, unsigned month, unsigned day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;                                  /* 0..399 */
    int64_t month_from_march = month > 2 ? month - 3 : month + 9;         /* 0..11 */
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;     /* 0..365 */
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;     /* 719468: 0000-03-01 to 1970-01-01 */
}

struct civil_time civil_from_unix(int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;                                      /* 0..86399 */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t day_of_era = z - era * 146097;                                /* 0..146096 */
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;               /* 0..11 */
    unsigned month = (unsigned)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    return (struct civil_time){
        .year = year_of_era + era * 400 + (month <= 2),
        .month = month,
        .day = (unsigned)(day_of_year - (153 * month_from_march + 2) / 5 + 1),
        .hour = (unsigned)(secs / 3600),
        .min = (unsigned)(secs / 60 % 60),
        .sec = (unsigned)(secs % 60),
    };
}

static bool leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

bool unix_time_of(int64_t year, unsigned month, unsigned day, unsigned hour, unsigned min,
                  unsigned sec, int64_t *out)
{
    static const uint8_t days_in[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (month < 1 || month > 12 || hour > 23 || min > 59 || sec > 59 || day < 1)
        return false;
    if (day > days_in[month - 1] + (unsigned)(month == 2 && leap(year)))
        return false;
    *out = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    return true;
}
