/* The STE/CD writer: every transition between abort, bypass, stage 1 (two contexts), stage 2
 * (two tables and VMIDs) and nested, and CD transitions. Between two syncs the SMMU may fetch
 * each word either before or after the step's store (IHI 0070 3.21.3: 64-bit single-copy
 * atomicity only), so every mix of the words a step changed is decoded here — by meaning, not
 * by the writer's own used-bit masks — and must be the old configuration, the new one, or
 * (only when the writer says the change needed it) a configuration that lets nothing through. */
#include "iommu/arm-smmu-v3/smmu.h"
#include "tests/host/harness.h"

#define MAX_STEPS 8

struct rec {
    uint64_t states[MAX_STEPS + 1][8];
    unsigned n;
    volatile uint64_t *entry;
    unsigned nwords;
};

static void rec_sync(struct smmu_entry_writer *w)
{
    struct rec *r = w->ctx;
    if (r->n >= MAX_STEPS)
        return;
    r->n++;
    for (unsigned i = 0; i < r->nwords; i++)
        r->states[r->n][i] = r->entry[i];
}

/* What an STE means to the unit: the configuration and the fields that configuration reads. */
enum meaning_kind { M_BLOCK, M_BYPASS, M_S1, M_S2, M_NESTED, M_BAD };
struct meaning {
    enum meaning_kind kind;
    uint64_t f[8];
};

static struct meaning ste_meaning(const uint64_t *e)
{
    struct meaning m = { M_BLOCK, { 0 } };
    if (!(e[0] & STE0_V))
        return m;   /* C_BAD_STE: transactions terminated */
    unsigned cfg = (unsigned)((e[0] >> 1) & 7);
    bool s1 = cfg == 5 || cfg == 7, s2 = cfg == 6 || cfg == 7;
    switch (cfg) {
    case 0: return m;
    case 4: m.kind = M_BYPASS; m.f[0] = e[1] & GENMASK(51, 32); return m;   /* overrides */
    case 5: m.kind = M_S1; break;
    case 6: m.kind = M_S2; break;
    case 7: m.kind = M_NESTED; break;
    default: m.kind = M_BAD; return m;
    }
    if (s1) {
        m.f[1] = e[0] & GENMASK(51, 6);         /* S1ContextPtr */
        m.f[2] = e[0] >> 59 | ((e[0] >> 4) & 3) << 8;   /* S1CDMax, S1Fmt */
        m.f[3] = e[1] & (GENMASK(7, 0) | BIT(27) | GENMASK(31, 28));  /* S1DSS..S1CSH,
                                                 * S1STALLD, EATS, STRW */
    }
    if (s2) {
        m.f[4] = e[2] & (GENMASK(15, 0) | GENMASK(58, 32));  /* VMID, T0SZ .. S2R */
        m.f[5] = e[3] & GENMASK(51, 4);         /* S2TTB */
        m.f[6] = e[1] & GENMASK(29, 28);        /* EATS */
        if (!s1)
            m.f[7] = e[1] & GENMASK(51, 32);    /* stage 1 bypassed: the overrides */
    }
    return m;
}

static bool same(const struct meaning *a, const struct meaning *b)
{
    return a->kind == b->kind && memcmp(a->f, b->f, sizeof(a->f)) == 0;
}

/* Checks every state the SMMU could assemble during each step of r. */
static void check_observable(const struct rec *r, struct meaning (*mean)(const uint64_t *),
                             const struct meaning *from, const struct meaning *to, bool broke,
                             unsigned *nr_blocked)
{
    for (unsigned s = 1; s <= r->n; s++) {
        const uint64_t *a = r->states[s - 1], *b = r->states[s];
        unsigned changed[8], nc = 0;
        for (unsigned i = 0; i < r->nwords; i++)
            if (a[i] != b[i])
                changed[nc++] = i;
        CHECK(nc > 0);  /* a sync that publishes nothing is waste */
        for (unsigned mask = 0; mask < (1u << nc); mask++) {
            uint64_t mix[8];
            memcpy(mix, a, sizeof(mix));
            for (unsigned k = 0; k < nc; k++)
                if (mask & (1u << k))
                    mix[changed[k]] = b[changed[k]];
            struct meaning m = mean(mix);
            if (same(&m, from) || same(&m, to))
                continue;
            if (m.kind == M_BLOCK && broke) {
                (*nr_blocked)++;
                continue;
            }
            char msg[200];
            snprintf(msg, sizeof(msg), "step %u mix %#x: kind %d is neither old (%d) nor new (%d)",
                     s, mask, m.kind, from->kind, to->kind);
            host_check_failed(__FILE__, __LINE__, msg);
        }
    }
}

