/* Generic I/O page tables: one walker, several hardware formats.
 *
 * This layer builds and edits the translation tables an IOMMU walks. It never touches MMIO: page
 * memory comes from the caller's allocator callbacks and invalidation goes to the caller's flush
 * callback, handed a gather of what changed. Callers serialise operations on one table (the IOAS
 * or domain lock); the hardware walker may run concurrently with any of them.
 *
 * Levels are numbered from the leaf: level 0 holds 4 KiB entries, level 1 2 MiB, level 2 1 GiB,
 * and so on (each format header says how this maps onto the specification's own level names;
 * with the Arm 16/64 KiB granules level 0 holds 16/64 KiB pages, level 1 32/512 MiB blocks).
 *
 * Every operation validates its arguments completely, then commits without failing: on any
 * negative errno the table is byte-for-byte unchanged and nothing was flushed.
 *   -EINVAL     misaligned address or length, zero length, unknown prot/flag bits, or a
 *               permission the format cannot express (write-only on x86-64 and Arm stage 1)
 *   -EOVERFLOW  iova + size (or pa + size) wraps around 2^64
 *   -ERANGE     the range reaches beyond the table's input width (or pa beyond its output width)
 *   -EEXIST     map: part of the range is already mapped
 *   -ENOENT     unmap/translate: part of the range is not mapped
 *   -ENOMEM     a table page could not be allocated (nothing was changed, nothing leaked)
 *   PGTABLE_ESPLIT (-EFBIG) unmap: the range cuts through a larger leaf and the caller did not
 *               pass PGTABLE_UNMAP_SPLIT
 */
#ifndef MOAT_IOMMU_PGTABLE_PGTABLE_H
#define MOAT_IOMMU_PGTABLE_PGTABLE_H

#include "lib/compiler.h"
#include "lib/errno.h"

#define PGTABLE_GRANULE 4096ULL /* the granule of every format but the Arm 16K/64K ones */
#define PGTABLE_SZ_4K BIT(12)
#define PGTABLE_SZ_2M BIT(21)
#define PGTABLE_SZ_1G BIT(30)
#define PGTABLE_SZ_512G BIT(39)

/* "Would split a leaf": the range cuts through a larger leaf; retry with PGTABLE_UNMAP_SPLIT or
 * unmap the whole leaf. EFBIG because the mapping there is bigger than the request. */
#define PGTABLE_ESPLIT EFBIG

enum pgtable_fmt {
    PGTABLE_FMT_VTD_SS,  /* Intel VT-d second stage: 3/4/5 levels, 39/48/57-bit input */
    PGTABLE_FMT_X86_64,  /* x86-64 paging (VT-d first stage, AMD-Vi v2): 4/5 levels */
    PGTABLE_FMT_AMD_V1,  /* AMD-Vi host page table: 1..6 levels (DTE Mode = levels) */
    PGTABLE_FMT_ARM_S1,  /* Arm VMSAv8-64 stage 1, 4 KiB granule */
    PGTABLE_FMT_ARM_S2,  /* Arm VMSAv8-64 stage 2, 4 KiB granule, concatenated start level */
    PGTABLE_FMT_ARM_S1_16K, /* the same with the 16 KiB and 64 KiB granules: pages, tables */
    PGTABLE_FMT_ARM_S1_64K, /* and alignment are then 16/64 KiB, blocks 32/512 MiB */
    PGTABLE_FMT_ARM_S2_16K,
    PGTABLE_FMT_ARM_S2_64K,
    PGTABLE_FMT_COUNT
};

/* Map permissions and attributes; pgtable_translate reports the subset the format stores. */
#define PGTABLE_PROT_READ BIT(0)
#define PGTABLE_PROT_WRITE BIT(1)
/* Force coherent access: VT-d SNP, AMD-Vi FC, Arm normal write-back inner-shareable memory.
 * The x86-64 format has no such bit (snooping is a PASID-entry setting): accepted, not stored. */
