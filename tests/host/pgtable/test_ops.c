/* Targeted behaviour: entry encodings against the specifications, leaf splitting, table
 * freeing and what the flush is told, dirty tracking, non-coherent walkers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/pgtable/pgtable.h"
#include "tests/host/harness.h"
#include "tests/host/pgtable/pt_test_util.h"

#define K4 PGTABLE_SZ_4K
#define M2 PGTABLE_SZ_2M
#define G1 PGTABLE_SZ_1G
#define RW (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)

static struct flush_log fl;
static struct tmem tm;

static bool setup(struct pgtable *pt, const struct pgtable_cfg *cfg)
{
    const struct pgtable_mem_ops *mem =
        (cfg->flags & PGTABLE_CFG_NONCOHERENT) ? &tmem_ops_noncoherent : &tmem_ops;
    tmem_init(&tm, 2048);
    fl.tm = &tm;
    flush_log_reset(&fl);
    return pgtable_init(pt, cfg, mem, &tm, &flush_log_ops, &fl) == 0;
}

static void teardown(struct pgtable *pt)
{
    pgtable_destroy(pt);
    CHECK_EQ(tm.live, 0);
    tmem_fini(&tm);
}

static uint64_t entry(const struct pgtable *pt, uint64_t iova)
{
    unsigned int level;
    uint64_t *e = pt_test_leaf(pt, iova, &level);
    return e ? *e : 0;
}

static void xlate(const struct pgtable *pt, uint64_t iova, uint64_t pa, uint64_t size)
{
    struct pgtable_xlate x = { 0 };
    CHECK_EQ(pgtable_translate(pt, iova, &x), 0);
    CHECK_EQ(x.pa, pa);
    CHECK_EQ(x.pgsize, size);
}

TEST(encodings)
{
    struct pgtable pt;
    const uint64_t pa = 0x123456000ULL, pa2m = 0x7400000ULL;
    static const struct { enum pgtable_fmt fmt; uint64_t leaf4k, leaf2m_extra; } e[] = {
        /* VT-d SS: R | W | SNP(11); PS(7) on the 2 MiB leaf */
        { PGTABLE_FMT_VTD_SS, BIT(0) | BIT(1) | BIT(11), BIT(7) },
        /* x86-64: P | R/W | U/S | A; PS on 2 MiB */
        { PGTABLE_FMT_X86_64, BIT(0) | BIT(1) | BIT(2) | BIT(5), BIT(7) },
        /* AMD v1: PR | FC(60) | IR(61) | IW(62), Next Level 0 at both sizes */
        { PGTABLE_FMT_AMD_V1, BIT(0) | BIT(60) | BIT(61) | BIT(62), 0 },
        /* Arm s1: page 0b11, AttrIndx 1 (WB), AP[1], SH inner, AF, nG; block has bit 1 clear */
        { PGTABLE_FMT_ARM_S1, 3 | (1 << 2) | BIT(6) | (3 << 8) | BIT(10) | BIT(11), 0 },
        /* Arm s2: page 0b11, MemAttr 0xf, S2AP RW, SH inner, AF */
        { PGTABLE_FMT_ARM_S2, 3 | (0xf << 2) | (3 << 6) | (3 << 8) | BIT(10), 0 },
    };
    for (unsigned int i = 0; i < ARRAY_SIZE(e); i++) {
        struct pgtable_cfg cfg = { .fmt = e[i].fmt };
        REQUIRE(setup(&pt, &cfg));
        CHECK_EQ(pgtable_map(&pt, 0x5000, pa, K4, RW | PGTABLE_PROT_SNOOP), 0);
        CHECK_EQ(entry(&pt, 0x5000), pa | e[i].leaf4k);
        CHECK_EQ(pgtable_map(&pt, 0x40000000, pa2m, M2, RW | PGTABLE_PROT_SNOOP), 0);
        uint64_t want2m = pa2m | e[i].leaf4k | e[i].leaf2m_extra;
        if (e[i].fmt == PGTABLE_FMT_ARM_S1 || e[i].fmt == PGTABLE_FMT_ARM_S2)
            want2m &= ~BIT(1); /* block descriptor */
        CHECK_EQ(entry(&pt, 0x40000000), want2m);
        if (e[i].fmt == PGTABLE_FMT_AMD_V1) {
            /* The root entry points to a level-3 table (AMD numbering): Next Level 3. */
            uint64_t root0 = ((uint64_t *)pt.root)[0];
            CHECK_EQ((root0 >> 9) & 7, 3);
        }
        teardown(&pt);
    }
}

