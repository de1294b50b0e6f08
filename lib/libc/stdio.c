/* stdio for appliances: every stream goes to the console, a line at a time. */
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/libc/include/stdio.h"
#include "lib/libc/include/string.h"
#include "lib/libc/include/errno.h"

struct moat_file {
    int fd;
};
static struct moat_file files[3] = { { 0 }, { 1 }, { 2 } };
FILE *stdin = &files[0], *stdout = &files[1], *stderr = &files[2];

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    (void)f;
    char buf[1024];
    va_list aq;
    va_copy(aq, ap);
    int n = fmt_vsnprintf(buf, sizeof(buf), fmt, aq);
    va_end(aq);
    if (n < (int)sizeof(buf)) {
        kprintf("%s", buf);
        return n;
    }
    kvprintf(fmt, ap);  /* longer than the buffer: format straight to the console */
    return n;
}

int vprintf(const char *fmt, va_list ap)
{
    return vfprintf(stdout, fmt, ap);
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return n;
}

int fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return fmt_vsnprintf(buf, size, fmt, ap);
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int sprintf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, (size_t)-1 >> 1, fmt, ap);
    va_end(ap);
    return n;
}

int fputs(const char *s, FILE *f)
{
    (void)f;
    kprintf("%s", s);
    return 0;
}

int puts(const char *s)
{
    kprintf("%s\n", s);
    return 0;
}

int fputc(int c, FILE *f)
{
    (void)f;
    kprintf("%c", c);
    return (unsigned char)c;
}

int putchar(int c)
{
    return fputc(c, stdout);
}

int fflush(FILE *f)
{
    (void)f;
    return 0;
}

void perror(const char *s)
{
    if (s && *s)
        kprintf("%s: %s\n", s, strerror(errno));
    else
        kprintf("%s\n", strerror(errno));
}
