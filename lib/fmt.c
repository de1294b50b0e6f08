#include "lib/fmt.h"
#include "lib/string.h"

#include <stdint.h>

struct fmt_spec {
    bool left, zero, plus, space, alt;
    int width;
    int prec;           /* -1: none */
    int length;         /* 0, 'H' (hh), 'h', 'l', 'L' (ll), 'z', 'j', 't' */
};

struct fmt_out {
    fmt_sink_fn sink;
    void *ctx;
    int count;
};

static void out_str(struct fmt_out *o, const char *s, size_t n)
{
    if (n) {
        o->sink(o->ctx, s, n);
        o->count += (int)n;
    }
}

static void out_pad(struct fmt_out *o, char c, int n)
{
    char buf[16];
    memset(buf, c, sizeof(buf));
    while (n > 0) {
        int k = n > (int)sizeof(buf) ? (int)sizeof(buf) : n;
        out_str(o, buf, (size_t)k);
        n -= k;
    }
}

/* Emits prefix ("-", "0x"...) and digits with the padding rules of C's printf. */
static void out_number(struct fmt_out *o, const struct fmt_spec *sp, const char *prefix,
                       const char *digits, int ndigits)
{
    int plen = (int)strlen(prefix);
    int zeros = 0;
    if (sp->prec >= 0) {
        if (sp->prec > ndigits)
            zeros = sp->prec - ndigits;
    } else if (sp->zero && !sp->left && sp->width > plen + ndigits) {
        zeros = sp->width - plen - ndigits;
    }
    int total = plen + zeros + ndigits;
    if (!sp->left)
        out_pad(o, ' ', sp->width - total);
    out_str(o, prefix, (size_t)plen);
    out_pad(o, '0', zeros);
    out_str(o, digits, (size_t)ndigits);
    if (sp->left)
        out_pad(o, ' ', sp->width - total);
}

static int utoa_rev(char *buf, unsigned long long v, unsigned base, bool upper)
{
    const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        buf[n++] = dig[v % base];
        v /= base;
    } while (v);
    return n;
}

static void fmt_integer(struct fmt_out *o, struct fmt_spec *sp, char conv, unsigned long long v,
                        bool negative)
{
    char rev[24], digits[24], prefix[4] = "";
    unsigned base = 10;
    if (conv == 'x' || conv == 'X' || conv == 'p')
        base = 16;
    else if (conv == 'o')
        base = 8;
    int n = 0;
    if (!(v == 0 && sp->prec == 0))
        n = utoa_rev(rev, v, base, conv == 'X');
    for (int i = 0; i < n; i++)
        digits[i] = rev[n - 1 - i];
    if (negative)
        str_copy(prefix, "-", sizeof(prefix));
    else if (sp->plus && (conv == 'd' || conv == 'i'))
        str_copy(prefix, "+", sizeof(prefix));
    else if (sp->space && (conv == 'd' || conv == 'i'))
        str_copy(prefix, " ", sizeof(prefix));
    if ((sp->alt && v != 0 && (conv == 'x' || conv == 'X')) || conv == 'p')
        str_copy(prefix, conv == 'X' ? "0X" : "0x", sizeof(prefix));
    if (sp->alt && conv == 'o' && (n == 0 || digits[0] != '0') && sp->prec <= n)
        digits[n++] = '0', memmove(digits + 1, digits, (size_t)n - 1), digits[0] = '0';
    out_number(o, sp, prefix, digits, n);
}

static unsigned long long arg_unsigned(va_list *ap, int length)
{
    switch (length) {
    case 'H': return (unsigned char)va_arg(*ap, unsigned int);
    case 'h': return (unsigned short)va_arg(*ap, unsigned int);
    case 'l': return va_arg(*ap, unsigned long);
    case 'L': return va_arg(*ap, unsigned long long);
    case 'z': return va_arg(*ap, size_t);
    case 'j': return va_arg(*ap, uintmax_t);
    case 't': return (unsigned long long)va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, unsigned int);
    }
}

static long long arg_signed(va_list *ap, int length)
{
    switch (length) {
    case 'H': return (signed char)va_arg(*ap, int);
    case 'h': return (short)va_arg(*ap, int);
    case 'l': return va_arg(*ap, long);
    case 'L': return va_arg(*ap, long long);
    case 'z': return (long long)va_arg(*ap, size_t);
    case 'j': return va_arg(*ap, intmax_t);
    case 't': return va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, int);
    }
}

