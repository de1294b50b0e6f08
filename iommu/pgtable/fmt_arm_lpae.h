/* Arm VMSAv8-64 descriptors, shared by stage 1 and stage 2 and by the 4, 16 and 64 KiB
 * granules (Arm ARM D8 "The VMSAv8-64 translation table format"). Arm lookup level against
 * pgtable level: level 3 -> 0, 2 -> 1, 1 -> 2, 0 -> 3. */
#ifndef MOAT_IOMMU_PGTABLE_FMT_ARM_LPAE_H
#define MOAT_IOMMU_PGTABLE_FMT_ARM_LPAE_H

#include "iommu/pgtable/pt_internal.h"

/* 4 KiB unless the format source asks for the 16 KiB (14) or 64 KiB (16) granule. */
#ifndef FMT_GRANULE_SHIFT
#define FMT_GRANULE_SHIFT 12
#endif
#include "iommu/pgtable/pt_geom.inc"

#define ARM_VALID BIT(0)            /* descriptor bit[0]: valid */
#define ARM_TYPE BIT(1)             /* bit[1]: table (levels 0-2) or page (level 3); 0 = block */
#define ARM_SH GENMASK(9, 8)        /* SH: shareability */
#define ARM_SH_OS 2ULL              /* outer shareable */
#define ARM_SH_IS 3ULL              /* inner shareable */
#define ARM_AF BIT(10)              /* AF: access flag (set, so no access-flag faults) */
#define ARM_OA GENMASK(47, 12)      /* output address (48-bit OA; low bits below the granule
                                     * are zero in what this layer writes) */
#define ARM_DBM BIT(51)             /* DBM: dirty bit modifier (hardware dirty state) */
#define ARM_CONTIG BIT(52)          /* Contiguous hint (not used) */
#define ARM_TABLE_ADDR GENMASK(47, 12) /* next-level table address */

/* Without FEAT_LPA/LPA2: 48-bit input and output. Blocks: 4 KiB granule at Arm levels 1-2
 * (1 GiB, 2 MiB), 16 KiB at level 2 (32 MiB), 64 KiB at level 2 (512 MiB). */
#define FMT_MIN_LEVELS 2
#define FMT_MAX_LEVELS (FMT_GRANULE_SHIFT == 16 ? 3 : 4)
#define FMT_DEFAULT_LEVELS FMT_MAX_LEVELS
#define FMT_MAX_IAS 48
#define FMT_OA_BITS 48
#define FMT_LEAF_LEVELS (FMT_GRANULE_SHIFT == 12 ? (BIT(0) | BIT(1) | BIT(2)) : (BIT(0) | BIT(1)))
#define FMT_CANONICAL_HALF false

static inline enum pt_kind fmt_kind(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    if (!(e & ARM_VALID))
        return PT_EMPTY;
    if (level == 0)
        return (e & ARM_TYPE) ? PT_LEAF : PT_EMPTY; /* 0b01 at level 3 is reserved: invalid */
    return (e & ARM_TYPE) ? PT_TABLE : PT_LEAF;
}

static inline uint64_t fmt_table_pa(uint64_t e)
{
    return e & ARM_TABLE_ADDR;
}

static inline uint64_t fmt_leaf_pa(unsigned int level, uint64_t e)
{
    return e & ARM_OA & ~(pt_size(level) - 1);
}

static inline uint64_t fmt_mk_table(const struct pgtable *pt, unsigned int level, uint64_t pa)
{
    return pa | ARM_VALID | ARM_TYPE;
}

static inline uint64_t fmt_leaf_attrs_of(unsigned int level, uint64_t e)
{
    return e & ~(ARM_OA | ARM_TYPE);
}

/* Level 0 (Arm level 3) leaves are pages (type bit set); higher ones are blocks. */
static inline uint64_t fmt_leaf_tmpl(const struct pgtable *pt, unsigned int level, uint64_t attrs)
{
    return level ? attrs : attrs | ARM_TYPE;
}

#endif
