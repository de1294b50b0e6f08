/* The interrupt code of each architecture reaches the IOMMU layer only through hooks the
 * IOMMU core registers here (arch/ does not walk the IOMMU layer's units):
 *   x86_64: the IOAPIC's and MSIs' messages under interrupt remapping;
 *   aarch64: the address a device's MSIs take to the ITS doorbell (an SMMUv3's MSI window). */
#if defined(__x86_64__)
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/msi.h"
#elif defined(__aarch64__)
#include "arch/aarch64/msi.h"
#endif
#include "iommu/iommu.h"
#include "kernel/init.h"

#if defined(__x86_64__)
static const struct msi_remap_ops msi_remap = { iommu_msi_compose, iommu_msi_free };
#endif

static int irq_hooks_init(void)
{
#if defined(__x86_64__)
    ioapic_set_composer(iommu_ioapic_compose);
    msi_set_remap_ops(&msi_remap);
#elif defined(__aarch64__)
    msi_set_address_hook(iommu_msi_address);
#endif
    return 0;
}
MOAT_UNIT(60_iommu, a_irq_hooks, irq_hooks_init);
