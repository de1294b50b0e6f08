/* The IVRS parser on synthetic tables: QEMU's layout (IVHD 10h and 11h for one IOMMU), a table
 * with every block and device entry kind, then each kind of hostile block or entry, which must
 * be rejected by name, never followed. */
#include "iommu/amd/amdvi_hw.h"
#include "iommu/amd/ivrs.h"
#include "lib/errno.h"
#include "tests/host/amd/ivrs_build.h"
#include "tests/host/harness.h"

#include <stdlib.h>

/* QEMU 10: the same IOMMU as type 10h and 11h, select entries for each function, the IOAPIC. */
static void qemu_like(void)
{
    for (unsigned type = IVRS_TYPE_IVHD10; type <= IVRS_TYPE_IVHD11; type++) {
        size_t o = ivhd(type, 0x0008, 0xfed80000);
        static const uint16_t fns[] = { 0x0000, 0x0008, 0x0018, 0x0020, 0x0028, 0x00f8 };
        for (unsigned i = 0; i < ARRAY_SIZE(fns); i++)
            ent4(IVHD_DEV_SELECT, fns[i], 0);
        ent_special(IVHD_SPECIAL_IOAPIC, 0, 0x00a0);
        ivhd_end(o);
    }
}

TEST(qemu_layout_keeps_the_highest_type)
{
    begin();
    qemu_like();
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_units, 1);
    CHECK_EQ(iv.nr_superseded, 1);
    CHECK_EQ(iv.nr_rejected, 0);
    const struct amdvi_ivhd *h = &iv.unit[0];
    CHECK_EQ(h->type, IVRS_TYPE_IVHD11);
    CHECK_EQ(h->efr, 0x29d3);
    CHECK_EQ(h->base, 0xfed80000);
    CHECK_EQ(h->devid, 0x0008);
    CHECK_EQ(h->nr_ranges, 6);
    CHECK_EQ(h->nr_special, 1);
    CHECK_EQ(h->special[0].devid, 0x00a0);
    CHECK_EQ(h->last_devid, 0x00f8);
    CHECK(amdvi_ivhd_covers(h, 0x0018));
    CHECK(!amdvi_ivhd_covers(h, 0x0008));       /* the IOMMU's own function */
    CHECK(!amdvi_ivhd_covers(h, 0x0030));
    CHECK_EQ(amdvi_ivrs_unit_for(&iv, 0, 0x0018), 0);
    CHECK_EQ(amdvi_ivrs_unit_for(&iv, 1, 0x0018), -ENODEV);
    CHECK_EQ(FIELD_GET(IVINFO_VASIZE, iv.ivinfo), 48);
}

