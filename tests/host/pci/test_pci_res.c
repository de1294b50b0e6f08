/* BAR sizing and resource assignment against the model's BAR masks. */
#include <stdio.h>
#include <string.h>

#include "lib/errno.h"
#include "tests/host/pci/pci_test_util.h"

struct range {
    uint64_t base, size;
    bool io;
};

static unsigned collect(struct topo *t, struct range *r, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->sys.ndevs; i++) {
        struct pci_dev *d = &t->sys.devs[i];
        if (d->is_virtfn)
            continue;
        for (unsigned b = 0; b < PCI_STD_NUM_BARS && n < max; b++) {
            if (d->bar[b].size) {
                CHECK(d->bar[b].flags & PCI_BAR_ASSIGNED);
                r[n++] = (struct range){ d->bar[b].base, d->bar[b].size, d->bar[b].flags & PCI_BAR_IO };
            }
            if (d->vf_bar[b].size)
                r[n++] = (struct range){ d->vf_bar[b].base, d->vf_bar[b].size * d->total_vfs, false };
        }
    }
    return n;
}

static bool inside(const struct pci_aperture *w, uint64_t base, uint64_t size)
{
    return w->size && base >= w->base && base + size <= w->base + w->size;
}

/* Every BAR naturally aligned, inside every window above it and an aperture, none overlap. */
static void check_layout(struct topo *t)
{
    static struct range r[4096];
    unsigned n = collect(t, r, 4096);
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            if (r[i].io == r[j].io)
                CHECK(r[i].base + r[i].size <= r[j].base || r[j].base + r[j].size <= r[i].base);
    for (unsigned i = 0; i < t->sys.ndevs; i++) {
        struct pci_dev *d = &t->sys.devs[i];
        for (unsigned b = 0; b < PCI_STD_NUM_BARS; b++) {
            struct pci_bar *bar = &d->bar[b];
            if (!bar->size)
                continue;
            CHECK_EQ(bar->base % bar->size, 0);
            const struct pci_host_bridge *h = &t->sys.host[d->host];
            if (bar->flags & PCI_BAR_IO)
                CHECK(inside(&h->io, bar->base, bar->size));
            else
                CHECK(inside(&h->mem32, bar->base, bar->size) ||
                      inside(&h->mem64, bar->base, bar->size));
            for (struct pci_dev *up = d; up->parent != PCI_NONE;) {
                up = &t->sys.devs[up->parent];
                if (bar->flags & PCI_BAR_IO)
                    CHECK(inside(&up->win_io, bar->base, bar->size));
                else if (bar->flags & PCI_BAR_PREFETCH)
                    CHECK(inside(&up->win_pref, bar->base, bar->size) ||
                          inside(&up->win_mem, bar->base, bar->size));
                else
                    CHECK(inside(&up->win_mem, bar->base, bar->size));
            }
            /* the hardware holds what we recorded (a VF's BARs live in its PF) */
            if (d->is_virtfn)
                continue;
            uint32_t lo = pci_read32(&t->sys, d, (uint16_t)(PCI_BASE_ADDRESS_0 + 4 * b));
            if (bar->flags & PCI_BAR_IO)
                CHECK_EQ(lo & ~3u, (uint32_t)bar->base);
            else
                CHECK_EQ(lo & ~0xfu, (uint32_t)bar->base);
        }
    }
}

static const char mixed[] =
    "-device e1000e,bus=pcie.0,addr=0x2\n"
    "-device virtio-blk-pci,bus=pcie.0,addr=0x4\n"
    "-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x6.0,multifunction=on\n"
    "-device pcie-root-port,id=rp2,bus=pcie.0,addr=0x6.1\n"
    "-device x3130-upstream,id=up,bus=rp1\n"
    "-device xio3130-downstream,id=dp1,bus=up,addr=0x0\n"
    "-device xio3130-downstream,id=dp2,bus=up,addr=0x1\n"
    "-device nvme,bus=dp1\n"
    "-device virtio-blk-pci,bus=dp2\n"
    "-device pcie-pci-bridge,id=ppb,bus=rp2\n"
    "-device e1000e,bus=ppb,addr=0x1\n"
    "-device edu,bus=ppb,addr=0x2\n"
    "-device igb,bus=pcie.0,addr=0x8\n";

