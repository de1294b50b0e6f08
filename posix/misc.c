/* Small pieces Linux programs expect of their C library that newlib lacks: the err/warn family
 * and uname. */
#include "posix/posix.h"

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

extern const char moat_program_name[];

static void vreport(const char *fmt, va_list ap, bool with_errno)
{
    int saved = errno;
    fflush(stdout);
    fprintf(stderr, "%s: ", moat_program_name);
    if (fmt) {
        vfprintf(stderr, fmt, ap);
        if (with_errno)
            fputs(": ", stderr);
    }
    if (with_errno)
        fputs(strerror(saved), stderr);
    fputc('\n', stderr);
}

void vwarn(const char *fmt, va_list ap) { vreport(fmt, ap, true); }
void vwarnx(const char *fmt, va_list ap) { vreport(fmt, ap, false); }

void verr(int status, const char *fmt, va_list ap)
{
    vreport(fmt, ap, true);
    exit(status);
}

void verrx(int status, const char *fmt, va_list ap)
{
    vreport(fmt, ap, false);
    exit(status);
}

void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}

void warnx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarnx(fmt, ap);
    va_end(ap);
}

void err(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(status, fmt, ap);
}

void errx(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrx(status, fmt, ap);
}

int uname(struct utsname *u)
{
    if (!u)
        return (int)posix_ret(-EFAULT);
    *u = (struct utsname){ .sysname = "moat", .nodename = "moat", .release = "6.12.0-moat",
                           .version = "moat", .machine = MOAT_ARCH_NAME, .domainname = "(none)" };
    return 0;
}
