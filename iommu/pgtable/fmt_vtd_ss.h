/* Intel VT-d second-stage paging entries (VT-d spec, "Second-Stage Paging Entries").
 * Spec level names against pgtable levels: SS-PTE 0, SS-PDE 1, SS-PDPE 2, SS-PML4E 3,
 * SS-PML5E 4. 3/4/5-level tables cover 39/48/57 input bits (the context's AW field). */
#ifndef MOAT_IOMMU_PGTABLE_FMT_VTD_SS_H
#define MOAT_IOMMU_PGTABLE_FMT_VTD_SS_H

#include "iommu/pgtable/pt_internal.h"

#define FMT_GRANULE_SHIFT 12
#include "iommu/pgtable/pt_geom.inc"

#define VTD_SS_R BIT(0)                /* Read */
#define VTD_SS_W BIT(1)                /* Write */
#define VTD_SS_X BIT(2)                /* Execute (not used) */
#define VTD_SS_EMT GENMASK(5, 3)       /* Extended Memory Type (not used: 0 = UC unless IPAT) */
#define VTD_SS_IPAT BIT(6)             /* Ignore PAT */
#define VTD_SS_PS BIT(7)               /* Page Size: SS-PDE/SS-PDPE map a 2 MiB/1 GiB page */
#define VTD_SS_A BIT(8)                /* Accessed (set by hardware when SSADE) */
#define VTD_SS_D BIT(9)                /* Dirty (set by hardware when SSADE) */
#define VTD_SS_SNP BIT(11)             /* Snoop: force snooped access */
#define VTD_SS_ADDR GENMASK(51, 12)    /* ADDR: next table or page frame */
#define VTD_SS_TM BIT(62)              /* Transient Mapping (not used) */

#define FMT_NAME "vtd-ss"
#define FMT_MIN_LEVELS 3
#define FMT_MAX_LEVELS 5
#define FMT_DEFAULT_LEVELS 4
#define FMT_MAX_IAS 57
#define FMT_OA_BITS 52
#define FMT_LEAF_LEVELS (BIT(0) | BIT(1) | BIT(2))
#define FMT_PROT_STORED (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE | PGTABLE_PROT_SNOOP)
#define FMT_WRITE_ONLY_OK true
#define FMT_CONCAT_ROOT false
#define FMT_CANONICAL_HALF false

/* An entry is present when it grants read or write; PS marks a large leaf above level 0. */
static inline enum pt_kind fmt_kind(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    if (!(e & (VTD_SS_R | VTD_SS_W)))
        return PT_EMPTY;
    if (level == 0 || (e & VTD_SS_PS))
        return PT_LEAF;
    return PT_TABLE;
}

static inline uint64_t fmt_table_pa(uint64_t e)
{
    return e & VTD_SS_ADDR;
}

static inline uint64_t fmt_leaf_pa(unsigned int level, uint64_t e)
{
    return e & VTD_SS_ADDR & ~(pt_size(level) - 1);
}

/* Non-leaf entries grant R and W: permissions are decided at the leaf. */
static inline uint64_t fmt_mk_table(const struct pgtable *pt, unsigned int level, uint64_t pa)
{
    return pa | VTD_SS_R | VTD_SS_W;
}

static inline uint64_t fmt_leaf_attrs(const struct pgtable *pt, uint32_t prot)
{
    uint64_t a = 0;
    if (prot & PGTABLE_PROT_READ)
        a |= VTD_SS_R;
    if (prot & PGTABLE_PROT_WRITE)
        a |= VTD_SS_W;
    if (prot & PGTABLE_PROT_SNOOP)
        a |= VTD_SS_SNP;
    return a;
}

/* The attributes of an existing leaf, to rebuild it as smaller leaves (dirty state kept). */
static inline uint64_t fmt_leaf_attrs_of(unsigned int level, uint64_t e)
{
    return e & ~(VTD_SS_ADDR | VTD_SS_PS);
}

/* A leaf at `level` is this template ORed with its output address. */
static inline uint64_t fmt_leaf_tmpl(const struct pgtable *pt, unsigned int level, uint64_t attrs)
{
    return level ? attrs | VTD_SS_PS : attrs;
}

static inline uint32_t fmt_prot(const struct pgtable *pt, unsigned int level, uint64_t e)
{
    uint32_t p = 0;
    if (e & VTD_SS_R)
        p |= PGTABLE_PROT_READ;
    if (e & VTD_SS_W)
        p |= PGTABLE_PROT_WRITE;
    if (e & VTD_SS_SNP)
        p |= PGTABLE_PROT_SNOOP;
    if (e & VTD_SS_D)
        p |= PGTABLE_PROT_DIRTY;
    return p;
}

static inline bool fmt_dirty(const struct pgtable *pt, uint64_t e)
{
    return e & VTD_SS_D;
}

static inline uint64_t fmt_dirty_clean(const struct pgtable *pt, uint64_t e)
{
    return e & ~VTD_SS_D;
}

#endif
