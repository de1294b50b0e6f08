/* VFIO_DEVICE_SET_IRQS for MSI and MSI-X: each vector is a CPU vector whose handler signals the
 * user's eventfd; the message is composed through the IOMMU's interrupt remapping when the unit
 * has it on (msi_compose), and written into the MSI capability or the MSI-X table. A vector that
 * stops (disable, re-arm with -1, device close) is silenced at the function first, then its
 * remapping entry is freed (msi_free), so arming and disarming can repeat without end. Re-arming
 * an armed vector with another eventfd keeps its message, as Linux does. INTx requests go to
 * vfio_intx.c. */
#include "iommu/vfio/vfio_private.h"
#include "kernel/mm/heap.h"
#include "arch/arch.h"
#include "arch/msi.h"
#include "lib/errno.h"
#include "lib/string.h"

static void irq_fire(unsigned vector, void *ctx)
{
    struct vfio_irq *irq = ctx;
    if (irq->trigger)
        eventfd_signal(irq->trigger);
}

static void msix_mask(struct vfio_device *vd, unsigned i)
{
    volatile uint32_t *e = msix_entry_map(vfio_pci(), vd->pdev, i);
    if (e)
        msix_entry_mask(e);
}

/* The function no longer sends irq's message (MSI off, or its MSI-X entry masked): the message's
 * remapping entry, the vector and the eventfd go back. */
static void irq_release(struct vfio_device *vd, struct vfio_irq *irq)
{
    msi_free(vd->pdev, &irq->msg);
    if (irq->vector)
        irq_free_vector((unsigned)irq->vector);
    if (irq->trigger)
        file_put(irq->trigger);
    *irq = (struct vfio_irq){ 0 };
}

void vfio_irqs_disable(struct vfio_device *vd)
{
    struct pci_system *sys = vfio_pci();
    vfio_intx_disable(vd);
    if (vd->irq_index == VFIO_PCI_MSI_IRQ_INDEX) {
        msi_disable(sys, vd->pdev);
        vfio_cfg_msi_irq(&vd->vcfg, 0);
    } else if (vd->irq_index == VFIO_PCI_MSIX_IRQ_INDEX) {
        msix_set_enable(sys, vd->pdev, false);
    }
    for (unsigned i = 0; i < vd->irq_slots; i++)
        irq_release(vd, &vd->irqs[i]);
    vd->irq_index = ~0u;
    vd->nr_irqs = 0;
}

/* Vector i of index stops: its message is silenced at the function before it is released. */
static void irq_stop(struct vfio_device *vd, unsigned index, unsigned i)
{
    if (!vd->irqs[i].vector)
        return;
    if (index == VFIO_PCI_MSIX_IRQ_INDEX)
        msix_mask(vd, i);
    else
        msi_disable(vfio_pci(), vd->pdev);
    irq_release(vd, &vd->irqs[i]);
}

/* Arms vector i with the eventfd fd (-1: leaves it unarmed). A vector already armed keeps its
 * message and only changes eventfd, as Linux does (*swapped). */
static int irq_arm(struct vfio_device *vd, unsigned index, unsigned i, int fd, bool *swapped)
{
    struct vfio_irq *irq = &vd->irqs[i];
    *swapped = false;
    if (fd >= 0 && irq->vector) {
        struct file *t = fd_get(fd);
        if (!t)
            return ERR(-EBADF);
        uint64_t f = irq_save();
        struct file *old = irq->trigger;
        irq->trigger = t;
        irq_restore(f);
        file_put(old);
        *swapped = true;
        return 0;
    }
    irq_stop(vd, index, i);
    if (fd < 0)
        return 0;
    irq->trigger = fd_get(fd);
    if (!irq->trigger)
        return ERR(-EBADF);
    int vec = irq_alloc_vector(irq_fire, irq);
    if (vec < 0) {
        irq_release(vd, irq);
        return vec;
    }
    irq->vector = vec;
    return msi_compose(vd->pdev, (unsigned)vec, &irq->msg);
}

static int msix_program(struct vfio_device *vd, unsigned i, const struct msi_msg *m, bool armed)
{
    volatile uint32_t *e = msix_entry_map(vfio_pci(), vd->pdev, i);
    if (!e)
        return ERR(-ENODEV);
    msix_entry_write(e, m, !armed);
    return 0;
}

