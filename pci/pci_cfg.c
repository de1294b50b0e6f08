/* Configuration-space access, device storage and lookup. */
#include "pci/pci_internal.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"

uint32_t pci_cfg_read(struct pci_system *sys, uint16_t seg, uint8_t bus, uint8_t devfn,
                      uint16_t off, unsigned width)
{
    uint32_t v = sys->ops->read(sys->ctx, seg, bus, devfn, off, width);
    if (width == 1)
        return v & 0xff;
    if (width == 2)
        return v & 0xffff;
    return v;
}

void pci_cfg_write(struct pci_system *sys, uint16_t seg, uint8_t bus, uint8_t devfn,
                   uint16_t off, unsigned width, uint32_t val)
{
    sys->ops->write(sys->ctx, seg, bus, devfn, off, width, val);
}

/* Accesses from drivers are checked: misaligned or beyond the function's config space reads
 * all ones and writes nothing. */
static bool pci_access_ok(const struct pci_dev *dev, uint16_t off, unsigned width)
{
    return (off & (width - 1)) == 0 && (uint32_t)off + width <= dev->cfg_size;
}

uint8_t pci_read8(struct pci_system *sys, const struct pci_dev *dev, uint16_t off)
{
    if (!pci_access_ok(dev, off, 1))
        return 0xff;
    return (uint8_t)pci_cfg_read(sys, dev->seg, dev->bus, dev->devfn, off, 1);
}

uint16_t pci_read16(struct pci_system *sys, const struct pci_dev *dev, uint16_t off)
{
    if (!pci_access_ok(dev, off, 2))
        return 0xffff;
    return (uint16_t)pci_cfg_read(sys, dev->seg, dev->bus, dev->devfn, off, 2);
}

uint32_t pci_read32(struct pci_system *sys, const struct pci_dev *dev, uint16_t off)
{
    if (!pci_access_ok(dev, off, 4))
        return 0xffffffffu;
    return pci_cfg_read(sys, dev->seg, dev->bus, dev->devfn, off, 4);
}

void pci_write8(struct pci_system *sys, const struct pci_dev *dev, uint16_t off, uint8_t v)
{
    if (pci_access_ok(dev, off, 1))
        pci_cfg_write(sys, dev->seg, dev->bus, dev->devfn, off, 1, v);
}

void pci_write16(struct pci_system *sys, const struct pci_dev *dev, uint16_t off, uint16_t v)
{
    if (pci_access_ok(dev, off, 2))
        pci_cfg_write(sys, dev->seg, dev->bus, dev->devfn, off, 2, v);
}

void pci_write32(struct pci_system *sys, const struct pci_dev *dev, uint16_t off, uint32_t v)
{
    if (pci_access_ok(dev, off, 4))
        pci_cfg_write(sys, dev->seg, dev->bus, dev->devfn, off, 4, v);
}

void pci_format_bdf(const struct pci_dev *dev, char *buf, size_t size)
{
    fmt_snprintf(buf, size, "%04x:%02x:%02x.%x", dev->seg, dev->bus, PCI_SLOT(dev->devfn),
                 PCI_FUNC(dev->devfn));
}

void pci_warn(struct pci_system *sys, struct pci_dev *dev, uint32_t kind, const char *what)
{
    char bdf[16];

    if (dev->warnings & kind)
        return;
    dev->warnings |= kind;
    sys->warnings++;
    pci_format_bdf(dev, bdf, sizeof(bdf));
    kprintf("pci %s: warning: %s\n", bdf, what);
}

int pci_system_init(struct pci_system *sys, const struct pci_cfg_ops *ops, void *ctx,
                    const struct pci_host_bridge *host, unsigned nhost,
                    struct pci_dev *devs, uint32_t max_devs, uint32_t flags)
{
    if (!sys || !ops || !ops->read || !ops->write || !host || !devs || max_devs == 0)
        return ERR(-EINVAL);
    if (nhost == 0 || nhost > PCI_MAX_HOST_BRIDGES || max_devs >= PCI_NONE)
        return ERR(-EINVAL);
    for (unsigned i = 0; i < nhost; i++)
        if (host[i].bus_end < host[i].bus_start)
            return ERR(-EINVAL);
    memset(sys, 0, sizeof(*sys));
    sys->ops = ops;
    sys->ctx = ctx;
    memcpy(sys->host, host, nhost * sizeof(*host));
    sys->nhost = nhost;
    sys->devs = devs;
    sys->max_devs = max_devs;
    sys->flags = flags;
    for (unsigned i = 0; i < PCI_MAX_HOST_BRIDGES; i++)
        sys->root_first[i] = sys->root_last[i] = PCI_NONE;
    return 0;
}

struct pci_dev *pci_dev_at(struct pci_system *sys, uint32_t idx)
{
    return idx < sys->ndevs ? &sys->devs[idx] : NULL;
}

struct pci_dev *pci_parent(struct pci_system *sys, const struct pci_dev *dev)
{
    return pci_dev_at(sys, dev->parent);
}

uint32_t pci_dev_index(const struct pci_system *sys, const struct pci_dev *dev)
{
    return (uint32_t)(dev - sys->devs);
}

/* Children are kept in discovery order: append at the tail of the sibling list. The tail is
 * kept so that a bus of k functions (or a PF's k VFs) costs O(k), not O(k^2). */
static void pci_link_child(struct pci_system *sys, uint32_t *head, uint32_t *tail, uint32_t idx)
{
    if (*head == PCI_NONE)
        *head = idx;
    else
        sys->devs[*tail].next_sibling = idx;
    *tail = idx;
}

