/* The image's PCI platform: configuration access through ECAM (where the firmware says: ACPI's
 * MCFG or the device tree, arch_pci_firmware) with the architecture's legacy access (x86's
 * 0xCF8/0xCFC ports) as the fallback for bus 0, discovery of the root buses (the firmware's
 * root bus and any pxb-pcie expander buses), and the unit that enumerates, groups and prints
 * the tree. */
#include "arch/arch.h"
#include "kernel/acpi/platform.h"
#include "kernel/cmdline.h"
#include "kernel/init.h"
#include "kernel/mm/heap.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"
#include "pci/pci_platform.h"

#define PCI_MAX_DEVS 1024

#define PCI_MAX_ECAM 16

struct ecam_seg {
    volatile uint8_t *base;     /* mapped for bus_start..bus_end */
    uint16_t seg;
    uint8_t bus_start, bus_end;
    struct pci_aperture mem32, mem64, io;   /* for every root bus found in this window */
};

static struct ecam_seg ecam[PCI_MAX_ECAM];
static unsigned nr_ecam;
static struct pci_system pci_sys;
static bool pci_ready;
static struct pci_cfg_stats cfg_stats;

const struct pci_cfg_stats *platform_pci_cfg_stats(void)
{
    return &cfg_stats;
}

struct pci_system *platform_pci(void)
{
    return pci_ready ? &pci_sys : NULL;
}

static volatile uint8_t *ecam_addr(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
    for (unsigned i = 0; i < nr_ecam; i++) {
        const struct ecam_seg *e = &ecam[i];
        if (e->seg == seg && bus >= e->bus_start && bus <= e->bus_end)
            return e->base + ((uint64_t)(bus - e->bus_start) << 20) + ((uint64_t)devfn << 12) + off;
    }
    return NULL;
}

static uint32_t cfg_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                         unsigned width)
{
    volatile uint8_t *a = ecam_addr(seg, bus, devfn, off);
    cfg_stats.reads++;
    if (!a) {
        uint32_t v;
        if (seg == 0 && off < 256 && arch_pci_legacy_read(bus, devfn, off, width, &v))
            return v;
        return width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
    }
    switch (width) {
    case 1: return *a;
    case 2: return *(volatile uint16_t *)a;
    default: return *(volatile uint32_t *)a;
    }
}

static void cfg_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                      unsigned width, uint32_t val)
{
    volatile uint8_t *a = ecam_addr(seg, bus, devfn, off);
    cfg_stats.writes++;
    /* A command-register write that changes decode or bus mastering makes a hypervisor
     * rebuild the guest's memory map: the costly kind of configuration write. */
    if (off <= PCI_COMMAND && off + width > PCI_COMMAND)
        cfg_stats.command_writes++;
    if (!a) {
        if (seg == 0 && off < 256)
            arch_pci_legacy_write(bus, devfn, off, width, val);
        return;
    }
    switch (width) {
    case 1: *a = (uint8_t)val; break;
    case 2: *(volatile uint16_t *)a = (uint16_t)val; break;
    default: *(volatile uint32_t *)a = val; break;
    }
}

static void cfg_delay(void *ctx, unsigned us)
{
    udelay(us);
}

static const struct pci_cfg_ops ecam_ops = { cfg_read, cfg_write, cfg_delay };

static void map_ecam(void)
{
    struct pci_fw_ecam fw[PCI_MAX_ECAM];
    unsigned n = arch_pci_firmware(fw, PCI_MAX_ECAM);
    for (unsigned i = 0; i < n; i++) {
        uint64_t size = ((uint64_t)(fw[i].bus_end - fw[i].bus_start) + 1) << 20;
        volatile uint8_t *va = mmio_map(fw[i].base, size);
        if (!va) {
            kprintf("pci: cannot map ECAM of segment %u, skipped\n", fw[i].seg);
            continue;
        }
        ecam[nr_ecam++] = (struct ecam_seg){ va, fw[i].seg, fw[i].bus_start, fw[i].bus_end,
                                             fw[i].mem32, fw[i].mem64, fw[i].io };
    }
}

/* A root bus of ECAM window e, with the window's apertures. */
static struct pci_host_bridge root_of(const struct ecam_seg *e, uint8_t bus)
{
    return (struct pci_host_bridge){ .seg = e->seg, .bus_start = bus, .bus_end = e->bus_end,
                                     .mem32 = e->mem32, .mem64 = e->mem64, .io = e->io };
}

