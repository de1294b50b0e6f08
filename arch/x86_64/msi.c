/* MSI composition for the local APIC (the capability itself: pci/pci_msi.c). */
#include "arch/x86_64/arch.h"
#include "arch/x86_64/msi.h"
#include "iommu/iommu.h"
#include "lib/errno.h"
#include "pci/pci.h"

#define MSI_ADDR_BASE 0xfee00000ULL
#define MSI_ADDR_DEST GENMASK(19, 12)   /* xAPIC destination ID */

int msi_compose(struct pci_dev *dev, unsigned vector, struct msi_msg *m)
{
    struct iommu_unit *u = iommu_unit_for(dev);
    if (u && u->ops->msi_compose) {
        int err = u->ops->msi_compose(u, dev, vector, apic_id(), &m->addr, &m->data);
        if (err != -EOPNOTSUPP)
            return err;
    }
    if (apic_id() > 0xff)
        return -ERANGE;     /* needs remapping with x2APIC destinations */
    m->addr = MSI_ADDR_BASE | FIELD_PREP(MSI_ADDR_DEST, apic_id());
    m->data = vector & 0xff;
    return 0;
}

void msi_free(struct pci_dev *dev, const struct msi_msg *m)
{
    struct iommu_unit *u = iommu_unit_for(dev);
    if (m->addr && u && u->ops->msi_free)
        u->ops->msi_free(u, dev, m->addr, m->data);
}
