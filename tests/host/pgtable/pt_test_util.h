/* Test support for the page-table tests: a simulated physical memory that table pages come
 * from (with fail-the-Nth-allocation, leak and use-after-free checks), a strict flush recorder,
 * snapshots for "nothing changed" checks, and a shadow of what reached memory for non-coherent
 * walkers. */
#ifndef MOAT_TESTS_HOST_PGTABLE_PT_TEST_UTIL_H
#define MOAT_TESTS_HOST_PGTABLE_PT_TEST_UTIL_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#include "iommu/pgtable/pgtable.h"

#define TMEM_PA_BASE 0x40000000ULL /* where the simulated table memory sits */
#define TMEM_MULTI_MIN 256 /* the first max(this, npages / 2) pages serve allocations > 4 KiB */

struct tmem {
    uint8_t *mem;          /* npages * 4096, 64 KiB aligned */
    uint8_t *shadow;       /* what a non-coherent walker sees: updated only by clean() */
    uint8_t *state;        /* per page: 0 free, 1 allocated (first page of an allocation), 2 tail */
    uint32_t *free_stack;
    uint64_t npages, nfree, multi_next, multi_pages;
    uint32_t *multi_free[8]; /* freed allocations of 8 KiB << i, by first page */
    uint32_t multi_nfree[8];
    uint64_t nr_allocs;    /* successful and failed allocation calls */
    uint64_t fail_at;      /* 1-based allocation call that fails; 0: none */
    int64_t live;          /* pages currently allocated */
    int64_t peak;
    uint64_t cleans;
};

struct flush_log {
    struct tmem *tm;
    unsigned int calls;
    unsigned int nr;                 /* ranges recorded since last reset */
    struct pgtable_range ranges[4096];
    bool all_leaf_only;
    unsigned int pages;              /* table pages handed to flushes */
    unsigned int map_syncs;
    uint64_t sync_iova, sync_size;
};

void tmem_init(struct tmem *tm, uint64_t npages);
void tmem_fini(struct tmem *tm);
/* Back to the state after tmem_init (every page must be free). */
void tmem_reset(struct tmem *tm);
void *tmem_p2v_any(void *ctx, uint64_t pa); /* no allocation check: for nested reads */
extern const struct pgtable_mem_ops tmem_ops;
extern const struct pgtable_mem_ops tmem_ops_noncoherent;
extern const struct pgtable_flush_ops flush_log_ops;

void flush_log_reset(struct flush_log *fl);
/* The union of the recorded ranges is exactly [start, last]. */
bool flush_log_covers_exactly(const struct flush_log *fl, uint64_t start, uint64_t last);

/* A copy of every allocated page (and which pages are allocated), to compare later. */
struct tmem_snap {
    uint8_t *state;
    uint8_t *pages;
};
void tmem_snap_take(const struct tmem *tm, struct tmem_snap *s);
bool tmem_snap_same(const struct tmem *tm, const struct tmem_snap *s);
void tmem_snap_free(struct tmem_snap *s);
/* Every allocated page's shadow equals its contents: all writes were cleaned. */
bool tmem_shadow_same(const struct tmem *tm);

/* The leaf entry for iova (simulating hardware that sets dirty state), NULL if unmapped. */
uint64_t *pt_test_leaf(const struct pgtable *pt, uint64_t iova, unsigned int *level);
/* Sets the format's hardware dirty state on the leaf for iova. */
void pt_test_set_dirty(const struct pgtable *pt, uint64_t iova);

const char *pt_fmt_name(enum pgtable_fmt fmt);
/* What pgtable_translate reports for a leaf mapped with prot in this format. */
uint32_t pt_test_prot_stored(enum pgtable_fmt fmt, uint32_t prot);
uint64_t pt_rand(void);
void pt_srand(uint64_t seed);

#endif
