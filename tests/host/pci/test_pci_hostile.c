/* Hostile configuration spaces: the core must finish quickly, print warnings, and keep what is
 * sane. Nothing here may hang or touch memory out of bounds (ASan/UBSan run these). */
#include <stdio.h>
#include <string.h>

#include "lib/errno.h"
#include "tests/host/pci/pci_test_util.h"

static struct pci_dev *root_dev(struct topo *t, unsigned slot, unsigned fn)
{
    return topo_dev(t, 0, slot, fn);
}

TEST(cap_loop)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int d = fake_edu(&t.f, FAKE_ROOT(0), 3, 0);
    uint16_t a = fake_add_cap(&t.f, d, PCI_CAP_ID_PM, 8);
    fake_w8(&t.f, d, a + 1, 0x40);   /* PM -> MSI(0x40) -> PM ... */
    REQUIRE(topo_run(&t) > 0);
    struct pci_dev *dev = root_dev(&t, 3, 0);
    REQUIRE(dev);
    CHECK(dev->warnings & PCI_WARN_CAP_LOOP);
    CHECK_EQ(dev->caps.msi, 0x40);
    CHECK_EQ(dev->caps.pm, a);
    CHECK_EQ(pci_find_cap(&t.sys, dev, PCI_CAP_ID_EXP), 0);
    topo_end(&t);
}

TEST(cap_self_loop_and_header_pointer)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int d = fake_edu(&t.f, FAKE_ROOT(0), 3, 0);
    fake_w8(&t.f, d, 0x41, 0x40);             /* MSI points at itself */
    int e = fake_edu(&t.f, FAKE_ROOT(0), 4, 0);
    fake_w8(&t.f, e, 0x41, 0x08);             /* into the header */
    int g = fake_edu(&t.f, FAKE_ROOT(0), 5, 0);
    fake_w8(&t.f, g, PCI_CAPABILITY_LIST, 0x10);
    REQUIRE(topo_run(&t) > 0);
    CHECK(root_dev(&t, 3, 0)->warnings & PCI_WARN_CAP_LOOP);
    CHECK(root_dev(&t, 4, 0)->warnings & PCI_WARN_CAP_PTR);
    CHECK(root_dev(&t, 5, 0)->warnings & PCI_WARN_CAP_PTR);
    CHECK_EQ(root_dev(&t, 5, 0)->caps.msi, 0);
    topo_end(&t);
}

/* 48 distinct entries fit in 0x40..0xff; a chain through every dword is cut at the limit. */
TEST(cap_list_every_dword)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int d = fake_edu(&t.f, FAKE_ROOT(0), 3, 0);
    for (unsigned off = 0x40; off < 0x100; off += 4) {
        fake_w8(&t.f, d, off, PCI_CAP_ID_VNDR);
        fake_w8(&t.f, d, off + 1, (uint8_t)(off + 4 < 0x100 ? off + 4 : 0x40));
    }
    REQUIRE(topo_run(&t) > 0);
    CHECK(root_dev(&t, 3, 0)->warnings & (PCI_WARN_CAP_TTL | PCI_WARN_CAP_LOOP));
    topo_end(&t);
}

TEST(ext_cap_loop_and_bad_pointer)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int d = fake_nvme(&t.f, FAKE_ROOT(0), 3, 0);
    uint16_t acs = fake_add_acs(&t.f, d, 0);
    uint32_t h = fake_r32(&t.f, d, acs);
    fake_w32(&t.f, d, acs, (h & 0xfffff) | (0x100u << 20));   /* back to the first */
    int e = fake_nvme(&t.f, FAKE_ROOT(0), 4, 0);
    fake_w32(&t.f, e, 0x100, PCI_EXT_CAP_ID_ERR | (1u << 16) | (0x20u << 20));
    REQUIRE(topo_run(&t) > 0);
    CHECK(root_dev(&t, 3, 0)->warnings & PCI_WARN_EXT_CAP_LOOP);
    CHECK_EQ(root_dev(&t, 3, 0)->caps.acs, acs);
    CHECK(root_dev(&t, 4, 0)->warnings & PCI_WARN_EXT_CAP_PTR);
    CHECK_EQ(pci_find_ext_cap(&t.sys, root_dev(&t, 3, 0), PCI_EXT_CAP_ID_SRIOV), 0);
    topo_end(&t);
}

