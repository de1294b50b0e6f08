/* In-image tests of the block drivers (virtio-blk, NVMe) and their DMA.
 *
 * Suites:
 *   blk      identify, range errors (from the block layer and from the device), reads in both
 *            DMA modes, strict mode leaving nothing mapped, the pool mapping nothing per I/O,
 *            NVMe PRP shapes, queue-depth I/O, plugged submissions (one doorbell), and
 *            device-written garbage (used-ring ids and lengths, CQ entries) rejected and
 *            recovered from by a reset. Runs on the default
 *            machine, whose disks read zeros and drop writes.
 *   blk_rw   (explicit) write/read/verify round trips in both modes and across them; needs
 *            disks that keep what is written (tools/disk-test.sh --suite blk_rw). */
#include "drivers/nvme/nvme.h"
#include "drivers/virtio/virtio_blk.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"
#include "tests/image/test_blk.h"

#define BUF_ORDER 8                     /* 1 MiB test buffers */
#define BUF_BYTES (4096u << BUF_ORDER)

struct blk_dev *test_blk_dev(struct ktest *t, const char *name)
{
    struct blk_dev *b = blk_find(name);
    if (!b || !b->up) {
        ktest_skip(t, "no such block device on this machine");
        return NULL;
    }
    return b;
}

void test_blk_pattern(void *buf, uint64_t first_sector, uint64_t nsectors, uint64_t seed)
{
    uint64_t *w = buf;
    for (uint64_t s = first_sector; s < first_sector + nsectors; s++, w += 64) {
        uint64_t base = s * BLK_PATTERN_K1 + seed;
        w[0] = s;
        w[1] = seed;
        for (unsigned k = 2; k < 64; k++)
            w[k] = base + k * BLK_PATTERN_K2;
    }
}

uint64_t test_blk_pattern_check(const void *buf, uint64_t first_sector, uint64_t nsectors,
                                uint64_t seed)
{
    const uint64_t *w = buf;
    for (uint64_t s = first_sector; s < first_sector + nsectors; s++, w += 64) {
        uint64_t base = s * BLK_PATTERN_K1 + seed;
        if (w[0] != s || w[1] != seed)
            return s;
        for (unsigned k = 2; k < 64; k++)
            if (w[k] != base + k * BLK_PATTERN_K2)
                return s;
    }
    return UINT64_MAX;
}

static uint8_t *buf_alloc(void)
{
    uint64_t pa;
    return pmm_alloc_zeroed(BUF_ORDER, &pa);
}

static void buf_free(void *p)
{
    if (p)
        pmm_free(virt_to_phys(p), BUF_ORDER);
}

/* ---- blk ---- */

/* Runs fn on the virtio disk (the case is skipped without it, or with translated and no IOMMU
 * translation), then on the NVMe one if there is one. */
static void for_devs(struct ktest *t, bool translated,
                     void (*fn)(struct ktest *t, struct blk_dev *b))
{
    struct blk_dev *v = test_blk_dev(t, TEST_VBLK);
    if (!v)
        return;
    if (translated && !dma_space_isolated(&v->dma)) {
        ktest_skip(t, "no IOMMU translation");
        return;
    }
    fn(t, v);
    struct blk_dev *n = blk_find(TEST_NVME);
    if (n)
        fn(t, n);
}

static void check_identity(struct ktest *t, struct blk_dev *b)
{
    KEXPECT(t, b->nlba > 0);
    KEXPECT(t, b->lba_size >= 512 && b->lba_size <= 4096);
    KEXPECT(t, b->max_io >= b->lba_size && b->max_io % b->lba_size == 0);
    KEXPECT(t, b->queue_depth >= 1);
    KEXPECT(t, !b->broken);
    KEXPECT_EQ(t, dma_space_isolated(&b->dma), iommu_unit_for(b->pci) != NULL);
}

static void identify_virtio(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_VBLK);
    if (!b)
        return;
    check_identity(t, b);
    struct virtq *vq = virtio_blk_queue(b);
    KASSERT(t, vq);
    KEXPECT(t, vq->size >= 4 && (vq->size & (vq->size - 1)) == 0);
    kprintf("# %s: %llu blocks of %u, queue %u, %s\n", b->name, (unsigned long long)b->nlba,
            b->lba_size, vq->size, dma_space_describe(&b->dma));
}

static void identify_nvme(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    check_identity(t, b);
    struct nvme_ctrl *c = b->priv;
    KEXPECT(t, c->nsid >= 1 && c->nsid <= c->nn);
    KEXPECT(t, c->mn[0] != '\0');
    KEXPECT(t, c->io.depth >= 2);
    KEXPECT(t, c->timeout_ns >= 500 * NSEC_PER_MSEC);
    kprintf("# %s: \"%s\" sn \"%s\" vid %#x ns %u, %llu blocks of %u\n", b->name, c->mn, c->sn,
            c->vid, c->nsid, (unsigned long long)b->nlba, b->lba_size);
}