#define PGTABLE_PROT_SNOOP BIT(2)
/* Arm only: Device-nGnRE memory (MSI doorbells, peer MMIO). Ignored by the x86 formats. */
#define PGTABLE_PROT_MMIO BIT(3)
/* A map request's, not a leaf's: every leaf of the granule size, however the range is aligned
 * (IOMMUFD's huge pages off). One call maps the whole range; never reported by translate. */
#define PGTABLE_PROT_SMALL BIT(4)
#define PGTABLE_PROT_ALL (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE | PGTABLE_PROT_SNOOP | \
                          PGTABLE_PROT_MMIO | PGTABLE_PROT_SMALL)
/* Reported by pgtable_translate only: hardware has marked the leaf dirty. */
#define PGTABLE_PROT_DIRTY BIT(8)

/* The Arm stage-1 AttrIndx values this layer writes; the SMMU driver programs MAIR to match. */
#define PGTABLE_ARM_ATTRIDX_NC 0     /* Normal, inner/outer non-cacheable */
#define PGTABLE_ARM_ATTRIDX_WB 1     /* Normal, inner/outer write-back write-allocate */
#define PGTABLE_ARM_ATTRIDX_DEV 2    /* Device-nGnRE */
#define PGTABLE_ARM_MAIR 0x04ff44ULL /* MAIR value giving the three indices above */

/* pgtable_cfg.flags */
#define PGTABLE_CFG_NONCOHERENT BIT(0) /* the walker does not snoop: clean lines after writes */
#define PGTABLE_CFG_ARM_DBM BIT(1)     /* Arm: map writable leaves writable-clean with DBM set, so
                                        * hardware dirty-state updates (HTTU) can be tracked */

struct pgtable_cfg {
    enum pgtable_fmt fmt;
    unsigned int levels;    /* 0: the fewest that cover ias (Arm stage 2: concatenating up to
                             * 16 start-level tables to save a level) */
    unsigned int ias;       /* input (IOVA) width in bits; 0: all that `levels` cover (x86-64:
                             * the lower canonical half, 47/56 bits) */
    unsigned int oas;       /* output width the unit supports; 0: the format's maximum */
    uint64_t pgsize_bitmap; /* leaf sizes the unit allows (VT-d SLLPS, ...); 0: all the format
                             * offers. Intersected with the format's sizes; must include the
                             * granule (4 KiB, or 16/64 KiB for those Arm formats) */
    uint32_t flags;         /* PGTABLE_CFG_* */
};

/* Page-table memory, supplied by the driver. */
struct pgtable_mem_ops {
    /* Zeroed, naturally aligned memory of `size` bytes (4096, or up to 16 pages for an Arm
     * stage-2 concatenated root). Returns the CPU pointer and stores in *pa the address the
     * IOMMU walker uses for it (a physical address; an IPA for nested stage-1 tables). */
    void *(*alloc)(void *ctx, size_t size, uint64_t *pa);
    /* Called only after the flush that made the page unreachable. */
    void (*free)(void *ctx, void *va, uint64_t pa, size_t size);
    /* The CPU pointer for a table address alloc returned. */
    void *(*phys_to_virt)(void *ctx, uint64_t pa);
    /* Write back CPU cache lines to memory; only called with PGTABLE_CFG_NONCOHERENT. */
    void (*clean)(void *ctx, const void *va, size_t len);
};

/* What changed and must be invalidated before the gathered table pages may be reused. */
#define PGTABLE_GATHER_RANGES 8
#define PGTABLE_GATHER_PAGES 32
struct pgtable_range {
    uint64_t start;
    uint64_t last; /* inclusive: a range may end at 2^64 - 1 */
};
struct pgtable_gathered_page {
    void *va;
    uint64_t pa;
    size_t size;
};
struct pgtable_gather {
    struct pgtable_range range[PGTABLE_GATHER_RANGES];
    unsigned int nr_ranges;
    bool leaf_only; /* only leaf entries changed: paging-structure caches may be kept */
    bool widen;     /* when the ranges are full, widen the nearest instead of flushing (a
                     * batch: pgtable_gather_init) */
    /* Set by the caller after pgtable_gather_init, for a window of slots whose tables stay
     * (pgtable_populate): */
    bool span;      /* every range merges into one, from the lowest address gathered to the
                     * highest: one invalidation for a batch of nearby changes */
    bool keep_tables; /* unmaps never unlink a table, even one whose whole span they clear */
    unsigned int nr_pages;
    struct pgtable_gathered_page pages[PGTABLE_GATHER_PAGES];
};

