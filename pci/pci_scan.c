/* Enumeration: depth-first over every root bus, through root ports, switch ports and PCI
 * bridges, with Linux's scan order (all functions of a bus, then the bridges whose bus numbers
 * firmware set, then those it left unconfigured). */
#include "pci/pci_internal.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define PCI_MAX_DEPTH 64

struct pci_scan {
    uint8_t host;
    uint64_t seen[4];     /* bus numbers already scanned under this host bridge */
    unsigned max_used;    /* highest bus number scanned or reserved so far */
};

static bool pci_bus_seen(const struct pci_scan *st, unsigned bus)
{
    return st->seen[bus / 64] & BIT(bus % 64);
}

static void pci_mark_bus(struct pci_scan *st, unsigned bus)
{
    st->seen[bus / 64] |= BIT(bus % 64);
    st->max_used = MAX(st->max_used, bus);
}

static bool pci_id_present(uint32_t id)
{
    return id != 0xffffffffu && id != 0 && (id & 0xffff) != 0xffff && (id & 0xffff) != 0;
}

static void pci_enable_acs(struct pci_system *sys, struct pci_dev *dev)
{
    if (!dev->caps.acs || (sys->flags & PCI_SYS_NO_ACS_ENABLE))
        return;
    uint16_t cap = pci_read16(sys, dev, dev->caps.acs + PCI_ACS_CAP);
    uint16_t ctrl = pci_read16(sys, dev, dev->caps.acs + PCI_ACS_CTRL);
    uint16_t want = cap & (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
    if ((ctrl & want) != want)
        pci_write16(sys, dev, dev->caps.acs + PCI_ACS_CTRL, ctrl | want);
}

static void pci_read_bridge_buses(struct pci_system *sys, struct pci_dev *dev)
{
    uint32_t v = pci_read32(sys, dev, PCI_PRIMARY_BUS);
    dev->secondary = (uint8_t)(v >> 8);
    dev->subordinate = (uint8_t)(v >> 16);
}

/* Reads one function's header; NULL when absent (or devs[] is full). */
static struct pci_dev *pci_scan_function(struct pci_system *sys, struct pci_scan *st,
                                         uint8_t bus, uint8_t devfn, uint32_t parent)
{
    uint16_t seg = sys->host[st->host].seg;
    uint32_t id = pci_cfg_read(sys, seg, bus, devfn, PCI_VENDOR_ID, 4);
    if (!pci_id_present(id))
        return NULL;
    uint8_t hdr = (uint8_t)pci_cfg_read(sys, seg, bus, devfn, PCI_HEADER_TYPE, 1);
    if (FIELD_GET(PCI_HEADER_TYPE_LAYOUT, hdr) > PCI_HEADER_TYPE_CARDBUS) {
        kprintf("pci %04x:%02x:%02x.%x: unknown header type %#x, ignored\n", seg, bus,
                PCI_SLOT(devfn), PCI_FUNC(devfn), hdr);
        return NULL;
    }
    struct pci_dev *dev = pci_alloc_dev(sys, parent, st->host);
    if (!dev)
        return NULL;
    dev->seg = seg;
    dev->bus = bus;
    dev->devfn = devfn;
    dev->host = st->host;
    dev->vendor = (uint16_t)id;
    dev->device = (uint16_t)(id >> 16);
    dev->class_rev = pci_cfg_read(sys, seg, bus, devfn, PCI_CLASS_REVISION, 4);
    dev->no_group = (dev->class_rev >> 16) == PCI_CLASS_SYSTEM_IOMMU;
    dev->hdr_type = (uint8_t)FIELD_GET(PCI_HEADER_TYPE_LAYOUT, hdr);
    dev->multifunction = hdr & PCI_HEADER_TYPE_MFD;
    dev->is_bridge = dev->hdr_type == PCI_HEADER_TYPE_BRIDGE;
    pci_parse_caps(sys, dev);
    pci_apply_quirks(sys, dev);
    if (dev->is_bridge) {
        pci_read_bridge_buses(sys, dev);
        pci_read_bridge_windows(sys, dev);
    }
    pci_size_bars(sys, dev);
    pci_enable_acs(sys, dev);
    return dev;
}

/* Linux's pci_configure_ari: a Downstream/Root Port forwards ARI functions only when function 0
 * below it has an ARI capability. */
static void pci_configure_ari(struct pci_system *sys, struct pci_dev *bridge, struct pci_dev *fn0)
{
    if (!bridge || !bridge->caps.exp)
        return;
    uint16_t pos = bridge->caps.exp;
    if (!(pci_read32(sys, bridge, pos + PCI_EXP_DEVCAP2) & PCI_EXP_DEVCAP2_ARI))
        return;
    uint16_t ctl = pci_read16(sys, bridge, pos + PCI_EXP_DEVCTL2);
    bridge->ari_fwd = fn0->caps.ari != 0;
    if (bridge->ari_fwd)
        ctl |= PCI_EXP_DEVCTL2_ARI;
    else
        ctl &= (uint16_t)~PCI_EXP_DEVCTL2_ARI;
    pci_write16(sys, bridge, pos + PCI_EXP_DEVCTL2, ctl);
}

/* Behind an ARI-forwarding port, functions 0-255 of device 0 follow the Next Function Number
 * chain, which must strictly increase. */
static void pci_scan_ari(struct pci_system *sys, struct pci_scan *st, uint8_t bus,
                         uint32_t parent, struct pci_dev *fn0)
{
    struct pci_dev *dev = fn0;
    unsigned fn = 0;

    while (dev) {
        if (!dev->caps.ari)
            return;
        unsigned next = FIELD_GET(PCI_ARI_CAP_NFN, pci_read16(sys, dev, dev->caps.ari + PCI_ARI_CAP));
        if (next == 0)
            return;
        if (next <= fn) {
            pci_warn(sys, dev, PCI_WARN_ARI, "ARI next function does not increase");
            return;
        }
        fn = next;
        dev = pci_scan_function(sys, st, bus, (uint8_t)fn, parent);
        if (dev)
            dev->multifunction = true;
    }
}

static void pci_scan_slot(struct pci_system *sys, struct pci_scan *st, uint8_t bus,
                          unsigned slot, uint32_t parent)
{
    struct pci_dev *fn0 = pci_scan_function(sys, st, bus, PCI_DEVFN(slot, 0), parent);
    if (!fn0 || !fn0->multifunction)
        return;
    for (unsigned fn = 1; fn < 8; fn++) {
        struct pci_dev *dev = pci_scan_function(sys, st, bus, PCI_DEVFN(slot, fn), parent);
        if (dev)
            dev->multifunction = true;
    }
}

/* PCIe links below Root and Downstream Ports carry only device 0 (Linux's only_one_child). */
static bool pci_only_device0(const struct pci_dev *bridge)
{
    return bridge && bridge->caps.exp && (bridge->pcie_type == PCI_EXP_TYPE_ROOT_PORT ||
                                          bridge->pcie_type == PCI_EXP_TYPE_DOWNSTREAM);
}

static void pci_scan_devices(struct pci_system *sys, struct pci_scan *st, uint8_t bus,
                             uint32_t parent)
{
    struct pci_dev *bridge = pci_dev_at(sys, parent);

    if (!pci_only_device0(bridge)) {
        for (unsigned slot = 0; slot < 32; slot++)
            pci_scan_slot(sys, st, bus, slot, parent);
        return;
    }
    struct pci_dev *fn0 = pci_scan_function(sys, st, bus, 0, parent);
    if (!fn0)
        return;
    pci_configure_ari(sys, bridge, fn0);
    if (bridge->ari_fwd) {
        pci_scan_ari(sys, st, bus, parent, fn0);
    } else if (fn0->multifunction) {
        for (unsigned fn = 1; fn < 8; fn++) {
            struct pci_dev *dev = pci_scan_function(sys, st, bus, PCI_DEVFN(0, fn), parent);
            if (dev)
                dev->multifunction = true;
        }
    }
}

static uint8_t pci_scan_bus(struct pci_system *sys, struct pci_scan *st, uint8_t bus,
                            uint32_t parent, uint8_t limit);

static void pci_write_bus_numbers(struct pci_system *sys, struct pci_dev *b, uint8_t pri,
                                  uint8_t sec, uint8_t sub)
{
    uint32_t v = pci_read32(sys, b, PCI_PRIMARY_BUS);
    v = (v & 0xff000000u) | ((uint32_t)sub << 16) | ((uint32_t)sec << 8) | pri;
    pci_write32(sys, b, PCI_PRIMARY_BUS, v);
    b->secondary = sec;
    b->subordinate = sub;
}

/* Firmware's numbers are kept when they describe an unused range inside the parent's. */
static bool pci_bridge_buses_ok(struct pci_system *sys, struct pci_scan *st, struct pci_dev *b,
                                uint8_t limit)
{
    uint8_t pri = pci_read8(sys, b, PCI_PRIMARY_BUS);
    if (b->secondary == 0 && b->subordinate == 0)
        return false;   /* never configured: not worth a warning */
    bool ok = pri == b->bus && b->secondary > b->bus && b->subordinate >= b->secondary &&
              b->subordinate <= limit;
    for (unsigned n = b->secondary; ok && n <= b->subordinate; n++)
        ok = !pci_bus_seen(st, n);
    if (!ok)
        pci_warn(sys, b, PCI_WARN_BUS_NUMBERS, "invalid bridge bus numbers, reassigning");
    return ok;
}

static uint8_t pci_scan_bridge_fw(struct pci_system *sys, struct pci_scan *st, struct pci_dev *b)
{
    uint32_t idx = pci_dev_index(sys, b);
    uint8_t max = pci_scan_bus(sys, st, b->secondary, idx, b->subordinate);
    /* The whole range stays reserved for this bridge, used or not. */
    for (unsigned n = b->secondary; n <= b->subordinate; n++)
        pci_mark_bus(st, n);
    return MAX(max, b->subordinate);
}

static uint8_t pci_scan_bridge_assign(struct pci_system *sys, struct pci_scan *st,
                                      struct pci_dev *b, uint8_t limit)
{
    if (st->max_used >= limit) {
        pci_warn(sys, b, PCI_WARN_NO_BUS, "no bus number left for this bridge");
        pci_write_bus_numbers(sys, b, b->bus, 0, 0);
        return b->bus;
    }
    uint8_t sec = (uint8_t)(st->max_used + 1);
    /* Open the whole remaining range while scanning below, then close it to what was used. */
    pci_write_bus_numbers(sys, b, b->bus, sec, limit);
    pci_mark_bus(st, sec);
    uint8_t max = pci_scan_bus(sys, st, sec, pci_dev_index(sys, b), limit);
    pci_write_bus_numbers(sys, b, b->bus, sec, max);
    return max;
}

/* The bridges among bus's devices: pass 0 keeps firmware's numbers, pass 1 assigns. */
static uint8_t pci_scan_bridges(struct pci_system *sys, struct pci_scan *st, uint8_t bus,
                                uint32_t first, uint8_t limit, uint8_t max)
{
    for (uint32_t i = first; i != PCI_NONE; i = sys->devs[i].next_sibling) {
        struct pci_dev *b = &sys->devs[i];
        b->bus_fw_ok = b->is_bridge && pci_bridge_buses_ok(sys, st, b, limit);
        if (b->bus_fw_ok) {
            uint8_t sub = pci_scan_bridge_fw(sys, st, b);   /* MAX() would scan twice */
            max = MAX(max, sub);
        }
    }
    for (uint32_t i = first; i != PCI_NONE; i = sys->devs[i].next_sibling) {
        struct pci_dev *b = &sys->devs[i];
        if (b->is_bridge && !b->bus_fw_ok && b->bus == bus) {
            uint8_t sub = pci_scan_bridge_assign(sys, st, b, limit);
            max = MAX(max, sub);
        }
    }
    return max;
}

static uint8_t pci_scan_bus(struct pci_system *sys, struct pci_scan *st, uint8_t bus,
                            uint32_t parent, uint8_t limit)
{
    struct pci_dev *bridge = pci_dev_at(sys, parent);
    uint32_t first = sys->ndevs;
    uint8_t max = bus;

    pci_mark_bus(st, bus);
    if (bridge && bridge->depth >= PCI_MAX_DEPTH) {
        pci_warn(sys, bridge, PCI_WARN_NO_BUS, "bridges nested too deep, not scanned");
        return bus;
    }
    pci_scan_devices(sys, st, bus, parent);
    for (uint32_t i = first; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (d->caps.sriov && d->parent == parent) {
            uint8_t last = pci_sriov_scan(sys, d);
            if (last > limit) {
                pci_warn(sys, d, PCI_WARN_SRIOV, "VF bus numbers beyond the bridge's range");
                last = limit;
            }
            max = MAX(max, last);
            for (unsigned n = bus + 1; n <= last; n++)
                pci_mark_bus(st, n);
        }
    }
    if (first >= sys->ndevs)
        return max;
    return pci_scan_bridges(sys, st, bus, first, limit, max);
}

uint32_t pci_scan_below(struct pci_system *sys, struct pci_dev *port)
{
    uint32_t first = sys->ndevs;
    if (!port->is_bridge || port->first_child != PCI_NONE || port->secondary <= port->bus)
        return first;
    struct pci_scan st = { .host = port->host, .max_used = port->secondary };
    pci_scan_bus(sys, &st, port->secondary, pci_dev_index(sys, port), port->subordinate);
    return first;
}

void pci_forget(struct pci_system *sys, struct pci_dev *dev)
{
    int g = dev->group;
    dev->gone = true;
    dev->group = PCI_NO_GROUP;
    dev->driver = NULL;
    pci_group_release(sys, g);
}

/* Marks dev and everything below it (and its VFs, which come after it) gone. */
static void pci_forget_subtree(struct pci_system *sys, struct pci_dev *dev)
{
    uint32_t idx = pci_dev_index(sys, dev);
    for (uint32_t c = dev->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
        pci_forget_subtree(sys, &sys->devs[c]);
    for (uint32_t v = idx + 1; v < sys->ndevs; v++)
        if (sys->devs[v].is_virtfn && sys->devs[v].physfn == idx)
            pci_forget(sys, &sys->devs[v]);
    pci_forget(sys, dev);
}

void pci_trim_gone(struct pci_system *sys)
{
    while (sys->ndevs > 0 && sys->devs[sys->ndevs - 1].gone)
        sys->ndevs--;
}

void pci_remove_below(struct pci_system *sys, struct pci_dev *port)
{
    for (uint32_t c = port->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
        pci_forget_subtree(sys, &sys->devs[c]);
    port->first_child = port->last_child = PCI_NONE;
    pci_trim_gone(sys);
}

int pci_enumerate(struct pci_system *sys)
{
    for (unsigned h = 0; h < sys->nhost; h++) {
        struct pci_scan st = { .host = (uint8_t)h, .max_used = sys->host[h].bus_start };
        pci_scan_bus(sys, &st, sys->host[h].bus_start, PCI_NONE, sys->host[h].bus_end);
    }
    return sys->overflow ? ERR(-ENOSPC) : (int)sys->ndevs;
}
