/* Shared between the files of the PCI core; not for drivers. */
#ifndef MOAT_PCI_PCI_INTERNAL_H
#define MOAT_PCI_PCI_INTERNAL_H

#include "pci/pci.h"

/* Device quirks (Linux's drivers/pci/quirks.c names the same behaviours). */
enum pci_quirk {
    PCI_QUIRK_PCIE_BRIDGE_ALIAS = BIT(0),   /* non-PCIe bridge that is really PCIe-to-PCI */
    PCI_QUIRK_XLATE_ROOT = BIT(1),          /* IOMMU sits at this bridge: aliases stop here */
};

/* Raw access by address; off/width are trusted to be aligned and in range. */
uint32_t pci_cfg_read(struct pci_system *sys, uint16_t seg, uint8_t bus, uint8_t devfn,
                      uint16_t off, unsigned width);
void pci_cfg_write(struct pci_system *sys, uint16_t seg, uint8_t bus, uint8_t devfn,
                   uint16_t off, unsigned width, uint32_t val);

/* Records and prints a warning for dev once per kind. */
void pci_warn(struct pci_system *sys, struct pci_dev *dev, uint32_t kind, const char *what);

struct pci_dev *pci_dev_at(struct pci_system *sys, uint32_t idx);
struct pci_dev *pci_parent(struct pci_system *sys, const struct pci_dev *dev);
/* Appends a zeroed device, linked under parent (PCI_NONE: root bus root); NULL when full. */
struct pci_dev *pci_alloc_dev(struct pci_system *sys, uint32_t parent, unsigned root);

/* Takes devs[idx] out of its parent's (or its root bus's) list of children. */
void pci_unlink_dev(struct pci_system *sys, uint32_t idx);
/* Marks a device gone and gives back its group number when that group emptied. */
void pci_forget(struct pci_system *sys, struct pci_dev *dev);
/* Drops the gone entries at the end of devs[], so their slots are reused. */
void pci_trim_gone(struct pci_system *sys);

void pci_parse_caps(struct pci_system *sys, struct pci_dev *dev);
void pci_size_bars(struct pci_system *sys, struct pci_dev *dev);
void pci_read_bridge_windows(struct pci_system *sys, struct pci_dev *dev);
uint64_t pci_sizing_probe(struct pci_system *sys, struct pci_dev *dev, uint16_t off,
                          struct pci_bar *bar, bool *is64);
/* SR-IOV at enumeration: reads TotalVFs, sizes VF BARs; returns the last bus a VF will use. */
uint8_t pci_sriov_scan(struct pci_system *sys, struct pci_dev *pf);
unsigned pci_sriov_planned(const struct pci_dev *pf);

void pci_apply_quirks(struct pci_system *sys, struct pci_dev *dev);
/* A group that lost its last member gives its number back (pci_remove_below). */
void pci_group_release(struct pci_system *sys, int g);
/* Linux's pci_dev_specific_acs_enabled: <0 no quirk, 0 not enabled, 1 enabled. */
int pci_quirk_acs(struct pci_system *sys, struct pci_dev *dev, uint16_t flags);

static inline bool pci_dev_on_root_bus(const struct pci_dev *dev)
{
    return dev->parent == PCI_NONE;
}

#endif
