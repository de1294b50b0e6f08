/* Isolation groups with Linux's rules (drivers/iommu/iommu.c pci_device_group and the helpers
 * it uses): a device shares a group with
 *  - the bridges its DMA is aliased to (PCIe-to-PCI and conventional bridges take over the
 *    requester ID of everything below them),
 *  - the highest bridge below which the ACS path to the root is broken (every port on the way
 *    must have SV, RR, CR and UF enabled),
 *  - functions on its bus that are its DMA aliases (quirks), and the other functions of a
 *    multi-function device when neither side has ACS.
 * Devices are grouped in enumeration order, parents first, as Linux probes them. */
#include "pci/pci_internal.h"
#include "lib/log.h"
#include "lib/string.h"

#define PCI_REQ_ACS (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)

static bool pci_acs_flags_enabled(struct pci_system *sys, struct pci_dev *dev, uint16_t flags)
{
    if (!dev->caps.acs)
        return false;
    uint16_t cap = pci_read16(sys, dev, dev->caps.acs + PCI_ACS_CAP);
    uint16_t ctrl = pci_read16(sys, dev, dev->caps.acs + PCI_ACS_CTRL);
    /* Features the capability does not offer count as hard-wired on, except Egress Control. */
    flags &= cap | PCI_ACS_EC;
    return (ctrl & flags) == flags;
}

/* Linux's pci_acs_enabled: is dev isolated by ACS (or its equivalent) for flags? */
static bool pci_acs_enabled(struct pci_system *sys, struct pci_dev *dev, uint16_t flags)
{
    int q = pci_quirk_acs(sys, dev, flags);
    if (q >= 0)
        return q > 0;
    if (!dev->caps.exp)
        return false;   /* conventional PCI: a shared bus */
    switch (dev->pcie_type) {
    case PCI_EXP_TYPE_PCIE_BRIDGE:
    case PCI_EXP_TYPE_PCI_BRIDGE:
    case PCI_EXP_TYPE_RC_EC:
        return false;
    case PCI_EXP_TYPE_DOWNSTREAM:
    case PCI_EXP_TYPE_ROOT_PORT:
        return pci_acs_flags_enabled(sys, dev, flags);
    case PCI_EXP_TYPE_ENDPOINT:
    case PCI_EXP_TYPE_UPSTREAM:
    case PCI_EXP_TYPE_LEG_END:
    case PCI_EXP_TYPE_RC_END:
        /* ACS only matters between functions of a multi-function device (PCIe §6.12.1.2) */
        return !dev->multifunction || pci_acs_flags_enabled(sys, dev, flags);
    default:
        return true;
    }
}

/* Linux's pci_acs_path_enabled(start, NULL): start and every bridge above it isolate. */
static bool pci_acs_path_enabled(struct pci_system *sys, struct pci_dev *start)
{
    for (struct pci_dev *d = start; d; d = pci_parent(sys, d))
        if (!pci_acs_enabled(sys, d, PCI_REQ_ACS))
            return false;
    return true;
}

static bool pci_same_bus(const struct pci_dev *a, const struct pci_dev *b)
{
    return a->seg == b->seg && a->bus == b->bus && a->host == b->host;
}

static bool pci_alias_bit(const struct pci_dev *d, uint8_t devfn)
{
    return d->dma_alias[devfn / 32] & (1u << (devfn % 32));
}

static bool pci_devs_are_dma_aliases(const struct pci_dev *a, const struct pci_dev *b)
{
    return pci_alias_bit(a, b->devfn) || pci_alias_bit(b, a->devfn);
}

static uint32_t pci_bus_first(struct pci_system *sys, const struct pci_dev *d)
{
    const struct pci_dev *up = pci_parent(sys, d);
    return up ? up->first_child : sys->root_first[d->host];
}

struct pci_visited {
    uint32_t bits[8];   /* devfns of the bus being searched */
};

static bool pci_test_and_set(struct pci_visited *v, uint8_t devfn)
{
    bool was = v->bits[devfn / 32] & (1u << (devfn % 32));
    v->bits[devfn / 32] |= 1u << (devfn % 32);
    return was;
}

static int pci_function_alias_group(struct pci_system *sys, struct pci_dev *d,
                                    struct pci_visited *v);

