/* The walker instance for the arm_s1 format. */
#include "iommu/pgtable/fmt_arm_s1.h"

#define PT_OPS_NAME pt_fmt_arm_s1
#include "iommu/pgtable/walker.inc"
