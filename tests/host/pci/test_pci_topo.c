/* Isolation groups on QEMU-like topologies, against what Linux 6.12 reports (the reference
 * topologies) or what Linux's rules give (the others, derived by hand in each comment). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "tests/host/pci/pci_test_util.h"

#define Q35_GROUPS_HEAD "0000:00:00.0\n"
#define ICH9_GROUP "0000:00:1f.0 0000:00:1f.2 0000:00:1f.3\n"

/* Topology and Linux's answer, copied as facts from /work/shared/reference/linux-groups. */
static const char ref01_txt[] =
    "-device e1000e,bus=pcie.0,addr=0x2\n"
    "-device edu,bus=pcie.0,addr=0x3\n"
    "-device virtio-blk-pci,bus=pcie.0,addr=0x4,drive=vblk0,disable-legacy=on\n"
    "-device nvme,bus=pcie.0,addr=0x5,drive=nvme0,serial=oracle0\n";
static const char ref01_groups[] =
    "0000:00:00.0\n0000:00:02.0\n0000:00:03.0\n0000:00:04.0\n0000:00:05.0\n" ICH9_GROUP;

static const char ref02_txt[] =
    "-device edu,bus=pcie.0,addr=0x3.0,multifunction=on\n"
    "-device edu,bus=pcie.0,addr=0x3.1\n"
    "-device edu,bus=pcie.0,addr=0x4.0\n";
static const char ref02_groups[] =
    "0000:00:00.0\n0000:00:03.0 0000:00:03.1\n0000:00:04.0\n" ICH9_GROUP;

static const char ref04_txt[] =
    "-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x6.0,multifunction=on,chassis=1,slot=1\n"
    "-device pcie-root-port,id=rp2,bus=pcie.0,addr=0x6.1,chassis=2,slot=2\n"
    "-device pcie-root-port,id=rp3,bus=pcie.0,addr=0x6.2,chassis=3,slot=3\n"
    "-device pcie-root-port,id=rp4,bus=pcie.0,addr=0x7.0,chassis=4,slot=4\n"
    "-device e1000e,bus=rp1\n-device edu,bus=rp2\n"
    "-device virtio-blk-pci,bus=rp3,drive=vblk0,disable-legacy=on\n-device edu,bus=rp4\n";
static const char ref04_groups[] =
    "0000:00:00.0\n0000:00:06.0\n0000:00:06.1\n0000:00:06.2\n0000:00:07.0\n" ICH9_GROUP
    "0000:01:00.0\n0000:02:00.0\n0000:03:00.0\n0000:04:00.0\n";

static void check_topology(const char *txt, const char *expect)
{
    struct topo t;
    int n = topo_from_args(&t, txt);
    CHECK(n > 0);
    CHECK_GROUPS(t.groups, expect);
    CHECK_EQ(t.sys.warnings, 0);
    topo_end(&t);
}

TEST(ref_01_rc_endpoints)
{
    check_topology(ref01_txt, ref01_groups);
}

TEST(ref_02_multifunction)
{
    check_topology(ref02_txt, ref02_groups);
}

TEST(ref_04_root_ports)
{
    check_topology(ref04_txt, ref04_groups);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

/* Every NAME.txt / NAME.groups pair in the reference directory, when it is there. */
TEST(ref_directory)
{
    const char *dir = "/work/shared/reference/linux-groups";
    DIR *d = opendir(dir);
    if (!d) {
        printf("    skip: %s not present\n", dir);
        return;
    }
    struct dirent *e;
    int checked = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *txt = slurp(path);
        snprintf(path, sizeof(path), "%s/%.*s.groups", dir, (int)(l - 4), e->d_name);
        char *groups = slurp(path);
        if (txt && groups) {
            printf("    %s\n", e->d_name);
            check_topology(txt, groups);
            checked++;
        }
        free(txt);
        free(groups);
    }
    closedir(d);
    CHECK(checked >= 3);
}

