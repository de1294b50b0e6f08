/* INTx routing without an AML interpreter: the fixed wiring of QEMU's q35 (MCH 8086:29c0 with the
 * ICH9 LPC bridge 8086:2918 at 00:1f.0), as hw/isa/lpc_ich9.c builds it and the DSDT's _PRT
 * describes it:
 *   - below a bridge, pin' = (pin + slot) % 4 at each hop up (the PCI-to-PCI bridge swizzle);
 *   - on the root bus, slots 25-29 and 31 follow the D<slot>IR registers, whose reset value
 *     routes INTA-D to PIRQ A-D; slot 30 routes INTA-D to PIRQ E-H; every other slot s routes
 *     pin p (0 = INTA) to PIRQ (s + p) % 4 + 4;
 *   - PIRQ A-H drive IOAPIC GSI 16-23, level-triggered and active high (QEMU's links say
 *     ActiveHigh; its IOAPIC does not invert), unless the MADT overrides the GSI.
 * moat never rewrites D<slot>IR; firmware could have, which this cannot see (the known gap of
 * having no AML). */
#include "arch/x86_64/ioapic.h"
#include "kernel/acpi/platform.h"
#include "lib/errno.h"
#include "pci/pci.h"

#define Q35_GSI_BASE 16
#define MPS_POLARITY GENMASK(1, 0)
#define MPS_TRIGGER GENMASK(3, 2)

static const struct pci_dev *root_dev(struct pci_system *sys, uint8_t devfn)
{
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        const struct pci_dev *d = &sys->devs[i];
        if (d->seg == 0 && d->bus == 0 && d->devfn == devfn)
            return d;
    }
    return NULL;
}

static bool is_q35(struct pci_system *sys)
{
    const struct pci_dev *mch = root_dev(sys, 0), *lpc = root_dev(sys, (31 << 3) | 0);
    return mch && mch->vendor == 0x8086 && mch->device == 0x29c0 &&
           lpc && lpc->vendor == 0x8086 && lpc->device == 0x2918;
}

static unsigned q35_pirq(unsigned slot, unsigned pin)
{
    if (slot == 30)
        return pin + 4;
    if (slot >= 25)
        return pin;
    return (slot + pin) % 4 + 4;
}

/* What the MADT says about gsi, over the bus default (level, active high on q35). */
static unsigned gsi_flags(unsigned gsi)
{
    unsigned flags = GSI_LEVEL;
    const struct acpi_info *ai = platform_acpi();
    for (unsigned i = 0; ai && i < ai->nr_iso; i++) {
        if (ai->iso[i].gsi != gsi)
            continue;
        unsigned pol = FIELD_GET(MPS_POLARITY, ai->iso[i].flags);
        unsigned trig = FIELD_GET(MPS_TRIGGER, ai->iso[i].flags);
        if (pol == 3)
            flags |= GSI_ACTIVE_LOW;
        if (trig == 1)
            flags &= ~GSI_LEVEL;
    }
    return flags;
}

int pci_intx_route(struct pci_system *sys, const struct pci_dev *dev, unsigned *gsi,
                   unsigned *flags)
{
    unsigned p;
    const struct pci_dev *d = dev->seg == 0 && is_q35(sys) ? pci_intx_root(sys, dev, &p) : NULL;
    if (!d || d->bus != 0)
        return -ENODEV;
    *gsi = Q35_GSI_BASE + q35_pirq(d->devfn >> 3, p);
    *flags = gsi_flags(*gsi);
    return 0;
}