static int irqs_enable(struct vfio_device *vd, unsigned index, unsigned start, unsigned count,
                       const int32_t *fds)
{
    struct pci_system *sys = vfio_pci();
    int err = 0;
    for (unsigned i = start; i < start + count && !err; i++) {
        bool swapped;
        const struct msi_msg *m = &vd->irqs[i].msg;
        err = irq_arm(vd, index, i, fds[i - start], &swapped);
        if (err || swapped)
            continue;
        if (index == VFIO_PCI_MSIX_IRQ_INDEX)
            err = msix_program(vd, i, m, fds[i - start] >= 0);
        else if (fds[i - start] >= 0)
            err = msi_enable(sys, vd->pdev, m);
    }
    if (err) {
        vfio_irqs_disable(vd);
        return err;
    }
    if (index == VFIO_PCI_MSIX_IRQ_INDEX)
        msix_set_enable(sys, vd->pdev, true);
    else
        vfio_cfg_msi_irq(&vd->vcfg, start + count);    /* Linux's msi_qmax: all at once */
    vd->irq_index = index;
    vd->nr_irqs = MAX(vd->nr_irqs, start + count);
    return 0;
}

/* Linux's vfio_pci_get_irq_count: what the function offers. moat arms fewer (msi_trigger). */
unsigned vfio_irq_count(struct vfio_device *vd, unsigned index)
{
    const struct pci_dev *d = vd->pdev;
    struct pci_system *sys = vfio_pci();
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        return vfio_intx_count(vd);
    case VFIO_PCI_MSI_IRQ_INDEX:
        return d->caps.msi ? 1u << ((pci_read16(sys, d, d->caps.msi + 2) >> 1) & 7) : 0;
    case VFIO_PCI_MSIX_IRQ_INDEX:
        return msix_table_size(sys, d);
    case VFIO_PCI_ERR_IRQ_INDEX:
        return d->caps.exp ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
    default:
        return 0;
    }
}

/* The vectors moat can arm: one MSI message per function, every MSI-X entry (each takes an
 * interrupt vector while armed: irq_alloc_vector's ENOSPC when they run out, as Linux's
 * pci_alloc_irq_vectors fails). */
static unsigned irq_armable(struct vfio_device *vd, unsigned index)
{
    unsigned n = vfio_irq_count(vd, index);
    return index == VFIO_PCI_MSI_IRQ_INDEX ? MIN(n, 1u) : MIN(n, vd->irq_slots);
}

/* fd >= 0: that eventfd, a new reference (Linux's eventfd_ctx_fdget: EBADF, or EINVAL for
 * another kind of file); fd < 0: none. */
int vfio_eventfd_get(int32_t fd, struct file **out)
{
    *out = NULL;
    if (fd < 0)
        return 0;
    struct file *f = fd_get(fd);
    if (!f)
        return ERR(-EBADF);
    if (!file_is_eventfd(f)) {
        file_put(f);
        return ERR(-EINVAL);
    }
    *out = f;
    return 0;
}

/* Linux's vfio_pci_set_msi_trigger: NONE with count 0 disables; eventfds arm (only the index in
 * use, or any when none is); NONE and BOOL signal armed vectors' eventfds (loopback). */
static long msi_trigger(struct vfio_device *vd, const struct vfio_irq_set *h, const uint8_t *data)
{
    uint32_t dtype = h->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    if (vd->irq_index == h->index && !h->count && dtype == VFIO_IRQ_SET_DATA_NONE) {
        vfio_irqs_disable(vd);
        return 0;
    }
    if (vd->irq_index != h->index && vd->irq_index != ~0u)
        return ERR(-EINVAL);
    if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
        if (h->start + h->count > irq_armable(vd, h->index))
            return ERR(-ENOSPC);     /* pci_alloc_irq_vectors gave fewer than asked */
        const int32_t *fds = (const int32_t *)data;
        for (unsigned i = 0; i < h->count; i++) {
            struct file *f;
            int err = vfio_eventfd_get(fds[i], &f);
            if (err)
                return err;
            if (f)
                file_put(f);
        }
        return irqs_enable(vd, h->index, h->start, h->count, fds);
    }
    if (vd->irq_index != h->index)
        return ERR(-EINVAL);
    for (unsigned i = h->start; i < h->start + h->count && i < vd->irq_slots; i++)
        if (vd->irqs[i].trigger && (dtype == VFIO_IRQ_SET_DATA_NONE || data[i - h->start]))
            eventfd_signal(vd->irqs[i].trigger);
    return 0;
}

