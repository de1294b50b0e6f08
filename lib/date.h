/* Calendar arithmetic for real-time clocks, which give a date and a time of day: the proleptic
 * Gregorian calendar, UTC, no leap seconds (as Unix time counts). */
#ifndef MOAT_LIB_DATE_H
#define MOAT_LIB_DATE_H

#include "lib/compiler.h"

/* Days from 1970-01-01 to year-month-day (month 1..12, day 1..31); negative before 1970. */
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

/* A date and time of day, UTC. */
struct civil_time {
    int64_t year;
    unsigned month, day, hour, min, sec;
};

/* The date and time of day of t seconds since the Unix epoch (days_from_civil's inverse). */
struct civil_time civil_from_unix(int64_t t);

/* Seconds since the Unix epoch of a date and time of day; false (and *out untouched) for a
 * field out of range, as a real-time clock with garbage in it gives. */
bool unix_time_of(int64_t year, unsigned month, unsigned day, unsigned hour, unsigned min,
                  unsigned sec, int64_t *out);

#endif
