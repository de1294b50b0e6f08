/* The IOVA-area AVL tree (iova.h). Gaps are counted in bytes; a hole is the free space between
 * two neighbouring nodes. Every rotation, and every insert/remove step below which something
 * changed, recomputes the augmentation from the two children, so it stays exact. */
#include "iommu/core/iova.h"
#include "lib/log.h"

static int height(const struct iova_node *n)
{
    return n ? n->height : 0;
}

/* The hole between a (lower) and b (higher) neighbouring subtrees/nodes. */
static uint64_t hole(uint64_t a_last, uint64_t b_start)
{
    return b_start > a_last ? b_start - a_last - 1 : 0;
}

static void update(struct iova_node *n)
{
    struct iova_node *l = n->left, *r = n->right;
    n->height = 1 + MAX(height(l), height(r));
    n->sub_first = l ? l->sub_first : n->start;
    n->sub_last = r ? r->sub_last : n->last;
    uint64_t g = 0;
    if (l)
        g = MAX(MAX(g, l->max_gap), hole(l->sub_last, n->start));
    if (r)
        g = MAX(MAX(g, r->max_gap), hole(n->last, r->sub_first));
    n->max_gap = g;
}

static struct iova_node *rotate_right(struct iova_node *n)
{
    struct iova_node *l = n->left;
    n->left = l->right;
    l->right = n;
    update(n);
    update(l);
    return l;
}

static struct iova_node *rotate_left(struct iova_node *n)
{
    struct iova_node *r = n->right;
    n->right = r->left;
    r->left = n;
    update(n);
    update(r);
    return r;
}

static struct iova_node *balance(struct iova_node *n)
{
    update(n);
    int bf = height(n->left) - height(n->right);
    if (bf > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (bf < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

/* Rebalances n after a change below it. *changed: the subtree's height or augmentation moved
 * (a rotation keeps the span and the set of holes, so only they matter to the parent). When
 * a child reports no change, its parent has nothing to recompute, nor have the ancestors. */
static struct iova_node *rebalance(struct iova_node *n, bool *changed)
{
    int h = n->height;
    uint64_t first = n->sub_first, last = n->sub_last, gap = n->max_gap;
    struct iova_node *r = balance(n);
    *changed = r->height != h || r->sub_first != first || r->sub_last != last ||
               r->max_gap != gap;
    return r;
}

/* *pred and *succ end as the neighbours of n in address order. */
static struct iova_node *insert_at(struct iova_node *root, struct iova_node *n,
                                   struct iova_node **pred, struct iova_node **succ,
                                   bool *changed)
{
    if (!root) {
        *changed = true;
        return n;
    }
    if (n->start < root->start) {
        *succ = root;
        root->left = insert_at(root->left, n, pred, succ, changed);
    } else {
        *pred = root;
        root->right = insert_at(root->right, n, pred, succ, changed);
    }
    return *changed ? rebalance(root, changed) : root;
}

void iova_insert(struct iova_tree *t, struct iova_node *n)
{
    struct iova_node *pred = NULL, *succ = NULL;
    bool changed;
    MOAT_ASSERT(n->start <= n->last);
    n->left = n->right = NULL;
    update(n);
    t->root = insert_at(t->root, n, &pred, &succ, &changed);
    n->prev = pred;
    n->next = succ;
    if (pred)
        pred->next = n;
    if (succ)
        succ->prev = n;
    t->count++;
}

static struct iova_node *remove_min(struct iova_node *n, struct iova_node **min, bool *changed)
{
    if (!n->left) {
        *min = n;
        *changed = true;
        return n->right;
    }
    n->left = remove_min(n->left, min, changed);
    return *changed ? rebalance(n, changed) : n;
}

static struct iova_node *remove_at(struct iova_node *root, struct iova_node *n, bool *changed)
{
    MOAT_ASSERT(root);
    if (root == n) {
        *changed = true;
        if (!n->left || !n->right)
            return n->left ? n->left : n->right;
        struct iova_node *m;
        bool ignored;
        struct iova_node *r = remove_min(n->right, &m, &ignored);
        m->left = n->left;
        m->right = r;
        return balance(m);
    }
    if (n->start < root->start)
        root->left = remove_at(root->left, n, changed);
    else
        root->right = remove_at(root->right, n, changed);
    return *changed ? rebalance(root, changed) : root;
}

void iova_remove(struct iova_tree *t, struct iova_node *n)
{
    bool changed;
    t->root = remove_at(t->root, n, &changed);
    t->count--;
    if (n->prev)
        n->prev->next = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->left = n->right = n->prev = n->next = NULL;
}

struct iova_node *iova_first(const struct iova_tree *t, uint64_t start, uint64_t last)
{
    /* Nodes do not overlap, so ordering by start also orders by last: find the lowest node
     * whose last >= start, then check that it begins by `last`. */
    struct iova_node *n = t->root, *best = NULL;
    while (n) {
        if (n->last >= start) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best && best->start <= last ? best : NULL;
}

/* Clips the hole [gs, ge] to [lo, hi] and checks its size. */
static bool try_hole(uint64_t gs, uint64_t ge, uint64_t need, uint64_t lo, uint64_t hi,
                     uint64_t *s, uint64_t *e)
{
    gs = MAX(gs, lo);
    ge = MIN(ge, hi);
    if (gs > ge || ge - gs < need - 1)
        return false;
    *s = gs;
    *e = ge;
    return true;
}

/* In-order first fit. Subtrees whose span misses [lo, hi] or whose largest hole is too small
 * are skipped; a subtree wholly inside [lo, hi] with a big enough hole always succeeds, so
 * only the two boundary paths are walked partially: O(log n). */
static bool gap_in(const struct iova_node *n, uint64_t need, uint64_t lo, uint64_t hi,
                   uint64_t *s, uint64_t *e)
{
    if (!n || n->max_gap < need || n->sub_last < lo || n->sub_first > hi)
        return false;
    if (gap_in(n->left, need, lo, hi, s, e))
        return true;
    if (n->left && n->start > n->left->sub_last + 1 &&
        try_hole(n->left->sub_last + 1, n->start - 1, need, lo, hi, s, e))
        return true;
    if (n->right && n->right->sub_first > n->last + 1 &&
        try_hole(n->last + 1, n->right->sub_first - 1, need, lo, hi, s, e))
        return true;
    return gap_in(n->right, need, lo, hi, s, e);
}

bool iova_find_gap(const struct iova_tree *t, uint64_t need, uint64_t lo, uint64_t hi,
                   uint64_t *gap_start, uint64_t *gap_last)
{
    const struct iova_node *r = t->root;
    if (!need || lo > hi)
        return false;
    if (!r)
        return try_hole(0, UINT64_MAX, need, lo, hi, gap_start, gap_last);
    if (r->sub_first > 0 && try_hole(0, r->sub_first - 1, need, lo, hi, gap_start, gap_last))
        return true;
    if (gap_in(r, need, lo, hi, gap_start, gap_last))
        return true;
    return r->sub_last < UINT64_MAX &&
           try_hole(r->sub_last + 1, UINT64_MAX, need, lo, hi, gap_start, gap_last);
}
