/* PCI enumeration time against device count, on the host tests' synthetic configuration
 * spaces (tests/host/pci/fake_pci.c). A tree of N functions: N = 1 is one endpoint on the root
 * bus; otherwise N / 2 PCIe root ports on the root bus (multi-function slots of eight), each
 * with one endpoint below it (an edu: one MSI capability, a 1 MiB BAR).
 *
 *   pci_enum_<N>          the whole bring-up moat does at boot, in us: pci_system_init,
 *                         pci_enumerate (scan, bus numbers, capabilities, BAR sizing, ACS),
 *                         pci_assign_resources, pci_sriov_enable_all, pci_assign_groups;
 *                         moat's own time: the model's share is taken out (below)
 *   pci_enum_model_<N>    the model's share: the same configuration accesses replayed alone
 *   pci_enum_per_fn_256   pci_enum_256 / 256, in us
 *
 * The model finds a function by routing each access through its bridges, a walk over its whole
 * list (hardware does this for free; in QEMU each access is an MMIO exit instead). That walk
 * would dominate and grow with N, so every access of a timed run is recorded and then replayed
 * against a freshly built copy of the tree; pci_enum_<N> is the run minus the replay. A comment
 * line gives the configuration accesses per function. Building a tree is never timed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "pci/pci_regs.h"
#include "tests/host/pci/fake_pci.h"

#define MAX_DEVS 1024
#define MAX_LOG (1u << 16)

struct access {
    uint8_t write, bus, devfn, width;
    uint16_t off;
    uint32_t val;
};

static struct access acc_log[MAX_LOG];
static unsigned nlog;

static uint32_t rec_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                         unsigned width)
{
    if (nlog < MAX_LOG)
        acc_log[nlog++] = (struct access){ 0, bus, devfn, (uint8_t)width, off, 0 };
    return fake_pci_ops.read(ctx, seg, bus, devfn, off, width);
}

static void rec_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                      unsigned width, uint32_t val)
{
    if (nlog < MAX_LOG)
        acc_log[nlog++] = (struct access){ 1, bus, devfn, (uint8_t)width, off, val };
    fake_pci_ops.write(ctx, seg, bus, devfn, off, width, val);
}

static const struct pci_cfg_ops rec_ops = { rec_read, rec_write, NULL };
static volatile uint32_t sink;

/* What fake_run does (one root bus), through the recording accessors. */
static int enumerate(struct fake_pci *f, struct pci_system *sys, struct pci_dev *devs)
{
    struct pci_host_bridge host = {
        .seg = 0, .bus_start = 0, .bus_end = 0xff,
        .mem32 = { 0x80000000u, 0x40000000u },
        .mem64 = { 0x8000000000ull, 0x100000000ull },
        .io = { 0x1000, 0x4000 },
    };
    int r = pci_system_init(sys, &rec_ops, f, &host, 1, devs, MAX_DEVS, 0);
    if (!r)
        r = pci_enumerate(sys);
    if (r >= 0)
        r = pci_assign_resources(sys);
    if (!r)
        r = pci_sriov_enable_all(sys, 0);
    if (r >= 0)
        r = pci_assign_groups(sys);
    return r;
}

static void replay(struct fake_pci *f)
{
    for (unsigned i = 0; i < nlog; i++) {
        const struct access *a = &acc_log[i];
        if (a->write)
            fake_pci_ops.write(f, 0, a->bus, a->devfn, a->off, a->width, a->val);
        else
            sink += fake_pci_ops.read(f, 0, a->bus, a->devfn, a->off, a->width);
    }
}

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_pci: %s failed: %d\n", what, err);
    exit(1);
}

static void build(struct fake_pci *f, unsigned n)
{
    fake_init(f);
    fake_add_root(f, 0, 0);
    if (n == 1) {
        fake_edu(f, FAKE_ROOT(0), 3, 0);
        return;
    }
    for (unsigned i = 0; i < n / 2; i++) {
        unsigned slot = 1 + i / 8, fn = i % 8;
        int port = fake_root_port(f, FAKE_ROOT(0), slot, fn);
        if (fn == 0)
            fake_set_mfd(f, port);
        fake_edu(f, port, 0, 0);
    }
}

static double bench_tree(unsigned n, int rounds, struct pci_dev *devs)
{
    double core[BENCH_MAX_ROUNDS], model[BENCH_MAX_ROUNDS];
    char name[48];
    static struct pci_system sys;
    for (int r = 0; r < rounds; r++) {
        struct fake_pci f, g;
        build(&f, n);
        build(&g, n);
        memset(&sys, 0, sizeof(sys));
        nlog = 0;
        uint64_t t0 = bench_now_ns();
        int err = enumerate(&f, &sys, devs);
        uint64_t t1 = bench_now_ns();
        replay(&g);
        uint64_t t2 = bench_now_ns();
        if (err < 0 || nlog >= MAX_LOG || sys.ndevs != n)
            die("enumeration", err < 0 ? err : (int)sys.ndevs);
        model[r] = (double)(t2 - t1) / 1000;
        core[r] = (double)(t1 - t0) / 1000 - model[r];
        fake_free(&f);
        fake_free(&g);
    }
    snprintf(name, sizeof(name), "pci_enum_%u", n);
    double med = bench_report(name, "us", core, rounds);
    snprintf(name, sizeof(name), "pci_enum_model_%u", n);
    bench_report(name, "us", model, rounds);
    printf("# pci_enum_%u: %u functions, %.0f configuration accesses per function\n", n, n,
           (double)nlog / n);
    return med;
}

int main(int argc, char **argv)
{
    static const unsigned counts[] = { 1, 8, 64, 256 };
    bool short_run = bench_short(argc, argv);
    int rounds = short_run ? 5 : 21;
    struct pci_dev *devs = calloc(MAX_DEVS, sizeof(*devs));
    double last = 0;
    if (!devs)
        die("calloc", -12);
    printf("# bench_pci: synthetic configuration spaces (host)%s\n",
           short_run ? " (--short)" : "");
    for (unsigned i = 0; i < 4; i++)
        last = bench_tree(counts[i], rounds, devs);
    printf("bench pci_enum_per_fn_256 %.2f us\n", last / 256);
    free(devs);
    return 0;
}
