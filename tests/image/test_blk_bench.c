/* blk_bench (explicit): block I/O for a fixed time in four DMA modes, back to back:
 *   identity   the controller on an IDENTITY domain: no translation, nothing mapped;
 *   strict     a PAGING domain, every I/O maps the caller's buffer into its slot of the
 *              device's window and clears it after completion (one invalidation and wait per
 *              poll round, before the completions are reported): zero-copy;
 *   copy       a PAGING domain, I/O into the pool's pre-mapped buffers, the data copied to the
 *              caller's buffer (the device never sees the caller's memory);
 *   premapped  a PAGING domain, I/O into the pool's pre-mapped buffers (no IOMMU work, no
 *              copy: the caller works in the pool buffer).
 * On NVMe and virtio-blk, 4 KiB random reads and 128 KiB sequential reads, queue depth 1 and
 * 32. Prints "bench <name> <value> <unit>" lines: IOPS and MB/s, and the ratios
 * protected/identity (dma_ratio_premapped, dma_ratio_copy and dma_ratio_strict: NVMe, 4 KiB
 * random, QD 32), and what each of the CPU's bulk copies costs on 4 KiB (copy_4k_*).
 * The time per mode, queue depth and workload is bench_ms=N on the command line (default 800),
 * measured in 24 slices that alternate between the modes. The I/Os a poll frees are
 * re-submitted under one plug (one doorbell); bench_plug=0 rings per I/O. bench_modes=,
 * bench_qds=, bench_devs=nvme,virtio and bench_wls=randread_4k,seqread_128k pick what runs. */
#include "drivers/nvme/nvme.h"
#include "kernel/cmdline.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"
#include "tests/image/test_blk.h"

#define BENCH_MAX_QD 32
#define BENCH_IO 4096u                  /* the random reads, and the map/unmap costs */
#define BENCH_MAX_IO (128u * 1024)
#define BUF_ORDER 5                     /* 4 KiB << 5: one BENCH_MAX_IO buffer */

struct workload {
    const char *name;
    uint32_t io_bytes;
    bool seq;
};

static const struct workload workloads[] = {
    { "randread_4k", BENCH_IO, false },
    { "seqread_128k", BENCH_MAX_IO, true },
};

struct bench_run {
    struct blk_dev *b;
    enum blk_dma_mode mode;
    bool zero_copy;             /* POOLED: data stays in the pool buffer */
    unsigned qd;
    const struct workload *wl;
    uint8_t *bufs[BENCH_MAX_QD];    /* one per slot, BENCH_MAX_IO each: the caller's buffers */
    uint64_t rng, next;         /* random, sequential: the next LBA */
    bool plug;
    struct blk_io ios[BENCH_MAX_QD];
};

static uint64_t bench_ns(void)
{
    char s[24];
    unsigned long long ms;
    if (cmdline_get("bench_ms", s, sizeof(s)) && str_to_u64(s, NULL, 10, &ms) == 0 && ms)
        return ms * NSEC_PER_MSEC;
    return 800 * NSEC_PER_MSEC;
}

static uint32_t io_blocks(const struct bench_run *r)
{
    return r->wl->io_bytes / r->b->lba_size;
}

static uint64_t next_lba(struct bench_run *r)
{
    uint64_t per = io_blocks(r), slots = r->b->nlba / per;
    if (r->wl->seq) {
        uint64_t lba = r->next;
        r->next = lba + per >= slots * per ? 0 : lba + per;
        return lba;
    }
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng % slots * per;
}

/* Where the CPU's time goes, per mode and queue depth: preparing I/Os (mapping, pool), telling
 * the device (the doorbell), polling (reaping, and for STRICT the batched unmaps), completing
 * (unmap or copy-out), and the rest (the slice's own loop). */
enum { T_PREPARE, T_SUBMIT, T_POLL, T_COMPLETE, NR_T };
static const char *const t_names[NR_T] = { "prepare", "submit", "poll", "complete" };

struct bench_acc {
    uint64_t ios, ns;
    uint64_t reap_batches;      /* STRICT: unmap calls of reaped I/Os (one wait each) */
    uint64_t t[NR_T];
};

