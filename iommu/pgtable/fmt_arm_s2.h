/* Arm stage-2 leaf attributes (any granule, without FEAT_S2FWB). The start level may
 * concatenate up to 16 tables (VTCR.SL0 names it; the root is 2..16 contiguous granules). */
#ifndef MOAT_IOMMU_PGTABLE_FMT_ARM_S2_H
#define MOAT_IOMMU_PGTABLE_FMT_ARM_S2_H

#include "iommu/pgtable/fmt_arm_lpae.h"

#define ARM_S2_MEMATTR GENMASK(5, 2) /* MemAttr[3:0] */
#define ARM_S2_MEMATTR_DEV 0x1ULL    /* Device-nGnRE */
#define ARM_S2_MEMATTR_NC 0x5ULL     /* Normal, outer and inner non-cacheable */
#define ARM_S2_MEMATTR_WB 0xfULL     /* Normal, outer and inner write-back */
#define ARM_S2_S2AP_R BIT(6)         /* S2AP[0]: read */
#define ARM_S2_S2AP_W BIT(7)         /* S2AP[1]: write */
#define ARM_S2_XN GENMASK(54, 53)    /* XN[1:0] (not used) */

#ifndef FMT_NAME
#define FMT_NAME "arm-s2"
#endif
#define FMT_PROT_STORED (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE | PGTABLE_PROT_SNOOP | \
                         PGTABLE_PROT_MMIO)
#define FMT_WRITE_ONLY_OK true
#define FMT_CONCAT_ROOT true

static inline uint64_t arm_s2_memtype(uint32_t prot)
{
    if (prot & PGTABLE_PROT_MMIO)
        return FIELD_PREP(ARM_S2_MEMATTR, ARM_S2_MEMATTR_DEV) | FIELD_PREP(ARM_SH, ARM_SH_OS);
    if (prot & PGTABLE_PROT_SNOOP)
        return FIELD_PREP(ARM_S2_MEMATTR, ARM_S2_MEMATTR_WB) | FIELD_PREP(ARM_SH, ARM_SH_IS);
    return FIELD_PREP(ARM_S2_MEMATTR, ARM_S2_MEMATTR_NC) | FIELD_PREP(ARM_SH, ARM_SH_OS);
}

/* Writable with DBM: mapped with S2AP write clear and DBM set; the SMMU sets S2AP[1] on the
 * first write. */
static inline uint64_t fmt_leaf_attrs(const struct pgtable *pt, uint32_t prot)
{
    uint64_t a = ARM_VALID | ARM_AF | arm_s2_memtype(prot);
    if (prot & PGTABLE_PROT_READ)
        a |= ARM_S2_S2AP_R;
    if (!(prot & PGTABLE_PROT_WRITE))
        return a;
    return a | ((pt->flags & PGTABLE_CFG_ARM_DBM) ? ARM_DBM : ARM_S2_S2AP_W);
}

static inline uint32_t fmt_prot(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    uint32_t p = 0;
    uint64_t attr = FIELD_GET(ARM_S2_MEMATTR, e);
    if (e & ARM_S2_S2AP_R)
        p |= PGTABLE_PROT_READ;
    if (e & (ARM_S2_S2AP_W | ARM_DBM))
        p |= PGTABLE_PROT_WRITE;
    if ((e & ARM_DBM) && (e & ARM_S2_S2AP_W))
        p |= PGTABLE_PROT_DIRTY;
    if (attr == ARM_S2_MEMATTR_WB)
        p |= PGTABLE_PROT_SNOOP;
    if (attr == ARM_S2_MEMATTR_DEV)
        p |= PGTABLE_PROT_MMIO;
    return p;
}

static inline bool fmt_dirty(const struct pgtable *pt, uint64_t e)
{
    return (e & ARM_DBM) && (e & ARM_S2_S2AP_W);
}

static inline uint64_t fmt_dirty_clean(const struct pgtable *pt, uint64_t e)
{
    return e & ~ARM_S2_S2AP_W;
}

#endif
