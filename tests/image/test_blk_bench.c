/* blk_bench (explicit): NVMe 4 KiB random reads at queue depth 1 and 32 for a fixed time in
 * three DMA modes, back to back:
 *   identity   the controller on an IDENTITY domain: no translation, nothing mapped;
 *   strict     a PAGING domain, every I/O maps its buffer and unmaps it (with the IOTLB
 *              invalidation) after completion;
 *   premapped  a PAGING domain, I/O into the pool's pre-mapped buffers (no IOMMU work).
 * Prints "bench <name> <value> <unit>" lines and the ratios protected/identity. The time per
 * run is bench_ms=N on the command line (default 1000). */
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
    return 1000 * NSEC_PER_MSEC;
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

/* Keeps qd reads in flight until the deadline; returns I/Os per second or a negative errno. */
static int64_t bench_one(struct bench_run *r, uint64_t ns)
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
    uint64_t elapsed = clock_ns() - t0;
    return (int64_t)(done * NSEC_PER_SEC / (elapsed ? elapsed : 1));
}

static int64_t measure(struct ktest *t, struct bench_run *r, const char *mode, unsigned qd)
{
    r->qd = qd;
    bench_one(r, bench_ns() / 10);      /* warm-up: IOTLB, caches */
    int64_t iops = bench_one(r, bench_ns());
    if (iops < 0) {
        ktest_fail(t, __FILE__, __LINE__, "%s qd%u: I/O failed", mode, qd);
        return 0;
    }
    kprintf("bench nvme_randread_4k_qd%u_%s %lld IOPS\n", qd, mode, (long long)iops);
    return iops;
}

static void print_ratio(const char *name, int64_t num, int64_t den)
{
    if (den <= 0)
        return;
    uint64_t milli = (uint64_t)num * 1000 / (uint64_t)den;
    kprintf("bench %s %llu.%03llu x\n", name, (unsigned long long)(milli / 1000),
            (unsigned long long)(milli % 1000));
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
    int64_t id[2] = { 0, 0 }, st[2], pm[2];
    int err = blk_dev_rebind(b, IOMMU_DOMAIN_IDENTITY);
    if (!err && iommu_unit_for(b->pci)) {
        r.mode = BLK_DMA_STRICT;        /* untranslated: maps nothing, copies nothing */
        id[0] = measure(t, &r, "identity", 1);
        id[1] = measure(t, &r, "identity", 32);
    } else {
        kprintf("# identity domain: %s\n", err ? errno_name(err) : "no IOMMU on this machine");
    }
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);
    r.mode = BLK_DMA_STRICT;
    st[0] = measure(t, &r, "strict", 1);
    st[1] = measure(t, &r, "strict", 32);
    r.mode = BLK_DMA_POOLED;
    r.zero_copy = true;
    pm[0] = measure(t, &r, "premapped", 1);
    pm[1] = measure(t, &r, "premapped", 32);
    print_ratio("dma_ratio_premapped", pm[1], id[1]);
    print_ratio("dma_ratio_strict", st[1], id[1]);
    print_ratio("dma_ratio_premapped_qd1", pm[0], id[0]);
    print_ratio("dma_ratio_strict_qd1", st[0], id[0]);
    blk_set_mode(b, BLK_DMA_POOLED);
    pmm_free(pa, 5);
}

KTEST_SUITE_EXPLICIT(blk_bench, KTEST_CASE(nvme_randread));