static int issue(struct bench_run *r, unsigned i, struct bench_acc *acc)
{
    void *buf = r->zero_copy ? NULL : r->bufs[i];
    uint64_t t0 = clock_ns();
    int err = blk_io_prepare(r->b, &r->ios[i], r->mode, BLK_OP_READ, next_lba(r), io_blocks(r),
                             buf);
    uint64_t t1 = clock_ns();
    if (!err)
        err = blk_io_submit(r->b, &r->ios[i]);
    acc->t[T_PREPARE] += t1 - t0;
    acc->t[T_SUBMIT] += clock_ns() - t1;
    return err;
}

/* The I/Os a poll's completions free are re-submitted plugged: one doorbell for all of them,
 * as a block driver does. bench_plug=0 on the command line rings it for every I/O instead. */
static void plug(struct bench_run *r)
{
    if (r->plug)
        blk_plug(r->b);
}

/* Keeps qd reads in flight for ns; adds the I/Os and the time to acc. */
static int bench_slice(struct bench_run *r, uint64_t ns, struct bench_acc *acc)
{
    bool busy[BENCH_MAX_QD];
    struct bench_acc setup = { 0 };
    plug(r);
    for (unsigned i = 0; i < r->qd; i++) {
        if (issue(r, i, &setup)) {
            blk_unplug(r->b);
            return -EIO;
        }
        busy[i] = true;
    }
    blk_unplug(r->b);
    uint64_t t0 = clock_ns(), end = t0 + ns, done = 0, batches0 = r->b->nr_reap_batches;
    unsigned left = r->qd;
    while (left) {
        uint64_t p0 = clock_ns();
        if (blk_poll(r->b) < 0 || clock_ns() > end + 10 * NSEC_PER_SEC)
            return -EIO;
        uint64_t p1 = clock_ns();
        acc->t[T_POLL] += p1 - p0;
        bool more = p1 < end;
        plug(r);
        for (unsigned i = 0; i < r->qd; i++) {
            if (!busy[i] || !r->ios[i].done)
                continue;
            uint64_t c0 = clock_ns();
            if (blk_io_complete(r->b, &r->ios[i])) {
                blk_unplug(r->b);
                return -EIO;
            }
            acc->t[T_COMPLETE] += clock_ns() - c0;
            done++;
            busy[i] = more && issue(r, i, acc) == 0;
            left -= !busy[i];
        }
        uint64_t u0 = clock_ns();
        blk_unplug(r->b);       /* one doorbell for the I/Os this poll's completions freed */
        acc->t[T_SUBMIT] += clock_ns() - u0;
    }
    acc->ios += done;
    acc->ns += clock_ns() - t0;
    acc->reap_batches += r->b->nr_reap_batches - batches0;
    return 0;
}

/* Nanoseconds per I/O of each step at queue depth 32, and in all (prefix "" for NVMe, whose
 * lines came first, "virtio_" for virtio-blk). */
static void report_steps(const char *prefix, const char *mode, const struct bench_acc *a)
{
    if (!a->ios)
        return;
    for (unsigned k = 0; k < NR_T; k++)
        kprintf("bench %sqd32_%s_%s %llu ns/io\n", prefix, mode, t_names[k],
                (unsigned long long)(a->t[k] / a->ios));
    kprintf("bench %sqd32_%s_total %llu ns/io\n", prefix, mode,
            (unsigned long long)(a->ns / a->ios));
}

/* Per-round ratios (record_ratios): the modes run back to back within a round, so a ratio of
 * one round compares figures taken under the same host load; the median of the rounds then
 * drops the rounds a burst of host load hit unevenly. */
#define SLICES 24
enum { M_IDENTITY, M_STRICT, M_COPY, M_PREMAPPED, NR_MODES };
static uint32_t round_milli[NR_MODES][2][SLICES];

static void print_median_ratio(const char *name, unsigned m, unsigned q)
{
    uint32_t v[SLICES];
    unsigned n = 0;
    for (unsigned r = 0; r < SLICES; r++) {
        uint32_t x = round_milli[m][q][r], k = n++;
        for (; k > 0 && v[k - 1] > x; k--)     /* insertion: a few dozen values */
            v[k] = v[k - 1];
        v[k] = x;
    }
    if (!v[n - 1])          /* a mode not run (bench_modes=) */
        return;
    uint32_t med = (v[(n - 1) / 2] + v[n / 2]) / 2;
    kprintf("bench %s %u.%03u x\n", name, med / 1000, med % 1000);
    kprintf("# %s: median of %u rounds, min %u.%03u, max %u.%03u\n", name, n, v[0] / 1000,
            v[0] % 1000, v[n - 1] / 1000, v[n - 1] % 1000);
}

