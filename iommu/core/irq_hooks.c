/* x86_64: the IOAPIC and MSI composition reach interrupt remapping through the IOMMU core,
 * which registers itself with them here (arch/ does not walk the IOMMU layer's units). */
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/msi.h"
#include "iommu/iommu.h"
#include "kernel/init.h"

static const struct msi_remap_ops msi_remap = { iommu_msi_compose, iommu_msi_free };

static int irq_hooks_init(void)
{
    ioapic_set_composer(iommu_ioapic_compose);
    msi_set_remap_ops(&msi_remap);
    return 0;
}
MOAT_UNIT(60_iommu, a_irq_hooks, irq_hooks_init);
