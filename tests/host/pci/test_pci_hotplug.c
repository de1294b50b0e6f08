/* The PCI core's hot-plug steps against the model: padded windows on hot-plug ports at boot,
 * a function appearing below a port (scan, placement inside the windows, group), a function
 * too large for the windows, removal and reuse of the device entries. */
#include <stdio.h>
#include <string.h>

#include "lib/errno.h"
#include "tests/host/pci/pci_test_util.h"

/* The PCIe capability of a model function, found the way hardware lists it. */
static uint16_t exp_cap(struct fake_pci *f, int fn)
{
    for (uint8_t p = f->fns[fn].cfg[PCI_CAPABILITY_LIST]; p; p = f->fns[fn].cfg[p + 1])
        if (f->fns[fn].cfg[p] == PCI_CAP_ID_EXP)
            return p;
    return 0;
}

/* What QEMU's pcie-root-port and xio3130-downstream show with native hot-plug: a slot,
 * hot-plug capable, with a power controller and indicators. */
static void make_slot(struct fake_pci *f, int fn)
{
    uint16_t e = exp_cap(f, fn);
    uint16_t flags = (uint16_t)(f->fns[fn].cfg[e + PCI_EXP_FLAGS] |
                                f->fns[fn].cfg[e + PCI_EXP_FLAGS + 1] << 8);
    fake_w16(f, fn, e + PCI_EXP_FLAGS, flags | PCI_EXP_FLAGS_SLOT);
    fake_w32(f, fn, e + PCI_EXP_SLTCAP, PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP |
             PCI_EXP_SLTCAP_AIP | PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPC);
}

static bool inside(const struct pci_aperture *w, const struct pci_bar *b)
{
    return w->size && b->base >= w->base && b->base - w->base <= w->size - b->size;
}

static void check_in_windows(struct pci_dev *port, struct pci_dev *d)
{
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
        const struct pci_bar *b = &d->bar[i];
        if (!b->size)
            continue;
        CHECK(b->flags & PCI_BAR_ASSIGNED);
        CHECK(inside(&port->win_mem, b) || inside(&port->win_pref, b));
    }
}

/* q35 + an empty hot-plug root port at 00:06.0 and an occupied one at 00:07.0. */
static int build(struct topo *t, int *rp_empty)
{
    topo_begin(t);
    fake_q35_base(&t->f);
    *rp_empty = fake_root_port(&t->f, FAKE_ROOT(0), 6, 0);
    make_slot(&t->f, *rp_empty);
    int rp2 = fake_root_port(&t->f, FAKE_ROOT(0), 7, 0);
    make_slot(&t->f, rp2);
    fake_edu(&t->f, rp2, 0, 0);
    return topo_run(t);
}

TEST(hotplug_ports_padded)
{
    struct topo t;
    int rp;
    REQUIRE(build(&t, &rp) > 0);
    struct pci_dev *port = topo_dev(&t, 0, 6, 0), *busy = topo_dev(&t, 0, 7, 0);
    REQUIRE(port && busy);
    CHECK(port->hotplug_slot && busy->hotplug_slot);
    CHECK(port->win_mem.size >= PCI_HOTPLUG_MEM_PAD);
    CHECK(port->win_pref.size >= PCI_HOTPLUG_PREF_PAD);
    /* edu's 1 MiB BAR fits, and the window is still at least the padding */
    CHECK(busy->win_mem.size >= PCI_HOTPLUG_MEM_PAD);
    topo_end(&t);
}

