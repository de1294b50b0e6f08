/* The core's direct-mapping steps around an attach (direct.c); iommu.h has the public side. */
#ifndef MOAT_IOMMU_CORE_DIRECT_H
#define MOAT_IOMMU_CORE_DIRECT_H

#include "iommu/iommu.h"

/* Maps dev's direct regions 1:1 into d (a kernel paging domain; otherwise nothing), all or
 * nothing, recording each one it made in d->direct; returns d->nr_direct as it was before, for
 * iommu_direct_undo. */
int iommu_direct_map(struct iommu_domain *d, struct pci_dev *dev, unsigned *mark);
/* Unmaps the ranges recorded since mark (mark 0: all of them, before the domain is freed). */
void iommu_direct_undo(struct iommu_domain *d, unsigned mark);
/* -EINVAL when d is blocking and dev requires direct mappings. */
int iommu_direct_check_blocked(struct iommu_domain *d, struct pci_dev *dev);

#endif
