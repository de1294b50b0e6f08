/* Sweep: every format x level count x allowed page-size set. Empty tables translate nothing;
 * maps translate back with the expected leaf size; overlaps are refused; unmap, remap; the last
 * page of the address space; and every bad input leaves the table byte-for-byte unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/pgtable/pgtable.h"
#include "tests/host/harness.h"
#include "tests/host/pgtable/pt_test_util.h"

#define K4 PGTABLE_SZ_4K
#define M2 PGTABLE_SZ_2M
#define G1 PGTABLE_SZ_1G
/* The table under test's granule and level-1 leaf size (4 KiB/2 MiB, 16 KiB/32 MiB, ...). */
static uint64_t GR, L1;

static struct flush_log fl;

struct sweep {
    struct tmem tm;
    struct pgtable pt;
    char name[96];
};

/* The leaf a map of `size` at S-aligned iova/pa should get: the largest allowed size <= S. */
static uint64_t expect_leaf(const struct pgtable *pt, uint64_t s)
{
    while (!(pt->pgsize_bitmap & s))
        s >>= pt->granule_shift - 3;
    return s;
}

static void check_xlate(struct sweep *s, uint64_t iova, uint64_t pa, uint64_t leaf, uint32_t prot)
{
    struct pgtable_xlate x;
    int ret = pgtable_translate(&s->pt, iova, &x);

    if (ret || x.pa != pa || x.pgsize != leaf || x.prot != prot)
        printf("    %s: iova 0x%llx -> ret %d pa 0x%llx size 0x%llx prot 0x%x (want 0x%llx/0x%llx/0x%x)\n",
               s->name, (unsigned long long)iova, ret, (unsigned long long)x.pa,
               (unsigned long long)x.pgsize, x.prot, (unsigned long long)pa,
               (unsigned long long)leaf, prot);
    CHECK_EQ(ret, 0);
    CHECK_EQ(x.pa, pa);
    CHECK_EQ(x.pgsize, leaf);
    CHECK_EQ(x.prot, prot);
}

static uint32_t stored(const struct pgtable *pt, uint32_t prot)
{
    return pt_test_prot_stored(pt->fmt, prot);
}

/* Maps [iova, +size) at pa, translates it back at its first, middle and last page, refuses an
 * overlapping map, unmaps (gathering exactly that range), remaps and unmaps again. */
static void map_cycle(struct sweep *s, uint64_t iova, uint64_t pa, uint64_t size, uint64_t leaf)
{
    const uint32_t prot = PGTABLE_PROT_READ | PGTABLE_PROT_WRITE | PGTABLE_PROT_SNOOP;
    struct tmem_snap snap;

    CHECK_EQ(pgtable_map(&s->pt, iova, pa, size, prot), 0);
    check_xlate(s, iova, pa, leaf, stored(&s->pt, prot));
    check_xlate(s, iova + size / 2 + 0x123, pa + size / 2 + 0x123, leaf, stored(&s->pt, prot));
    check_xlate(s, iova + size - 8, pa + size - 8, leaf, stored(&s->pt, prot));

    tmem_snap_take(&s->tm, &snap);
    flush_log_reset(&fl);
    CHECK_EQ(pgtable_map(&s->pt, iova, pa, GR, PGTABLE_PROT_READ), -EEXIST);
    CHECK_EQ(pgtable_map(&s->pt, iova + size - GR, 0, GR,
                         PGTABLE_PROT_READ), -EEXIST);
    CHECK(tmem_snap_same(&s->tm, &snap));
    CHECK_EQ(fl.calls + fl.map_syncs, 0);
    tmem_snap_free(&snap);

    flush_log_reset(&fl);
    CHECK_EQ(pgtable_unmap(&s->pt, iova, size, 0), 0);
    CHECK(flush_log_covers_exactly(&fl, iova, iova + size - 1));
    struct pgtable_xlate x;
    CHECK_EQ(pgtable_translate(&s->pt, iova, &x), -ENOENT);
    CHECK_EQ(pgtable_translate(&s->pt, iova + size - GR, &x), -ENOENT);
    flush_log_reset(&fl);
    CHECK_EQ(pgtable_map(&s->pt, iova, pa, size, PGTABLE_PROT_READ), 0);
    CHECK_EQ(fl.map_syncs, 1);
    CHECK_EQ(fl.sync_iova, iova);
    CHECK_EQ(fl.sync_size, size);
    check_xlate(s, iova, pa, leaf, stored(&s->pt, PGTABLE_PROT_READ));
    CHECK_EQ(pgtable_unmap(&s->pt, iova, size, 0), 0);
}

