/* INTx on AArch64: a PCI pin routes through the host bridge's interrupt-map to a GIC SPI; the
 * names follow arch/x86_64/ioapic.h (the portable code calls them), a GSI here being the SPI's
 * interrupt ID. */
#ifndef MOAT_ARCH_AARCH64_INTX_H
#define MOAT_ARCH_AARCH64_INTX_H

#include "lib/compiler.h"

struct pci_system;
struct pci_dev;

#define GSI_LEVEL BIT(0)            /* level-triggered (else edge) */
#define GSI_ACTIVE_LOW BIT(1)       /* never set on the GIC: SPIs are active high or rising */

struct gsi_handler {
    void (*fn)(void *ctx);
    void *ctx;
    struct gsi_handler *next;
};

/* Adds h to the SPI's handlers and enables it with that trigger. -EINVAL for an interrupt ID
 * that is no SPI of this GIC, -EBUSY when flags disagree with the SPI's current handlers. */
int ioapic_gsi_attach(unsigned gsi, unsigned flags, struct gsi_handler *h);
void ioapic_gsi_detach(unsigned gsi, struct gsi_handler *h);
/* 0 when gsi is an SPI of this GIC. */
int ioapic_gsi_check(unsigned gsi);

/* The SPI a function's INTx pin reaches through the device tree's interrupt-map (with the
 * bridge swizzle below bridges); -ENOENT without a pin or a route. */
int pci_intx_route(struct pci_system *sys, const struct pci_dev *dev, unsigned *gsi,
                   unsigned *flags);

#endif
