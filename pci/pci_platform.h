/* The machine's PCI system, enumerated once at boot (image only). */
#ifndef MOAT_PCI_PCI_PLATFORM_H
#define MOAT_PCI_PCI_PLATFORM_H

#include "pci/pci.h"

/* NULL before the pci unit ran. */
struct pci_system *platform_pci(void);

/* Whether VFs are enabled at boot and on hot-added PFs ("sriov_numvfs=max|N"): *max_vfs is
 * then pci_sriov_enable_all's limit (0: TotalVFs). False by default, as Linux. */
bool platform_pci_boot_vfs(unsigned *max_vfs);

/* Enables num_vfs VFs on pf at run time (enumerated, grouped, each in its IOMMU unit's blocking
 * domain until a driver attaches one, offered to the hot-plug drivers), or with 0 disables them
 * (each let go by its driver, back to the blocking domain, forgotten). Linux's
 * pci_enable_sriov / pci_disable_sriov: -ENODEV when pf has no SR-IOV, -ERANGE above TotalVFs,
 * -EBUSY when VFs are on already (nonzero to nonzero) or, to disable, while a program holds
 * one of them (Linux's write would wait for it). Returns the number of VFs now enabled. */
int pci_sriov_set_numvfs(struct pci_dev *pf, unsigned num_vfs);

/* Configuration accesses made through the platform's ops since boot. */
struct pci_cfg_stats {
    uint64_t reads, writes, command_writes;
};
const struct pci_cfg_stats *platform_pci_cfg_stats(void);

/* Where the firmware put PCI: ECAM windows (ACPI's MCFG, or the device tree's host bridge)
 * and the apertures BARs may be placed in. Filled by the architecture. */
struct pci_fw_ecam {
    uint64_t base;              /* configuration space of bus_start */
    uint16_t seg;
    uint8_t bus_start, bus_end;
    struct pci_aperture mem32, mem64, io;
};
unsigned arch_pci_firmware(struct pci_fw_ecam *out, unsigned max);

/* Configuration access without ECAM (x86: ports 0xcf8/0xcfc, segment 0's first 256 bytes);
 * false where the architecture has none. */
bool arch_pci_legacy_read(uint8_t bus, uint8_t devfn, uint16_t off, unsigned width, uint32_t *val);
bool arch_pci_legacy_write(uint8_t bus, uint8_t devfn, uint16_t off, unsigned width, uint32_t val);
/* The apertures for a bus reached only by legacy access. */
void arch_pci_legacy_apertures(struct pci_fw_ecam *fw);

#endif
