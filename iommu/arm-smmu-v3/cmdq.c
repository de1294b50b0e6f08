/* The command queue (IHI 0070 3.5, chapter 4): a ring of 16-byte commands the unit consumes
 * from CONS up to the PROD software writes. Every operation queues its commands and one CMD_SYNC
 * (4.7.3) and waits, bounded, until CONS has passed the sync: then every command before it has
 * completed. Callers are serialised (one CPU; the event handler queues nothing), so the queue is
 * empty whenever a submission starts.
 *
 * Errors (7.1): a command the unit cannot execute stops consumption with CONS pointing at it,
 * CMDQ_CONS.ERR saying why and GERROR.CMDQ_ERR raised. The driver reports it, overwrites the
 * command with a CMD_SYNC (which does nothing harmful), acknowledges the error and lets the
 * unit go on; the caller gets -EIO and the operation is redone in a stronger form. A unit that
 * stops consuming altogether is reset: the queue disabled, emptied and enabled again. */
#include "iommu/arm-smmu-v3/smmu.h"
#include "iommu/pgtable/barrier.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"

#define SMMU_PTR_MASK(q) ((2u << (q)->log2) - 1)     /* index and wrap bit */

int smmu_queue_init(struct smmu_queue *q, unsigned log2, unsigned entry_bytes, uint32_t base_reg,
                    uint32_t prod_reg, uint32_t cons_reg)
{
    MOAT_ASSERT((entry_bytes << log2) <= 32768);
    *q = (struct smmu_queue){ .log2 = log2, .entry_bytes = entry_bytes, .base_reg = base_reg,
                              .prod_reg = prod_reg, .cons_reg = cons_reg,
                              .order = pmm_order_for(entry_bytes << log2) };
    q->base = smmu_alloc_pages(q->order, &q->pa);
    return q->base ? 0 : -ENOMEM;
}

void smmu_queue_program(struct smmu_unit *su, struct smmu_queue *q)
{
    q->prod = q->cons = 0;
    smmu_write64(su, q->base_reg, Q_BASE_RWA | (q->pa & Q_BASE_ADDR) |
                                  FIELD_PREP(Q_BASE_LOG2SIZE, q->log2));
    smmu_write32(su, q->prod_reg, 0);
    smmu_write32(su, q->cons_reg, 0);
}

/* ---- builders ---- */

static void cmd_op(struct smmu_cmd *c, unsigned op)
{
    c->w[0] = FIELD_PREP(CMD0_OP, op);
    c->w[1] = 0;
}

void smmu_cmd_cfgi_ste(struct smmu_cmd *c, uint32_t sid)
{
    cmd_op(c, CMD_CFGI_STE);
    c->w[0] |= FIELD_PREP(CMD0_SID, sid);
    c->w[1] = CMD1_LEAF;
}

void smmu_cmd_cfgi_cd(struct smmu_cmd *c, uint32_t sid)
{
    cmd_op(c, CMD_CFGI_CD);
    c->w[0] |= FIELD_PREP(CMD0_SID, sid);
    c->w[1] = CMD1_LEAF;
}

/* CFGI_STE_RANGE with Range 31: every StreamID (4.3.3). */
void smmu_cmd_cfgi_all(struct smmu_cmd *c)
{
    cmd_op(c, CMD_CFGI_STE_RANGE);
    c->w[1] = FIELD_PREP(CMD1_RANGE, 31);
}

void smmu_cmd_sync(struct smmu_cmd *c)
{
    cmd_op(c, CMD_SYNC);
    c->w[0] |= FIELD_PREP(CMD0_SYNC_CS, CMD_SYNC_CS_NONE);
}

void smmu_cmd_tlbi_asid(struct smmu_cmd *c, uint16_t asid)
{
    cmd_op(c, CMD_TLBI_NH_ASID);
    c->w[0] |= FIELD_PREP(CMD0_ASID, asid);
}

void smmu_cmd_tlbi_vmall(struct smmu_cmd *c, uint16_t vmid)
{
    cmd_op(c, CMD_TLBI_S12_VMALL);
    c->w[0] |= FIELD_PREP(CMD0_VMID, vmid);
}

void smmu_cmd_tlbi_nsnh_all(struct smmu_cmd *c)
{
    cmd_op(c, CMD_TLBI_NSNH_ALL);
}

