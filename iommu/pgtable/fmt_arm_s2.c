/* The walker instance for the arm_s2 format. */
#include "iommu/pgtable/fmt_arm_s2.h"

#define PT_OPS_NAME pt_fmt_arm_s2
#include "iommu/pgtable/walker.inc"
