/* x86_64 MSI composition (Intel SDM vol. 3 "Message Signalled Interrupts"): fixed delivery,
 * edge, physical destination this CPU's APIC ID. The interface is arch/msi.h. */
#ifndef MOAT_ARCH_X86_64_MSI_H
#define MOAT_ARCH_X86_64_MSI_H

#include "arch/msi.h"

/* Interrupt remapping's part, registered by the IOMMU core: compose gives dev's message for
 * vector on the CPU with APIC ID dest (-EOPNOTSUPP: dev's unit does not remap; a plain message
 * is composed); free gives back what compose took. */
struct msi_remap_ops {
    int (*compose)(struct pci_dev *dev, unsigned vector, uint32_t dest, uint64_t *addr,
                   uint32_t *data);
    void (*free)(struct pci_dev *dev, uint64_t addr, uint32_t data);
};
void msi_set_remap_ops(const struct msi_remap_ops *ops);

#endif
