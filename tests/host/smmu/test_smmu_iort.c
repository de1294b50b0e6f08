/* The IORT parser on synthetic tables: QEMU virt's layout (an ITS group, one SMMUv3, a root
 * complex mapping every requester ID to it, with QEMU's count-for-count-minus-one), a machine
 * with a bus that bypasses the SMMU, two segments and two units; then each hostile table,
 * refused by name with nothing kept. */
#include "iommu/arm-smmu-v3/iort.h"
#include "lib/errno.h"
#include "tests/host/harness.h"

static uint8_t tab[1024];
static size_t tlen;
static struct smmu_iort iort;
static const char *why;

static void put(size_t off, uint64_t v, unsigned n)
{
    memcpy(tab + off, &v, n);
}

static void begin(void)
{
    memset(tab, 0, sizeof(tab));
    memcpy(tab, "IORT", 4);
    put(8, 3, 1);                       /* revision */
    tlen = IORT_HEADER_LEN;
    put(IORT_OFF_NODE_ARRAY, IORT_HEADER_LEN, 4);
}

/* Appends a node of type with data_len bytes after its header and nmaps mappings; its offset. */
static size_t node(uint8_t type, size_t data_len, uint32_t nmaps)
{
    size_t off = tlen;
    size_t len = IORT_NODE_DATA + data_len + nmaps * IORT_MAP_LEN;
    tab[off] = type;
    put(off + IORT_NODE_OFF_LENGTH, len, 2);
    put(off + IORT_NODE_OFF_MAP_COUNT, nmaps, 4);
    put(off + IORT_NODE_OFF_MAP_ARRAY, nmaps ? IORT_NODE_DATA + data_len : 0, 4);
    tlen += len;
    uint32_t count;
    memcpy(&count, tab + IORT_OFF_NODE_COUNT, 4);
    put(IORT_OFF_NODE_COUNT, count + 1, 4);
    return off;
}

static void mapping(size_t node_off, unsigned i, uint32_t in, uint32_t count, uint32_t out,
                    uint32_t ref, uint32_t flags)
{
    uint32_t map_off;
    memcpy(&map_off, tab + node_off + IORT_NODE_OFF_MAP_ARRAY, 4);
    size_t m = node_off + map_off + i * IORT_MAP_LEN;
    put(m + IORT_MAP_OFF_INPUT, in, 4);
    put(m + IORT_MAP_OFF_COUNT, count, 4);
    put(m + IORT_MAP_OFF_OUTPUT, out, 4);
    put(m + IORT_MAP_OFF_REF, ref, 4);
    put(m + IORT_MAP_OFF_FLAGS, flags, 4);
}

static size_t its_group(void)
{
    size_t o = node(IORT_NODE_ITS_GROUP, 8, 0);
    put(o + IORT_NODE_DATA, 1, 4);      /* one ITS, identifier 0 */
    return o;
}

static size_t smmu3(uint64_t base, uint32_t gsiv0, uint32_t nmaps)
{
    size_t o = node(IORT_NODE_SMMU_V3, IORT_SMMU3_LEN_MIN + 8 - IORT_NODE_DATA, nmaps);
    put(o + IORT_SMMU3_OFF_BASE, base, 8);
    put(o + IORT_SMMU3_OFF_FLAGS, IORT_SMMU3_COHACC, 4);
    for (unsigned i = 0; i < 4; i++)
        put(o + IORT_SMMU3_OFF_GSIV + 4 * i, gsiv0 + i, 4);
    return o;
}

static size_t root_complex(uint32_t seg, uint32_t nmaps)
{
    size_t o = node(IORT_NODE_ROOT_COMPLEX, IORT_RC_LEN_MIN - IORT_NODE_DATA, nmaps);
    put(o + IORT_RC_OFF_SEGMENT, seg, 4);
    return o;
}

static int parse(void)
{
    put(4, tlen, 4);
    return smmu_iort_parse(tab, tlen, &iort, &why);
}