static void range_errors_on(struct ktest *t, struct blk_dev *b)
{
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    struct blk_io io;
    KEXPECT_EQ(t, blk_read(b, b->nlba, 1, buf), -ERANGE);
    KEXPECT_EQ(t, blk_read(b, b->nlba - 1, 2, buf), -ERANGE);
    KEXPECT_EQ(t, blk_read(b, UINT64_MAX, 1, buf), -ERANGE);
    KEXPECT_EQ(t, blk_write(b, UINT64_MAX - 1, 4, buf), -ERANGE);
    KEXPECT_EQ(t, blk_read(b, 0, 0, buf), -EINVAL);
    KEXPECT_EQ(t, blk_io_prepare(b, &io, BLK_DMA_POOLED, BLK_OP_READ, 0,
                                 b->max_io / b->lba_size + 1, buf), -EINVAL);
    KEXPECT_EQ(t, blk_read(b, b->nlba - 1, 1, buf), 0);
    KEXPECT(t, !b->broken);
    buf_free(buf);
}

static void range_errors(struct ktest *t)
{
    for_devs(t, false, range_errors_on);
}

/* Past the block layer's check: the device itself must answer with an error, not hang, and
 * stay usable. */
static void device_range_error_on(struct ktest *t, struct blk_dev *b, int want)
{
    struct blk_io io;
    KASSERT(t, blk_io_prepare(b, &io, BLK_DMA_POOLED, BLK_OP_READ, 0, 1, NULL) == 0);
    io.lba = b->nlba + 16;
    KASSERT(t, blk_io_submit(b, &io) == 0);
    KEXPECT_EQ(t, blk_io_wait(b, &io), want);
    KEXPECT(t, !b->broken);
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    KEXPECT_EQ(t, blk_read(b, 0, 8, buf), 0);
    buf_free(buf);
}

static void device_range_error(struct ktest *t)
{
    struct blk_dev *v = test_blk_dev(t, TEST_VBLK);
    if (v)
        device_range_error_on(t, v, -EIO);      /* VIRTIO_BLK_S_IOERR */
    struct blk_dev *n = blk_find(TEST_NVME);
    if (n)
        device_range_error_on(t, n, -ERANGE);   /* LBA Out of Range */
}

static void read_modes_on(struct ktest *t, struct blk_dev *b)
{
    uint8_t *a = buf_alloc(), *c = buf_alloc();
    KASSERT(t, a && c);
    uint32_t n = (uint32_t)MIN(b->nlba, 3u * b->max_io / b->lba_size + 3);
    memset(a, 0xa5, BUF_BYTES);
    memset(c, 0x5a, BUF_BYTES);
    blk_set_mode(b, BLK_DMA_STRICT);
    KEXPECT_EQ(t, blk_read(b, 0, n, a), 0);
    blk_set_mode(b, BLK_DMA_POOLED);
    KEXPECT_EQ(t, blk_read(b, 0, n, c), 0);
    KEXPECT(t, memcmp(a, c, (size_t)n * b->lba_size) == 0);
    KEXPECT(t, a[(size_t)n * b->lba_size] == 0xa5);     /* nothing past the end */
    buf_free(a);
    buf_free(c);
}

static void read_both_modes(struct ktest *t)
{
    for_devs(t, false, read_modes_on);
}

/* Strict: the buffer's IOVA is gone (with its invalidation) when the I/O is complete. Behind
 * an IOMMU the buffer goes into a slot of the device's window: no IOVA allocated, one
 * invalidation wait per completion batch, the window's tables kept. */
static void strict_unmaps_on(struct ktest *t, struct blk_dev *b)
{
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    uint64_t used = b->dma.used_pages, syncs = b->win.nr_syncs;
    uint64_t tables = b->dma.domain->pt.nr_tables;
    unsigned nfree = b->win.nfree;
    struct blk_io io;
    KASSERT(t, blk_io_prepare(b, &io, BLK_DMA_STRICT, BLK_OP_READ, 0, 8, buf + 512) == 0);
    uint64_t pa;
    KEXPECT(t, iommu_iova_to_phys(b->dma.domain, io.iova, &pa) == 0 &&
                   pa == virt_to_phys(buf + 512));
    KEXPECT(t, io.iova >= b->win.iova && io.iova + io.len <= b->win.iova + b->win.size);
    KEXPECT_EQ(t, b->win.nfree, nfree - 1);
    KEXPECT_EQ(t, b->dma.used_pages, used);             /* no IOVA allocation per I/O */
    KASSERT(t, blk_io_submit(b, &io) == 0);
    KEXPECT_EQ(t, blk_io_wait(b, &io), 0);
    KEXPECT(t, iommu_iova_to_phys(b->dma.domain, io.iova, &pa) != 0);
    KEXPECT(t, iommu_iova_to_phys(b->dma.domain, io.iova + 4096, &pa) != 0);
    KEXPECT_EQ(t, b->win.nr_syncs, syncs + 1);
    KEXPECT_EQ(t, b->win.nfree, nfree);
    KEXPECT_EQ(t, b->dma.domain->pt.nr_tables, tables); /* the window's tables stay */
    buf_free(buf);
}