TEST(arm_mmio_and_readonly)
{
    struct pgtable pt;
    struct pgtable_cfg s1 = { .fmt = PGTABLE_FMT_ARM_S1 }, s2 = { .fmt = PGTABLE_FMT_ARM_S2 };

    REQUIRE(setup(&pt, &s1));
    CHECK_EQ(pgtable_map(&pt, 0x1000, 0x9000, K4, PGTABLE_PROT_READ | PGTABLE_PROT_MMIO), 0);
    /* AttrIndx 2 (device), AP[2] read-only */
    CHECK_EQ(entry(&pt, 0x1000) & (GENMASK(4, 2) | BIT(7)), (2 << 2) | BIT(7));
    teardown(&pt);
    REQUIRE(setup(&pt, &s2));
    CHECK_EQ(pgtable_map(&pt, 0x1000, 0x9000, K4, PGTABLE_PROT_WRITE | PGTABLE_PROT_MMIO), 0);
    /* MemAttr 0b0001 (Device-nGnRE), S2AP write-only */
    CHECK_EQ(entry(&pt, 0x1000) & GENMASK(7, 2), (1 << 2) | BIT(7));
    teardown(&pt);
}

/* Cutting a 4 KiB hole out of a 2 MiB leaf: the whole leaf is invalidated, the rest still
 * translates, one table page is added. */
TEST(split_2m)
{
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) { /* the 4 KiB-granule formats */
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f };
        REQUIRE(setup(&pt, &cfg));
        CHECK_EQ(pgtable_map(&pt, M2, 4 * M2, M2, RW), 0);
        xlate(&pt, M2 + 0x5000, 4 * M2 + 0x5000, M2);
        uint64_t tables = pt.nr_tables;
        flush_log_reset(&fl);
        CHECK_EQ(pgtable_unmap(&pt, M2 + 0x5000, K4, 0), -PGTABLE_ESPLIT);
        CHECK_EQ(fl.calls, 0);
        CHECK_EQ(pgtable_unmap(&pt, M2 + 0x5000, K4, PGTABLE_UNMAP_SPLIT), 0);
        CHECK(flush_log_covers_exactly(&fl, M2, 2 * M2 - 1));
        CHECK(!fl.all_leaf_only);
        CHECK_EQ(fl.pages, 0);
        CHECK_EQ(pt.nr_tables, tables + 1);
        struct pgtable_xlate x;
        CHECK_EQ(pgtable_translate(&pt, M2 + 0x5000, &x), -ENOENT);
        xlate(&pt, M2 + 0x4000, 4 * M2 + 0x4000, K4);
        xlate(&pt, M2 + 0x6000, 4 * M2 + 0x6000, K4);
        xlate(&pt, 2 * M2 - K4, 5 * M2 - K4, K4);
        CHECK_EQ(pgtable_unmap(&pt, M2, 0x5000, 0), 0);
        CHECK_EQ(pgtable_unmap(&pt, M2 + 0x6000, M2 - 0x6000, 0), 0);
        teardown(&pt);
    }
}