TEST(every_entry_and_block_kind)
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD40, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_SELECT, 0x0010, 0x80);
    ent4(IVHD_DEV_RANGE_START, 0x0100, 0);
    ent4(IVHD_DEV_RANGE_END, 0x01ff, 0);
    ent_alias(IVHD_DEV_ALIAS_SELECT, 0x0300, 0x0208);
    ent_alias(IVHD_DEV_ALIAS_RANGE, 0x0400, 0x0210);
    ent4(IVHD_DEV_RANGE_END, 0x04ff, 0);
    ent_ext(IVHD_DEV_EXT_SELECT, 0x0500, 0x80000000);
    ent_ext(IVHD_DEV_EXT_RANGE, 0x0600, 0);
    ent4(IVHD_DEV_RANGE_END, 0x06ff, 0);
    ent_special(IVHD_SPECIAL_IOAPIC, 4, 0xa0);
    ent_special(IVHD_SPECIAL_HPET, 0, 0xa5);
    ent_hid(0x00a6, "AMDI0020", "ID00");
    ent4(0x00, 0, 0);                           /* padding */
    ivhd_end(o);
    ivmd(IVRS_TYPE_IVMD_ALL, IVMD_FLAG_UNITY | IVMD_FLAG_IR | IVMD_FLAG_IW, 0, 0, 0xa0000,
         0x20000);
    ivmd(IVRS_TYPE_IVMD_ONE, IVMD_FLAG_UNITY | IVMD_FLAG_IR, 0x0010, 0, 0x7f000000, 0x100000);
    ivmd(IVRS_TYPE_IVMD_RANGE, IVMD_FLAG_EXCL, 0x0100, 0x01ff, 0x80000000, 0x1000);
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_rejected, 0);
    REQUIRE(iv.nr_units == 1);
    const struct amdvi_ivhd *h = &iv.unit[0];
    CHECK_EQ(h->type, IVRS_TYPE_IVHD40);
    CHECK_EQ(h->nr_ranges, 4);
    CHECK_EQ(h->range[0].setting, 0x80);
    CHECK_EQ(h->range[1].first, 0x0100);
    CHECK_EQ(h->range[1].last, 0x01ff);
    CHECK(h->range[2].ext && h->range[2].ext_data == 0x80000000);
    CHECK(h->range[3].ext && h->range[3].last == 0x06ff);
    CHECK_EQ(h->nr_alias, 2);
    CHECK_EQ(amdvi_ivhd_alias_of(h, 0x0300), 0x0208);
    CHECK_EQ(amdvi_ivhd_alias_of(h, 0x0480), 0x0210);
    CHECK_EQ(amdvi_ivhd_alias_of(h, 0x0180), 0x0180);
    CHECK(amdvi_ivhd_covers(h, 0x04ff) && amdvi_ivhd_covers(h, 0x0650));
    CHECK(!amdvi_ivhd_covers(h, 0x0700));
    CHECK_EQ(h->nr_special, 2);
    CHECK_EQ(h->special[0].handle, 4);
    CHECK_EQ(h->special[1].variety, IVHD_SPECIAL_HPET);
    CHECK_EQ(h->nr_hid, 1);
    CHECK_STR(h->hid[0].hid, "AMDI0020");
    CHECK_STR(h->hid[0].cid, "PNP0D40");
    CHECK_STR(h->hid[0].uid, "ID00");
    CHECK_EQ(h->last_devid, 0x06ff);
    CHECK_EQ(iv.nr_ivmd, 3);
    CHECK(amdvi_ivmd_covers(&iv.ivmd[0], 0, 0xffff));
    CHECK(amdvi_ivmd_covers(&iv.ivmd[1], 0, 0x0010) && !amdvi_ivmd_covers(&iv.ivmd[1], 0, 0x11));
    CHECK(amdvi_ivmd_covers(&iv.ivmd[2], 0, 0x01ff) && !amdvi_ivmd_covers(&iv.ivmd[2], 0, 0x200));
    CHECK_EQ(iv.ivmd[1].last_addr, 0x7f0fffff);
}

TEST(all_entry_covers_everything_but_the_iommu)
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD10, 0x0010, 0xfed80000);
    ent4(IVHD_DEV_ALL, 0, 0);
    ivhd_end(o);
    REQUIRE(parse() == 0);
    CHECK(iv.unit[0].all);
    CHECK_EQ(iv.unit[0].last_devid, 0xffff);
    CHECK(amdvi_ivhd_covers(&iv.unit[0], 0xffff));
    CHECK(!amdvi_ivhd_covers(&iv.unit[0], 0x0010));
}

/* One IVHD with a single bad thing in it: the whole block is refused, a good one after it is
 * kept (proof that the walk went on at the next block, not into the bad one). */
static void expect_block_rejected(void (*bad)(void))
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_SELECT, 0x0010, 0);
    bad();
    ivhd_end(o);
    o = ivhd(IVRS_TYPE_IVHD11, 0x0102, 0xfec00000);
    ent4(IVHD_DEV_SELECT, 0x0110, 0);
    ivhd_end(o);
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_rejected, 1);
    REQUIRE(iv.nr_units == 1);
    CHECK_EQ(iv.unit[0].devid, 0x0102);
}

