/* IVMD blocks (IVRS types 20h, 21h, 22h): which the parser keeps, the exact message for each
 * hostile one, and the DIRECT reserved regions they become for exactly the devices they name,
 * with the block's permissions (the core maps those 1:1, all or nothing: test_vtd_rmrr checks
 * that part). QEMU's amd-iommu emits no IVMD, so these tests are the coverage. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "iommu/amd/amdvi_hw.h"
#include "iommu/amd/ivrs.h"
#include "iommu/iommu.h"
#include "lib/string.h"
#include "lib/errno.h"
#include "tests/host/amd/ivrs_build.h"
#include "tests/host/harness.h"

#define R PGTABLE_PROT_READ
#define W PGTABLE_PROT_WRITE
#define UNITY_RW (IVMD_FLAG_UNITY | IVMD_FLAG_IR | IVMD_FLAG_IW)

static char logbuf[8192];

/* parse(), with what it printed in logbuf. */
static int parse_logged(void)
{
    fflush(stdout);
    FILE *f = tmpfile();
    int saved = dup(1);
    dup2(fileno(f), 1);
    int ret = parse();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(f);
    size_t n = fread(logbuf, 1, sizeof(logbuf) - 1, f);
    logbuf[n] = 0;
    fclose(f);
    return ret;
}

/* One IOMMU on segment 0 translating 00:02.0 (0x0010) and bus 1 (0x0100-0x01ff). */
static void one_unit(void)
{
    begin();
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_SELECT, 0x0010, 0);
    ent4(IVHD_DEV_RANGE_START, 0x0100, 0);
    ent4(IVHD_DEV_RANGE_END, 0x01ff, 0);
    ivhd_end(o);
}

/* ---- parsing ---- */

TEST(all_three_types_are_kept)
{
    one_unit();
    size_t o20 = ivmd(IVRS_TYPE_IVMD_ALL, UNITY_RW, 0x1234, 0x5678, 0xa0000, 0x20000);
    size_t o21 = ivmd(IVRS_TYPE_IVMD_ONE, IVMD_FLAG_UNITY | IVMD_FLAG_IR, 0x0010, 0,
                      0x7f000000, 0x100000);
    size_t o22 = ivmd(IVRS_TYPE_IVMD_RANGE, IVMD_FLAG_EXCL, 0x0100, 0x01ff, 0x80000000, 0x1000);
    ivmd(IVRS_TYPE_IVMD_RANGE, IVMD_FLAG_UNITY | IVMD_FLAG_IW, 0x0180, 0x0190, 0x90000000,
         0x200000);
    REQUIRE(parse_logged() == 0);
    CHECK_EQ(iv.nr_rejected, 0);
    REQUIRE(iv.nr_ivmd == 4);
    const struct amdvi_ivmd *m = iv.ivmd;
    /* 20h: every device of the segment (its DeviceID fields are reserved, not read). */
    CHECK_EQ(m[0].type, IVRS_TYPE_IVMD_ALL);
    CHECK_EQ(m[0].first, 0);
    CHECK_EQ(m[0].last, 0xffff);
    CHECK_EQ(m[0].start, 0xa0000);
    CHECK_EQ(m[0].last_addr, 0xbffff);
    CHECK_EQ(m[0].off, o20);
    CHECK_EQ(amdvi_ivmd_prot(&m[0]), R | W);
    CHECK_EQ(m[1].type, IVRS_TYPE_IVMD_ONE);
    CHECK(m[1].first == 0x0010 && m[1].last == 0x0010);
    CHECK_EQ(m[1].last_addr, 0x7f0fffff);
    CHECK_EQ(m[1].off, o21);
    CHECK_EQ(amdvi_ivmd_prot(&m[1]), R);
    CHECK_EQ(m[2].type, IVRS_TYPE_IVMD_RANGE);
    CHECK(m[2].first == 0x0100 && m[2].last == 0x01ff);
    CHECK_EQ(m[2].off, o22);
    CHECK_EQ(amdvi_ivmd_prot(&m[2]), R | W);            /* exclusion range: every access */
    CHECK_EQ(amdvi_ivmd_prot(&m[3]), W);
    CHECK(amdvi_ivmd_covers(&m[3], 0, 0x0185) && !amdvi_ivmd_covers(&m[3], 0, 0x0191));
    CHECK(!amdvi_ivmd_covers(&m[0], 1, 0x0010));        /* other segment */
    CHECK(!strstr(logbuf, "rejected"));
}

/* The same memory for two different devices is not an overlap; a 22h range is kept when part
 * of it is translated; IVMD blocks before the IVHD are judged once the IVHD is known. */
