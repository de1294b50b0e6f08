/* Shared by the block-device suites (test_blk*.c). */
#ifndef MOAT_TESTS_IMAGE_TEST_BLK_H
#define MOAT_TESTS_IMAGE_TEST_BLK_H

#include "drivers/dma/blk.h"
#include "kernel/ktest.h"

/* The devices the default machine and tools/disk-test.sh give: virtio-blk, NVMe. */
#define TEST_VBLK "vblk0"
#define TEST_NVME "nvme0n1"

/* The device, or NULL after skipping the case. */
struct blk_dev *test_blk_dev(struct ktest *t, const char *name);

/* The disk pattern that tools/disk-test.sh checks on the host: 512-byte sector s holds 64
 * little-endian words, w[0] = s, w[1] = seed, w[k] = s * K1 + seed + k * K2 (mod 2^64). */
#define BLK_PATTERN_K1 0x9e3779b97f4a7c15ULL
#define BLK_PATTERN_K2 0xbf58476d1ce4e5b9ULL
void test_blk_pattern(void *buf, uint64_t first_sector, uint64_t nsectors, uint64_t seed);
/* The first sector in [first, first + n) that differs from the pattern, or UINT64_MAX. */
uint64_t test_blk_pattern_check(const void *buf, uint64_t first_sector, uint64_t nsectors,
                                uint64_t seed);

#endif