static void strict_unmaps(struct ktest *t)
{
    for_devs(t, true, strict_unmaps_on);
}

static void pool_maps_nothing(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    uint64_t maps = b->dma.nr_maps, unmaps = b->dma.nr_unmaps;
    blk_set_mode(b, BLK_DMA_POOLED);
    for (unsigned i = 0; i < 16; i++)
        KEXPECT_EQ(t, blk_read(b, i * 8, 8, buf), 0);
    KEXPECT_EQ(t, b->dma.nr_maps, maps);
    KEXPECT_EQ(t, b->dma.nr_unmaps, unmaps);
    buf_free(buf);
}

/* PRP1 alone, with an offset, PRP2 as a second page, PRP2 as a list; a buffer that is not
 * dword aligned is refused before the device sees it. */
static void nvme_prp_shapes(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    uint32_t per_page = 4096 / b->lba_size, max = b->max_io / b->lba_size;
    blk_set_mode(b, BLK_DMA_STRICT);
    KEXPECT_EQ(t, blk_read(b, 0, 1, buf + 4), 0);
    KEXPECT_EQ(t, blk_read(b, 0, per_page, buf), 0);
    KEXPECT_EQ(t, blk_read(b, 0, 2 * per_page, buf), 0);
    KEXPECT_EQ(t, blk_read(b, 0, per_page, buf + 2048), 0);
    KEXPECT_EQ(t, blk_read(b, 0, max, buf), 0);
    KEXPECT_EQ(t, blk_read(b, 0, max, buf + 512), 0);
    KEXPECT_EQ(t, blk_read(b, 0, 1, buf + 1), -EINVAL);
    KEXPECT(t, !b->broken);
    blk_set_mode(b, BLK_DMA_POOLED);
    buf_free(buf);
}

/* Many I/Os in flight at once, from the pool, zero-copy. */
static void queue_depth_on(struct ktest *t, struct blk_dev *b)
{
    static struct blk_io ios[32];
    unsigned n = MIN(b->pool.nbufs, 32u);
    for (unsigned i = 0; i < n; i++) {
        KASSERT(t, blk_io_prepare(b, &ios[i], BLK_DMA_POOLED, BLK_OP_READ, i * 8ULL % b->nlba,
                                  1, NULL) == 0);
        KASSERT(t, blk_io_submit(b, &ios[i]) == 0);
    }
    for (unsigned i = 0; i < n; i++)
        KEXPECT_EQ(t, blk_io_wait(b, &ios[i]), 0);
    KEXPECT_EQ(t, b->pool.nfree, b->pool.nbufs);
}

static void queue_depth(struct ktest *t)
{
    for_devs(t, false, queue_depth_on);
}

/* Plugged submissions reach the device with one doorbell at unplug; an NVMe controller,
 * which learns of commands only from its doorbell, completes none before. A wait unplugs. */
static void plugged_on(struct ktest *t, struct blk_dev *b)
{
    bool doorbell_only = strcmp(b->name, TEST_NVME) == 0;
    static struct blk_io ios[8];
    unsigned n = MIN(b->pool.nbufs, 8u);
    uint64_t commits = b->nr_commits;
    blk_plug(b);
    for (unsigned i = 0; i < n; i++) {
        KASSERT(t, blk_io_prepare(b, &ios[i], BLK_DMA_POOLED, BLK_OP_READ, i * 8ULL % b->nlba,
                                  1, NULL) == 0);
        memset(ios[i].bounce, 0xa5, b->lba_size);
        KASSERT(t, blk_io_submit(b, &ios[i]) == 0);
    }
    if (doorbell_only) {
        uint64_t end = clock_ns() + 20 * NSEC_PER_MSEC;
        while (clock_ns() < end)
            KEXPECT_EQ(t, blk_poll(b), 0);
        for (unsigned i = 0; i < n; i++)
            KEXPECT(t, !ios[i].done);
    }
    blk_unplug(b);
    KEXPECT_EQ(t, b->nr_commits, commits + 1);
    for (unsigned i = 0; i < n; i++) {
        KEXPECT(t, poll_until(ios[i].done || blk_poll(b) < 0, b->timeout_ns) == 0 &&
                       ios[i].done);
        /* the default disks read zeros: the device wrote the whole block */
        const uint8_t *p = ios[i].bounce;
        KEXPECT(t, p[0] == 0 && p[b->lba_size / 2] == 0 && p[b->lba_size - 1] == 0);
        KEXPECT_EQ(t, blk_io_complete(b, &ios[i]), 0);
    }
    /* a wait while plugged tells the device first instead of timing out */
    blk_plug(b);
    KASSERT(t, blk_io_prepare(b, &ios[0], BLK_DMA_POOLED, BLK_OP_READ, 0, 1, NULL) == 0);
    KASSERT(t, blk_io_submit(b, &ios[0]) == 0);
    KEXPECT_EQ(t, blk_io_wait(b, &ios[0]), 0);
    KEXPECT(t, !b->plugged);
    KEXPECT_EQ(t, b->nr_commits, commits + 2);
    KEXPECT_EQ(t, b->pool.nfree, b->pool.nbufs);
}