/* QEMU 10 virt, iommu=smmuv3: ITS group, SMMUv3 at 0x09050000 (SPIs 74-77), root complex
 * segment 0 with RIDs 0..0xffff to the SMMU (id_count 0x10000: a count, not count - 1). */
static void qemu_virt(void)
{
    begin();
    size_t its = its_group();
    size_t s = smmu3(0x09050000, 106, 1);
    mapping(s, 0, 0, 0xffff, 0, (uint32_t)its, 0);  /* the SMMU's own MSIs (unused) */
    size_t rc = root_complex(0, 1);
    mapping(rc, 0, 0, 0x10000, 0, (uint32_t)s, 0);
}

TEST(qemu_virt_layout)
{
    qemu_virt();
    REQUIRE(parse() == 0);
    CHECK(why == NULL);
    CHECK_EQ(iort.nr_units, 1);
    CHECK_EQ(iort.unit[0].base, 0x09050000);
    CHECK(iort.unit[0].coherent);
    CHECK_EQ(iort.unit[0].gsiv[SMMU_IRQ_EVENTQ], 106);
    CHECK_EQ(iort.unit[0].gsiv[SMMU_IRQ_GERROR], 108);
    CHECK_EQ(iort.nr_maps, 1);
    uint32_t sid = 0;
    CHECK_EQ(smmu_iort_lookup(&iort, 0, 0x0018, &sid), 0);
    CHECK_EQ(sid, 0x18);
    CHECK_EQ(smmu_iort_lookup(&iort, 0, 0xffff, &sid), 0);
    CHECK_EQ(sid, 0xffff);
    CHECK_EQ(smmu_iort_lookup(&iort, 1, 0x0018, &sid), -ENODEV);
}

/* A pxb bus 0x80-0x8f that bypasses the SMMU: QEMU splits the root complex's IDs, the bypass
 * range going straight to the ITS; the boundary IDs belong to the range that starts there. */
TEST(bypass_range_goes_to_its)
{
    begin();
    size_t its = its_group();
    size_t s = smmu3(0x09050000, 106, 0);
    size_t rc = root_complex(0, 3);
    mapping(rc, 0, 0x0000, 0x8000, 0x0000, (uint32_t)s, 0);
    mapping(rc, 1, 0x8000, 0x1000, 0x8000, (uint32_t)its, 0);
    mapping(rc, 2, 0x9000, 0x7000, 0x9000, (uint32_t)s, 0);
    REQUIRE(parse() == 0);
    uint32_t sid;
    CHECK_EQ(smmu_iort_lookup(&iort, 0, 0x7fff, &sid), 0);
    CHECK_EQ(smmu_iort_lookup(&iort, 0, 0x8000, &sid), -1);    /* untranslated */
    CHECK_EQ(smmu_iort_lookup(&iort, 0, 0x8fff, &sid), -1);
    CHECK_EQ(smmu_iort_lookup(&iort, 0, 0x9000, &sid), 0);
    CHECK_EQ(sid, 0x9000);
}

TEST(two_units_two_segments_offset_streams)
{
    begin();
    size_t s0 = smmu3(0x09050000, 106, 0);
    size_t s1 = smmu3(0x0a000000, 200, 0);
    size_t rc0 = root_complex(0, 1);
    mapping(rc0, 0, 0, 0xffff, 0x10000, (uint32_t)s0, 0);
    size_t rc1 = root_complex(1, 1);
    mapping(rc1, 0, 0, 0xffff, 0, (uint32_t)s1, 0);
    REQUIRE(parse() == 0);
    CHECK_EQ(iort.nr_units, 2);
    uint32_t sid;
    CHECK_EQ(smmu_iort_lookup(&iort, 0, 0x0100, &sid), 0);
    CHECK_EQ(sid, 0x10100);
    CHECK_EQ(smmu_iort_lookup(&iort, 1, 0x0100, &sid), 1);
    CHECK_EQ(sid, 0x0100);
}

/* A node type moat does not know (a PMCG, an RMR, a future one) is stepped over. */
TEST(unknown_nodes_skipped)
{
    qemu_virt();
    node(IORT_NODE_PMCG, 24, 0);
    node(0x42, 4, 0);
    REQUIRE(parse() == 0);
    CHECK_EQ(iort.nr_units, 1);
}

