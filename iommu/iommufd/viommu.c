/* Nesting through a vIOMMU (Linux 6.13-6.15): the vIOMMU over a NEST_PARENT paging HWPT, the
 * vDEVICE (a bound device's virtual ID on it), and the vEVENTQ that carries the unit's stage-1
 * events to the program. Checks in Linux's order (iommufd_viommu_alloc_ioctl,
 * iommufd_vdevice_alloc_ioctl, iommufd_veventq_alloc, iommufd_veventq_fops_read). Nested HWPTs
 * on a vIOMMU and its invalidations are in hwpt_user.c. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "kernel/uaccess.h"
#include "lib/log.h"
#include "lib/string.h"

#define SEQ_NEXT(s) (((s) + 1) & 0x7fffffffu)      /* 0..INT_MAX, then 0 */

struct viommu *viommu_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_VIOMMU);
    return obj ? container_of(obj, struct viommu, obj) : NULL;
}

static struct veventq *veventq_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_VEVENTQ);
    return obj ? container_of(obj, struct veventq, obj) : NULL;
}

static struct veventq *veventq_find(struct viommu *vi, uint32_t type)
{
    for (struct veventq *q = vi->veventqs; q; q = q->next)
        if (q->type == type)
            return q;
    return NULL;
}

/* The unit's event path (iommu_viommu_report), possibly in its interrupt handler: queues one
 * event, or when the queue is full, a LOST_EVENTS header at the end of the stream (once until
 * it is read or a later event takes its place). One producer, one reader: the producer alone
 * writes tail, sequence, lost_seq and lost_gen, the reader alone head and lost_read. */
static int vevent_report(struct iommu_viommu *v, uint32_t type, const void *data, size_t len,
                         void *arg)
{
    struct viommu *vi = arg;
    struct veventq *q = veventq_find(vi, type);
    if (!q)
        return -EOPNOTSUPP;
    if (len > VEVENT_DATA_MAX)
        return ERR(-EINVAL);
    if (q->tail - READ_ONCE(q->head) == q->cap) {
        q->lost++;
        if (!q->lost_seq || q->lost_gen == READ_ONCE(q->lost_read)) {
            q->lost_seq = q->sequence + 1;      /* a LOST_EVENTS header is due */
            q->sequence = SEQ_NEXT(q->sequence);
            barrier();
            WRITE_ONCE(q->lost_gen, q->lost_gen + 1);
        }
        return 0;
    }
    WRITE_ONCE(q->lost_seq, 0); /* the gap in the sequence numbers tells of the loss now */
    struct vevent *e = &q->ring[q->tail % q->cap];
    e->sequence = q->sequence;
    e->len = (uint32_t)len;
    memcpy(e->data, data, len);
    q->sequence = SEQ_NEXT(q->sequence);
    barrier();                  /* the event before the index that publishes it */
    WRITE_ONCE(q->tail, q->tail + 1);
    return 0;
}

int moat_viommu_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t type, uint32_t dev_id,
                      uint32_t hwpt_id, uint32_t *out_viommu_id)
{
    if (flags || type == IOMMU_VIOMMU_TYPE_DEFAULT)
        return ERR(-EOPNOTSUPP);
    struct idev *idev = idev_get(ctx, dev_id);
    if (!idev)
        return ERR(-ENOENT);
    if (!idev->unit->ops->viommu_alloc)
        return ERR(-EOPNOTSUPP);
    struct iommufd_obj *obj = iommufd_get(ctx, hwpt_id, IOMMUFD_OBJ_HWPT_PAGING);
    if (!obj)
        return ERR(-ENOENT);
    struct hwpt *h = container_of(obj, struct hwpt, obj);
    if (!h->nest_parent)
        return ERR(-EINVAL);
    int err;
    struct viommu *vi = iommufd_obj_zalloc(ctx, sizeof(*vi), &err);
    if (!vi)
        return err;
    err = iommu_viommu_alloc(idev->unit, h->domain, type, &vi->v);
    if (err) {
        kfree(vi);
        return err;
    }
    vi->ctx = ctx;
    vi->hwpt = h;
    vi->v->event_fn = vevent_report;
    vi->v->event_ctx = vi;
    h->obj.users++;
    iommufd_obj_install(ctx, &vi->obj, IOMMUFD_OBJ_VIOMMU);
    *out_viommu_id = vi->obj.id;
    return 0;
}

