/* Hung devices: an I/O that misses its deadline resets the device, fails the I/Os it held and
 * brings it up again on a new domain; a device that keeps missing them is given up, blocked
 * and reported. The device is an NVMe controller on a disk whose every I/O takes 1 s
 * (tools/hotplug-disks.sh's hpslow, plugged at boot with
 * "-- -device nvme,bus=pcie.0,addr=0x9,drive=hpslow,serial=slow"); the deadline is cut to
 * 300 ms to make it "hang", then raised to 5 s to show it works again. */
#include "drivers/dma/blk.h"
#include "iommu/iommu.h"
#include "kernel/ktest.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "tests/image/test_blk.h"

#define RC_PAGE 4096u
#define RC_IOS 4
#define RC_CANARY 0x3c
#define RC_HANG_NS (300 * NSEC_PER_MSEC)
#define RC_SLOW_NS (5 * NSEC_PER_SEC)

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* Strict reads into the odd pages of 8 (even pages canaries); the first is waited for. */
static void deadline_resets_and_rebinds(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    uint64_t pa;
    uint8_t *pages = pmm_alloc_zeroed(3, &pa);
    KASSERT(t, pages);
    memset(pages, RC_CANARY, 8 * RC_PAGE);
    size_t heap = heap_live_bytes();
    uint64_t free_pages = pmm_free_bytes();
    unsigned before = b->nr_recoveries;
    struct blk_io ios[RC_IOS];
    uint32_t nlb = RC_PAGE / b->lba_size;
    blk_plug(b);
    for (unsigned i = 0; i < RC_IOS; i++) {
        KASSERT(t, blk_io_prepare(b, &ios[i], BLK_DMA_STRICT, BLK_OP_READ, (uint64_t)i * nlb,
                                  nlb, pages + (2 * i + 1) * RC_PAGE) == 0);
        KASSERT(t, blk_io_submit(b, &ios[i]) == 0);
    }
    b->timeout_ns = RC_HANG_NS;
    KEXPECT_EQ(t, blk_io_wait(b, &ios[0]), -ETIMEDOUT);
    KEXPECT_EQ(t, b->nr_recoveries, before + 1);
    KEXPECT(t, b->up && !b->broken);
    for (unsigned i = 1; i < RC_IOS; i++) {
        KEXPECT(t, ios[i].done);
        KEXPECT_EQ(t, ios[i].done ? blk_io_complete(b, &ios[i]) : 0, -EIO);
        memset(pages + (2 * i + 1) * RC_PAGE, RC_CANARY, RC_PAGE);
    }
    memset(pages + RC_PAGE, RC_CANARY, RC_PAGE);
    udelay(1500000);    /* the backend finishes the old reads: none may land */
    KEXPECT(t, all(pages, 8 * RC_PAGE, RC_CANARY));
    KEXPECT_EQ(t, heap_live_bytes(), heap);
    KEXPECT_EQ(t, pmm_free_bytes(), free_pages);
    /* A deadline the backend can meet: the rebound device works. */
    b->timeout_ns = RC_SLOW_NS;
    KEXPECT_EQ(t, blk_read(b, 0, nlb, pages + RC_PAGE), 0);
    KEXPECT(t, all(pages + RC_PAGE, RC_PAGE, 0));       /* a null disk reads zeros */
    pmm_free(pa, 3);
}

/* Missing every deadline: BLK_MAX_RECOVERIES resets, then the device is given up. */
static void keeps_misbehaving_is_given_up(struct ktest *t)
{
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(0, &pa);
    KASSERT(t, buf);
    uint32_t nlb = RC_PAGE / b->lba_size;
    struct pci_dev *pd = b->pci;
    for (unsigned n = 0; n < 2 * BLK_MAX_RECOVERIES && !b->given_up; n++) {
        b->timeout_ns = RC_HANG_NS;
        KEXPECT_EQ(t, blk_read(b, 0, nlb, buf), -ETIMEDOUT);
    }
    KEXPECT(t, b->given_up);
    KEXPECT_EQ(t, b->nr_recoveries, BLK_MAX_RECOVERIES);
    KEXPECT(t, !b->up);
    KEXPECT_EQ(t, blk_read(b, 0, nlb, buf), -EIO);
    struct iommu_unit *u = iommu_unit_for(pd);
    if (u)
        KEXPECT(t, iommu_dev_domain(pd) == u->blocked);
    kprintf("blk_recover: %s given up after %u resets, %llu timeouts\n", b->name,
            b->nr_recoveries, (unsigned long long)b->nr_timeouts);
    pmm_free(pa, 0);
}

KTEST_SUITE_EXPLICIT(blk_recover, KTEST_CASE(deadline_resets_and_rebinds),
                     KTEST_CASE(keeps_misbehaving_is_given_up));
