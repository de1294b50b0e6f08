/* blk_disk (explicit): writes the disk pattern (test_blk.h) over every sector of vblk0 and
 * nvme0n1, chunks alternating between pooled and strict DMA, flushes, reads everything back
 * (modes swapped) and checks it. tools/disk-test.sh then checks the image files on the host.
 * The seed comes from the command line (blk_seed=N); nvme0n1 uses seed + 1 so that swapped
 * disks do not pass. */
#include "kernel/cmdline.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "tests/image/test_blk.h"

#define DISK_DEFAULT_SEED 0x6d6f6174ULL
#define DISK_BUF_ORDER 5                /* 128 KiB */

static uint64_t disk_seed(void)
{
    char s[32];
    unsigned long long v;
    if (cmdline_get("blk_seed", s, sizeof(s)) && str_to_u64(s, NULL, 0, &v) == 0)
        return v;
    return DISK_DEFAULT_SEED;
}

/* One pass over the whole disk: write (check = false) or read and check. */
static int disk_pass(struct ktest *t, struct blk_dev *b, uint8_t *buf, uint32_t chunk,
                     uint64_t seed, bool check)
{
    uint32_t spl = b->lba_size / 512;
    for (uint64_t lba = 0, i = 0; lba < b->nlba; lba += chunk, i++) {
        uint32_t n = (uint32_t)MIN((uint64_t)chunk, b->nlba - lba);
        blk_set_mode(b, (i % 2 == 0) != check ? BLK_DMA_POOLED : BLK_DMA_STRICT);
        int err;
        if (!check) {
            test_blk_pattern(buf, lba * spl, (uint64_t)n * spl, seed);
            err = blk_write(b, lba, n, buf);
        } else {
            memset(buf, 0, (size_t)n * b->lba_size);
            err = blk_read(b, lba, n, buf);
        }
        if (err) {
            ktest_fail(t, __FILE__, __LINE__, "%s: %s at lba %llu: %s", b->name,
                       check ? "read" : "write", (unsigned long long)lba, errno_name(err));
            return err;
        }
        uint64_t bad = check ? test_blk_pattern_check(buf, lba * spl, (uint64_t)n * spl, seed)
                             : UINT64_MAX;
        if (bad != UINT64_MAX) {
            ktest_fail(t, __FILE__, __LINE__, "%s: sector %llu reads back wrong", b->name,
                       (unsigned long long)bad);
            return -EIO;
        }
    }
    return 0;
}

static void disk_write_verify(struct ktest *t, const char *name, uint64_t seed)
{
    struct blk_dev *b = test_blk_dev(t, name);
    if (!b)
        return;
    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(DISK_BUF_ORDER, &pa);
    KASSERT(t, buf);
    uint32_t chunk = MIN(b->max_io, 4096u << DISK_BUF_ORDER) / b->lba_size;
    uint64_t t0 = clock_ns();
    int err = disk_pass(t, b, buf, chunk, seed, false);
    if (!err)
        err = blk_flush(b);
    uint64_t t1 = clock_ns();
    if (!err)
        err = disk_pass(t, b, buf, chunk, seed, true);
    KEXPECT_EQ(t, err, 0);
    uint64_t mib = b->nlba * b->lba_size >> 20;
    kprintf("blk_disk: %s: wrote %llu MiB (seed %#llx) in %llu ms, read back and checked in "
            "%llu ms\n", name, (unsigned long long)mib, (unsigned long long)seed,
            (unsigned long long)((t1 - t0) / NSEC_PER_MSEC),
            (unsigned long long)((clock_ns() - t1) / NSEC_PER_MSEC));
    blk_set_mode(b, BLK_DMA_POOLED);
    pmm_free(pa, DISK_BUF_ORDER);
}

static void disk_virtio(struct ktest *t) { disk_write_verify(t, TEST_VBLK, disk_seed()); }
static void disk_nvme(struct ktest *t) { disk_write_verify(t, TEST_NVME, disk_seed() + 1); }

KTEST_SUITE_EXPLICIT(blk_disk, KTEST_CASE(disk_virtio), KTEST_CASE(disk_nvme));
