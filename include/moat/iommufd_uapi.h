/* The nesting part of Linux's IOMMUFD uapi that the installed 6.12 <linux/iommufd.h> lacks:
 * the vIOMMU (6.13), the vDEVICE (6.13), Arm SMMUv3 nested data and invalidation (6.14) and the
 * vEVENTQ (6.15), under Linux's own names, numbers and layouts, so that a program written for
 * Linux builds unchanged. Where the system header is new enough, its definitions are used and
 * nothing here is defined.
 *
 * IOMMU_VIOMMU_ALLOC is 6.13's layout (24 bytes); 6.16 appended data_len/__reserved/data_uptr,
 * which a caller may pass as zeros (the ioctl size rule accepts zero bytes beyond the end). */
#ifndef MOAT_IOMMUFD_UAPI_H
#define MOAT_IOMMUFD_UAPI_H

#include <linux/iommufd.h>
#include <linux/types.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
enum {
    IOMMUFD_CMD_VIOMMU_ALLOC = 0x90,
    IOMMUFD_CMD_VDEVICE_ALLOC = 0x91,
};

enum iommu_viommu_type {
    IOMMU_VIOMMU_TYPE_DEFAULT = 0,
    IOMMU_VIOMMU_TYPE_ARM_SMMUV3 = 1,
};

struct iommu_viommu_alloc {
    __u32 size;
    __u32 flags;            /* must be 0 */
    __u32 type;             /* enum iommu_viommu_type */
    __u32 dev_id;           /* the device whose physical IOMMU backs the vIOMMU */
    __u32 hwpt_id;          /* a NEST_PARENT paging HWPT: the stage 2 */
    __u32 out_viommu_id;
};
#define IOMMU_VIOMMU_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VIOMMU_ALLOC)

struct iommu_vdevice_alloc {
    __u32 size;
    __u32 viommu_id;
    __u32 dev_id;
    __u32 out_vdevice_id;
    __aligned_u64 virt_id;  /* Arm SMMUv3: the virtual StreamID */
};
#define IOMMU_VDEVICE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VDEVICE_ALLOC)
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)
/* enum iommu_hwpt_data_type */
#define IOMMU_HWPT_DATA_ARM_SMMUV3 2
/* enum iommu_hwpt_invalidate_data_type */
#define IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 1

/* The program's Stream Table Entry words 0 and 1, little-endian. */
struct iommu_hwpt_arm_smmuv3 {
    __aligned_le64 ste[2];
};

/* One SMMUv3 command (IHI 0070 4.1), little-endian. */
struct iommu_viommu_arm_smmuv3_invalidate {
    __aligned_le64 cmd[2];
};
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 15, 0)
enum {
    IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93,
};

enum iommu_veventq_flag {
    IOMMU_VEVENTQ_FLAG_LOST_EVENTS = (1U << 0),
};

/* Before every event read from a vEVENTQ descriptor; sequence runs 0..INT_MAX and wraps. A
 * header with LOST_EVENTS and no data after it ends the stream when events were dropped. */
struct iommufd_vevent_header {
    __u32 flags;
    __u32 sequence;
};

enum iommu_veventq_type {
    IOMMU_VEVENTQ_TYPE_DEFAULT = 0,
    IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 = 1,
};

/* An SMMUv3 event record (IHI 0070 7.3), its StreamID replaced by the virtual one. */
struct iommu_vevent_arm_smmuv3 {
    __aligned_le64 evt[4];
};

struct iommu_veventq_alloc {
    __u32 size;
    __u32 flags;            /* must be 0 */
    __u32 viommu_id;
    __u32 type;             /* enum iommu_veventq_type, one queue per type per vIOMMU */
    __u32 veventq_depth;    /* events held before new ones are lost */
    __u32 out_veventq_id;
    __u32 out_veventq_fd;
    __u32 __reserved;
};
#define IOMMU_VEVENTQ_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VEVENTQ_ALLOC)
#endif

#endif
