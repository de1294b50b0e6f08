/* MSI messages: composed by the architecture (x86_64: the local APIC's address window, through
 * interrupt remapping when the device's IOMMU unit has it on; aarch64: the GICv3 ITS's
 * translation register and an event ID mapped to the vector's LPI), and written into a
 * function's MSI capability by portable code (pci/pci_msi.c). */
#ifndef MOAT_ARCH_MSI_H
#define MOAT_ARCH_MSI_H

#include "lib/compiler.h"

struct pci_system;
struct pci_dev;

struct msi_msg {
    uint64_t addr;
    uint32_t data;
};

/* The message that makes dev raise vector (from irq_alloc_vector) on this CPU. */
int msi_compose(struct pci_dev *dev, unsigned vector, struct msi_msg *m);
/* Gives back what msi_compose took for m (an interrupt remapping entry, an ITS event), once dev
 * no longer sends it. A message of all zeroes (never composed) is ignored. */
void msi_free(struct pci_dev *dev, const struct msi_msg *m);
/* Programs message 0 of dev's MSI capability and enables it (one vector). -ENODEV without one. */
int msi_enable(struct pci_system *sys, struct pci_dev *dev, const struct msi_msg *m);
void msi_disable(struct pci_system *sys, struct pci_dev *dev);

/* MSI-X (pci/pci_msi.c): the number of table entries (0 without the capability); entry i
 * mapped (NULL when i is past the table or the table is not inside an assigned memory BAR);
 * an entry written with m, left masked or not; an entry masked; the function's MSI-X enabled
 * (with Function Mask clear) or disabled. */
unsigned msix_table_size(struct pci_system *sys, const struct pci_dev *dev);
volatile uint32_t *msix_entry_map(struct pci_system *sys, const struct pci_dev *dev, unsigned i);
void msix_entry_write(volatile uint32_t *e, const struct msi_msg *m, bool masked);
void msix_entry_mask(volatile uint32_t *e);
void msix_set_enable(struct pci_system *sys, const struct pci_dev *dev, bool on);

#endif