static bool bus_has_device(uint16_t seg, uint8_t bus)
{
    for (unsigned dev = 0; dev < 32; dev++)
        if ((cfg_read(NULL, seg, bus, (uint8_t)(dev << 3), 0, 2) & 0xffff) != 0xffff)
            return true;
    return false;
}

/* Whether an enumeration found a host bridge function besides a root bus's own 00.0: QEMU's
 * pxb-pcie expander is one, and its root bus lies elsewhere in the bus range (only ACPI's _BBN
 * names it). */
static bool has_expander(const struct pci_system *sys)
{
    for (uint32_t d = 0; d < sys->ndevs; d++) {
        const struct pci_dev *p = &sys->devs[d];
        if ((p->class_rev >> 16) == 0x0600 && !(p->devfn == 0 && p->parent == PCI_NONE))
            return true;
    }
    return false;
}

static void mark_covered(const struct pci_system *sys, uint16_t seg, bool covered[256])
{
    for (uint32_t d = 0; d < sys->ndevs; d++) {
        const struct pci_dev *p = &sys->devs[d];
        if (p->seg != seg)
            continue;
        covered[p->bus] = true;
        if (p->is_bridge)
            for (unsigned b = p->secondary; b && b <= p->subordinate; b++)
                covered[b] = true;
    }
}

/* With an expander present: every bus of a segment that holds devices but that no bridge of an
 * already known root routes to is a root bus too (moat finds them without AML). Each new root's
 * tree is scanned before looking further, so its bridges' buses are not taken for roots. */
static unsigned find_extra_roots(const struct pci_system *sys, struct pci_host_bridge *hb,
                                 unsigned n, unsigned max)
{
    static struct pci_dev scratch[PCI_MAX_DEVS];
    for (unsigned i = 0; i < nr_ecam; i++) {
        bool covered[256] = { false };
        mark_covered(sys, ecam[i].seg, covered);
        for (unsigned bus = ecam[i].bus_start; bus <= ecam[i].bus_end && n < max; bus++) {
            if (covered[bus] || !bus_has_device(ecam[i].seg, (uint8_t)bus))
                continue;
            hb[n] = root_of(&ecam[i], (uint8_t)bus);
            struct pci_system probe;
            if (pci_system_init(&probe, &ecam_ops, NULL, &hb[n], 1, scratch, PCI_MAX_DEVS,
                                PCI_SYS_NO_ACS_ENABLE | PCI_SYS_NO_BAR_SIZING) == 0 &&
                pci_enumerate(&probe) >= 0)
                mark_covered(&probe, ecam[i].seg, covered);
            covered[bus] = true;
            n++;
        }
    }
    /* Sort by segment and bus; each root bus ends where the next one on its segment starts. */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && (hb[j].seg < hb[j - 1].seg || (hb[j].seg == hb[j - 1].seg &&
                                       hb[j].bus_start < hb[j - 1].bus_start)); j--) {
            struct pci_host_bridge t = hb[j];
            hb[j] = hb[j - 1];
            hb[j - 1] = t;
        }
    for (unsigned i = 0; i + 1 < n; i++)
        if (hb[i + 1].seg == hb[i].seg)
            hb[i].bus_end = (uint8_t)(hb[i + 1].bus_start - 1);
    return n;
}

static int enumerate_roots(struct pci_host_bridge *hb, unsigned nhost, struct pci_dev *devs)
{
    /* An AMD IOMMU (IVRS present) makes Linux apply its AMD southbridge ACS quirk. */
    const struct acpi_info *ai = platform_acpi();
    uint32_t flags = ai && acpi_find_table(ai, "IVRS", 0) ? PCI_SYS_AMD_IVRS : 0;
    /* pci_sizing=legacy: a decode-off window per sized function, restored at once, host
     * bridges too (what moat did before; the boot benchmark compares both in one run). */
    char mode[16];
    if (!cmdline_get("pci_sizing", mode, sizeof(mode)) || strcmp(mode, "legacy") != 0)
        flags |= PCI_SYS_DEFER_DECODE;
    int err = pci_system_init(&pci_sys, &ecam_ops, NULL, hb, nhost, devs, PCI_MAX_DEVS, flags);
    if (err)
        return err;
    int n = pci_enumerate(&pci_sys);
    return n < 0 && n != -ENOSPC ? n : 0;
}