static void plugged_submissions(struct ktest *t)
{
    for_devs(t, false, plugged_on);
}

static void flush(struct ktest *t)
{
    struct blk_dev *v = test_blk_dev(t, TEST_VBLK);
    if (v)
        KEXPECT_EQ(t, blk_flush(v), 0);
    struct blk_dev *n = blk_find(TEST_NVME);
    if (n)
        KEXPECT_EQ(t, blk_flush(n), 0);
}

/* After garbage: the device is broken, I/O fails at once, a reset brings it back. */
static void expect_broken_then_recover(struct ktest *t, struct blk_dev *b, uint64_t bad_before)
{
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    KEXPECT(t, blk_poll(b) < 0);
    KEXPECT(t, b->broken);
    KEXPECT_EQ(t, b->nr_bad_completions, bad_before + 1);
    KEXPECT_EQ(t, blk_read(b, 0, 1, buf), -EIO);
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);
    KEXPECT(t, !b->broken);
    KEXPECT_EQ(t, blk_read(b, 0, 8, buf), 0);
    buf_free(buf);
}

static void inject_cqe(struct nvme_queue *q, uint16_t sqid, uint16_t sqhd, uint16_t cid)
{
    struct nvme_cqe *e = &q->cqes[q->cq_head];
    e->dw0 = 0;
    e->dw2 = (uint32_t)sqid << 16 | sqhd;
    WRITE_ONCE(e->dw3, (uint32_t)cid | (q->phase ? NVME_CQE_P : 0));
}

static void nvme_bad_completions(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    struct nvme_ctrl *c = b->priv;
    KEXPECT_EQ(t, blk_poll(b), 0);                      /* nothing pending */
    uint64_t bad = b->nr_bad_completions;
    inject_cqe(&c->io, 1, 0, 0x3ff);                    /* unknown command ID */
    expect_broken_then_recover(t, b, bad);
    bad = b->nr_bad_completions;
    inject_cqe(&c->io, 7, 0, 0);                        /* another queue's entry */
    expect_broken_then_recover(t, b, bad);
    bad = b->nr_bad_completions;
    c->io.reqs[5].busy = true;                          /* as if command 5 were in flight */
    inject_cqe(&c->io, 1, c->io.depth + 3, 5);          /* SQ head outside the queue */
    expect_broken_then_recover(t, b, bad);
}

/* Chains placed in the available ring but not notified: the device does not look at them,
 * and the injected used entries below refer to them. */
static int add_dummy_chain(struct blk_dev *b, struct virtq *vq, void *cookie)
{
    struct virtq_buf bufs[2] = { { b->pool.bufs[0].iova, 16, false },
                                 { b->pool.bufs[0].iova + 512, 1, true } };
    return virtq_add(vq, bufs, 2, cookie);
}

static void inject_used(struct virtq *vq, uint32_t id, uint32_t len)
{
    vq->used->ring[vq->last_used % vq->size] = (struct virtq_used_elem){ id, len };
    WRITE_ONCE(vq->used->idx, (uint16_t)(vq->last_used + 1));
}

static void virtio_bad_used(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_VBLK);
    if (!b)
        return;
    static int cookie;
    struct virtq *vq = virtio_blk_queue(b);
    KASSERT(t, vq);
    uint64_t bad = b->nr_bad_completions;
    inject_used(vq, 0, 0);                              /* nothing in flight */
    expect_broken_then_recover(t, b, bad);
    vq = virtio_blk_queue(b);
    bad = b->nr_bad_completions;
    KASSERT(t, add_dummy_chain(b, vq, &cookie) >= 0);
    inject_used(vq, vq->size + 5, 0);                   /* id out of range */
    expect_broken_then_recover(t, b, bad);
    vq = virtio_blk_queue(b);
    bad = b->nr_bad_completions;
    int head = add_dummy_chain(b, vq, &cookie);
    KASSERT(t, head >= 0);
    inject_used(vq, (uint32_t)head + 1, 0);             /* not a chain head */
    expect_broken_then_recover(t, b, bad);
    vq = virtio_blk_queue(b);
    bad = b->nr_bad_completions;
    head = add_dummy_chain(b, vq, &cookie);
    KASSERT(t, head >= 0);
    inject_used(vq, (uint32_t)head, 4096);              /* more than the 1 writable byte */
    expect_broken_then_recover(t, b, bad);
}