/* With 1 GiB but not 2 MiB leaves allowed, a split rebuilds the leaf as 512 * 512 pages. */
TEST(split_1g_to_4k)
{
    struct pgtable pt;
    struct pgtable_cfg cfg = { .fmt = PGTABLE_FMT_VTD_SS, .pgsize_bitmap = K4 | G1 };

    REQUIRE(setup(&pt, &cfg));
    CHECK_EQ(pgtable_map(&pt, G1, 3 * G1, G1, RW), 0);
    uint64_t tables = pt.nr_tables;
    flush_log_reset(&fl);
    CHECK_EQ(pgtable_unmap(&pt, G1 + 3 * M2 + K4, 2 * K4, PGTABLE_UNMAP_SPLIT), 0);
    CHECK(flush_log_covers_exactly(&fl, G1, 2 * G1 - 1));
    CHECK_EQ(pt.nr_tables, tables + 513);
    xlate(&pt, G1, 3 * G1, K4);
    xlate(&pt, G1 + 3 * M2, 3 * G1 + 3 * M2, K4);
    xlate(&pt, 2 * G1 - K4, 4 * G1 - K4, K4);
    struct pgtable_xlate x;
    CHECK_EQ(pgtable_translate(&pt, G1 + 3 * M2 + 2 * K4, &x), -ENOENT);
    /* Unmapping everything but the hole frees the 511 whole 2 MiB tables after the flush. */
    flush_log_reset(&fl);
    CHECK_EQ(pgtable_unmap(&pt, G1, 3 * M2 + K4, 0), 0);
    CHECK_EQ(pgtable_unmap(&pt, G1 + 3 * M2 + 3 * K4, G1 - 3 * M2 - 3 * K4, 0), 0);
    CHECK_EQ(fl.pages, 511);
    CHECK_EQ(pt.nr_tables, tables + 2);
    teardown(&pt);
}

/* A split that must cut at both ends and below the first level it creates. */
TEST(split_both_ends)
{
    struct pgtable pt;
    struct pgtable_cfg cfg = { .fmt = PGTABLE_FMT_AMD_V1 };

    REQUIRE(setup(&pt, &cfg));
    CHECK_EQ(pgtable_map(&pt, G1, G1, G1, RW), 0);
    flush_log_reset(&fl);
    CHECK_EQ(pgtable_unmap(&pt, G1 + M2 + K4, 3 * M2, PGTABLE_UNMAP_SPLIT), 0);
    CHECK(flush_log_covers_exactly(&fl, G1, 2 * G1 - 1));
    xlate(&pt, G1, G1, M2);
    xlate(&pt, G1 + M2, G1 + M2, K4);
    xlate(&pt, G1 + 4 * M2 + K4, G1 + 4 * M2 + K4, K4);
    xlate(&pt, G1 + 5 * M2, G1 + 5 * M2, M2);
    teardown(&pt);
}

TEST(unmap_frees_tables)
{
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) { /* the 4 KiB-granule formats */
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f };
        REQUIRE(setup(&pt, &cfg));
        uint64_t empty = pt.nr_tables;
        /* pa not 2 MiB aligned: 512 leaves in one new level-0 table */
        CHECK_EQ(pgtable_map(&pt, M2, K4, M2, RW), 0);
        CHECK_EQ(pt.nr_tables, empty + pt.levels - 1);
        flush_log_reset(&fl);
        CHECK_EQ(pgtable_unmap(&pt, M2, K4, 0), 0);
        CHECK(fl.all_leaf_only);
        CHECK_EQ(fl.pages, 0);
        CHECK(flush_log_covers_exactly(&fl, M2, M2 + K4 - 1));
        flush_log_reset(&fl);
        CHECK_EQ(pgtable_unmap(&pt, M2 + K4, M2 - K4, 0), 0);
        CHECK_EQ(fl.pages, 0); /* the table's span was not unmapped in one call */
        CHECK_EQ(pgtable_map(&pt, M2, K4, M2, RW), 0);
        flush_log_reset(&fl);
        CHECK_EQ(pgtable_unmap(&pt, M2, M2, 0), 0);
        CHECK_EQ(fl.pages, 1);
        CHECK(!fl.all_leaf_only);
        CHECK(flush_log_covers_exactly(&fl, M2, 2 * M2 - 1));
        CHECK_EQ(pt.nr_tables, empty + pt.levels - 2);
        teardown(&pt);
    }
}

/* A window: populate allocates every table a range needs for 4 KiB leaves and maps nothing
 * (-EEXIST over a mapping, unchanged on an error); maps there allocate nothing; unmaps through
 * a keep_tables gather leave the tables even when they clear a table's whole span; a span
 * gather hands one range covering everything to the flush. */
