/* Interrupts from a real device on either architecture: the edu's MSI (x86_64: the local APIC's
 * window or VT-d/AMD-Vi remapping; aarch64: an ITS event mapped to an LPI) and its INTx pin
 * (x86_64: q35's routing to an IOAPIC pin; aarch64: the device tree's interrupt-map to a GIC
 * SPI). Each handler must run once per raise, and the line must fall when the device is
 * acknowledged (a level interrupt that stayed asserted would run the handler again). */
#include "arch/arch.h"
#include "arch/intx.h"
#include "drivers/edu/edu.h"
#include "kernel/ktest.h"
#include "kernel/time.h"
#include "pci/pci_platform.h"
#include "pci/pci_regs.h"
#include "tests/image/dma_fixture.h"

static struct edu_dev *first_edu(struct ktest *t)
{
    struct edu_dev *e = edu_count() ? edu_get(0) : NULL;
    if (!e)
        ktest_skip(t, "no edu device on this machine");
    return e;
}

static void edu_msi_delivered(struct ktest *t)
{
    struct edu_dev *e = first_edu(t);
    if (!e)
        return;
    int vec = irq_alloc_vector(edu_irq, e);
    KASSERT(t, vec > 0);
    struct msi_msg m = { 0, 0 };
    KASSERT(t, msi_compose(e->pci, (unsigned)vec, &m) == 0);
    for (int round = 0; round < 3; round++) {
        KEXPECT(t, raise_with(e, &m));
        udelay(2000);
        KEXPECT_EQ(t, irq_hits, 1);
    }
    msi_disable(platform_pci(), e->pci);
    msi_free(e->pci, &m);
    irq_free_vector((unsigned)vec);
}

static volatile unsigned intx_hits;

static void edu_intx(void *ctx)
{
    struct edu_dev *e = ctx;
    uint32_t st = edu_irq_status(e);
    if (!st)
        return;                 /* a shared line: not ours */
    intx_hits++;
    edu_ack_irq(e, st);
}

static void edu_intx_delivered(struct ktest *t)
{
    struct edu_dev *e = first_edu(t);
    if (!e)
        return;
    struct pci_system *sys = platform_pci();
    unsigned gsi, flags;
    KASSERT(t, pci_intx_route(sys, e->pci, &gsi, &flags) == 0);
    KEXPECT(t, flags & GSI_LEVEL);          /* PCI INTx is level-triggered */
    msi_disable(sys, e->pci);
    uint16_t cmd = pci_read16(sys, e->pci, PCI_COMMAND);
    pci_write16(sys, e->pci, PCI_COMMAND, cmd & ~PCI_COMMAND_INTX_DISABLE);
    struct gsi_handler h = { edu_intx, e, NULL };
    KASSERT(t, ioapic_gsi_attach(gsi, flags, &h) == 0);
    for (int round = 0; round < 3; round++) {
        intx_hits = 0;
        edu_raise_irq(e, 1u << round);
        KEXPECT_EQ(t, poll_until(intx_hits > 0, 300 * NSEC_PER_MSEC), 0);
        udelay(2000);
        KEXPECT_EQ(t, intx_hits, 1);
        KEXPECT_EQ(t, edu_irq_status(e), 0);
    }
    ioapic_gsi_detach(gsi, &h);
    pci_write16(sys, e->pci, PCI_COMMAND, cmd);
}

KTEST_SUITE(irq, KTEST_CASE(edu_msi_delivered), KTEST_CASE(edu_intx_delivered));
