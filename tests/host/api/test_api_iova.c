/* The IOVA tree against a brute-force model: random inserts and removes of non-overlapping
 * intervals, then overlap lookups and first-fit gap searches (with bounds) compared. */
#include <stdlib.h>

#include "iommu/iommufd/iova.h"
#include "tests/host/harness.h"

#define SLOTS 512       /* the model: slot i is [i * 64 + off, i * 64 + off + len - 1] */

static struct iova_node nodes[SLOTS];
static bool used[SLOTS];
static uint64_t seed = 12345;

static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

/* Lowest hole of at least need bytes in [lo, hi], by scanning the model. */
static bool model_gap(uint64_t need, uint64_t lo, uint64_t hi, uint64_t *s, uint64_t *e)
{
    uint64_t cur = 0;   /* first free address after the previous node */
    for (int i = 0; i <= SLOTS; i++) {
        uint64_t hs = cur, he = i < SLOTS ? 0 : UINT64_MAX;
        if (i < SLOTS) {
            if (!used[i])
                continue;
            if (nodes[i].start == 0) {
                cur = nodes[i].last + 1;
                continue;
            }
            he = nodes[i].start - 1;
            cur = nodes[i].last + 1;
            if (hs > he)
                continue;
        }
        uint64_t a = hs > lo ? hs : lo, b = he < hi ? he : hi;
        if (a <= b && b - a >= need - 1) {
            *s = a;
            *e = b;
            return true;
        }
    }
    return false;
}

/* Recomputes heights and largest holes from scratch (the holes from the node ranges, not
 * from the links); they must equal what the tree keeps (the early stop of rebalancing must
 * not leave a stale ancestor) and the tree must be balanced. */
static bool tree_exact(const struct iova_node *n, int *h, uint64_t *first, uint64_t *last,
                       uint64_t *gap)
{
    int hl = 0, hr = 0;
    uint64_t fl = 0, ll = 0, gl = 0, fr = 0, lr = 0, gr = 0;
    if (!n) {
        *h = 0;
        return true;
    }
    if (!tree_exact(n->left, &hl, &fl, &ll, &gl) || !tree_exact(n->right, &hr, &fr, &lr, &gr))
        return false;
    *h = 1 + (hl > hr ? hl : hr);
    *first = n->left ? fl : n->start;
    *last = n->right ? lr : n->last;
    *gap = gl > gr ? gl : gr;
    if (n->left && n->start - ll - 1 > *gap)
        *gap = n->start - ll - 1;
    if (n->right && fr - n->last - 1 > *gap)
        *gap = fr - n->last - 1;
    return n->height == *h && n->max_gap == *gap && hl - hr <= 1 && hr - hl <= 1;
}

/* The address-order links visit exactly the used nodes, in order, both ways. */
static bool links_exact(const struct iova_tree *t)
{
    const struct iova_node *prev = NULL, *n = iova_first(t, 0, UINT64_MAX);
    for (int k = 0; k < SLOTS; k++) {
        if (!used[k])
            continue;
        if (n != &nodes[k] || n->prev != prev)
            return false;
        prev = n;
        n = n->next;
    }
    return n == NULL && t->highest == prev && t->lowest == iova_first(t, 0, UINT64_MAX);
}

TEST(iova_tree_matches_model)
{
    struct iova_tree t = { 0 };
    for (int step = 0; step < 20000; step++) {
        int i = (int)(rnd() % SLOTS);
        if (used[i]) {
            iova_remove(&t, &nodes[i]);
            used[i] = false;
        } else {
            uint64_t off = rnd() % 32, len = 1 + rnd() % (64 - off);
            nodes[i] = (struct iova_node){ .start = i * 64ULL + off,
                                           .last = i * 64ULL + off + len - 1 };
            iova_insert(&t, &nodes[i]);
            used[i] = true;
        }
        uint64_t q = rnd() % (SLOTS * 64), ql = q + rnd() % 200;
        struct iova_node *f = iova_first(&t, q, ql), *want = NULL;
        for (int k = 0; k < SLOTS && !want; k++)
            if (used[k] && nodes[k].last >= q && nodes[k].start <= ql)
                want = &nodes[k];
        CHECK(f == want);
        /* The same from a remembered node (cleared when removed), and from any node below. */
        if (step % 3 == 0)
            t.near = used[i] ? &nodes[i] : NULL;
        CHECK(iova_first_near(&t, q, ql) == want);
        for (int k = (int)(q / 64) - 1; k >= 0 && k >= (int)(q / 64) - 8; k--)
            if (used[k] && nodes[k].last < q)
                CHECK(iova_first_after(&t, &nodes[k], q, ql) == want);
        if (f) {
            struct iova_node *n = iova_next(&t, f, UINT64_MAX), *wn = NULL;
            for (int k = (int)(f - nodes) + 1; k < SLOTS && !wn; k++)
                if (used[k])
                    wn = &nodes[k];
            CHECK(n == wn);
        }
        uint64_t need = 1 + rnd() % 150, lo = rnd() % (SLOTS * 64), hi = lo + rnd() % 4000;
        if (step % 7 == 0)
            hi = UINT64_MAX;
        uint64_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
        bool g1 = iova_find_gap(&t, need, lo, hi, &s1, &e1);
        bool g2 = model_gap(need, lo, hi, &s2, &e2);
        CHECK_EQ(g1, g2);
        if (g1 && g2) {
            CHECK_EQ(s1, s2);
            CHECK_EQ(e1, e2);
        }
        int th;
        uint64_t tf, tl, tg;
        CHECK(tree_exact(t.root, &th, &tf, &tl, &tg));
        CHECK(links_exact(&t));
        if (host_test_failures)
            return;
    }
    int h = t.root ? t.root->height : 0;
    CHECK(h <= 14);     /* balanced: 1.44 log2(512) */
}
