/* AArch64 MSI composition through the GICv3 ITS (arch/aarch64/msi.c). The interface is
 * arch/msi.h. */
#ifndef MOAT_ARCH_AARCH64_MSI_H
#define MOAT_ARCH_AARCH64_MSI_H

#include "arch/msi.h"

/* Where a device's MSIs must be addressed to reach the ITS doorbell at pa: an IOMMU that
 * translates MSIs like DMA (the SMMUv3) maps the doorbell at an IOVA of its MSI window and
 * answers that; without one, pa itself. Registered by the IOMMU core. */
typedef uint64_t (*msi_address_fn)(struct pci_dev *dev, uint64_t pa);
void msi_set_address_hook(msi_address_fn fn);

#endif
