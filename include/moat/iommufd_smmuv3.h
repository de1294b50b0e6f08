/* Linux 6.13+ uapi for Arm SMMUv3 that the installed 6.12 <linux/iommufd.h> lacks, with Linux's
 * numbers and layout under moat's names (a program built against newer headers sees the same
 * bytes under Linux's names). */
#ifndef MOAT_IOMMUFD_SMMUV3_H
#define MOAT_IOMMUFD_SMMUV3_H

#include <stdint.h>

/* enum iommu_hw_info_type */
#define MOAT_IOMMU_HW_INFO_TYPE_ARM_SMMUV3 2

/* struct iommu_hw_info_arm_smmuv3: the unit's raw ID registers (IHI 0070 6.3.1-6.3.6). */
struct moat_iommu_hw_info_arm_smmuv3 {
    uint32_t flags;         /* 0 */
    uint32_t reserved;      /* 0 (Linux: __reserved, later impl) */
    uint32_t idr[6];        /* SMMU_IDR0..5 */
    uint32_t iidr;
    uint32_t aidr;
};
_Static_assert(sizeof(struct moat_iommu_hw_info_arm_smmuv3) == 40,
               "Linux's struct iommu_hw_info_arm_smmuv3 is 40 bytes");

#endif
