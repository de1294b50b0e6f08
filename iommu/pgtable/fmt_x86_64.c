/* The walker instance for the x86_64 format. */
#include "iommu/pgtable/fmt_x86_64.h"

#define PT_OPS_NAME pt_fmt_x86_64
#include "iommu/pgtable/walker.inc"