TEST(assign_from_scratch)
{
    struct topo t;
    REQUIRE(topo_from_args(&t, mixed) > 0);
    check_layout(&t);
    /* the root-bus 64-bit prefetchable BAR lands in the 64-bit aperture */
    struct pci_dev *blk = topo_dev(&t, 0, 4, 0);
    REQUIRE(blk);
    CHECK(blk->bar[4].base >= t.sys.host[0].mem64.base);
    /* bridges decode their windows */
    struct pci_dev *rp1 = topo_dev(&t, 0, 6, 0);
    REQUIRE(rp1);
    CHECK(pci_read16(&t.sys, rp1, PCI_COMMAND) & PCI_COMMAND_MEMORY);
    CHECK(rp1->win_pref.size > 0);
    CHECK(rp1->win_pref.base >= t.sys.host[0].mem64.base);   /* 64-bit pref window up high */
    CHECK_EQ(t.sys.warnings, 0);
    /* a driver turns on decode and mastering */
    struct pci_dev *nic = topo_dev(&t, 0, 2, 0);
    CHECK_EQ(pci_enable_device(&t.sys, nic), 0);
    CHECK_EQ(pci_read16(&t.sys, nic, PCI_COMMAND) & 7, 7);
    topo_end(&t);
}

/* A second pass over a fully assigned system keeps everything where it is. */
TEST(firmware_assignment_kept)
{
    struct topo t;
    REQUIRE(topo_from_args(&t, mixed) > 0);
    uint64_t before[64];
    for (unsigned i = 0; i < t.sys.ndevs && i < 64; i++)
        before[i] = t.devs[i].bar[0].base;
    /* enumerate again over the same (now "firmware"-programmed) model */
    struct topo u = t;
    u.devs = calloc(MAX_DEVS, sizeof(struct pci_dev));
    REQUIRE(fake_run(&u.f, &u.sys, u.devs, MAX_DEVS) > 0);
    for (unsigned i = 0; i < t.sys.ndevs && i < 64; i++)
        if (!u.devs[i].is_virtfn)
            CHECK_EQ(u.devs[i].bar[0].base, before[i]);
    free(u.devs);
    topo_end(&t);
}

/* One BAR left at 0 by firmware: the hierarchy is laid out again and stays consistent. */
TEST(one_unassigned_bar)
{
    struct topo t;
    REQUIRE(topo_from_args(&t, mixed) > 0);
    struct pci_dev *nvme = topo_dev(&t, 3, 0, 0);
    REQUIRE(nvme);
    pci_write32(&t.sys, nvme, PCI_BASE_ADDRESS_0, 0);
    pci_write32(&t.sys, nvme, PCI_BASE_ADDRESS_0 + 4, 0);
    struct topo u = t;
    u.devs = calloc(MAX_DEVS, sizeof(struct pci_dev));
    REQUIRE(fake_run(&u.f, &u.sys, u.devs, MAX_DEVS) > 0);
    struct topo *p = &u;
    check_layout(p);
    free(u.devs);
    topo_end(&t);
}