/* Linux's get_pci_alias_group: an existing group among d and its DMA aliases on its bus. */
static int pci_alias_group(struct pci_system *sys, struct pci_dev *d, struct pci_visited *v)
{
    if (pci_test_and_set(v, d->devfn))
        return PCI_NO_GROUP;
    if (d->group != PCI_NO_GROUP)
        return d->group;
    if (!d->alias_peer)
        return PCI_NO_GROUP;   /* the walk below would find nothing */
    for (uint32_t i = pci_bus_first(sys, d); i != PCI_NONE; i = sys->devs[i].next_sibling) {
        struct pci_dev *t = &sys->devs[i];
        if (t == d || !pci_same_bus(t, d) || !pci_devs_are_dma_aliases(d, t))
            continue;
        int g = pci_alias_group(sys, t, v);
        if (g == PCI_NO_GROUP)
            g = pci_function_alias_group(sys, t, v);
        if (g != PCI_NO_GROUP)
            return g;
    }
    return PCI_NO_GROUP;
}

/* Linux's get_pci_function_alias_group: functions of one slot that lack ACS share. */
static int pci_function_alias_group(struct pci_system *sys, struct pci_dev *d,
                                    struct pci_visited *v)
{
    if (!d->multifunction || pci_acs_enabled(sys, d, PCI_REQ_ACS))
        return PCI_NO_GROUP;
    for (uint32_t i = pci_bus_first(sys, d); i != PCI_NONE; i = sys->devs[i].next_sibling) {
        struct pci_dev *t = &sys->devs[i];
        if (t == d || !pci_same_bus(t, d) || PCI_SLOT(t->devfn) != PCI_SLOT(d->devfn) ||
            pci_acs_enabled(sys, t, PCI_REQ_ACS))
            continue;
        int g = pci_alias_group(sys, t, v);
        if (g != PCI_NO_GROUP)
            return g;
    }
    return PCI_NO_GROUP;
}

/* The bridge that DMA from d appears to come from (or d), as pci_for_each_dma_alias visits
 * them; stops early at a bridge that already has a group. */
static struct pci_dev *pci_dma_alias_top(struct pci_system *sys, struct pci_dev *d)
{
    struct pci_dev *top = d;
    for (struct pci_dev *up = pci_parent(sys, d); up; up = pci_parent(sys, up)) {
        if (up->quirks & PCI_QUIRK_XLATE_ROOT)
            break;
        if (up->caps.exp && up->pcie_type != PCI_EXP_TYPE_PCI_BRIDGE &&
            up->pcie_type != PCI_EXP_TYPE_PCIE_BRIDGE)
            continue;   /* PCIe ports pass requester IDs through */
        top = up;
        if (up->group != PCI_NO_GROUP)
            break;
    }
    return top;
}

static int pci_new_group(struct pci_system *sys)
{
    for (unsigned w = 0; w < ARRAY_SIZE(sys->free_groups); w++) {
        for (uint64_t left = sys->free_groups[w]; left; left &= left - 1) {
            unsigned bit = (unsigned)__builtin_ctzll(left);
            int g = (int)(w * 64 + bit);
            if (sys->group_busy && sys->group_busy(g))
                continue;
            sys->free_groups[w] &= ~BIT(bit);
            return g;
        }
    }
    return (int)sys->ngroups++;
}

/* After a removal: a group left without members gives its number back. */
void pci_group_release(struct pci_system *sys, int g)
{
    if (g < 0 || (unsigned)g >= 64 * ARRAY_SIZE(sys->free_groups))
        return;
    for (uint32_t i = 0; i < sys->ndevs; i++)
        if (!sys->devs[i].gone && sys->devs[i].group == g)
            return;
    sys->free_groups[g / 64] |= BIT(g % 64);
}

static int pci_device_group(struct pci_system *sys, struct pci_dev *d)
{
    struct pci_dev *p = pci_dma_alias_top(sys, d);
    if (p->group != PCI_NO_GROUP)
        return p->group;
    /* Climb from the alias point while the ACS path to the root is broken. */
    for (struct pci_dev *up = pci_parent(sys, p); up; up = pci_parent(sys, up)) {
        if (pci_acs_path_enabled(sys, up))
            break;
        p = up;
        if (p->group != PCI_NO_GROUP)
            return p->group;
    }
    struct pci_visited v = { { 0 } };
    int g = pci_alias_group(sys, p, &v);
    if (g == PCI_NO_GROUP)
        g = pci_function_alias_group(sys, p, &v);
    if (g == PCI_NO_GROUP)
        g = pci_new_group(sys);
    return g;
}

