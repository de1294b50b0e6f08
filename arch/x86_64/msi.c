/* MSI composition and the MSI capability (PCI Local Bus spec 6.8.1). */
#include "arch/x86_64/arch.h"
#include "arch/x86_64/msi.h"
#include "iommu/iommu.h"
#include "lib/errno.h"
#include "pci/pci.h"

#define MSI_ADDR_BASE 0xfee00000ULL
#define MSI_ADDR_DEST GENMASK(19, 12)   /* xAPIC destination ID */
#define MSI_FLAGS 2                     /* capability offsets */
#define MSI_FLAGS_ENABLE BIT(0)
#define MSI_FLAGS_QMASK GENMASK(3, 1)   /* Multiple Message Capable */
#define MSI_FLAGS_QSIZE GENMASK(6, 4)   /* Multiple Message Enable */
#define MSI_FLAGS_64BIT BIT(7)
#define MSI_ADDR_LO 4
#define MSI_ADDR_HI 8
#define MSI_DATA_32 8
#define MSI_DATA_64 12

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

int msi_enable(struct pci_system *sys, struct pci_dev *dev, const struct msi_msg *m)
{
    uint16_t cap = pci_find_cap(sys, dev, PCI_CAP_ID_MSI);
    if (!cap)
        return -ENODEV;
    uint16_t flags = pci_read16(sys, dev, cap + MSI_FLAGS);
    pci_write16(sys, dev, cap + MSI_FLAGS, flags & ~(MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE));
    pci_write32(sys, dev, cap + MSI_ADDR_LO, (uint32_t)m->addr);
    if (flags & MSI_FLAGS_64BIT) {
        pci_write32(sys, dev, cap + MSI_ADDR_HI, (uint32_t)(m->addr >> 32));
        pci_write16(sys, dev, cap + MSI_DATA_64, (uint16_t)m->data);
    } else {
        pci_write16(sys, dev, cap + MSI_DATA_32, (uint16_t)m->data);
    }
    pci_write16(sys, dev, cap + MSI_FLAGS, (flags & ~MSI_FLAGS_QSIZE) | MSI_FLAGS_ENABLE);
    return 0;
}

void msi_disable(struct pci_system *sys, struct pci_dev *dev)
{
    uint16_t cap = pci_find_cap(sys, dev, PCI_CAP_ID_MSI);
    if (cap)
        pci_write16(sys, dev, cap + MSI_FLAGS,
                    pci_read16(sys, dev, cap + MSI_FLAGS) & ~MSI_FLAGS_ENABLE);
}
