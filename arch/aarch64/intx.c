/* INTx routing from the device tree (the interface: arch/intx.h): the host bridge's
 * interrupt-map (dt_pci_intx) for the root-bus function above the device, its pin swizzled at
 * each bridge on the way up (pci_intx_root). The line is a GIC SPI. */
#include "arch/intx.h"
#include "arch/aarch64/platform.h"
#include "lib/errno.h"
#include "pci/pci.h"

int pci_intx_route(struct pci_system *sys, const struct pci_dev *dev, unsigned *gsi,
                   unsigned *flags)
{
    const struct dt_platform *dt = platform_dt();
    unsigned p;
    const struct pci_dev *d = pci_intx_root(sys, dev, &p);
    struct dt_irq irq;
    if (!d || !dt->pcie.present ||
        dt_pci_intx(platform_fdt(), dt->pcie.node, d->bus, d->devfn, p + 1, &irq))
        return -ENODEV;
    *gsi = irq.intid;
    *flags = (irq.flags & 0xc) ? GSI_LEVEL : 0;     /* 4/8: level; 1/2: edge */
    return ioapic_gsi_check(*gsi) ? -ENODEV : 0;
}