/* Sizing: 64-bit BAR, I/O BAR, original values and decode restored. */
TEST(bar_sizing_restores)
{
    struct topo t;
    topo_begin(&t);
    fake_add_root(&t.f, 0, 0);
    int d = fake_nvme(&t.f, FAKE_ROOT(0), 1, 0);
    fake_bar(&t.f, d, 2, 1ull << 33, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    fake_bar(&t.f, d, 4, 256, PCI_BAR_IO);
    fake_w32(&t.f, d, PCI_BASE_ADDRESS_0, 0xfebf0004);
    fake_w32(&t.f, d, PCI_BASE_ADDRESS_0 + 4, 0);
    fake_w16(&t.f, d, PCI_COMMAND, PCI_COMMAND_MEMORY);
    struct pci_host_bridge h = { .bus_end = 0xff };
    REQUIRE(pci_system_init(&t.sys, &fake_pci_ops, &t.f, &h, 1, t.devs, MAX_DEVS, 0) == 0);
    REQUIRE(pci_enumerate(&t.sys) == 1);
    struct pci_dev *dev = &t.devs[0];
    CHECK_EQ(dev->bar[0].size, 16 << 10);
    CHECK_EQ(dev->bar[0].base, 0xfebf0000);
    CHECK(dev->bar[0].flags & PCI_BAR_MEM64);
    CHECK_EQ(dev->bar[1].size, 0);
    CHECK_EQ(dev->bar[2].size, 1ull << 33);
    CHECK(dev->bar[2].flags & PCI_BAR_PREFETCH);
    CHECK_EQ(dev->bar[4].size, 256);
    CHECK(dev->bar[4].flags & PCI_BAR_IO);
    CHECK_EQ(fake_r32(&t.f, d, PCI_BASE_ADDRESS_0), 0xfebf0004);
    CHECK_EQ(fake_r32(&t.f, d, PCI_COMMAND) & 0xffff, PCI_COMMAND_MEMORY);
    /* no apertures given: firmware's BAR 0 is trusted, the others are unassigned -> ENOSPC */
    CHECK_EQ(pci_assign_resources(&t.sys), -ENOSPC);
    topo_end(&t);
}

/* Configuration writes to command registers, counted on the way to the model. */
static unsigned cmd_writes;

static uint32_t counting_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                              unsigned width)
{
    return fake_pci_ops.read(ctx, seg, bus, devfn, off, width);
}

static void counting_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                           unsigned width, uint32_t val)
{
    if (off <= PCI_COMMAND && off + width > PCI_COMMAND)
        cmd_writes++;
    fake_pci_ops.write(ctx, seg, bus, devfn, off, width, val);
}

static const struct pci_cfg_ops counting_ops = { counting_read, counting_write, NULL };
static int root_port;

/* PCI_SYS_DEFER_DECODE: sizing takes decode off once per function and leaves it off; the
 * enable turns decode and bus mastering on in one write; functions nobody enabled get their
 * decode back from pci_restore_decode; the host bridge is neither sized nor toggled. Without
 * the flag: off and on again per function (and a third write for the enable). */