struct pci_dev *pci_alloc_dev(struct pci_system *sys, uint32_t parent, unsigned root)
{
    if (sys->ndevs >= sys->max_devs) {
        if (!sys->overflow)
            kprintf("pci: device array full (%u), further devices ignored\n", sys->max_devs);
        sys->overflow = true;
        return NULL;
    }
    uint32_t idx = sys->ndevs++;
    struct pci_dev *dev = &sys->devs[idx];
    memset(dev, 0, sizeof(*dev));
    dev->parent = parent;
    dev->first_child = dev->last_child = dev->next_sibling = dev->physfn = PCI_NONE;
    dev->group = PCI_NO_GROUP;
    if (parent == PCI_NONE) {
        pci_link_child(sys, &sys->root_first[root], &sys->root_last[root], idx);
    } else {
        struct pci_dev *up = &sys->devs[parent];
        dev->depth = (uint8_t)(up->depth + 1);
        pci_link_child(sys, &up->first_child, &up->last_child, idx);
    }
    return dev;
}

void pci_unlink_dev(struct pci_system *sys, uint32_t idx)
{
    struct pci_dev *dev = &sys->devs[idx];
    uint32_t *head, *tail;
    if (dev->parent == PCI_NONE) {
        head = &sys->root_first[dev->host];
        tail = &sys->root_last[dev->host];
    } else {
        head = &sys->devs[dev->parent].first_child;
        tail = &sys->devs[dev->parent].last_child;
    }
    uint32_t prev = PCI_NONE;
    for (uint32_t c = *head; c != PCI_NONE; prev = c, c = sys->devs[c].next_sibling) {
        if (c != idx)
            continue;
        if (prev == PCI_NONE)
            *head = dev->next_sibling;
        else
            sys->devs[prev].next_sibling = dev->next_sibling;
        if (*tail == idx)
            *tail = prev;
        break;
    }
    dev->next_sibling = PCI_NONE;
}

struct pci_dev *pci_get_dev(struct pci_system *sys, uint16_t seg, uint8_t bus, uint8_t devfn)
{
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (!d->gone && d->seg == seg && d->bus == bus && d->devfn == devfn)
            return d;
    }
    return NULL;
}

struct pci_dev *pci_get_dev_by_id(struct pci_system *sys, uint16_t vendor, uint16_t device,
                                  struct pci_dev *from)
{
    uint32_t i = from ? pci_dev_index(sys, from) + 1 : 0;
    for (; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (!d->gone && d->vendor == vendor && (device == 0xffff || d->device == device))
            return d;
    }
    return NULL;
}

const struct pci_dev *pci_intx_root(struct pci_system *sys, const struct pci_dev *dev,
                                    unsigned *pin)
{
    uint8_t p = pci_read8(sys, dev, PCI_INTERRUPT_PIN);
    if (p < 1 || p > 4)
        return NULL;
    unsigned q = p - 1u;
    const struct pci_dev *d = dev;
    while (d->parent != PCI_NONE) {
        q = (q + (d->devfn >> 3)) % 4;
        d = &sys->devs[d->parent];
    }
    *pin = q;
    return d;
}

void pci_set_driver(struct pci_dev *dev, const char *name)
{
    dev->driver = name;
}

int pci_enable_device(struct pci_system *sys, struct pci_dev *dev)
{
    return pci_enable_device_cmd(sys, dev, 0);
}

static int pci_set_command(struct pci_system *sys, struct pci_dev *dev, uint16_t extra);

int pci_enable_device_cmd(struct pci_system *sys, struct pci_dev *dev, uint16_t extra)
{
    return pci_set_command(sys, dev, PCI_COMMAND_MASTER | extra);
}

int pci_enable_decode(struct pci_system *sys, struct pci_dev *dev)
{
    return pci_set_command(sys, dev, 0);
}

void pci_clear_master(struct pci_system *sys, struct pci_dev *dev)
{
    uint16_t cmd = pci_read16(sys, dev, PCI_COMMAND);
    if (cmd != 0xffff && (cmd & PCI_COMMAND_MASTER))
        pci_write16(sys, dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
}

/* Decode for every assigned BAR plus the bits in extra, in one write. Drivers (bus mastering
 * asked) need every BAR: one not assigned is -EBUSY. vfio-pci's enable (extra 0) is Linux's:
 * a BAR that found no room is skipped, one never placed is -EINVAL. */
static int pci_set_command(struct pci_system *sys, struct pci_dev *dev, uint16_t extra)
{
    uint16_t cmd = pci_read16(sys, dev, PCI_COMMAND);
    if (cmd == 0xffff)
        return ERR(-ENODEV);
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
        const struct pci_bar *b = &dev->bar[i];
        if (!b->size)
            continue;
        if (!(b->flags & PCI_BAR_ASSIGNED) && extra)
            return ERR(-EBUSY);
        if (b->flags & PCI_BAR_NOSPACE)
            continue;
        if (!(b->flags & PCI_BAR_ASSIGNED)) {
            char bdf[16];
            pci_format_bdf(dev, bdf, sizeof(bdf));
            kprintf("pci %s: BAR %u [%s size %#llx]: not assigned; can't enable device\n", bdf,
                    i, (b->flags & PCI_BAR_IO) ? "io" : "mem", (unsigned long long)b->size);
            return ERR(-EINVAL);
        }
        cmd |= (b->flags & PCI_BAR_IO) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    }
    cmd |= extra;
    pci_write16(sys, dev, PCI_COMMAND, cmd);
    dev->decode_restore = 0;
    return 0;
}

unsigned pci_restore_decode(struct pci_system *sys)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (!d->decode_restore)
            continue;
        uint16_t cmd = pci_read16(sys, d, PCI_COMMAND);
        pci_write16(sys, d, PCI_COMMAND, cmd | d->decode_restore);
        d->decode_restore = 0;
        n++;
    }
    return n;
}
