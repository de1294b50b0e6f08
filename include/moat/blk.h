/* moat's block devices for appliances: the runtime's virtio-blk and NVMe drivers, reached by
 * name. Every buffer the device touches goes through its IOMMU domain; buffers may be any memory
 * of the appliance (heap, anonymous mmap). Errors are negative errno (-ERANGE past the end,
 * -EIO for a device error, -ETIMEDOUT when it does not answer).
 *
 * The drivers claim their devices in an appliance image only when named on the command line:
 * ./moat run --app FILE.c --cmdline drivers=virtio-blk,nvme */
#ifndef MOAT_BLK_H
#define MOAT_BLK_H

#include <stdint.h>

struct blk_dev;

/* "vblk0", "nvme0n1", ...; NULL when there is no such device. */
struct blk_dev *blk_find(const char *name);
int blk_read(struct blk_dev *b, uint64_t lba, uint32_t nlb, void *buf);
int blk_write(struct blk_dev *b, uint64_t lba, uint32_t nlb, const void *buf);
int blk_flush(struct blk_dev *b);
uint32_t moat_blk_lba_size(const struct blk_dev *b);
uint64_t moat_blk_nlba(const struct blk_dev *b);
/* Largest single I/O in bytes. */
uint32_t moat_blk_max_io(const struct blk_dev *b);
/* 1: map each I/O's buffer and unmap it before returning (strict); 0: copy through buffers
 * mapped once (pooled, the default). */
void moat_blk_set_strict(struct blk_dev *b, int strict);

#endif