/* Linux's vfio_pci_set_ctx_trigger_single (ERR and REQ): one eventfd, held until -1 or close;
 * NONE and BOOL signal it (loopback); NONE with count 0 releases it. */
static long ctx_trigger(struct file **ctx, const struct vfio_irq_set *h, const uint8_t *data)
{
    uint32_t dtype = h->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    if (h->start != 0 || h->count > 1)
        return ERR(-EINVAL);
    if (dtype == VFIO_IRQ_SET_DATA_NONE) {
        if (!*ctx)
            return ERR(-EINVAL);
        if (h->count) {
            eventfd_signal(*ctx);
        } else {
            file_put(*ctx);
            *ctx = NULL;
        }
        return 0;
    }
    if (!h->count)
        return ERR(-EINVAL);
    if (dtype == VFIO_IRQ_SET_DATA_BOOL) {
        if (data[0] && *ctx)
            eventfd_signal(*ctx);
        return 0;
    }
    int32_t fd;
    memcpy(&fd, data, sizeof(fd));
    struct file *f;
    if (fd < -1)
        return 0;
    int err = vfio_eventfd_get(fd, &f);
    if (err)
        return err;
    if (*ctx)
        file_put(*ctx);
    *ctx = f;
    return 0;
}

void vfio_err_req_release(struct vfio_device *vd)
{
    for (unsigned i = 0; i < 2; i++) {
        struct file **ctx = i ? &vd->req_trigger : &vd->err_trigger;
        if (*ctx)
            file_put(*ctx);
        *ctx = NULL;
    }
}

/* Linux's vfio_set_irqs_validate_and_prepare, then vfio_pci_set_irqs_ioctl: the header and the
 * vector range against what the function offers (EINVAL), the data's size (EINVAL), then the
 * action for the index (ENOTTY when the index has no such action). */
long vfio_set_irqs(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_irq_set hdr;
    size_t minsz = END_OF(struct vfio_irq_set, count), size;
    long err = vfio_args_in(&hdr, arg, minsz);
    if (err)
        return err;
    uint32_t dtype = hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    uint32_t action = hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    if (hdr.index >= VFIO_PCI_NUM_IRQS || hdr.count >= UINT32_MAX - hdr.start ||
        (hdr.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
        return ERR(-EINVAL);
    unsigned max = vfio_irq_count(vd, hdr.index);
    if (hdr.start >= max || hdr.start + hdr.count > max)
        return ERR(-EINVAL);
    switch (dtype) {
    case VFIO_IRQ_SET_DATA_NONE: size = 0; break;
    case VFIO_IRQ_SET_DATA_BOOL: size = 1; break;
    case VFIO_IRQ_SET_DATA_EVENTFD: size = 4; break;
    default: return ERR(-EINVAL);
    }
    if (size && hdr.argsz - minsz < (uint64_t)hdr.count * size)
        return ERR(-EINVAL);
    bool trigger = action == VFIO_IRQ_SET_ACTION_TRIGGER;
    if (hdr.index == VFIO_PCI_INTX_IRQ_INDEX) {
        if (action != VFIO_IRQ_SET_ACTION_MASK && action != VFIO_IRQ_SET_ACTION_UNMASK && !trigger)
            return ERR(-ENOTTY);
        return vfio_intx_set_irqs(vd, &hdr, arg + minsz);
    }
    if (!trigger)
        return ERR(-ENOTTY);    /* no MSI/MSI-X masking; ERR and REQ only trigger */
    /* the data (Linux's memdup_user): count is at most the index's vectors (checked above),
     * at most VFIO_MAX_VECTORS; int32_t-aligned for the eventfds */
    size_t len = (size_t)MIN(hdr.count, (uint32_t)VFIO_MAX_VECTORS) * size;
    int32_t *data = kmalloc(MAX(len, sizeof(int32_t)));
    if (!data)
        return ERR(-ENOMEM);
    err = vfio_copy_from(data, arg + minsz, len);
    if (!err) {
        switch (hdr.index) {
        case VFIO_PCI_MSI_IRQ_INDEX:
        case VFIO_PCI_MSIX_IRQ_INDEX:
            err = msi_trigger(vd, &hdr, (const uint8_t *)data);
            break;
        case VFIO_PCI_ERR_IRQ_INDEX:
            err = ctx_trigger(&vd->err_trigger, &hdr, (const uint8_t *)data);
            break;
        default:
            err = ctx_trigger(&vd->req_trigger, &hdr, (const uint8_t *)data);
            break;
        }
    }
    kfree(data);
    return err;
}
