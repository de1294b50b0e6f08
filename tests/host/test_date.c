/* lib/date: the calendar arithmetic behind the wall clock, against dates whose Unix time is
 * known (Python's calendar.timegm gives the same figures). */
#include "harness.h"
#include "lib/date.h"

TEST(days_from_civil_known_dates)
{
    CHECK_EQ(days_from_civil(1970, 1, 1), 0);
    CHECK_EQ(days_from_civil(1969, 12, 31), -1);
    CHECK_EQ(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);   /* 2000 is leap */
    CHECK_EQ(days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28), 1);   /* 1900 is not */
    CHECK_EQ(days_from_civil(2001, 1, 1) - days_from_civil(2000, 1, 1), 366);
}

TEST(unix_time_of_known_instants)
{
    int64_t t = 0;
    CHECK(unix_time_of(2000, 2, 29, 12, 0, 0, &t) && t == 951825600);
    CHECK(unix_time_of(2026, 12, 7, 13, 17, 24, &t) && t == 1796649444);
    CHECK(unix_time_of(1969, 12, 31, 23, 59, 59, &t) && t == -1);
    CHECK(unix_time_of(2100, 3, 1, 0, 0, 0, &t) && t == 4107542400);
    CHECK(unix_time_of(1600, 1, 1, 0, 0, 0, &t) && t == -11676096000);
}

TEST(unix_time_of_refuses_garbage)
{
    int64_t t = 42;
    CHECK(!unix_time_of(2026, 0, 1, 0, 0, 0, &t));
    CHECK(!unix_time_of(2026, 13, 1, 0, 0, 0, &t));
    CHECK(!unix_time_of(2026, 2, 29, 0, 0, 0, &t));     /* not a leap year */
    CHECK(unix_time_of(2024, 2, 29, 0, 0, 0, &t));      /* a leap year */
    t = 42;
    CHECK(!unix_time_of(2026, 4, 31, 0, 0, 0, &t));
    CHECK(!unix_time_of(2026, 1, 0, 0, 0, 0, &t));
    CHECK(!unix_time_of(2026, 1, 1, 24, 0, 0, &t));
    CHECK(!unix_time_of(2026, 1, 1, 0, 60, 0, &t));
    CHECK(!unix_time_of(2026, 1, 1, 0, 0, 60, &t));
    CHECK_EQ(t, 42);
}

TEST(civil_from_unix_inverts)
{
    struct civil_time c = civil_from_unix(1796649444);
    CHECK(c.year == 2026 && c.month == 12 && c.day == 7 && c.hour == 13 && c.min == 17 &&
          c.sec == 24);
    c = civil_from_unix(-1);
    CHECK(c.year == 1969 && c.month == 12 && c.day == 31 && c.hour == 23 && c.sec == 59);
    c = civil_from_unix(951825600);
    CHECK(c.year == 2000 && c.month == 2 && c.day == 29 && c.hour == 12);
    /* every day from 1900 to 2200 round-trips */
    for (int64_t d = days_from_civil(1900, 1, 1); d < days_from_civil(2200, 1, 1); d += 1) {
        int64_t t = d * 86400 + 3723, back = 0;
        c = civil_from_unix(t);
        REQUIRE(unix_time_of(c.year, c.month, c.day, c.hour, c.min, c.sec, &back));
        REQUIRE(back == t);
    }
}
