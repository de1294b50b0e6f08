/* ACPI IORT parsing (Arm DEN 0049). Two passes over a table whose every node was first checked
 * to lie inside it: the SMMUv3 nodes, then the root complexes' ID mappings, each of which must
 * point at an SMMUv3 or ITS group node that the first pass saw. A table that cannot be walked
 * completely, or whose mappings contradict each other, is refused whole with the reason named:
 * a half-understood map could send a device's DMA past the SMMU. */
#include "iommu/arm-smmu-v3/iort.h"
#include "lib/errno.h"
#include "lib/string.h"

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

#define IORT_MAX_ITS_GROUPS 8

struct iort_walk {
    const uint8_t *t;
    size_t len;
    struct smmu_iort *out;
    const char **why;
    unsigned nr_its;
    uint32_t its[IORT_MAX_ITS_GROUPS];  /* offsets of the ITS group nodes */
};

static int refuse(struct iort_walk *w, const char *why)
{
    *w->why = why;
    return -EINVAL;
}

/* The node at off, checked to lie in the table with its mapping array; its length. */
static int node_check(struct iort_walk *w, uint32_t off, uint32_t *node_len)
{
    if (off > w->len || w->len - off < IORT_NODE_DATA)
        return refuse(w, "a node header lies past the end of the table");
    const uint8_t *n = w->t + off;
    uint32_t len = rd16(n + IORT_NODE_OFF_LENGTH);
    if (len < IORT_NODE_DATA || len > w->len - off)
        return refuse(w, "a node's length is below its header or past the end of the table");
    uint32_t count = rd32(n + IORT_NODE_OFF_MAP_COUNT);
    uint32_t map_off = rd32(n + IORT_NODE_OFF_MAP_ARRAY);
    if (count && (map_off < IORT_NODE_DATA || map_off > len ||
                  (len - map_off) / IORT_MAP_LEN < count))
        return refuse(w, "a node's ID mappings lie outside the node");
    *node_len = len;
    return 0;
}

static int add_smmu(struct iort_walk *w, uint32_t off, uint32_t len)
{
    const uint8_t *n = w->t + off;
    if (len < IORT_SMMU3_LEN_MIN)
        return refuse(w, "an SMMUv3 node is too short for its fields");
    if (w->out->nr_units == SMMU_IORT_MAX_UNITS)
        return refuse(w, "more SMMUv3 nodes than moat takes (8)");
    uint64_t base = rd64(n + IORT_SMMU3_OFF_BASE);
    if (!base || (base & 0xffff))
        return refuse(w, "an SMMUv3 base address is zero or not 64 KiB aligned");
    struct smmu_iort_unit *u = &w->out->unit[w->out->nr_units++];
    u->base = base;
    u->node = off;
    u->model = rd32(n + IORT_SMMU3_OFF_MODEL);
    u->coherent = rd32(n + IORT_SMMU3_OFF_FLAGS) & IORT_SMMU3_COHACC;
    for (unsigned i = 0; i < 4; i++)
        u->gsiv[i] = rd32(n + IORT_SMMU3_OFF_GSIV + 4 * i);
    return 0;
}

/* Pass 1: every node inside the table; the SMMUv3 units. */
static int pass_nodes(struct iort_walk *w, uint32_t first, uint32_t count)
{
    uint32_t off = first;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len;
        int err = node_check(w, off, &len);
        if (err)
            return err;
        uint8_t type = w->t[off + IORT_NODE_OFF_TYPE];
        if (type == IORT_NODE_SMMU_V3 && (err = add_smmu(w, off, len)))
            return err;
        if (type == IORT_NODE_ITS_GROUP) {
            if (w->nr_its == IORT_MAX_ITS_GROUPS)
                return refuse(w, "more ITS group nodes than moat takes (8)");
            w->its[w->nr_its++] = off;
        }
        off += len;
    }
    return 0;
}

/* What a mapping's output reference names: an SMMUv3 unit's index, -1 for an ITS group. */
static int map_target(struct iort_walk *w, uint32_t ref, int *unit)
{
    for (unsigned i = 0; i < w->out->nr_units; i++) {
        if (w->out->unit[i].node == ref) {
            *unit = (int)i;
            return 0;
        }
    }
    for (unsigned i = 0; i < w->nr_its; i++) {
        if (w->its[i] == ref) {
            *unit = -1;
            return 0;
        }
    }
    return refuse(w, "a root complex maps IDs to something that is not an SMMUv3 or ITS node");
}

