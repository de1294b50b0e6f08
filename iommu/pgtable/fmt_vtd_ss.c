/* The walker instance for the vtd_ss format. */
#include "iommu/pgtable/fmt_vtd_ss.h"

#define PT_OPS_NAME pt_fmt_vtd_ss
#include "iommu/pgtable/walker.inc"