struct pgtable_flush_ops {
    /* Invalidate the IOTLB (and, unless g->leaf_only, paging-structure caches) for every range,
     * and wait for completion. The gathered pages are freed right after it returns. May be
     * called more than once per operation when the gather fills. Required. */
    void (*flush)(void *ctx, const struct pgtable_gather *g);
    /* After a successful map (units that cache non-present entries, e.g. VT-d caching mode).
     * Optional. */
    void (*map_sync)(void *ctx, uint64_t iova, uint64_t size);
};

struct pgtable_fmt_ops;

/* Embedded in the owner's object (HWPT, domain); fields are read-only to callers. */
struct pgtable {
    const struct pgtable_fmt_ops *ops;
    enum pgtable_fmt fmt;
    unsigned int levels;
    unsigned int ias;
    unsigned int oas;
    unsigned int granule_shift; /* log2 of the smallest page and of a table page */
    uint64_t granule;        /* addresses and sizes must be aligned to this */
    unsigned int root_bits;  /* index bits at the top level (more than a table holds:
                              * concatenated Arm s2 root) */
    uint32_t flags;
    uint64_t pgsize_bitmap;  /* effective leaf sizes */
    uint32_t leaf_levels;    /* bit L: leaves allowed at level L */
    uint64_t ia_last;        /* last valid IOVA */
    uint64_t oa_last;        /* last valid output address */
    void *root;
    uint64_t root_pa;
    size_t root_size;
    uint64_t nr_tables;      /* table pages currently allocated, root included */
    uint64_t *leaf_cache;    /* the level-0 table last walked to (NULL: none), so that maps and
                              * unmaps of neighbouring pages skip the walk; dropped whenever a
                              * table page is unlinked */
    uint64_t leaf_cache_tag; /* which: the iova bits above level 0's span */
    const struct pgtable_mem_ops *mem;
    void *mem_ctx;
    const struct pgtable_flush_ops *flush;
    void *flush_ctx;
};

/* The result of a translation. */
struct pgtable_xlate {
    uint64_t pa;
    uint64_t pgsize; /* size of the leaf (or for a nested walk, the smaller of the two leaves) */
    uint32_t prot;   /* PGTABLE_PROT_* the leaf grants (and PGTABLE_PROT_DIRTY) */
};

/* pgtable_unmap flags */
#define PGTABLE_UNMAP_SPLIT BIT(0) /* split a larger leaf the range cuts through */
/* pgtable_read_dirty flags */
#define PGTABLE_DIRTY_NO_CLEAR BIT(0) /* report only; leave the dirty state set */

/* Allocates the root and fills *pt. -EINVAL for an unknown format or a width/level/page-size
 * combination the format cannot express, -ENOMEM. */
int pgtable_init(struct pgtable *pt, const struct pgtable_cfg *cfg,
                 const struct pgtable_mem_ops *mem, void *mem_ctx,
                 const struct pgtable_flush_ops *flush, void *flush_ctx);
/* Frees every table page. The caller has detached the table from hardware and flushed. */
void pgtable_destroy(struct pgtable *pt);

/* Maps [iova, iova + size) to [pa, pa + size) using the largest leaves the alignment of both
 * and the allowed page sizes permit (granule leaves only with PGTABLE_PROT_SMALL). iova, pa and
 * size must be aligned to pt->granule. */
int pgtable_map(struct pgtable *pt, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot);
/* Unmaps [iova, iova + size), which must be entirely mapped; flushes, then frees table pages
 * whose whole span was unmapped. */
int pgtable_unmap(struct pgtable *pt, uint64_t iova, uint64_t size, uint32_t flags);
/* Batches: several unmaps, one invalidation. pgtable_unmap_gather is pgtable_unmap (same
 * checks, same errors, nothing changed on an error) except that what must be invalidated is
 * added to g instead of flushed: until pgtable_gather_sync(pt, g), the hardware may still
 * translate through the removed entries, so the caller must not reuse their IOVAs or free
 * the memory they pointed at before that. A full range list widens the nearest range (more
 * is invalidated, never less); a full page list still flushes early. One gather per table. */
