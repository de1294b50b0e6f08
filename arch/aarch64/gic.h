/* The GICv3 and its ITS, for the rest of arch/aarch64 and for IOMMU drivers (the SMMUv3 needs
 * wired interrupts and the ITS doorbell for its MSI window). */
#ifndef MOAT_ARCH_AARCH64_GIC_H
#define MOAT_ARCH_AARCH64_GIC_H

#include "arch/aarch64/arch.h"

/* Wired interrupts (SPIs, interrupt IDs 32..): trigger (edge, else level-high) and enable;
 * -EINVAL for an ID that is no SPI of this GIC.
 * Handlers attach through ioapic_gsi_attach (arch/intx.h). */
int gic_spi_configure(unsigned intid, bool edge);
void gic_spi_enable(unsigned intid, bool on);
/* A private peripheral interrupt (16..31) of this CPU, e.g. the generic timer's; fn NULL
 * detaches and disables it. */
int gic_ppi_attach(unsigned intid, irq_handler_fn fn, void *ctx);

/* Runs the handler irq_alloc_vector installed for vector (for sources that are not the
 * vector's own interrupt, like the timer's PPI). */
void gic_run_vector(unsigned vector);

/* The ITS's GITS_TRANSLATER physical address: where PCI functions write their MSIs (an IOMMU
 * maps it into its MSI window). -ENODEV without an ITS. */
int gic_its_doorbell(uint64_t *pa);
/* Maps a new event of ITS DeviceID devid to the LPI lpi (from irq_alloc_vector); the event ID
 * is the MSI's data. -ERANGE for a DeviceID past the ITS's, -ENOSPC when devid has no free
 * event. */
int gic_its_map_event(uint32_t devid, unsigned lpi, uint32_t *event);
void gic_its_unmap_event(uint32_t devid, uint32_t event);

#endif
