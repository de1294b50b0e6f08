/* I/O APICs and the routing of legacy PCI interrupts (INTx) to them: the interface is
 * arch/intx.h; the IOMMU layer registers its composer here. */
#ifndef MOAT_ARCH_X86_64_IOAPIC_H
#define MOAT_ARCH_X86_64_IOAPIC_H

#include "arch/intx.h"

/* The IOMMU layer's answer for an IOAPIC's redirection entries under interrupt remapping: the
 * message for vector on the CPU with APIC ID dest, or -EOPNOTSUPP when no unit remaps that
 * IOAPIC (the IOAPIC then writes a compatibility-format entry). Registered by the IOMMU core
 * before drivers attach GSIs. */
typedef int (*ioapic_compose_fn)(unsigned ioapic_id, unsigned vector, uint32_t dest, bool level,
                                 uint64_t *addr, uint32_t *data);
void ioapic_set_composer(ioapic_compose_fn fn);

#endif
