/* The walker instance for the Arm s2 format with the 16k granule. */
#define FMT_GRANULE_SHIFT 14
#define FMT_NAME "arm-s2-16k"
#include "iommu/pgtable/fmt_arm_s2.h"

#define PT_OPS_NAME pt_fmt_arm_s2_16k
#include "iommu/pgtable/walker.inc"