/* Bridges whose secondary bus is their own bus, smaller, or above the subordinate: reassigned
 * (or, when nothing is left, not scanned), never looped on. */
TEST(bad_bridge_bus_numbers)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int a = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    fake_set_buses(&t.f, a, 0, 0, 5);          /* secondary = own bus */
    fake_edu(&t.f, a, 0, 0);
    int b = fake_root_port(&t.f, FAKE_ROOT(0), 3, 0);
    fake_set_buses(&t.f, b, 0, 7, 3);          /* subordinate < secondary */
    fake_edu(&t.f, b, 0, 0);
    int c = fake_pci_bridge(&t.f, FAKE_ROOT(0), 4, 0);
    fake_set_buses(&t.f, c, 9, 9, 9);          /* wrong primary */
    int cc = fake_pci_bridge(&t.f, c, 1, 0);   /* below it, a bridge claiming its parent's bus */
    fake_set_buses(&t.f, cc, 0, 0, 0xff);
    fake_edu(&t.f, cc, 2, 0);
    REQUIRE(topo_run(&t) > 0);
    CHECK(t.sys.warnings >= 3);
    CHECK_EQ(t.sys.ndevs, 4 + 3 + 2 + 2);
    struct pci_dev *pa = root_dev(&t, 2, 0), *pb = root_dev(&t, 3, 0);
    REQUIRE(pa && pb);
    CHECK(pa->secondary > 0 && pa->subordinate >= pa->secondary);
    CHECK(pb->secondary > pa->subordinate);
    topo_end(&t);
}

/* Two bridges claiming the same bus range: the second does not rescan it. */
TEST(overlapping_bridges)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int a = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    int b = fake_root_port(&t.f, FAKE_ROOT(0), 3, 0);
    fake_set_buses(&t.f, a, 0, 1, 4);
    fake_set_buses(&t.f, b, 0, 2, 3);
    fake_edu(&t.f, a, 0, 0);
    fake_edu(&t.f, b, 0, 0);
    REQUIRE(topo_run(&t) > 0);
    CHECK(root_dev(&t, 3, 0)->warnings & PCI_WARN_BUS_NUMBERS);
    CHECK(topo_dev(&t, 1, 0, 0) != NULL);
    CHECK(topo_dev(&t, 5, 0, 0) != NULL);
    topo_end(&t);
}

static uint32_t ones_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                          unsigned width)
{
    ++*(unsigned long *)ctx;
    return 0xffffffffu;
}

static void ones_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                       unsigned width, uint32_t val)
{
}

TEST(all_ones_everywhere)
{
    static const struct pci_cfg_ops ops = { ones_read, ones_write, NULL };
    struct pci_host_bridge h = { .seg = 0, .bus_start = 0, .bus_end = 0xff };
    struct pci_system sys;
    struct pci_dev devs[4];
    unsigned long reads = 0;
    REQUIRE(pci_system_init(&sys, &ops, &reads, &h, 1, devs, 4, 0) == 0);
    CHECK_EQ(pci_enumerate(&sys), 0);
    CHECK_EQ(pci_assign_resources(&sys), 0);
    CHECK_EQ(pci_sriov_enable_all(&sys, 0), 0);
    CHECK_EQ(pci_assign_groups(&sys), 0);
    CHECK(reads <= 32);   /* one probe per slot */
    pci_print_groups(&sys);
}

/* Every function of every slot answers as a multi-function bridge whose registers stick at
 * whatever is written: the scan must end (bus numbers run out, the device array fills). */
static uint32_t bridge_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                            unsigned width)
{
    uint32_t v;
    switch (off & ~3u) {
    case 0x00: v = 0x00011b36; break;
    case 0x08: v = 0x06040000; break;
    case 0x0c: v = 0x00810000; break;   /* header type 1, multi-function */
    case 0x18: v = 0x00000000 | ((uint32_t)bus << 8) | ((uint32_t)bus << 16); break;
    default: v = 0; break;
    }
    return v >> (8 * (off & 3));
}