static int add_rc_map(struct iort_walk *w, uint32_t seg, const uint8_t *m)
{
    uint32_t in = rd32(m + IORT_MAP_OFF_INPUT), n = rd32(m + IORT_MAP_OFF_COUNT);
    uint32_t last;
    if (rd32(m + IORT_MAP_OFF_FLAGS) & IORT_MAP_SINGLE)
        return refuse(w, "a root complex has a single-ID mapping (only for a node's own ID)");
    if (__builtin_add_overflow(in, n, &last) ||
        rd32(m + IORT_MAP_OFF_OUTPUT) > UINT32_MAX - n)
        return refuse(w, "an ID mapping's range wraps past 2^32");
    if (w->out->nr_maps == SMMU_IORT_MAX_MAPS)
        return refuse(w, "more root complex ID mappings than moat takes (32)");
    struct smmu_iort_map *map = &w->out->map[w->out->nr_maps];
    *map = (struct smmu_iort_map){ seg, in, last, rd32(m + IORT_MAP_OFF_OUTPUT), 0 };
    int err = map_target(w, rd32(m + IORT_MAP_OFF_REF), &map->unit);
    if (err)
        return err;
    /* Ranges of one segment may share one boundary ID (a count where count - 1 was meant),
     * no more: anything else leaves a requester ID with two destinations. */
    for (unsigned i = 0; i < w->out->nr_maps; i++) {
        const struct smmu_iort_map *o = &w->out->map[i];
        uint32_t lo = in > o->rid_first ? in : o->rid_first;
        uint32_t hi = last < o->rid_last ? last : o->rid_last;
        if (o->seg != seg || lo > hi)
            continue;
        bool boundary = lo == hi && o->rid_first != in &&
                        (o->rid_last == in || last == o->rid_first);
        if (!boundary)
            return refuse(w, "two root complex ID mappings overlap");
    }
    w->out->nr_maps++;
    return 0;
}

/* Pass 2: the root complexes' ID mappings. */
static int pass_maps(struct iort_walk *w, uint32_t first, uint32_t count)
{
    uint32_t off = first, len = 0;
    for (uint32_t i = 0; i < count; i++, off += len) {
        int err = node_check(w, off, &len);     /* passed in pass 1 */
        if (err)
            return err;
        const uint8_t *n = w->t + off;
        if (n[IORT_NODE_OFF_TYPE] != IORT_NODE_ROOT_COMPLEX)
            continue;
        if (len < IORT_RC_LEN_MIN)
            return refuse(w, "a root complex node is too short for its fields");
        uint32_t seg = rd32(n + IORT_RC_OFF_SEGMENT);
        uint32_t nmaps = rd32(n + IORT_NODE_OFF_MAP_COUNT);
        const uint8_t *maps = n + rd32(n + IORT_NODE_OFF_MAP_ARRAY);
        for (uint32_t k = 0; k < nmaps && !err; k++)
            err = add_rc_map(w, seg, maps + k * IORT_MAP_LEN);
        if (err)
            return err;
    }
    return 0;
}

int smmu_iort_parse(const void *table, size_t len, struct smmu_iort *out, const char **why)
{
    struct iort_walk w = { .t = table, .len = len, .out = out, .why = why };
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (len < IORT_HEADER_LEN || memcmp(table, "IORT", 4) != 0)
        return refuse(&w, "not an IORT, or shorter than its header");
    uint32_t tlen = rd32(w.t + 4);
    if (tlen < IORT_HEADER_LEN || tlen > len)
        return refuse(&w, "the table's length field is below its header or past the data");
    w.len = tlen;
    uint32_t count = rd32(w.t + IORT_OFF_NODE_COUNT), first = rd32(w.t + IORT_OFF_NODE_ARRAY);
    if (count && (first < IORT_HEADER_LEN || first > tlen))
        return refuse(&w, "the node array starts inside the header or past the table");
    if (count > tlen / IORT_NODE_DATA)
        return refuse(&w, "more nodes than the table can hold");
    int err = pass_nodes(&w, first, count);
    if (!err)
        err = pass_maps(&w, first, count);
    if (err)
        memset(out, 0, sizeof(*out));
    return err;
}

int smmu_iort_lookup(const struct smmu_iort *t, uint16_t seg, uint16_t rid, uint32_t *sid)
{
    const struct smmu_iort_map *best = NULL;
    for (unsigned i = 0; i < t->nr_maps; i++) {
        const struct smmu_iort_map *m = &t->map[i];
        if (m->seg != seg || rid < m->rid_first || rid > m->rid_last)
            continue;
        if (!best || m->rid_first > best->rid_first)
            best = m;
    }
    if (!best)
        return -ENODEV;
    *sid = best->out_base + (rid - best->rid_first);
    return best->unit;
}