static unsigned deferred_decode_run(uint32_t flags, struct topo *t, int *hb, int *nvme, int *sata)
{
    topo_begin(t);
    *hb = fake_q35_base(&t->f);
    *nvme = fake_nvme(&t->f, FAKE_ROOT(0), 5, 0);
    *sata = *hb + 2;        /* 1f.2 */
    root_port = fake_root_port(&t->f, FAKE_ROOT(0), 6, 0);    /* it has a BAR too */
    fake_w16(&t->f, root_port, PCI_COMMAND, PCI_COMMAND_MEMORY);
    fake_w32(&t->f, *nvme, PCI_BASE_ADDRESS_0, 0xfebf0004);
    fake_w16(&t->f, *nvme, PCI_COMMAND, PCI_COMMAND_MEMORY);
    fake_w16(&t->f, *sata, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    fake_w16(&t->f, *hb, PCI_COMMAND, PCI_COMMAND_MEMORY);
    struct pci_host_bridge h = { .bus_end = 0xff };
    CHECK_EQ(pci_system_init(&t->sys, &counting_ops, &t->f, &h, 1, t->devs, MAX_DEVS, flags), 0);
    cmd_writes = 0;
    CHECK(pci_enumerate(&t->sys) > 2);
    return cmd_writes;
}

static struct pci_dev *dev_of(struct topo *t, int fn)
{
    for (unsigned i = 0; i < t->sys.ndevs; i++)
        if (t->sys.devs[i].devfn == t->f.fns[fn].devfn)
            return &t->sys.devs[i];
    return NULL;
}

TEST(deferred_decode)
{
    struct topo t;
    int hb, nvme, sata;
    unsigned sized = deferred_decode_run(PCI_SYS_DEFER_DECODE, &t, &hb, &nvme, &sata);
    struct pci_dev *n = dev_of(&t, nvme), *s = dev_of(&t, sata), *h = dev_of(&t, hb);
    REQUIRE(n && s && h);
    CHECK_EQ(fake_r32(&t.f, hb, PCI_COMMAND) & 0xffff, PCI_COMMAND_MEMORY);    /* untouched */
    CHECK_EQ(fake_r32(&t.f, nvme, PCI_COMMAND) & 0xffff, 0);                   /* left off */
    CHECK_EQ(fake_r32(&t.f, sata, PCI_COMMAND) & 0xffff, 0);
    CHECK_EQ(fake_r32(&t.f, root_port, PCI_COMMAND) & 0xffff, PCI_COMMAND_MEMORY); /* back */
    CHECK_EQ(n->bar[0].size, 16 << 10);
    CHECK_EQ(fake_r32(&t.f, nvme, PCI_BASE_ADDRESS_0), 0xfebf0004);
    n->bar[0].flags |= PCI_BAR_ASSIGNED;
    cmd_writes = 0;
    CHECK_EQ(pci_enable_device(&t.sys, n), 0);
    CHECK_EQ(cmd_writes, 1);
    CHECK_EQ(fake_r32(&t.f, nvme, PCI_COMMAND) & 0xffff, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    CHECK_EQ(pci_restore_decode(&t.sys), 1);            /* the SATA function only */
    CHECK_EQ(fake_r32(&t.f, sata, PCI_COMMAND) & 0xffff, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    CHECK_EQ(pci_restore_decode(&t.sys), 0);
    unsigned deferred = sized + cmd_writes;   /* the enable and the restore */
    topo_end(&t);

    unsigned legacy = deferred_decode_run(0, &t, &hb, &nvme, &sata);
    n = dev_of(&t, nvme);
    REQUIRE(n);
    CHECK_EQ(fake_r32(&t.f, nvme, PCI_COMMAND) & 0xffff, PCI_COMMAND_MEMORY);   /* restored */
    n->bar[0].flags |= PCI_BAR_ASSIGNED;
    cmd_writes = 0;
    CHECK_EQ(pci_enable_device(&t.sys, n), 0);
    legacy += cmd_writes;
    /* off per endpoint, the root port's off and on, the enable, the restore: 6; off and on
     * per function (the host bridge too), then the enable: 9 */
    CHECK_EQ(deferred, 6);
    CHECK_EQ(legacy, 9);
    topo_end(&t);
}

TEST(aperture_too_small)
{
    struct topo t;
    topo_begin(&t);
    fake_add_root(&t.f, 0, 0);
    int d = fake_edu(&t.f, FAKE_ROOT(0), 1, 0);
    fake_bar(&t.f, d, 1, 64 << 20, 0);
    struct pci_host_bridge h = { .bus_end = 0xff, .mem32 = { 0xc0000000, 32 << 20 },
                                 .io = { 0x1000, 0x1000 } };
    REQUIRE(pci_system_init(&t.sys, &fake_pci_ops, &t.f, &h, 1, t.devs, MAX_DEVS, 0) == 0);
    REQUIRE(pci_enumerate(&t.sys) == 1);
    CHECK_EQ(pci_assign_resources(&t.sys), -ENOSPC);
    CHECK(!(t.devs[0].bar[1].flags & PCI_BAR_ASSIGNED));
    CHECK_EQ(pci_enable_device(&t.sys, &t.devs[0]), -EBUSY);
    topo_end(&t);
}

/* Hostile BAR masks: huge sizes must not overflow the layout. */
TEST(huge_bars)
{
    struct topo t;
    topo_begin(&t);
    fake_add_root(&t.f, 0, 0);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 1, 0);
    int d = fake_nvme(&t.f, rp, 0, 0);
    fake_bar(&t.f, d, 0, 1ull << 63, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    fake_bar(&t.f, d, 2, 1ull << 63, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    fake_bar(&t.f, d, 4, 1ull << 63, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    int n = topo_run(&t);
    CHECK_EQ(n, -ENOSPC);
    topo_end(&t);
}
