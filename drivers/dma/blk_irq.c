/* Completion interrupts for block devices through MSI-X table entry 0 (PCI Local Bus 3.0,
 * 6.8.2), opt-in (blk_dev.want_irq): completions are still reaped by polling, the interrupt
 * only counts them. The message comes from msi_compose: a remappable message through the
 * IOMMU's interrupt remapping when the unit has it on (compatibility-format messages are then
 * blocked), else a plain one for this CPU's local APIC. The vector and the message are made
 * once per device and given back when it leaves (blk_irq_release); the table entry is written
 * at every start. */
#include "arch/arch.h"
#include "arch/msi.h"
#include "drivers/dma/blk.h"
#include "lib/errno.h"
#include "pci/pci_platform.h"

static void blk_irq_handler(unsigned vector, void *ctx)
{
    struct blk_dev *b = ctx;
    b->nr_irqs++;
}

static int prepare(struct blk_dev *b, struct pci_system *sys)
{
    if (b->irq_vector)
        return 0;
    b->msix_entry = msix_entry_map(sys, b->pci, 0);
    if (!b->msix_entry)
        return b->pci->caps.msix ? -EINVAL : -ENODEV;
    int vec = irq_alloc_vector(blk_irq_handler, b);
    if (vec < 0)
        return vec;
    int err = msi_compose(b->pci, (unsigned)vec, &b->msi);
    if (err) {
        irq_free_vector((unsigned)vec);
        return err;
    }
    b->irq_vector = vec;
    return 0;
}

int blk_irq_enable(struct blk_dev *b)
{
    struct pci_system *sys = platform_pci();
    int err = prepare(b, sys);
    if (err)
        return err;
    msix_entry_write(b->msix_entry, &b->msi, false);
    msix_set_enable(sys, b->pci, true);
    b->irq_on = true;
    return 0;
}

void blk_irq_disable(struct blk_dev *b)
{
    if (!b->irq_on)
        return;
    struct pci_system *sys = platform_pci();
    msix_entry_mask(b->msix_entry);
    msix_set_enable(sys, b->pci, false);
    b->irq_on = false;
}

void blk_irq_release(struct blk_dev *b)
{
    blk_irq_disable(b);
    if (!b->irq_vector)
        return;
    msi_free(b->pci, &b->msi);
    irq_free_vector((unsigned)b->irq_vector);
    b->irq_vector = 0;
    b->msi = (struct msi_msg){ 0 };
    b->msix_entry = NULL;
}
