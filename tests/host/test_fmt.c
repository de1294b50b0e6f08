/* The formatted printer against the C library's snprintf on the same formats. */
#include <stdio.h>
#include <stdint.h>
#include <limits.h>

#include "lib/fmt.h"
#include "lib/string.h"
#include "tests/host/harness.h"

#define SAME(...)                                                               \
    do {                                                                        \
        char _mine[256], _libc[256];                                            \
        int _n1 = fmt_snprintf(_mine, sizeof(_mine), __VA_ARGS__);              \
        int _n2 = snprintf(_libc, sizeof(_libc), __VA_ARGS__);                  \
        CHECK_STR(_mine, _libc);                                                \
        CHECK_EQ(_n1, _n2);                                                     \
    } while (0)

TEST(integers)
{
    SAME("%d %i %u", 0, -1, 42u);
    SAME("%d", INT_MIN);
    SAME("%lld %llu", LLONG_MIN, ULLONG_MAX);
    SAME("%ld %lu %zu %zd", -5L, 7UL, (size_t)9, (ssize_t)-3);
    SAME("%hhd %hhu %hd %hu", -1, 300, -2, 70000);
    SAME("%x %X %#x %#X %o %#o", 0xbeefu, 0xbeefu, 0x1u, 0x1u, 8u, 8u);
    SAME("%#x %#o", 0u, 0u);
    SAME("%jd %td", (intmax_t)-9, (ptrdiff_t)4);
}

TEST(width_precision_flags)
{
    SAME("[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
    SAME("[%05d] [%5.3d] [%.0d] [%.0x]", -42, 7, 0, 0u);
    SAME("[%016llx] [%#018llx]", 0x1234ULL, 0xabcULL);
    SAME("[%*d] [%-*d] [%.*d]", 6, 1, 6, 1, 4, 3);
    SAME("[%10s] [%-10s] [%.2s] [%*.*s]", "abc", "abc", "abc", 6, 1, "xyz");
    SAME("[%c] [%3c] [%-3c]", 'a', 'b', 'c');
    SAME("100%% done");
}

TEST(pointers)
{
    SAME("%p", (void *)0x1234);
    SAME("%p", (void *)0xffff800000001000ULL);
}

TEST(truncation)
{
    char buf[8];
    int n = fmt_snprintf(buf, sizeof(buf), "%s", "0123456789");
    CHECK_EQ(n, 10);
    CHECK_STR(buf, "0123456");
    n = fmt_snprintf(buf, 1, "abc");
    CHECK_EQ(n, 3);
    CHECK_EQ(buf[0], 0);
    n = fmt_snprintf(NULL, 0, "%d", 12345);
    CHECK_EQ(n, 5);
}

TEST(null_string)
{
    char buf[32];
    const char *volatile nothing = NULL;
    fmt_snprintf(buf, sizeof(buf), "%s", nothing);
    CHECK_STR(buf, "(null)");
}

TEST(str_helpers)
{
    char buf[4];
    CHECK_EQ(str_copy(buf, "hello", sizeof(buf)), 5);
    CHECK_STR(buf, "hel");
    unsigned long long v = 0;
    const char *end;
    CHECK_EQ(str_to_u64("0x1f", &end, 0, &v), 0);
    CHECK_EQ(v, 0x1f);
    CHECK_EQ(str_to_u64("017", &end, 0, &v), 0);     /* strtoull's octal */
    CHECK_EQ(v, 017);
    CHECK_EQ(str_to_u64("0", &end, 0, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(str_to_u64("09", &end, 0, &v), 0);      /* "0", then a digit octal lacks */
    CHECK_STR(end, "9");
    CHECK_EQ(str_to_u64("123abc", &end, 10, &v), 0);
    CHECK_EQ(v, 123);
    CHECK_STR(end, "abc");
    CHECK_EQ(str_to_u64("99999999999999999999999", &end, 10, &v), -1);
    CHECK_EQ(str_to_u64("zz", &end, 10, &v), -1);
}
