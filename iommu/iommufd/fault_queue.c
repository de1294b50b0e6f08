/* Fault queues: a bounded ring of decoded DMA fault records, filled from the fault reporting
 * path (iommu_report_fault -> domain->fault_fn) with no allocation, read oldest first. When full,
 * new records are dropped and counted: the oldest ones say where things first went wrong.
 *
 * Through the ioctl face a queue also gets a descriptor that behaves as Linux's fault fd
 * (drivers/iommu/iommufd/fault.c): read() returns struct iommu_hwpt_pgfault records, poll()
 * reports POLLIN while records wait, write() takes struct iommu_hwpt_page_response. */
#include "kernel/uaccess.h"
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/fd.h"
#include "kernel/uaccess.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"

static struct fault_queue *fq_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_FAULT);
    return obj ? container_of(obj, struct fault_queue, obj) : NULL;
}

static uint32_t fq_pending(const struct fault_queue *fq)
{
    return READ_ONCE(fq->tail) - fq->head;
}

int moat_fault_queue_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t *out_fault_id)
{
    if (flags)
        return ERR(-EOPNOTSUPP);
    int err;
    struct fault_queue *fq = iommufd_obj_zalloc(ctx, sizeof(*fq), &err);
    if (!fq)
        return err;
    fq->ctx = ctx;
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
    if (fq->tail - READ_ONCE(fq->head) == MOAT_FAULT_QUEUE_DEPTH) {
        fq->overflows++;
        return;
    }
    struct moat_fault_record *r = &fq->ring[fq->tail % MOAT_FAULT_QUEUE_DEPTH];
    struct idev *idev = idev_find_rid(f->seg, f->rid);
    r->dev_id = idev && idev->ctx == fq->ctx ? idev->obj.id : 0;
    r->hwpt_id = h->obj.id;
    r->fault = *f;
    barrier();                  /* the record before the index that publishes it */
    WRITE_ONCE(fq->tail, fq->tail + 1);
    if (fq->notify)
        fq->notify(fq->notify_arg);
}

/* Removes the oldest record into *out; false when none waits. */
static bool fq_pop(struct fault_queue *fq, struct moat_fault_record *out)
{
    if (!fq_pending(fq))
        return false;
    barrier();
    *out = fq->ring[fq->head % MOAT_FAULT_QUEUE_DEPTH];
    barrier();                  /* the copy before the slot is given back */
    WRITE_ONCE(fq->head, fq->head + 1);
    return true;
}

int moat_fault_queue_read(struct moat_iommufd *ctx, uint32_t fault_id,
                          struct moat_fault_record *out, uint32_t max, uint32_t *n)
{
    struct fault_queue *fq = fq_get(ctx, fault_id);
    if (!fq)
        return ERR(-ENOENT);
    if (max && !out)
        return ERR(-EFAULT);
    uint32_t k = 0;
    while (k < max && fq_pop(fq, &out[k]))
        k++;
    *n = k;
    return 0;
}

int moat_fault_queue_readable(struct moat_iommufd *ctx, uint32_t fault_id)
{
    struct fault_queue *fq = fq_get(ctx, fault_id);
    if (!fq)
        return ERR(-ENOENT);
    return fq_pending(fq) != 0;
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

/* ---- the descriptor ---- */

/* A moat record in Linux's format. Linux's records are PRI page requests; moat's are DMA faults
 * the IOMMU already aborted, each a group of its own:
 *   flags   LAST_PAGE always (a group of one), PASID_VALID when the request carried a PASID
 *   dev_id  the device's ID in the queue's context (0: a requester not bound there)
 *   pasid   the PASID when PASID_VALID, else 0
 *   grpid   0: there is no page request group
 *   perm    WRITE for a write request, READ for a read
 *   addr    the IOVA the device used, as the unit recorded it (page-granular on some units)
 *   length  0: no hint
 *   cookie  a per-queue sequence number, from 1
 * The unit's reason code is not in this format: the boot log's line and the native
 * moat_fault_queue_read() carry it. */
static void fault_to_pgfault(const struct moat_fault_record *r, uint32_t cookie,
                             struct iommu_hwpt_pgfault *p)
{
    memset(p, 0, sizeof(*p));
    p->flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE |
               (r->fault.has_pasid ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0);
    p->dev_id = r->dev_id;
    p->pasid = r->fault.has_pasid ? r->fault.pasid : 0;
    p->perm = r->fault.write ? IOMMU_PGFAULT_PERM_WRITE : IOMMU_PGFAULT_PERM_READ;
    p->addr = r->fault.addr;
    p->cookie = cookie;
}

/* Linux's rules: the length must be a whole number of records (-ESPIPE); with records waiting,
 * a buffer too small for the first one is -EINVAL; nothing waiting reads 0 (no blocking). */
static long fault_fd_read(struct file *f, void *buf, size_t len, uint64_t off)
{
    struct fault_queue *fq = f->priv;
    const size_t rec = sizeof(struct iommu_hwpt_pgfault);
    struct moat_fault_record r;
    size_t done = 0;
    if (off || len % rec)
        return -ESPIPE;
    if (fq_pending(fq) && len < rec)
        return -EINVAL;
    while (len - done >= rec && fq_pop(fq, &r)) {
        struct iommu_hwpt_pgfault p;
        fault_to_pgfault(&r, ++fq->cookies, &p);
        if (uaccess_copy_to((uint8_t *)buf + done, &p, rec))
            return done ? (long)done : -EFAULT;     /* this record is lost, as Linux loses it */
        done += rec;
    }
    return (long)done;
}

/* Responses are accepted for cookies that were read; they change nothing: the unit aborted the
 * request when it faulted, and no device waits for an answer. */
static long fault_fd_write(struct file *f, const void *buf, size_t len, uint64_t off)
{
    struct fault_queue *fq = f->priv;
    const size_t rsz = sizeof(struct iommu_hwpt_page_response);
    size_t done = 0;
    if (off || len % rsz)
        return -ESPIPE;
    while (done < len) {
        struct iommu_hwpt_page_response resp;
        if (uaccess_copy_from(&resp, (const uint8_t *)buf + done, rsz))
            return done ? (long)done : -EFAULT;
        if ((resp.code != IOMMUFD_PAGE_RESP_SUCCESS && resp.code != IOMMUFD_PAGE_RESP_INVALID) ||
            resp.cookie == 0 || resp.cookie > fq->cookies)
            return done ? (long)done : -EINVAL;
        done += rsz;
    }
    return (long)done;
}

static unsigned fault_fd_poll(struct file *f)
{
    struct fault_queue *fq = f->priv;
    return FILE_POLLOUT | (fq_pending(fq) ? FILE_POLLIN | FILE_POLLRDNORM : 0);
}

static void fault_fd_release(struct file *f)
{
    struct fault_queue *fq = f->priv;
    iommufd_fd_release(fq->ctx, &fq->obj);
}

static const struct file_ops fault_fd_ops = {
    .read = fault_fd_read, .write = fault_fd_write, .poll = fault_fd_poll,
    .release = fault_fd_release, .stream = true,
};

int fault_queue_fd_open(struct moat_iommufd *ctx, uint32_t fault_id)
{
    struct fault_queue *fq = fq_get(ctx, fault_id);
    if (!fq)
        return ERR(-ENOENT);
    return iommufd_fd_open(ctx, &fq->obj, &fault_fd_ops, fq);
}
