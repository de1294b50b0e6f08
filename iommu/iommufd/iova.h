/* The IOVA-area structure: an AVL tree of non-overlapping closed intervals [start, last], each
 * node augmented with its subtree's largest free gap, so that overlap lookups and first-fit
 * gap searches are O(log n). The nodes are also linked in address order: walking a range
 * costs one descent, then one step per node, and a node's neighbours give the holes beside
 * it (a subtree's span needs no augmentation of its own). Generic translation layer: no
 * objects, no validation of untrusted input. */
#ifndef MOAT_IOMMU_CORE_IOVA_H
#define MOAT_IOMMU_CORE_IOVA_H

#include "lib/compiler.h"

enum iova_kind {
    IOVA_AREA,      /* a mapping (struct ioas_area) */
    IOVA_CACHED,    /* a freed range kept for reuse: free to everyone else */
    IOVA_RESV,      /* merged reserved ranges */
};

struct iova_node {
    struct iova_node *left, *right;
    struct iova_node *prev, *next;  /* in address order, while in a tree */
    uint64_t start, last;
    uint64_t max_gap;               /* largest hole between two nodes of the subtree */
    int height;
    uint8_t kind;
    struct iova_node *cnext, *cprev;    /* IOVA_CACHED: the size class's list */
};

struct iova_tree {
    struct iova_node *root;
    struct iova_node *lowest, *highest;
    struct iova_node *near;         /* NULL, or where lookups start (iova_first_near) */
    uint64_t count;
};

void iova_insert(struct iova_tree *t, struct iova_node *n);
void iova_remove(struct iova_tree *t, struct iova_node *n);
/* The lowest node intersecting [start, last], or NULL. */
struct iova_node *iova_first(const struct iova_tree *t, uint64_t start, uint64_t last);
/* iova_first, given below, a node of the tree wholly below start: a few steps forward from
 * it when the range is near (ranges handed in address order), else a descent. */
struct iova_node *iova_first_after(const struct iova_tree *t, const struct iova_node *below,
                                   uint64_t start, uint64_t last);
/* iova_first, starting from t->near (set by the user, cleared when that node is removed) when
 * it lies below start: consecutive ranges (a driver's buffers) are found in a step. */
static inline struct iova_node *iova_first_near(const struct iova_tree *t, uint64_t start,
                                                uint64_t last)
{
    if (t->near && t->near->last < start)
        return iova_first_after(t, t->near, start, last);
    return iova_first(t, start, last);
}

/* The node after n intersecting [.., last], or NULL: O(1). */
static inline struct iova_node *iova_next(const struct iova_tree *t, const struct iova_node *n,
                                          uint64_t last)
{
    struct iova_node *x = n->next;
    (void)t;
    return x && x->start <= last ? x : NULL;
}
/* The lowest hole of at least `need` bytes (need >= 1) inside [lo, hi], clipped to it. */
bool iova_find_gap(const struct iova_tree *t, uint64_t need, uint64_t lo, uint64_t hi,
                   uint64_t *gap_start, uint64_t *gap_last);

#endif
