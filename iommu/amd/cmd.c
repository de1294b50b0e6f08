/* The command buffer (AMD IOMMU spec 2.4, 3.4.2): a ring of 16-byte commands that hardware
 * fetches from its head up to the tail software writes. Every operation queues its commands and
 * then one COMPLETION_WAIT whose store (a sequence number into a word in memory) is polled with
 * a deadline: when it lands, every command before it has completed (2.4.1). A wait that does
 * not land resets the ring (amdvi_cmd_recover). Callers are serialised (single CPU; the event
 * handler never queues commands). */
#include "arch/arch.h"
#include "iommu/amd/amdvi.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"

#define AMDVI_CMD_SLOTS (AMDVI_RING_BYTES / sizeof(struct amdvi_cmd))
#define AMDVI_MAX_BATCH 32              /* commands per submission, the wait included */

static void amdvi_cmdbuf_program(struct amdvi_unit *au);

int amdvi_cmd_init(struct amdvi_unit *au)
{
    uint64_t wpa;
    au->cmdbuf = pmm_alloc_zeroed(0, &au->cmdbuf_pa);
    au->wait_word = pmm_alloc_zeroed(0, &wpa);
    if (!au->cmdbuf || !au->wait_word)
        return -ENOMEM;
    au->wait_pa = wpa;
    amdvi_ctrl(au, AMDVI_CTRL_CMD_BUF_EN, false);
    amdvi_cmdbuf_program(au);
    amdvi_ctrl(au, AMDVI_CTRL_CMD_BUF_EN, true);
    return 0;
}

static void amdvi_cmd_put(struct amdvi_unit *au, const struct amdvi_cmd *c)
{
    struct amdvi_cmd *slot = &au->cmdbuf[au->cmd_tail];
    slot->w[0] = c->w[0];
    slot->w[1] = c->w[1];
    au->cmd_tail = (au->cmd_tail + 1) % AMDVI_CMD_SLOTS;
    au->nr_cmds++;
}

static void amdvi_cmdbuf_program(struct amdvi_unit *au)
{
    au->cmd_tail = 0;
    /* Writing the base resets head and tail (3.4.2); both are zeroed explicitly as well. */
    amdvi_write64(au, AMDVI_CMD_BUF_BASE, au->cmdbuf_pa |
                                          FIELD_PREP(AMDVI_LEN_FIELD, AMDVI_RING_LEN_LOG2));
    amdvi_write64(au, AMDVI_CMD_HEAD, 0);
    amdvi_write64(au, AMDVI_CMD_TAIL, 0);
}

/* A wait that did not complete: hardware stopped at an illegal command (CmdBufRun clear, an
 * ILLEGAL_COMMAND_ERROR in the log names it) or hangs. What it has not executed is discarded:
 * the ring is stopped, reprogrammed empty and started again; the caller's operation fails and
 * is redone in a stronger form (amdvi_pgtable.c invalidates everything). */
static void amdvi_cmd_recover(struct amdvi_unit *au, uint64_t seq)
{
    kprintf("amdvi: %s: completion wait %llu failed: head %#llx tail %#llx status %#llx: "
            "command buffer reset\n", au->name, (unsigned long long)seq,
            (unsigned long long)amdvi_read64(au, AMDVI_CMD_HEAD),
            (unsigned long long)amdvi_read64(au, AMDVI_CMD_TAIL),
            (unsigned long long)amdvi_read64(au, AMDVI_STATUS));
    amdvi_event_poll(au);
    amdvi_ctrl(au, AMDVI_CTRL_CMD_BUF_EN, false);
    if (poll_until(!(amdvi_read64(au, AMDVI_STATUS) & AMDVI_STS_CMD_RUN), AMDVI_WAIT_TIMEOUT_NS))
        kprintf("amdvi: %s: the command buffer does not stop\n", au->name);
    amdvi_cmdbuf_program(au);
    amdvi_ctrl(au, AMDVI_CTRL_CMD_BUF_EN, true);
    au->nr_cmd_resets++;
}