/* As Linux, a PF's VFs stay off until someone asks (sriov_numvfs in /sys, or a driver's
 * pci_sriov_set_numvfs); "sriov_numvfs=max" enables them all at boot and when a PF is
 * hot-added, "sriov_numvfs=N" at most N per PF (moat's behaviour before). */
bool platform_pci_boot_vfs(unsigned *max_vfs)
{
    char v[16];
    unsigned long long n;
    const char *end;
    if (!cmdline_get("sriov_numvfs", v, sizeof(v)))
        return false;
    if (strcmp(v, "max") == 0) {
        *max_vfs = 0;
        return true;
    }
    if (str_to_u64(v, &end, 10, &n) == 0 && !*end && n > 0 && n <= 0xffff) {
        *max_vfs = (unsigned)n;
        return true;
    }
    kprintf("pci: sriov_numvfs=%s: neither max nor a count of VFs, ignored\n", v);
    return false;
}

static int pci_init(void)
{
    map_ecam();
    struct pci_host_bridge hb[PCI_MAX_HOST_BRIDGES];
    unsigned nhost = 0;
    for (unsigned i = 0; i < nr_ecam && nhost < PCI_MAX_HOST_BRIDGES; i++, nhost++)
        hb[nhost] = root_of(&ecam[i], ecam[i].bus_start);
    if (nhost == 0) {
        /* Legacy access to bus 0 (x86), with the architecture's apertures. */
        struct pci_fw_ecam fw = { 0 };
        uint32_t v;
        if (!arch_pci_legacy_read(0, 0, 0, 4, &v)) {
            kprintf("pci: no ECAM from the firmware and no legacy configuration access\n");
            return -ENODEV;
        }
        kprintf("pci: no ECAM (MCFG); legacy configuration access to segment 0 only\n");
        arch_pci_legacy_apertures(&fw);
        hb[0] = (struct pci_host_bridge){ .seg = 0, .bus_start = 0, .bus_end = 0,
                                          .mem32 = fw.mem32, .mem64 = fw.mem64, .io = fw.io };
        nhost = 1;
    }
    struct pci_dev *devs = kcalloc(PCI_MAX_DEVS, sizeof(*devs));
    if (!devs)
        return -ENOMEM;
    uint64_t t0 = clock_ns();
    int err = enumerate_roots(hb, nhost, devs);
    if (!err && nr_ecam && has_expander(&pci_sys)) {
        unsigned n = find_extra_roots(&pci_sys, hb, nhost, PCI_MAX_HOST_BRIDGES);
        if (n > nhost) {
            nhost = n;
            err = enumerate_roots(hb, nhost, devs);
        }
    }
    if (err)
        return err;
    err = pci_assign_resources(&pci_sys);
    if (err)
        kprintf("pci: some BARs could not be placed (%s)\n", errno_name(err));
    unsigned max_vfs;
    int vfs = 0;
    if (platform_pci_boot_vfs(&max_vfs))
        vfs = pci_sriov_enable_all(&pci_sys, max_vfs);
    if (vfs < 0)
        kprintf("pci: SR-IOV: %s\n", errno_name(vfs));
    int groups = pci_assign_groups(&pci_sys);
    uint64_t us = (clock_ns() - t0) / NSEC_PER_USEC;
    pci_ready = true;
    kprintf("pci: %u functions (%d VFs) on %u root buses, %d isolation groups, enumerated in %llu us\n",
            pci_sys.ndevs, vfs > 0 ? vfs : 0, nhost, groups, (unsigned long long)us);
    pci_print_tree(&pci_sys);
    pci_print_groups(&pci_sys);
    return 0;
}
MOAT_UNIT(50_bus, pci, pci_init);

/* After the drivers: functions that sizing left with decode off and that no driver enabled get
 * their firmware state back (a driver's enable turned decode on with bus mastering, in one
 * command-register write instead of two). */
static int pci_decode_init(void)
{
    if (pci_ready)
        pci_restore_decode(&pci_sys);
    return 0;
}
MOAT_UNIT_OPTIONAL(80_late, pci_decode, pci_decode_init);
