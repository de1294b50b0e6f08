/* The walker instance for the Arm s1 format with the 64k granule. */
#define FMT_GRANULE_SHIFT 16
#define FMT_NAME "arm-s1-64k"
#include "iommu/pgtable/fmt_arm_s1.h"

#define PT_OPS_NAME pt_fmt_arm_s1_64k
#include "iommu/pgtable/walker.inc"
