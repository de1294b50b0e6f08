/* Device quirks that change isolation: DMA requester-ID aliases and ACS-equivalent isolation
 * of devices without (or with broken) ACS capabilities. The device lists are those Linux's
 * drivers/pci/quirks.c carries for the same behaviours; only the behaviours that need no
 * chipset MMIO are modelled. */
#include "pci/pci_internal.h"

#define PCI_ANY 0xffff

enum pci_quirk_kind {
    PCI_Q_DMA_FUNC0,        /* DMA also with function 0's RID */
    PCI_Q_DMA_FUNC1,        /* DMA also with function 1's RID */
    PCI_Q_BRIDGE_ALIAS,     /* conventional-looking bridge that is PCIe-to-PCI */
    PCI_Q_XLATE_ROOT,       /* translation happens at this bridge */
};

struct pci_id_quirk {
    uint16_t vendor, device;
    uint8_t kind;
};

static const struct pci_id_quirk pci_id_quirks[] = {
    { 0x1180, 0xe832, PCI_Q_DMA_FUNC0 }, { 0x1180, 0xe476, PCI_Q_DMA_FUNC0 },   /* Ricoh */
    { 0x1b4b, 0x9120, PCI_Q_DMA_FUNC1 }, { 0x1b4b, 0x9123, PCI_Q_DMA_FUNC1 },   /* Marvell */
    { 0x1b4b, 0x9128, PCI_Q_DMA_FUNC1 }, { 0x1b4b, 0x9130, PCI_Q_DMA_FUNC1 },
    { 0x1b4b, 0x9170, PCI_Q_DMA_FUNC1 }, { 0x1b4b, 0x9172, PCI_Q_DMA_FUNC1 },
    { 0x1b4b, 0x917a, PCI_Q_DMA_FUNC1 }, { 0x1b4b, 0x9182, PCI_Q_DMA_FUNC1 },
    { 0x1b4b, 0x9183, PCI_Q_DMA_FUNC1 }, { 0x1b4b, 0x91a0, PCI_Q_DMA_FUNC1 },
    { 0x1b4b, 0x9215, PCI_Q_DMA_FUNC1 }, { 0x1b4b, 0x9220, PCI_Q_DMA_FUNC1 },
    { 0x1b4b, 0x9230, PCI_Q_DMA_FUNC1 }, { 0x1b4b, 0x9235, PCI_Q_DMA_FUNC1 },
    { 0x1103, 0x0642, PCI_Q_DMA_FUNC1 }, { 0x1103, 0x0645, PCI_Q_DMA_FUNC1 },   /* TTI */
    { 0x197b, 0x2393, PCI_Q_DMA_FUNC1 },                                         /* JMicron */
    { 0x1c28, 0x0122, PCI_Q_DMA_FUNC1 },                                         /* Lite-On */
    { 0x1b21, 0x1080, PCI_Q_BRIDGE_ALIAS }, { 0x10e3, 0x8113, PCI_Q_BRIDGE_ALIAS },
    { 0x1283, 0x8892, PCI_Q_BRIDGE_ALIAS }, { 0x1283, 0x8893, PCI_Q_BRIDGE_ALIAS },
    { 0x8086, 0x244e, PCI_Q_BRIDGE_ALIAS },   /* 82801 DMI-to-PCI, QEMU's i82801b11-bridge */
    { 0x14e4, 0x9000, PCI_Q_XLATE_ROOT }, { 0x14e4, 0x9084, PCI_Q_XLATE_ROOT },
};

static void pci_add_dma_alias(struct pci_dev *dev, uint8_t devfn)
{
    dev->dma_alias[devfn / 32] |= 1u << (devfn % 32);
}

static void pci_apply_id_quirk(struct pci_system *sys, struct pci_dev *dev, uint8_t kind)
{
    struct pci_dev *up = pci_parent(sys, dev);

    switch (kind) {
    case PCI_Q_DMA_FUNC0:
        if (PCI_FUNC(dev->devfn) != 0)
            pci_add_dma_alias(dev, PCI_DEVFN(PCI_SLOT(dev->devfn), 0));
        break;
    case PCI_Q_DMA_FUNC1:
        if (PCI_FUNC(dev->devfn) != 1)
            pci_add_dma_alias(dev, PCI_DEVFN(PCI_SLOT(dev->devfn), 1));
        break;
    case PCI_Q_BRIDGE_ALIAS:
        /* Only when it sits below PCIe that is not itself a PCIe-to-PCI bridge. */
        if (up && dev->is_bridge && !dev->caps.exp && up->caps.exp &&
            up->pcie_type != PCI_EXP_TYPE_PCI_BRIDGE)
            dev->quirks |= PCI_QUIRK_PCIE_BRIDGE_ALIAS;
        break;
    default:
        dev->quirks |= PCI_QUIRK_XLATE_ROOT;
        break;
    }
}

void pci_apply_quirks(struct pci_system *sys, struct pci_dev *dev)
{
    for (size_t i = 0; i < ARRAY_SIZE(pci_id_quirks); i++) {
        const struct pci_id_quirk *q = &pci_id_quirks[i];
        if (q->vendor == dev->vendor && (q->device == PCI_ANY || q->device == dev->device))
            pci_apply_id_quirk(sys, dev, q->kind);
    }
}

