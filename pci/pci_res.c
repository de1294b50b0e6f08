/* Resource assignment: when firmware left a BAR of a host bridge's hierarchy unassigned (or
 * outside the windows that decode it), the whole hierarchy is laid out again from the host
 * bridge's apertures: window needs are summed bottom-up, then every bus is packed top-down,
 * largest alignment first, which leaves no holes between naturally aligned BARs. */
#include "pci/pci_internal.h"
#include "lib/errno.h"
#include "lib/log.h"

enum { PCI_RES_IO, PCI_RES_MEM, PCI_RES_PREF, PCI_RES_KINDS };
enum { PCI_ITEM_BAR, PCI_ITEM_VF_BAR, PCI_ITEM_WINDOW };

struct pci_res_item {
    struct pci_dev *dev;
    uint8_t what, idx, kind;
    bool is64;             /* may be placed above 4 GiB */
    uint64_t size, align;
};

struct pci_layout {
    int kind;              /* bridge level: the window kind */
    int root_region;       /* root level: 0 I/O, 1 mem32, 2 mem64; -1 at bridge level */
    bool has64;
    bool commit, overflow, need32;
    uint64_t cursor, cur_align, max_align;
    uint64_t aligns;       /* bit n set: some item has alignment 2^n */
};

static const uint64_t pci_granularity[PCI_RES_KINDS] = { 0x1000, 0x100000, 0x100000 };

static int pci_bar_kind(const struct pci_bar *b)
{
    if (b->flags & PCI_BAR_IO)
        return PCI_RES_IO;
    return (b->flags & PCI_BAR_PREFETCH) ? PCI_RES_PREF : PCI_RES_MEM;
}

static bool pci_bridge_has_bus(const struct pci_dev *d)
{
    return d->is_bridge && d->secondary > d->bus;
}

static void pci_layout_visit(struct pci_system *sys, struct pci_res_item *it, struct pci_layout *l);

static void pci_visit_bar(struct pci_system *sys, struct pci_dev *d, uint8_t what, uint8_t i,
                          const struct pci_bar *b, uint64_t count, struct pci_layout *l)
{
    if (!b->size || count == 0)
        return;
    struct pci_res_item it = { .dev = d, .what = what, .idx = i, .kind = (uint8_t)pci_bar_kind(b),
                               .align = b->size };
    it.is64 = it.kind == PCI_RES_PREF && (b->flags & PCI_BAR_MEM64);
    if (__builtin_mul_overflow(b->size, count, &it.size)) {
        l->overflow = true;
        return;
    }
    pci_layout_visit(sys, &it, l);
}

/* Every resource that the devices of one bus need from the window above them. */
static void pci_for_each_item(struct pci_system *sys, uint32_t first, struct pci_layout *l)
{
    for (uint32_t i = first; i != PCI_NONE; i = sys->devs[i].next_sibling) {
        struct pci_dev *d = &sys->devs[i];
        if (d->is_virtfn)
            continue;
        for (uint8_t b = 0; b < PCI_STD_NUM_BARS; b++)
            pci_visit_bar(sys, d, PCI_ITEM_BAR, b, &d->bar[b], 1, l);
        for (uint8_t b = 0; b < PCI_STD_NUM_BARS; b++)
            pci_visit_bar(sys, d, PCI_ITEM_VF_BAR, b, &d->vf_bar[b], pci_sriov_planned(d), l);
        if (!pci_bridge_has_bus(d))
            continue;
        for (uint8_t k = 0; k < PCI_RES_KINDS; k++) {
            if (!d->need_size[k])
                continue;
            struct pci_res_item it = { .dev = d, .what = PCI_ITEM_WINDOW, .kind = k,
                                       .size = d->need_size[k], .align = d->need_align[k] };
            it.is64 = k == PCI_RES_PREF && d->pref64 && !d->need32;
            pci_layout_visit(sys, &it, l);
        }
    }
}

static bool pci_item_in_region(const struct pci_layout *l, const struct pci_res_item *it)
{
    switch (l->root_region) {
    case -1: return it->kind == l->kind;
    case 0: return it->kind == PCI_RES_IO;
    case 1: return it->kind == PCI_RES_MEM || (it->kind == PCI_RES_PREF && !(l->has64 && it->is64));
    default: return it->kind == PCI_RES_PREF && l->has64 && it->is64;
    }
}

static void pci_place(struct pci_system *sys, struct pci_res_item *it, uint64_t addr);

