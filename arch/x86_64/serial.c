/* 16550 UART at COM1: the console. Output only; polled, every wait bounded. */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/arch.h"

#define COM1 0x3f8
#define UART_THR 0      /* transmit holding */
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_DLL 0
#define UART_DLM 1
#define LSR_THRE 0x20
#define LCR_DLAB 0x80

static bool serial_present;
static struct serial_stats stats;

const struct serial_stats *serial_stats(void)
{
    return &stats;
}

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1);           /* 115200 baud */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, 0x03);        /* 8N1 */
    outb(COM1 + UART_FCR, 0x07);        /* FIFO on, cleared */
    outb(COM1 + UART_MCR, 0x03);
    serial_present = inb(COM1 + UART_LSR) != 0xff;
}

void serial_write(const char *s, size_t n)
{
    if (!serial_present)
        return;
    for (size_t i = 0; i < n; i++) {
        /* A real UART drains a byte in ~87 us at 115200; give up on a stuck one rather
         * than hang the machine. */
        for (int spin = 0; spin < 100000; spin++, cpu_relax()) {
            stats.port_io++;
            if (inb(COM1 + UART_LSR) & LSR_THRE)
                break;
        }
        outb(COM1 + UART_THR, (uint8_t)s[i]);
        stats.port_io++;
        stats.bytes++;
    }
}
