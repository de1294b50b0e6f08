/* Fault queues: a bounded ring of decoded DMA fault records, filled from the fault reporting
 * path (iommu_report_fault -> domain->fault_fn) with no allocation, read oldest first. When full,
 * new records are dropped and counted: the oldest ones say where things first went wrong. */
#include "iommu/core/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"

static struct fault_queue *fq_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_FAULT);
    return obj ? container_of(obj, struct fault_queue, obj) : NULL;
}

int moat_fault_queue_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t *out_fault_id)
{
    if (flags)
        return ERR(-EOPNOTSUPP);
    int err = iommufd_slot_reserve(ctx);
    if (err)
        return err;
    struct fault_queue *fq = iommufd_zalloc(sizeof(*fq));
    if (!fq)
        return ERR(-ENOMEM);
    iommufd_obj_install(ctx, &fq->obj, IOMMUFD_OBJ_FAULT);
    *out_fault_id = fq->obj.id;
    return 0;
}

void fault_queue_destroy(struct fault_queue *fq)
{
    kfree(fq);
}

void fault_queue_deliver(struct iommu_domain *d, const struct iommu_fault *f, void *arg)
{
    struct hwpt *h = arg;
    struct fault_queue *fq = h->fault;
    if (!fq)
        return;
    if (fq->count == MOAT_FAULT_QUEUE_DEPTH) {
        fq->overflows++;
        return;
    }
    struct moat_fault_record *r = &fq->ring[(fq->head + fq->count) % MOAT_FAULT_QUEUE_DEPTH];
    struct idev *idev = idev_find_rid(f->seg, f->rid);
    r->dev_id = idev && idev->ctx ? idev->obj.id : 0;
    r->hwpt_id = h->obj.id;
    r->fault = *f;
    fq->count++;
    if (fq->notify)
        fq->notify(fq->notify_arg);
}

int moat_fault_queue_read(struct moat_iommufd *ctx, uint32_t fault_id,
                          struct moat_fault_record *out, uint32_t max, uint32_t *n)
{
    struct fault_queue *fq = fq_get(ctx, fault_id);
    if (!fq)
        return ERR(-ENOENT);
    if (max && !out)
        return ERR(-EFAULT);
    uint32_t k = MIN(max, fq->count);
    for (uint32_t i = 0; i < k; i++) {
        out[i] = fq->ring[fq->head];
        fq->head = (fq->head + 1) % MOAT_FAULT_QUEUE_DEPTH;
    }
    fq->count -= k;
    *n = k;
    return 0;
}

int moat_fault_queue_readable(struct moat_iommufd *ctx, uint32_t fault_id)
{
    struct fault_queue *fq = fq_get(ctx, fault_id);
    if (!fq)
        return ERR(-ENOENT);
    return fq->count != 0;
}

int moat_fault_queue_set_notify(struct moat_iommufd *ctx, uint32_t fault_id,
                                void (*fn)(void *arg), void *arg)
{
    struct fault_queue *fq = fq_get(ctx, fault_id);
    if (!fq)
        return ERR(-ENOENT);
    fq->notify = fn;
    fq->notify_arg = arg;
    return 0;
}

int moat_fault_queue_overflows(struct moat_iommufd *ctx, uint32_t fault_id, uint64_t *out)
{
    struct fault_queue *fq = fq_get(ctx, fault_id);
    if (!fq)
        return ERR(-ENOENT);
    *out = fq->overflows;
    return 0;
}
