/* MSI messages (Intel SDM vol. 3 "Message Signalled Interrupts"): composed here, through the
 * IOMMU's interrupt remapping when the device's unit has it on, and written into a function's
 * MSI capability. */
#ifndef MOAT_ARCH_X86_64_MSI_H
#define MOAT_ARCH_X86_64_MSI_H

#include "lib/compiler.h"

struct pci_system;
struct pci_dev;

struct msi_msg {
    uint64_t addr;
    uint32_t data;
};

/* Fixed delivery, edge, physical destination: this CPU's APIC ID. */
int msi_compose(struct pci_dev *dev, unsigned vector, struct msi_msg *m);
/* Gives back what msi_compose took for m (an interrupt remapping entry), once dev no longer
 * sends it. A message of all zeroes (never composed) is ignored. */
void msi_free(struct pci_dev *dev, const struct msi_msg *m);
/* Programs message 0 of dev's MSI capability and enables it (one vector). -ENODEV without one. */
int msi_enable(struct pci_system *sys, struct pci_dev *dev, const struct msi_msg *m);
void msi_disable(struct pci_system *sys, struct pci_dev *dev);

#endif