TEST(populate_window)
{
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) {
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f };
        REQUIRE(setup(&pt, &cfg));
        uint64_t empty = pt.nr_tables, base = 3 * M2 - 4 * K4, len = M2 + 8 * K4;
        flush_log_reset(&fl);
        CHECK_EQ(pgtable_populate(&pt, base, len), 0);
        CHECK_EQ(pt.nr_tables, empty + pt.levels - 2 + 3);    /* three level-0 tables */
        CHECK_EQ(fl.calls, 0);
        struct pgtable_xlate x;
        CHECK_EQ(pgtable_translate(&pt, base, &x), -ENOENT);
        CHECK_EQ(pgtable_populate(&pt, base, len), 0);        /* idempotent */
        uint64_t tables = pt.nr_tables;
        CHECK_EQ(pgtable_map(&pt, base + len - K4, M2, K4, RW), 0);  /* its last page */
        struct tmem_snap snap;
        tmem_snap_take(&tm, &snap);
        CHECK_EQ(pgtable_populate(&pt, M2, base + len - M2), -EEXIST);  /* new tables too */
        CHECK(tmem_snap_same(&tm, &snap));
        tmem_snap_free(&snap);
        for (uint64_t off = 0; off < len - K4; off += K4)
            CHECK_EQ(pgtable_map(&pt, base + off, 7 * M2 + off, K4, RW), 0);
        CHECK_EQ(pt.nr_tables, tables);
        xlate(&pt, base + 5 * K4, 7 * M2 + 5 * K4, K4);
        struct pgtable_gather g;
        pgtable_gather_init(&g);
        g.span = g.keep_tables = true;
        CHECK_EQ(pgtable_unmap_gather(&pt, base, len, 0, &g), 0);  /* a whole level-0 span */
        CHECK_EQ(pgtable_unmap_gather(&pt, 2 * M2, K4, 0, &g), -ENOENT);
        flush_log_reset(&fl);
        pgtable_gather_sync(&pt, &g);
        CHECK_EQ(fl.calls, 1);
        CHECK_EQ(fl.nr, 1);
        CHECK_EQ(fl.pages, 0);
        CHECK(flush_log_covers_exactly(&fl, base, base + len - 1));
        CHECK_EQ(pt.nr_tables, tables);
        CHECK_EQ(pgtable_translate(&pt, base + len - K4, &x), -ENOENT);
        /* scattered slots: one range from the lowest to the highest */
        CHECK_EQ(pgtable_map(&pt, base, M2, K4, RW), 0);
        CHECK_EQ(pgtable_map(&pt, base + 100 * K4, M2, K4, RW), 0);
        CHECK_EQ(pgtable_map(&pt, base + 300 * K4, M2, 2 * K4, RW), 0);
        pgtable_gather_init(&g);
        g.span = g.keep_tables = true;
        CHECK_EQ(pgtable_unmap_gather(&pt, base + 100 * K4, K4, 0, &g), 0);
        CHECK_EQ(pgtable_unmap_gather(&pt, base + 300 * K4, 2 * K4, 0, &g), 0);
        CHECK_EQ(pgtable_unmap_gather(&pt, base, K4, 0, &g), 0);
        flush_log_reset(&fl);
        pgtable_gather_sync(&pt, &g);
        CHECK_EQ(fl.nr, 1);
        CHECK(flush_log_covers_exactly(&fl, base, base + 302 * K4 - 1));
        CHECK_EQ(pt.nr_tables, tables);
        teardown(&pt);
    }
}

