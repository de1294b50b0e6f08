/* The PL011 UART the device tree names: the console. Output only; polled, every wait bounded. */
#include "arch/aarch64/arch.h"

#define UART_DR 0x00
#define UART_FR 0x18
#define UART_LCR_H 0x2c
#define UART_CR 0x30
#define UART_IMSC 0x38
#define FR_TXFF BIT(5)          /* transmit FIFO full */
#define FR_TXFE BIT(7)          /* transmit FIFO empty */
#define UART_FIFO_BYTES 16      /* the PL011's transmit FIFO (r1p5 has 32: 16 is safe) */
#define LCR_WLEN8 (3u << 5)
#define LCR_FEN BIT(4)
#define CR_UARTEN BIT(0)
#define CR_TXE BIT(8)
#define VIRT_PL011 0x09000000ULL    /* QEMU virt's, until the device tree names one */

static volatile uint32_t *uart = (volatile uint32_t *)VIRT_PL011;
static struct serial_stats stats;

const struct serial_stats *serial_stats(void)
{
    return &stats;
}

/* boot/arm64 names the device tree's PL011 before kmain (both identity mapped). */
void serial_early(uint64_t base);
void serial_early(uint64_t base)
{
    uart = (volatile uint32_t *)(uintptr_t)base;
}

uint64_t serial_base(void);
uint64_t serial_base(void)
{
    return (uint64_t)(uintptr_t)uart;
}

void serial_init(void)
{
    uart[UART_IMSC / 4] = 0;                    /* no interrupts: the console polls */
    uart[UART_LCR_H / 4] = LCR_WLEN8 | LCR_FEN; /* 8N1, FIFOs on */
    uart[UART_CR / 4] = CR_UARTEN | CR_TXE;
    stats.port_io += 3;
}

/* An empty FIFO takes UART_FIFO_BYTES without another look at the flags: one register read per
 * burst instead of one per byte (under a hypervisor each access is an exit). */
void serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        /* A real UART drains a byte in ~87 us at 115200; give up on a stuck one rather than
         * hang the machine (then write anyway: the console is best effort). */
        bool empty = false;
        for (int spin = 0; spin < 100000; spin++, cpu_relax()) {
            stats.port_io++;
            uint32_t fr = uart[UART_FR / 4];
            if (fr & FR_TXFE) {
                empty = true;
                break;
            }
            if (!(fr & FR_TXFF))
                break;
        }
        size_t burst = empty ? MIN(n - i, (size_t)UART_FIFO_BYTES) : 1;
        for (size_t k = 0; k < burst; k++, i++) {
            uart[UART_DR / 4] = (uint8_t)s[i];
            stats.port_io++;
            stats.bytes++;
        }
    }
}