static bool pci_has_dma_alias(const struct pci_dev *d)
{
    uint32_t any = 0;
    for (unsigned w = 0; w < ARRAY_SIZE(d->dma_alias); w++)
        any |= d->dma_alias[w];
    return any != 0;
}

/* Marks both ends of every DMA alias relation between functions of one bus, so that
 * pci_alias_group walks a bus only for functions that have one. Only quirked functions carry
 * alias bits: this costs O(functions with aliases x bus length), where walking the bus for
 * every function cost O(bus length^2). */
static void pci_mark_alias_peers(struct pci_system *sys)
{
    for (uint32_t i = 0; i < sys->ndevs; i++)
        sys->devs[i].alias_peer = false;
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (!pci_has_dma_alias(d))
            continue;
        for (uint32_t j = pci_bus_first(sys, d); j != PCI_NONE; j = sys->devs[j].next_sibling) {
            struct pci_dev *t = &sys->devs[j];
            if (t != d && pci_same_bus(t, d) && pci_devs_are_dma_aliases(d, t))
                d->alias_peer = t->alias_peer = true;
        }
    }
}

int pci_assign_groups(struct pci_system *sys)
{
    sys->ngroups = 0;
    memset(sys->free_groups, 0, sizeof(sys->free_groups));
    for (uint32_t i = 0; i < sys->ndevs; i++)
        sys->devs[i].group = PCI_NO_GROUP;
    pci_mark_alias_peers(sys);
    for (uint32_t i = 0; i < sys->ndevs; i++)
        if (!sys->devs[i].no_group)
            sys->devs[i].group = pci_device_group(sys, &sys->devs[i]);
    return (int)sys->ngroups;
}

/* Linux groups a hot-added device when it is probed, with the same rules: it joins the group
 * of an alias, a function without ACS or the bridge that breaks the ACS path, or gets the
 * lowest free number (Linux's group IDs come from an IDA: numbers of emptied groups return). */
void pci_group_added(struct pci_system *sys, uint32_t first)
{
    pci_mark_alias_peers(sys);
    for (uint32_t i = first; i < sys->ndevs; i++)
        if (!sys->devs[i].no_group && !sys->devs[i].gone)
            sys->devs[i].group = pci_device_group(sys, &sys->devs[i]);
}

static int pci_alias_call(struct pci_dev *dev, uint16_t rid, pci_alias_fn fn, void *arg)
{
    return fn(dev, rid, arg);
}

int pci_for_each_dma_alias(struct pci_system *sys, struct pci_dev *dev, pci_alias_fn fn,
                           void *arg)
{
    int ret = pci_alias_call(dev, PCI_RID(dev->bus, dev->devfn), fn, arg);
    for (unsigned devfn = 0; devfn < 256 && !ret; devfn++)
        if (pci_alias_bit(dev, (uint8_t)devfn))
            ret = pci_alias_call(dev, PCI_RID(dev->bus, devfn), fn, arg);
    for (struct pci_dev *up = pci_parent(sys, dev); up && !ret; up = pci_parent(sys, up)) {
        if (up->quirks & PCI_QUIRK_XLATE_ROOT)
            break;
        bool pcie_to_pci = up->caps.exp ? up->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE :
                           (up->quirks & PCI_QUIRK_PCIE_BRIDGE_ALIAS) != 0;
        if (up->caps.exp && !pcie_to_pci && up->pcie_type != PCI_EXP_TYPE_PCIE_BRIDGE)
            continue;
        /* A PCIe-to-PCI bridge forwards with (secondary bus, devfn 0) (PCIe-to-PCI Bridge
         * spec §2.3); other bridges with their own RID. */
        uint16_t rid = pcie_to_pci ? PCI_RID(up->secondary, 0) : PCI_RID(up->bus, up->devfn);
        ret = pci_alias_call(up, rid, fn, arg);
    }
    return ret;
}