/* ---- ACS quirks (Linux's pci_dev_specific_acs_enabled) ---- */

enum pci_acs_quirk {
    PCI_ACSQ_MF_ENDPOINT,   /* vendor confirms no peer-to-peer between functions */
    PCI_ACSQ_RP_ISOLATED,   /* root ports with ACS-equivalent isolation, no capability */
    PCI_ACSQ_INTEL_RCIEP,   /* Intel RCiEPs only do P2P with translated addresses */
    PCI_ACSQ_AMD_SB,        /* AMD southbridge functions, with an AMD IOMMU present */
    PCI_ACSQ_CAVIUM,        /* Cavium ThunderX devices 0xa000-0xa0ff */
};

struct pci_acs_quirk_entry {
    uint16_t vendor, device;
    uint8_t kind;
};

static const struct pci_acs_quirk_entry pci_acs_quirks[] = {
    { 0x1002, 0x4385, PCI_ACSQ_AMD_SB }, { 0x1002, 0x439c, PCI_ACSQ_AMD_SB },
    { 0x1002, 0x4383, PCI_ACSQ_AMD_SB }, { 0x1002, 0x439d, PCI_ACSQ_AMD_SB },
    { 0x1002, 0x4384, PCI_ACSQ_AMD_SB }, { 0x1002, 0x4399, PCI_ACSQ_AMD_SB },
    { 0x1022, 0x780f, PCI_ACSQ_AMD_SB }, { 0x1022, 0x7809, PCI_ACSQ_AMD_SB },
    { 0x1924, 0x0903, PCI_ACSQ_MF_ENDPOINT }, { 0x1924, 0x0923, PCI_ACSQ_MF_ENDPOINT },
    { 0x1924, 0x0a03, PCI_ACSQ_MF_ENDPOINT },
    /* Intel NICs: 82571/2, 82575/6, 82580, I350, X520/X540/X710 families, I219 */
    { 0x8086, 0x10c6, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10db, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10dd, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10e1, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10f1, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10f7, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10f8, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10f9, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10fa, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10fb, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10fc, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x1507, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1514, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x151c, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1529, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x152a, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x154d, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x154f, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1551, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x1558, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1509, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x150e, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x150f, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x1510, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1511, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x1516, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1527, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10c9, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10e6, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10e7, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10e8, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x150a, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x150d, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x1518, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1526, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10a7, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x10a9, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10d6, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1521, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x1522, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1523, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x1524, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x105e, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x105f, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x1060, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x10d9, PCI_ACSQ_MF_ENDPOINT },
    { 0x8086, 0x15b7, PCI_ACSQ_MF_ENDPOINT }, { 0x8086, 0x15b8, PCI_ACSQ_MF_ENDPOINT },
    { 0x17cb, 0x0400, PCI_ACSQ_RP_ISOLATED }, { 0x17cb, 0x0401, PCI_ACSQ_RP_ISOLATED },
    { 0x8086, PCI_ANY, PCI_ACSQ_INTEL_RCIEP },
    { 0x19a2, 0x0710, PCI_ACSQ_MF_ENDPOINT }, { 0x10df, 0x0720, PCI_ACSQ_MF_ENDPOINT },
    { 0x177d, PCI_ANY, PCI_ACSQ_CAVIUM },
};

#define PCI_ACS_MF_MASK (PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_DT)
#define PCI_ACS_ISOLATED (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)

static int pci_acs_quirk_eval(struct pci_system *sys, struct pci_dev *dev, uint8_t kind,
                              uint16_t flags)
{
    switch (kind) {
    case PCI_ACSQ_MF_ENDPOINT:
        return (flags & ~PCI_ACS_MF_MASK) == 0;
    case PCI_ACSQ_RP_ISOLATED:
        return (flags & ~PCI_ACS_ISOLATED) == 0;
    case PCI_ACSQ_INTEL_RCIEP:
        if (!dev->caps.exp || dev->pcie_type != PCI_EXP_TYPE_RC_END)
            return -1;
        return (flags & ~PCI_ACS_ISOLATED) == 0;
    case PCI_ACSQ_AMD_SB:
        if (!(sys->flags & PCI_SYS_AMD_IVRS) || !dev->multifunction || !pci_dev_on_root_bus(dev))
            return -1;
        flags &= PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC | PCI_ACS_DT;
        return (flags & ~(PCI_ACS_RR | PCI_ACS_CR)) == 0;
    default:
        if (dev->device < 0xa000 || dev->device > 0xa0ff)
            return -1;
        return (flags & ~PCI_ACS_MF_MASK) == 0;
    }
}

int pci_quirk_acs(struct pci_system *sys, struct pci_dev *dev, uint16_t flags)
{
    for (size_t i = 0; i < ARRAY_SIZE(pci_acs_quirks); i++) {
        const struct pci_acs_quirk_entry *q = &pci_acs_quirks[i];
        if (q->vendor != dev->vendor || (q->device != PCI_ANY && q->device != dev->device))
            continue;
        int r = pci_acs_quirk_eval(sys, dev, q->kind, flags);
        if (r >= 0)
            return r;
    }
    return -1;
}