/* A read whose data IOVA was never mapped: the IOMMU must block the device's writes and no
 * memory may change. The IOVA is the physical address of a canary page of ours (one the domain
 * does not map): were translation bypassed, the data would land there. A unit that
 * reports its aborts must give a fault record naming the device and the IOVA; on one with
 * silent_aborts (QEMU 10's AMD-Vi logs no IO_PAGE_FAULT) the canary alone decides. QEMU's
 * devices then complete the request anyway; one that never did would end at the deadline. */
static uint8_t stale_page[4096] __aligned(4096);
static struct iommu_fault stale_fault;
static volatile unsigned stale_faults;

/* The first record counts: a unit that records every faulting access (the SMMUv3 logs each
 * word a blocked write tried) names the start of the transfer first. */
static void capture_fault(struct iommu_domain *d, const struct iommu_fault *f, void *ctx)
{
    if (stale_faults++ == 0)
        stale_fault = *f;
}

static void check_stale_fault(struct ktest *t, struct blk_dev *b, uint64_t iova)
{
    bool required = !b->dma.domain->unit->silent_aborts;
    uint64_t wait = required ? 2 * NSEC_PER_SEC : 200 * NSEC_PER_MSEC;
    if (poll_until(stale_faults > 0, wait) != 0) {
        KEXPECT(t, !required);
        kprintf("# %s: no fault record from this unit; the canary decides\n", b->name);
        return;
    }
    KEXPECT_EQ(t, stale_fault.addr, iova);
    KEXPECT_EQ(t, stale_fault.rid, b->pci->bus << 8 | b->pci->devfn);
    KEXPECT(t, stale_fault.write);
}

/* A page whose physical address the domain does not map as an IOVA. On q35 the static page
 * lies below the DMA window; on AArch64's virt all RAM lies inside it, so 2 MiB blocks are taken
 * until one holds a page the window's mappings do not cover (*block: the block to give back). */
static uint8_t *unmapped_canary(struct iommu_domain *d, uint64_t *canary_pa, uint64_t *block)
{
    uint64_t pa, tried[8];
    unsigned n = 0;
    uint8_t *p = NULL;
    *block = 0;
    *canary_pa = virt_to_phys(stale_page);
    if (iommu_iova_to_phys(d, *canary_pa, &pa) != 0)
        p = stale_page;
    while (!p && n < ARRAY_SIZE(tried) && pmm_alloc_zeroed(BUDDY_MAX_ORDER, &tried[n])) {
        for (uint64_t off = 0; off < (4096ULL << BUDDY_MAX_ORDER) && !p; off += 4096) {
            if (iommu_iova_to_phys(d, tried[n] + off, &pa) != 0) {
                *canary_pa = tried[n] + off;
                *block = tried[n];
                p = phys_to_virt(*canary_pa);
            }
        }
        n++;
    }
    for (unsigned i = 0; i < n; i++)
        if (tried[i] != *block)
            pmm_free(tried[i], BUDDY_MAX_ORDER);
    if (p)
        memset(p, 0xc5, 4096);
    return p;
}

/* Submits io, which the IOMMU must refuse at iova: a fault record naming it (from a unit that
 * reports its aborts), the 4 KiB at page still all canary bytes; then the device is rebound,
 * as it may be in any state. */
static void submit_expect_blocked(struct ktest *t, struct blk_dev *b, struct blk_io *io,
                                  uint64_t iova, const uint8_t *page, uint8_t canary)
{
    stale_faults = 0;
    b->dma.domain->fault_fn = capture_fault;
    KASSERT(t, blk_io_submit(b, io) == 0);
    int err = blk_io_wait(b, io);
    KEXPECT(t, err == 0 || err == -EIO || err == -ETIMEDOUT);
    check_stale_fault(t, b, iova);
    b->dma.domain->fault_fn = NULL;
    bool intact = true;
    for (unsigned i = 0; i < 4096; i++)
        intact &= page[i] == canary;
    KEXPECT(t, intact);
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);   /* whatever state it is in */
}

static void stale_iova_on(struct ktest *t, struct blk_dev *b)
{
    struct blk_io io;
    KASSERT(t, blk_io_prepare(b, &io, BLK_DMA_POOLED, BLK_OP_READ, 0, 4096 / b->lba_size,
                              NULL) == 0);
    uint64_t block;
    uint8_t *canary_page = unmapped_canary(b->dma.domain, &io.iova, &block);
    KASSERT(t, canary_page);
    submit_expect_blocked(t, b, &io, io.iova, canary_page, 0xc5);
    if (block)          /* after the rebind: nothing can reach it */
        pmm_free(block, BUDDY_MAX_ORDER);
}

static void stale_iova_blocked(struct ktest *t)
{
    for_devs(t, true, stale_iova_on);
}