/* TLBI_NH_VA for a stage-1 domain (its ASID), TLBI_S2_IPA for a stage-2 one (its VMID). */
static void cmd_tlbi_at(struct smmu_cmd *c, const struct smmu_domain *sd, uint64_t addr, bool leaf)
{
    if (sd->stage == SMMU_STAGE_1) {
        cmd_op(c, CMD_TLBI_NH_VA);
        c->w[0] |= FIELD_PREP(CMD0_ASID, sd->asid);
        c->w[1] = addr & CMD1_VA;
    } else {
        cmd_op(c, CMD_TLBI_S2_IPA);
        c->w[0] |= FIELD_PREP(CMD0_VMID, sd->vmid);
        c->w[1] = addr & CMD1_IPA;
    }
    if (leaf)
        c->w[1] |= CMD1_LEAF;
}

static unsigned cmd_tg(unsigned granule_shift)
{
    return granule_shift == 16 ? 3 : granule_shift == 14 ? 2 : 1;
}

/* With RIL: n granules as a sum of (NUM + 1) << SCALE blocks, lowest set bits first, so each
 * command's range starts where the previous one ended. Without: one command per granule. */
unsigned smmu_cmd_tlbi_range(struct smmu_cmd *c, unsigned max, const struct smmu_domain *sd,
                             uint64_t start, uint64_t last, bool leaf)
{
    unsigned gshift = sd->d.pt.granule_shift;
    uint64_t addr = start & ~((1ULL << gshift) - 1);
    uint64_t n = ((last - addr) >> gshift) + 1;
    unsigned k = 0;
    while (n) {
        if (k == max)
            return 0;
        unsigned scale = 0, count = 1;
        if (sd->su->f.ril) {
            scale = (unsigned)__builtin_ctzll(n);
            if (scale > CMD_RANGE_SCALE_MAX)
                scale = CMD_RANGE_SCALE_MAX;
            count = (unsigned)((n >> scale) & CMD_RANGE_NUM_MAX);
            if (!count)     /* scale capped, n >> scale a multiple of 32 */
                count = CMD_RANGE_NUM_MAX + 1;
        }
        cmd_tlbi_at(&c[k], sd, addr, leaf);
        if (sd->su->f.ril) {
            c[k].w[0] |= FIELD_PREP(CMD0_NUM, count - 1) | FIELD_PREP(CMD0_SCALE, scale);
            c[k].w[1] |= FIELD_PREP(CMD1_TG, cmd_tg(gshift));
        }
        uint64_t covered = (uint64_t)count << scale;
        addr += covered << gshift;
        n -= covered;
        k++;
    }
    return k;
}

/* ---- the queue ---- */

static void cmdq_put(struct smmu_unit *su, const struct smmu_cmd *c)
{
    struct smmu_queue *q = &su->cmdq;
    volatile struct smmu_cmd *slot = (struct smmu_cmd *)q->base + smmu_q_idx(q, q->prod);
    slot->w[0] = c->w[0];
    slot->w[1] = c->w[1];
    q->prod = smmu_q_inc(q, q->prod);
    su->nr_cmds++;
}

static bool cmdq_error(struct smmu_unit *su)
{
    uint32_t g = smmu_read32(su, SMMU_GERROR) ^ smmu_read32(su, SMMU_GERRORN);
    return g & GERROR_CMDQ_ERR;
}

static bool cmdq_done(struct smmu_unit *su)
{
    struct smmu_queue *q = &su->cmdq;
    uint32_t cons = smmu_read32(su, SMMU_CMDQ_CONS);
    q->cons = cons & SMMU_PTR_MASK(q);
    return q->cons == q->prod;
}

static const char *cmdq_err_name(unsigned err)
{
    switch (err) {
    case CMDQ_ERR_NONE: return "CERROR_NONE";
    case CMDQ_ERR_ILL: return "CERROR_ILL (illegal command)";
    case CMDQ_ERR_ABT: return "CERROR_ABT (command fetch aborted)";
    case CMDQ_ERR_ATC_INV_SYNC: return "CERROR_ATC_INV_SYNC";
    default: return "reserved error code";
    }
}

/* The unit stopped at the command CONS points at: name it, replace it by a CMD_SYNC and let
 * the unit go on (7.1). */
static void cmdq_skip_bad(struct smmu_unit *su)
{
    struct smmu_queue *q = &su->cmdq;
    uint32_t cons = smmu_read32(su, SMMU_CMDQ_CONS);
    volatile struct smmu_cmd *slot = (struct smmu_cmd *)q->base + smmu_q_idx(q, cons);
    su->nr_cmdq_errors++;
    kprintf("smmuv3: %s: command %#llx %#llx refused: %s\n", su->name,
            (unsigned long long)slot->w[0], (unsigned long long)slot->w[1],
            cmdq_err_name((unsigned)FIELD_GET(CMDQ_CONS_ERR, cons)));
    struct smmu_cmd sync;
    smmu_cmd_sync(&sync);
    slot->w[0] = sync.w[0];
    slot->w[1] = sync.w[1];
    pt_publish_barrier();
    uint32_t gn = smmu_read32(su, SMMU_GERRORN) ^ GERROR_CMDQ_ERR;
    smmu_write32(su, SMMU_GERRORN, gn);
}

