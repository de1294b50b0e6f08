/* In-image tests: suites register like units (linker section) and speak KTAP over the console,
 * ending with the "N passed, N failed" line. */
#ifndef MOAT_KERNEL_KTEST_H
#define MOAT_KERNEL_KTEST_H

#include "lib/compiler.h"

struct ktest {
    const char *name;
    int failures;
    bool skipped;
    char skip_reason[96];
};

struct ktest_case {
    const char *name;
    void (*fn)(struct ktest *t);
};

struct ktest_suite {
    const char *name;
    const struct ktest_case *cases;
    unsigned nr_cases;
    bool explicit_only;     /* runs only when named on the command line (e.g. crash tests) */
};

#define KTEST_CASE(fn) { #fn, fn }

#define KTEST_SUITE_DEFINE(sname, expl, ...)                                            \
    static const struct ktest_case sname##_cases[] = { __VA_ARGS__ };                   \
    static const struct ktest_suite __ktest_##sname __used                              \
        __section(".moat_ktest." #sname) __aligned(8) = {                               \
            #sname, sname##_cases, ARRAY_SIZE(sname##_cases), expl }

#define KTEST_SUITE(sname, ...) KTEST_SUITE_DEFINE(sname, false, __VA_ARGS__)
#define KTEST_SUITE_EXPLICIT(sname, ...) KTEST_SUITE_DEFINE(sname, true, __VA_ARGS__)

void ktest_fail(struct ktest *t, const char *file, int line, const char *fmt, ...) __printf(4, 5);
void ktest_skip(struct ktest *t, const char *reason);

#define KEXPECT(t, cond)                                                                \
    do {                                                                                \
        if (!(cond))                                                                    \
            ktest_fail(t, __FILE__, __LINE__, "expected %s", #cond);                    \
    } while (0)

#define KEXPECT_EQ(t, a, b)                                                             \
    do {                                                                                \
        unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);  \
        if (_a != _b)                                                                   \
            ktest_fail(t, __FILE__, __LINE__, "expected %s == %s (%#llx vs %#llx)", #a, #b, \
                       _a, _b);                                                         \
    } while (0)

#define KASSERT(t, cond)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            ktest_fail(t, __FILE__, __LINE__, "required %s", #cond);                    \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* Runs the suites the filter selects (comma-separated names; NULL or "" = all non-explicit).
 * Returns the number of failed cases. */
int ktest_run(const char *filter);

#endif