TEST(infinite_bridges)
{
    static const struct pci_cfg_ops ops = { bridge_read, ones_write, NULL };
    struct pci_host_bridge h = { .seg = 0, .bus_start = 0, .bus_end = 0xff };
    struct pci_system sys;
    static struct pci_dev devs[4096];
    REQUIRE(pci_system_init(&sys, &ops, NULL, &h, 1, devs, 4096, 0) == 0);
    int n = pci_enumerate(&sys);
    CHECK(n == -ENOSPC || n > 0);
    CHECK(sys.warnings > 0);
    pci_assign_resources(&sys);
    CHECK(pci_assign_groups(&sys) > 0);
}

/* Device identities that Linux treats as absent, and junk in the header type. */
static uint32_t junk_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                          unsigned width)
{
    if (bus != 0)
        return 0xffffffffu;
    uint32_t id[] = { 0x00000000, 0x0000ffff, 0xffff0000, 0x11e81234, 0x11e81234 };
    unsigned slot = PCI_SLOT(devfn);
    uint32_t v = 0;
    if (slot >= 5)
        return 0xffffffffu;
    if ((off & ~3u) == 0)
        v = id[slot];
    else if ((off & ~3u) == 0x0c)
        v = slot == 3 ? 0x007f0000 : 0x00000000;   /* header type 0x7f: unknown */
    else if ((off & ~3u) == 0x04)
        v = 0xffff0000;   /* status all ones: capability list bit set, pointer 0xff */
    else if ((off & ~3u) == 0x34)
        v = 0xff;
    else if ((off & ~3u) == 0xfc)
        v = 0xfc09;   /* vendor capability pointing at itself */
    return v >> (8 * (off & 3));
}

TEST(junk_identities)
{
    static const struct pci_cfg_ops ops = { junk_read, ones_write, NULL };
    struct pci_host_bridge h = { .seg = 0, .bus_start = 0, .bus_end = 0 };
    struct pci_system sys;
    struct pci_dev devs[8];
    REQUIRE(pci_system_init(&sys, &ops, NULL, &h, 1, devs, 8, 0) == 0);
    CHECK_EQ(pci_enumerate(&sys), 1);   /* only slot 4 */
    CHECK_EQ(devs[0].devfn, PCI_DEVFN(4, 0));
    CHECK(devs[0].warnings & (PCI_WARN_CAP_LOOP | PCI_WARN_CAP_PTR));
    CHECK_EQ(pci_assign_groups(&sys), 1);
}

/* 256 functions on one conventional bus (32 slots x 8), all multi-function without ACS:
 * one group per slot. */
TEST(full_bus)
{
    struct topo t;
    topo_begin(&t);
    fake_add_root(&t.f, 0, 0);
    for (unsigned slot = 0; slot < 32; slot++)
        for (unsigned fn = 0; fn < 8; fn++) {
            int d = fake_edu(&t.f, FAKE_ROOT(0), slot, fn);
            if (fn == 0)
                fake_set_mfd(&t.f, d);
        }
    REQUIRE(topo_run(&t) == 32);
    CHECK_EQ(t.sys.ndevs, 256);
    topo_end(&t);
}

/* The device array too small: enumeration says so and keeps what fit. */
TEST(device_array_full)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    for (unsigned slot = 1; slot < 20; slot++)
        fake_edu(&t.f, FAKE_ROOT(0), slot, 0);
    struct pci_host_bridge h = { .seg = 0, .bus_start = 0, .bus_end = 0xff };
    REQUIRE(pci_system_init(&t.sys, &fake_pci_ops, &t.f, &h, 1, t.devs, 10, 0) == 0);
    CHECK_EQ(pci_enumerate(&t.sys), -ENOSPC);
    CHECK_EQ(t.sys.ndevs, 10);
    CHECK(pci_assign_groups(&t.sys) == 10);
    topo_end(&t);
}