TEST(shared_memory_partial_ranges_and_order)
{
    begin();
    ivmd(IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0010, 0, 0x100000, 0x1000);
    size_t o = ivhd(IVRS_TYPE_IVHD11, 0x0002, 0xfeb80000);
    ent4(IVHD_DEV_SELECT, 0x0010, 0);
    ent4(IVHD_DEV_SELECT, 0x0011, 0);
    ent4(IVHD_DEV_RANGE_START, 0x0100, 0);
    ent4(IVHD_DEV_RANGE_END, 0x01ff, 0);
    ivhd_end(o);
    ivmd(IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0011, 0, 0x100000, 0x1000);
    ivmd(IVRS_TYPE_IVMD_RANGE, UNITY_RW, 0x01f0, 0x02ff, 0x200000, 0x1000);
    REQUIRE(parse_logged() == 0);
    CHECK_EQ(iv.nr_rejected, 0);
    CHECK_EQ(iv.nr_ivmd, 3);
}

struct bad_ivmd {
    const char *what;
    uint8_t type, flags;
    uint16_t devid, aux;
    uint64_t start, len;
    uint16_t seg;
    const char *why;            /* the message's reason; "%x" is the good block's offset */
};

static const struct bad_ivmd bad_cases[] = {
    { "zero length", IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0010, 0, 0x400000, 0, 0,
      "memory block of length zero" },
    { "unaligned start", IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0010, 0, 0x400800, 0x1000, 0,
      "start or length not 4 KiB aligned" },
    { "unaligned length", IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0010, 0, 0x400000, 0x1800, 0,
      "start or length not 4 KiB aligned" },
    { "wraps past 2^64", IVRS_TYPE_IVMD_ALL, UNITY_RW, 0, 0, ~0xfffULL, 0x2000, 0,
      "memory block wraps around" },
    { "past the physical address size", IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0010, 0,
      (1ULL << 40) - 0x1000, 0x2000, 0, "memory block beyond the physical address size" },
    { "interrupt window", IVRS_TYPE_IVMD_ALL, UNITY_RW, 0, 0, 0xfee00000, 0x1000, 0,
      "overlaps the interrupt address range" },
    { "range end below start", IVRS_TYPE_IVMD_RANGE, UNITY_RW, 0x0180, 0x0170, 0x400000,
      0x1000, 0, "device range end below its start" },
    { "no kind", IVRS_TYPE_IVMD_ONE, IVMD_FLAG_IR, 0x0010, 0, 0x400000, 0x1000, 0,
      "neither a unity mapping nor an exclusion range" },
    { "unity without access", IVRS_TYPE_IVMD_ONE, IVMD_FLAG_UNITY, 0x0010, 0, 0x400000,
      0x1000, 0, "unity mapping with neither read nor write permission" },
    { "unknown device", IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0020, 0, 0x400000, 0x1000, 0,
      "names device IDs 0000:0020-0020, none of which an IVHD translates" },
    { "the IOMMU itself", IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0002, 0, 0x400000, 0x1000, 0,
      "names device IDs 0000:0002-0002, none of which an IVHD translates" },
    { "unknown device range", IVRS_TYPE_IVMD_RANGE, UNITY_RW, 0x0300, 0x03ff, 0x400000,
      0x1000, 0, "names device IDs 0000:0300-03ff, none of which an IVHD translates" },
    { "unknown segment", IVRS_TYPE_IVMD_ALL, UNITY_RW, 0, 0, 0x400000, 0x1000, 1,
      "names device IDs 0001:0000-ffff, none of which an IVHD translates" },
    { "overlap, same device", IVRS_TYPE_IVMD_ONE, IVMD_FLAG_UNITY | IVMD_FLAG_IR, 0x0010, 0,
      0x2ff000, 0x2000, 0, "overlaps the IVMD at offset %#x for a common device" },
    { "overlap through a range", IVRS_TYPE_IVMD_RANGE, UNITY_RW, 0x0000, 0x00ff, 0x300000,
      0x1000, 0, "overlaps the IVMD at offset %#x for a common device" },
    { "overlap through 20h", IVRS_TYPE_IVMD_ALL, UNITY_RW, 0, 0, 0x280000, 0x100000, 0,
      "overlaps the IVMD at offset %#x for a common device" },
};

/* Each hostile block after a good one (21h, 0x300000-0x300fff for 0x0010): exactly it is
 * rejected, with its offset and reason, and the good one is kept unchanged. */