/* Queues n commands and a completion wait, publishes the tail and polls the store. The ring is
 * empty on entry (every submission ends with its wait), so n + 1 slots are free. */
int amdvi_submit(struct amdvi_unit *au, const struct amdvi_cmd *c, unsigned n)
{
    MOAT_ASSERT(n + 1 <= AMDVI_MAX_BATCH && n + 1 < AMDVI_CMD_SLOTS);
    /* Before IOMMUEn the unit fetches no command and caches nothing; enabling ends with an
     * invalidate-all that covers whatever was written until then. */
    if (!au->enabled)
        return 0;
    uint64_t seq = ++au->wait_seq;
    for (unsigned i = 0; i < n; i++)
        amdvi_cmd_put(au, &c[i]);
    struct amdvi_cmd w;
    amdvi_cmd_completion_wait(&w, au->wait_pa, seq);
    amdvi_cmd_put(au, &w);
    wmb();      /* commands in memory before the tail moves */
    amdvi_write64(au, AMDVI_CMD_TAIL, (uint64_t)au->cmd_tail * sizeof(struct amdvi_cmd));
    int err = poll_until(READ_ONCE(*au->wait_word) == seq, AMDVI_WAIT_TIMEOUT_NS);
    au->nr_waits++;
    if (err)
        amdvi_cmd_recover(au, seq);
    return err;
}

/* Queues one command into a batch, submitting the batch when it is full (or when flush). */
static int amdvi_batch_add(struct amdvi_unit *au, struct amdvi_cmd *batch, unsigned *n,
                           const struct amdvi_cmd *c, bool flush)
{
    if (c)
        batch[(*n)++] = *c;
    if (*n && (flush || *n == AMDVI_MAX_BATCH - 1)) {
        int err = amdvi_submit(au, batch, *n);
        *n = 0;
        return err;
    }
    return 0;
}

int amdvi_inv_all(struct amdvi_unit *au)
{
    struct amdvi_cmd c;
    if (au->efr & AMDVI_EFR_IASUP) {
        amdvi_cmd_inv_all(&c);
        return amdvi_submit(au, &c, 1);
    }
    /* Without INVALIDATE_IOMMU_ALL: every device table entry, interrupt table and domain ID. */
    struct amdvi_cmd batch[AMDVI_MAX_BATCH - 1];
    unsigned n = 0;
    int err = 0;
    for (uint32_t devid = 0; devid < au->nr_dtes && !err; devid++) {
        amdvi_cmd_inv_devtab_entry(&c, (uint16_t)devid);
        err = amdvi_batch_add(au, batch, &n, &c, false);
        amdvi_cmd_inv_intr_table(&c, (uint16_t)devid);
        if (!err)
            err = amdvi_batch_add(au, batch, &n, &c, false);
    }
    for (unsigned id = 0; id < AMDVI_MAX_DOMAIN_IDS && !err; id++) {
        amdvi_cmd_inv_pages_all(&c, (uint16_t)id);
        err = amdvi_batch_add(au, batch, &n, &c, false);
    }
    return err ? err : amdvi_batch_add(au, batch, &n, NULL, true);
}

int amdvi_inv_domain(struct amdvi_unit *au, uint16_t domid)
{
    struct amdvi_cmd c;
    amdvi_cmd_inv_pages_all(&c, domid);
    return amdvi_submit(au, &c, 1);
}

/* One INVALIDATE_IOMMU_PAGES per range (the smallest aligned block holding it), one wait. */
int amdvi_inv_ranges(struct amdvi_unit *au, uint16_t domid, const struct pgtable_range *r,
                     unsigned n, bool pde)
{
    struct amdvi_cmd c[AMDVI_MAX_BATCH - 1];
    if (n > ARRAY_SIZE(c))
        return amdvi_inv_domain(au, domid);
    for (unsigned i = 0; i < n; i++)
        amdvi_cmd_inv_pages(&c[i], domid, r[i].start, r[i].last, pde);
    return amdvi_submit(au, c, n);
}