/* ---- the configurations ---- */

static struct pgtable fake_pt(uint64_t root, unsigned ias)
{
    struct pgtable pt = { 0 };
    pt.root_pa = root;
    pt.ias = ias;
    pt.oas = 44;
    pt.levels = ias > 39 ? 4 : 3;
    pt.granule_shift = 12;
    pt.granule = 4096;
    return pt;
}

enum { C_INVALID, C_ABORT, C_BYPASS, C_S1A, C_S1B, C_S2A, C_S2B, C_NESTED_A, C_COUNT };
static const char *const cfg_name[] = { "invalid", "abort", "bypass", "s1A", "s1B", "s2A", "s2B",
                                        "nestedA" };

static void mk(unsigned c, struct smmu_ste *e)
{
    struct pgtable a = fake_pt(0x40000000, 44), b = fake_pt(0x50000000, 40);
    switch (c) {
    case C_INVALID: memset(e, 0, sizeof(*e)); break;
    case C_ABORT: smmu_mk_ste_abort(e); break;
    case C_BYPASS: smmu_mk_ste_bypass(e); break;
    case C_S1A: smmu_mk_ste_s1(e, 0x41000000); break;
    case C_S1B: smmu_mk_ste_s1(e, 0x42000040); break;
    case C_S2A: smmu_mk_ste_s2(e, &a, 1); break;
    case C_S2B: smmu_mk_ste_s2(e, &b, 2); break;
    case C_NESTED_A:   /* issue 17's: a caller's stage 1 over stage-2 table A */
        smmu_mk_ste_nested(e, 0x43000000, &a, 1);
        break;
    }
}

/* Changes that one 64-bit store can make: only one word the new configuration reads differs. */
static bool expect_hitless(unsigned from, unsigned to)
{
    bool s2_pair = (from == C_S2A || from == C_S2B || from == C_NESTED_A) &&
                   (to == C_S2A || to == C_S2B || to == C_NESTED_A);
    bool same_s2 = (from == C_S2A || from == C_NESTED_A) && (to == C_S2A || to == C_NESTED_A);
    return !s2_pair || same_s2;
}

TEST(ste_every_transition)
{
    unsigned breaks = 0, blocked_states = 0;
    for (unsigned from = 0; from < C_COUNT; from++) {
        for (unsigned to = 1; to < C_COUNT; to++) {   /* never *to* invalid: abort instead */
            if (from == to)
                continue;
            struct smmu_ste cur, target;
            mk(from, &cur);
            mk(to, &target);
            struct rec r = { .entry = cur.w, .nwords = 8 };
            memcpy(r.states[0], cur.w, 64);
            struct smmu_entry_writer w = { smmu_ste_used, smmu_ste_broken, 8, rec_sync, &r, 0,
                                           false };
            smmu_entry_write(&w, cur.w, target.w);
            if (memcmp(cur.w, target.w, 64) != 0) {
                printf("    %s -> %s: final entry differs from the target\n", cfg_name[from],
                       cfg_name[to]);
                CHECK(false);
            }
            CHECK_EQ(w.nr_syncs, r.n);
            CHECK(r.n <= 3);
            struct meaning mf = ste_meaning(r.states[0]), mt = ste_meaning(target.w);
            unsigned blocked = 0;
            check_observable(&r, ste_meaning, &mf, &mt, w.broke, &blocked);
            blocked_states += blocked;
            if (from != C_INVALID && w.broke != !expect_hitless(from, to)) {
                printf("    %s -> %s: broke %d, expected %d\n", cfg_name[from], cfg_name[to],
                       w.broke, !expect_hitless(from, to));
                CHECK(false);
            }
            breaks += w.broke;
        }
    }
    CHECK(breaks > 0);          /* s2A <-> s2B and nested <-> s2B must break */
    CHECK(blocked_states > 0);  /* ... and were seen to go through a blocking state */
}

