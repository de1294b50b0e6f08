/* 16550 UART at COM1: the console. Output only; polled, every wait bounded. */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/arch.h"

#define COM1 0x3f8
#define UART_THR 0      /* transmit holding */
#define UART_IER 1
#define UART_IIR 2      /* read */
#define UART_FCR 2      /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_DLL 0
#define UART_DLM 1
#define LSR_THRE 0x20
#define LCR_DLAB 0x80
#define IIR_FIFO_ON 0xc0    /* both bits: a 16550A with its FIFO enabled */
#define UART_FIFO_BYTES 16

static bool serial_present;
static unsigned burst_max = 1;      /* bytes that may follow one THRE */
static bool string_pio;             /* a burst as one rep outsb */
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
    /* THRE with the FIFO on means the whole 16-byte FIFO is empty. An 8250, or a 16550
     * whose FIFO does not work, reads otherwise and gets one byte per THRE. */
    if ((inb(COM1 + UART_IIR) & IIR_FIFO_ON) == IIR_FIFO_ON)
        burst_max = UART_FIFO_BYTES;
    /* KVM hands a string port write to its device model in one exit, where a byte loop
     * takes one exit per byte. TCG emulates rep outsb one iteration at a time, slower than
     * the loop, and hardware runs both alike: the loop everywhere else. */
    string_pio = cpu_on_kvm();
}

void serial_write(const char *s, size_t n)
{
    if (!serial_present)
        return;
    for (size_t i = 0; i < n;) {
        /* A real UART drains a byte in ~87 us at 115200; give up on a stuck one rather
         * than hang the machine. */
        for (int spin = 0; spin < 100000; spin++, cpu_relax()) {
            stats.port_io++;
            if (inb(COM1 + UART_LSR) & LSR_THRE)
                break;
        }
        size_t burst = MIN(n - i, (size_t)burst_max);
        stats.bytes += burst;
        if (string_pio) {
            const char *p = s + i;
            size_t left = burst;
            __asm__ __volatile__("rep outsb" : "+S"(p), "+c"(left) : "d"(COM1 + UART_THR)
                                 : "memory");
            stats.port_io++;
        } else {
            for (size_t k = 0; k < burst; k++)
                outb(COM1 + UART_THR, (uint8_t)s[i + k]);
            stats.port_io += burst;
        }
        i += burst;
    }
}