/* More dirty leaves than a gather holds: several flushes, each range exactly one leaf. */
TEST(dirty)
{
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) { /* the 4 KiB-granule formats */
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f };
        if (f == PGTABLE_FMT_ARM_S1 || f == PGTABLE_FMT_ARM_S2)
            cfg.flags = PGTABLE_CFG_ARM_DBM;
        REQUIRE(setup(&pt, &cfg));
        CHECK_EQ(pgtable_map(&pt, 0, K4, M2, RW), 0);       /* 512 x 4 KiB */
        CHECK_EQ(pgtable_map(&pt, M2, 8 * M2, M2, RW), 0);  /* one 2 MiB leaf */
        struct pgtable_xlate x;
        CHECK_EQ(pgtable_translate(&pt, 0, &x), 0);
        CHECK_EQ(x.prot, RW);
        for (int i = 0; i < 40; i += 2)
            pt_test_set_dirty(&pt, i * K4);
        pt_test_set_dirty(&pt, M2 + 0x3000);
        CHECK_EQ(pgtable_translate(&pt, 0, &x), 0);
        CHECK_EQ(x.prot, RW | PGTABLE_PROT_DIRTY);

        uint64_t bm[1024 / 64], want[1024 / 64] = { 0 };
        for (int i = 0; i < 40; i += 2)
            want[i / 64] |= 1ULL << (i % 64);
        for (int i = 512; i < 1024; i++)
            want[i / 64] |= 1ULL << (i % 64);
        memset(bm, 0, sizeof(bm));
        flush_log_reset(&fl);
        CHECK_EQ(pgtable_read_dirty(&pt, 0, 2 * M2, K4, bm, PGTABLE_DIRTY_NO_CLEAR), 0);
        CHECK(!memcmp(bm, want, sizeof(bm)));
        CHECK_EQ(fl.calls, 0);
        memset(bm, 0, sizeof(bm));
        CHECK_EQ(pgtable_read_dirty(&pt, 0, 2 * M2, K4, bm, 0), 0);
        CHECK(!memcmp(bm, want, sizeof(bm)));
        CHECK(fl.calls >= 3);
        CHECK(fl.all_leaf_only);
        CHECK_EQ(fl.nr, 21);
        CHECK_EQ(fl.ranges[0].start, 0);
        CHECK_EQ(fl.ranges[0].last, K4 - 1);
        CHECK_EQ(fl.ranges[20].start, M2);
        CHECK_EQ(fl.ranges[20].last, 2 * M2 - 1);
        CHECK_EQ(pgtable_translate(&pt, 0, &x), 0);
        CHECK_EQ(x.prot, RW);
        memset(bm, 0, sizeof(bm));
        CHECK_EQ(pgtable_read_dirty(&pt, 0, 2 * M2, K4, bm, 0), 0);
        for (unsigned int i = 0; i < ARRAY_SIZE(bm); i++)
            CHECK_EQ(bm[i], 0);
        /* A 2 MiB bitmap granule: one bit per 2 MiB. */
        pt_test_set_dirty(&pt, M2 + K4);
        memset(bm, 0, sizeof(bm));
        CHECK_EQ(pgtable_read_dirty(&pt, 0, 2 * M2, M2, bm, 0), 0);
        CHECK_EQ(bm[0], 2);
        teardown(&pt);
    }
}

/* Everything written reaches "memory" through clean() before it matters. */
TEST(noncoherent_clean)
{
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) { /* the 4 KiB-granule formats */
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f, .flags = PGTABLE_CFG_NONCOHERENT };
        uint64_t bm[8] = { 0 };
        REQUIRE(setup(&pt, &cfg));
        CHECK(tmem_shadow_same(&tm));
        CHECK_EQ(pgtable_map(&pt, 0, K4, M2, RW), 0);
        CHECK(tmem_shadow_same(&tm));
        CHECK_EQ(pgtable_map(&pt, G1, G1, G1, RW), 0);
        CHECK(tmem_shadow_same(&tm));
        CHECK_EQ(pgtable_unmap(&pt, G1 + M2, K4, PGTABLE_UNMAP_SPLIT), 0);
        CHECK(tmem_shadow_same(&tm));
        CHECK_EQ(pgtable_unmap(&pt, 0, K4, 0), 0);
        CHECK(tmem_shadow_same(&tm));
        if (f != PGTABLE_FMT_ARM_S1 && f != PGTABLE_FMT_ARM_S2) {
            pt_test_set_dirty(&pt, K4);
            uint64_t *e;
            unsigned int level;
            e = pt_test_leaf(&pt, K4, &level);
            /* what "hardware" wrote is in memory already */
            memcpy(tm.shadow + ((uint8_t *)e - tm.mem), e, 8);
            CHECK_EQ(pgtable_read_dirty(&pt, 0, M2, K4, bm, 0), 0);
            CHECK(tmem_shadow_same(&tm));
        }
        CHECK(tm.cleans > 0);
        teardown(&pt);
    }
}