static void bad_range_without_end(void) { ent4(IVHD_DEV_RANGE_START, 0x20, 0); }
static void bad_range_then_select(void)
{
    ent4(IVHD_DEV_RANGE_START, 0x20, 0);
    ent4(IVHD_DEV_SELECT, 0x30, 0);
    ent4(IVHD_DEV_RANGE_END, 0x40, 0);
}
static void bad_end_without_start(void) { ent4(IVHD_DEV_RANGE_END, 0x20, 0); }
static void bad_end_below_start(void)
{
    ent4(IVHD_DEV_RANGE_START, 0x40, 0);
    ent4(IVHD_DEV_RANGE_END, 0x20, 0);
}
static void bad_alias_range_without_end(void) { ent_alias(IVHD_DEV_ALIAS_RANGE, 0x20, 0x8); }
static void bad_unknown_long_type(void) { ent4(0x81, 0x20, 0); tlen += 12; }
static void bad_entry_past_end(void) { ent4(IVHD_DEV_SELECT, 0x20, 0); tlen -= 2; }
static void bad_8byte_entry_cut(void) { ent_alias(IVHD_DEV_ALIAS_SELECT, 0x20, 0x8); tlen -= 4; }
static void bad_hid_uid_past_end(void)
{
    ent_hid(0x20, "AMDI0020", "ABCD");
    tbl[tlen - 4 - IVHD_HID_LEN + IVHD_HID_OFF_UIDLEN] = 200;
}
static void bad_hid_header_cut(void) { ent_hid(0x20, "AMDI0020", ""); tlen -= 8; }
static void bad_special_variety(void) { ent_special(7, 0, 0xa0); }

TEST(hostile_entries_reject_their_block)
{
    void (*cases[])(void) = { bad_range_without_end, bad_range_then_select, bad_end_without_start,
                              bad_end_below_start, bad_alias_range_without_end,
                              bad_unknown_long_type, bad_entry_past_end, bad_8byte_entry_cut,
                              bad_hid_uid_past_end, bad_hid_header_cut, bad_special_variety };
    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        expect_block_rejected(cases[i]);
        if (host_test_failures)
            fprintf(stderr, "  (case %u)\n", i);
    }
}

TEST(unknown_short_entry_types_are_skipped)
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(0x05, 0x0033, 0);                  /* reserved 4-byte type */
    ent_ext(0x45, 0x0044, 0);               /* reserved 8-byte type */
    ent4(IVHD_DEV_SELECT, 0x0010, 0);
    ivhd_end(o);
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_rejected, 0);
    CHECK_EQ(iv.unit[0].nr_ranges, 1);
    CHECK(!amdvi_ivhd_covers(&iv.unit[0], 0x0033));
}

TEST(hostile_ivhd_headers)
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0);           /* base zero */
    ent4(IVHD_DEV_SELECT, 0x10, 0);
    ivhd_end(o);
    o = ivhd(IVRS_TYPE_IVHD11, 0x0003, 0xfeb81000);         /* not 16 KiB aligned */
    ent4(IVHD_DEV_SELECT, 0x10, 0);
    ivhd_end(o);
    o = ivhd(IVRS_TYPE_IVHD11, 0x0004, 0xfeb80000);         /* names nothing */
    ivhd_end(o);
    o = tlen;                                                /* 11h shorter than 40 bytes */
    tbl[o] = IVRS_TYPE_IVHD11;
    put(o + IVHD_OFF_LEN, 24, 2);
    tlen += 24;
    o = ivhd(IVRS_TYPE_IVHD11, 0x0005, 0xfed80000);          /* the good one */
    ent4(IVHD_DEV_SELECT, 0x10, 0);
    ivhd_end(o);
    o = ivhd(IVRS_TYPE_IVHD40, 0x0005, 0xfee00000);          /* same IOMMU, other registers */
    ent4(IVHD_DEV_SELECT, 0x10, 0);
    ivhd_end(o);
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_rejected, 5);
    CHECK_EQ(iv.nr_units, 1);
    CHECK_EQ(iv.unit[0].devid, 0x0005);
    CHECK_EQ(iv.unit[0].type, IVRS_TYPE_IVHD11);
}

