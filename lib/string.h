/* String and memory functions: the C library's on the host, moat's own in the image (where an
 * appliance program's C library, newlib, uses the same ones: the runtime's are linked first). */
#ifndef MOAT_LIB_STRING_H
#define MOAT_LIB_STRING_H

#include <stddef.h>

#if MOAT_HOSTED
#include <string.h>
#else
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);
char *strcpy(char *restrict dst, const char *restrict src);
char *strncpy(char *restrict dst, const char *restrict src, size_t n);
char *strcat(char *restrict dst, const char *restrict src);
#endif

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t size);
/* Parses an unsigned number (base 0 as strtoull: 0x.. hex, 0.. octal, else decimal; or a base
 * up to 16); returns 0 on success. */
int str_to_u64(const char *s, const char **end, unsigned base, unsigned long long *out);
/* The 16 bytes of the UUID written in the 36 characters at s ("xxxxxxxx-xxxx-xxxx-xxxx-
 * xxxxxxxxxxxx": dashes at 8, 13, 18 and 23, hex digits elsewhere), in the order written, as
 * Linux's uuid_t and libuuid keep them; 0, or -1 (out untouched). What follows is not looked at. */
int uuid_from_text(const char *s, unsigned char out[16]);

#endif
