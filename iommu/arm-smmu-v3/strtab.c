/* The stream table (IHI 0070 3.3): one STE per StreamID, linear or 2-level.
 *
 * Default deny: every STE the unit can reach is ABORT before SMMUEN is set. A linear table is
 * filled with ABORT entries; a 2-level table starts with every level-1 descriptor invalid
 * (SPAN 0), for which the unit aborts the stream's transactions, and a level-2 table is built
 * (all ABORT) and linked only when a stream in its span is first attached. StreamIDs beyond the
 * table (LOG2SIZE below SIDSIZE) are aborted by the unit as well (C_BAD_STREAMID). */
#include "iommu/arm-smmu-v3/smmu.h"
#include "iommu/pgtable/barrier.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"

static void ste_fill_abort(struct smmu_ste *t, unsigned n)
{
    struct smmu_ste abort;
    smmu_mk_ste_abort(&abort);
    for (unsigned i = 0; i < n; i++)
        t[i] = abort;
}

/* At most one page of level-1 descriptors (512 spans of 256 StreamIDs: 17 bits). */
#define SMMU_L1_BITS_MAX 9

int smmu_strtab_init(struct smmu_unit *su)
{
    unsigned bits = su->f.sid_bits;
    su->two_level = su->f.two_level && bits > SMMU_L2_SPLIT;
    if (su->two_level) {
        if (bits > SMMU_L2_SPLIT + SMMU_L1_BITS_MAX)
            bits = SMMU_L2_SPLIT + SMMU_L1_BITS_MAX;
        su->nr_l1 = 1u << (bits - SMMU_L2_SPLIT);
        su->l2 = smmu_zalloc(su->nr_l1 * sizeof(*su->l2));
        if (!su->l2)
            return -ENOMEM;
        su->strtab_order = pmm_order_for(su->nr_l1 * sizeof(uint64_t));
    } else {
        if (bits > SMMU_LINEAR_SID_BITS_MAX)
            bits = SMMU_LINEAR_SID_BITS_MAX;
        su->strtab_order = pmm_order_for(sizeof(struct smmu_ste) << bits);
    }
    su->strtab_sid_bits = bits;
    su->strtab = smmu_alloc_pages(su->strtab_order, &su->strtab_pa);
    if (!su->strtab)
        return -ENOMEM;
    su->iu.root_pa = su->strtab_pa;
    if (!su->two_level)
        ste_fill_abort(su->strtab, 1u << bits);
    pt_publish_barrier();
    return 0;
}

void smmu_strtab_program(struct smmu_unit *su)
{
    uint32_t cfg = (uint32_t)FIELD_PREP(STRTAB_BASE_CFG_LOG2SIZE, su->strtab_sid_bits);
    if (su->two_level)
        cfg |= (uint32_t)(FIELD_PREP(STRTAB_BASE_CFG_FMT, STRTAB_FMT_2LVL) |
                          FIELD_PREP(STRTAB_BASE_CFG_SPLIT, SMMU_L2_SPLIT));
    smmu_write64(su, SMMU_STRTAB_BASE, STRTAB_BASE_RA | (su->strtab_pa & STRTAB_BASE_ADDR));
    smmu_write32(su, SMMU_STRTAB_BASE_CFG, cfg);
}

/* Builds the level-2 table of span i (every STE ABORT) and links it: the descriptor is one
 * 64-bit store, made after the table's contents are visible. */
static int smmu_l2_install(struct smmu_unit *su, unsigned i)
{
    unsigned order = pmm_order_for(sizeof(struct smmu_ste) << SMMU_L2_SPLIT);
    uint64_t pa;
    struct smmu_ste *t = smmu_alloc_pages(order, &pa);
    if (!t)
        return -ENOMEM;
    ste_fill_abort(t, 1u << SMMU_L2_SPLIT);
    pt_publish_barrier();
    volatile uint64_t *l1 = su->strtab;
    l1[i] = (pa & L1STD_L2PTR) | FIELD_PREP(L1STD_SPAN, SMMU_L2_SPLIT + 1);
    su->l2[i] = t;
    return 0;
}

volatile struct smmu_ste *smmu_ste_for(struct smmu_unit *su, uint32_t sid, int *err)
{
    *err = 0;
    if (sid >> su->strtab_sid_bits) {
        *err = -ENODEV;
        return NULL;
    }
    if (!su->two_level)
        return (struct smmu_ste *)su->strtab + sid;
    unsigned i = sid >> SMMU_L2_SPLIT;
    if (!su->l2[i] && (*err = smmu_l2_install(su, i)))
        return NULL;
    return &su->l2[i][sid & ((1u << SMMU_L2_SPLIT) - 1)];
}

struct ste_sync_ctx {
    struct smmu_unit *su;
    uint32_t sid;
    int err;
};

/* CFGI_STE also drops a cached level-1 descriptor of the StreamID (4.3.2). */
static void smmu_ste_sync(struct smmu_entry_writer *w)
{
    struct ste_sync_ctx *c = w->ctx;
    struct smmu_cmd cmd;
    smmu_cmd_cfgi_ste(&cmd, c->sid);
    int err = smmu_cmdq_submit(c->su, &cmd, 1);
    if (err && !c->err)
        c->err = err;
}

int smmu_ste_install(struct smmu_unit *su, uint32_t sid, const struct smmu_ste *target)
{
    int err;
    volatile struct smmu_ste *e = smmu_ste_for(su, sid, &err);
    if (!e)
        return err;
    struct ste_sync_ctx c = { su, sid, 0 };
    struct smmu_entry_writer w = {
        .used = smmu_ste_used,
        .broken = smmu_ste_broken,
        .nwords = SMMU_STE_WORDS,
        .sync = smmu_ste_sync,
        .ctx = &c,
    };
    smmu_entry_write(&w, e->w, target->w);
    su->nr_ste_writes++;
    su->nr_entry_breaks += w.broke;
    return c.err;
}
