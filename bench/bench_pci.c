/* PCI enumeration time against device count, on the host tests' synthetic configuration
 * spaces (tests/host/pci/fake_pci.c). A tree of N functions: N = 1 is one endpoint on the root
 * bus; N = 8 … 256 is N / 2 PCIe root ports on the root bus (multi-function slots of eight),
 * each with one endpoint below it (an edu: one MSI capability, a 1 MiB BAR); N = 1024 is the
 * 256 tree's 128 root ports, each with an SR-IOV PF (igb-like, memory BARs only: the host's
 * 16 KiB of I/O space cannot give 128 ports an I/O window each) that has 6 VFs enabled.
 *
 *   pci_enum_<N>          the whole bring-up moat does at boot, in us: pci_system_init,
 *                         pci_enumerate (scan, bus numbers, capabilities, BAR sizing, ACS),
 *                         pci_assign_resources, pci_sriov_enable_all, pci_assign_groups;
 *                         moat's own time: the configuration accesses' share is taken out
 *   pci_enum_model_<N>    that share: the same configuration accesses replayed alone
 *   pci_enum_per_fn_<N>   pci_enum_<N> / N for the two largest trees, in us
 *
 * The model finds a function by routing each access through its bridges, a walk over its whole
 * list (hardware does this for free; in QEMU each access is an MMIO exit instead), which would
 * dominate and grow with N. So the model answers only once per tree, untimed, while every
 * access is recorded; the timed rounds get their answers from that record (each access checked
 * against it: moat's accesses are the same every run). What the answering costs (a replay of
 * the record alone) is subtracted. A comment line gives the configuration accesses per
 * function. --only=pci_enum_<N> runs that tree alone (for a profiler; with callgrind add
 * --toggle-collect=timed_round to leave the recording out). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "pci/pci_regs.h"
#include "tests/host/pci/fake_pci.h"

#define MAX_DEVS 1024
#define MAX_LOG (1u << 17)

struct access {
    uint8_t write, bus, devfn, width;
    uint16_t off;
    uint32_t val;   /* written, or what the model answered */
};

static struct access acc_log[MAX_LOG];
static unsigned nlog;

/* ---- recording against the model (untimed) ---- */

static void record(uint8_t write, uint8_t bus, uint8_t devfn, uint16_t off, unsigned width,
                   uint32_t val)
{
    if (nlog < MAX_LOG)
        acc_log[nlog] = (struct access){ write, bus, devfn, (uint8_t)width, off, val };
    nlog++;
}

static uint32_t rec_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                         unsigned width)
{
    uint32_t v = fake_pci_ops.read(ctx, seg, bus, devfn, off, width);
    record(0, bus, devfn, off, width, v);
    return v;
}

static void rec_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                      unsigned width, uint32_t val)
{
    record(1, bus, devfn, off, width, val);
    fake_pci_ops.write(ctx, seg, bus, devfn, off, width, val);
}

static const struct pci_cfg_ops rec_ops = { rec_read, rec_write, NULL };

/* ---- answering from the record (timed) ---- */

struct replay {
    unsigned pos;
    bool diverged;   /* an access that the record does not have at this point */
};

static const struct access *replay_next(struct replay *r, uint8_t write, uint8_t bus,
                                        uint8_t devfn, uint16_t off, unsigned width)
{
    const struct access *a = &acc_log[r->pos < nlog ? r->pos : 0];
    if (r->pos >= nlog || a->write != write || a->bus != bus || a->devfn != devfn ||
        a->off != off || a->width != width)
        r->diverged = true;
    r->pos++;
    return a;
}

static uint32_t replay_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                            unsigned width)
{
    (void)seg;
    return replay_next(ctx, 0, bus, devfn, off, width)->val;
}

static void replay_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                         unsigned width, uint32_t val)
{
    (void)seg;
    struct replay *r = ctx;
    if (replay_next(r, 1, bus, devfn, off, width)->val != val)
        r->diverged = true;
}

static const struct pci_cfg_ops replay_ops = { replay_read, replay_write, NULL };
static const struct pci_cfg_ops *volatile replay_ops_p = &replay_ops;
static volatile uint32_t sink;

/* The record replayed alone, through the same calls: what answering costs. */
static void replay_alone(struct replay *r)
{
    const struct pci_cfg_ops *ops = replay_ops_p;
    for (unsigned i = 0; i < nlog; i++) {
        const struct access *a = &acc_log[i];
        if (a->write)
            ops->write(r, 0, a->bus, a->devfn, a->off, a->width, a->val);
        else
            sink += ops->read(r, 0, a->bus, a->devfn, a->off, a->width);
    }
}

/* ---- the trees ---- */

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_pci: %s failed: %d\n", what, err);
    exit(1);
}