/* The devices QEMU shows on q35 are found with their identity and capabilities. */
TEST(ref_01_devices_and_caps)
{
    struct topo t;
    REQUIRE(topo_from_args(&t, ref01_txt) > 0);
    CHECK_EQ(t.sys.ndevs, 8);
    struct pci_dev *nic = topo_dev(&t, 0, 2, 0);
    REQUIRE(nic);
    CHECK_EQ(nic->vendor, 0x8086);
    CHECK_EQ(nic->device, 0x10d3);
    CHECK_EQ(nic->class_rev >> 8, 0x020000);
    CHECK_EQ(nic->caps.exp, 0xe0);
    CHECK_EQ(nic->caps.msix, 0xa0);
    CHECK_EQ(nic->caps.pm, 0xc8);
    CHECK_EQ(nic->caps.msi, 0xd0);
    CHECK_EQ(nic->caps.aer, 0x100);
    CHECK_EQ(nic->pcie_type, PCI_EXP_TYPE_RC_END);
    CHECK_EQ(nic->cfg_size, 4096);
    CHECK(nic->flr);
    CHECK_EQ(nic->bar[0].size, 128 << 10);
    CHECK_EQ(nic->bar[2].size, 32);
    CHECK(nic->bar[2].flags & PCI_BAR_IO);
    CHECK_EQ(pci_find_cap(&t.sys, nic, PCI_CAP_ID_EXP), 0xe0);
    CHECK_EQ(pci_find_ext_cap(&t.sys, nic, PCI_EXT_CAP_ID_ERR), 0x100);
    CHECK_EQ(pci_find_ext_cap(&t.sys, nic, PCI_EXT_CAP_ID_ACS), 0);
    struct pci_dev *edu = topo_dev(&t, 0, 3, 0);
    REQUIRE(edu);
    CHECK_EQ(edu->caps.exp, 0);
    CHECK_EQ(edu->cfg_size, 256);
    CHECK_EQ(edu->caps.msi, 0x40);
    struct pci_dev *blk = topo_dev(&t, 0, 4, 0);
    REQUIRE(blk);
    CHECK(blk->bar[4].flags & PCI_BAR_MEM64);
    CHECK(blk->bar[4].flags & PCI_BAR_PREFETCH);
    CHECK_EQ(blk->bar[4].size, 16 << 10);
    CHECK_EQ(blk->bar[5].size, 0);
    CHECK_EQ(blk->caps.exp, 0);        /* virtio-pci on a root bus: no PCIe capability */
    CHECK_EQ(blk->cfg_size, 256);
    CHECK(blk->caps.msix != 0);
    CHECK(topo_dev(&t, 0, 5, 0) && topo_dev(&t, 0, 5, 0)->caps.exp == 0x54);
    topo_end(&t);
}

/* The same topology, grouped and printed: one line per group, in the promised format. */
TEST(print_lines)
{
    struct topo t;
    REQUIRE(topo_from_args(&t, ref02_txt) > 0);
    pci_set_driver(topo_dev(&t, 0, 3, 0), "edu");
    pci_print_tree(&t.sys);
    pci_print_groups(&t.sys);
    CHECK_EQ(t.ngroups, 4);
    CHECK_EQ(topo_dev(&t, 0, 3, 0)->group, topo_dev(&t, 0, 3, 1)->group);
    CHECK(topo_dev(&t, 0, 0, 0)->group == 0);   /* numbered in enumeration order */
    topo_end(&t);
}

/* Multi-function endpoints: with an ACS capability (QEMU gives multi-function endpoints one
 * with no feature bits, which pci_acs_flags_enabled treats as hard-wired on) each function is
 * its own group; Intel NICs that Linux's quirk vouches for likewise; without, they share. */
TEST(multifunction_acs)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int a = fake_nvme(&t.f, FAKE_ROOT(0), 3, 0);
    fake_set_mfd(&t.f, a);
    fake_add_acs(&t.f, a, 0);
    int b = fake_nvme(&t.f, FAKE_ROOT(0), 3, 1);
    fake_add_acs(&t.f, b, 0);
    int c = fake_nvme(&t.f, FAKE_ROOT(0), 4, 0);   /* mf, no ACS: 04.0+04.1 share */
    fake_set_mfd(&t.f, c);
    fake_nvme(&t.f, FAKE_ROOT(0), 4, 1);
    int d = fake_nvme(&t.f, FAKE_ROOT(0), 5, 0);   /* 05.0 ACS, 05.1 none: Linux splits them
                                                     * (05.1 finds no non-ACS sibling) */
    fake_set_mfd(&t.f, d);
    fake_add_acs(&t.f, d, 0);
    fake_nvme(&t.f, FAKE_ROOT(0), 5, 1);
    int e = fake_igb(&t.f, FAKE_ROOT(0), 6, 0, 0);  /* 82576: mf-endpoint ACS quirk */
    fake_set_mfd(&t.f, e);
    fake_igb(&t.f, FAKE_ROOT(0), 6, 1, 0);
    int g = fake_e1000e(&t.f, FAKE_ROOT(0), 7, 0);  /* Intel RCiEP quirk */
    fake_set_mfd(&t.f, g);
    fake_e1000e(&t.f, FAKE_ROOT(0), 7, 1);
    REQUIRE(topo_run(&t) > 0);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD "0000:00:03.0\n0000:00:03.1\n0000:00:04.0 0000:00:04.1\n"
              "0000:00:05.0\n0000:00:05.1\n0000:00:06.0\n0000:00:06.1\n0000:00:07.0\n"
              "0000:00:07.1\n" ICH9_GROUP);
    topo_end(&t);
}