/* One bad call: the given errno, no flush, no sync, and the table unchanged to the byte. */
#define BAD(s, call, err)                                                       \
    do {                                                                        \
        struct tmem_snap _snap;                                                 \
        tmem_snap_take(&(s)->tm, &_snap);                                       \
        flush_log_reset(&fl);                                                   \
        int _r = (call);                                                        \
        if (_r != (err))                                                        \
            printf("    %s: %s\n", (s)->name, #call);                          \
        CHECK_EQ(_r, err);                                                      \
        CHECK(tmem_snap_same(&(s)->tm, &_snap));                                \
        CHECK_EQ(fl.calls + fl.map_syncs, 0);                                   \
        tmem_snap_free(&_snap);                                                 \
    } while (0)

static void bad_inputs(struct sweep *s, uint64_t iova, uint64_t size)
{
    struct pgtable *pt = &s->pt;
    const uint32_t R = PGTABLE_PROT_READ;
    const uint64_t top_page = ~0ULL & ~(GR - 1), pa = BIT(32);
    uint64_t bm[4] = { 0 };
    struct pgtable_xlate x;

    BAD(s, pgtable_map(pt, 0x800, pa, GR, R), -EINVAL);
    BAD(s, pgtable_map(pt, 0, pa + 0x10, GR, R), -EINVAL);
    BAD(s, pgtable_map(pt, 0, pa, 0x1800, R), -EINVAL);
    BAD(s, pgtable_map(pt, 0, pa, 0, R), -EINVAL);
    BAD(s, pgtable_map(pt, top_page, pa, 2 * GR, R), -EOVERFLOW);
    BAD(s, pgtable_map(pt, 0, top_page, 2 * GR, R), -EOVERFLOW);
    BAD(s, pgtable_map(pt, 0, pt->oa_last + 1, GR, R), -ERANGE);
    if (pt->ia_last != ~0ULL) {
        BAD(s, pgtable_map(pt, pt->ia_last + 1, pa, GR, R), -ERANGE);
        BAD(s, pgtable_map(pt, pt->ia_last - GR + 1, pa, 2 * GR, R), -ERANGE);
        BAD(s, pgtable_unmap(pt, pt->ia_last + 1, GR, 0), -ERANGE);
        BAD(s, pgtable_translate(pt, pt->ia_last + 1, &x), -ERANGE);
    }
    BAD(s, pgtable_map(pt, 0, pa, GR, 0), -EINVAL);
    BAD(s, pgtable_map(pt, 0, pa, GR, BIT(7)), -EINVAL);
    BAD(s, pgtable_map(pt, 0, pa, GR, R | PGTABLE_PROT_SNOOP | PGTABLE_PROT_MMIO), -EINVAL);
    if (pt->fmt == PGTABLE_FMT_X86_64 || pt->fmt == PGTABLE_FMT_ARM_S1)
        BAD(s, pgtable_map(pt, 0, pa, GR, PGTABLE_PROT_WRITE), -EINVAL);
    /* Overlapping the live mapping at [iova, iova + size) from either side. */
    if (iova >= GR)
        BAD(s, pgtable_map(pt, iova - GR, pa, 2 * GR, R), -EEXIST);
    BAD(s, pgtable_map(pt, iova + size - GR, pa, 2 * GR, R), -EEXIST);
    BAD(s, pgtable_unmap(pt, iova + size, GR, 0), -ENOENT);
    BAD(s, pgtable_unmap(pt, iova, size + GR, 0), -ENOENT);
    if (pgtable_translate(pt, iova, &x) == 0 && x.pgsize > GR)
        BAD(s, pgtable_unmap(pt, iova, GR, 0), -PGTABLE_ESPLIT);
    BAD(s, pgtable_unmap(pt, iova, size, 2), -EINVAL);
    BAD(s, pgtable_unmap(pt, iova + 0x10, GR, 0), -EINVAL);
    BAD(s, pgtable_unmap(pt, iova, 0, 0), -EINVAL);
    BAD(s, pgtable_unmap(pt, top_page, 2 * GR, 0), -EOVERFLOW);
    BAD(s, pgtable_read_dirty(pt, iova, size, 0x1000 + 1, bm, 0), -EINVAL);
    BAD(s, pgtable_read_dirty(pt, iova, size, GR, bm, 4), -EINVAL);
    BAD(s, pgtable_read_dirty(pt, iova, size, GR, NULL, 0), -EINVAL);
}

static void sweep_one(const struct pgtable_cfg *cfg)
{
    static struct sweep s;
    uint64_t span;

    tmem_init(&s.tm, 1400);
    fl.tm = &s.tm;
    int ret = pgtable_init(&s.pt, cfg, &tmem_ops, &s.tm, &flush_log_ops, &fl);
    snprintf(s.name, sizeof(s.name), "%s levels %u ias %u pgsizes 0x%llx",
             pt_fmt_name(cfg->fmt), cfg->levels, cfg->ias, (unsigned long long)cfg->pgsize_bitmap);
    if (ret)
        printf("    %s: init %d\n", s.name, ret);
    REQUIRE(ret == 0);
    GR = s.pt.granule;
    L1 = GR << (s.pt.granule_shift - 3);
    span = s.pt.ia_last;
    struct pgtable_xlate x;
    CHECK_EQ(pgtable_translate(&s.pt, 0, &x), -ENOENT);
    CHECK_EQ(pgtable_translate(&s.pt, span & ~(GR - 1), &x), -ENOENT);
    CHECK_EQ(pgtable_translate(&s.pt, span / 3, &x), -ENOENT);

    /* One map of each size the space can hold, iova and pa aligned to it. */
    for (uint64_t sz = GR; sz <= G1 && sz <= span / 4; sz <<= s.pt.granule_shift - 3)
        map_cycle(&s, 2 * sz, BIT(32) + 4 * sz, sz, expect_leaf(&s.pt, sz));
    /* pa misaligned to 2 MiB: only 4 KiB leaves fit. */
    if (span / 4 >= L1)
        map_cycle(&s, 2 * L1, BIT(32) + GR, L1, GR);
    /* PGTABLE_PROT_SMALL: the same aligned span in granule leaves; translate omits the flag. */
    if (span / 4 >= L1) {
        const uint32_t small = PGTABLE_PROT_READ | PGTABLE_PROT_SMALL;
        CHECK_EQ(pgtable_map(&s.pt, 2 * L1, BIT(32), L1, small), 0);
        check_xlate(&s, 2 * L1, BIT(32), GR, stored(&s.pt, PGTABLE_PROT_READ));
        check_xlate(&s, 3 * L1 - GR, BIT(32) + L1 - GR, GR, stored(&s.pt, PGTABLE_PROT_READ));
        CHECK_EQ(pgtable_unmap(&s.pt, 2 * L1, L1, 0), 0);
    }
    /* The last page of the address space. */
    map_cycle(&s, span - GR + 1, BIT(33), GR, GR);

    uint64_t live = span / 4 >= L1 ? L1 : GR;
    CHECK_EQ(pgtable_map(&s.pt, 2 * live, BIT(34), live, PGTABLE_PROT_READ), 0);
    bad_inputs(&s, 2 * live, live);
    CHECK_EQ(pgtable_unmap(&s.pt, 2 * live, live, 0), 0);

    pgtable_destroy(&s.pt);
    CHECK_EQ(s.tm.live, 0);
    tmem_fini(&s.tm);
}

static const uint64_t pgsets[] = { K4, K4 | M2, K4 | M2 | G1, K4 | G1 };

static void sweep_format(enum pgtable_fmt fmt, unsigned int lo, unsigned int hi)
{
    for (unsigned int levels = lo; levels <= hi; levels++) {
        for (unsigned int i = 0; i < ARRAY_SIZE(pgsets); i++) {
            struct pgtable_cfg cfg = { .fmt = fmt, .levels = levels, .pgsize_bitmap = pgsets[i] };
            sweep_one(&cfg);
        }
    }
}

TEST(sweep_vtd_ss) { sweep_format(PGTABLE_FMT_VTD_SS, 3, 5); }
TEST(sweep_x86_64) { sweep_format(PGTABLE_FMT_X86_64, 4, 5); }
TEST(sweep_amd_v1) { sweep_format(PGTABLE_FMT_AMD_V1, 1, 6); }
TEST(sweep_arm_s1) { sweep_format(PGTABLE_FMT_ARM_S1, 2, 4); }
TEST(sweep_arm_s2) { sweep_format(PGTABLE_FMT_ARM_S2, 2, 4); }

/* 16 and 64 KiB granules: their own page-size sets (0: all the format offers). */
static void sweep_granule(enum pgtable_fmt fmt, unsigned int lo, unsigned int hi, uint64_t g)
{
    const uint64_t sets[] = { g, g | (g << (__builtin_ctzll(g) - 3)), 0 };
    for (unsigned int levels = lo; levels <= hi; levels++) {
        for (unsigned int i = 0; i < ARRAY_SIZE(sets); i++) {
            struct pgtable_cfg cfg = { .fmt = fmt, .levels = levels, .pgsize_bitmap = sets[i] };
            sweep_one(&cfg);
        }
    }
}

TEST(sweep_arm_16k_64k)
{
    sweep_granule(PGTABLE_FMT_ARM_S1_16K, 2, 4, 16384);
    sweep_granule(PGTABLE_FMT_ARM_S2_16K, 2, 4, 16384);
    sweep_granule(PGTABLE_FMT_ARM_S1_64K, 2, 3, 65536);
    sweep_granule(PGTABLE_FMT_ARM_S2_64K, 2, 3, 65536);
}

/* Narrower input widths, including Arm stage-2 concatenated start levels. */
TEST(sweep_widths)
{
    static const struct { enum pgtable_fmt fmt; unsigned int levels, ias, root_pages; } w[] = {
        { PGTABLE_FMT_ARM_S2, 0, 40, 2 },  /* 3 levels, 2 tables concatenated */
        { PGTABLE_FMT_ARM_S2, 0, 34, 16 }, /* 2 levels, 16 tables */
        { PGTABLE_FMT_ARM_S2, 3, 42, 8 },
        { PGTABLE_FMT_ARM_S2, 4, 48, 1 },
        { PGTABLE_FMT_ARM_S1, 0, 32, 1 },  /* 3 levels, start table of 4 entries */
        { PGTABLE_FMT_ARM_S1, 0, 39, 1 },
        { PGTABLE_FMT_VTD_SS, 4, 44, 1 },
        { PGTABLE_FMT_AMD_V1, 0, 64, 1 },
        { PGTABLE_FMT_AMD_V1, 0, 40, 1 },
        { PGTABLE_FMT_X86_64, 0, 47, 1 },
        { PGTABLE_FMT_X86_64, 5, 56, 1 },
    };
    for (unsigned int i = 0; i < ARRAY_SIZE(w); i++) {
        for (unsigned int j = 0; j < ARRAY_SIZE(pgsets); j++) {
            struct pgtable_cfg cfg = { .fmt = w[i].fmt, .levels = w[i].levels, .ias = w[i].ias,
                                       .pgsize_bitmap = pgsets[j] };
            struct tmem tm;
            struct pgtable pt;
            tmem_init(&tm, 300);
            REQUIRE(pgtable_init(&pt, &cfg, &tmem_ops, &tm, &flush_log_ops, &fl) == 0);
            CHECK_EQ(pt.root_size, w[i].root_pages * 4096);
            CHECK_EQ(pt.ias, w[i].ias);
            pgtable_destroy(&pt);
            tmem_fini(&tm);
            sweep_one(&cfg);
        }
    }
}

TEST(sweep_granule_widths)
{
    static const struct { enum pgtable_fmt fmt; unsigned int ias, levels, root_bytes; } w[] = {
        { PGTABLE_FMT_ARM_S2_16K, 40, 2, 16 << 14 }, /* 16 concatenated 16 KiB tables */
        { PGTABLE_FMT_ARM_S2_16K, 36, 2, 1 << 14 },
        { PGTABLE_FMT_ARM_S2_64K, 46, 2, 16 << 16 }, /* 16 concatenated 64 KiB tables */
        { PGTABLE_FMT_ARM_S2_64K, 48, 3, 1 << 16 },
        { PGTABLE_FMT_ARM_S1_16K, 48, 4, 1 << 14 },  /* start table of 2 entries */
        { PGTABLE_FMT_ARM_S1_64K, 42, 2, 1 << 16 },
    };
    for (unsigned int i = 0; i < ARRAY_SIZE(w); i++) {
        struct pgtable_cfg cfg = { .fmt = w[i].fmt, .ias = w[i].ias };
        struct tmem tm;
        struct pgtable pt;
        tmem_init(&tm, 1024);
        REQUIRE(pgtable_init(&pt, &cfg, &tmem_ops, &tm, &flush_log_ops, &fl) == 0);
        CHECK_EQ(pt.levels, w[i].levels);
        CHECK_EQ(pt.root_size, w[i].root_bytes);
        pgtable_destroy(&pt);
        tmem_fini(&tm);
        sweep_one(&cfg);
    }
}

TEST(init_rejects_bad_configs)
{
    static const struct pgtable_cfg bad[] = {
        { .fmt = PGTABLE_FMT_COUNT },
        { .fmt = PGTABLE_FMT_VTD_SS, .levels = 2 },
        { .fmt = PGTABLE_FMT_VTD_SS, .levels = 6 },
        { .fmt = PGTABLE_FMT_VTD_SS, .levels = 4, .ias = 39 },  /* 3 levels suffice */
        { .fmt = PGTABLE_FMT_VTD_SS, .levels = 3, .ias = 40 },
        { .fmt = PGTABLE_FMT_X86_64, .levels = 4, .ias = 48 },  /* upper half non-canonical */
        { .fmt = PGTABLE_FMT_X86_64, .levels = 3 },
        { .fmt = PGTABLE_FMT_ARM_S1, .ias = 49 },
        { .fmt = PGTABLE_FMT_ARM_S1, .levels = 3, .ias = 40 },  /* s1 cannot concatenate */
        { .fmt = PGTABLE_FMT_ARM_S2, .levels = 2, .ias = 35 },  /* more than 16 tables */
        { .fmt = PGTABLE_FMT_AMD_V1, .levels = 7 },
        { .fmt = PGTABLE_FMT_VTD_SS, .pgsize_bitmap = M2 },    /* no 4 KiB */
        { .fmt = PGTABLE_FMT_VTD_SS, .oas = 53 },
        { .fmt = PGTABLE_FMT_ARM_S1, .oas = 52 },
        { .fmt = PGTABLE_FMT_VTD_SS, .flags = PGTABLE_CFG_ARM_DBM },
        { .fmt = PGTABLE_FMT_VTD_SS, .flags = BIT(9) },
        { .fmt = PGTABLE_FMT_ARM_S2, .flags = PGTABLE_CFG_NONCOHERENT }, /* no clean op */
    };
    struct tmem tm;
    struct pgtable pt;

    tmem_init(&tm, 300);
    for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
        int ret = pgtable_init(&pt, &bad[i], &tmem_ops, &tm, &flush_log_ops, &fl);
        if (ret != -EINVAL)
            printf("    bad config %u accepted (%d)\n", i, ret);
        CHECK_EQ(ret, -EINVAL);
    }
    CHECK_EQ(tm.live, 0);
    tmem_fini(&tm);
}
