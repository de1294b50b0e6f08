/* Nested translation: stage-1 tables (x86-64, Arm stage 1) built in an arena of stage-2 input
 * addresses, walked in software the way the IOMMU walks them, compared with composing the two
 * single-stage translations. */
#include <stdio.h>
#include <string.h>

#include "iommu/pgtable/pgtable.h"
#include "tests/host/harness.h"
#include "tests/host/pgtable/pt_test_util.h"

#define K4 PGTABLE_SZ_4K
#define M2 PGTABLE_SZ_2M
#define G1 PGTABLE_SZ_1G
#define R PGTABLE_PROT_READ
#define RW (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)

#define ARENA_IPA 0x80000000ULL
#define ARENA_PAGES 64
#define DATA_IPA 0x100000000ULL
#define DATA_PA 0x200000000ULL

static struct flush_log fl1, fl2;
static struct tmem tm;

struct nest {
    struct pgtable s1, s2;
    struct pgtable_nested_arena arena;
};

/* Stage 2 maps the arena (RW) and a 4 MiB data window (read-only); stage 1 is built inside. */
static bool nest_setup(struct nest *n, const struct pgtable_cfg *s1cfg,
                       const struct pgtable_cfg *s2cfg)
{
    uint64_t arena_pa;

    tmem_init(&tm, 1024);
    fl2.tm = &tm;
    flush_log_reset(&fl1);
    flush_log_reset(&fl2);
    if (pgtable_init(&n->s2, s2cfg, &tmem_ops, &tm, &flush_log_ops, &fl2))
        return false;
    /* Guest memory: contiguous simulated physical pages. */
    memset(&n->arena, 0, sizeof(n->arena));
    n->arena.va = tmem_ops.alloc(&tm, ARENA_PAGES * K4, &arena_pa);
    n->arena.ipa = ARENA_IPA;
    n->arena.size = ARENA_PAGES * K4;
    if (pgtable_map(&n->s2, ARENA_IPA, arena_pa, ARENA_PAGES * K4, RW))
        return false;
    if (pgtable_map(&n->s2, DATA_IPA, DATA_PA, 2 * M2, R))
        return false;
    return pgtable_nested_s1_init(&n->s1, s1cfg, &n->arena, &n->s2, &flush_log_ops, &fl1) == 0;
}

static void nest_teardown(struct nest *n)
{
    uint64_t arena_pa;
    struct pgtable_xlate x;

    pgtable_destroy(&n->s1);
    CHECK_EQ(pgtable_translate(&n->s2, ARENA_IPA, &x), 0);
    arena_pa = x.pa;
    tmem_ops.free(&tm, n->arena.va, arena_pa, ARENA_PAGES * K4);
    pgtable_destroy(&n->s2);
    CHECK_EQ(tm.live, 0);
    tmem_fini(&tm);
}

/* The nested walk agrees with stage 1 then stage 2 done separately. */
static void compare(struct nest *n, uint64_t iova)
{
    struct pgtable_xlate x1, x2, xn;
    int r1 = pgtable_translate(&n->s1, iova, &x1);
    int rn = pgtable_nested_translate(&n->s1, &n->s2, iova, tmem_p2v_any, &tm, &xn);

    if (r1) {
        CHECK_EQ(rn, r1);
        return;
    }
    int r2 = pgtable_translate(&n->s2, x1.pa, &x2);
    CHECK_EQ(rn, r2);
    if (r2)
        return;
    CHECK_EQ(xn.pa, x2.pa);
    CHECK_EQ(xn.pgsize, MIN(x1.pgsize, x2.pgsize));
    CHECK_EQ(xn.prot, x1.prot & x2.prot & RW);
}