/* A write to the configuration the entry already holds stores and syncs nothing. */
TEST(ste_same_config_is_free)
{
    struct smmu_ste cur, target;
    mk(C_S1A, &cur);
    mk(C_S1A, &target);
    struct rec r = { .entry = cur.w, .nwords = 8 };
    struct smmu_entry_writer w = { smmu_ste_used, smmu_ste_broken, 8, rec_sync, &r, 0, false };
    smmu_entry_write(&w, cur.w, target.w);
    CHECK_EQ(w.nr_syncs, 0);
}

/* Garbage the SMMU does not read (left by an earlier configuration) is tidied to the target. */
TEST(ste_unused_garbage_tidied)
{
    struct smmu_ste cur, target;
    mk(C_ABORT, &cur);
    cur.w[2] = 0x1234;          /* not read by ABORT */
    cur.w[5] = ~0ULL;
    mk(C_BYPASS, &target);
    struct rec r = { .entry = cur.w, .nwords = 8 };
    memcpy(r.states[0], cur.w, 64);
    struct smmu_entry_writer w = { smmu_ste_used, smmu_ste_broken, 8, rec_sync, &r, 0, false };
    smmu_entry_write(&w, cur.w, target.w);
    CHECK(memcmp(cur.w, target.w, 64) == 0);
    CHECK(!w.broke);
    struct meaning mf = ste_meaning(r.states[0]), mt = ste_meaning(target.w);
    unsigned blocked = 0;
    check_observable(&r, ste_meaning, &mf, &mt, false, &blocked);
}

/* ---- context descriptors ---- */

static struct meaning cd_meaning(const uint64_t *e)
{
    struct meaning m = { M_BLOCK, { 0 } };
    if (!(e[0] & CD0_V))
        return m;
    m.kind = M_S1;
    m.f[0] = e[0];
    m.f[1] = e[1] & GENMASK(51, 4);
    m.f[3] = e[3];
    return m;
}

TEST(cd_transitions)
{
    struct pgtable a = fake_pt(0x40000000, 48), b = fake_pt(0x48000000, 48);
    struct smmu_cd cds[3];
    memset(&cds[0], 0, sizeof(cds[0]));
    smmu_mk_cd(&cds[1], &a, 5);
    smmu_mk_cd(&cds[2], &b, 6);
    for (unsigned from = 0; from < 3; from++) {
        for (unsigned to = 0; to < 3; to++) {
            if (from == to)
                continue;
            struct smmu_cd cur = cds[from];
            struct rec r = { .entry = cur.w, .nwords = 8 };
            memcpy(r.states[0], cur.w, 64);
            struct smmu_entry_writer w = { smmu_cd_used, smmu_cd_broken, 8, rec_sync, &r, 0,
                                           false };
            smmu_entry_write(&w, cur.w, cds[to].w);
            CHECK(memcmp(cur.w, cds[to].w, 64) == 0);
            struct meaning mf = cd_meaning(cds[from].w), mt = cd_meaning(cds[to].w);
            unsigned blocked = 0;
            check_observable(&r, cd_meaning, &mf, &mt, w.broke, &blocked);
            /* Two valid contexts differ in ASID (word 0) and TTB0 (word 1): through invalid. */
            CHECK_EQ(w.broke, from != 0 && to != 0);
        }
    }
}

