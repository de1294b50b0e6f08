/* Completion interrupts for block devices through MSI-X table entry 0 (PCI Local Bus 3.0,
 * 6.8.2), opt-in (blk_dev.want_irq): completions are still reaped by polling, the interrupt
 * only counts them. The message comes from msi_compose: a remappable message through the
 * IOMMU's interrupt remapping when the unit has it on (compatibility-format messages are then
 * blocked), else a plain one for this CPU's local APIC. The vector and the message are made
 * once per device and given back when it leaves (blk_irq_release); the table entry is written
 * at every start. */
#include "arch/arch.h"
#include "arch/msi.h"
#include "drivers/dma/blk.h"
#include "lib/errno.h"
#include "pci/pci_platform.h"

#define MSIX_FLAGS 2                        /* Message Control */
#define MSIX_FLAGS_QSIZE GENMASK(10, 0)     /* Table Size, N - 1 */
#define MSIX_FLAGS_MASKALL BIT(14)
#define MSIX_FLAGS_ENABLE BIT(15)
#define MSIX_TABLE 4                        /* Table Offset / BIR */
#define MSIX_TABLE_BIR GENMASK(2, 0)
#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA 8
#define MSIX_ENTRY_CTRL 12
#define MSIX_ENTRY_CTRL_MASK BIT(0)

static void blk_irq_handler(unsigned vector, void *ctx)
{
    struct blk_dev *b = ctx;
    b->nr_irqs++;
}

/* The table, mapped: inside a memory BAR that is assigned. */
static int map_table(struct blk_dev *b, struct pci_system *sys)
{
    uint16_t cap = pci_find_cap(sys, b->pci, PCI_CAP_ID_MSIX);
    if (!cap)
        return -ENODEV;
    uint32_t table = pci_read32(sys, b->pci, cap + MSIX_TABLE);
    unsigned bir = table & MSIX_TABLE_BIR;
    uint64_t off = table & ~(uint32_t)MSIX_TABLE_BIR, end;
    unsigned n = FIELD_GET(MSIX_FLAGS_QSIZE, pci_read16(sys, b->pci, cap + MSIX_FLAGS)) + 1;
    const struct pci_bar *bar = &b->pci->bar[bir < PCI_STD_NUM_BARS ? bir : 0];
    if (bir >= PCI_STD_NUM_BARS || !(bar->flags & PCI_BAR_ASSIGNED) || (bar->flags & PCI_BAR_IO) ||
        __builtin_add_overflow(off, (uint64_t)n * MSIX_ENTRY_SIZE, &end) || end > bar->size)
        return -EINVAL;
    b->msix_table = mmio_map(bar->base + off, (uint64_t)n * MSIX_ENTRY_SIZE);
    b->msix_cap = cap;
    return b->msix_table ? 0 : -ENOMEM;
}

static int prepare(struct blk_dev *b, struct pci_system *sys)
{
    if (b->irq_vector)
        return 0;
    int err = map_table(b, sys);
    if (err)
        return err;
    int vec = irq_alloc_vector(blk_irq_handler, b);
    if (vec < 0)
        return vec;
    struct msi_msg msg;
    err = msi_compose(b->pci, (unsigned)vec, &msg);
    if (err) {
        irq_free_vector((unsigned)vec);
        return err;
    }
    b->irq_vector = vec;
    b->msi_addr = msg.addr;
    b->msi_data = msg.data;
    return 0;
}

static void wr32(volatile uint8_t *p, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(p + off) = v;
}

int blk_irq_enable(struct blk_dev *b)
{
    struct pci_system *sys = platform_pci();
    int err = prepare(b, sys);
    if (err)
        return err;
    uint16_t flags = pci_read16(sys, b->pci, b->msix_cap + MSIX_FLAGS);
    /* Enabled with every vector masked while entry 0 is written, then unmasked. */
    pci_write16(sys, b->pci, b->msix_cap + MSIX_FLAGS,
                flags | MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL);
    wr32(b->msix_table, MSIX_ENTRY_CTRL, MSIX_ENTRY_CTRL_MASK);
    wr32(b->msix_table, MSIX_ENTRY_ADDR_LO, (uint32_t)b->msi_addr);
    wr32(b->msix_table, MSIX_ENTRY_ADDR_HI, (uint32_t)(b->msi_addr >> 32));
    wr32(b->msix_table, MSIX_ENTRY_DATA, b->msi_data);
    wr32(b->msix_table, MSIX_ENTRY_CTRL, 0);
    pci_write16(sys, b->pci, b->msix_cap + MSIX_FLAGS,
                (flags | MSIX_FLAGS_ENABLE) & ~MSIX_FLAGS_MASKALL);
    b->irq_on = true;
    return 0;
}

void blk_irq_disable(struct blk_dev *b)
{
    if (!b->irq_on)
        return;
    struct pci_system *sys = platform_pci();
    wr32(b->msix_table, MSIX_ENTRY_CTRL, MSIX_ENTRY_CTRL_MASK);
    pci_write16(sys, b->pci, b->msix_cap + MSIX_FLAGS,
                pci_read16(sys, b->pci, b->msix_cap + MSIX_FLAGS) & ~MSIX_FLAGS_ENABLE);
    b->irq_on = false;
}

void blk_irq_release(struct blk_dev *b)
{
    blk_irq_disable(b);
    if (!b->irq_vector)
        return;
    const struct msi_msg m = { .addr = b->msi_addr, .data = b->msi_data };
    msi_free(b->pci, &m);
    irq_free_vector((unsigned)b->irq_vector);
    b->irq_vector = 0;
    b->msi_addr = 0;
    b->msi_data = 0;
    b->msix_table = NULL;
}
