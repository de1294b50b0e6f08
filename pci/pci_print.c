/* The lspci-like tree and the iommu_group lines the boot log promises. */
#include "pci/pci_internal.h"
#include "lib/log.h"

static const char *pci_kind_name(const struct pci_dev *d)
{
    if (d->is_virtfn)
        return "VF";
    if (!d->caps.exp)
        return d->is_bridge ? "PCI bridge" : "PCI";
    switch (d->pcie_type) {
    case PCI_EXP_TYPE_ENDPOINT: return "PCIe endpoint";
    case PCI_EXP_TYPE_LEG_END: return "legacy endpoint";
    case PCI_EXP_TYPE_ROOT_PORT: return "root port";
    case PCI_EXP_TYPE_UPSTREAM: return "switch upstream";
    case PCI_EXP_TYPE_DOWNSTREAM: return "switch downstream";
    case PCI_EXP_TYPE_PCI_BRIDGE: return "PCIe-to-PCI bridge";
    case PCI_EXP_TYPE_PCIE_BRIDGE: return "PCI-to-PCIe bridge";
    case PCI_EXP_TYPE_RC_END: return "RC integrated endpoint";
    case PCI_EXP_TYPE_RC_EC: return "RC event collector";
    default: return "PCIe";
    }
}

static void pci_print_dev(const struct pci_dev *d)
{
    char bdf[16];
    pci_format_bdf(d, bdf, sizeof(bdf));
    kprintf("%*s%s [%04x:%04x] class %06x %s", 2 * d->depth, "", bdf, d->vendor, d->device,
            d->class_rev >> 8, pci_kind_name(d));
    if (d->is_bridge)
        kprintf(" [bus %02x-%02x]", d->secondary, d->subordinate);
    if (d->driver)
        kprintf(" driver %s", d->driver);
    if (d->group != PCI_NO_GROUP)
        kprintf(" group %d", d->group);
    kprintf("\n");
}

/* Iterative pre-order walk: the tree's depth is bounded, but the image stack is small. */
void pci_print_tree(const struct pci_system *sys)
{
    for (unsigned h = 0; h < sys->nhost; h++) {
        kprintf("pci %04x:%02x root bus\n", sys->host[h].seg, sys->host[h].bus_start);
        uint32_t i = sys->root_first[h];
        while (i != PCI_NONE) {
            const struct pci_dev *d = &sys->devs[i];
            pci_print_dev(d);
            if (d->first_child != PCI_NONE) {
                i = d->first_child;
                continue;
            }
            while (i != PCI_NONE && sys->devs[i].next_sibling == PCI_NONE)
                i = sys->devs[i].parent;
            if (i != PCI_NONE)
                i = sys->devs[i].next_sibling;
        }
    }
}

static uint64_t pci_sort_key(const struct pci_dev *d)
{
    return ((uint64_t)d->seg << 16) | ((uint64_t)d->bus << 8) | d->devfn;
}

/* The member of group g with the smallest key above after (UINT64_MAX: none). */
static uint32_t pci_next_member(const struct pci_system *sys, int g, uint64_t after, bool first)
{
    uint32_t best = PCI_NONE;
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        const struct pci_dev *d = &sys->devs[i];
        uint64_t k = pci_sort_key(d);
        if (d->group != g || (!first && k <= after))
            continue;
        if (best == PCI_NONE || k < pci_sort_key(&sys->devs[best]))
            best = i;
    }
    return best;
}

void pci_print_group(const struct pci_system *sys, unsigned g)
{
    char bdf[16];
    kprintf("iommu_group %u:", g);
    bool first = true;
    uint64_t last = 0;
    for (;;) {
        uint32_t i = pci_next_member(sys, (int)g, last, first);
        if (i == PCI_NONE)
            break;
        pci_format_bdf(&sys->devs[i], bdf, sizeof(bdf));
        kprintf(" %s", bdf);
        last = pci_sort_key(&sys->devs[i]);
        first = false;
    }
    kprintf("\n");
}

void pci_print_groups(const struct pci_system *sys)
{
    for (unsigned g = 0; g < sys->ngroups; g++)
        pci_print_group(sys, g);
}