/* The fields the builders write, at the specification's positions. */
TEST(builders_fields)
{
    struct pgtable pt = fake_pt(0x40000000, 44);
    struct smmu_ste e;
    smmu_mk_ste_s2(&e, &pt, 7);
    CHECK_EQ(e.w[0], 0xdULL);                       /* V, Config 0b110 */
    CHECK_EQ(e.w[2] & 0xffff, 7);                   /* S2VMID */
    CHECK_EQ((e.w[2] >> 32) & 0x3f, 20);            /* S2T0SZ = 64 - 44 */
    CHECK_EQ((e.w[2] >> 38) & 3, 2);                /* S2SL0: 4 levels start at level 0 */
    CHECK_EQ((e.w[2] >> 48) & 7, 4);                /* S2PS: 44 bits */
    CHECK(e.w[2] & BIT(51));                        /* S2AA64 */
    CHECK(e.w[2] & BIT(58));                        /* S2R: faults recorded */
    CHECK_EQ(e.w[3], 0x40000000ULL);
    smmu_mk_ste_s1(&e, 0x41000040);
    CHECK_EQ(e.w[0], 0x41000040ULL | 0xb);          /* V, Config 0b101, S1ContextPtr */
    smmu_mk_ste_nested(&e, 0x41000040, &pt, 9);
    CHECK_EQ(e.w[0], 0x41000040ULL | 0xf);          /* V, Config 0b111 */
    CHECK_EQ(e.w[2] & 0xffff, 9);
    CHECK_EQ(e.w[3], 0x40000000ULL);
    struct smmu_cd cd;
    pt = fake_pt(0x40000000, 48);
    smmu_mk_cd(&cd, &pt, 0x1234);
    CHECK_EQ(cd.w[0] & 0x3f, 16);                   /* T0SZ */
    CHECK(cd.w[0] & BIT(31));                       /* V */
    CHECK(cd.w[0] & BIT(45));                       /* R */
    CHECK(cd.w[0] & BIT(46));                       /* A */
    CHECK_EQ(cd.w[0] >> 48, 0x1234);                /* ASID */
    CHECK_EQ(cd.w[1], 0x40000000ULL);
    CHECK_EQ(cd.w[3], PGTABLE_ARM_MAIR);
}

/* Random configurations with random field values (and random garbage in the words each
 * configuration ignores): every transition's observable states are still old, new or (when
 * the writer broke) blocking, and the entry ends exactly as asked. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void random_ste(struct smmu_ste *e)
{
    struct pgtable pt = fake_pt(rnd() & GENMASK(43, 12), 32 + (unsigned)(rnd() % 13));
    switch (rnd() % 5) {
    case 0: smmu_mk_ste_abort(e); break;
    case 1: smmu_mk_ste_bypass(e); break;
    case 2: smmu_mk_ste_s1(e, rnd() & GENMASK(43, 6)); break;
    case 3: smmu_mk_ste_s2(e, &pt, (uint16_t)rnd()); break;
    default: smmu_mk_ste_nested(e, rnd() & GENMASK(43, 6), &pt, (uint16_t)rnd()); break;
    }
    if (rnd() % 2) {
        /* what a previous configuration may have left in the words this one ignores */
        uint64_t used[8];
        smmu_ste_used(e->w, used);
        for (unsigned i = 0; i < 8; i++)
            e->w[i] |= rnd() & ~used[i];
    }
}

TEST(ste_random_transitions)
{
    for (unsigned n = 0; n < 20000; n++) {
        struct smmu_ste cur, target;
        random_ste(&cur);
        random_ste(&target);
        struct rec r = { .entry = cur.w, .nwords = 8 };
        memcpy(r.states[0], cur.w, 64);
        struct smmu_entry_writer w = { smmu_ste_used, smmu_ste_broken, 8, rec_sync, &r, 0,
                                       false };
        smmu_entry_write(&w, cur.w, target.w);
        REQUIRE(memcmp(cur.w, target.w, 64) == 0);
        REQUIRE(r.n <= 3);
        struct meaning mf = ste_meaning(r.states[0]), mt = ste_meaning(target.w);
        unsigned blocked = 0, before = (unsigned)host_test_failures;
        check_observable(&r, ste_meaning, &mf, &mt, w.broke, &blocked);
        REQUIRE((unsigned)host_test_failures == before);
    }
}
