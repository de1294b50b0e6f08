/* <err.h>, which newlib lacks: BSD's err/warn family as Linux's C library has it (the program's
 * name, the message, and for err/warn ": " and strerror(errno)). */
#ifndef MOAT_POSIX_ERR_H
#define MOAT_POSIX_ERR_H

#include <sys/cdefs.h>
#include <stdarg.h>

__BEGIN_DECLS
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vwarn(const char *fmt, va_list ap);
void vwarnx(const char *fmt, va_list ap);
void err(int status, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void errx(int status, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void verr(int status, const char *fmt, va_list ap) __attribute__((noreturn));
void verrx(int status, const char *fmt, va_list ap) __attribute__((noreturn));
__END_DECLS

#endif
