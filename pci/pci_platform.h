/* The machine's PCI system, enumerated once at boot (image only). */
#ifndef MOAT_PCI_PCI_PLATFORM_H
#define MOAT_PCI_PCI_PLATFORM_H

#include "pci/pci.h"

/* NULL before the pci unit ran. */
struct pci_system *platform_pci(void);

#endif
