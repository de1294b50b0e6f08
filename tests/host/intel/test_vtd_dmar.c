/* The DMAR parser on synthetic tables: a good table with every structure type, scope matching
 * through bridges, then each kind of hostile structure, which must be rejected by name. */
#include "iommu/intel/dmar.h"
#include "iommu/intel/vtd_hw.h"
#include "lib/errno.h"
#include "tests/host/harness.h"

static uint8_t tbl[4096];
static size_t tlen;

static void put(size_t off, uint64_t v, unsigned n) { memcpy(tbl + off, &v, n); }

static void begin(void)
{
    memset(tbl, 0, sizeof(tbl));
    memcpy(tbl, "DMAR", 4);
    tbl[DMAR_OFF_HAW] = 38;                 /* 39 bits */
    tbl[DMAR_OFF_FLAGS] = DMAR_FLAG_INTR_REMAP;
    tlen = DMAR_HEADER_LEN;
}

static void end(void) { put(4, tlen, 4); }

/* A structure header; returns its offset. */
static size_t add(unsigned type, unsigned len)
{
    size_t o = tlen;
    put(o, type, 2);
    put(o + 2, len, 2);
    tlen += len;
    return o;
}

static size_t add_drhd(uint64_t base, uint16_t seg, bool all, unsigned scope_bytes)
{
    size_t o = add(DMAR_TYPE_DRHD, DRHD_LEN + scope_bytes);
    tbl[o + DRHD_OFF_FLAGS] = all ? DRHD_FLAG_INCLUDE_PCI_ALL : 0;
    put(o + DRHD_OFF_SEGMENT, seg, 2);
    put(o + DRHD_OFF_BASE, base, 8);
    return o + DRHD_LEN;
}

/* A scope with a path of n (dev, fn) hops at p; returns its length. */
static unsigned scope(size_t p, unsigned type, uint8_t bus, unsigned n, const uint8_t *path)
{
    unsigned len = SCOPE_HDR_LEN + 2 * n;
    tbl[p] = (uint8_t)type;
    tbl[p + 1] = (uint8_t)len;
    tbl[p + SCOPE_OFF_START_BUS] = bus;
    memcpy(tbl + p + SCOPE_HDR_LEN, path, 2 * n);
    return len;
}

/* A fake topology: 00:1c.0 is a bridge to buses 2-4, 02:00.0 a bridge to bus 3, 00:1b.0 a
 * bridge to buses 5-6. */
static bool bridge(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint8_t *sec,
                   uint8_t *sub)
{
    if (bus == 0 && devfn == (0x1c << 3)) {
        *sec = 2, *sub = 4;
        return true;
    }
    if (bus == 0 && devfn == (0x1b << 3)) {
        *sec = 5, *sub = 6;
        return true;
    }
    if (bus == 2 && devfn == 0) {
        *sec = 3, *sub = 3;
        return true;
    }
    return false;
}

static struct vtd_dmar d;

