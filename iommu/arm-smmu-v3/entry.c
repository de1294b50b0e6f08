/* Stream Table Entries (IHI 0070 5.2) and Context Descriptors (5.4): the builders, the bits the
 * SMMU reads of each configuration, and the one writer that moves an entry from one valid
 * configuration to another without a window.
 *
 * Why a writer at all: an entry is 8 words, the CPU stores one word at a time, and the SMMU may
 * fetch (and cache) any word of it at any moment (3.21.3: only single 64-bit words are
 * single-copy atomic). A configuration change is safe when every mix of old and new words the
 * SMMU can assemble reads, in the bits that mix's configuration actually uses, as either the old
 * or the new configuration. The writer gets there in at most three steps, each ended by a sync
 * (CFGI_STE/CFGI_CD + CMD_SYNC, so no cached copy of an earlier step survives):
 *   1. every bit the current configuration does not read takes its new value;
 *   2. when only one word still differs in bits the new configuration reads, that word is
 *      stored (one atomic store: the switch);
 *   3. the bits the new configuration does not read are tidied to their new value.
 * When two or more words the new configuration reads must change (a new table and a new
 * VMID, say), no single store can switch: word 0 first becomes a configuration that reads
 * nothing else and lets nothing through (STE: ABORT, CD: invalid), then words 1-7, then word 0.
 * DMA in flight during those two syncs is aborted, never translated by a torn entry. */
#include "iommu/arm-smmu-v3/smmu.h"
#include "iommu/pgtable/barrier.h"
#include "lib/log.h"

/* ---- builders ---- */

static void ste_clear(struct smmu_ste *e)
{
    for (unsigned i = 0; i < SMMU_STE_WORDS; i++)
        e->w[i] = 0;
}

void smmu_mk_ste_abort(struct smmu_ste *e)
{
    ste_clear(e);
    e->w[0] = STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_ABORT);
}

void smmu_mk_ste_bypass(struct smmu_ste *e)
{
    ste_clear(e);
    e->w[0] = STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_BYPASS);
    e->w[1] = FIELD_PREP(STE1_SHCFG, STE_SHCFG_INCOMING);
}

/* One CD (S1CDMax 0, no substreams), fetched write-back inner-shareable. */
void smmu_mk_ste_s1(struct smmu_ste *e, uint64_t cd_pa)
{
    ste_clear(e);
    e->w[0] = STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_S1) | (cd_pa & STE0_S1CTXPTR);
    e->w[1] = FIELD_PREP(STE1_S1CIR, CR1_CACHE_WB) | FIELD_PREP(STE1_S1COR, CR1_CACHE_WB) |
              FIELD_PREP(STE1_S1CSH, CR1_SH_IS);
}

static unsigned smmu_tg(unsigned granule_shift)
{
    return granule_shift == 16 ? SMMU_TG_64K : granule_shift == 14 ? SMMU_TG_16K : SMMU_TG_4K;
}

/* S2SL0 names the starting lookup level (5.2, Arm ARM VTCR_EL2.SL0): with the 4 KiB granule
 * 0 = level 2, 1 = level 1, 2 = level 0; with 16/64 KiB 0 = level 3, 1 = level 2, 2 = level 1.
 * A table of n levels starts at level 4 - n. */
static unsigned smmu_s2_sl0(const struct pgtable *pt)
{
    return pt->granule_shift == 12 ? pt->levels - 2 : pt->levels - 1;
}

/* Stage 2 over pt (its concatenated root included), faults recorded and terminated. */
void smmu_mk_ste_s2(struct smmu_ste *e, const struct pgtable *pt, uint16_t vmid)
{
    ste_clear(e);
    e->w[0] = STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_S2);
    e->w[1] = FIELD_PREP(STE1_SHCFG, STE_SHCFG_INCOMING);
    e->w[2] = FIELD_PREP(STE2_S2VMID, vmid) | FIELD_PREP(STE2_S2T0SZ, 64 - pt->ias) |
              FIELD_PREP(STE2_S2SL0, smmu_s2_sl0(pt)) |
              FIELD_PREP(STE2_S2IR0, CR1_CACHE_WB) | FIELD_PREP(STE2_S2OR0, CR1_CACHE_WB) |
              FIELD_PREP(STE2_S2SH0, CR1_SH_IS) | FIELD_PREP(STE2_S2TG, smmu_tg(pt->granule_shift)) |
              FIELD_PREP(STE2_S2PS, smmu_pa_enc(pt->oas)) | STE2_S2AA64 | STE2_S2R;
    e->w[3] = pt->root_pa & STE3_S2TTB;
}

/* Both stages (issue 17): the caller's stage 1 (its CD at s1ctxptr, an IPA) over stage 2. */
void smmu_mk_ste_nested(struct smmu_ste *e, uint64_t s1ctxptr, const struct pgtable *s2,
                        uint16_t vmid)
{
    struct smmu_ste s1;
    smmu_mk_ste_s2(e, s2, vmid);
    smmu_mk_ste_s1(&s1, s1ctxptr);
    e->w[0] = (s1.w[0] & ~STE0_CONFIG) | FIELD_PREP(STE0_CONFIG, STE_CFG_NESTED);
    e->w[1] |= s1.w[1];
}

/* A stage-1 context over pt: TTB0 only (EPD1), AArch64 tables, faults recorded (R) and
 * terminated (A), MAIR as the pgtable layer's AttrIndx values expect. */
