/* What the host benchmarks share: a monotonic clock, and the report of a figure measured over
 * repeated rounds as one `bench <name> <median> <unit>` line followed by a
 * `# <name> min .. max .. <unit> over N rounds` comment (the format ./moat bench and
 * tools/benchplot.py read). Header-only: each benchmark is one program. */
#ifndef MOAT_BENCH_BENCH_UTIL_H
#define MOAT_BENCH_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_ROUNDS 64

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v[0..n), prints the median with min and max, returns the median. Values of 100 and
 * more print without decimals (the figures are noisier than that). */
static inline double bench_report(const char *name, const char *unit, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    int prec = med >= 100 ? 0 : 2;
    printf("bench %s %.*f %s\n", name, prec, med, unit);
    printf("# %s min %.*f max %.*f %s over %d rounds\n", name, prec, v[0], prec, v[n - 1], unit,
           n);
    fflush(stdout);
    return med;
}

/* --short: few rounds, for CI. */
static inline bool bench_short(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--short"))
            return true;
    return false;
}

/* --only=NAME (for profiling): bench_wanted() is true for that figure alone. */
static const char *bench_only_name;

static inline void bench_parse_only(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--only=", 7))
            bench_only_name = argv[i] + 7;
}

static inline bool bench_wanted(const char *name)
{
    return !bench_only_name || !strcmp(bench_only_name, name);
}

#endif
