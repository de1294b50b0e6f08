/* Wired PCI interrupts (INTx): the route of a function's pin to a system interrupt line and
 * handlers attached to that line. x86_64: IOAPIC GSIs; aarch64: GIC SPIs (the interface keeps
 * the IOAPIC's names; a "GSI" there is the SPI's interrupt ID). */
#ifndef MOAT_ARCH_INTX_H
#define MOAT_ARCH_INTX_H

#if defined(__x86_64__)
#include "arch/x86_64/ioapic.h"
#elif defined(__aarch64__)
#include "arch/aarch64/intx.h"
#else
#error "unsupported architecture"
#endif

#endif