/* The very top of a 64-bit input space (AMD-Vi 6 levels). */
TEST(top_of_64bit_space)
{
    struct pgtable pt;
    struct pgtable_cfg cfg = { .fmt = PGTABLE_FMT_AMD_V1, .levels = 6 };
    const uint64_t top = ~0ULL - K4 + 1;

    REQUIRE(setup(&pt, &cfg));
    CHECK_EQ(pt.ia_last, ~0ULL);
    CHECK_EQ(pgtable_map(&pt, top, 0x1000, K4, RW), 0);
    xlate(&pt, top + 0xfff, 0x1fff, K4);
    CHECK_EQ(pgtable_map(&pt, top - G1 + K4, 0, G1, RW), -EEXIST);
    CHECK_EQ(pgtable_map(&pt, ~0ULL - 2 * G1 + 1, G1, G1, RW), 0);
    xlate(&pt, ~0ULL - 2 * G1 + 1, G1, G1);
    flush_log_reset(&fl);
    CHECK_EQ(pgtable_unmap(&pt, top, K4, 0), 0);
    CHECK(flush_log_covers_exactly(&fl, top, ~0ULL));
    CHECK_EQ(pgtable_unmap(&pt, ~0ULL - 2 * G1 + 1, G1, 0), 0);
    teardown(&pt);
}

/* Splitting a 32 MiB / 512 MiB block with the 16 / 64 KiB granules. */
TEST(split_granule_blocks)
{
    static const enum pgtable_fmt f[] = { PGTABLE_FMT_ARM_S1_16K, PGTABLE_FMT_ARM_S2_16K,
                                          PGTABLE_FMT_ARM_S1_64K, PGTABLE_FMT_ARM_S2_64K };
    for (unsigned int i = 0; i < ARRAY_SIZE(f); i++) {
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f[i] };
        REQUIRE(setup(&pt, &cfg));
        const uint64_t g = pt.granule, blk = g << (pt.granule_shift - 3);
        CHECK_EQ(pgtable_map(&pt, 2 * blk, 4 * blk, blk, RW), 0);
        xlate(&pt, 2 * blk + 3 * g + 5, 4 * blk + 3 * g + 5, blk);
        uint64_t tables = pt.nr_tables;
        flush_log_reset(&fl);
        CHECK_EQ(pgtable_unmap(&pt, 2 * blk + 7 * g, g, 0), -PGTABLE_ESPLIT);
        CHECK_EQ(pgtable_unmap(&pt, 2 * blk + 7 * g, g, PGTABLE_UNMAP_SPLIT), 0);
        CHECK(flush_log_covers_exactly(&fl, 2 * blk, 3 * blk - 1));
        CHECK_EQ(pt.nr_tables, tables + 1);
        xlate(&pt, 2 * blk + 6 * g, 4 * blk + 6 * g, g);
        xlate(&pt, 3 * blk - g, 5 * blk - g, g);
        struct pgtable_xlate x;
        CHECK_EQ(pgtable_translate(&pt, 2 * blk + 7 * g, &x), -ENOENT);
        CHECK_EQ(pgtable_map(&pt, 2 * blk + 7 * g, 0x1000000, 4096, RW), -EINVAL);
        CHECK_EQ(pgtable_unmap(&pt, 2 * blk, 7 * g, 0), 0);
        CHECK_EQ(pgtable_unmap(&pt, 2 * blk + 8 * g, blk - 8 * g, 0), 0);
        teardown(&pt);
    }
}

/* The cached leaf table must be forgotten when its page is freed: a later map of a neighbour
 * goes into the new table, not the freed one (a decoy keeps the allocator from handing the
 * same page back). */