/* Root port -> pcie-pci-bridge -> pci-bridge: the PCIe-to-PCI bridge takes over the requester
 * ID of everything below it, so all of it joins the pcie-pci-bridge's group; the root port
 * (ACS) keeps its own. A pci-bridge straight on pcie.0 groups itself with its devices. */
TEST(pci_bridges_alias)
{
    const char *txt =
        "-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1\n"
        "-device pcie-pci-bridge,id=ppb,bus=rp1\n"
        "-device edu,bus=ppb,addr=0x1\n"
        "-device edu,bus=ppb,addr=0x2\n"
        "-device pci-bridge,id=pb,bus=ppb,addr=0x3,chassis_nr=5\n"
        "-device edu,bus=pb,addr=0x1\n"
        "-device e1000e,bus=pb,addr=0x2\n"
        "-device pci-bridge,id=pb2,bus=pcie.0,addr=0x4,chassis_nr=6\n"
        "-device edu,bus=pb2,addr=0x5\n";
    struct topo t;
    REQUIRE(topo_from_args(&t, txt) > 0);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD "0000:00:02.0\n0000:00:04.0 0000:04:05.0\n"
              ICH9_GROUP "0000:01:00.0 0000:02:01.0 0000:02:02.0 0000:02:03.0 0000:03:01.0 "
              "0000:03:02.0\n");
    /* DMA from behind the PCIe-to-PCI bridge arrives as (bus 2, devfn 0). */
    struct pci_dev *edu = topo_dev(&t, 3, 1, 0);
    REQUIRE(edu);
    topo_end(&t);
}

/* x3130 switch: QEMU 10's ports have no ACS, so each downstream port's group takes in the
 * devices below it (their ACS path fails at the port); the upstream port, single function,
 * counts as isolated, so ports do not merge across the switch. */
TEST(switch_no_acs)
{
    const char *txt =
        "-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1\n"
        "-device x3130-upstream,id=up,bus=rp1\n"
        "-device xio3130-downstream,id=dp1,bus=up,addr=0x0,chassis=2,slot=1\n"
        "-device xio3130-downstream,id=dp2,bus=up,addr=0x1,chassis=3,slot=2\n"
        "-device e1000e,bus=dp1\n"
        "-device nvme,bus=dp2,drive=n,serial=x\n";
    struct topo t;
    REQUIRE(topo_from_args(&t, txt) > 0);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD "0000:00:02.0\n" ICH9_GROUP "0000:01:00.0\n"
              "0000:02:00.0 0000:03:00.0\n0000:02:01.0 0000:04:00.0\n");
    struct pci_dev *rp = topo_dev(&t, 0, 2, 0);
    REQUIRE(rp);
    CHECK_EQ(rp->secondary, 1);
    CHECK_EQ(rp->subordinate, 4);
    topo_end(&t);
}

/* The same switch with ACS on the downstream ports (real switches, newer QEMU): every device
 * and port is its own group. */
TEST(switch_with_acs)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    int up = fake_switch_up(&t.f, rp, 0, 0);
    for (unsigned i = 0; i < 3; i++) {
        int dp = fake_switch_down(&t.f, up, i, 0);
        fake_add_acs(&t.f, dp, PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
        fake_edu(&t.f, dp, 0, 0);
    }
    REQUIRE(topo_run(&t) > 0);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD "0000:00:02.0\n" ICH9_GROUP "0000:01:00.0\n"
              "0000:02:00.0\n0000:02:01.0\n0000:02:02.0\n0000:03:00.0\n0000:04:00.0\n"
              "0000:05:00.0\n");
    topo_end(&t);
}

/* A root port without ACS (an ioh3420-like port with the capability switched off): the device
 * below joins the port's group. Two such ports in one multi-function slot share a group. */