void viommu_destroy(struct viommu *vi)
{
    MOAT_ASSERT(!vi->v->vdevs && !vi->veventqs);
    vi->v->event_fn = NULL;
    iommu_viommu_free(vi->v);
    vi->hwpt->obj.users--;
    kfree(vi);
}

int moat_vdevice_alloc(struct moat_iommufd *ctx, uint32_t viommu_id, uint32_t dev_id,
                       uint64_t virt_id, uint32_t *out_vdevice_id)
{
    struct viommu *vi = viommu_get(ctx, viommu_id);
    if (!vi)
        return ERR(-ENOENT);
    struct idev *idev = idev_get(ctx, dev_id);
    if (!idev)
        return ERR(-ENOENT);
    if (idev->unit != vi->v->unit)
        return ERR(-EINVAL);
    uint64_t have;
    if (!iommu_viommu_virt_id(vi->v, idev->pdev, &have) || iommu_viommu_dev(vi->v, virt_id))
        return ERR(-EEXIST);            /* one per device, one per virtual ID, per vIOMMU */
    int err;
    struct vdevice *vd = iommufd_obj_zalloc(ctx, sizeof(*vd), &err);
    if (!vd)
        return err;
    vd->viommu = vi;
    vd->idev = idev;
    vd->vd.virt_id = virt_id;
    vd->vd.dev = idev->pdev;
    vd->vd.next = vi->v->vdevs;
    vi->v->vdevs = &vd->vd;
    vi->obj.users++;
    iommufd_obj_install(ctx, &vd->obj, IOMMUFD_OBJ_VDEVICE);
    *out_vdevice_id = vd->obj.id;
    return 0;
}

void vdevice_destroy(struct vdevice *vd)
{
    struct iommu_vdev **pp = &vd->viommu->v->vdevs;
    while (*pp != &vd->vd)
        pp = &(*pp)->next;
    *pp = vd->vd.next;
    vd->viommu->obj.users--;
    kfree(vd);
}

/* A device that goes away takes its vDEVICEs with it (Linux 6.16's rule; before, they stayed
 * behind, unusable and undestroyable, until the context closed). */
void idev_vdevices_destroy(struct moat_iommufd *ctx, struct idev *idev)
{
    for (uint32_t i = 0; i < ctx->nr_slots; i++) {
        struct iommufd_obj *obj = ctx->objs[i];
        if (obj && obj->type == IOMMUFD_OBJ_VDEVICE &&
            container_of(obj, struct vdevice, obj)->idev == idev) {
            iommufd_obj_remove(ctx, obj);
            vdevice_destroy(container_of(obj, struct vdevice, obj));
        }
    }
}

int moat_veventq_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t viommu_id,
                       uint32_t type, uint32_t depth, uint32_t *out_veventq_id)
{
    if (flags || type == IOMMU_VEVENTQ_TYPE_DEFAULT)
        return ERR(-EOPNOTSUPP);
    if (!depth)
        return ERR(-EINVAL);
    struct viommu *vi = viommu_get(ctx, viommu_id);
    if (!vi)
        return ERR(-ENOENT);
    if (veventq_find(vi, type))
        return ERR(-EEXIST);
    int err = iommufd_slot_reserve(ctx);
    if (err)
        return err;
    struct veventq *q = iommufd_zalloc(sizeof(*q));
    uint32_t cap = MIN(depth, (uint32_t)VEVENTQ_CAP);
    struct vevent *ring = q ? iommufd_zalloc(cap * sizeof(*ring)) : NULL;
    if (!ring) {
        kfree(q);
        return ERR(-ENOMEM);
    }
    q->ctx = ctx;
    q->viommu = vi;
    q->type = type;
    q->depth = depth;
    q->cap = cap;
    q->ring = ring;
    q->next = vi->veventqs;
    vi->veventqs = q;
    vi->obj.users++;
    iommufd_obj_install(ctx, &q->obj, IOMMUFD_OBJ_VEVENTQ);
    *out_veventq_id = q->obj.id;
    return 0;
}

