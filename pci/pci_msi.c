/* A function's MSI capability (PCI Local Bus spec 6.8.1): message 0 programmed and enabled, one
 * vector. The message itself comes from the architecture (msi_compose, arch/msi.h). */
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
