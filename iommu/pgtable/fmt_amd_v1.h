/* AMD-Vi host (v1) I/O page table entries (AMD IOMMU spec, "I/O Page Tables for Host
 * Translations"). pgtable level L is AMD level L + 1; the DTE Mode field is the number of
 * levels. A PDE's Next Level names the level of the table it points to; Next Level 0 marks a
 * PTE, whose page is the default size of its level (4 KiB, 2 MiB, 1 GiB, 512 GiB). Next Level 7
 * (size-encoded pages) is not written by this layer. */
#ifndef MOAT_IOMMU_PGTABLE_FMT_AMD_V1_H
#define MOAT_IOMMU_PGTABLE_FMT_AMD_V1_H

#include "iommu/pgtable/pt_internal.h"

#define FMT_GRANULE_SHIFT 12
#include "iommu/pgtable/pt_geom.inc"

#define AMDV1_PR BIT(0)                /* Present */
#define AMDV1_A BIT(5)                 /* Accessed (hardware, with HAD) */
#define AMDV1_D BIT(6)                 /* Dirty (hardware, with HAD) */
#define AMDV1_NEXT_LEVEL GENMASK(11, 9) /* NextLevel */
#define AMDV1_ADDR GENMASK(51, 12)     /* Next Table Address / Page Address */
#define AMDV1_U BIT(59)                /* U: ATS translation not allowed (not used) */
#define AMDV1_FC BIT(60)               /* FC: force coherent */
#define AMDV1_IR BIT(61)               /* IR: read permission */
#define AMDV1_IW BIT(62)               /* IW: write permission */

#define AMDV1_NL_PTE 0
#define AMDV1_NL_SIZED 7

#define FMT_NAME "amd-v1"
#define FMT_MIN_LEVELS 1
#define FMT_MAX_LEVELS 6
#define FMT_DEFAULT_LEVELS 4
#define FMT_MAX_IAS 64
#define FMT_OA_BITS 52
#define FMT_LEAF_LEVELS (BIT(0) | BIT(1) | BIT(2) | BIT(3))
#define FMT_PROT_STORED (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE | PGTABLE_PROT_SNOOP)
#define FMT_WRITE_ONLY_OK true
#define FMT_CONCAT_ROOT false
#define FMT_CANONICAL_HALF false

static inline enum pt_kind fmt_kind(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    uint64_t nl = FIELD_GET(AMDV1_NEXT_LEVEL, e);
    if (!(e & AMDV1_PR))
        return PT_EMPTY;
    if (level == 0 || nl == AMDV1_NL_PTE || nl == AMDV1_NL_SIZED)
        return PT_LEAF;
    return PT_TABLE;
}

static inline uint64_t fmt_table_pa(uint64_t e)
{
    return e & AMDV1_ADDR;
}

static inline uint64_t fmt_leaf_pa(unsigned int level, uint64_t e)
{
    return e & AMDV1_ADDR & ~(pt_size(level) - 1);
}

/* The table this entry (at pgtable level `level`) points to is AMD level `level`. IR/IW are
 * set because a PDE's permissions restrict everything below it. */
static inline uint64_t fmt_mk_table(const struct pgtable *pt, unsigned int level, uint64_t pa)
{
    return pa | AMDV1_PR | AMDV1_IR | AMDV1_IW | FIELD_PREP(AMDV1_NEXT_LEVEL, level);
}

static inline uint64_t fmt_leaf_attrs(const struct pgtable *pt, uint32_t prot)
{
    uint64_t a = AMDV1_PR;
    if (prot & PGTABLE_PROT_READ)
        a |= AMDV1_IR;
    if (prot & PGTABLE_PROT_WRITE)
        a |= AMDV1_IW;
    if (prot & PGTABLE_PROT_SNOOP)
        a |= AMDV1_FC;
    return a;
}

static inline uint64_t fmt_leaf_attrs_of(unsigned int level, uint64_t e)
{
    return e & ~(AMDV1_ADDR | AMDV1_NEXT_LEVEL);
}

/* Next Level 0 at every level: default-size pages. */
static inline uint64_t fmt_leaf_tmpl(const struct pgtable *pt, unsigned int level, uint64_t attrs)
{
    return attrs;
}

static inline uint32_t fmt_prot(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    uint32_t p = 0;
    if (e & AMDV1_IR)
        p |= PGTABLE_PROT_READ;
    if (e & AMDV1_IW)
        p |= PGTABLE_PROT_WRITE;
    if (e & AMDV1_FC)
        p |= PGTABLE_PROT_SNOOP;
    if (e & AMDV1_D)
        p |= PGTABLE_PROT_DIRTY;
    return p;
}

static inline bool fmt_dirty(const struct pgtable *pt, uint64_t e)
{
    return e & AMDV1_D;
}

static inline uint64_t fmt_dirty_clean(const struct pgtable *pt, uint64_t e)
{
    return e & ~AMDV1_D;
}

#endif
