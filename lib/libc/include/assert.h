#ifndef MOAT_LIBC_ASSERT_H
#define MOAT_LIBC_ASSERT_H
__attribute__((noreturn)) void __moat_assert_fail(const char *expr, const char *file, int line);
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __moat_assert_fail(#e, __FILE__, __LINE__))
#endif
#endif