static void pci_layout_visit(struct pci_system *sys, struct pci_res_item *it, struct pci_layout *l)
{
    if (!pci_item_in_region(l, it))
        return;
    if (it->kind == PCI_RES_PREF && !it->is64)
        l->need32 = true;
    l->max_align = MAX(l->max_align, it->align);
    l->aligns |= it->align;   /* alignments are powers of two */
    if (it->align != l->cur_align)
        return;
    uint64_t at = ALIGN_UP(l->cursor, it->align);
    if (at < l->cursor || __builtin_add_overflow(at, it->size, &l->cursor)) {
        l->overflow = true;
        l->cursor = UINT64_MAX;
        return;
    }
    if (l->commit && !l->overflow)
        pci_place(sys, it, at);
}

/* Packs one bus's items, largest alignment first; returns the bytes used from base. */
static uint64_t pci_layout_run(struct pci_system *sys, uint32_t first, struct pci_layout *l,
                               uint64_t base)
{
    l->cursor = base;
    l->cur_align = 0;   /* first pass: only learn which alignments occur */
    pci_for_each_item(sys, first, l);
    for (int shift = 63; shift >= 0 && !l->overflow; shift--) {
        if (!(l->aligns & (1ULL << shift)))
            continue;
        l->cur_align = 1ULL << shift;
        pci_for_each_item(sys, first, l);
    }
    return l->overflow ? UINT64_MAX : l->cursor - base;
}

static const uint64_t pci_hotplug_pad[PCI_RES_KINDS] = { 0, PCI_HOTPLUG_MEM_PAD,
                                                         PCI_HOTPLUG_PREF_PAD };

/* Room for what may be plugged later: a hot-plug port's windows never move once devices
 * below it are live, so they are sized for the largest plausible device from the start. */
static void pci_pad_hotplug(struct pci_dev *b)
{
    if (!b->hotplug_slot)
        return;
    for (int k = 0; k < PCI_RES_KINDS; k++)
        b->need_size[k] = MAX(b->need_size[k], pci_hotplug_pad[k]);
}

static bool pci_hotplug_windows_ok(const struct pci_dev *b)
{
    return !b->hotplug_slot || (b->win_mem.size >= PCI_HOTPLUG_MEM_PAD &&
                                b->win_pref.size >= PCI_HOTPLUG_PREF_PAD);
}

static void pci_size_bridge(struct pci_system *sys, struct pci_dev *b)
{
    b->need32 = false;
    for (int k = 0; k < PCI_RES_KINDS; k++) {
        struct pci_layout l = { .kind = k, .root_region = -1 };
        uint64_t used = pci_layout_run(sys, b->first_child, &l, 0);
        uint64_t g = pci_granularity[k];
        b->need_size[k] = used == UINT64_MAX ? UINT64_MAX / 2 + 1 : ALIGN_UP(used, g);
        b->need_align[k] = MAX(g, l.max_align);
        if (k == PCI_RES_PREF)
            b->need32 = l.need32;
    }
    pci_pad_hotplug(b);
}

static void pci_write_window(struct pci_system *sys, struct pci_dev *b, int kind, uint64_t base,
                             uint64_t size)
{
    uint64_t end = size ? base + size - 1 : 0;
    if (!size)
        base = UINT64_MAX;   /* base above limit: closed */
    if (kind == PCI_RES_IO) {
        pci_write8(sys, b, PCI_IO_BASE, (uint8_t)((base >> 8) & 0xf0));
        pci_write8(sys, b, PCI_IO_LIMIT, (uint8_t)((end >> 8) & 0xf0));
        pci_write16(sys, b, PCI_IO_BASE_UPPER16, size ? (uint16_t)(base >> 16) : 0);
        pci_write16(sys, b, PCI_IO_LIMIT_UPPER16, (uint16_t)(end >> 16));
    } else {
        uint16_t reg = kind == PCI_RES_MEM ? PCI_MEMORY_BASE : PCI_PREF_MEMORY_BASE;
        pci_write16(sys, b, reg, (uint16_t)((base >> 16) & 0xfff0));
        pci_write16(sys, b, reg + 2, (uint16_t)((end >> 16) & 0xfff0));
        if (kind == PCI_RES_PREF) {
            pci_write32(sys, b, PCI_PREF_BASE_UPPER32, size ? (uint32_t)(base >> 32) : 0);
            pci_write32(sys, b, PCI_PREF_LIMIT_UPPER32, (uint32_t)(end >> 32));
        }
    }
    pci_read_bridge_windows(sys, b);
}

static void pci_write_bar(struct pci_system *sys, struct pci_dev *d, uint16_t off,
                          struct pci_bar *bar, uint64_t addr)
{
    pci_write32(sys, d, off, (uint32_t)addr);
    if (bar->flags & PCI_BAR_MEM64)
        pci_write32(sys, d, off + 4, (uint32_t)(addr >> 32));
    bar->base = addr;
    bar->flags = (uint8_t)((bar->flags | PCI_BAR_ASSIGNED) & ~PCI_BAR_NOSPACE);
}

