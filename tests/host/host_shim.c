/* What the image's platform provides, for host builds: console output, panic, error tracing,
 * and the test runner's main (a benchmark defines its own main, which takes precedence). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel/time.h"
#include "lib/log.h"
#include "tests/host/harness.h"

int host_test_failures;
jmp_buf *host_panic_jmp;
char host_last_panic[256];
static struct host_test *tests_head, **tests_tail = &tests_head;

void kvprintf(const char *fmt, va_list ap)
{
    vprintf(fmt, ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void moat_panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(host_last_panic, sizeof(host_last_panic), fmt, ap);
    va_end(ap);
    if (host_panic_jmp)
        longjmp(*host_panic_jmp, 1);
    fprintf(stderr, "panic at %s:%d: %s\n", file, line, host_last_panic);
    abort();
}

int moat_trace_err(int err, const char *file, int line)
{
    fprintf(stderr, "error %d first at %s:%d\n", err, file, line);
    return err;
}

/* kernel/time.h's clock, for portable code that waits (sys_poll). */
uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void host_test_register(struct host_test *t)
{
    *tests_tail = t;
    tests_tail = &t->next;
}

void host_check_failed(const char *file, int line, const char *what)
{
    printf("    check failed at %s:%d: %s\n", file, line, what);
    host_test_failures++;
}

__attribute__((weak)) int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (struct host_test *t = tests_head; t; t = t->next) {
        if (argc > 1 && !strstr(t->name, argv[1]))
            continue;
        int before = host_test_failures;
        t->fn();
        bool ok = host_test_failures == before;
        printf("%s %s\n", ok ? "ok" : "not ok", t->name);
        fflush(stdout);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