/* Strict: once an I/O is reported complete its IOVA (a slot of the window) reaches nothing.
 * A request aimed at it afterwards is refused by the IOMMU with a fault record naming that
 * IOVA, and the buffer the completed I/O used is untouched. */
static void strict_completed_faults_on(struct ktest *t, struct blk_dev *b)
{
    struct blk_io io;
    memset(stale_page, 0x5a, sizeof(stale_page));
    KASSERT(t, blk_io_prepare(b, &io, BLK_DMA_STRICT, BLK_OP_READ, 0, 4096 / b->lba_size,
                              stale_page) == 0);
    uint64_t done_iova = io.iova;
    KASSERT(t, blk_io_submit(b, &io) == 0);
    KEXPECT_EQ(t, blk_io_wait(b, &io), 0);
    bool read = true;       /* the default disks read zeros: the device wrote the buffer */
    for (unsigned i = 0; i < sizeof(stale_page); i++)
        read &= stale_page[i] == 0;
    KEXPECT(t, read);
    memset(stale_page, 0x5a, sizeof(stale_page));
    /* the same request again, aimed at the completed I/O's IOVA */
    KASSERT(t, blk_io_prepare(b, &io, BLK_DMA_POOLED, BLK_OP_READ, 0, 4096 / b->lba_size,
                              NULL) == 0);
    io.iova = done_iova;
    submit_expect_blocked(t, b, &io, done_iova, stale_page, 0x5a);
}

static void strict_completed_faults(struct ktest *t)
{
    for_devs(t, true, strict_completed_faults_on);
}

/* Strict mappings carry only the direction of the I/O: a buffer mapped for a write (the
 * device reads it) cannot be written by the device. The request is turned into a read after
 * the mapping was made: the data must not land in the buffer. */
static void strict_direction_on(struct ktest *t, struct blk_dev *b)
{
    memset(stale_page, 0x3c, sizeof(stale_page));
    struct blk_io io;
    KASSERT(t, blk_io_prepare(b, &io, BLK_DMA_STRICT, BLK_OP_WRITE, 0, 4096 / b->lba_size,
                              stale_page) == 0);
    io.op = BLK_OP_READ;
    submit_expect_blocked(t, b, &io, io.iova, stale_page, 0x3c);
}

static void strict_direction(struct ktest *t)
{
    for_devs(t, true, strict_direction_on);
}

/* A request the device never completes (placed in the ring, never notified): the wait ends at
 * its deadline, the device is broken, and a reset brings the device back. STRICT: the
 * buffer's IOVA is unmapped and quarantined at once (never reused while this domain lives).
 * POOLED: the pool buffer is never handed out again; it stays mapped to its own memory until
 * the pool's slab is taken down, whose IOVA range is then quarantined. */
static void timeout_quarantines_mode(struct ktest *t, struct blk_dev *b, enum blk_dma_mode mode)
{
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    struct virtq *vq = virtio_blk_queue(b);
    struct blk_io io;
    KASSERT(t, blk_io_prepare(b, &io, mode, BLK_OP_READ, 0, 8, buf) == 0);
    struct virtq_buf bufs[1] = { { io.iova, io.len, true } };
    KASSERT(t, virtq_add(vq, bufs, 1, &io) >= 0);
    uint64_t iova = io.iova, saved = b->timeout_ns, q = b->dma.quarantined_pages;
    b->timeout_ns = 300 * NSEC_PER_MSEC;
    b->no_recovery = true;      /* the quarantine is looked at before any reset */
    KEXPECT_EQ(t, blk_io_wait(b, &io), -ETIMEDOUT);
    b->no_recovery = false;
    b->timeout_ns = saved;
    KEXPECT(t, b->broken);
    KEXPECT_EQ(t, b->nr_timeouts, 1);
    uint64_t pa;
    if (mode == BLK_DMA_POOLED) {
        KEXPECT_EQ(t, b->pool.nquarantined, 1);
        KEXPECT_EQ(t, b->pool.nfree, b->pool.nbufs - 1);
        KEXPECT(t, iommu_iova_to_phys(b->dma.domain, iova, &pa) == 0 &&
                       pa == virt_to_phys(io.bounce));
        KEXPECT_EQ(t, b->dma.quarantined_pages, q);
    } else {
        KEXPECT(t, iommu_iova_to_phys(b->dma.domain, iova, &pa) != 0);
        KEXPECT(t, b->dma.quarantined_pages > q);
    }
    uint64_t again;
    KEXPECT(t, dma_iova_alloc(&b->dma, 4096, &again) == 0 && (again >> 12) != (iova >> 12));
    dma_iova_free(&b->dma, again, 4096);
    b->nr_timeouts = 0;
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);
    KEXPECT(t, !b->broken && b->pool.nquarantined == 0);
    KEXPECT_EQ(t, blk_read(b, 0, 8, buf), 0);
    buf_free(buf);
}

