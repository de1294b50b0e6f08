/* The walker instance for the amd_v1 format. */
#include "iommu/pgtable/fmt_amd_v1.h"

#define PT_OPS_NAME pt_fmt_amd_v1
#include "iommu/pgtable/walker.inc"
