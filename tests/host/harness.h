/* A small host test harness. Each TEST() registers itself; host_shim.c's main runs them all and
 * prints "N passed, N failed". CHECK* record a failure and go on; REQUIRE* end the test. */
#ifndef MOAT_TESTS_HOST_HARNESS_H
#define MOAT_TESTS_HOST_HARNESS_H

#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

struct host_test {
    const char *name;
    void (*fn)(void);
    struct host_test *next;
};

void host_test_register(struct host_test *t);
void host_check_failed(const char *file, int line, const char *what);
extern int host_test_failures;
/* Set while a test expects moat_panic(); the shim longjmps here instead of aborting. */
extern jmp_buf *host_panic_jmp;
extern char host_last_panic[256];

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    static struct host_test host_test_##name = { #name, test_##name, 0 };       \
    __attribute__((constructor)) static void host_test_reg_##name(void)         \
    {                                                                           \
        host_test_register(&host_test_##name);                                  \
    }                                                                           \
    static void test_##name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond))                                                            \
            host_check_failed(__FILE__, __LINE__, #cond);                       \
    } while (0)

#define CHECK_EQ(a, b)                                                          \
    do {                                                                        \
        long long _a = (long long)(a), _b = (long long)(b);                     \
        if (_a != _b) {                                                         \
            char _m[256];                                                       \
            snprintf(_m, sizeof(_m), "%s == %s (%lld vs %lld, 0x%llx vs 0x%llx)", \
                     #a, #b, _a, _b, (unsigned long long)_a, (unsigned long long)_b); \
            host_check_failed(__FILE__, __LINE__, _m);                          \
        }                                                                       \
    } while (0)

#define CHECK_STR(a, b)                                                         \
    do {                                                                        \
        const char *_a = (a), *_b = (b);                                        \
        if (strcmp(_a, _b) != 0) {                                              \
            char _m[1200];                                                       \
            snprintf(_m, sizeof(_m), "%s == %s (\"%s\" vs \"%s\")", #a, #b, _a, _b); \
            host_check_failed(__FILE__, __LINE__, _m);                          \
        }                                                                       \
    } while (0)

#define REQUIRE(cond)                                                           \
    do {                                                                        \
        if (!(cond)) {                                                          \
            host_check_failed(__FILE__, __LINE__, #cond);                       \
            return;                                                             \
        }                                                                       \
    } while (0)

/* Runs stmt and checks that it called moat_panic(). */
#define CHECK_PANICS(stmt)                                                      \
    do {                                                                        \
        jmp_buf _jb;                                                            \
        host_panic_jmp = &_jb;                                                  \
        if (setjmp(_jb) == 0) {                                                 \
            stmt;                                                               \
            host_panic_jmp = NULL;                                              \
            host_check_failed(__FILE__, __LINE__, "expected a panic: " #stmt);  \
        } else {                                                                \
            host_panic_jmp = NULL;                                              \
        }                                                                       \
    } while (0)

#endif