TEST(plug_scan_place_group_remove)
{
    struct topo t;
    int rp;
    REQUIRE(build(&t, &rp) > 0);
    struct pci_dev *port = topo_dev(&t, 0, 6, 0);
    REQUIRE(port && port->first_child == PCI_NONE);
    uint32_t ndevs = t.sys.ndevs;
    unsigned ngroups = t.sys.ngroups;
    for (int cycle = 0; cycle < 3; cycle++) {
        int fn = fake_nvme(&t.f, rp, 0, 0);
        uint32_t first = pci_scan_below(&t.sys, port);
        CHECK_EQ(first, ndevs);
        REQUIRE(t.sys.ndevs == ndevs + 1);
        struct pci_dev *d = &t.sys.devs[first];
        CHECK_EQ(d->bus, port->secondary);
        CHECK_EQ(d->class_rev >> 8, 0x010802);
        CHECK_EQ(pci_assign_below(&t.sys, port), 0);
        check_in_windows(port, d);
        /* the model decodes what was written: the BAR register holds the address */
        CHECK_EQ(fake_r32(&t.f, fn, PCI_BASE_ADDRESS_0) & ~0xfu, (uint32_t)d->bar[0].base);
        pci_group_added(&t.sys, first);
        CHECK_EQ(d->group, (int)ngroups);    /* ACS root port: its own; the number returns */
        CHECK(pci_get_dev(&t.sys, 0, port->secondary, 0) == d);

        pci_remove_below(&t.sys, port);
        CHECK_EQ(t.sys.ndevs, ndevs);        /* the last entries are reused */
        CHECK(port->first_child == PCI_NONE);
        CHECK(pci_get_dev(&t.sys, 0, port->secondary, 0) == NULL);
        t.f.n--;                             /* the model's function leaves too */
    }
    topo_end(&t);
}

TEST(too_large_for_the_window)
{
    struct topo t;
    int rp;
    REQUIRE(build(&t, &rp) > 0);
    struct pci_dev *port = topo_dev(&t, 0, 6, 0);
    int fn = fake_add(&t.f, rp, 0, 0, 0x1234, 0x5678, 0x020000, 0);
    fake_bar(&t.f, fn, 0, 64ULL << 20, PCI_BAR_PREFETCH);   /* more than the 2 MiB padding */
    fake_bar(&t.f, fn, 2, 16384, 0);            /* a small one that fits */
    uint32_t first = pci_scan_below(&t.sys, port);
    REQUIRE(t.sys.ndevs == first + 1);
    struct pci_dev *d = &t.sys.devs[first];
    CHECK_EQ(pci_assign_below(&t.sys, port), -ENOSPC);
    CHECK(!(d->bar[0].flags & PCI_BAR_ASSIGNED));
    CHECK(d->bar[2].flags & PCI_BAR_ASSIGNED);       /* the kind that fits is placed */
    CHECK(inside(&port->win_mem, &d->bar[2]));
    pci_remove_below(&t.sys, port);
    CHECK_EQ(t.sys.ndevs, first);
    topo_end(&t);
}

/* An igb plugged below a port without an I/O window: its I/O BAR finds no room and is left
 * out (PCI_BAR_NOSPACE, Linux's reset resource), the memory BARs are placed. vfio-pci's enable
 * (pci_enable_decode, Linux's pci_enable_resources) skips it and turns on memory decode alone;
 * a driver's enable, which needs every BAR, refuses (EBUSY). A BAR that placement never
 * handled is another matter: the enable fails with EINVAL and writes nothing. */
TEST(io_bar_without_a_window)
{
    struct topo t;
    int rp;
    REQUIRE(build(&t, &rp) > 0);
    struct pci_dev *port = topo_dev(&t, 0, 6, 0);
    REQUIRE(port->win_io.size == 0);
    int fn = fake_igb(&t.f, rp, 0, 0, 0);
    uint32_t first = pci_scan_below(&t.sys, port);
    REQUIRE(t.sys.ndevs == first + 1);
    struct pci_dev *d = &t.sys.devs[first];
    CHECK_EQ(pci_assign_below(&t.sys, port), -ENOSPC);
    unsigned io = PCI_STD_NUM_BARS;
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
        if (!d->bar[i].size)
            continue;
        if (d->bar[i].flags & PCI_BAR_IO) {
            io = i;
            CHECK_EQ(d->bar[i].flags & (PCI_BAR_ASSIGNED | PCI_BAR_NOSPACE), PCI_BAR_NOSPACE);
        } else {
            CHECK_EQ(d->bar[i].flags & (PCI_BAR_ASSIGNED | PCI_BAR_NOSPACE), PCI_BAR_ASSIGNED);
        }
    }
    REQUIRE(io < PCI_STD_NUM_BARS);
    CHECK_EQ(fake_r32(&t.f, fn, PCI_COMMAND) & 0xffff, 0);
    CHECK_EQ(pci_enable_device(&t.sys, d), -EBUSY);
    CHECK_EQ(fake_r32(&t.f, fn, PCI_COMMAND) & 0xffff, 0);
    CHECK_EQ(pci_enable_decode(&t.sys, d), 0);
    CHECK_EQ(fake_r32(&t.f, fn, PCI_COMMAND) & 0xffff, PCI_COMMAND_MEMORY);
    fake_w16(&t.f, fn, PCI_COMMAND, 0);
    d->bar[io].flags &= (uint8_t)~PCI_BAR_NOSPACE;
    CHECK_EQ(pci_enable_decode(&t.sys, d), -EINVAL);
    CHECK_EQ(fake_r32(&t.f, fn, PCI_COMMAND) & 0xffff, 0);
    pci_remove_below(&t.sys, port);
    topo_end(&t);
}

