/* Virtio 1.x over PCI and the split virtqueue, as the virtio specification (1.2) names them:
 * section 4.1.4 (virtio structure PCI capabilities, common configuration), 2.1 (device status),
 * 6 (reserved feature bits), 2.7 (split virtqueues). All fields are little-endian. */
#ifndef MOAT_DRIVERS_VIRTIO_VIRTIO_HW_H
#define MOAT_DRIVERS_VIRTIO_VIRTIO_HW_H

#include "lib/compiler.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_DEVICE_BASE 0x1040     /* + virtio device ID */

/* struct virtio_pci_cap (4.1.4): a vendor-specific PCI capability (ID 0x09). */
#define VIRTIO_PCI_CAP_VNDR 0x00        /* u8: 0x09 */
#define VIRTIO_PCI_CAP_NEXT 0x01        /* u8 */
#define VIRTIO_PCI_CAP_LEN 0x02         /* u8: length of this capability */
#define VIRTIO_PCI_CAP_CFG_TYPE 0x03    /* u8: VIRTIO_PCI_CAP_*_CFG */
#define VIRTIO_PCI_CAP_BAR 0x04         /* u8: 0..5 */
#define VIRTIO_PCI_CAP_ID 0x05          /* u8: several capabilities of one type */
#define VIRTIO_PCI_CAP_OFFSET 0x08      /* le32: within the BAR */
#define VIRTIO_PCI_CAP_LENGTH 0x0c      /* le32: of the structure */
#define VIRTIO_PCI_CAP_SIZE 16
#define VIRTIO_PCI_NOTIFY_CAP_MULT 0x10 /* le32 notify_off_multiplier (notify cap only) */
#define VIRTIO_PCI_NOTIFY_CAP_SIZE 20

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

/* struct virtio_pci_common_cfg (4.1.4.3): offsets in the common configuration structure. */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00     /* le32 device_feature_select */
#define VIRTIO_PCI_COMMON_DF 0x04           /* le32 device_feature (read-only) */
#define VIRTIO_PCI_COMMON_GFSELECT 0x08     /* le32 driver_feature_select */
#define VIRTIO_PCI_COMMON_GF 0x0c           /* le32 driver_feature */
#define VIRTIO_PCI_COMMON_MSIX 0x10         /* le16 config_msix_vector */
#define VIRTIO_PCI_COMMON_NUMQ 0x12         /* le16 num_queues (read-only) */
#define VIRTIO_PCI_COMMON_STATUS 0x14       /* u8 device_status */
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15    /* u8 config_generation (read-only) */
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16     /* le16 queue_select */
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18       /* le16 queue_size */
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a       /* le16 queue_msix_vector */
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c     /* le16 queue_enable */
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e       /* le16 queue_notify_off (read-only) */
#define VIRTIO_PCI_COMMON_Q_DESCLO 0x20     /* le64 queue_desc */
#define VIRTIO_PCI_COMMON_Q_DESCHI 0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28    /* le64 queue_driver */
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO 0x30     /* le64 queue_device */
#define VIRTIO_PCI_COMMON_Q_USEDHI 0x34
#define VIRTIO_PCI_COMMON_CFG_SIZE 0x38     /* the 1.0 structure; 1.2 appends fields */

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Device status (2.1). */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE 1
#define VIRTIO_CONFIG_S_DRIVER 2
#define VIRTIO_CONFIG_S_DRIVER_OK 4
#define VIRTIO_CONFIG_S_FEATURES_OK 8
#define VIRTIO_CONFIG_S_NEEDS_RESET 0x40
#define VIRTIO_CONFIG_S_FAILED 0x80

/* Reserved feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_IN_ORDER 35
#define VIRTIO_F_ORDER_PLATFORM 36

/* Split virtqueue (2.7). The descriptor table is 16-byte aligned, the driver (available) ring
 * 2-byte, the device (used) ring 4-byte; the queue size is a power of two up to 32768. */
#define VIRTQ_MAX_SIZE 32768

struct virtq_desc {
    uint64_t addr;              /* le64: buffer address (an IOVA under ACCESS_PLATFORM) */
    uint32_t len;               /* le32 */
    uint16_t flags;             /* le16: VIRTQ_DESC_F_* */
    uint16_t next;              /* le16: next descriptor when F_NEXT */
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes");

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2        /* device-writable (otherwise device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_avail {
    uint16_t flags;             /* le16: VIRTQ_AVAIL_F_NO_INTERRUPT */
    uint16_t idx;               /* le16: where the driver puts the next entry (mod size) */
    uint16_t ring[];            /* le16 descriptor-chain heads; then le16 used_event */
};
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq_avail header is 4 bytes");

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_used_elem {
    uint32_t id;                /* le32: head of the chain the device used */
    uint32_t len;               /* le32: bytes the device wrote into the chain */
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes");

struct virtq_used {
    uint16_t flags;             /* le16 */
    uint16_t idx;               /* le16: where the device puts the next entry (mod size) */
    struct virtq_used_elem ring[];  /* then le16 avail_event */
};
_Static_assert(sizeof(struct virtq_used) == 4, "virtq_used header is 4 bytes");

static inline uint64_t virtq_avail_bytes(unsigned size) { return 4 + 2ULL * size + 2; }
static inline uint64_t virtq_used_bytes(unsigned size) { return 4 + 8ULL * size + 2; }

#endif