TEST(root_port_without_acs)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int a = fake_add(&t.f, FAKE_ROOT(0), 2, 0, 0x8086, 0x3420, 0x060400, 1);
    fake_add_pcie(&t.f, a, PCI_EXP_TYPE_ROOT_PORT, false, false);
    fake_set_mfd(&t.f, a);
    int b = fake_add(&t.f, FAKE_ROOT(0), 2, 1, 0x8086, 0x3420, 0x060400, 1);
    fake_add_pcie(&t.f, b, PCI_EXP_TYPE_ROOT_PORT, false, false);
    fake_edu(&t.f, a, 0, 0);
    fake_nvme(&t.f, b, 0, 0);
    REQUIRE(topo_run(&t) > 0);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD
              "0000:00:02.0 0000:00:02.1 0000:01:00.0 0000:02:00.0\n" ICH9_GROUP);
    topo_end(&t);
}

/* pxb-pcie expander bridges: extra root buses with their own root ports. */
TEST(expander_bridges)
{
    const char *txt =
        "-device pxb-pcie,id=pxb1,bus_nr=0x80,bus=pcie.0,addr=0x9\n"
        "-device pcie-root-port,id=rpx,bus=pxb1,addr=0x0,chassis=9\n"
        "-device pcie-root-port,id=rpy,bus=pxb1,addr=0x1,chassis=10\n"
        "-device nvme,bus=rpx,drive=n,serial=y\n"
        "-device edu,bus=rpy\n"
        "-device pxb-pcie,id=pxb2,bus_nr=0xc0,bus=pcie.0,addr=0xa\n"
        "-device edu,bus=pxb2,addr=0x3\n"
        "-device e1000e,bus=pcie.0,addr=0x2\n";
    struct topo t;
    REQUIRE(topo_from_args(&t, txt) > 0);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD "0000:00:02.0\n0000:00:09.0\n0000:00:0a.0\n" ICH9_GROUP
              "0000:80:00.0\n0000:80:01.0\n0000:81:00.0\n0000:82:00.0\n0000:c0:03.0\n");
    topo_end(&t);
}

/* igb PFs with 7 VFs each (QEMU: First VF Offset 0x80, VF Stride 2). Behind an ACS root port
 * (ARI forwarding on, so VF RIDs cross into bus 2) and on the root bus: every VF is its own
 * group, as Linux gives single-function VFs. */
TEST(sriov_vfs)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    fake_igb(&t.f, rp, 0, 0, 7);
    fake_igb(&t.f, FAKE_ROOT(0), 3, 0, 7);
    REQUIRE(topo_run(&t) > 0);
    CHECK_EQ(t.sys.ndevs, 4 + 1 + 2 + 14);
    struct pci_dev *port = topo_dev(&t, 0, 2, 0);
    REQUIRE(port);
    CHECK(port->ari_fwd);
    CHECK_EQ(port->secondary, 1);
    CHECK_EQ(port->subordinate, 1);   /* 01:00.0 + 0x80 + 2*6 = 01:11.4: still bus 1 */
    struct pci_dev *pf = topo_dev(&t, 1, 0, 0);
    REQUIRE(pf);
    CHECK_EQ(pf->total_vfs, 7);
    CHECK_EQ(pf->num_vfs, 7);
    CHECK_EQ(pf->vf_bar[0].size, 16 << 10);
    CHECK(pf->vf_bar[0].flags & PCI_BAR_ASSIGNED);
    struct pci_dev *vf = pci_get_dev(&t.sys, 0, 1, 0x82);   /* 01:10.2 */
    REQUIRE(vf);
    CHECK(vf->is_virtfn);
    CHECK_EQ(vf->device, 0x10ca);
    CHECK_EQ(vf->vendor, 0x8086);
    CHECK_EQ(vf->bar[0].base, pf->vf_bar[0].base + (16 << 10));
    CHECK(vf->caps.exp != 0);
    struct pci_dev *rvf = pci_get_dev(&t.sys, 0, 0, 0x18 + 0x80);   /* 00:03.0 + 0x80 */
    REQUIRE(rvf);
    CHECK(rvf->is_virtfn);
    /* every function its own group: 2 q35 groups + port + 2 PFs + 14 VFs */
    CHECK_EQ(t.ngroups, 2 + 1 + 2 + 14);
    CHECK(strstr(t.groups, "0000:01:11.4\n") != NULL);
    topo_end(&t);
}