static void expect_refused(const char *what, const char *want)
{
    int err = parse();
    if (err != -EINVAL || !why || !strstr(why, want))
        printf("    case %s: err %d why \"%s\"\n", what, err, why ? why : "(none)");
    CHECK_EQ(err, -EINVAL);
    CHECK(why && strstr(why, want));
    CHECK_EQ(iort.nr_units, 0);         /* nothing of a refused table is kept */
    CHECK_EQ(iort.nr_maps, 0);
}

TEST(hostile_tables)
{
    qemu_virt();
    memcpy(tab, "IVRS", 4);
    expect_refused("signature", "not an IORT");

    qemu_virt();
    put(4, tlen, 4);
    CHECK_EQ(smmu_iort_parse(tab, tlen - 1, &iort, &why), -EINVAL);     /* length > data */
    CHECK(why && strstr(why, "length field"));

    qemu_virt();
    put(IORT_OFF_NODE_ARRAY, 8, 4);
    expect_refused("node array in header", "node array");

    qemu_virt();
    put(IORT_OFF_NODE_COUNT, 0x7fffffff, 4);
    expect_refused("node count", "more nodes");

    qemu_virt();
    put(IORT_OFF_NODE_COUNT, 4, 4);     /* one node more than there is */
    expect_refused("node past the end", "past the end");

    qemu_virt();
    put(IORT_HEADER_LEN + IORT_NODE_OFF_LENGTH, 4, 2);
    expect_refused("node length below header", "length");

    qemu_virt();
    put(IORT_HEADER_LEN + 24 + IORT_NODE_OFF_MAP_COUNT, 1000, 4);   /* the SMMU node's */
    expect_refused("mappings outside node", "ID mappings lie outside");

    begin();
    size_t s = node(IORT_NODE_SMMU_V3, 8, 0);
    (void)s;
    expect_refused("short SMMU node", "too short");

    begin();
    smmu3(0x09058000, 106, 0);
    expect_refused("unaligned base", "64 KiB aligned");

    begin();
    size_t its = its_group();
    size_t rc = root_complex(0, 1);
    mapping(rc, 0, 0, 0xffff, 0, (uint32_t)rc, 0);       /* to itself */
    (void)its;
    expect_refused("bad reference", "not an SMMUv3 or ITS");

    begin();
    s = smmu3(0x09050000, 106, 0);
    rc = root_complex(0, 1);
    mapping(rc, 0, 0, 0xffff, 0, (uint32_t)s + 4, 0);    /* inside a node, not its start */
    expect_refused("reference inside node", "not an SMMUv3 or ITS");

    begin();
    s = smmu3(0x09050000, 106, 0);
    rc = root_complex(0, 1);
    mapping(rc, 0, 0x18, 0, 0x18, (uint32_t)s, IORT_MAP_SINGLE);
    expect_refused("single mapping on RC", "single-ID");

    begin();
    s = smmu3(0x09050000, 106, 0);
    rc = root_complex(0, 1);
    mapping(rc, 0, 0xfffffff0, 0x20, 0, (uint32_t)s, 0);
    expect_refused("wrapping range", "wraps");

    begin();
    s = smmu3(0x09050000, 106, 0);
    its = its_group();
    rc = root_complex(0, 2);
    mapping(rc, 0, 0x0000, 0x1000, 0, (uint32_t)s, 0);
    mapping(rc, 1, 0x0800, 0x1000, 0, (uint32_t)its, 0);   /* 0x800 IDs with two routes */
    expect_refused("overlap", "overlap");

    begin();
    s = smmu3(0x09050000, 106, 0);
    its = its_group();
    rc = root_complex(0, 2);
    mapping(rc, 0, 0x0000, 0x1000, 0, (uint32_t)s, 0);
    mapping(rc, 1, 0x0010, 0, 0, (uint32_t)its, 0);        /* one ID inside another range */
    expect_refused("single ID inside", "overlap");
}
