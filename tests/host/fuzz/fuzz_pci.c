/* Fuzzing the PCI core's walk of configuration space: enumeration (capability lists, bridges
 * and bus numbers, ARI, SR-IOV), BAR sizing, resource layout, groups, DMA aliases, and the
 * hot-plug steps (rescan, placement in the port's windows, removal) on every port that claims
 * a hot-plug slot. Configuration space is the input: byte 0 holds options, then records
 *     bus (mod 4), devfn, offset (2 bytes, mod 4096), length n, n bytes
 * each writing into the 4 KiB space of that function (up to 24 functions; the others read all
 * ones). Option bit 0: writes by the core stick (else they are dropped, as a broken device
 * drops them); bit 1: the AMD IVRS quirks; bit 2: leave ACS alone; bit 3: enable SR-IOV VFs.
 * Afterwards the tree must be consistent: links inside the array, groups numbered below the
 * count, BARs the core assigned inside their decoding windows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pci/pci.h"

#define FZ_FNS 24
#define FZ_DEVS 512

struct fz_fn {
    bool used;
    uint8_t bus, devfn;
    uint8_t cfg[4096];
};

static struct fz_fn fns[FZ_FNS];
static bool writes_stick;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_fn *fz_find(uint8_t bus, uint8_t devfn, bool create)
{
    for (unsigned i = 0; i < FZ_FNS; i++)
        if (fns[i].used && fns[i].bus == bus && fns[i].devfn == devfn)
            return &fns[i];
    for (unsigned i = 0; create && i < FZ_FNS; i++) {
        if (!fns[i].used) {
            fns[i] = (struct fz_fn){ .used = true, .bus = bus, .devfn = devfn };
            return &fns[i];
        }
    }
    return NULL;
}

static uint32_t fz_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                        unsigned width)
{
    struct fz_fn *f = fz_find(bus, devfn, false);
    if (!f || off + width > 4096)
        return width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
    uint32_t v = 0;
    memcpy(&v, f->cfg + off, width);
    return v;
}

static void fz_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                     unsigned width, uint32_t val)
{
    struct fz_fn *f = fz_find(bus, devfn, false);
    if (f && writes_stick && off + width <= 4096)
        memcpy(f->cfg + off, &val, width);
}

static const struct pci_cfg_ops fz_ops = { fz_read, fz_write, NULL };

static void load(const uint8_t *data, size_t size)
{
    memset(fns, 0, sizeof(fns));
    for (size_t i = 1; i + 5 <= size;) {
        uint8_t bus = data[i] & 3, devfn = data[i + 1];
        uint16_t off = (uint16_t)((data[i + 2] | data[i + 3] << 8) & 0xfff);
        size_t n = data[i + 4];
        i += 5;
        n = n > size - i ? size - i : n;
        n = n > 4096u - off ? 4096u - off : n;
        struct fz_fn *f = fz_find(bus, devfn, true);
        if (f)
            memcpy(f->cfg + off, data + i, n);
        i += n;
    }
}

static bool inside(const struct pci_aperture *w, const struct pci_bar *b)
{
    return w->size && b->base >= w->base && b->size <= w->size && b->base - w->base <= w->size - b->size;
}

static int count_alias(struct pci_dev *dev, uint16_t rid, void *arg)
{
    ++*(unsigned *)arg;
    return 0;
}

/* Links and groups stay inside the array; what the core placed below a port it rescanned
 * lies in that port's windows. */
static void check_tree(struct pci_system *sys)
{
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if ((d->parent != PCI_NONE && d->parent >= sys->ndevs) ||
            (d->group != PCI_NO_GROUP && (d->group < 0 || (unsigned)d->group >= sys->ngroups)))
            abort();
        if (d->gone)
            continue;
        unsigned n = 0;
        pci_for_each_dma_alias(sys, d, count_alias, &n);
        if (n == 0)
            abort();
        pci_find_cap(sys, d, 0x10);
        pci_find_ext_cap(sys, d, 0x0d);
    }
}

static void hotplug_steps(struct pci_system *sys)
{
    uint32_t n = sys->ndevs;
    for (uint32_t i = 0; i < n && i < sys->ndevs; i++) {
        struct pci_dev *port = &sys->devs[i];
        if (port->gone || !port->hotplug_slot || !port->secondary)
            continue;
        pci_remove_below(sys, port);
        uint32_t first = pci_scan_below(sys, port);
        if (pci_assign_below(sys, port) == 0) {
            for (uint32_t k = first; k < sys->ndevs; k++)
                for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++) {
                    const struct pci_bar *bar = &sys->devs[k].bar[b];
                    if (sys->devs[k].parent == i && bar->size && !(bar->flags & PCI_BAR_IO) &&
                        (bar->flags & PCI_BAR_ASSIGNED) && !inside(&port->win_mem, bar) &&
                        !inside(&port->win_pref, bar))
                        abort();
                }
        }
        pci_group_added(sys, first);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pci_dev devs[FZ_DEVS];
    if (size < 1)
        return 0;
    load(data, size);
    writes_stick = data[0] & 1;
    uint32_t flags = (data[0] & 2 ? PCI_SYS_AMD_IVRS : 0) | (data[0] & 4 ? PCI_SYS_NO_ACS_ENABLE : 0);
    struct pci_host_bridge hb = { .seg = 0, .bus_start = 0, .bus_end = 3,
                                  .mem32 = { 0xc0000000ULL, 0x3ec00000ULL },
                                  .mem64 = { 0x8000000000ULL, 0x1000000000ULL },
                                  .io = { 0xc000, 0x4000 } };
    struct pci_system sys;
    if (pci_system_init(&sys, &fz_ops, NULL, &hb, 1, devs, FZ_DEVS, flags))
        abort();
    pci_enumerate(&sys);
    pci_assign_resources(&sys);
    if (data[0] & 8)
        pci_sriov_enable_all(&sys, 4);
    pci_assign_groups(&sys);
    check_tree(&sys);
    hotplug_steps(&sys);
    check_tree(&sys);
    pci_print_tree(&sys);
    pci_print_groups(&sys);
    return 0;
}
