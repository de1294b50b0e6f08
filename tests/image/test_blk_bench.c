/* blk_bench (explicit): NVMe 4 KiB random reads at queue depth 1 and 32 for a fixed time in
 * three DMA modes, back to back:
 *   identity   the controller on an IDENTITY domain: no translation, nothing mapped;
 *   strict     a PAGING domain, every I/O maps its buffer and unmaps it (with the IOTLB
 *              invalidation) after completion;
 *   premapped  a PAGING domain, I/O into the pool's pre-mapped buffers (no IOMMU work).
 * Prints "bench <name> <value> <unit>" lines and the ratios protected/identity. The time per
 * per mode and queue depth is bench_ms=N on the command line (default 800), measured in 12 slices
 * that alternate between the modes. */
#include "drivers/nvme/nvme.h"
#include "kernel/cmdline.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "tests/image/test_blk.h"

#define BENCH_MAX_QD 32
#define BENCH_IO 4096u

struct bench_run {
    struct blk_dev *b;
    enum blk_dma_mode mode;
    bool zero_copy;             /* POOLED: data stays in the pool buffer */
    unsigned qd;
    uint8_t *bufs;              /* qd * 4 KiB, for STRICT */
    uint64_t rng;
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

static uint64_t next_lba(struct bench_run *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    uint64_t per = BENCH_IO / r->b->lba_size;
    return r->rng % (r->b->nlba / per) * per;
}

static int issue(struct bench_run *r, unsigned i)
{
    void *buf = r->zero_copy ? NULL : r->bufs + (size_t)i * BENCH_IO;
    int err = blk_io_prepare(r->b, &r->ios[i], r->mode, BLK_OP_READ, next_lba(r),
                             BENCH_IO / r->b->lba_size, buf);
    if (!err)
        err = blk_io_submit(r->b, &r->ios[i]);
    return err;
}

struct bench_acc {
    uint64_t ios, ns;
};

/* Keeps qd reads in flight for ns; adds the I/Os and the time to acc. */
static int bench_slice(struct bench_run *r, uint64_t ns, struct bench_acc *acc)
{
    bool busy[BENCH_MAX_QD];
    for (unsigned i = 0; i < r->qd; i++) {
        if (issue(r, i))
            return -EIO;
        busy[i] = true;
    }
    uint64_t t0 = clock_ns(), end = t0 + ns, done = 0;
    unsigned left = r->qd;
    while (left) {
        if (blk_poll(r->b) < 0 || clock_ns() > end + 10 * NSEC_PER_SEC)
            return -EIO;
        bool more = clock_ns() < end;
        for (unsigned i = 0; i < r->qd; i++) {
            if (!busy[i] || !r->ios[i].done)
                continue;
            if (blk_io_complete(r->b, &r->ios[i]))
                return -EIO;
            done++;
            busy[i] = more && issue(r, i) == 0;
            left -= !busy[i];
        }
    }
    acc->ios += done;
    acc->ns += clock_ns() - t0;
    return 0;
}

static void print_ratio(const char *name, uint64_t num, uint64_t den)
{
    if (den == 0)
        return;
    uint64_t milli = num * 1000 / den;
    kprintf("bench %s %llu.%03llu x\n", name, (unsigned long long)(milli / 1000),
            (unsigned long long)(milli % 1000));
}

/* The modes alternate in short slices, so that a busy host slows them all alike. */
#define SLICES 12
enum { M_IDENTITY, M_STRICT, M_PREMAPPED, NR_MODES };
static const char *const mode_names[NR_MODES] = { "identity", "strict", "premapped" };
static const unsigned qds[2] = { 1, 32 };

static int run_mode(struct bench_run *r, unsigned m, uint64_t ns, struct bench_acc acc[2])
{
    r->mode = m == M_PREMAPPED ? BLK_DMA_POOLED : BLK_DMA_STRICT;
    r->zero_copy = m == M_PREMAPPED;    /* identity: untranslated, maps and copies nothing */
    for (unsigned q = 0; q < 2; q++) {
        r->qd = qds[q];
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
    int err = blk_dev_rebind(r->b, IOMMU_DOMAIN_IDENTITY);
    *identity = !err && iommu_unit_for(r->b->pci);
    if (*identity && (err = run_mode(r, M_IDENTITY, ns, acc[M_IDENTITY])))
        return err;
    if ((err = blk_dev_rebind(r->b, IOMMU_DOMAIN_PAGING)))
        return err;
    err = run_mode(r, M_STRICT, ns, acc[M_STRICT]);
    return err ? err : run_mode(r, M_PREMAPPED, ns, acc[M_PREMAPPED]);
}

static uint64_t iops(const struct bench_acc *a)
{
    return a->ns ? a->ios * NSEC_PER_SEC / a->ns : 0;
}

static void report(struct bench_acc acc[NR_MODES][2], bool identity)
{
    for (unsigned m = identity ? 0 : 1; m < NR_MODES; m++)
        for (unsigned q = 0; q < 2; q++)
            kprintf("bench nvme_randread_4k_qd%u_%s %llu IOPS\n", qds[q], mode_names[m],
                    (unsigned long long)iops(&acc[m][q]));
    if (!identity) {
        kprintf("# no identity domain (no IOMMU, or the unit cannot pass through): no ratios\n");
        return;
    }
    print_ratio("dma_ratio_premapped", iops(&acc[M_PREMAPPED][1]), iops(&acc[M_IDENTITY][1]));
    print_ratio("dma_ratio_strict", iops(&acc[M_STRICT][1]), iops(&acc[M_IDENTITY][1]));
    print_ratio("dma_ratio_premapped_qd1", iops(&acc[M_PREMAPPED][0]),
                iops(&acc[M_IDENTITY][0]));
    print_ratio("dma_ratio_strict_qd1", iops(&acc[M_STRICT][0]), iops(&acc[M_IDENTITY][0]));
}

/* The IOMMU work strict mode adds per I/O, alone: map a 4 KiB buffer (IOVA, page-table
 * entry) and unmap it (entry, IOTLB invalidation and its wait). */
static void map_unmap_cost(struct ktest *t, struct blk_dev *b, uint8_t *buf)
{
    if (!dma_space_isolated(&b->dma))
        return;
    enum { N = 2000 };
    uint64_t t0 = clock_ns();
    for (unsigned i = 0; i < N; i++) {
        struct dma_map m;
        if (dma_map(&b->dma, buf, BENCH_IO, IOMMU_WRITE, &m) || dma_unmap(&b->dma, &m)) {
            ktest_fail(t, __FILE__, __LINE__, "dma_map/dma_unmap failed");
            return;
        }
    }
    kprintf("bench dma_map_unmap_4k %llu ns\n", (unsigned long long)((clock_ns() - t0) / N));
}

static void nvme_randread(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    uint64_t pa;
    static struct bench_run r;
    memset(&r, 0, sizeof(r));
    r.b = b;
    r.rng = 0x2545f4914f6cdd1dULL;
    r.bufs = pmm_alloc_zeroed(5, &pa);      /* 32 x 4 KiB */
    KASSERT(t, r.bufs && b->nlba * b->lba_size >= 16 * BENCH_IO);
    static struct bench_acc acc[NR_MODES][2], warm[NR_MODES][2];
    memset(acc, 0, sizeof(acc));
    uint64_t slice = bench_ns() / SLICES;
    bool identity = false;
    int err = bench_round(&r, slice / 4, warm, &identity);     /* warm-up, not counted */
    for (unsigned s = 0; s < SLICES && !err; s++)
        err = bench_round(&r, slice, acc, &identity);
    KEXPECT_EQ(t, err, 0);
    if (!err) {
        report(acc, identity);
        map_unmap_cost(t, b, r.bufs);
    }
    blk_dev_rebind(b, IOMMU_DOMAIN_PAGING);
    blk_set_mode(b, BLK_DMA_POOLED);
    pmm_free(pa, 5);
}

KTEST_SUITE_EXPLICIT(blk_bench, KTEST_CASE(nvme_randread));
