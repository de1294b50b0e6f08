/* I/O APICs and the routing of legacy PCI interrupts (INTx) to them. */
#ifndef MOAT_ARCH_X86_64_IOAPIC_H
#define MOAT_ARCH_X86_64_IOAPIC_H

#include "lib/compiler.h"

struct pci_system;
struct pci_dev;

/* How a GSI's input is wired. */
#define GSI_LEVEL BIT(0)            /* level-triggered (else edge) */
#define GSI_ACTIVE_LOW BIT(1)       /* asserted low (else high) */

/* A handler on a GSI. Level-triggered GSIs are shared (q35 wires many functions to each of
 * PIRQ A-H): every attached handler runs on each interrupt and must find out itself whether
 * its device asserted the line and quieten it before returning (the line is EOIed after). */
struct gsi_handler {
    void (*fn)(void *ctx);
    void *ctx;
    struct gsi_handler *next;
};

/* Attaches h to gsi. The first handler routes the GSI to a vector on this CPU (through the
 * IOMMU's interrupt remapping when the unit serving the IOAPIC has it on) and unmasks the pin.
 * -ENODEV no IOAPIC pin for gsi, -EINVAL flags differ from the GSI's earlier routing, or what
 * routing the GSI failed with. */
int ioapic_gsi_attach(unsigned gsi, unsigned flags, struct gsi_handler *h);
/* Detaches h; the pin is masked when no handler is left (its vector and remapping entry are kept
 * for the next attach). */
void ioapic_gsi_detach(unsigned gsi, struct gsi_handler *h);
/* Would attaching work: 0, or the errno attach would fail with before touching anything. */
int ioapic_gsi_check(unsigned gsi);

/* The IOMMU layer's answer for an IOAPIC's redirection entries under interrupt remapping: the
 * message for vector on the CPU with APIC ID dest, or -EOPNOTSUPP when no unit remaps that
 * IOAPIC (the IOAPIC then writes a compatibility-format entry). Registered by the IOMMU core
 * before drivers attach GSIs. */
typedef int (*ioapic_compose_fn)(unsigned ioapic_id, unsigned vector, uint32_t dest, bool level,
                                 uint64_t *addr, uint32_t *data);
void ioapic_set_composer(ioapic_compose_fn fn);

/* The GSI and wiring of dev's INTx pin, from the platform's fixed routing (no AML interpreter:
 * only machines whose routing is known, QEMU's q35, are answered). -ENODEV no pin or unknown
 * platform. */
int pci_intx_route(struct pci_system *sys, const struct pci_dev *dev, unsigned *gsi,
                   unsigned *flags);

#endif