static const char *parse_spec(const char *f, struct fmt_spec *sp, va_list *ap)
{
    *sp = (struct fmt_spec){ .prec = -1 };
    for (;; f++) {
        if (*f == '-') sp->left = true;
        else if (*f == '0') sp->zero = true;
        else if (*f == '+') sp->plus = true;
        else if (*f == ' ') sp->space = true;
        else if (*f == '#') sp->alt = true;
        else break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->left = true;
            sp->width = -sp->width;
        }
        f++;
    } else {
        while (*f >= '0' && *f <= '9')
            sp->width = sp->width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
        f++;
        sp->prec = 0;
        if (*f == '*') {
            sp->prec = va_arg(*ap, int);
            if (sp->prec < 0)
                sp->prec = -1;
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                sp->prec = sp->prec * 10 + (*f++ - '0');
        }
    }
    if (f[0] == 'h' && f[1] == 'h') sp->length = 'H', f += 2;
    else if (f[0] == 'l' && f[1] == 'l') sp->length = 'L', f += 2;
    else if (*f == 'h' || *f == 'l' || *f == 'z' || *f == 'j' || *f == 't') sp->length = *f++;
    return f;
}

static void fmt_string(struct fmt_out *o, const struct fmt_spec *sp, const char *s)
{
    if (!s)
        s = "(null)";
    size_t n = sp->prec >= 0 ? strnlen(s, (size_t)sp->prec) : strlen(s);
    if (!sp->left)
        out_pad(o, ' ', sp->width - (int)n);
    out_str(o, s, n);
    if (sp->left)
        out_pad(o, ' ', sp->width - (int)n);
}

static void fmt_one(struct fmt_out *o, struct fmt_spec *sp, char conv, va_list *ap)
{
    switch (conv) {
    case 'd': case 'i': {
        long long v = arg_signed(ap, sp->length);
        unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        fmt_integer(o, sp, conv, mag, v < 0);
        break;
    }
    case 'u': case 'x': case 'X': case 'o':
        fmt_integer(o, sp, conv, arg_unsigned(ap, sp->length), false);
        break;
    case 'p':
        fmt_integer(o, sp, 'p', (uintptr_t)va_arg(*ap, void *), false);
        break;
    case 'c': {
        char c = (char)va_arg(*ap, int);
        struct fmt_spec s1 = *sp;
        s1.prec = -1;
        char str[2] = { c, 0 };
        if (c == 0) {   /* a NUL character still counts as one */
            if (!sp->left) out_pad(o, ' ', sp->width - 1);
            out_str(o, str, 1);
            if (sp->left) out_pad(o, ' ', sp->width - 1);
        } else {
            fmt_string(o, &s1, str);
        }
        break;
    }
    case 's':
        fmt_string(o, sp, va_arg(*ap, const char *));
        break;
    case '%':
        out_str(o, "%", 1);
        break;
    default:    /* unknown conversion: show it rather than guess at arguments */
        out_str(o, "%", 1);
        out_str(o, &conv, 1);
        break;
    }
}

int fmt_vformat(fmt_sink_fn sink, void *ctx, const char *fmt, va_list ap)
{
    struct fmt_out o = { sink, ctx, 0 };
    va_list aq;
    va_copy(aq, ap);
    while (*fmt) {
        const char *pct = strchr(fmt, '%');
        if (!pct) {
            out_str(&o, fmt, strlen(fmt));
            break;
        }
        out_str(&o, fmt, (size_t)(pct - fmt));
        struct fmt_spec sp;
        fmt = parse_spec(pct + 1, &sp, &aq);
        if (!*fmt)
            break;
        fmt_one(&o, &sp, *fmt++, &aq);
    }
    va_end(aq);
    return o.count;
}

struct buf_sink {
    char *buf;
    size_t size, used;
};

static void buf_write(void *ctx, const char *s, size_t n)
{
    struct buf_sink *b = ctx;
    if (b->size == 0)
        return;
    size_t room = b->size - 1 - b->used;
    size_t k = n < room ? n : room;
    memcpy(b->buf + b->used, s, k);
    b->used += k;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buf_sink b = { buf, size, 0 };
    int n = fmt_vformat(buf_write, &b, fmt, ap);
    if (size)
        buf[b.used] = 0;
    return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
