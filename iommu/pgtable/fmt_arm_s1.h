/* Arm stage-1 leaf attributes (any granule). Memory types index MAIR through AttrIndx; the
 * SMMU driver programs MAIR as PGTABLE_ARM_MAIR. */
#ifndef MOAT_IOMMU_PGTABLE_FMT_ARM_S1_H
#define MOAT_IOMMU_PGTABLE_FMT_ARM_S1_H

#include "iommu/pgtable/fmt_arm_lpae.h"

#define ARM_S1_ATTRINDX GENMASK(4, 2) /* AttrIndx[2:0] */
#define ARM_S1_NS BIT(5)              /* NS (not used) */
#define ARM_S1_AP1 BIT(6)             /* AP[1]: unprivileged (EL0) access allowed */
#define ARM_S1_AP2 BIT(7)             /* AP[2]: read-only */
#define ARM_S1_NG BIT(11)             /* nG: not global, tagged by ASID */
#define ARM_S1_PXN BIT(53)            /* PXN (not used) */
#define ARM_S1_UXN BIT(54)            /* UXN/XN (not used) */

#ifndef FMT_NAME
#define FMT_NAME "arm-s1"
#endif
#define FMT_PROT_STORED (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE | PGTABLE_PROT_SNOOP | \
                         PGTABLE_PROT_MMIO)
#define FMT_WRITE_ONLY_OK false
#define FMT_CONCAT_ROOT false

static inline uint64_t arm_s1_memtype(uint32_t prot)
{
    if (prot & PGTABLE_PROT_MMIO)
        return FIELD_PREP(ARM_S1_ATTRINDX, PGTABLE_ARM_ATTRIDX_DEV) | FIELD_PREP(ARM_SH, ARM_SH_OS);
    if (prot & PGTABLE_PROT_SNOOP)
        return FIELD_PREP(ARM_S1_ATTRINDX, PGTABLE_ARM_ATTRIDX_WB) | FIELD_PREP(ARM_SH, ARM_SH_IS);
    return FIELD_PREP(ARM_S1_ATTRINDX, PGTABLE_ARM_ATTRIDX_NC) | FIELD_PREP(ARM_SH, ARM_SH_OS);
}

/* Writable with DBM: mapped read-only-clean (AP[2] set, DBM set); the SMMU clears AP[2] on the
 * first write, which is how the dirty state is recorded. */
static inline uint64_t fmt_leaf_attrs(const struct pgtable *pt, uint32_t prot)
{
    uint64_t a = ARM_VALID | ARM_AF | ARM_S1_NG | ARM_S1_AP1 | arm_s1_memtype(prot);
    if (!(prot & PGTABLE_PROT_WRITE))
        a |= ARM_S1_AP2;
    else if (pt->flags & PGTABLE_CFG_ARM_DBM)
        a |= ARM_DBM | ARM_S1_AP2;
    return a;
}

static inline uint32_t fmt_prot(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    uint32_t p = PGTABLE_PROT_READ;
    uint64_t idx = FIELD_GET(ARM_S1_ATTRINDX, e);
    if (!(e & ARM_S1_AP2) || (e & ARM_DBM))
        p |= PGTABLE_PROT_WRITE;
    if ((e & ARM_DBM) && !(e & ARM_S1_AP2))
        p |= PGTABLE_PROT_DIRTY;
    if (idx == PGTABLE_ARM_ATTRIDX_WB)
        p |= PGTABLE_PROT_SNOOP;
    if (idx == PGTABLE_ARM_ATTRIDX_DEV)
        p |= PGTABLE_PROT_MMIO;
    return p;
}

static inline bool fmt_dirty(const struct pgtable *pt, uint64_t e)
{
    return (e & ARM_DBM) && !(e & ARM_S1_AP2);
}

static inline uint64_t fmt_dirty_clean(const struct pgtable *pt, uint64_t e)
{
    return e | ARM_S1_AP2;
}

#endif
