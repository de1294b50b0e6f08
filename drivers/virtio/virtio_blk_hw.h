/* The virtio block device (virtio specification 1.2, section 5.2): feature bits, the device
 * configuration layout and the request format. Little-endian. */
#ifndef MOAT_DRIVERS_VIRTIO_VIRTIO_BLK_HW_H
#define MOAT_DRIVERS_VIRTIO_VIRTIO_BLK_HW_H

#include "lib/compiler.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12

/* struct virtio_blk_config (5.2.4): offsets in the device configuration structure. */
#define VIRTIO_BLK_CFG_CAPACITY 0x00    /* le64: in 512-byte sectors, whatever blk_size says */
#define VIRTIO_BLK_CFG_SIZE_MAX 0x08    /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX 0x0c     /* le32 */
#define VIRTIO_BLK_CFG_BLK_SIZE 0x14    /* le32 */
#define VIRTIO_BLK_CFG_MIN_SIZE 0x18    /* what this driver reads */

#define VIRTIO_BLK_SECTOR_SIZE 512

/* struct virtio_blk_req (5.2.6): a device-readable header, the data, a device-writable status
 * byte. */
struct virtio_blk_req_hdr {
    uint32_t type;              /* le32: VIRTIO_BLK_T_* */
    uint32_t reserved;
    uint64_t sector;            /* le64: in 512-byte units */
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "virtio_blk_req header is 16 bytes");

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#endif
