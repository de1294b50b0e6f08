/* Console output and fatal errors. The image writes to the serial console; host builds to stdout. */
#ifndef MOAT_LIB_LOG_H
#define MOAT_LIB_LOG_H

#include <stdarg.h>
#include "lib/compiler.h"

void kprintf(const char *fmt, ...) __printf(1, 2);
void kvprintf(const char *fmt, va_list ap);
__noreturn void moat_panic(const char *file, int line, const char *fmt, ...) __printf(3, 4);

#define panic(...) moat_panic(__FILE__, __LINE__, __VA_ARGS__)

/* Assertions stay on in every build: they guard invariants whose loss would let a device
 * reach memory it should not. */
#define MOAT_ASSERT(cond)                                                       \
    do {                                                                        \
        if (unlikely(!(cond)))                                                  \
            moat_panic(__FILE__, __LINE__, "assertion failed: %s", #cond);      \
    } while (0)

/* An error return that a debug build traces to where it first appeared. */
int moat_trace_err(int err, const char *file, int line);
#if MOAT_DEBUG_ERRORS
#define ERR(e) moat_trace_err((e), __FILE__, __LINE__)
#else
#define ERR(e) (e)
#endif

#endif
