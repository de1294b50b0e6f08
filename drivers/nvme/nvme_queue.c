/* NVMe queue pairs: memory in the controller's DMA space, submission through the tail
 * doorbell, completion by phase bit with every entry checked before use. */
#include "arch/arch.h"
#include "drivers/nvme/nvme.h"
#include "kernel/mm/heap.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/string.h"

static volatile uint32_t *doorbell(struct nvme_ctrl *c, uint16_t qid, bool cq)
{
    uint64_t stride = 4ULL << FIELD_GET(NVME_CAP_DSTRD, c->cap);
    return (volatile uint32_t *)(c->regs + NVME_REG_DBS + (2ULL * qid + cq) * stride);
}

/* Submission queue and PRP lists: the controller reads them. Completion queue: it writes it
 * (and nothing else in this queue pair). */
static int alloc_rings(struct nvme_ctrl *c, struct nvme_queue *q)
{
    struct dma_space *ds = &c->blk.dma;
    int err = dma_alloc(ds, (uint64_t)q->depth * sizeof(struct nvme_sqe), IOMMU_READ, &q->sq);
    if (!err)
        err = dma_alloc(ds, (uint64_t)q->depth * sizeof(struct nvme_cqe), IOMMU_WRITE, &q->cq);
    if (!err && q->qid != 0)
        err = dma_alloc(ds, q->depth * NVME_PAGE, IOMMU_READ, &q->prp);
    return err;
}

int nvme_queue_alloc(struct nvme_ctrl *c, struct nvme_queue *q, uint16_t qid, uint16_t depth)
{
    memset(q, 0, sizeof(*q));
    q->qid = qid;
    q->depth = depth;
    uint64_t stride = 4ULL << FIELD_GET(NVME_CAP_DSTRD, c->cap);
    if (NVME_REG_DBS + (2ULL * qid + 2) * stride > c->regs_size)
        return -EINVAL;
    q->sq_db = doorbell(c, qid, false);
    q->cq_db = doorbell(c, qid, true);
    q->phase = 1;
    q->reqs = kcalloc(depth, sizeof(*q->reqs));
    q->free_cids = kcalloc(depth, sizeof(*q->free_cids));
    int err = q->reqs && q->free_cids ? alloc_rings(c, q) : -ENOMEM;
    if (err) {
        nvme_queue_free(c, q);
        return err;
    }
    q->sqes = q->sq.cpu;
    q->cqes = q->cq.cpu;
    for (uint16_t i = 0; i < depth; i++)
        q->free_cids[q->nfree++] = (uint16_t)(depth - 1 - i);
    return 0;
}

void nvme_queue_free(struct nvme_ctrl *c, struct nvme_queue *q)
{
    dma_free(&c->blk.dma, &q->sq);
    dma_free(&c->blk.dma, &q->cq);
    dma_free(&c->blk.dma, &q->prp);
    kfree(q->reqs);
    kfree(q->free_cids);
    memset(q, 0, sizeof(*q));
}

void nvme_sq_ring(struct nvme_queue *q)
{
    if (q->sq_rung == q->sq_tail)
        return;
    wmb();      /* the entries are in memory before the controller learns of them */
    *q->sq_db = q->sq_tail;
    q->sq_rung = q->sq_tail;
}

int nvme_submit(struct nvme_queue *q, struct nvme_sqe *sqe, struct blk_io *io, bool hold,
                uint16_t *cid)
{
    uint16_t next = (uint16_t)((q->sq_tail + 1) % q->depth);
    if (q->nfree == 0 || next == q->sq_head)
        return -EBUSY;
    uint16_t id = q->free_cids[--q->nfree];
    struct nvme_req *r = &q->reqs[id];
    *r = (struct nvme_req){ .busy = true, .io = io };
    sqe->cdw0 = (sqe->cdw0 & ~(uint32_t)NVME_SQE_CID) | (uint32_t)FIELD_PREP(NVME_SQE_CID, id);
    q->sqes[q->sq_tail] = *sqe;
    q->sq_tail = next;
    if (!hold)
        nvme_sq_ring(q);
    *cid = id;
    return 0;
}

int nvme_status_errno(uint16_t sf)
{
    unsigned sc = FIELD_GET(NVME_SF_SC, sf), sct = FIELD_GET(NVME_SF_SCT, sf);
    if (sc == NVME_SC_SUCCESS && sct == NVME_SCT_GENERIC)
        return 0;
    if (sct == NVME_SCT_GENERIC && sc == NVME_SC_LBA_RANGE)
        return -ERANGE;
    if (sct == NVME_SCT_GENERIC && (sc == NVME_SC_INVALID_FIELD || sc == NVME_SC_INVALID_OPCODE))
        return -EINVAL;
    return -EIO;
}

/* One completion entry the phase bit says is new; -EPROTO when it cannot be. */
static int take_cqe(struct nvme_ctrl *c, struct nvme_queue *q, const struct nvme_cqe *e)
{
    uint32_t dw2 = READ_ONCE(e->dw2), dw3 = READ_ONCE(e->dw3);
    uint16_t cid = (uint16_t)FIELD_GET(NVME_CQE_CID, dw3);
    uint16_t sqhd = (uint16_t)FIELD_GET(NVME_CQE_SQHD, dw2);
    const char *bad = FIELD_GET(NVME_CQE_SQID, dw2) != q->qid ? "a completion for another SQ"
                    : cid >= q->depth || !q->reqs[cid].busy ? "a completion with an unknown command ID"
                    : sqhd >= q->depth ? "an SQ head outside the queue" : NULL;
    if (bad) {
        blk_dev_bad_completion(&c->blk, bad, (uint64_t)dw2 << 32 | dw3);
        return -EPROTO;
    }
    struct nvme_req *r = &q->reqs[cid];
    r->sf = (uint16_t)FIELD_GET(NVME_CQE_SF, dw3);
    r->dw0 = READ_ONCE(e->dw0);
    r->busy = false;
    q->free_cids[q->nfree++] = cid;
    q->sq_head = sqhd;
    if (r->io)
        blk_io_reaped(&c->blk, r->io, nvme_status_errno(r->sf));
    r->done = true;
    return 0;
}

int nvme_reap(struct nvme_ctrl *c, struct nvme_queue *q)
{
    int count = 0;
    for (;;) {
        const struct nvme_cqe *e = &q->cqes[q->cq_head];
        if (!!(READ_ONCE(e->dw3) & NVME_CQE_P) != q->phase)
            break;
        rmb();      /* the entry's other words after the phase bit that published them */
        int err = take_cqe(c, q, e);
        if (err)
            return err;
        if (++q->cq_head == q->depth) {
            q->cq_head = 0;
            q->phase ^= 1;
        }
        count++;
    }
    if (count)
        *q->cq_db = q->cq_head;
    return count;
}

int nvme_admin(struct nvme_ctrl *c, struct nvme_sqe *sqe, uint32_t *dw0)
{
    uint16_t cid;
    int err = nvme_submit(&c->admin, sqe, NULL, false, &cid);
    if (err)
        return err;
    struct nvme_req *r = &c->admin.reqs[cid];
    err = poll_until(r->done || nvme_reap(c, &c->admin) < 0 || r->done,
                     NVME_ADMIN_TIMEOUT_NS);
    if (!r->done) {
        c->blk.broken = true;       /* the command may still run: only a reset ends it */
        return err ? err : -EIO;
    }
    if (dw0)
        *dw0 = r->dw0;
    return nvme_status_errno(r->sf);
}
