/* The NVMe driver: one controller per PCI function, its first active namespace as a block
 * device (nvmeNn1), an admin queue pair and one I/O queue pair, polled by phase bit.
 *
 * Queues live in the controller's DMA space: submission queues and PRP lists device-readable
 * only, completion queues device-writable. Every completion entry is checked (its SQ ID, a
 * command ID that is in flight, an SQ head inside the queue) before anything in it is used. */
#ifndef MOAT_DRIVERS_NVME_NVME_H
#define MOAT_DRIVERS_NVME_NVME_H

#include "drivers/dma/blk.h"
#include "drivers/nvme/nvme_hw.h"

#define NVME_MAX_CTRLS 4
#define NVME_ADMIN_DEPTH 16
#define NVME_IO_DEPTH 64
#define NVME_MAX_IO (128u * 1024)
#define NVME_ADMIN_TIMEOUT_NS (5ULL * 1000 * 1000 * 1000)

struct nvme_req {
    bool busy;
    volatile bool done;
    uint16_t sf;                /* Status Field */
    uint32_t dw0;
    struct blk_io *io;          /* NULL: an admin command someone waits for */
};

struct nvme_queue {
    uint16_t qid, depth;
    struct dma_mem sq, cq, prp;     /* prp: one PRP list page per command ID (I/O queues) */
    struct nvme_sqe *sqes;
    struct nvme_cqe *cqes;
    volatile uint32_t *sq_db, *cq_db;
    uint16_t sq_tail, sq_head, cq_head;
    uint16_t sq_rung;               /* the tail the doorbell last told the controller */
    uint8_t phase;
    struct nvme_req *reqs;          /* per command ID */
    uint16_t *free_cids;
    uint16_t nfree;
};

struct nvme_ctrl {
    struct blk_dev blk;
    volatile uint8_t *regs;
    uint64_t regs_size;
    uint64_t cap;
    uint64_t timeout_ns;            /* CAP.TO */
    struct nvme_queue admin, io;
    struct dma_mem identify;        /* scratch for Identify data */
    uint16_t vid;
    char sn[21], mn[41];
    uint32_t nn, nsid;
    uint32_t mdts_bytes;            /* 0: no limit */
};

unsigned nvme_count(void);
struct nvme_ctrl *nvme_get(unsigned i);

/* Queues a command (its CID is filled in) and rings the doorbell, unless hold: then the
 * command waits in the queue for nvme_sq_ring. -EBUSY when the queue or its CIDs are full. */
int nvme_submit(struct nvme_queue *q, struct nvme_sqe *sqe, struct blk_io *io, bool hold,
                uint16_t *cid);
/* Tells the controller of every command queued since the last doorbell (one write). */
void nvme_sq_ring(struct nvme_queue *q);
/* Reaps what the controller completed; -EPROTO (and the device marked broken) on an entry
 * that cannot be. */
int nvme_reap(struct nvme_ctrl *c, struct nvme_queue *q);
/* An admin command, waited for (bounded); the status as an errno, the result in *dw0. */
int nvme_admin(struct nvme_ctrl *c, struct nvme_sqe *sqe, uint32_t *dw0);
int nvme_status_errno(uint16_t sf);

int nvme_queue_alloc(struct nvme_ctrl *c, struct nvme_queue *q, uint16_t qid, uint16_t depth);
void nvme_queue_free(struct nvme_ctrl *c, struct nvme_queue *q);

/* The controller's part of the block-device ops (nvme.c): enable with the admin queue,
 * identify, create the I/O queue pair; disable (CC.EN = 0, bounded by CAP.TO); free. */
int nvme_ctrl_start(struct blk_dev *b);
int nvme_ctrl_reset(struct blk_dev *b);
void nvme_ctrl_release(struct blk_dev *b);
extern const struct blk_dev_ops nvme_blk_ops;

#endif
