/* String and memory functions: the C library's on the host, moat's own in the image. */
#ifndef MOAT_LIB_STRING_H
#define MOAT_LIB_STRING_H

#include <stddef.h>

#if MOAT_HOSTED
#include <string.h>
#else
#include "libc/include/string.h"      /* one set of declarations: the C library's */
#endif

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t size);
/* Parses an unsigned number (base 0: 0x.. hex, else decimal; or 10/16); returns 0 on success. */
int str_to_u64(const char *s, const char **end, unsigned base, unsigned long long *out);

#endif