void pgtable_gather_init(struct pgtable_gather *g);
int pgtable_unmap_gather(struct pgtable *pt, uint64_t iova, uint64_t size, uint32_t flags,
                         struct pgtable_gather *g);
void pgtable_gather_sync(struct pgtable *pt, struct pgtable_gather *g);

/* Allocates every table page that [iova, iova + size) needs for leaves of the smallest size,
 * without mapping anything: later maps there of that leaf size find their tables and only store
 * leaves, and unmaps through a keep_tables gather leave them in place (a window of slots).
 * Tables already there are kept; -EEXIST when part of the range is mapped; on any error the
 * table is unchanged. No invalidation: no translation changed (units that cache non-present
 * entries are invalidated by the leaf maps that follow, as for every map). */
int pgtable_populate(struct pgtable *pt, uint64_t iova, uint64_t size);

/* 0 and *out, or -ENOENT when nothing is mapped at iova, -ERANGE beyond the input width. */
int pgtable_translate(const struct pgtable *pt, uint64_t iova, struct pgtable_xlate *out);
/* Reports the dirty state of [iova, iova + size) into bitmap (bit i = the page at
 * iova + i * pgsize, pgsize a power of two >= the granule; iova and size aligned to it) and clears it
 * unless PGTABLE_DIRTY_NO_CLEAR. Set bits are ORed in; unmapped parts are skipped. A dirty leaf
 * larger than pgsize sets the bits of all its pages in the range (and is cleared whole). */
int pgtable_read_dirty(struct pgtable *pt, uint64_t iova, uint64_t size, uint64_t pgsize,
                       uint64_t *bitmap, uint32_t flags);

/* ---- Nested translation: stage-1 tables living in a stage-2 input address space ---- */

/* A caller-owned region from which stage-1 table pages are carved: CPU pointer `va` and
 * stage-2 input address `ipa` of its first byte, `size` bytes, all 4 KiB aligned. The region
 * must be mapped readable and writable in the stage-2 table the nested HWPT sits on. */
struct pgtable_nested_arena {
    void *va;
    uint64_t ipa;
    size_t size;
    size_t used;     /* bytes handed out so far (bump) */
    void *free_list; /* pages returned after their flush */
    const struct pgtable_mem_ops *clean_ops; /* optional: for clean() on non-coherent units */
    void *clean_ctx;
};

/* Builds a stage-1 table (PGTABLE_FMT_X86_64 or PGTABLE_FMT_ARM_S1) whose pages come from
 * `arena`: every table address it writes (root included) is an IPA, and cfg->oas defaults to
 * s2's input width. -EINVAL for another format, a misaligned or empty arena (or a bad cfg, as
 * pgtable_init), -EOVERFLOW/-ERANGE when the arena wraps or lies beyond s2's input width,
 * -ENOENT when some arena page is not mapped read/write in s2, -ENOMEM. */
int pgtable_nested_s1_init(struct pgtable *s1, const struct pgtable_cfg *cfg,
                           struct pgtable_nested_arena *arena, const struct pgtable *s2,
                           const struct pgtable_flush_ops *flush, void *flush_ctx);

/* A software two-stage walk, as the IOMMU does it: starting from s1's root IPA, every stage-1
 * table address is translated through s2 and read at the resulting physical address through
 * phys_to_virt; the stage-1 output is then translated through s2. out->prot is the
 * intersection of both stages' READ/WRITE, out->pgsize the smaller leaf. -ENOENT when either
 * stage has no translation, -EACCES when s2 does not let the walker read a stage-1 table,
 * -ERANGE beyond either input width. */
int pgtable_nested_translate(const struct pgtable *s1, const struct pgtable *s2, uint64_t iova,
                             void *(*phys_to_virt)(void *ctx, uint64_t pa), void *ctx,
                             struct pgtable_xlate *out);

#endif