static void timeout_quarantines(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_VBLK);
    if (!b)
        return;
    if (!dma_space_isolated(&b->dma)) {
        ktest_skip(t, "no IOMMU translation");
        return;
    }
    timeout_quarantines_mode(t, b, BLK_DMA_POOLED);
    timeout_quarantines_mode(t, b, BLK_DMA_STRICT);
}

/* Every allocation of a device's bring-up failing in turn: the error comes back, nothing is
 * left allocated or mapped, and the next bring-up works. */
static void setup_fail_nth_on(struct ktest *t, struct blk_dev *b)
{
    blk_dev_teardown(b);
    uint64_t free0 = pmm_free_bytes();
    size_t heap0 = heap_live_bytes();
    unsigned n;
    for (n = 1; n < 200; n++) {
        dma_fail_nth = n;
        int err = blk_dev_setup(b, IOMMU_DOMAIN_PAGING);
        bool failed = dma_fail_nth == 0;
        dma_fail_nth = 0;
        if (!failed) {
            KEXPECT_EQ(t, err, 0);
            break;
        }
        KEXPECT_EQ(t, err, -ENOMEM);
        KEXPECT(t, !b->up);
        KEXPECT_EQ(t, pmm_free_bytes(), free0);
        KEXPECT_EQ(t, heap_live_bytes(), heap0);
    }
    KEXPECT(t, n > 3 && n < 200);
    if (!b->up)
        KASSERT(t, blk_dev_setup(b, IOMMU_DOMAIN_PAGING) == 0);
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    KEXPECT_EQ(t, blk_read(b, 0, 8, buf), 0);
    buf_free(buf);
}

static void setup_fail_nth(struct ktest *t)
{
    for_devs(t, false, setup_fail_nth_on);
}

/* Opt-in MSI-X: the completions raise the device's vector (a remapped message when the unit
 * remaps interrupts); turned off again, the device goes back to pure polling. */
static void irq_on(struct ktest *t, struct blk_dev *b)
{
    uint8_t *buf = buf_alloc();
    KASSERT(t, buf);
    b->want_irq = true;
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);
    KEXPECT(t, b->irq_on && b->irq_vector >= 0x30);
    uint64_t before = b->nr_irqs;
    for (unsigned i = 0; i < 16; i++)
        KEXPECT_EQ(t, blk_read(b, i * 8, 8, buf), 0);
    KEXPECT(t, poll_until(b->nr_irqs >= before + 16, NSEC_PER_SEC) == 0);
    kprintf("# %s: %llu completion interrupts on vector %d (message %#llx/%#x)\n", b->name,
            (unsigned long long)(b->nr_irqs - before), b->irq_vector,
            (unsigned long long)b->msi.addr, b->msi.data);
    b->want_irq = false;
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);
    KEXPECT(t, !b->irq_on);
    before = b->nr_irqs;
    KEXPECT_EQ(t, blk_read(b, 0, 8, buf), 0);
    udelay(10000);
    KEXPECT_EQ(t, b->nr_irqs, before);
    buf_free(buf);
}

static void completion_interrupts(struct ktest *t)
{
    struct blk_dev *v = test_blk_dev(t, TEST_VBLK);
    if (v)
        irq_on(t, v);
    struct blk_dev *n = blk_find(TEST_NVME);
    if (n)
        irq_on(t, n);
}

KTEST_SUITE(blk,
            KTEST_CASE(identify_virtio),
            KTEST_CASE(identify_nvme),
            KTEST_CASE(range_errors),
            KTEST_CASE(device_range_error),
            KTEST_CASE(read_both_modes),
            KTEST_CASE(strict_unmaps),
            KTEST_CASE(pool_maps_nothing),
            KTEST_CASE(nvme_prp_shapes),
            KTEST_CASE(queue_depth),
            KTEST_CASE(plugged_submissions),
            KTEST_CASE(flush),
            KTEST_CASE(nvme_bad_completions),
            KTEST_CASE(virtio_bad_used),
            KTEST_CASE(stale_iova_blocked),
            KTEST_CASE(strict_direction),
            KTEST_CASE(strict_completed_faults),
            KTEST_CASE(timeout_quarantines),
            KTEST_CASE(setup_fail_nth),
            KTEST_CASE(completion_interrupts));

/* ---- blk_rw: round trips on disks that keep data ---- */

static const uint32_t rw_sizes[] = { 1, 7, 8, 9, 64, 255, 256, 1000 };

/* Writes the pattern in one mode at buf + off, reads it back in another into a cleared
 * buffer, compares; a different seed every time so stale data cannot pass. */
