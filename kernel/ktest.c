#include "kernel/ktest.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "lib/string.h"

extern const struct ktest_suite __ktest_suites_start[], __ktest_suites_end[];

void ktest_fail(struct ktest *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kprintf("        # %s: %s:%d: ", t->name, file, line);
    kvprintf(fmt, ap);
    kprintf("\n");
    va_end(ap);
    t->failures++;
}

void ktest_skip(struct ktest *t, const char *reason)
{
    t->skipped = true;
    str_copy(t->skip_reason, reason, sizeof(t->skip_reason));
}

static bool name_in_list(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len + (comma ? 1 : 0);
    }
    return false;
}

static bool selected(const struct ktest_suite *s, const char *filter)
{
    if (filter && *filter)
        return name_in_list(s->name, filter);
    return !s->explicit_only;
}

struct ktest_totals {
    int passed, failed, skipped;
};

static bool run_suite(const struct ktest_suite *s, unsigned index, struct ktest_totals *tot)
{
    kprintf("    KTAP version 1\n    # Subtest: %s\n    1..%u\n", s->name, s->nr_cases);
    bool ok = true;
    for (unsigned i = 0; i < s->nr_cases; i++) {
        struct ktest t = { .name = s->cases[i].name };
        uint64_t t0 = clock_ns();
        s->cases[i].fn(&t);
        uint64_t us = (clock_ns() - t0) / NSEC_PER_USEC;
        if (t.failures) {
            kprintf("    not ok %u %s # %llu us\n", i + 1, t.name, (unsigned long long)us);
            tot->failed++;
            ok = false;
        } else if (t.skipped) {
            kprintf("    ok %u %s # SKIP %s\n", i + 1, t.name, t.skip_reason);
            tot->skipped++;
        } else {
            kprintf("    ok %u %s # %llu us\n", i + 1, t.name, (unsigned long long)us);
            tot->passed++;
        }
    }
    kprintf("%s %u %s\n", ok ? "ok" : "not ok", index, s->name);
    return ok;
}

int ktest_run(const char *filter)
{
    unsigned n = 0;
    for (const struct ktest_suite *s = __ktest_suites_start; s < __ktest_suites_end; s++)
        n += selected(s, filter);
    kprintf("KTAP version 1\n1..%u\n", n);
    struct ktest_totals tot = { 0, 0, 0 };
    unsigned index = 0;
    for (const struct ktest_suite *s = __ktest_suites_start; s < __ktest_suites_end; s++)
        if (selected(s, filter))
            run_suite(s, ++index, &tot);
    if (n == 0)
        kprintf("# no test suite matched \"%s\"\n", filter ? filter : "");
    kprintf("# %d skipped\n", tot.skipped);
    kprintf("%d passed, %d failed\n", tot.passed, tot.failed);
    return tot.failed + (n == 0 ? 1 : 0);
}
