/* Shared by the walker instances (one per format) and the format-independent code. */
#ifndef MOAT_IOMMU_PGTABLE_PT_INTERNAL_H
#define MOAT_IOMMU_PGTABLE_PT_INTERNAL_H

#include "iommu/pgtable/pgtable.h"
#include "iommu/pgtable/barrier.h"
#include "lib/log.h"

/* The start level may concatenate up to 16 tables (Arm stage 2): 4 more index bits. */
#define PT_CONCAT_BITS 4u

enum pt_kind { PT_EMPTY, PT_TABLE, PT_LEAF };

/* A format: constants the generic code validates against, and its walker instance. */
struct pgtable_fmt_ops {
    const char *name;
    unsigned int min_levels, max_levels, default_levels;
    unsigned int granule_shift; /* log2 of the smallest page and of a table's size */
    unsigned int max_ias;       /* widest input the format can walk */
    unsigned int oa_bits;       /* widest output address the entries can hold */
    uint32_t leaf_levels;       /* bit L: the format can hold leaves at level L */
    uint32_t prot_stored;       /* PGTABLE_PROT_* bits the entries keep */
    bool write_only_ok;         /* can express write without read */
    bool concat_root;           /* start level may concatenate up to 16 tables */
    bool canonical_half;        /* inputs are sign-extended: only the lower half is usable */

    int (*map)(struct pgtable *pt, uint64_t iova, uint64_t pa, uint64_t last, uint32_t prot);
    int (*unmap)(struct pgtable *pt, uint64_t iova, uint64_t last, uint32_t flags,
                 struct pgtable_gather *g);
    int (*populate)(struct pgtable *pt, uint64_t iova, uint64_t last);
    int (*translate)(const struct pgtable *pt, uint64_t iova, struct pgtable_xlate *out);
    void (*read_dirty)(struct pgtable *pt, uint64_t iova, uint64_t last, unsigned int pgshift,
                       uint64_t *bitmap, uint32_t flags);
    void (*free_tables)(struct pgtable *pt);
    /* One entry as hardware reads it, for the nested walk: kind, next-table or output address,
     * and for a leaf its prot. */
    enum pt_kind (*decode)(const struct pgtable *pt, unsigned int level, uint64_t e,
                           uint64_t *addr, uint32_t *prot);
};

extern const struct pgtable_fmt_ops pt_fmt_vtd_ss;
extern const struct pgtable_fmt_ops pt_fmt_x86_64;
extern const struct pgtable_fmt_ops pt_fmt_amd_v1;
extern const struct pgtable_fmt_ops pt_fmt_arm_s1;
extern const struct pgtable_fmt_ops pt_fmt_arm_s2;
extern const struct pgtable_fmt_ops pt_fmt_arm_s1_16k;
extern const struct pgtable_fmt_ops pt_fmt_arm_s1_64k;
extern const struct pgtable_fmt_ops pt_fmt_arm_s2_16k;
extern const struct pgtable_fmt_ops pt_fmt_arm_s2_64k;

/* ---- geometry of a table at run time (walker instances use pt_geom.inc's constants) ---- */

static inline unsigned int pt_lvl_shift(const struct pgtable *pt, unsigned int level)
{
    return pt->granule_shift + (pt->granule_shift - 3) * level;
}

static inline uint64_t pt_lvl_size(const struct pgtable *pt, unsigned int level)
{
    return 1ULL << pt_lvl_shift(pt, level);
}

static inline unsigned int pt_index(const struct pgtable *pt, unsigned int level, uint64_t va)
{
    unsigned int bits = level == pt->levels - 1 ? pt->root_bits : pt->granule_shift - 3;
    return (unsigned int)((va >> pt_lvl_shift(pt, level)) & ((1ULL << bits) - 1));
}

/* ---- table pages ---- */

void *pt_alloc_table(struct pgtable *pt, size_t size, uint64_t *pa);
void pt_free_table(struct pgtable *pt, void *va, uint64_t pa, size_t size);

/* Publishes entries just written to a walker that does not snoop the CPU caches. */
static inline void pt_sync(const struct pgtable *pt, const uint64_t *first, size_t n)
{
    if (unlikely(pt->flags & PGTABLE_CFG_NONCOHERENT))
        pt->mem->clean(pt->mem_ctx, first, n * sizeof(uint64_t));
}

/* Pages allocated before a commit so that the commit cannot fail. Linked through the pages
 * themselves (they are not reachable by hardware until handed out). */
struct pt_pool {
    void *head;
    uint64_t count;
};

int pt_pool_fill(struct pgtable *pt, struct pt_pool *pool, uint64_t n);
void *pt_pool_take(struct pgtable *pt, struct pt_pool *pool, uint64_t *pa);
void pt_pool_drain(struct pgtable *pt, struct pt_pool *pool);

/* ---- gather ---- */

void pt_gather_init(struct pgtable_gather *g);
void pt_gather_range(struct pgtable *pt, struct pgtable_gather *g, uint64_t start,
                     uint64_t last, bool leaf);
void pt_gather_page(struct pgtable *pt, struct pgtable_gather *g, void *va, uint64_t pa,
                    size_t size);
/* Hands what was gathered to the driver's flush, then frees the gathered pages. */
void pt_gather_finish(struct pgtable *pt, struct pgtable_gather *g);

#endif