static void round_trip(struct ktest *t, struct blk_dev *b, enum blk_dma_mode wmode,
                       enum blk_dma_mode rmode, size_t off, uint64_t seed)
{
    uint8_t *w = buf_alloc(), *r = buf_alloc();
    KASSERT(t, w && r);
    uint32_t spl = b->lba_size / 512;
    uint64_t lba = 3;
    for (unsigned i = 0; i < ARRAY_SIZE(rw_sizes); i++) {
        uint32_t n = rw_sizes[i];
        if ((size_t)n * b->lba_size + off > BUF_BYTES || lba + n > b->nlba)
            continue;
        test_blk_pattern(w + off, lba * spl, (uint64_t)n * spl, seed + i);
        memset(r, 0xee, BUF_BYTES);
        blk_set_mode(b, wmode);
        KEXPECT_EQ(t, blk_write(b, lba, n, w + off), 0);
        blk_set_mode(b, rmode);
        KEXPECT_EQ(t, blk_read(b, lba, n, r + off), 0);
        KEXPECT_EQ(t, test_blk_pattern_check(r + off, lba * spl, (uint64_t)n * spl, seed + i),
                   UINT64_MAX);
        KEXPECT(t, off == 0 || r[off - 1] == 0xee);
        KEXPECT(t, r[off + (size_t)n * b->lba_size] == 0xee);
        lba += n + 5;
    }
    blk_set_mode(b, BLK_DMA_POOLED);
    buf_free(w);
    buf_free(r);
}

static void rw_all(struct ktest *t, enum blk_dma_mode wmode, enum blk_dma_mode rmode,
                   size_t off, uint64_t seed)
{
    struct blk_dev *v = test_blk_dev(t, TEST_VBLK);
    if (v)
        round_trip(t, v, wmode, rmode, off, seed);
    struct blk_dev *n = blk_find(TEST_NVME);
    if (n)
        round_trip(t, n, wmode, rmode, off, seed + 100);
}

static void rw_strict(struct ktest *t) { rw_all(t, BLK_DMA_STRICT, BLK_DMA_STRICT, 0, 1000); }
static void rw_pooled(struct ktest *t) { rw_all(t, BLK_DMA_POOLED, BLK_DMA_POOLED, 0, 2000); }
static void rw_strict_unaligned(struct ktest *t)
{
    rw_all(t, BLK_DMA_STRICT, BLK_DMA_STRICT, 516, 3000);
}
static void rw_cross_modes(struct ktest *t)
{
    rw_all(t, BLK_DMA_STRICT, BLK_DMA_POOLED, 0, 4000);
    rw_all(t, BLK_DMA_POOLED, BLK_DMA_STRICT, 2048, 5000);
}

/* Queue-depth writes then reads, zero-copy through the pool, each I/O its own blocks. */
static void rw_queue_depth_on(struct ktest *t, struct blk_dev *b, uint64_t seed)
{
    static struct blk_io ios[32];
    unsigned n = MIN(b->pool.nbufs, 32u);
    uint32_t spl = b->lba_size / 512;
    uint64_t base = 2048 / spl;
    KASSERT(t, base + 2 * n <= b->nlba);
    for (unsigned i = 0; i < n; i++) {
        KASSERT(t, blk_io_prepare(b, &ios[i], BLK_DMA_POOLED, BLK_OP_WRITE, base + 2 * i, 1,
                                  NULL) == 0);
        test_blk_pattern(ios[i].bounce, (base + 2 * i) * spl, spl, seed);
        KASSERT(t, blk_io_submit(b, &ios[i]) == 0);
    }
    for (unsigned i = 0; i < n; i++)
        KEXPECT_EQ(t, blk_io_wait(b, &ios[i]), 0);
    for (unsigned i = 0; i < n; i++) {
        KASSERT(t, blk_io_prepare(b, &ios[i], BLK_DMA_POOLED, BLK_OP_READ, base + 2 * i, 1,
                                  NULL) == 0);
        memset(ios[i].bounce, 0, b->lba_size);
        KASSERT(t, blk_io_submit(b, &ios[i]) == 0);
    }
    for (unsigned i = 0; i < n; i++) {
        KEXPECT(t, poll_until(ios[i].done || blk_poll(b) < 0, b->timeout_ns) == 0 &&
                       ios[i].done);
        KEXPECT_EQ(t, test_blk_pattern_check(ios[i].bounce, (base + 2 * i) * spl, spl, seed),
                   UINT64_MAX);
        KEXPECT_EQ(t, blk_io_complete(b, &ios[i]), 0);
    }
}

static void rw_queue_depth(struct ktest *t)
{
    struct blk_dev *v = test_blk_dev(t, TEST_VBLK);
    if (v)
        rw_queue_depth_on(t, v, 6000);
    struct blk_dev *n = blk_find(TEST_NVME);
    if (n)
        rw_queue_depth_on(t, n, 7000);
}

static void rw_flush(struct ktest *t)
{
    flush(t);
}

KTEST_SUITE_EXPLICIT(blk_rw,
                     KTEST_CASE(rw_strict),
                     KTEST_CASE(rw_pooled),
                     KTEST_CASE(rw_strict_unaligned),
                     KTEST_CASE(rw_cross_modes),
                     KTEST_CASE(rw_queue_depth),
                     KTEST_CASE(rw_flush));