static void nested_case(const struct pgtable_cfg *s1cfg, const struct pgtable_cfg *s2cfg)
{
    static struct nest n;
    struct pgtable_xlate x;

    REQUIRE(nest_setup(&n, s1cfg, s2cfg));
    /* Stage-1 table addresses are arena IPAs. */
    CHECK(n.s1.root_pa >= ARENA_IPA && n.s1.root_pa < ARENA_IPA + ARENA_PAGES * K4);
    CHECK_EQ(pgtable_map(&n.s1, 0x40000, DATA_IPA + 0x3000, 8 * K4, RW), 0);
    CHECK_EQ(pgtable_map(&n.s1, 4 * M2, DATA_IPA, 2 * M2, RW), 0);
    CHECK_EQ(pgtable_map(&n.s1, G1, ARENA_IPA, 16 * K4, R), 0);      /* stage 1 sees its tables */
    CHECK_EQ(pgtable_map(&n.s1, 2 * G1, 0x300000000ULL, K4, RW), 0); /* not mapped in stage 2 */
    for (uint64_t off = 0; off < 10 * K4; off += 0x800)
        compare(&n, 0x40000 + off);
    compare(&n, 4 * M2 + 0x1234);
    compare(&n, 6 * M2 - 8);
    compare(&n, G1 + 5 * K4 + 16);
    CHECK_EQ(pgtable_nested_translate(&n.s1, &n.s2, 0x40000, tmem_p2v_any, &tm, &x), 0);
    CHECK_EQ(x.pa, DATA_PA + 0x3000);
    CHECK_EQ(x.prot, R);                       /* stage 2 grants read only */
    CHECK_EQ(pgtable_nested_translate(&n.s1, &n.s2, 4 * M2 + 0x1234, tmem_p2v_any, &tm, &x), 0);
    CHECK_EQ(x.pgsize, M2);
    CHECK_EQ(x.pa, DATA_PA + 0x1234);
    CHECK_EQ(pgtable_nested_translate(&n.s1, &n.s2, 2 * G1, tmem_p2v_any, &tm, &x), -ENOENT);
    CHECK_EQ(pgtable_nested_translate(&n.s1, &n.s2, 3 * G1, tmem_p2v_any, &tm, &x), -ENOENT);

    /* Take the stage-1 root out of stage 2: the walk cannot even start. Write-only: it cannot
     * read it. */
    uint64_t root_ipa = n.s1.root_pa;
    CHECK_EQ(pgtable_translate(&n.s2, root_ipa, &x), 0);
    uint64_t root_pa = x.pa;
    CHECK_EQ(pgtable_unmap(&n.s2, root_ipa, K4, PGTABLE_UNMAP_SPLIT), 0);
    CHECK_EQ(pgtable_nested_translate(&n.s1, &n.s2, 0x40000, tmem_p2v_any, &tm, &x), -ENOENT);
    if (n.s2.fmt == PGTABLE_FMT_VTD_SS || n.s2.fmt == PGTABLE_FMT_ARM_S2) {
        CHECK_EQ(pgtable_map(&n.s2, root_ipa, root_pa, K4, PGTABLE_PROT_WRITE), 0);
        CHECK_EQ(pgtable_nested_translate(&n.s1, &n.s2, 0x40000, tmem_p2v_any, &tm, &x), -EACCES);
        CHECK_EQ(pgtable_unmap(&n.s2, root_ipa, K4, 0), 0);
    }
    CHECK_EQ(pgtable_map(&n.s2, root_ipa, root_pa, K4, RW), 0);
    compare(&n, 0x40000);

    /* Unmapping in stage 1 frees arena pages back to the arena, after the flush. */
    flush_log_reset(&fl1);
    CHECK_EQ(pgtable_unmap(&n.s1, 0x40000, 8 * K4, 0), 0);
    CHECK_EQ(pgtable_unmap(&n.s1, 4 * M2, 2 * M2, 0), 0);
    CHECK(fl1.calls >= 2);
    CHECK_EQ(pgtable_nested_translate(&n.s1, &n.s2, 0x40000, tmem_p2v_any, &tm, &x), -ENOENT);
    CHECK_EQ(pgtable_map(&n.s1, 0x40000, DATA_IPA, 8 * K4, RW), 0);
    compare(&n, 0x40000);
    nest_teardown(&n);
}

TEST(nested_x86_over_vtd)
{
    struct pgtable_cfg s1 = { .fmt = PGTABLE_FMT_X86_64 }, s2 = { .fmt = PGTABLE_FMT_VTD_SS };
    nested_case(&s1, &s2);
    s1.levels = 5;
    s2.levels = 5;
    nested_case(&s1, &s2);
}

TEST(nested_arm)
{
    struct pgtable_cfg s1 = { .fmt = PGTABLE_FMT_ARM_S1 }, s2 = { .fmt = PGTABLE_FMT_ARM_S2 };
    nested_case(&s1, &s2);
    s1.ias = 39;
    s2.ias = 40; /* concatenated stage-2 root */
    nested_case(&s1, &s2);
}

TEST(nested_x86_over_amd)
{
    struct pgtable_cfg s1 = { .fmt = PGTABLE_FMT_X86_64 }, s2 = { .fmt = PGTABLE_FMT_AMD_V1 };
    nested_case(&s1, &s2);
}

TEST(nested_init_checks)
{
    static struct nest n;
    struct pgtable_cfg s1 = { .fmt = PGTABLE_FMT_X86_64 }, s2 = { .fmt = PGTABLE_FMT_VTD_SS };
    struct pgtable_cfg bad = { .fmt = PGTABLE_FMT_VTD_SS };
    struct pgtable other;
    struct pgtable_nested_arena a;

    REQUIRE(nest_setup(&n, &s1, &s2));
    a = n.arena;
    CHECK_EQ(pgtable_nested_s1_init(&other, &bad, &a, &n.s2, &flush_log_ops, &fl1), -EINVAL);
    a.ipa = 0x50000000; /* not mapped in stage 2 */
    CHECK_EQ(pgtable_nested_s1_init(&other, &s1, &a, &n.s2, &flush_log_ops, &fl1), -ENOENT);
    a.ipa = DATA_IPA;   /* mapped read-only */
    a.size = K4;
    CHECK_EQ(pgtable_nested_s1_init(&other, &s1, &a, &n.s2, &flush_log_ops, &fl1), -ENOENT);
    a.ipa = ARENA_IPA + 0x800;
    CHECK_EQ(pgtable_nested_s1_init(&other, &s1, &a, &n.s2, &flush_log_ops, &fl1), -EINVAL);
    a.ipa = n.s2.ia_last - K4 + 1;
    a.size = 2 * K4;
    CHECK_EQ(pgtable_nested_s1_init(&other, &s1, &a, &n.s2, &flush_log_ops, &fl1), -ERANGE);
    nest_teardown(&n);
}
