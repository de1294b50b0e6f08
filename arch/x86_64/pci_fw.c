/* PCI on the PC: ECAM windows from ACPI's MCFG, apertures for BARs firmware left unassigned
 * (q35's 32-bit hole above ECAM and a 64-bit window far above RAM), and the legacy 0xCF8/0xCFC
 * configuration ports. Firmware-assigned BARs are kept wherever they are. */
#include "arch/x86_64/arch.h"
#include "kernel/acpi/platform.h"
#include "pci/pci_platform.h"

void arch_pci_legacy_apertures(struct pci_fw_ecam *fw)
{
    fw->mem32 = (struct pci_aperture){ 0xc0000000ULL, 0xfec00000ULL - 0xc0000000ULL };
    fw->mem64 = (struct pci_aperture){ 0x8000000000ULL, 0x1000000000ULL };
    fw->io = (struct pci_aperture){ 0xc000, 0x4000 };
}

unsigned arch_pci_firmware(struct pci_fw_ecam *out, unsigned max)
{
    const struct acpi_info *ai = platform_acpi();
    unsigned n = 0;
    for (unsigned i = 0; ai && i < ai->nr_mcfg && n < max; i++) {
        const struct acpi_mcfg_entry *m = &ai->mcfg[i];
        /* MCFG's base addresses bus 0; the window starts at bus_start. */
        out[n] = (struct pci_fw_ecam){ .base = m->base + ((uint64_t)m->bus_start << 20),
                                       .seg = m->segment, .bus_start = m->bus_start,
                                       .bus_end = m->bus_end };
        arch_pci_legacy_apertures(&out[n++]);
    }
    return n;
}

static void legacy_select(uint8_t bus, uint8_t devfn, uint16_t off)
{
    outl(0xcf8, BIT(31) | ((uint32_t)bus << 16) | ((uint32_t)devfn << 8) | (off & 0xfc));
}

bool arch_pci_legacy_read(uint8_t bus, uint8_t devfn, uint16_t off, unsigned width, uint32_t *val)
{
    legacy_select(bus, devfn, off);
    uint32_t v = inl(0xcfc) >> (8 * (off & 3));
    *val = width == 4 ? v : v & ((1u << (8 * width)) - 1);
    return true;
}

bool arch_pci_legacy_write(uint8_t bus, uint8_t devfn, uint16_t off, unsigned width, uint32_t val)
{
    uint32_t old = 0;
    if (width != 4)
        arch_pci_legacy_read(bus, devfn, off & 0xfc, 4, &old);
    uint32_t shift = 8 * (off & 3), mask = width == 4 ? ~0u : ((1u << (8 * width)) - 1) << shift;
    legacy_select(bus, devfn, off);
    outl(0xcfc, (old & ~mask) | ((val << shift) & mask));
    return true;
}
