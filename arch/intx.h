/* Wired PCI interrupts (INTx): the route of a function's pin to a system interrupt line (a
 * "GSI") and handlers attached to that line. x86_64: IOAPIC pins (arch/x86_64/ioapic.c, q35's
 * fixed routing); aarch64: GIC SPIs, the GSI being the SPI's interrupt ID (arch/aarch64/gic.c,
 * the device tree's interrupt-map). The names are the IOAPIC's, where they began. */
#ifndef MOAT_ARCH_INTX_H
#define MOAT_ARCH_INTX_H

#include "lib/compiler.h"

struct pci_system;
struct pci_dev;

/* How a GSI's input is wired. */
#define GSI_LEVEL BIT(0)            /* level-triggered (else edge) */
#define GSI_ACTIVE_LOW BIT(1)       /* asserted low (else high; never on the GIC) */

/* A handler on a GSI. Level-triggered GSIs are shared (q35 wires many functions to each of
 * PIRQ A-H, virt four SPIs to every slot): every attached handler runs on each interrupt and
 * must find out itself whether its device asserted the line and quieten it before returning
 * (the line is EOIed after). */
struct gsi_handler {
    void (*fn)(void *ctx);
    void *ctx;
    struct gsi_handler *next;
};

/* Attaches h to gsi. The first handler routes the GSI to this CPU (x86_64: a vector, through
 * the IOMMU's interrupt remapping when the unit serving the IOAPIC has it on) and unmasks it.
 * -ENODEV no such line, -EINVAL flags differ from the GSI's earlier routing (or are impossible
 * there), or what routing the GSI failed with. */
int ioapic_gsi_attach(unsigned gsi, unsigned flags, struct gsi_handler *h);
/* Detaches h; the line is masked when no handler is left. */
void ioapic_gsi_detach(unsigned gsi, struct gsi_handler *h);
/* Would attaching work: 0, or the errno attach would fail with before touching anything. */
int ioapic_gsi_check(unsigned gsi);

/* The GSI and wiring of dev's INTx pin, from the platform's routing (x86_64: q35's fixed one,
 * no AML interpreter; aarch64: the host bridge's interrupt-map), with the bridge swizzle below
 * bridges. -ENODEV no pin or no known route. */
int pci_intx_route(struct pci_system *sys, const struct pci_dev *dev, unsigned *gsi,
                   unsigned *flags);

#endif