/* Below a switch's downstream port without ACS the new function joins the port's group;
 * the removal of a cold-plugged function leaves its entry gone (not reused) and invisible. */
TEST(join_group_below_switch_and_remove_cold_plugged)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 6, 0);
    int up = fake_switch_up(&t.f, rp, 0, 0);
    int dn1 = fake_switch_down(&t.f, up, 0, 0);
    int dn2 = fake_switch_down(&t.f, up, 1, 0);
    make_slot(&t.f, dn1);
    make_slot(&t.f, dn2);
    fake_edu(&t.f, dn2, 0, 0);
    REQUIRE(topo_run(&t) > 0);
    struct pci_dev *p1 = NULL, *p2 = NULL;
    for (uint32_t i = 0; i < t.sys.ndevs; i++) {
        struct pci_dev *d = &t.sys.devs[i];
        if (d->pcie_type == PCI_EXP_TYPE_DOWNSTREAM)
            *(d->devfn == 0 ? &p1 : &p2) = d;
    }
    REQUIRE(p1 && p2 && !p1->caps.acs);
    fake_edu(&t.f, dn1, 0, 0);
    uint32_t first = pci_scan_below(&t.sys, p1);
    REQUIRE(t.sys.ndevs == first + 1);
    CHECK_EQ(pci_assign_below(&t.sys, p1), 0);
    check_in_windows(p1, &t.sys.devs[first]);
    pci_group_added(&t.sys, first);
    CHECK_EQ(t.sys.devs[first].group, p1->group);

    struct pci_dev *cold = pci_get_dev(&t.sys, 0, p2->secondary, 0);
    REQUIRE(cold);
    uint32_t n = t.sys.ndevs;
    pci_remove_below(&t.sys, p2);
    CHECK(cold->gone);
    CHECK_EQ(cold->group, PCI_NO_GROUP);
    CHECK_EQ(t.sys.ndevs, n);                /* not the last entry: stays, gone */
    CHECK(pci_get_dev(&t.sys, 0, p2->secondary, 0) == NULL);
    CHECK(pci_get_dev_by_id(&t.sys, 0x1234, 0x11e8, NULL) == &t.sys.devs[first]);
    topo_end(&t);
}

static int busy_group = -1;

static bool group_is_busy(int g)
{
    return g == busy_group;
}

/* An emptied group's number returns to the next device unless someone still holds it. */
TEST(group_numbers_reused_unless_held)
{
    struct topo t;
    int rp;
    REQUIRE(build(&t, &rp) > 0);
    struct pci_dev *port = topo_dev(&t, 0, 6, 0);
    int first_group = -1;
    for (int cycle = 0; cycle < 3; cycle++) {
        fake_edu(&t.f, rp, 0, 0);
        uint32_t first = pci_scan_below(&t.sys, port);
        REQUIRE(t.sys.ndevs == first + 1);
        pci_assign_below(&t.sys, port);
        pci_group_added(&t.sys, first);
        int g = t.sys.devs[first].group;
        if (cycle == 0)
            first_group = g;
        else if (cycle == 1)
            CHECK_EQ(g, first_group);               /* reused */
        else
            CHECK(g != first_group);                /* held: not reused */
        if (cycle == 1) {
            busy_group = g;
            t.sys.group_busy = group_is_busy;
        }
        pci_remove_below(&t.sys, port);
        t.f.n--;
    }
    topo_end(&t);
}
