/* The PCI tree as enumerated and resourced on this machine, checked against the hardware: every
 * assigned BAR lies inside its bridges' windows and overlaps no other, on AArch64 (no firmware:
 * moat placed everything) inside the host bridge's apertures from the device tree, and each
 * function's config space still answers with the identity recorded at enumeration (not a VF's:
 * its Vendor and Device ID registers read all ones). */
#include "arch/arch.h"
#include "kernel/ktest.h"
#include "lib/log.h"
#include "pci/pci_platform.h"

static bool inside(const struct pci_aperture *a, uint64_t base, uint64_t size)
{
    return a->size && base >= a->base && base - a->base <= a->size && size <= a->size - (base - a->base);
}

static bool bar_used(const struct pci_bar *b)
{
    return b->size && (b->flags & PCI_BAR_ASSIGNED);
}

static void identities_answer(struct ktest *t)
{
    struct pci_system *sys = platform_pci();
    KASSERT(t, sys && sys->ndevs > 0);
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        const struct pci_dev *d = &sys->devs[i];
        if (d->is_virtfn)
            continue;       /* a VF's ID registers read all ones (its IDs are the PF's) */
        KEXPECT_EQ(t, pci_read16(sys, d, PCI_VENDOR_ID), d->vendor);
        KEXPECT_EQ(t, pci_read16(sys, d, PCI_DEVICE_ID), d->device);
    }
}

static void bars_inside_bridge_windows(struct ktest *t)
{
    struct pci_system *sys = platform_pci();
    KASSERT(t, sys != NULL);
    unsigned checked = 0;
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        const struct pci_dev *d = &sys->devs[i];
        for (uint32_t p = d->parent; p != PCI_NONE && !d->is_virtfn; p = sys->devs[p].parent) {
            const struct pci_dev *br = &sys->devs[p];
            for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++) {
                const struct pci_bar *bar = &d->bar[b];
                if (!bar_used(bar))
                    continue;
                bool ok = (bar->flags & PCI_BAR_IO) ? inside(&br->win_io, bar->base, bar->size)
                          : inside(&br->win_mem, bar->base, bar->size) ||
                            ((bar->flags & PCI_BAR_PREFETCH) &&
                             inside(&br->win_pref, bar->base, bar->size));
                if (!ok)
                    ktest_fail(t, __FILE__, __LINE__, "a BAR lies outside a bridge's window");
                checked++;
            }
        }
    }
    kprintf("# %u BAR-in-window checks\n", checked);
}

static void bars_do_not_overlap(struct ktest *t)
{
    struct pci_system *sys = platform_pci();
    KASSERT(t, sys != NULL);
    for (uint32_t i = 0; i < sys->ndevs; i++)
        for (unsigned a = 0; a < PCI_STD_NUM_BARS; a++) {
            const struct pci_bar *x = &sys->devs[i].bar[a];
            if (!bar_used(x))
                continue;
            for (uint32_t j = i; j < sys->ndevs; j++)
                for (unsigned b = (j == i ? a + 1 : 0); b < PCI_STD_NUM_BARS; b++) {
                    const struct pci_bar *y = &sys->devs[j].bar[b];
                    if (!bar_used(y) || ((x->flags ^ y->flags) & PCI_BAR_IO))
                        continue;
                    if (x->base < y->base + y->size && y->base < x->base + x->size)
                        ktest_fail(t, __FILE__, __LINE__, "two BARs overlap");
                }
        }
}

static void bars_inside_host_apertures(struct ktest *t)
{
#if defined(__aarch64__)
    struct pci_system *sys = platform_pci();
    KASSERT(t, sys != NULL);
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        const struct pci_dev *d = &sys->devs[i];
        const struct pci_host_bridge *hb = &sys->host[d->host];
        for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++) {
            const struct pci_bar *bar = &d->bar[b];
            if (!bar_used(bar))
                continue;
            bool ok = (bar->flags & PCI_BAR_IO) ? inside(&hb->io, bar->base, bar->size)
                      : inside(&hb->mem32, bar->base, bar->size) ||
                        inside(&hb->mem64, bar->base, bar->size);
            if (!ok)
                ktest_fail(t, __FILE__, __LINE__, "a BAR lies outside the host bridge's ranges");
        }
    }
#else
    ktest_skip(t, "firmware placed the BARs (moat keeps them wherever they are)");
#endif
}

KTEST_SUITE(pci, KTEST_CASE(identities_answer), KTEST_CASE(bars_inside_bridge_windows),
            KTEST_CASE(bars_do_not_overlap), KTEST_CASE(bars_inside_host_apertures));