TEST(hostile_ivmd_blocks)
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_ALL, 0, 0);
    ivhd_end(o);
    ivmd(IVRS_TYPE_IVMD_ALL, IVMD_FLAG_UNITY, 0, 0, 0x1000, 0);            /* zero length */
    ivmd(IVRS_TYPE_IVMD_ALL, IVMD_FLAG_UNITY, 0, 0, 0x1800, 0x1000);       /* misaligned */
    ivmd(IVRS_TYPE_IVMD_ALL, IVMD_FLAG_UNITY, 0, 0, ~0xfffULL, 0x2000);    /* wraps */
    ivmd(IVRS_TYPE_IVMD_ALL, IVMD_FLAG_UNITY, 0, 0, 0xfed00000, 0x200000); /* interrupts */
    ivmd(IVRS_TYPE_IVMD_RANGE, IVMD_FLAG_UNITY, 0x200, 0x100, 0x1000, 0x1000); /* end < start */
    ivmd(IVRS_TYPE_IVMD_ONE, 0, 0x10, 0, 0x1000, 0x1000);                  /* neither */
    o = ivmd(IVRS_TYPE_IVMD_ONE, IVMD_FLAG_UNITY, 0x10, 0, 0x1000, 0x1000);
    put(o + IVHD_OFF_LEN, 24, 2);                                          /* too short */
    tlen -= 8;
    ivmd(IVRS_TYPE_IVMD_ONE, IVMD_FLAG_UNITY | IVMD_FLAG_IR, 0x10, 0, 0x2000, 0x1000); /* good */
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_rejected, 7);
    REQUIRE(iv.nr_ivmd == 1);
    CHECK_EQ(iv.ivmd[0].start, 0x2000);
}

TEST(hostile_block_framing_stops_the_walk)
{
    /* A zero-length block: nothing after it can be found; the IVHD before it is kept. */
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_ALL, 0, 0);
    ivhd_end(o);
    tbl[tlen] = IVRS_TYPE_IVMD_ALL;                  /* length 0 */
    tlen += 32;
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_rejected, 1);
    CHECK_EQ(iv.nr_units, 1);
    /* A block longer than the table. */
    begin();
    o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_ALL, 0, 0);
    ivhd_end(o);
    put(o + IVHD_OFF_LEN, 4000, 2);
    CHECK_EQ(parse(), -EINVAL);                      /* the only IVHD is gone */
    CHECK_EQ(iv.nr_rejected, 1);
    /* A header cut by the end of the table, and an unknown block type skipped. */
    begin();
    tbl[tlen] = 0x99;
    put(tlen + IVHD_OFF_LEN, 8, 2);
    tlen += 8;
    o = ivhd(IVRS_TYPE_IVHD10, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_ALL, 0, 0);
    ivhd_end(o);
    tlen += 2;
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_rejected, 2);
    CHECK_EQ(iv.nr_units, 1);
}

TEST(unusable_tables)
{
    begin();
    CHECK_EQ(parse(), -EINVAL);                      /* no IVHD */
    CHECK_EQ(amdvi_ivrs_parse(tbl, 20, &iv), -EINVAL);
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_ALL, 0, 0);
    ivhd_end(o);
    put(4, 10, 4);                                   /* header length below the given one */
    CHECK_EQ(amdvi_ivrs_parse(tbl, tlen, &iv), -EINVAL);
    CHECK_EQ(amdvi_ivrs_parse(NULL, tlen, &iv), -EINVAL);
}

TEST(too_many_units_and_entries)
{
    begin();
    for (unsigned u = 0; u < AMDVI_IVRS_MAX_UNITS + 1; u++) {
        size_t o = ivhd(IVRS_TYPE_IVHD11, (uint16_t)(0x100 * u + 2), 0xfe000000 + 0x4000 * u);
        ent4(IVHD_DEV_SELECT, (uint16_t)(0x100 * u + 0x10), 0);
        ivhd_end(o);
    }
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.nr_units, AMDVI_IVRS_MAX_UNITS);
    CHECK_EQ(iv.nr_rejected, 1);
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 2, 0xfeb80000);
    for (unsigned i = 0; i < AMDVI_IVRS_MAX_RANGES + 1; i++)
        ent4(IVHD_DEV_SELECT, (uint16_t)(0x10 + 2 * i), 0);    /* not adjacent: no merging */
    ivhd_end(o);
    CHECK_EQ(parse(), -EINVAL);
    CHECK_EQ(iv.nr_rejected, 1);
}