/* What fake_run does (one root bus), through ops. */
static int enumerate(const struct pci_cfg_ops *ops, void *ctx, struct pci_system *sys,
                     struct pci_dev *devs)
{
    struct pci_host_bridge host = {
        .seg = 0, .bus_start = 0, .bus_end = 0xff,
        .mem32 = { 0x80000000u, 0x40000000u },
        .mem64 = { 0x8000000000ull, 0x100000000ull },
        .io = { 0x1000, 0x4000 },
    };
    int r = pci_system_init(sys, ops, ctx, &host, 1, devs, MAX_DEVS, 0);
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

#define VFS_1024 6   /* 128 x (PF + 6 VFs) + 128 root ports = 1024 */

static void sriov_pf(struct fake_pci *f, int parent)
{
    int d = fake_add(f, parent, 0, 0, 0x8086, 0x10c9, 0x020000, 0);
    fake_add_cap(f, d, PCI_CAP_ID_MSIX, 12);
    fake_add_pcie(f, d, PCI_EXP_TYPE_ENDPOINT, true, false);
    fake_add_ari(f, d, 0);
    fake_bar(f, d, 0, 128 << 10, 0);
    fake_add_sriov(f, d, VFS_1024, 0x80, 2, 0x10ca, 16 << 10);
}

static void build(struct fake_pci *f, unsigned n)
{
    fake_init(f);
    fake_add_root(f, 0, 0);
    if (n == 1) {
        fake_edu(f, FAKE_ROOT(0), 3, 0);
        return;
    }
    unsigned ports = n == 1024 ? 128 : n / 2;
    for (unsigned i = 0; i < ports; i++) {
        unsigned slot = 1 + i / 8, fn = i % 8;
        int port = fake_root_port(f, FAKE_ROOT(0), slot, fn);
        if (fn == 0)
            fake_set_mfd(f, port);
        if (n == 1024)
            sriov_pf(f, port);
        else
            fake_edu(f, port, 0, 0);
    }
}

/* A timed round, apart from the untimed recording: callgrind --toggle-collect=timed_round
 * counts moat's instructions alone (and the record's answers, a few per access). */
__attribute__((noinline)) static int timed_round(struct replay *run, struct pci_system *sys,
                                                 struct pci_dev *devs)
{
    return enumerate(&replay_ops, run, sys, devs);
}

static void record_tree(unsigned n, struct pci_dev *devs)
{
    static struct pci_system sys;
    struct fake_pci f;
    build(&f, n);
    memset(&sys, 0, sizeof(sys));
    nlog = 0;
    int err = enumerate(&rec_ops, &f, &sys, devs);
    if (err < 0 || nlog > MAX_LOG || sys.ndevs != n)
        die("enumeration against the model", err < 0 ? err : (int)sys.ndevs);
    fake_free(&f);
}

static double bench_tree(unsigned n, int rounds, struct pci_dev *devs)
{
    double core[BENCH_MAX_ROUNDS], model[BENCH_MAX_ROUNDS];
    char name[48];
    static struct pci_system sys;

    record_tree(n, devs);
    for (int r = 0; r < rounds; r++) {
        struct replay run = { 0, false }, alone = { 0, false };
        memset(&sys, 0, sizeof(sys));
        uint64_t t0 = bench_now_ns();
        int err = timed_round(&run, &sys, devs);
        uint64_t t1 = bench_now_ns();
        replay_alone(&alone);
        uint64_t t2 = bench_now_ns();
        if (err < 0 || sys.ndevs != n || run.diverged || run.pos != nlog || alone.diverged)
            die("enumeration against the record", err < 0 ? err : (int)sys.ndevs);
        model[r] = (double)(t2 - t1) / 1000;
        core[r] = (double)(t1 - t0) / 1000 - model[r];
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
    static const unsigned counts[] = { 1, 8, 64, 256, 1024 };
    enum { NCOUNTS = sizeof(counts) / sizeof(counts[0]) };
    bool short_run = bench_short(argc, argv);
    int rounds = short_run ? 5 : 21;
    struct pci_dev *devs = calloc(MAX_DEVS, sizeof(*devs));
    double med[NCOUNTS] = { 0 };
    char name[48];

    bench_parse_only(argc, argv);
    if (!devs)
        die("calloc", -12);
    printf("# bench_pci: synthetic configuration spaces (host)%s\n",
           short_run ? " (--short)" : "");
    for (unsigned i = 0; i < NCOUNTS; i++) {
        snprintf(name, sizeof(name), "pci_enum_%u", counts[i]);
        if (bench_wanted(name))
            med[i] = bench_tree(counts[i], rounds, devs);
    }
    for (unsigned i = NCOUNTS - 2; i < NCOUNTS && !bench_only_name; i++)
        printf("bench pci_enum_per_fn_%u %.2f us\n", counts[i], med[i] / counts[i]);
    free(devs);
    return 0;
}