TEST(leaf_cache_dropped_on_free)
{
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) { /* the 4 KiB-granule formats */
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f };
        uint64_t decoy_pa;
        REQUIRE(setup(&pt, &cfg));
        CHECK_EQ(pgtable_map(&pt, M2, K4, M2, RW), 0);             /* 512 x 4 KiB */
        CHECK_EQ(pgtable_unmap(&pt, M2, K4, 0), 0);                /* walks, caches the table */
        CHECK_EQ(pgtable_map(&pt, M2, 0x10000, K4, RW), 0);        /* through the cache */
        CHECK_EQ(pgtable_unmap(&pt, M2, M2, 0), 0);                /* frees the table */
        void *decoy = tmem_ops.alloc(&tm, K4, &decoy_pa);
        CHECK_EQ(pgtable_map(&pt, M2 + 2 * K4, 0x20000, K4, RW), 0); /* a new table */
        CHECK_EQ(pgtable_map(&pt, M2 + 3 * K4, 0x30000, K4, RW), 0); /* must land in it */
        xlate(&pt, M2 + 2 * K4, 0x20000, K4);
        xlate(&pt, M2 + 3 * K4, 0x30000, K4);
        CHECK_EQ(pgtable_unmap(&pt, M2 + 2 * K4, 2 * K4, 0), 0);
        tmem_ops.free(&tm, decoy, decoy_pa, K4);
        teardown(&pt);
    }
}

static bool log_covers(const struct flush_log *l, uint64_t start, uint64_t last)
{
    for (unsigned int i = 0; i < l->nr; i++)
        if (l->ranges[i].start <= start && l->ranges[i].last >= last)
            return true;
    return false;
}

/* A batch: 20 scattered unmaps into one caller's gather flush nothing until the sync, then
 * flush once (the full range list widens instead of flushing), covering every unmapped page;
 * a freed table page goes back only after that flush. Bad input changes nothing. */
TEST(gather_batch)
{
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) {
        struct pgtable pt;
        struct pgtable_cfg cfg = { .fmt = f };
        REQUIRE(setup(&pt, &cfg));
        for (int i = 0; i < 20; i++)
            CHECK_EQ(pgtable_map(&pt, (uint64_t)i * 3 * K4, K4, K4, RW), 0);
        CHECK_EQ(pgtable_map(&pt, 4 * M2, 8 * M2, M2, RW), 0);    /* a 2 MiB leaf */
        CHECK_EQ(pgtable_map(&pt, 8 * M2, K4, M2, RW), 0);        /* 512 x 4 KiB: a table */
        flush_log_reset(&fl);
        struct pgtable_gather g;
        pgtable_gather_init(&g);
        for (int i = 0; i < 20; i++)
            CHECK_EQ(pgtable_unmap_gather(&pt, (uint64_t)((i * 7) % 20) * 3 * K4, K4, 0, &g), 0);
        CHECK_EQ(pgtable_unmap_gather(&pt, 4 * M2 + K4, K4, 0, &g), -PGTABLE_ESPLIT);
        CHECK_EQ(pgtable_unmap_gather(&pt, 9 * M2, K4, 0, &g), -ENOENT);
        CHECK_EQ(pgtable_unmap_gather(&pt, 8 * M2, 2 * M2, 0, &g), -ENOENT); /* half mapped */
        CHECK_EQ(pgtable_unmap_gather(&pt, 4 * M2, M2, 0, &g), 0);
        int64_t live = tm.live;
        CHECK_EQ(pgtable_unmap_gather(&pt, 8 * M2, M2, 0, &g), 0);   /* frees its table */
        CHECK_EQ(tm.live, live);                    /* not before the flush */
        CHECK_EQ(fl.calls, 0);
        pgtable_gather_sync(&pt, &g);
        CHECK_EQ(fl.calls, 1);
        CHECK_EQ(fl.pages, 1);
        CHECK_EQ(tm.live, live - 1);
        CHECK(log_covers(&fl, 8 * M2, 9 * M2 - 1));
        for (int i = 0; i < 20; i++)
            CHECK(log_covers(&fl, (uint64_t)i * 3 * K4, (uint64_t)i * 3 * K4 + K4 - 1));
        CHECK(log_covers(&fl, 4 * M2, 5 * M2 - 1));
        CHECK(!fl.all_leaf_only);
        struct pgtable_xlate x;
        CHECK_EQ(pgtable_translate(&pt, 0, &x), -ENOENT);
        CHECK_EQ(pgtable_translate(&pt, 4 * M2, &x), -ENOENT);
        CHECK_EQ(pgtable_translate(&pt, 8 * M2, &x), -ENOENT);
        pgtable_gather_sync(&pt, &g);                              /* nothing left: no flush */
        CHECK_EQ(fl.calls, 1);
        teardown(&pt);
    }
}
