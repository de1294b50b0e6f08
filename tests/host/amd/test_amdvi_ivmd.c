/* IVMD blocks (IVRS types 20h, 21h, 22h): which the parser keeps, the exact message for each
 * hostile one, and the identity mappings they become in a real AMD-Vi v1 page table — with the
 * block's permissions, in every domain of the devices named, all or nothing. QEMU's amd-iommu
 * emits no IVMD, so these tests are the coverage. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "iommu/amd/amdvi_hw.h"
#include "iommu/amd/ivrs.h"
#include "iommu/pgtable/pgtable.h"
#include "lib/errno.h"
#include "tests/host/amd/ivrs_build.h"
#include "tests/host/harness.h"
#include "tests/host/pgtable/pt_test_util.h"

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

/* ---- mappings ---- */

static struct tmem tm;
static struct flush_log fl;

static void pt_setup(struct pgtable *pt, unsigned ias)
{
    struct pgtable_cfg cfg = { .fmt = PGTABLE_FMT_AMD_V1, .ias = ias };
    tmem_init(&tm, 1024);
    fl.tm = &tm;
    flush_log_reset(&fl);
    REQUIRE(pgtable_init(pt, &cfg, &tmem_ops, &tm, &flush_log_ops, &fl) == 0);
}

static void pt_teardown(struct pgtable *pt)
{
    pgtable_destroy(pt);
    CHECK_EQ(tm.live, 0);
    tmem_fini(&tm);
}

/* pa and R/W permission at iova, or -1 when nothing is mapped there. */
static int64_t at(const struct pgtable *pt, uint64_t iova, uint32_t *prot)
{
    struct pgtable_xlate x;
    if (pgtable_translate(pt, iova, &x))
        return -1;
    *prot = x.prot & (R | W);
    return (int64_t)x.pa;
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
    struct pgtable pt;
    uint32_t prot = 0;
    parse_mixed();
    pt_setup(&pt, 48);
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0010), 0);
    CHECK_EQ(at(&pt, 0xa0000, &prot), 0xa0000);
    CHECK_EQ(prot, R | W);
    CHECK_EQ(at(&pt, 0xbf000, &prot), 0xbf000);
    CHECK_EQ(at(&pt, 0xc0000, &prot), -1);
    CHECK_EQ(at(&pt, 0x7f000000, &prot), 0x7f000000);
    CHECK_EQ(prot, R);                                  /* IR only */
    CHECK_EQ(at(&pt, 0x7f0ff000, &prot), 0x7f0ff000);
    CHECK_EQ(at(&pt, 0x80000000, &prot), -1);           /* bus 1's, not 00:02.0's */
    CHECK_EQ(at(&pt, 0x90000000, &prot), -1);
    /* Idempotent: an attach to the domain the device is already on. */
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0010), 0);
    /* A second device joins the domain: its own blocks are added, the shared 20h stays. */
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0185), 0);
    CHECK_EQ(at(&pt, 0x80000000, &prot), 0x80000000);
    CHECK_EQ(prot, R | W);                              /* exclusion range */
    CHECK_EQ(at(&pt, 0x901ff000, &prot), 0x901ff000);
    CHECK_EQ(prot, W);                                  /* IW only */
    CHECK_EQ(at(&pt, 0x7f000000, &prot), 0x7f000000);   /* 0x0010's, still there */
    pt_teardown(&pt);
    /* A device no block names specifically gets only the 20h memory; another segment none. */
    pt_setup(&pt, 48);
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0120), 0);
    CHECK_EQ(at(&pt, 0xa0000, &prot), 0xa0000);
    CHECK_EQ(at(&pt, 0x80000000, &prot), 0x80000000);
    CHECK_EQ(at(&pt, 0x90000000, &prot), -1);
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 1, 0x0010), 0);
    CHECK_EQ(at(&pt, 0x7f000000, &prot), -1);
    pt_teardown(&pt);
}

TEST(a_conflict_leaves_nothing_behind)
{
    struct pgtable pt;
    uint32_t prot = 0;
    parse_mixed();
    /* Something else where 00:02.0's 21h block must go: the 20h block mapped just before it
     * is taken out again. */
    pt_setup(&pt, 48);
    REQUIRE(pgtable_map(&pt, 0x7f080000, 0x12340000, 0x1000, R | W) == 0);
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0010), -EEXIST);
    CHECK_EQ(at(&pt, 0xa0000, &prot), -1);
    CHECK_EQ(at(&pt, 0x7f000000, &prot), -1);
    CHECK_EQ(at(&pt, 0x7f080000, &prot), 0x12340000);
    REQUIRE(pgtable_unmap(&pt, 0x7f080000, 0x1000, 0) == 0);
    pt_teardown(&pt);
    /* The same range mapped 1:1 but with other permissions is not "in place". */
    pt_setup(&pt, 48);
    REQUIRE(pgtable_map(&pt, 0x7f000000, 0x7f000000, 0x100000, R | W) == 0);
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0010), -EEXIST);
    CHECK_EQ(at(&pt, 0xa0000, &prot), -1);
    pt_teardown(&pt);
    /* A domain too narrow for a block: -ERANGE, nothing mapped. */
    one_unit();
    ivmd(IVRS_TYPE_IVMD_ALL, UNITY_RW, 0, 0, 0xa0000, 0x20000);
    ivmd(IVRS_TYPE_IVMD_ONE, UNITY_RW, 0x0010, 0, 0x100000000ULL, 0x1000);
    REQUIRE(parse() == 0 && iv.nr_ivmd == 2);
    pt_setup(&pt, 32);
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0010), -ERANGE);
    CHECK_EQ(at(&pt, 0xa0000, &prot), -1);
    CHECK_EQ(amdvi_ivmd_map_domain(&iv, &pt, 0, 0x0100), 0);    /* 20h only: fits */
    CHECK_EQ(at(&pt, 0xa0000, &prot), 0xa0000);
    pt_teardown(&pt);
}