static void print_ratio(const char *name, uint64_t num, uint64_t den)
{
    if (num == 0 || den == 0)       /* a mode not run (bench_modes=) */
        return;
    uint64_t milli = num * 1000 / den;
    kprintf("bench %s %llu.%03llu x\n", name, (unsigned long long)(milli / 1000),
            (unsigned long long)(milli % 1000));
}

/* The modes alternate in short slices, so that a busy host slows them all alike. */
static const char *const mode_names[NR_MODES] = { "identity", "strict", "copy", "premapped" };
static const unsigned qds[2] = { 1, 32 };

/* bench_modes=identity,strict,... and bench_qds=1,32 on the command line run only those modes
 * and queue depths (to profile one); all by default. */
static bool listed(const char *key, const char *word)
{
    char s[64];
    if (!cmdline_get(key, s, sizeof(s)))
        return true;
    for (char *p = s; *p;) {
        size_t n = 0;
        while (p[n] && p[n] != ',')
            n++;
        if (n == strlen(word) && memcmp(p, word, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static bool mode_wanted(unsigned m)
{
    return listed("bench_modes", mode_names[m]);
}

static bool qd_wanted(unsigned qd)
{
    return listed("bench_qds", qd == 1 ? "1" : "32");
}

static int run_mode(struct bench_run *r, unsigned m, uint64_t ns, struct bench_acc acc[2])
{
    r->mode = m == M_PREMAPPED || m == M_COPY ? BLK_DMA_POOLED : BLK_DMA_STRICT;
    r->zero_copy = m == M_PREMAPPED;    /* identity: untranslated, maps and copies nothing */
    for (unsigned q = 0; q < 2; q++) {
        r->qd = qds[q];
        if (!qd_wanted(r->qd))
            continue;
        int err = bench_slice(r, ns, &acc[q]);
        if (err)
            return err;
    }
    return 0;
}

/* One slice of each mode; false when the identity domain is not available. */
static int bench_round(struct bench_run *r, uint64_t ns, struct bench_acc acc[NR_MODES][2],
                       bool *identity)
{
    int err = 0;
    *identity = false;
    if (mode_wanted(M_IDENTITY)) {
        err = blk_dev_rebind(r->b, IOMMU_DOMAIN_IDENTITY);
        *identity = !err && iommu_unit_for(r->b->pci);
        if (*identity && (err = run_mode(r, M_IDENTITY, ns, acc[M_IDENTITY])))
            return err;
    }
    if ((err = blk_dev_rebind(r->b, IOMMU_DOMAIN_PAGING)))
        return err;
    if (mode_wanted(M_STRICT) && (err = run_mode(r, M_STRICT, ns, acc[M_STRICT])))
        return err;
    if (mode_wanted(M_COPY) && (err = run_mode(r, M_COPY, ns, acc[M_COPY])))
        return err;
    return mode_wanted(M_PREMAPPED) ? run_mode(r, M_PREMAPPED, ns, acc[M_PREMAPPED]) : 0;
}

static uint64_t iops(const struct bench_acc *a)
{
    return a->ns ? a->ios * NSEC_PER_SEC / a->ns : 0;
}

/* "1.234 x", the ratio of two figures of the same run; nothing when one was not measured. */
static void ratio_line(const char *prefix, const char *name, unsigned m, unsigned q)
{
    char full[64];
    fmt_snprintf(full, sizeof(full), "%s%s", prefix, name);
    print_median_ratio(full, m, q);
}

/* IOPS and MB/s of every mode and queue depth of one device and workload, their ratios to
 * identity; for NVMe 4 KiB random reads also the headline ratios and the QD32 steps. */
static void report(const char *dev, const struct workload *wl, struct bench_acc acc[NR_MODES][2],
                   bool identity)
{
    char p[48];
    for (unsigned m = identity ? 0 : 1; m < NR_MODES; m++)
        for (unsigned q = 0; q < 2; q++) {
            const struct bench_acc *a = &acc[m][q];
            if (!a->ns)
                continue;
            /* bytes per microsecond: MB/s, one decimal */
            uint64_t mbps10 = a->ios * wl->io_bytes * 10000 / a->ns;
            fmt_snprintf(p, sizeof(p), "%s_%s_qd%u_%s", dev, wl->name, qds[q], mode_names[m]);
            kprintf("bench %s %llu IOPS\n", p, (unsigned long long)iops(a));
            kprintf("bench %s_mbps %llu.%llu MB/s\n", p, (unsigned long long)(mbps10 / 10),
                    (unsigned long long)(mbps10 % 10));
        }
    if (!identity) {
        if (mode_wanted(M_IDENTITY))
            kprintf("# %s: no identity domain (no IOMMU, or the unit cannot pass through): no "
                    "ratios\n", dev);
        return;
    }
    for (unsigned q = 0; q < 2; q++) {
        fmt_snprintf(p, sizeof(p), "%s_%s_qd%u_", dev, wl->name, qds[q]);
        ratio_line(p, "ratio_premapped", M_PREMAPPED, q);
        ratio_line(p, "ratio_strict", M_STRICT, q);
        ratio_line(p, "ratio_copy", M_COPY, q);
    }
    if (wl->seq)
        return;
    if (strcmp(dev, "nvme")) {
        for (unsigned m = 0; m < NR_MODES; m++)
            report_steps("virtio_", mode_names[m], &acc[m][1]);
        return;
    }
    print_median_ratio("dma_ratio_premapped", M_PREMAPPED, 1);
    print_median_ratio("dma_ratio_strict", M_STRICT, 1);
    print_median_ratio("dma_ratio_copy", M_COPY, 1);
    print_median_ratio("dma_ratio_premapped_qd1", M_PREMAPPED, 0);
    print_median_ratio("dma_ratio_strict_qd1", M_STRICT, 0);
    print_median_ratio("dma_ratio_copy_qd1", M_COPY, 0);
    for (unsigned m = 0; m < NR_MODES; m++)
        report_steps("", mode_names[m], &acc[m][1]);
    if (acc[M_STRICT][1].reap_batches)
        print_ratio("strict_qd32_ios_per_invalidation", acc[M_STRICT][1].ios,
                    acc[M_STRICT][1].reap_batches);
}

/* Per-buffer cost of one round of B buffers; the least over the rounds is kept (a busy host
 * only ever adds time). */
enum { COST_ROUNDS = 64, COST_B = 32 };

struct cost {
    const char *name;
    uint64_t best;
};

static void cost_add(struct cost *c, uint64_t ns)
{
    if (!c->best || ns / COST_B < c->best)
        c->best = ns / COST_B;
}

static void cost_print(const struct cost *c)
{
    kprintf("bench %s %llu ns\n", c->name, (unsigned long long)c->best);
}

/* dma.h: map B buffers, one unmap call for all of them (the block layer's batch). */
static int cost_dma(struct blk_dev *b, uint8_t *buf, struct cost *map, struct cost *unmap)
{
    struct dma_map m[COST_B], *mp[COST_B];
    uint64_t t0 = clock_ns();
    for (unsigned i = 0; i < COST_B; i++) {
        if (dma_map(&b->dma, buf + i * BENCH_IO, BENCH_IO, IOMMU_WRITE, &m[i]))
            return -EIO;
        mp[i] = &m[i];
    }
    uint64_t t1 = clock_ns();
    dma_unmap_many(&b->dma, mp, COST_B);
    cost_add(map, t1 - t0);
    cost_add(unmap, clock_ns() - t1);
    return 0;
}

/* The window (strict mode): map B buffers into slots, clear them, one sync for all. */
static int cost_window(struct blk_dev *b, uint8_t *buf, struct cost *map, struct cost *clear,
                       struct cost *sync)
{
    struct dma_map m[COST_B];
    uint16_t slot[COST_B];
    uint64_t t0 = clock_ns();
    for (unsigned i = 0; i < COST_B; i++)
        if (dma_window_map(&b->win, buf + i * BENCH_IO, BENCH_IO, IOMMU_WRITE, &m[i], &slot[i]))
            return -EIO;
    uint64_t t1 = clock_ns();
    for (unsigned i = 0; i < COST_B; i++)
        dma_window_clear(&b->win, &m[i]);
    uint64_t t2 = clock_ns();
    dma_window_sync(&b->win);
    uint64_t t3 = clock_ns();
    for (unsigned i = 0; i < COST_B; i++)
        dma_window_put(&b->win, slot[i]);
    cost_add(map, t1 - t0);
    cost_add(clear, t2 - t1);
    cost_add(sync, (t3 - t2));
    return 0;
}

/* The driver contract on a bare domain: what the IOAS layer adds is the difference. */
static int cost_raw(struct iommu_domain *d, uint64_t pa, struct cost *map, struct cost *unmap,
                    struct cost *unmap1)
{
    struct pgtable_gather g;
    uint64_t t0 = clock_ns();
    for (unsigned i = 0; i < COST_B; i++)
        if (iommu_map(d, DMA_IOVA_BASE + i * BENCH_IO, pa + i * BENCH_IO, BENCH_IO, IOMMU_WRITE))
            return -EIO;
    uint64_t t1 = clock_ns();
    iommu_gather_init(&g);
    for (unsigned i = 0; i < COST_B; i++)
        if (iommu_unmap_gather(d, DMA_IOVA_BASE + i * BENCH_IO, BENCH_IO, &g))
            return -EIO;
    iommu_gather_sync(d, &g);
    uint64_t t2 = clock_ns();
    if (iommu_map(d, DMA_IOVA_BASE, pa, BENCH_IO, IOMMU_WRITE))
        return -EIO;
    uint64_t t3 = clock_ns();
    if (iommu_unmap(d, DMA_IOVA_BASE, BENCH_IO))
        return -EIO;
    cost_add(map, t1 - t0);
    cost_add(unmap, t2 - t1);
    cost_add(unmap1, (clock_ns() - t3) * COST_B);
    return 0;
}

/* The IOMMU work strict mode adds per I/O, alone: mapping a 4 KiB buffer (IOVA, IOAS area,
 * page-table entry) and unmapping it as the block layer does (entry, IOAS area, and a share
 * of one invalidation wait per 32 buffers); the driver contract's own map and unmap on a bare
 * domain of the same unit, batched and alone (with its wait). */
static void map_unmap_cost(struct ktest *t, struct blk_dev *b, uint8_t *buf)
{
    if (!dma_space_isolated(&b->dma))
        return;
    struct cost c[] = { { "dma_map_4k", 0 }, { "dma_unmap_4k_batched32", 0 },
                        { "iommu_map_4k_raw", 0 }, { "iommu_unmap_4k_raw_batched32", 0 },
                        { "iommu_unmap_4k_raw", 0 }, { "window_map_4k", 0 },
                        { "window_clear_4k", 0 }, { "window_sync_4k_batched32", 0 } };
    struct iommu_domain *d;
    KASSERT(t, iommu_domain_alloc(b->dma.domain->unit, IOMMU_DOMAIN_PAGING, NULL, &d) == 0);
    for (unsigned r = 0; r < COST_ROUNDS; r++) {
        KASSERT(t, cost_dma(b, buf, &c[0], &c[1]) == 0);
        KASSERT(t, cost_raw(d, virt_to_phys(buf), &c[2], &c[3], &c[4]) == 0);
        KASSERT(t, cost_window(b, buf, &c[5], &c[6], &c[7]) == 0);
    }
    iommu_domain_free(d);
    for (unsigned i = 0; i < ARRAY_SIZE(c); i++)
        cost_print(&c[i]);
}

/* One device, one workload: a warm-up round, then SLICES rounds of every mode. */
static void acc_add(struct bench_acc *to, const struct bench_acc *a)
{
    to->ios += a->ios;
    to->ns += a->ns;
    to->reap_batches += a->reap_batches;
    for (unsigned k = 0; k < NR_T; k++)
        to->t[k] += a->t[k];
}

/* Each round's protected/identity ratio, per mode and queue depth. */
static void record_ratios(unsigned round, struct bench_acc a[NR_MODES][2])
{
    for (unsigned m = 0; m < NR_MODES; m++)
        for (unsigned q = 0; q < 2; q++) {
            uint64_t den = iops(&a[M_IDENTITY][q]);
            round_milli[m][q][round] = den ? iops(&a[m][q]) * 1000 / den : 0;
        }
}

static int bench_workload(struct bench_run *r, const char *dev, const struct workload *wl)
{
    static struct bench_acc acc[NR_MODES][2], warm[NR_MODES][2], round[NR_MODES][2];
    memset(acc, 0, sizeof(acc));
    memset(warm, 0, sizeof(warm));
    r->wl = wl;
    r->next = 0;
    uint64_t slice = bench_ns() / SLICES;
    bool identity = false;
    int err = bench_round(r, slice / 4, warm, &identity);     /* warm-up, not counted */
    for (unsigned s = 0; s < SLICES && !err; s++) {
        memset(round, 0, sizeof(round));
        err = bench_round(r, slice, round, &identity);
        for (unsigned m = 0; m < NR_MODES; m++)
            for (unsigned q = 0; q < 2; q++)
                acc_add(&acc[m][q], &round[m][q]);
        record_ratios(s, round);
    }
    if (!err)
        report(dev, wl, acc, identity);
    return err;
}

static void bench_dev(struct ktest *t, const char *name, const char *dev, bool costs)
{
    struct blk_dev *b = blk_find(name);
    if (!b || !b->up || !listed("bench_devs", dev))
        return;
    static struct bench_run r;
    memset(&r, 0, sizeof(r));
    r.b = b;
    r.rng = 0x2545f4914f6cdd1dULL;
    char arg[8];
    r.plug = !cmdline_get("bench_plug", arg, sizeof(arg)) || strcmp(arg, "0") != 0;
    kprintf("# blk_bench %s: %s\n", dev, r.plug ? "one doorbell per poll round (plugged "
                                                   "re-submissions)"
                                                 : "one doorbell per I/O (bench_plug=0)");
    int err = 0;
    for (unsigned i = 0; i < BENCH_MAX_QD && !err; i++) {
        uint64_t pa;
        r.bufs[i] = pmm_alloc_zeroed(BUF_ORDER, &pa);
        err = r.bufs[i] ? 0 : -ENOMEM;
    }
    for (unsigned w = 0; w < ARRAY_SIZE(workloads) && !err; w++) {
        const struct workload *wl = &workloads[w];
        if (!listed("bench_wls", wl->name))
            continue;
        if (wl->io_bytes > b->max_io || b->nlba * b->lba_size < 16ULL * wl->io_bytes) {
            kprintf("# blk_bench %s %s: skipped (I/O size %u, device max %u)\n", dev,
                    wl->name, wl->io_bytes, b->max_io);
            continue;
        }
        err = bench_workload(&r, dev, wl);
    }
    KEXPECT_EQ(t, err, 0);
    if (!err && costs)
        map_unmap_cost(t, b, r.bufs[0]);
    blk_dev_rebind(b, IOMMU_DOMAIN_PAGING);
    blk_set_mode(b, BLK_DMA_POOLED);
    for (unsigned i = 0; i < BENCH_MAX_QD; i++)
        if (r.bufs[i])
            pmm_free(virt_to_phys(r.bufs[i]), BUF_ORDER);
}

/* What each of the CPU's bulk copies costs on 4 KiB, and the one the copying mode uses. */
static void copy_costs(void)
{
    const char *names[8], *chosen;
    uint64_t ns[8];
    unsigned n = blk_copy_costs(names, ns, ARRAY_SIZE(ns), &chosen);
    for (unsigned i = 0; i < n; i++)
        kprintf("bench copy_4k_%s %llu ns\n", names[i], (unsigned long long)ns[i]);
    kprintf("# blk_bench: the copying mode copies with %s\n", chosen);
}

static void dma_modes(struct ktest *t)
{
    if (!blk_find(TEST_NVME) && !blk_find(TEST_VBLK))
        ktest_skip(t, "no block device on this machine");
    copy_costs();
    bench_dev(t, TEST_NVME, "nvme", true);
    bench_dev(t, TEST_VBLK, "virtio", false);
}

KTEST_SUITE_EXPLICIT(blk_bench, KTEST_CASE(dma_modes));