/* VF RIDs beyond the PF's bus: the scan reserves the bus numbers (subordinate grows). */
TEST(sriov_vf_bus_reservation)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    int pf = fake_nvme(&t.f, rp, 0, 0);
    fake_add_ari(&t.f, pf, 0);
    fake_add_sriov(&t.f, pf, 200, 0x100, 1, 0x0011, 4096);
    int rp2 = fake_root_port(&t.f, FAKE_ROOT(0), 3, 0);
    fake_edu(&t.f, rp2, 0, 0);
    REQUIRE(topo_run(&t) > 0);
    struct pci_dev *port = topo_dev(&t, 0, 2, 0);
    REQUIRE(port);
    CHECK_EQ(port->secondary, 1);
    CHECK_EQ(port->subordinate, 2);   /* VFs at 02:00.0 .. 02:c7.0 */
    CHECK(topo_dev(&t, 3, 0, 0) != NULL);   /* the next port's bus comes after */
    CHECK(pci_get_dev(&t.sys, 0, 2, 0xc7) != NULL);
    CHECK(pci_get_dev(&t.sys, 0, 2, 0xc7)->is_virtfn);
    topo_end(&t);
}

/* 256 ARI functions below one root port (PCIe §6.13): all found, each a group (endpoints with
 * ACS capability, as an ARI device would carry). */
TEST(ari_256_functions)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    for (unsigned fn = 0; fn < 256; fn++) {
        int d = fake_add(&t.f, rp, fn >> 3, fn & 7, 0x1b36, 0x0010, 0x010802, 0);
        if (fn == 0)
            fake_set_mfd(&t.f, d);
        fake_add_pcie(&t.f, d, PCI_EXP_TYPE_ENDPOINT, true, false);
        fake_add_ari(&t.f, d, (uint8_t)(fn == 255 ? 0 : fn + 1));
        fake_add_acs(&t.f, d, PCI_ACS_RR | PCI_ACS_CR);
    }
    REQUIRE(topo_run(&t) > 0);
    CHECK_EQ(t.sys.ndevs, 4 + 1 + 256);
    CHECK_EQ(t.ngroups, 2 + 1 + 256);
    CHECK(topo_dev(&t, 1, 31, 7) != NULL);
    topo_end(&t);
}

/* A large mixed tree: root ports, a switch, bridges, expanders, multi-function devices and
 * SR-IOV together. Expected partition derived from the rules above. */
TEST(large_mixed)
{
    const char *txt =
        "-device e1000e,bus=pcie.0,addr=0x2\n"
        "-device edu,bus=pcie.0,addr=0x3.0,multifunction=on\n"
        "-device edu,bus=pcie.0,addr=0x3.1\n"
        "-device edu,bus=pcie.0,addr=0x3.2\n"
        "-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x4.0,multifunction=on,chassis=1\n"
        "-device pcie-root-port,id=rp2,bus=pcie.0,addr=0x4.1,chassis=2\n"
        "-device pcie-root-port,id=rp3,bus=pcie.0,addr=0x4.2,chassis=3\n"
        "-device pcie-root-port,id=rp4,bus=pcie.0,addr=0x4.3,chassis=4\n"
        "-device x3130-upstream,id=up,bus=rp1\n"
        "-device xio3130-downstream,id=dp1,bus=up,addr=0x0,chassis=10\n"
        "-device xio3130-downstream,id=dp2,bus=up,addr=0x1,chassis=11\n"
        "-device nvme,bus=dp1,drive=a,serial=a\n"
        "-device virtio-blk-pci,bus=dp2,drive=b\n"
        "-device pcie-pci-bridge,id=ppb,bus=rp2\n"
        "-device edu,bus=ppb,addr=0x1\n"
        "-device pci-bridge,id=pb,bus=ppb,addr=0x2,chassis_nr=20\n"
        "-device e1000e,bus=pb,addr=0x3\n"
        "-device igb,bus=rp3\n"
        "-device edu,bus=rp4\n"
        "-device pxb-pcie,id=pxb,bus_nr=0x40,bus=pcie.0,addr=0x5\n"
        "-device pcie-root-port,id=rp5,bus=pxb,addr=0x0,chassis=30\n"
        "-device nvme,bus=rp5,drive=c,serial=c\n";
    struct topo t;
    REQUIRE(topo_from_args(&t, txt) > 0);
    /* buses: rp1 1 (up) 2 (dp1 3, dp2 4), rp2 5 (ppb, pb 6, 7 below pb), rp3 8 (igb + VFs), rp4 9 */
    CHECK_GROUPS(t.groups,
              Q35_GROUPS_HEAD "0000:00:02.0\n0000:00:03.0 0000:00:03.1 0000:00:03.2\n"
              "0000:00:04.0\n0000:00:04.1\n0000:00:04.2\n0000:00:04.3\n0000:00:05.0\n"
              ICH9_GROUP "0000:01:00.0\n0000:02:00.0 0000:03:00.0\n0000:02:01.0 0000:04:00.0\n"
              "0000:05:00.0 0000:06:01.0 0000:06:02.0 0000:07:03.0\n"
              "0000:08:00.0\n0000:08:10.0\n0000:08:10.2\n0000:08:10.4\n0000:08:10.6\n"
              "0000:08:11.0\n0000:08:11.2\n0000:08:11.4\n0000:09:00.0\n"
              "0000:40:00.0\n0000:41:00.0\n");
    CHECK_EQ(t.sys.warnings, 0);
    pci_print_tree(&t.sys);
    topo_end(&t);
}

