/* A function's MSI capability (PCI Local Bus spec 6.8.1): message 0 programmed and enabled, one
 * vector; and its MSI-X table (6.8.2): one entry at a time, mapped from its BAR. The message
 * itself comes from the architecture (msi_compose, arch/msi.h). */
#include "arch/arch.h"
#include "arch/msi.h"
#include "lib/errno.h"
#include "pci/pci.h"

#define MSI_FLAGS 2                     /* capability offsets */
#define MSI_FLAGS_ENABLE BIT(0)
#define MSI_FLAGS_QSIZE GENMASK(6, 4)   /* Multiple Message Enable */
#define MSI_FLAGS_64BIT BIT(7)
#define MSI_ADDR_LO 4
#define MSI_ADDR_HI 8
#define MSI_DATA_32 8
#define MSI_DATA_64 12

int msi_enable(struct pci_system *sys, struct pci_dev *dev, const struct msi_msg *m)
{
    uint16_t cap = pci_find_cap(sys, dev, PCI_CAP_ID_MSI);
    if (!cap)
        return -ENODEV;
    uint16_t flags = pci_read16(sys, dev, cap + MSI_FLAGS);
    pci_write16(sys, dev, cap + MSI_FLAGS, flags & ~(MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE));
    pci_write32(sys, dev, cap + MSI_ADDR_LO, (uint32_t)m->addr);
    if (flags & MSI_FLAGS_64BIT) {
        pci_write32(sys, dev, cap + MSI_ADDR_HI, (uint32_t)(m->addr >> 32));
        pci_write16(sys, dev, cap + MSI_DATA_64, (uint16_t)m->data);
    } else {
        pci_write16(sys, dev, cap + MSI_DATA_32, (uint16_t)m->data);
    }
    pci_write16(sys, dev, cap + MSI_FLAGS, (flags & ~MSI_FLAGS_QSIZE) | MSI_FLAGS_ENABLE);
    return 0;
}

void msi_disable(struct pci_system *sys, struct pci_dev *dev)
{
    uint16_t cap = pci_find_cap(sys, dev, PCI_CAP_ID_MSI);
    if (cap)
        pci_write16(sys, dev, cap + MSI_FLAGS,
                    pci_read16(sys, dev, cap + MSI_FLAGS) & ~MSI_FLAGS_ENABLE);
}

#define MSIX_FLAGS 2                        /* Message Control */
#define MSIX_FLAGS_QSIZE GENMASK(10, 0)     /* Table Size, N - 1 */
#define MSIX_FLAGS_MASKALL BIT(14)
#define MSIX_FLAGS_ENABLE BIT(15)
#define MSIX_TABLE 4                        /* Table Offset / BIR */
#define MSIX_TABLE_BIR GENMASK(2, 0)
#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_CTRL_MASK BIT(0)

unsigned msix_table_size(struct pci_system *sys, const struct pci_dev *dev)
{
    if (!dev->caps.msix)
        return 0;
    return FIELD_GET(MSIX_FLAGS_QSIZE, pci_read16(sys, dev, dev->caps.msix + MSIX_FLAGS)) + 1;
}

volatile uint32_t *msix_entry_map(struct pci_system *sys, const struct pci_dev *dev, unsigned i)
{
    if (i >= msix_table_size(sys, dev))
        return NULL;
    uint32_t table = pci_read32(sys, dev, dev->caps.msix + MSIX_TABLE);
    const struct pci_bar *bar = &dev->bar[table & MSIX_TABLE_BIR];
    uint64_t off = (table & ~(uint32_t)MSIX_TABLE_BIR) + (uint64_t)i * MSIX_ENTRY_SIZE;
    if ((table & MSIX_TABLE_BIR) >= PCI_STD_NUM_BARS || !(bar->flags & PCI_BAR_ASSIGNED) ||
        (bar->flags & PCI_BAR_IO) || off + MSIX_ENTRY_SIZE > bar->size)
        return NULL;
    volatile uint8_t *page = mmio_map(bar->base + ALIGN_DOWN(off, 4096), 4096);
    return page ? (volatile uint32_t *)(page + off % 4096) : NULL;
}

/* Masked while the message changes, so that no half-written one is ever sent. */
void msix_entry_write(volatile uint32_t *e, const struct msi_msg *m, bool masked)
{
    e[3] = MSIX_ENTRY_CTRL_MASK;
    e[0] = (uint32_t)m->addr;
    e[1] = (uint32_t)(m->addr >> 32);
    e[2] = m->data;
    e[3] = masked ? MSIX_ENTRY_CTRL_MASK : 0;
}

void msix_entry_mask(volatile uint32_t *e)
{
    e[3] = MSIX_ENTRY_CTRL_MASK;
}

void msix_set_enable(struct pci_system *sys, const struct pci_dev *dev, bool on)
{
    uint16_t c = pci_read16(sys, dev, dev->caps.msix + MSIX_FLAGS);
    pci_write16(sys, dev, dev->caps.msix + MSIX_FLAGS,
                on ? (c | MSIX_FLAGS_ENABLE) & ~MSIX_FLAGS_MASKALL : c & ~MSIX_FLAGS_ENABLE);
}