TEST(good_table_every_structure)
{
    begin();
    static const uint8_t gfx[] = { 2, 0 }, sub[] = { 0x1b, 0 }, ep[] = { 0x1c, 0, 0, 0, 5, 1 };
    size_t p = add_drhd(0xfed90000, 0, false, 2 * 8);
    scope(p, SCOPE_PCI_ENDPOINT, 0, 1, gfx);
    scope(p + 8, SCOPE_PCI_SUB_HIERARCHY, 0, 1, sub);
    p = add_drhd(0xfed91000, 0, false, 12);
    scope(p, SCOPE_PCI_ENDPOINT, 0, 3, ep);           /* 00:1c.0 -> 02:00.0 -> 03:05.1 */
    add_drhd(0xfed92000, 0, true, 0);
    size_t r = add(DMAR_TYPE_RMRR, RMRR_LEN + 8);
    put(r + RMRR_OFF_BASE, 0x7c000000, 8);
    put(r + RMRR_OFF_LIMIT, 0x7c0fffff, 8);
    scope(r + RMRR_LEN, SCOPE_PCI_ENDPOINT, 0, 1, gfx);
    size_t a = add(DMAR_TYPE_ATSR, ATSR_LEN + 8);
    tbl[a + ATSR_OFF_FLAGS] = ATSR_FLAG_ALL_PORTS;
    scope(a + ATSR_LEN, SCOPE_PCI_SUB_HIERARCHY, 0, 1, sub);
    size_t s = add(DMAR_TYPE_SATC, SATC_LEN + 8);
    tbl[s + SATC_OFF_FLAGS] = SATC_FLAG_ATC_REQUIRED;
    scope(s + SATC_LEN, SCOPE_PCI_ENDPOINT, 0, 1, gfx);
    size_t h = add(DMAR_TYPE_RHSA, RHSA_LEN);
    put(h + RHSA_OFF_BASE, 0xfed91000, 8);
    put(h + RHSA_OFF_PROXIMITY, 3, 4);
    end();

    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.haw, 39);
    CHECK_EQ(d.nr_units, 3);
    CHECK_EQ(d.nr_rmrr, 1);
    CHECK_EQ(d.nr_atsr, 1);
    CHECK_EQ(d.nr_satc, 1);
    CHECK_EQ(d.nr_rejected, 0);
    CHECK(d.atsr[0].flag && d.satc[0].flag);
    CHECK(d.unit[1].has_rhsa && d.unit[1].proximity == 3);
    CHECK(d.unit[2].include_all);
    CHECK_EQ(d.rmrr[0].limit, 0x7c0fffff);
    /* Matching: the endpoint, the sub-hierarchy (bridge itself and below), the deep path,
     * everything else to INCLUDE_PCI_ALL. */
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 0, 2 << 3, bridge, NULL), 0);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 0, 0x1b << 3, bridge, NULL), 0);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 6, 0, bridge, NULL), 0);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 4, 0, bridge, NULL), 2);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 3, 5 << 3 | 1, bridge, NULL), 1);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 0, 3 << 3, bridge, NULL), 2);
    CHECK_EQ(vtd_dmar_unit_for(&d, 1, 0, 3 << 3, bridge, NULL), -ENODEV);
    CHECK(vtd_scopes_match(&d.rmrr[0].scopes, 0, 0, 0, 2 << 3, bridge, NULL));
    CHECK(!vtd_scopes_match(&d.rmrr[0].scopes, 0, 0, 0, 3 << 3, bridge, NULL));
}

TEST(qemu_like_table)
{
    begin();
    size_t p = add_drhd(0xfed90000, 0, true, 8);
    static const uint8_t ioapic[] = { 0, 0 };
    scope(p, SCOPE_IOAPIC, 0xf0, 1, ioapic);
    end();
    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.nr_units, 1);
    CHECK_EQ(d.unit[0].scopes.n, 1);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 0, 3 << 3, NULL, NULL), 0);
}

/* Each hostile table: the bad structure is rejected, good ones around it are kept. */
TEST(scope_past_end_of_structure)
{
    begin();
    size_t p = add_drhd(0xfed90000, 0, false, 8);
    static const uint8_t ep[] = { 2, 0 };
    scope(p, SCOPE_PCI_ENDPOINT, 0, 1, ep);
    tbl[p + 1] = 40;                                /* claims 40 bytes, structure has 8 */
    add_drhd(0xfed91000, 0, true, 0);
    end();
    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.nr_units, 1);
    CHECK_EQ(d.unit[0].base, 0xfed91000);
    CHECK_EQ(d.nr_rejected, 1);
}

TEST(scope_bad_lengths)
{
    static const uint8_t ep[] = { 2, 0 };
    for (unsigned bad = 0; bad < 3; bad++) {
        begin();
        size_t p = add_drhd(0xfed90000, 0, false, 8);
        scope(p, SCOPE_PCI_ENDPOINT, 0, 1, ep);
        tbl[p + 1] = (uint8_t)(bad == 0 ? 0 : bad == 1 ? 7 : 6);   /* zero, odd, empty path */
        end();
        CHECK_EQ(vtd_dmar_parse(tbl, tlen, &d), -EINVAL);       /* no unit left */
        CHECK_EQ(d.nr_rejected, 1);
    }
    begin();
    size_t p = add_drhd(0xfed90000, 0, false, 8);
    static const uint8_t bad_dev[] = { 40, 0 };
    scope(p, SCOPE_PCI_ENDPOINT, 0, 1, bad_dev);
    end();
    CHECK_EQ(vtd_dmar_parse(tbl, tlen, &d), -EINVAL);
}

TEST(zero_length_structure_stops_walk)
{
    begin();
    add_drhd(0xfed90000, 0, true, 0);
    add(DMAR_TYPE_RMRR, 0);
    tlen += 24;                                     /* garbage after it is never read */
    memset(tbl + tlen - 24, 0xff, 24);
    end();
    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.nr_units, 1);
    CHECK_EQ(d.nr_rmrr, 0);
    CHECK_EQ(d.nr_rejected, 1);
}

