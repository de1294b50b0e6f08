/* x86-64 paging entries as the IOMMU walks them: VT-d first-stage and AMD-Vi v2 tables (Intel
 * SDM vol. 3 "4-Level Paging and 5-Level Paging"; VT-d spec "First-Stage Paging Entries").
 * Spec level names against pgtable levels: PTE 0, PDE 1, PDPTE 2, PML4E 3, PML5E 4. Inputs
 * are sign-extended from bit 47 (56), so only the lower canonical half is used. */
#ifndef MOAT_IOMMU_PGTABLE_FMT_X86_64_H
#define MOAT_IOMMU_PGTABLE_FMT_X86_64_H

#include "iommu/pgtable/pt_internal.h"

#define FMT_GRANULE_SHIFT 12
#include "iommu/pgtable/pt_geom.inc"

#define X86_P BIT(0)               /* Present */
#define X86_RW BIT(1)              /* Read/Write */
#define X86_US BIT(2)              /* User/Supervisor: DMA without privilege needs it set */
#define X86_PWT BIT(3)             /* Page Write-Through (not used) */
#define X86_PCD BIT(4)             /* Page Cache Disable (not used) */
#define X86_A BIT(5)               /* Accessed */
#define X86_D BIT(6)               /* Dirty (leaves) */
#define X86_PS BIT(7)              /* Page Size: PDE/PDPTE map a 2 MiB/1 GiB page */
#define X86_G BIT(8)               /* Global (not used) */
#define X86_ADDR GENMASK(51, 12)   /* physical address of the next table or page frame */
#define X86_XD BIT(63)             /* Execute Disable (not used) */

#define FMT_NAME "x86-64"
#define FMT_MIN_LEVELS 4
#define FMT_MAX_LEVELS 5
#define FMT_DEFAULT_LEVELS 4
#define FMT_MAX_IAS 56
#define FMT_OA_BITS 52
#define FMT_LEAF_LEVELS (BIT(0) | BIT(1) | BIT(2))
#define FMT_PROT_STORED (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)
#define FMT_WRITE_ONLY_OK false
#define FMT_CONCAT_ROOT false
#define FMT_CANONICAL_HALF true

static inline enum pt_kind fmt_kind(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    if (!(e & X86_P))
        return PT_EMPTY;
    if (level == 0 || (e & X86_PS))
        return PT_LEAF;
    return PT_TABLE;
}

static inline uint64_t fmt_table_pa(uint64_t e)
{
    return e & X86_ADDR;
}

/* Above level 0, bit 12 is PAT, hence the mask to the page size. */
static inline uint64_t fmt_leaf_pa(unsigned int level, uint64_t e)
{
    return e & X86_ADDR & ~(pt_size(level) - 1);
}

/* A is preset so the walker need not write the table back just to set it. */
static inline uint64_t fmt_mk_table(const struct pgtable *pt, unsigned int level, uint64_t pa)
{
    return pa | X86_P | X86_RW | X86_US | X86_A;
}

/* D is left clear: hardware sets it on the first write, which dirty tracking reads. */
static inline uint64_t fmt_leaf_attrs(const struct pgtable *pt, uint32_t prot)
{
    uint64_t a = X86_P | X86_US | X86_A;
    if (prot & PGTABLE_PROT_WRITE)
        a |= X86_RW;
    return a;
}

static inline uint64_t fmt_leaf_attrs_of(unsigned int level, uint64_t e)
{
    return e & ~(X86_ADDR | X86_PS);
}

static inline uint64_t fmt_leaf_tmpl(const struct pgtable *pt, unsigned int level, uint64_t attrs)
{
    return level ? attrs | X86_PS : attrs;
}

static inline uint32_t fmt_prot(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    uint32_t p = PGTABLE_PROT_READ;
    if (e & X86_RW)
        p |= PGTABLE_PROT_WRITE;
    if (e & X86_D)
        p |= PGTABLE_PROT_DIRTY;
    return p;
}

static inline bool fmt_dirty(const struct pgtable *pt, uint64_t e)
{
    return e & X86_D;
}

static inline uint64_t fmt_dirty_clean(const struct pgtable *pt, uint64_t e)
{
    return e & ~X86_D;
}

#endif
