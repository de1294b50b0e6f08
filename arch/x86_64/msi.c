/* MSI composition for the local APIC (the capability itself: pci/pci_msi.c). With interrupt
 * remapping, the message comes from the IOMMU layer through the hooks it registers. */
#include "arch/x86_64/arch.h"
#include "arch/x86_64/msi.h"
#include "lib/errno.h"

#define MSI_ADDR_BASE 0xfee00000ULL
#define MSI_ADDR_DEST GENMASK(19, 12)   /* xAPIC destination ID */

static const struct msi_remap_ops *remap;

void msi_set_remap_ops(const struct msi_remap_ops *ops)
{
    remap = ops;
}

int msi_compose(struct pci_dev *dev, unsigned vector, struct msi_msg *m)
{
    if (remap) {
        int err = remap->compose(dev, vector, apic_id(), &m->addr, &m->data);
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
    if (m->addr && remap)
        remap->free(dev, m->addr, m->data);
}