TEST(adjacent_selects_merge)
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 2, 0xfeb80000);
    for (unsigned i = 0; i < 300; i++)                      /* more than the range limit */
        ent4(IVHD_DEV_SELECT, (uint16_t)(0x100 + i), 0);
    ent4(IVHD_DEV_SELECT, 0x0300, 0x80);                    /* other settings: not merged */
    ivhd_end(o);
    REQUIRE(parse() == 0);
    CHECK_EQ(iv.unit[0].nr_ranges, 2);
    CHECK_EQ(iv.unit[0].range[0].first, 0x100);
    CHECK_EQ(iv.unit[0].range[0].last, 0x100 + 299);
    CHECK(amdvi_ivhd_covers(&iv.unit[0], 0x300));
    CHECK(!amdvi_ivhd_covers(&iv.unit[0], 0x0ff));
}

/* The table QEMU 10.0.2 builds for ./moat run --iommu amd (q35, amd-iommu intremap=on at 00:01.0,
 * edu, virtio-blk, nvme), as amdvi=dump printed it. */
static const uint8_t qemu10_ivrs[192] = {
    0x49, 0x56, 0x52, 0x53, 0xc0, 0x00, 0x00, 0x00, 0x01, 0xbc, 0x42, 0x4f, 0x43, 0x48, 0x53, 0x20,
    0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0xd1, 0x40, 0x00, 0x08, 0x00, 0x40, 0x00, 0x00, 0x00, 0xd8, 0xfe, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00,
    0x02, 0x18, 0x00, 0x00, 0x02, 0x20, 0x00, 0x00, 0x02, 0x28, 0x00, 0x00, 0x02, 0xf8, 0x00, 0x00,
    0x02, 0xfa, 0x00, 0x00, 0x02, 0xfb, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x00, 0x01,
    0x11, 0x11, 0x50, 0x00, 0x08, 0x00, 0x40, 0x00, 0x00, 0x00, 0xd8, 0xfe, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd3, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00,
    0x02, 0x18, 0x00, 0x00, 0x02, 0x20, 0x00, 0x00, 0x02, 0x28, 0x00, 0x00, 0x02, 0xf8, 0x00, 0x00,
    0x02, 0xfa, 0x00, 0x00, 0x02, 0xfb, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x00, 0x01,
};

TEST(qemu10_table)
{
    REQUIRE(amdvi_ivrs_parse(qemu10_ivrs, sizeof(qemu10_ivrs), &iv) == 0);
    CHECK_EQ(iv.nr_rejected, 0);
    CHECK_EQ(iv.nr_superseded, 1);
    REQUIRE(iv.nr_units == 1);
    const struct amdvi_ivhd *h = &iv.unit[0];
    CHECK_EQ(h->type, IVRS_TYPE_IVHD11);
    CHECK_EQ(h->devid, 0x0008);
    CHECK_EQ(h->cap_off, 0x40);
    CHECK_EQ(h->base, 0xfed80000);
    CHECK_EQ(h->efr, 0x29d3);
    CHECK_EQ(h->last_devid, 0x00fb);
    CHECK_EQ(FIELD_GET(IVINFO_PASIZE, iv.ivinfo), 40);
    CHECK(iv.ivinfo & IVINFO_EFRSUP);
    static const uint16_t fns[] = { 0x0000, 0x0018, 0x0020, 0x0028, 0x00f8, 0x00fa, 0x00fb };
    for (unsigned i = 0; i < ARRAY_SIZE(fns); i++)
        CHECK(amdvi_ivhd_covers(h, fns[i]));
    CHECK(!amdvi_ivhd_covers(h, 0x0008));       /* listed, but the IOMMU itself */
    CHECK(!amdvi_ivhd_covers(h, 0x0010));
    REQUIRE(h->nr_special == 1);
    CHECK_EQ(h->special[0].variety, IVHD_SPECIAL_IOAPIC);
    CHECK_EQ(h->special[0].devid, 0x00a0);
    CHECK_EQ(h->special[0].handle, 0);
    /* every prefix of the table, in a buffer of exactly that size (ASan sees any read past its
     * end): a clean refusal or a parse */
    for (size_t len = 1; len < sizeof(qemu10_ivrs); len++) {
        uint8_t *cut = malloc(len);
        REQUIRE(cut);
        memcpy(cut, qemu10_ivrs, len);
        if (len >= 8)
            memcpy(cut + 4, &(uint32_t){ (uint32_t)len }, 4);
        int err = amdvi_ivrs_parse(cut, len, &iv);
        CHECK(err == 0 || err == -EINVAL);
        free(cut);
    }
}