/* Firmware-assigned bus numbers are kept, even when they are not what a fresh scan gives. */
TEST(firmware_bus_numbers_kept)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp1 = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    int rp2 = fake_root_port(&t.f, FAKE_ROOT(0), 3, 0);
    int rp3 = fake_root_port(&t.f, FAKE_ROOT(0), 4, 0);   /* left unconfigured */
    fake_set_buses(&t.f, rp1, 0, 0x10, 0x12);
    fake_set_buses(&t.f, rp2, 0, 0x05, 0x05);
    fake_edu(&t.f, rp1, 0, 0);
    fake_edu(&t.f, rp2, 0, 0);
    fake_edu(&t.f, rp3, 0, 0);
    REQUIRE(topo_run(&t) > 0);
    CHECK(topo_dev(&t, 0x10, 0, 0) != NULL);
    CHECK(topo_dev(&t, 0x05, 0, 0) != NULL);
    CHECK(topo_dev(&t, 0x13, 0, 0) != NULL);   /* after the highest bus firmware used */
    CHECK_EQ(t.sys.warnings, 0);
    topo_end(&t);
}

struct rids {
    uint16_t rid[16];
    unsigned n;
};

static int collect_rid(struct pci_dev *dev, uint16_t rid, void *arg)
{
    struct rids *r = arg;
    if (r->n < 16)
        r->rid[r->n++] = rid;
    return 0;
}

/* Requester IDs the IOMMU must accept: a device's own, then (secondary bus, 0) for a
 * PCIe-to-PCI bridge (PCIe-to-PCI Bridge spec §2.3) and the RID of a conventional bridge;
 * ports pass RIDs through. The 82801 DMI bridge (QEMU's i82801b11-bridge) hides that it is
 * PCIe-to-PCI: Linux's quirk makes it alias with its secondary bus too. */
TEST(dma_alias_rids)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int rp = fake_root_port(&t.f, FAKE_ROOT(0), 2, 0);
    int ppb = fake_pcie_pci_bridge(&t.f, rp, 0, 0);
    int pb = fake_pci_bridge(&t.f, ppb, 3, 0);
    fake_edu(&t.f, pb, 4, 0);
    int rp2 = fake_root_port(&t.f, FAKE_ROOT(0), 3, 0);
    int dmi = fake_add(&t.f, rp2, 0, 0, 0x8086, 0x244e, 0x060401, 1);
    fake_edu(&t.f, dmi, 1, 0);
    REQUIRE(topo_run(&t) > 0);
    /* buses: rp 1, ppb 2, pb 3; rp2 4, dmi 5 */
    struct rids r = { .n = 0 };
    struct pci_dev *edu = topo_dev(&t, 3, 4, 0);
    REQUIRE(edu);
    pci_for_each_dma_alias(&t.sys, edu, collect_rid, &r);
    REQUIRE(r.n == 3);
    CHECK_EQ(r.rid[0], 0x0320);   /* 03:04.0 itself */
    CHECK_EQ(r.rid[1], 0x0218);   /* pci-bridge 02:03.0 */
    CHECK_EQ(r.rid[2], 0x0200);   /* pcie-pci-bridge: (bus 2, devfn 0) */
    struct pci_dev *edu2 = topo_dev(&t, 5, 1, 0);
    REQUIRE(edu2);
    r.n = 0;
    pci_for_each_dma_alias(&t.sys, edu2, collect_rid, &r);
    REQUIRE(r.n == 2);
    CHECK_EQ(r.rid[1], 0x0500);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD "0000:00:02.0\n0000:00:03.0\n" ICH9_GROUP
                 "0000:01:00.0 0000:02:03.0 0000:03:04.0\n0000:04:00.0 0000:05:01.0\n");
    topo_end(&t);
}

/* DMA-alias quirks: a Marvell 88SE9123 uses function 1's RID, so functions 0 and 1 share a
 * group even though both carry ACS (which would otherwise split them). */
