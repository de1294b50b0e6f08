/* NVMe reads, writes and flushes for the block layer: PRPs built from the I/O's contiguous
 * IOVA range (PRP1, PRP2, or PRP2 pointing at this command ID's pre-mapped list page). */
#include "drivers/nvme/nvme.h"
#include "lib/errno.h"
#include "lib/string.h"

static struct nvme_ctrl *to_ctrl(struct blk_dev *b)
{
    return b->priv;
}

/* 4.1.1: PRP1 may carry an offset (dword aligned), every further entry is page aligned. The
 * list for command ID cid is that ID's page of q->prp: max_io keeps one page enough. */
static int build_prps(struct nvme_queue *q, uint16_t cid, const struct blk_io *io,
                      struct nvme_sqe *sqe)
{
    uint64_t off = io->iova & (NVME_PAGE - 1);
    uint64_t npages = (off + io->len + NVME_PAGE - 1) / NVME_PAGE;
    uint64_t page = io->iova - off;
    if (io->iova & 3 || npages - 1 > NVME_PRPS_PER_PAGE)
        return -EINVAL;
    sqe->prp1 = io->iova;
    sqe->prp2 = 0;
    if (npages == 2) {
        sqe->prp2 = page + NVME_PAGE;
    } else if (npages > 2) {
        uint64_t *list = (uint64_t *)((uint8_t *)q->prp.cpu + cid * NVME_PAGE);
        for (uint64_t i = 1; i < npages; i++)
            list[i - 1] = page + i * NVME_PAGE;
        sqe->prp2 = q->prp.iova + cid * NVME_PAGE;
    }
    return 0;
}

static void fill_rw(struct nvme_ctrl *c, const struct blk_io *io, struct nvme_sqe *sqe)
{
    uint8_t opc = io->op == BLK_OP_READ ? NVME_CMD_READ
                : io->op == BLK_OP_WRITE ? NVME_CMD_WRITE : NVME_CMD_FLUSH;
    memset(sqe, 0, sizeof(*sqe));
    sqe->cdw0 = opc;
    sqe->nsid = c->nsid;
    if (io->op == BLK_OP_FLUSH)
        return;
    sqe->cdw10 = (uint32_t)io->lba;
    sqe->cdw11 = (uint32_t)(io->lba >> 32);
    sqe->cdw12 = io->nlb - 1;
}

/* The command ID is chosen at submission, but the PRP list page is per ID: the ID about to be
 * used is the top of the free stack. */
static int nvme_blk_submit(struct blk_dev *b, struct blk_io *io)
{
    struct nvme_ctrl *c = to_ctrl(b);
    struct nvme_queue *q = &c->io;
    struct nvme_sqe sqe;
    if (q->nfree == 0)
        return -EBUSY;
    fill_rw(c, io, &sqe);
    if (io->op != BLK_OP_FLUSH) {
        int err = build_prps(q, q->free_cids[q->nfree - 1], io, &sqe);
        if (err)
            return err;
    }
    uint16_t cid;
    int err = nvme_submit(q, &sqe, io, b->plugged, &cid);
    if (!err)
        io->tag = cid;
    return err;
}

static void nvme_blk_commit(struct blk_dev *b)
{
    nvme_sq_ring(&to_ctrl(b)->io);
}

static int nvme_blk_poll(struct blk_dev *b)
{
    struct nvme_ctrl *c = to_ctrl(b);
    return nvme_reap(c, &c->io);
}

const struct blk_dev_ops nvme_blk_ops = {
    .start = nvme_ctrl_start,
    .reset = nvme_ctrl_reset,
    .release = nvme_ctrl_release,
    .submit = nvme_blk_submit,
    .commit = nvme_blk_commit,
    .poll = nvme_blk_poll,
};