static void pci_place(struct pci_system *sys, struct pci_res_item *it, uint64_t addr)
{
    struct pci_dev *d = it->dev;

    if (it->what == PCI_ITEM_BAR) {
        pci_write_bar(sys, d, (uint16_t)(PCI_BASE_ADDRESS_0 + 4 * it->idx), &d->bar[it->idx], addr);
    } else if (it->what == PCI_ITEM_VF_BAR) {
        pci_write_bar(sys, d, (uint16_t)(d->caps.sriov + PCI_SRIOV_BAR + 4 * it->idx),
                      &d->vf_bar[it->idx], addr);
    } else {
        pci_write_window(sys, d, it->kind, addr, it->size);
        struct pci_layout l = { .kind = it->kind, .root_region = -1, .commit = true };
        pci_layout_run(sys, d->first_child, &l, addr);
    }
}

static bool pci_inside(const struct pci_aperture *w, uint64_t base, uint64_t size)
{
    return w->size && base >= w->base && size <= w->size && base - w->base <= w->size - size;
}

/* Is this BAR decoded where firmware put it: inside every bridge window above it? */
static bool pci_bar_fw_ok(struct pci_system *sys, struct pci_dev *d, const struct pci_bar *b,
                          uint64_t count)
{
    uint64_t size;
    if (!b->base || __builtin_mul_overflow(b->size, count, &size))
        return false;
    int kind = pci_bar_kind(b);
    for (struct pci_dev *up = pci_parent(sys, d); up; up = pci_parent(sys, up)) {
        bool in = kind == PCI_RES_IO ? pci_inside(&up->win_io, b->base, size) :
                  pci_inside(&up->win_mem, b->base, size) ||
                  (kind == PCI_RES_PREF && pci_inside(&up->win_pref, b->base, size));
        if (!in)
            return false;
    }
    /* The host apertures are where new assignments go; firmware knows its own windows. */
    return true;
}

static bool pci_host_fw_ok(struct pci_system *sys, unsigned h)
{
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (d->host != h || d->is_virtfn)
            continue;
        if (!pci_hotplug_windows_ok(d))
            return false;
        for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++) {
            if (d->bar[b].size && !pci_bar_fw_ok(sys, d, &d->bar[b], 1))
                return false;
            if (d->vf_bar[b].size && !pci_bar_fw_ok(sys, d, &d->vf_bar[b], pci_sriov_planned(d)))
                return false;
        }
    }
    return true;
}

static void pci_mark_fw_assigned(struct pci_system *sys, unsigned h)
{
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (d->host != h)
            continue;
        for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++) {
            if (d->bar[b].size)
                d->bar[b].flags |= PCI_BAR_ASSIGNED;
            if (d->vf_bar[b].size)
                d->vf_bar[b].flags |= PCI_BAR_ASSIGNED;
        }
    }
}

/* Decode off everywhere below the host, windows closed, assignments forgotten. */
static void pci_reset_host(struct pci_system *sys, unsigned h)
{
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (d->host != h || d->is_virtfn)
            continue;
        uint16_t cmd = pci_read16(sys, d, PCI_COMMAND);
        if (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY))
            pci_write16(sys, d, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        d->decode_restore = 0;      /* its BARs move: decode waits for its enable */
        for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++) {
            d->bar[b].flags &= (uint8_t)~(PCI_BAR_ASSIGNED | PCI_BAR_NOSPACE);
            d->vf_bar[b].flags &= (uint8_t)~PCI_BAR_ASSIGNED;
        }
        if (d->is_bridge)
            for (int k = 0; k < PCI_RES_KINDS; k++)
                pci_write_window(sys, d, k, 0, 0);
    }
}

static int pci_assign_region(struct pci_system *sys, unsigned h, int region,
                             const struct pci_aperture *ap)
{
    const struct pci_host_bridge *hb = &sys->host[h];
    struct pci_layout l = { .root_region = region, .has64 = hb->mem64.size != 0 };
    uint64_t used = pci_layout_run(sys, sys->root_first[h], &l, 0);
    if (used == 0)
        return 0;
    uint64_t start = ALIGN_UP(ap->base, l.max_align);
    if (used == UINT64_MAX || start < ap->base || !pci_inside(ap, start, used)) {
        kprintf("pci %04x:%02x: %s aperture too small (need %#llx), left unassigned\n", hb->seg,
                hb->bus_start, region == 0 ? "I/O" : region == 1 ? "mem32" : "mem64",
                (unsigned long long)used);
        sys->warnings++;
        return ERR(-ENOSPC);
    }
    struct pci_layout c = l;
    c.commit = true;
    c.overflow = false;
    pci_layout_run(sys, sys->root_first[h], &c, start);
    return 0;
}

