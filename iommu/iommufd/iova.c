/* The IOVA-area AVL tree (iova.h). Gaps are counted in bytes; a hole is the free space between
 * two neighbouring nodes. A node with a left child counts the hole before it (its predecessor
 * is in that subtree), one with a right child the hole after it: each hole is counted by
 * exactly one node, whichever of its two ends is the other's ancestor. Every rotation, and
 * every insert/remove step below which something changed, recomputes the augmentation from
 * the two children, so it stays exact. */
#include "iommu/iommufd/iova.h"
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

/* Needs n's address-order links to be current. */
static void update(struct iova_node *n)
{
    struct iova_node *l = n->left, *r = n->right;
    n->height = 1 + MAX(height(l), height(r));
    uint64_t g = 0;
    if (l)
        g = MAX(l->max_gap, hole(n->prev->last, n->start));
    if (r)
        g = MAX(MAX(g, r->max_gap), hole(n->last, n->next->start));
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

/* Rebalances n after a change below it. *changed: the subtree's height or largest hole moved
 * (a rotation keeps the set of holes, so only they matter to the parent). */
static struct iova_node *rebalance(struct iova_node *n, bool *changed)
{
    int h = n->height;
    uint64_t gap = n->max_gap;
    struct iova_node *r = balance(n);
    *changed = r->height != h || r->max_gap != gap;
    return r;
}

/* The ends of the hole a node goes into or leaves: the nodes whose hole beside it moved. */
struct iova_ends {
    struct iova_node *prev, *next;
};

/* Recomputing stops at the first node whose subtree is unchanged, unless it is an end of the
 * changed hole: an end counts that hole itself and is an ancestor of the change (it is the
 * node's parent, or the node's neighbour on the other side of the subtree it hangs in). */
static bool must_update(const struct iova_node *n, const struct iova_ends *e, bool changed)
{
    return changed || n == e->prev || n == e->next;
}

static struct iova_node *insert_at(struct iova_tree *t, struct iova_node *root,
                                   struct iova_node *n, struct iova_ends *e, bool *changed)
{
    if (!root) {
        /* The descent is over: the neighbours are known, link before recomputing. */
        n->prev = e->prev;
        n->next = e->next;
        *(e->prev ? &e->prev->next : &t->lowest) = n;
        *(e->next ? &e->next->prev : &t->highest) = n;
        *changed = true;
        return n;
    }
    if (n->start < root->start) {
        e->next = root;
        root->left = insert_at(t, root->left, n, e, changed);
    } else {
        e->prev = root;
        root->right = insert_at(t, root->right, n, e, changed);
    }
    return must_update(root, e, *changed) ? rebalance(root, changed) : root;
}

void iova_insert(struct iova_tree *t, struct iova_node *n)
{
    struct iova_ends e = { NULL, NULL };
    bool changed;
    MOAT_ASSERT(n->start <= n->last);
    n->left = n->right = NULL;
    n->height = 1;
    n->max_gap = 0;
    t->root = insert_at(t, t->root, n, &e, &changed);
    t->count++;
}

static struct iova_node *remove_min(struct iova_node *n, struct iova_node **min,
                                    const struct iova_ends *e, bool *changed)
{
    if (!n->left) {
        *min = n;
        *changed = true;
        return n->right;
    }
    n->left = remove_min(n->left, min, e, changed);
    return must_update(n, e, *changed) ? rebalance(n, changed) : n;
}

static struct iova_node *remove_at(struct iova_node *root, struct iova_node *n,
                                   const struct iova_ends *e, bool *changed)
{
    MOAT_ASSERT(root);
    if (root == n) {
        *changed = true;
        if (!n->left || !n->right)
            return n->left ? n->left : n->right;
        struct iova_node *m;
        bool below;
        struct iova_node *r = remove_min(n->right, &m, e, &below);
        m->left = n->left;
        m->right = r;
        return balance(m);
    }
    if (n->start < root->start)
        root->left = remove_at(root->left, n, e, changed);
    else
        root->right = remove_at(root->right, n, e, changed);
    return must_update(root, e, *changed) ? rebalance(root, changed) : root;
}

void iova_remove(struct iova_tree *t, struct iova_node *n)
{
    struct iova_ends e = { n->prev, n->next };
    bool changed;
    if (t->near == n)
        t->near = NULL;
    /* Unlinked first: the nodes recomputed below see the merged hole. */
    *(e.prev ? &e.prev->next : &t->lowest) = e.next;
    *(e.next ? &e.next->prev : &t->highest) = e.prev;
    t->root = remove_at(t->root, n, &e, &changed);
    t->count--;
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

struct iova_node *iova_first_after(const struct iova_tree *t, const struct iova_node *below,
                                   uint64_t start, uint64_t last)
{
    struct iova_node *n = below->next;
    MOAT_ASSERT(below->last < start);
    for (int step = 0; step < 4 && n; step++, n = n->next)
        if (n->last >= start)
            return n->start <= last ? n : NULL;
    return n ? iova_first(t, start, last) : NULL;
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

/* A first-fit search's bounds. */
struct gap_query {
    uint64_t need, lo, hi;
    uint64_t *s, *e;
};

/* In-order first fit in the subtree of n, whose lowest node is first and highest last (the
 * neighbours of the subtree outside it give them). Subtrees whose span misses [lo, hi] or
 * whose largest hole is too small are skipped; a subtree wholly inside [lo, hi] with a big
 * enough hole always succeeds, so only the two boundary paths are walked partially:
 * O(log n). */
static bool gap_in(const struct iova_node *n, const struct iova_node *first,
                   const struct iova_node *last, const struct gap_query *q)
{
    if (!n || n->max_gap < q->need || last->last < q->lo || first->start > q->hi)
        return false;
    if (gap_in(n->left, first, n->prev, q))
        return true;
    if (n->left && n->start > n->prev->last + 1 &&
        try_hole(n->prev->last + 1, n->start - 1, q->need, q->lo, q->hi, q->s, q->e))
        return true;
    if (n->right && n->next->start > n->last + 1 &&
        try_hole(n->last + 1, n->next->start - 1, q->need, q->lo, q->hi, q->s, q->e))
        return true;
    return gap_in(n->right, n->next, last, q);
}

bool iova_find_gap(const struct iova_tree *t, uint64_t need, uint64_t lo, uint64_t hi,
                   uint64_t *gap_start, uint64_t *gap_last)
{
    const struct iova_node *r = t->root;
    const struct gap_query q = { need, lo, hi, gap_start, gap_last };
    if (!need || lo > hi)
        return false;
    if (!r)
        return try_hole(0, UINT64_MAX, need, lo, hi, gap_start, gap_last);
    if (t->lowest->start > 0 &&
        try_hole(0, t->lowest->start - 1, need, lo, hi, gap_start, gap_last))
        return true;
    if (gap_in(r, t->lowest, t->highest, &q))
        return true;
    return t->highest->last < UINT64_MAX &&
           try_hole(t->highest->last + 1, UINT64_MAX, need, lo, hi, gap_start, gap_last);
}
