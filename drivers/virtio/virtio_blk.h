/* virtio-blk devices register as block devices (drivers/dma/blk.h) named vblk0, vblk1, ...
 * For tests: the request queue behind one. */
#ifndef MOAT_DRIVERS_VIRTIO_VIRTIO_BLK_H
#define MOAT_DRIVERS_VIRTIO_VIRTIO_BLK_H

#include "drivers/dma/blk.h"
#include "drivers/virtio/virtio.h"

/* NULL when b is not a virtio-blk device. */
struct virtq *virtio_blk_queue(struct blk_dev *b);

#endif