void smmu_mk_cd(struct smmu_cd *e, const struct pgtable *pt, uint16_t asid)
{
    for (unsigned i = 0; i < SMMU_CD_WORDS; i++)
        e->w[i] = 0;
    e->w[0] = FIELD_PREP(CD0_T0SZ, 64 - pt->ias) | FIELD_PREP(CD0_TG0, smmu_tg(pt->granule_shift)) |
              FIELD_PREP(CD0_IR0, CR1_CACHE_WB) | FIELD_PREP(CD0_OR0, CR1_CACHE_WB) |
              FIELD_PREP(CD0_SH0, CR1_SH_IS) | CD0_EPD1 | CD0_V |
              FIELD_PREP(CD0_IPS, smmu_pa_enc(pt->oas)) | CD0_AA64 | CD0_R | CD0_A | CD0_ASET |
              FIELD_PREP(CD0_ASID, asid);
    e->w[1] = pt->root_pa & CD1_TTB0;
    e->w[3] = PGTABLE_ARM_MAIR;
}

/* ---- what the SMMU reads ---- */

#define STE1_S1_FIELDS (STE1_S1DSS | STE1_S1CIR | STE1_S1COR | STE1_S1CSH | STE1_S1STALLD | \
                        STE1_EATS | STE1_STRW)
#define STE2_S2_FIELDS (STE2_S2VMID | GENMASK(58, 32))

void smmu_ste_used(const uint64_t *e, uint64_t *used)
{
    for (unsigned i = 0; i < SMMU_STE_WORDS; i++)
        used[i] = 0;
    used[0] = STE0_V;
    if (!(e[0] & STE0_V))
        return;
    used[0] |= STE0_CONFIG;
    unsigned cfg = (unsigned)FIELD_GET(STE0_CONFIG, e[0]);
    if (cfg == STE_CFG_BYPASS || cfg == STE_CFG_S2)
        used[1] |= STE1_ATTR_OVERRIDES;
    if (cfg == STE_CFG_S1 || cfg == STE_CFG_NESTED) {
        used[0] |= STE0_S1FMT | STE0_S1CTXPTR | STE0_S1CDMAX;
        used[1] |= STE1_S1_FIELDS;
    }
    if (cfg == STE_CFG_S2 || cfg == STE_CFG_NESTED) {
        used[1] |= STE1_EATS;
        used[2] |= STE2_S2_FIELDS;
        used[3] |= STE3_S2TTB;
    }
}

/* A valid CD is read whole but for TTB1 (EPD1 is always set) and the words it does not use. */
void smmu_cd_used(const uint64_t *e, uint64_t *used)
{
    for (unsigned i = 0; i < SMMU_CD_WORDS; i++)
        used[i] = 0;
    used[0] = CD0_V;
    if (!(e[0] & CD0_V))
        return;
    used[0] = ~0ULL;
    used[1] = CD1_TTB0;
    used[3] = CD3_MAIR;
}

uint64_t smmu_ste_broken(uint64_t w0)
{
    return (w0 & ~STE0_CONFIG) | STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_ABORT);
}

uint64_t smmu_cd_broken(uint64_t w0)
{
    return w0 & ~CD0_V;
}

/* ---- the writer ---- */

/* Stores the words of val in [from, nwords) that differ; true when any did. */
static bool entry_store(struct smmu_entry_writer *w, volatile uint64_t *entry, const uint64_t *val,
                        unsigned from)
{
    bool changed = false;
    for (unsigned i = from; i < w->nwords; i++) {
        if (entry[i] != val[i]) {
            entry[i] = val[i];
            changed = true;
        }
    }
    return changed;
}

static void entry_sync(struct smmu_entry_writer *w)
{
    pt_publish_barrier();
    w->nr_syncs++;
    w->sync(w);
}

static void entry_store_sync(struct smmu_entry_writer *w, volatile uint64_t *entry,
                             const uint64_t *val, unsigned from)
{
    if (entry_store(w, entry, val, from))
        entry_sync(w);
}

void smmu_entry_write(struct smmu_entry_writer *w, volatile uint64_t *entry, const uint64_t *target)
{
    uint64_t cur[8] = { 0 }, cur_used[8] = { 0 }, tgt_used[8] = { 0 }, stage[8] = { 0 };
    MOAT_ASSERT(w->nwords <= 8);
    for (unsigned i = 0; i < w->nwords; i++)
        cur[i] = entry[i];
    w->used(cur, cur_used);
    w->used(target, tgt_used);
    unsigned ncrit = 0, crit = 0;
    for (unsigned i = 0; i < w->nwords; i++) {
        stage[i] = (cur[i] & cur_used[i]) | (target[i] & ~cur_used[i]);
        if ((stage[i] ^ target[i]) & tgt_used[i]) {
            ncrit++;
            crit = i;
        }
    }
    w->broke = ncrit > 1;
    if (!w->broke) {
        entry_store_sync(w, entry, stage, 0);
        if (ncrit) {
            entry[crit] = target[crit];
            entry_sync(w);
        }
        entry_store_sync(w, entry, target, 0);
        return;
    }
    entry[0] = w->broken(cur[0]);
    entry_sync(w);
    entry_store_sync(w, entry, target, 1);
    entry[0] = target[0];
    entry_sync(w);
}