/* The unit consumes nothing any more: disable the queue, empty it, enable it again. What was
 * queued is lost; the caller's operation fails. */
static void cmdq_reset(struct smmu_unit *su)
{
    su->nr_cmdq_resets++;
    kprintf("smmuv3: %s: command queue stuck (prod %#x cons %#x): resetting it\n", su->name,
            su->cmdq.prod, smmu_read32(su, SMMU_CMDQ_CONS));
    uint32_t cr0 = smmu_read32(su, SMMU_CR0) & ~CR0_CMDQEN;
    smmu_write32(su, SMMU_CR0, cr0);
    if (poll_until(!(smmu_read32(su, SMMU_CR0ACK) & CR0_CMDQEN), su->wait_ns))
        kprintf("smmuv3: %s: the command queue does not stop\n", su->name);
    smmu_queue_program(su, &su->cmdq);
    smmu_write32(su, SMMU_CR0, cr0 | CR0_CMDQEN);
    if (poll_until(smmu_read32(su, SMMU_CR0ACK) & CR0_CMDQEN, su->wait_ns))
        kprintf("smmuv3: %s: the command queue does not restart\n", su->name);
}

/* Waits until CONS reaches PROD; a refused command is skipped (at most a queue's worth). */
static int cmdq_wait(struct smmu_unit *su)
{
    int ret = 0;
    for (unsigned tries = 0; tries <= (1u << su->cmdq.log2); tries++) {
        int err = poll_until(cmdq_done(su) || cmdq_error(su), su->wait_ns);
        if (err) {
            cmdq_reset(su);
            return err;
        }
        if (!cmdq_error(su))
            return ret;
        cmdq_skip_bad(su);
        ret = -EIO;
    }
    cmdq_reset(su);
    return -EIO;
}

static int cmdq_publish(struct smmu_unit *su)
{
    struct smmu_cmd sync;
    smmu_cmd_sync(&sync);
    cmdq_put(su, &sync);
    pt_publish_barrier();   /* commands in memory before PROD moves */
    smmu_write32(su, SMMU_CMDQ_PROD, su->cmdq.prod);
    su->nr_syncs++;
    return cmdq_wait(su);
}

int smmu_cmdq_submit(struct smmu_unit *su, const struct smmu_cmd *c, unsigned n)
{
    if (!su->enabled)
        return 0;   /* the queue is not on yet: bring-up ends with CFGI_ALL + TLBI_NSNH_ALL */
    unsigned room = 1u << su->cmdq.log2;     /* the queue is empty: all of it, the sync included */
    int ret = 0;
    do {
        unsigned chunk = n < room ? n : room - 1;
        for (unsigned i = 0; i < chunk; i++)
            cmdq_put(su, &c[i]);
        int err = cmdq_publish(su);
        if (err && !ret)
            ret = err;
        c += chunk;
        n -= chunk;
    } while (n);
    return ret;
}

/* ---- TLB invalidation ---- */

#define SMMU_TLBI_BATCH 32

int smmu_tlbi_domain(struct smmu_domain *sd)
{
    struct smmu_cmd c;
    if (sd->stage == SMMU_STAGE_1)
        smmu_cmd_tlbi_asid(&c, sd->asid);
    else
        smmu_cmd_tlbi_vmall(&c, sd->vmid);
    return smmu_cmdq_submit(sd->su, &c, 1);
}

/* A nesting parent's stage-2 change must also drop the whole stage-1 translations the unit
 * cached over it for nested streams (tagged by their ASID and this VMID), as Linux does: one
 * TLBI_NH_ALL of the VMID in the same batch (S12_VMALL, the fallback, covers them already). */
int smmu_tlbi_ranges(struct smmu_domain *sd, const struct pgtable_range *r, unsigned n, bool leaf)
{
    struct smmu_cmd c[SMMU_TLBI_BATCH];
    bool nest = sd->d.flags & IOMMU_DOMAIN_NEST_PARENT;
    unsigned k = 0, max = SMMU_TLBI_BATCH - nest;
    for (unsigned i = 0; i < n; i++) {
        unsigned got = smmu_cmd_tlbi_range(c + k, max - k, sd, r[i].start, r[i].last, leaf);
        if (!got)
            return smmu_tlbi_domain(sd);
        k += got;
    }
    if (nest)
        c[k++] = (struct smmu_cmd){ { CMD_TLBI_NH_ALL | FIELD_PREP(CMD0_VMID, sd->vmid), 0 } };
    return smmu_cmdq_submit(sd->su, c, k);
}