TEST(dma_alias_quirk_groups)
{
    struct topo t;
    topo_begin(&t);
    fake_q35_base(&t.f);
    int a = fake_add(&t.f, FAKE_ROOT(0), 3, 0, 0x1b4b, 0x9123, 0x010601, 0);
    fake_add_pcie(&t.f, a, PCI_EXP_TYPE_RC_END, false, false);
    fake_add_acs(&t.f, a, 0);
    fake_set_mfd(&t.f, a);
    int b = fake_add(&t.f, FAKE_ROOT(0), 3, 1, 0x1b4b, 0x91a0, 0x01018f, 0);
    fake_add_pcie(&t.f, b, PCI_EXP_TYPE_RC_END, false, false);
    fake_add_acs(&t.f, b, 0);
    int c = fake_add(&t.f, FAKE_ROOT(0), 4, 0, 0x1b36, 0x0010, 0x010802, 0);   /* control */
    fake_add_pcie(&t.f, c, PCI_EXP_TYPE_RC_END, false, false);
    fake_add_acs(&t.f, c, 0);
    fake_set_mfd(&t.f, c);
    int d = fake_add(&t.f, FAKE_ROOT(0), 4, 1, 0x1b36, 0x0010, 0x010802, 0);
    fake_add_pcie(&t.f, d, PCI_EXP_TYPE_RC_END, false, false);
    fake_add_acs(&t.f, d, 0);
    REQUIRE(topo_run(&t) > 0);
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD "0000:00:03.0 0000:00:03.1\n0000:00:04.0\n"
                 "0000:00:04.1\n" ICH9_GROUP);
    struct rids r = { .n = 0 };
    pci_for_each_dma_alias(&t.sys, topo_dev(&t, 0, 3, 0), collect_rid, &r);
    CHECK_EQ(r.n, 2);
    CHECK_EQ(r.rid[1], 0x0019);
    topo_end(&t);
}

/* Without ACS enabling (PCI_SYS_NO_ACS_ENABLE), root ports' ACS control stays 0, so the ACS
 * path is broken and devices fall into their port's group: the rule reads the live control
 * register, not the capability. */
TEST(acs_must_be_enabled)
{
    struct topo t;
    topo_begin(&t);
    char err[64];
    REQUIRE(fake_from_qemu_args(&t.f, ref04_txt, err, sizeof(err)) == 0);
    struct pci_host_bridge h = { .bus_end = 0xff };
    REQUIRE(pci_system_init(&t.sys, &fake_pci_ops, &t.f, &h, 1, t.devs, MAX_DEVS,
                            PCI_SYS_NO_ACS_ENABLE) == 0);
    REQUIRE(pci_enumerate(&t.sys) > 0);
    pci_assign_groups(&t.sys);
    fake_groups_text(&t.sys, t.groups, sizeof(t.groups));
    CHECK_GROUPS(t.groups, Q35_GROUPS_HEAD
                 "0000:00:06.0 0000:00:06.1 0000:00:06.2 0000:01:00.0 0000:02:00.0 0000:03:00.0\n"
                 "0000:00:07.0 0000:04:00.0\n" ICH9_GROUP);
    topo_end(&t);
}

/* The scan reads little: one probe per empty slot, functions 1-7 only of multi-function
 * devices, device 0 only below a root port. */
TEST(scan_is_cheap)
{
    struct topo t;
    topo_begin(&t);
    char err[64];
    REQUIRE(fake_from_qemu_args(&t.f, ref04_txt, err, sizeof(err)) == 0);
    struct pci_host_bridge h = { .bus_end = 0xff };
    REQUIRE(pci_system_init(&t.sys, &fake_pci_ops, &t.f, &h, 1, t.devs, MAX_DEVS, 0) == 0);
    REQUIRE(pci_enumerate(&t.sys) == 12);
    /* 32 slot probes on bus 0 + 7 for the functions of 06.x and 1f.x, and per device its
     * header, capabilities and BAR sizing */
    CHECK(t.f.reads < 32 + 14 + 12 * 40);
    topo_end(&t);
}

/* Under QEMU's amd-iommu the IOMMU is PCI function 00:01.0 (class 0806); Linux gives it no
 * group and the other groups stay as they are (reference README). */
TEST(amd_iommu_function_has_no_group)
{
    struct topo t;
    topo_begin(&t);
    char err[64];
    REQUIRE(fake_from_qemu_args(&t.f, ref02_txt, err, sizeof(err)) == 0);
    fake_add(&t.f, FAKE_ROOT(0), 1, 0, 0x1022, 0x0000, 0x080600, 0);
    REQUIRE(topo_run(&t) > 0);
    CHECK_GROUPS(t.groups, ref02_groups);
    CHECK_EQ(topo_dev(&t, 0, 1, 0)->group, PCI_NO_GROUP);
    pci_print_groups(&t.sys);
    topo_end(&t);
}

