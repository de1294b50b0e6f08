/* PCI from the device tree: the pci-host-ecam-generic node's ECAM window and bus range, and
 * its ranges as the apertures (virt: 32-bit MMIO, 64-bit MMIO, I/O). PCI bus addresses equal
 * CPU addresses for memory on virt; a window where they differ is not used for BARs (moat maps
 * BARs at their bus address). No legacy configuration access. */
#include "arch/aarch64/platform.h"
#include "lib/log.h"
#include "pci/pci_platform.h"

void arch_pci_legacy_apertures(struct pci_fw_ecam *fw)
{
}

bool arch_pci_legacy_read(uint8_t bus, uint8_t devfn, uint16_t off, unsigned width, uint32_t *val)
{
    return false;
}

bool arch_pci_legacy_write(uint8_t bus, uint8_t devfn, uint16_t off, unsigned width, uint32_t val)
{
    return false;
}

unsigned arch_pci_firmware(struct pci_fw_ecam *out, unsigned max)
{
    const struct dt_platform *dt = platform_dt();
    if (!dt->pcie.present || max == 0)
        return 0;
    /* moat does no cache maintenance around DMA: it relies on the host bridge's snooping. */
    if (!dt->pcie.coherent)
        kprintf("pci: warning: the host bridge is not dma-coherent; moat's DMA assumes coherent "
                "devices, so buffers may be seen stale\n");
    struct pci_fw_ecam *e = &out[0];
    /* The reg window covers bus-range's first bus onwards. */
    *e = (struct pci_fw_ecam){ .base = dt->pcie.ecam_base, .seg = (uint16_t)dt->pcie.domain,
                               .bus_start = (uint8_t)dt->pcie.bus_start,
                               .bus_end = (uint8_t)dt->pcie.bus_end };
    for (uint32_t i = 0; i < dt->pcie.nr_ranges; i++) {
        const struct dt_pci_range *r = &dt->pcie.ranges[i];
        struct pci_aperture a = { r->pci_addr, r->size };
        if (r->space == DT_PCI_IO) {
            /* Not the lowest I/O addresses (legacy devices' ranges; Linux starts at 0x1000). */
            if (a.base < 0x1000 && a.base + a.size > 0x1000) {
                a.size -= 0x1000 - a.base;
                a.base = 0x1000;
            }
            e->io = a;
            continue;
        }
        if (r->pci_addr != r->cpu_addr) {
            kprintf("pci: window %#llx at CPU %#llx translates addresses, not used\n",
                    (unsigned long long)r->pci_addr, (unsigned long long)r->cpu_addr);
            continue;
        }
        if (r->space == DT_PCI_MEM64 && r->pci_addr + r->size > (4ULL << 30))
            e->mem64 = a;
        else if (r->space == DT_PCI_MEM32 || r->space == DT_PCI_MEM64)
            e->mem32 = a;
    }
    return 1;
}
