/* The PL011 UART the device tree names: the console. Output only; polled, every wait bounded. */
#include "arch/aarch64/arch.h"

#define UART_DR 0x00
#define UART_FR 0x18
#define UART_LCR_H 0x2c
#define UART_CR 0x30
#define UART_IMSC 0x38
#define FR_TXFF BIT(5)          /* transmit FIFO full */
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

void serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* A real UART drains a byte in ~87 us at 115200; give up on a stuck one rather than
         * hang the machine. */
        for (int spin = 0; spin < 100000; spin++, cpu_relax()) {
            stats.port_io++;
            if (!(uart[UART_FR / 4] & FR_TXFF))
                break;
        }
        uart[UART_DR / 4] = (uint8_t)s[i];
        stats.port_io++;
        stats.bytes++;
    }
}