/* A malformed ARI chain (next function going backwards) and SR-IOV with stride 0. */
TEST(bad_ari_and_sriov)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    int f0 = fake_nvme(&t.f, rp, 0, 0);
    fake_add_ari(&t.f, f0, 5);
    int f5 = fake_nvme(&t.f, rp, 0, 5);
    fake_add_ari(&t.f, f5, 2);
    int rp2 = fake_root_port(&t.f, FAKE_ROOT(0), 3, 0);
    int pf = fake_nvme(&t.f, rp2, 0, 0);
    fake_add_sriov(&t.f, pf, 4, 1, 0, 0x11, 4096);
    REQUIRE(topo_run(&t) > 0);
    CHECK(topo_dev(&t, 1, 0, 5) != NULL);
    CHECK(topo_dev(&t, 1, 0, 5)->warnings & PCI_WARN_ARI);
    struct pci_dev *p = topo_dev(&t, 2, 0, 0);
    REQUIRE(p);
    CHECK(p->warnings & PCI_WARN_SRIOV);
    CHECK_EQ(p->num_vfs, 0);
    topo_end(&t);
}

/* Bad arguments are refused. */
TEST(init_arguments)
{
    struct pci_system sys;
    struct pci_dev devs[1];
    struct pci_host_bridge h = { .bus_start = 5, .bus_end = 4 };
    CHECK_EQ(pci_system_init(&sys, NULL, NULL, &h, 1, devs, 1, 0), -EINVAL);
    CHECK_EQ(pci_system_init(&sys, &fake_pci_ops, NULL, &h, 1, devs, 1, 0), -EINVAL);
    h.bus_end = 5;
    CHECK_EQ(pci_system_init(&sys, &fake_pci_ops, NULL, &h, 0, devs, 1, 0), -EINVAL);
    CHECK_EQ(pci_system_init(&sys, &fake_pci_ops, NULL, &h, 1, devs, 0, 0), -EINVAL);
    CHECK_EQ(pci_system_init(&sys, &fake_pci_ops, NULL, &h, 1, devs, 1, 0), 0);
}

/* Pseudo-random configuration space (a fixed function of the address, so reads repeat):
 * whatever it claims, enumeration, assignment, SR-IOV and grouping end, and fast. */
static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static uint32_t noise_seed;

static uint32_t noise_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                           unsigned width)
{
    unsigned long *reads = ctx;
    ++*reads;
    uint32_t v = hash32(noise_seed ^ ((uint32_t)bus << 20) ^ ((uint32_t)devfn << 12) ^ (off & ~3u));
    /* Mostly absent functions, so that some buses look plausible. */
    if ((off & ~3u) == 0 && (hash32(v) & 3) != 0)
        v = 0xffffffffu;
    if ((off & ~3u) == 0x0c)   /* a header type that is a device or a bridge */
        v = (v & 0xff80ffffu) | ((v & 1u) << 16);
    return v >> (8 * (off & 3));
}

TEST(random_config_space)
{
    static const struct pci_cfg_ops ops = { noise_read, ones_write, NULL };
    static struct pci_dev devs[1024];
    for (noise_seed = 1; noise_seed <= 16; noise_seed++) {
        struct pci_host_bridge h[2] = {
            { .seg = 0, .bus_start = 0, .bus_end = 0x7f, .mem32 = { 0xc0000000, 0x20000000 },
              .mem64 = { 1ull << 40, 1ull << 36 }, .io = { 0x1000, 0xf000 } },
            { .seg = 1, .bus_start = 0x80, .bus_end = 0xff },
        };
        struct pci_system sys;
        unsigned long reads = 0;
        REQUIRE(pci_system_init(&sys, &ops, &reads, h, 2, devs, 1024, 0) == 0);
        int n = pci_enumerate(&sys);
        CHECK(n == -ENOSPC || n >= 0);
        pci_assign_resources(&sys);
        pci_sriov_enable_all(&sys, 4);
        int g = pci_assign_groups(&sys);
        CHECK(g >= 0 && (unsigned)g <= sys.ndevs);
        for (uint32_t i = 0; i < sys.ndevs; i++)
            CHECK(devs[i].no_group ? devs[i].group == PCI_NO_GROUP
                                   : devs[i].group >= 0 && devs[i].group < g);
        CHECK(reads < 50u * 1000 * 1000);
    }
}