void veventq_destroy(struct veventq *q)
{
    struct veventq **pp = &q->viommu->veventqs;
    while (*pp != q)
        pp = &(*pp)->next;
    *pp = q->next;
    q->viommu->obj.users--;
    kfree(q->ring);
    kfree(q);
}

typedef int (*copy_out_fn)(void *dst, const void *src, size_t len);

/* Linux's vEVENTQ read: whole events only, each a header and its data; the LOST_EVENTS header
 * (no data) last. Stops at the first that does not fit; nothing fits or nothing waits: 0. */
static long veventq_read(struct veventq *q, uint8_t *buf, size_t len, copy_out_fn copy)
{
    struct iommufd_vevent_header hdr;
    size_t done = 0;
    while (q->head != READ_ONCE(q->tail)) {
        const struct vevent *e = &q->ring[q->head % q->cap];
        barrier();
        if (len - done < sizeof(hdr) + e->len)
            return (long)done;
        hdr.flags = 0;
        hdr.sequence = e->sequence;
        if (copy(buf + done, &hdr, sizeof(hdr)) || copy(buf + done + sizeof(hdr), e->data, e->len))
            return done ? (long)done : -EFAULT;
        done += sizeof(hdr) + e->len;
        barrier();              /* the copy before the slot is given back */
        WRITE_ONCE(q->head, q->head + 1);
    }
    uint32_t gen = READ_ONCE(q->lost_gen), seq = READ_ONCE(q->lost_seq);
    if (seq && gen != q->lost_read && len - done >= sizeof(hdr)) {
        hdr.flags = IOMMU_VEVENTQ_FLAG_LOST_EVENTS;
        hdr.sequence = seq - 1;
        if (copy(buf + done, &hdr, sizeof(hdr)))
            return done ? (long)done : -EFAULT;
        done += sizeof(hdr);
        WRITE_ONCE(q->lost_read, gen);
    }
    return (long)done;
}

static int copy_kernel(void *dst, const void *src, size_t len)
{
    memcpy(dst, src, len);
    return 0;
}

long moat_veventq_read(struct moat_iommufd *ctx, uint32_t veventq_id, void *buf, size_t len)
{
    struct veventq *q = veventq_get(ctx, veventq_id);
    if (!q)
        return ERR(-ENOENT);
    if (len && !buf)
        return ERR(-EFAULT);
    return veventq_read(q, buf, len, copy_kernel);
}

static bool veventq_pending(const struct veventq *q)
{
    return q->head != READ_ONCE(q->tail) ||
           (READ_ONCE(q->lost_seq) && READ_ONCE(q->lost_gen) != q->lost_read);
}

int moat_veventq_readable(struct moat_iommufd *ctx, uint32_t veventq_id)
{
    struct veventq *q = veventq_get(ctx, veventq_id);
    if (!q)
        return ERR(-ENOENT);
    return veventq_pending(q);
}

int moat_veventq_lost(struct moat_iommufd *ctx, uint32_t veventq_id, uint64_t *out)
{
    struct veventq *q = veventq_get(ctx, veventq_id);
    if (!q)
        return ERR(-ENOENT);
    *out = q->lost;
    return 0;
}

/* ---- the descriptor ---- */

static long veventq_fd_read(struct file *f, void *buf, size_t len, uint64_t off)
{
    if (off)
        return -ESPIPE;
    return veventq_read(f->priv, buf, len, uaccess_copy_to);
}

static unsigned veventq_fd_poll(struct file *f)
{
    return veventq_pending(f->priv) ? FILE_POLLIN | FILE_POLLRDNORM : 0;
}

static void veventq_fd_release(struct file *f)
{
    struct veventq *q = f->priv;
    iommufd_fd_release(q->ctx, &q->obj);
}

static const struct file_ops veventq_fd_ops = {
    .read = veventq_fd_read, .poll = veventq_fd_poll, .release = veventq_fd_release,
    .stream = true,
};

int veventq_fd_open(struct moat_iommufd *ctx, uint32_t veventq_id)
{
    struct veventq *q = veventq_get(ctx, veventq_id);
    if (!q)
        return ERR(-ENOENT);
    return iommufd_fd_open(ctx, &q->obj, &veventq_fd_ops, q);
}
