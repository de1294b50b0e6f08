/* The machine's PCI system, enumerated once at boot (image only). */
#ifndef MOAT_PCI_PCI_PLATFORM_H
#define MOAT_PCI_PCI_PLATFORM_H

#include "pci/pci.h"

/* NULL before the pci unit ran. */
struct pci_system *platform_pci(void);

/* Configuration accesses made through the platform's ops since boot. */
struct pci_cfg_stats {
    uint64_t reads, writes, command_writes;
};
const struct pci_cfg_stats *platform_pci_cfg_stats(void);

#endif
