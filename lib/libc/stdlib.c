/* Memory, conversions and process exit for appliances. Every allocation is an anonymous mapping
 * of its own (a header, then the object): the program's heap is program memory (kernel/uaccess),
 * never the runtime's heap with its metadata and other drivers' objects beside it. */
#include "arch/arch.h"
#include "kernel/mm/heap.h"
#include "kernel/vm.h"
#include "lib/log.h"
#include "lib/libc/include/errno.h"
#include "lib/libc/include/stdlib.h"
#include "lib/libc/include/string.h"

int errno;

struct big_hdr {
    void *base;         /* what vm_map_anon returned */
    size_t len;         /* its length */
    size_t size;        /* what the caller asked for */
};

static void *big_alloc(size_t size, size_t align)
{
    size_t len;
    if (align < 16)
        align = 16;
    if (__builtin_add_overflow(size, align + sizeof(struct big_hdr), &len))
        return NULL;
    void *base;
    if (vm_map_anon(len, &base))
        return NULL;
    uintptr_t p = ALIGN_UP((uintptr_t)base + sizeof(struct big_hdr), align);
    struct big_hdr *h = (struct big_hdr *)p - 1;
    h->base = base;
    h->len = len;
    h->size = size;
    return (void *)p;
}

void *malloc(size_t size)
{
    void *p = big_alloc(size ? size : 1, 16);
    if (!p)
        errno = ENOMEM;
    return p;
}

void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(total);         /* the mmap area is zero-filled already */
}

static size_t usable_size(const void *p)
{
    return ((const struct big_hdr *)p - 1)->size;
}

void free(void *p)
{
    if (!p)
        return;
    struct big_hdr *h = (struct big_hdr *)p - 1;
    vm_unmap(h->base, h->len);
}

void *realloc(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    void *q = malloc(size);
    if (!q)
        return NULL;
    size_t old = usable_size(p);
    memcpy(q, p, old < size ? old : size);
    free(p);
    return q;
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = align <= 16 ? malloc(size) : big_alloc(size, align);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
    void *p = NULL;
    int err = posix_memalign(&p, align, size);
    if (err)
        errno = err;
    return p;
}

void exit(int status)
{
    arch_power_off(status & 0x7f);
}

void abort(void)
{
    kprintf("abort() called\n");
    arch_power_off(MOAT_EXIT_PANIC);
}

void __moat_assert_fail(const char *expr, const char *file, int line);
void __moat_assert_fail(const char *expr, const char *file, int line)
{
    kprintf("%s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}

static int digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

unsigned long long strtoull(const char *s, char **end, int base)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    bool neg = *s == '-';
    if (*s == '+' || *s == '-')
        s++;
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] | 32) == 'x') {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    unsigned long long v = 0;
    for (; digit(*s) < base; s++)
        v = v * (unsigned)base + (unsigned)digit(*s);
    if (end)
        *end = (char *)s;
    return neg ? 0ULL - v : v;
}

unsigned long strtoul(const char *s, char **end, int base)
{
    return strtoull(s, end, base);
}

long strtol(const char *s, char **end, int base)
{
    return (long)strtoull(s, end, base);
}

int atoi(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

int abs(int v)
{
    return v < 0 ? -v : v;
}

char *getenv(const char *name)
{
    (void)name;
    return NULL;
}

char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *strerror(int err)
{
    switch (err) {
    case 0: return "Success";
    case EPERM: return "Operation not permitted";
    case ENOENT: return "No such file or directory";
    case EIO: return "Input/output error";
    case EBADF: return "Bad file descriptor";
    case EAGAIN: return "Resource temporarily unavailable";
    case ENOMEM: return "Cannot allocate memory";
    case EACCES: return "Permission denied";
    case EFAULT: return "Bad address";
    case EBUSY: return "Device or resource busy";
    case EEXIST: return "File exists";
    case ENODEV: return "No such device";
    case EINVAL: return "Invalid argument";
    case EMFILE: return "Too many open files";
    case ENOTTY: return "Inappropriate ioctl for device";
    case ENOSPC: return "No space left on device";
    case ERANGE: return "Numerical result out of range";
    case ENOSYS: return "Function not implemented";
    case EOVERFLOW: return "Value too large for defined data type";
    case EMSGSIZE: return "Message too long";
    case EOPNOTSUPP: return "Operation not supported";
    case ETIMEDOUT: return "Connection timed out";
    case E2BIG: return "Argument list too long";
    default: return "Unknown error";
    }
}
