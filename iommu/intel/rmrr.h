/* Which RMRRs concern a device (VT-d spec 8.4), as reserved regions. Portable: host tests run
 * it on parsed DMAR tables over a model PCI tree. */
#ifndef MOAT_IOMMU_INTEL_RMRR_H
#define MOAT_IOMMU_INTEL_RMRR_H

#include "iommu/intel/dmar.h"
#include "iommu/iommu.h"
#include "pci/pci.h"

/* vtd_bridge_fn over a pci_system (ctx). */
bool vtd_pci_bridge(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint8_t *secondary,
                    uint8_t *subordinate);

/* Appends to out[*n] (up to max) one region per RMRR that names dev: the function itself, a
 * bridge above it (Linux's is_downstream_to_pci_bridge, for either scope type), or a requester
 * ID dev's DMA uses (its DMA aliases: the IOMMU sees that ID, so the device needs the range).
 * DIRECT_RELAXABLE for USB controllers and display functions (Linux's
 * device_rmrr_is_relaxable), else DIRECT; read-write. -ENOSPC when out is full. */
int vtd_rmrr_regions(const struct vtd_dmar *d, struct pci_system *sys, struct pci_dev *dev,
                     struct iommu_resv_region *out, unsigned *n, unsigned max);

#endif
