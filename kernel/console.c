/* kprintf: line-buffered output to the serial console. A line goes out whole, so interrupt
 * handlers that print do not split another line. */
#include "arch/arch.h"
#include "kernel/backtrace.h"
#include "lib/fmt.h"
#include "lib/log.h"

#define LINE_MAX_BYTES 256

static char line[LINE_MAX_BYTES];
static size_t line_len;

static void line_flush(void)
{
    serial_write(line, line_len);
    line_len = 0;
}

static void console_sink(void *ctx, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        line[line_len++] = s[i];
        if (s[i] == '\n' || line_len == LINE_MAX_BYTES)
            line_flush();
    }
}

void console_flush(void)
{
    uint64_t f = irq_save();
    line_flush();
    irq_restore(f);
}

void kvprintf(const char *fmt, va_list ap)
{
    uint64_t f = irq_save();
    fmt_vformat(console_sink, NULL, fmt, ap);
    irq_restore(f);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

int moat_trace_err(int err, const char *file, int line_no)
{
    kprintf("error %d first at %s:%d\n", err, file, line_no);
    return err;
}

void moat_panic(const char *file, int line_no, const char *fmt, ...)
{
    irq_disable();
    va_list ap;
    va_start(ap, fmt);
    kprintf("\nPANIC at %s:%d: ", file, line_no);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    backtrace_print((uintptr_t)__builtin_frame_address(0));
    arch_power_off(MOAT_EXIT_PANIC);
}

/* Used by the boot path before anything is set up. */
void early_panic(const char *msg);
void early_panic(const char *msg)
{
    serial_init();
    kprintf("early panic: %s\n", msg);
    arch_power_off(MOAT_EXIT_PANIC);
}