static void pci_enable_bridges(struct pci_system *sys, unsigned h)
{
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (d->host != h || !d->is_bridge)
            continue;
        uint16_t cmd = pci_read16(sys, d, PCI_COMMAND) | PCI_COMMAND_MASTER;
        if (d->win_io.size)
            cmd |= PCI_COMMAND_IO;
        if (d->win_mem.size || d->win_pref.size)
            cmd |= PCI_COMMAND_MEMORY;
        pci_write16(sys, d, PCI_COMMAND, cmd);
    }
}

/* The BARs of d that placement left out found no room: Linux resets such a resource
 * (setup-bus.c, reset_resource), and nothing enables its decode afterwards. */
static void pci_mark_nospace(struct pci_dev *d)
{
    for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++)
        if (d->bar[b].size && !(d->bar[b].flags & PCI_BAR_ASSIGNED))
            d->bar[b].flags |= PCI_BAR_NOSPACE;
}

static int pci_assign_host(struct pci_system *sys, unsigned h)
{
    const struct pci_host_bridge *hb = &sys->host[h];
    int ret = 0, r;

    pci_reset_host(sys, h);
    for (uint32_t i = sys->ndevs; i-- > 0;)   /* children come after their bridge */
        if (sys->devs[i].host == h && pci_bridge_has_bus(&sys->devs[i]))
            pci_size_bridge(sys, &sys->devs[i]);
    if ((r = pci_assign_region(sys, h, 0, &hb->io)))
        ret = r;
    if ((r = pci_assign_region(sys, h, 1, &hb->mem32)))
        ret = r;
    if (hb->mem64.size && (r = pci_assign_region(sys, h, 2, &hb->mem64)))
        ret = r;
    for (uint32_t i = 0; ret && i < sys->ndevs; i++)
        if (sys->devs[i].host == h && !sys->devs[i].is_virtfn)
            pci_mark_nospace(&sys->devs[i]);
    pci_enable_bridges(sys, h);
    return ret;
}

int pci_assign_resources(struct pci_system *sys)
{
    int ret = 0;

    for (unsigned h = 0; h < sys->nhost; h++) {
        if (pci_host_fw_ok(sys, h)) {
            pci_mark_fw_assigned(sys, h);
            continue;
        }
        int r = pci_assign_host(sys, h);
        if (r)
            ret = r;
    }
    return ret;
}

/* The new subtree below a hot-plug port, packed into the port's windows as they are (they
 * were padded at boot; moving them would move live devices). A kind that does not fit (an I/O
 * BAR below a port without an I/O window, say) is named and left unassigned, the others are
 * placed, as Linux does; -ENOSPC then. */
int pci_assign_below(struct pci_system *sys, struct pci_dev *port)
{
    int ret = 0;
    for (uint32_t i = sys->ndevs; i-- > 0;) {
        struct pci_dev *d = &sys->devs[i];
        if (!d->gone && d != port && d->depth > port->depth && pci_bridge_has_bus(d))
            pci_size_bridge(sys, d);   /* a plugged switch: its windows first */
    }
    const struct pci_aperture *win[PCI_RES_KINDS] = { &port->win_io, &port->win_mem,
                                                      &port->win_pref };
    for (int k = 0; k < PCI_RES_KINDS; k++) {
        struct pci_layout l = { .kind = k, .root_region = -1 };
        uint64_t used = pci_layout_run(sys, port->first_child, &l, win[k]->base);
        if (used == 0)
            continue;
        if (used != UINT64_MAX && pci_inside(win[k], win[k]->base, used)) {
            l = (struct pci_layout){ .kind = k, .root_region = -1, .commit = true };
            pci_layout_run(sys, port->first_child, &l, win[k]->base);
        } else {
            char bdf[16];
            pci_format_bdf(port, bdf, sizeof(bdf));
            kprintf("pci %s: hot-plug: %s window [%#llx +%#llx] cannot hold %#llx "
                    "bytes; those BARs stay unassigned\n", bdf,
                    k == PCI_RES_IO ? "I/O" : k == PCI_RES_MEM ? "memory" : "prefetchable",
                    (unsigned long long)win[k]->base, (unsigned long long)win[k]->size,
                    (unsigned long long)(used == UINT64_MAX ? 0 : used));
            sys->warnings++;
            ret = ERR(-ENOSPC);
        }
    }
    for (uint32_t i = 0; ret && i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        const struct pci_dev *up = d;
        while (up && up != port)
            up = pci_parent(sys, up);
        if (up && d != port && !d->gone && !d->is_virtfn)
            pci_mark_nospace(d);
    }
    return ret;
}