TEST(hostile_blocks_are_rejected_by_name)
{
    for (unsigned i = 0; i < ARRAY_SIZE(bad_cases); i++) {
        const struct bad_ivmd *c = &bad_cases[i];
        one_unit();
        size_t good = ivmd(IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0010, 0, 0x300000, 0x1000);
        size_t bad = ivmd(c->type, c->flags, c->devid, c->aux, c->start, c->len);
        put(bad + IVMD_OFF_SEG, c->seg, 2);
        REQUIRE(parse_logged() == 0);
        char why[160], want[256];
        snprintf(why, sizeof(why), c->why, (unsigned)good);
        snprintf(want, sizeof(want), "ivrs: IVMD type %02xh (%#x) at offset %#zx rejected: %s\n",
                 c->type, c->type, bad, why);
        CHECK_EQ(iv.nr_rejected, 1);
        CHECK_EQ(iv.nr_ivmd, 1);
        CHECK_EQ(iv.ivmd[0].off, good);
        CHECK_EQ(iv.ivmd[0].start, 0x300000);
        if (strcmp(logbuf, want))
            fprintf(stderr, "  logged: %s  wanted: %s", logbuf, want);
        CHECK(strcmp(logbuf, want) == 0);
        if (host_test_failures)
            fprintf(stderr, "  (case %u: %s)\n", i, c->what);
    }
}

/* ---- the regions each device gets ---- */

/* The regions amdvi_ivmd_regions gives (seg, devid), into out (n of them). */
static struct iommu_resv_region out[8];
static unsigned regions_of(uint16_t seg, uint16_t devid)
{
    unsigned n = 0;
    memset(out, 0, sizeof(out));
    CHECK_EQ(amdvi_ivmd_regions(&iv, seg, devid, out, &n, 8), 0);
    return n;
}

/* Is [start, last] with prot among out[0..n), as a DIRECT region? */
static bool has_region(unsigned n, uint64_t start, uint64_t last, uint32_t prot)
{
    for (unsigned i = 0; i < n; i++)
        if (out[i].start == start && out[i].last == last && out[i].prot == prot &&
            out[i].type == IOMMU_RESV_DIRECT)
            return true;
    return false;
}

static void parse_mixed(void)
{
    one_unit();
    ivmd(IVRS_TYPE_IVMD_ALL, UNITY_RW, 0, 0, 0xa0000, 0x20000);
    ivmd(IVRS_TYPE_IVMD_ONE, IVMD_FLAG_UNITY | IVMD_FLAG_IR, 0x0010, 0, 0x7f000000, 0x100000);
    ivmd(IVRS_TYPE_IVMD_RANGE, IVMD_FLAG_EXCL, 0x0100, 0x01ff, 0x80000000, 0x1000);
    ivmd(IVRS_TYPE_IVMD_RANGE, IVMD_FLAG_UNITY | IVMD_FLAG_IW, 0x0180, 0x0190, 0x90000000,
         0x200000);
    REQUIRE(parse() == 0);
    REQUIRE(iv.nr_ivmd == 4);
}

TEST(each_device_gets_its_blocks_with_their_permissions)
{
    parse_mixed();
    /* 00:02.0: the 20h memory read-write and its own 21h block read-only, nothing of bus 1. */
    unsigned n = regions_of(0, 0x0010);
    CHECK_EQ(n, 2);
    CHECK(has_region(n, 0xa0000, 0xbffff, R | W));
    CHECK(has_region(n, 0x7f000000, 0x7f0fffff, R));
    /* 01:10.5: the 20h memory, the exclusion range of 0x100-0x1ff as read-write, and the
     * write-only unity block of 0x180-0x190. */
    n = regions_of(0, 0x0185);
    CHECK_EQ(n, 3);
    CHECK(has_region(n, 0xa0000, 0xbffff, R | W));
    CHECK(has_region(n, 0x80000000, 0x80000fff, R | W));
    CHECK(has_region(n, 0x90000000, 0x901fffff, W));
    /* 01:04.0: inside 0x100-0x1ff only. */
    n = regions_of(0, 0x0120);
    CHECK_EQ(n, 2);
    CHECK(has_region(n, 0xa0000, 0xbffff, R | W));
    CHECK(has_region(n, 0x80000000, 0x80000fff, R | W));
    /* Another segment: nothing. */
    CHECK_EQ(regions_of(1, 0x0010), 0);
}

TEST(regions_are_listed_once_and_bounded)
{
    parse_mixed();
    /* A second call for an alias of the same device adds nothing already listed. */
    unsigned n = regions_of(0, 0x0185);
    REQUIRE(n == 3);
    CHECK_EQ(amdvi_ivmd_regions(&iv, 0, 0x0186, out, &n, 8), 0);
    CHECK_EQ(n, 3);
    /* Too little room: -ENOSPC, never a write past max. */
    struct iommu_resv_region two[3];
    memset(two, 0xee, sizeof(two));
    n = 0;
    CHECK_EQ(amdvi_ivmd_regions(&iv, 0, 0x0185, two, &n, 2), -ENOSPC);
    CHECK_EQ(n, 2);
    CHECK_EQ(two[2].start, 0xeeeeeeeeeeeeeeeeULL);
}
