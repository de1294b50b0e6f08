/* The formatted printer: a printf subset (%d %i %u %x %X %o %p %s %c %%, flags - 0 + space #,
 * width, precision, length hh h l ll z j t). Writes through a sink so that the console, string
 * buffers and the C library face share one implementation. */
#ifndef MOAT_LIB_FMT_H
#define MOAT_LIB_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include "lib/compiler.h"

typedef void (*fmt_sink_fn)(void *ctx, const char *s, size_t n);

/* Returns the number of characters produced. */
int fmt_vformat(fmt_sink_fn sink, void *ctx, const char *fmt, va_list ap);
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

#endif