TEST(structure_past_end_of_table)
{
    begin();
    add_drhd(0xfed90000, 0, true, 0);
    size_t o = add(DMAR_TYPE_DRHD, DRHD_LEN);
    put(o + 2, 200, 2);
    end();
    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.nr_units, 1);
    CHECK_EQ(d.nr_rejected, 1);
}

TEST(overlapping_and_zero_base_units)
{
    begin();
    add_drhd(0xfed90000, 0, true, 0);
    add_drhd(0xfed90000, 1, true, 0);               /* same registers */
    add_drhd(0, 2, true, 0);                        /* zero base */
    add_drhd(0xfed93004, 3, true, 0);               /* misaligned */
    add_drhd(0xfed94000, 0, true, 0);               /* second catch-all on segment 0 */
    add_drhd(0xfed95000, 5, false, 0);              /* no scope, not catch-all */
    end();
    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.nr_units, 1);
    CHECK_EQ(d.nr_rejected, 5);
}

TEST(bad_rmrr_and_rhsa)
{
    static const uint8_t ep[] = { 2, 0 };
    begin();
    add_drhd(0xfed90000, 0, true, 0);
    uint64_t ranges[][2] = { { 0x1000, 0xfff }, { 0x1001, 0x1fff }, { 0x2000, 0x2ffe },
                             { 0xfee00000, 0xfee00fff }, { 0x3000, 0x3fff } };
    for (unsigned i = 0; i < 5; i++) {
        size_t r = add(DMAR_TYPE_RMRR, RMRR_LEN + 8);
        put(r + RMRR_OFF_BASE, ranges[i][0], 8);
        put(r + RMRR_OFF_LIMIT, ranges[i][1], 8);
        scope(r + RMRR_LEN, SCOPE_PCI_ENDPOINT, 0, 1, ep);
    }
    size_t h = add(DMAR_TYPE_RHSA, RHSA_LEN);
    put(h + RHSA_OFF_BASE, 0xdead0000, 8);
    add(DMAR_TYPE_RMRR, 8);                         /* too short for its fixed fields */
    end();
    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.nr_rmrr, 1);
    CHECK_EQ(d.rmrr[0].base, 0x3000);
    CHECK_EQ(d.nr_rejected, 6);
}

TEST(truncated_header)
{
    begin();
    end();
    CHECK_EQ(vtd_dmar_parse(tbl, 40, &d), -EINVAL);
    CHECK_EQ(vtd_dmar_parse(NULL, 0, &d), -EINVAL);
    tbl[DMAR_OFF_HAW] = 0;
    CHECK_EQ(vtd_dmar_parse(tbl, tlen, &d), -EINVAL);
}

/* Random bytes after a valid header: the parser never reads out of bounds (ASan) and never
 * keeps a unit with a zero base. */
TEST(random_garbage)
{
    uint32_t x = 12345;
    for (unsigned iter = 0; iter < 20000; iter++) {
        begin();
        size_t n = 4 + (x % 200);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245 + 12345;
            tbl[tlen + i] = (uint8_t)(x >> 16);
        }
        /* bias towards plausible structure types */
        tbl[tlen] = (uint8_t)(tbl[tlen] % 7);
        tbl[tlen + 1] = 0;
        tlen += n;
        end();
        if (vtd_dmar_parse(tbl, tlen, &d) == 0)
            for (unsigned u = 0; u < d.nr_units; u++)
                CHECK(d.unit[u].base != 0);
    }
}

TEST(two_units_claim_one_device)
{
    static const uint8_t ep[] = { 2, 0 }, other[] = { 3, 0 };
    begin();
    size_t p = add_drhd(0xfed90000, 0, false, 8);
    scope(p, SCOPE_PCI_ENDPOINT, 0, 1, ep);
    p = add_drhd(0xfed91000, 0, false, 16);
    scope(p, SCOPE_PCI_ENDPOINT, 0, 1, other);
    scope(p + 8, SCOPE_PCI_ENDPOINT, 0, 1, ep);     /* 00:02.0 again */
    add_drhd(0xfed92000, 0, true, 0);
    end();
    REQUIRE(vtd_dmar_parse(tbl, tlen, &d) == 0);
    CHECK_EQ(d.nr_units, 2);
    CHECK_EQ(d.nr_rejected, 1);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 0, 2 << 3, bridge, NULL), 0);
    CHECK_EQ(vtd_dmar_unit_for(&d, 0, 0, 3 << 3, bridge, NULL), 1);   /* the catch-all */
}