/* A topology-only pass (PCI_SYS_NO_BAR_SIZING) finds the same functions and never writes a
 * BAR; the full pass after it sees the same bus numbers. */
TEST(probe_pass_without_bar_sizing)
{
    struct topo t;
    topo_begin(&t);
    char err[64];
    REQUIRE(fake_from_qemu_args(&t.f, ref04_txt, err, sizeof(err)) == 0);
    struct pci_host_bridge h = { .bus_end = 0xff };
    REQUIRE(pci_system_init(&t.sys, &fake_pci_ops, &t.f, &h, 1, t.devs, MAX_DEVS,
                            PCI_SYS_NO_BAR_SIZING | PCI_SYS_NO_ACS_ENABLE) == 0);
    unsigned long w0 = t.f.writes;
    REQUIRE(pci_enumerate(&t.sys) == 12);
    CHECK(t.f.writes - w0 < 20);   /* bus numbers and ARI control only */
    CHECK_EQ(topo_dev(&t, 1, 0, 0)->bar[0].size, 0);
    REQUIRE(topo_run(&t) > 0);
    CHECK_GROUPS(t.groups, ref04_groups);
    CHECK_EQ(topo_dev(&t, 1, 0, 0)->bar[0].size, 128 << 10);
    topo_end(&t);
}

/* Where an INTx pin arrives on the root bus (pci_intx_root): the swizzle at every bridge on the
 * way up, pin' = (pin + slot) % 4, the root-bus function above; no pin, no route. */
static void set_pin(struct topo *t, unsigned bus, unsigned slot, uint8_t pin)
{
    struct pci_dev *d = topo_dev(t, bus, slot, 0);
    if (d)
        pci_write8(&t->sys, d, PCI_INTERRUPT_PIN, pin);
}

TEST(intx_swizzle)
{
    const char *txt =
        "-device pci-bridge,id=pb2,bus=pcie.0,addr=0x4,chassis_nr=6\n"
        "-device edu,bus=pb2,addr=0x5\n"
        "-device pci-bridge,id=pb3,bus=pb2,addr=0x6,chassis_nr=7\n"
        "-device edu,bus=pb3,addr=0x1\n"
        "-device edu,bus=pcie.0,addr=0x5\n";
    struct topo t;
    REQUIRE(topo_from_args(&t, txt) > 0);
    /* The fake's interrupt pin registers are read-only: give them a write mask first. */
    for (unsigned i = 0; i < t.f.n; i++)
        t.f.fns[i].wmask[PCI_INTERRUPT_PIN] = 0xff;
    set_pin(&t, 1, 5, 2);           /* INTB at 01:05.0 */
    set_pin(&t, 2, 1, 3);           /* INTC at 02:01.0 */
    set_pin(&t, 0, 5, 1);           /* INTA at 00:05.0 */
    struct pci_dev *one = topo_dev(&t, 1, 5, 0), *two = topo_dev(&t, 2, 1, 0);
    struct pci_dev *root_edu = topo_dev(&t, 0, 5, 0);
    REQUIRE(one && two && root_edu);
    unsigned pin = 99;
    /* 01:05.0 INTB (1): (1 + 5) % 4 = 2 at the bridge 00:04.0. */
    const struct pci_dev *r = pci_intx_root(&t.sys, one, &pin);
    REQUIRE(r);
    CHECK_EQ(r->bus, 0);
    CHECK_EQ(r->devfn, 4 << 3);
    CHECK_EQ(pin, 2);
    /* 02:01.0 INTC (2): (2 + 1) % 4 = 3 at the bridge 01:06.0, (3 + 6) % 4 = 1 at 00:04.0. */
    r = pci_intx_root(&t.sys, two, &pin);
    REQUIRE(r);
    CHECK_EQ(r->devfn, 4 << 3);
    CHECK_EQ(pin, 1);
    r = pci_intx_root(&t.sys, root_edu, &pin);
    CHECK(r == root_edu);
    CHECK_EQ(pin, 0);
    set_pin(&t, 0, 5, 0);
    CHECK(pci_intx_root(&t.sys, root_edu, &pin) == NULL);
    set_pin(&t, 0, 5, 5);
    CHECK(pci_intx_root(&t.sys, root_edu, &pin) == NULL);
    topo_end(&t);
}
