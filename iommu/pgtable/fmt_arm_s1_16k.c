/* The walker instance for the Arm s1 format with the 16k granule. */
#define FMT_GRANULE_SHIFT 14
#define FMT_NAME "arm-s1-16k"
#include "iommu/pgtable/fmt_arm_s1.h"

#define PT_OPS_NAME pt_fmt_arm_s1_16k
#include "iommu/pgtable/walker.inc"
