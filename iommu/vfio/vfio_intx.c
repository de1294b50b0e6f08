/* INTx for VFIO devices, with Linux vfio-pci's semantics (vfio_pci_intx.c): one level-triggered
 * interrupt, signalled to an eventfd and masked by the handler (VFIO_IRQ_INFO_AUTOMASKED) until
 * the user unmasks it with VFIO_IRQ_SET_ACTION_UNMASK. Masking is PCI 2.3 INTx masking (Interrupt
 * Disable in the command register, Interrupt Status in the status register), as Linux does for
 * functions that support it, so the line can be shared: the handler acts only when its function's
 * Interrupt Status is set. Functions without INTx masking, without a pin, or whose pin has no
 * known route (arch/x86_64/intx.c) report no INTx (count 0), as Linux does without a pin.
 * The command register's Interrupt Disable the program sees is virtual (vfio_config.c): setting
 * it masks, and while it is set nothing unmasks; clearing it unmasks (vfio_intx_follow_virtual).
 * The line reaches the CPU through the IOAPIC (and the IOMMU's interrupt remapping when on). */
#include "iommu/vfio/vfio_private.h"
#include "arch/arch.h"
#include "arch/intx.h"
#include "pci/pci_regs.h"
#include "lib/errno.h"
#include "lib/string.h"

static bool intx_masking_works(struct vfio_device *vd)
{
    struct pci_system *sys = vfio_pci();
    uint16_t cmd = pci_read16(sys, vd->pdev, PCI_COMMAND);
    pci_write16(sys, vd->pdev, PCI_COMMAND, cmd ^ PCI_COMMAND_INTX_DISABLE);
    uint16_t now = pci_read16(sys, vd->pdev, PCI_COMMAND);
    pci_write16(sys, vd->pdev, PCI_COMMAND, cmd);
    return (now ^ cmd) == PCI_COMMAND_INTX_DISABLE;
}

/* 1 when the device's INTx can be delivered, else 0 (decided once per device file). */
unsigned vfio_intx_count(struct vfio_device *vd)
{
    if (vd->intx.probed)
        return vd->intx.usable;
    vd->intx.probed = true;
    vd->intx.usable = false;
    if (vd->pdev->is_virtfn || !pci_read8(vfio_pci(), vd->pdev, PCI_INTERRUPT_PIN))
        return 0;
    if (pci_intx_route(vfio_pci(), vd->pdev, &vd->intx.gsi, &vd->intx.flags) ||
        ioapic_gsi_check(vd->intx.gsi) || !intx_masking_works(vd))
        return 0;
    vd->intx.usable = true;
    return 1;
}

static void intx_set_disable(struct vfio_device *vd, bool disable)
{
    struct pci_system *sys = vfio_pci();
    uint16_t cmd = pci_read16(sys, vd->pdev, PCI_COMMAND);
    uint16_t want = disable ? cmd | PCI_COMMAND_INTX_DISABLE : cmd & ~PCI_COMMAND_INTX_DISABLE;
    if (want != cmd)
        pci_write16(sys, vd->pdev, PCI_COMMAND, want);
}

static bool intx_pending(struct vfio_device *vd)
{
    return pci_read16(vfio_pci(), vd->pdev, PCI_STATUS) & PCI_STATUS_INTERRUPT;
}

static void intx_signal(struct vfio_device *vd)
{
    if (vd->intx.trigger)
        eventfd_signal(vd->intx.trigger);
}

/* In the interrupt: ours only when the function says so; then masked and signalled. */
static void intx_handler(void *ctx)
{
    struct vfio_device *vd = ctx;
    if (vd->intx.masked || !intx_pending(vd))
        return;
    intx_set_disable(vd, true);
    vd->intx.masked = true;
    intx_signal(vd);
}

/* Masking comes from the handler, the ioctl, and the virtual Interrupt Disable; the last also
 * while INTx is not in use, and then the real bit just follows the virtual one (as Linux). */
static void intx_mask(struct vfio_device *vd)
{
    uint64_t f = irq_save();
    if (vd->irq_index != VFIO_PCI_INTX_IRQ_INDEX) {
        intx_set_disable(vd, true);
    } else if (!vd->intx.masked) {
        intx_set_disable(vd, true);
        vd->intx.masked = true;
    }
    irq_restore(f);
}

/* A still-pending interrupt is re-sent to the user instead of being unmasked into. Nothing
 * unmasks while the program's virtual Interrupt Disable is set (Linux's virq_disabled). */
static void intx_unmask(struct vfio_device *vd)
{
    uint64_t f = irq_save();
    bool resend = false;
    if (vd->irq_index != VFIO_PCI_INTX_IRQ_INDEX) {
        intx_set_disable(vd, false);
    } else if (vd->intx.masked && !vd->intx.virq_disabled) {
        if (intx_pending(vd)) {
            resend = true;
        } else {
            vd->intx.masked = false;
            intx_set_disable(vd, false);
        }
    }
    irq_restore(f);
    if (resend)
        intx_signal(vd);
}

void vfio_intx_follow_virtual(struct vfio_device *vd)
{
    bool want = vd->vcfg.command & VFIO_CFG_INTX_DISABLE;
    if (want == vd->intx.virq_disabled)
        return;
    vd->intx.virq_disabled = want;
    if (want)
        intx_mask(vd);
    else
        intx_unmask(vd);
}

/* ---- unmask by eventfd (Linux's virqfd on the INTx context) ---- */

static void intx_unmask_hook(void *ctx)
{
    intx_unmask(ctx);
}

/* The program closed the eventfd: the unmask path goes with it. */
static void intx_unmask_hup(void *ctx)
{
    struct vfio_device *vd = ctx;
    vd->intx.unmask_efd = NULL;
}

static void intx_unmask_efd_clear(struct vfio_device *vd)
{
    if (vd->intx.unmask_efd)
        eventfd_hook_del(vd->intx.unmask_efd, &vd->intx.unmask_hook);
    vd->intx.unmask_efd = NULL;
}

/* fd >= 0: unmask whenever that eventfd is raised; fd < 0: stop. Linux's order of errors: a bad
 * descriptor, not an eventfd, then one already in place (-EBUSY). */
static int intx_unmask_efd_set(struct vfio_device *vd, int32_t fd)
{
    if (fd < 0) {
        intx_unmask_efd_clear(vd);
        return 0;
    }
    struct file *f = fd_get(fd);
    if (!f)
        return ERR(-EBADF);
    int err = !file_is_eventfd(f) ? -EINVAL : vd->intx.unmask_efd ? -EBUSY : 0;
    if (!err) {
        vd->intx.unmask_hook = (struct eventfd_hook){ .fn = intx_unmask_hook,
                                                      .hup = intx_unmask_hup, .ctx = vd };
        vd->intx.unmask_efd = f;
        eventfd_hook_add(f, &vd->intx.unmask_hook);
    }
    file_put(f);            /* the hook holds none: closing the eventfd tears it down */
    return err;
}

void vfio_intx_disable(struct vfio_device *vd)
{
    if (vd->irq_index != VFIO_PCI_INTX_IRQ_INDEX)
        return;
    intx_unmask_efd_clear(vd);
    intx_set_disable(vd, true);
    ioapic_gsi_detach(vd->intx.gsi, &vd->intx.h);
    if (vd->intx.trigger)
        file_put(vd->intx.trigger);
    vd->intx.trigger = NULL;
    vd->intx.masked = false;
    vd->irq_index = ~0u;
}

static int intx_enable(struct vfio_device *vd, struct file *trigger)
{
    vd->intx.h = (struct gsi_handler){ .fn = intx_handler, .ctx = vd };
    vd->intx.masked = true;             /* quiet until the handler is in place */
    intx_set_disable(vd, true);
    int err = ioapic_gsi_attach(vd->intx.gsi, vd->intx.flags, &vd->intx.h);
    if (err)
        return err;
    vd->intx.trigger = trigger;
    vd->irq_index = VFIO_PCI_INTX_IRQ_INDEX;
    vd->intx.masked = vd->intx.virq_disabled;  /* starts masked under the virtual bit */
    intx_set_disable(vd, vd->intx.masked);
    return 0;
}


static int intx_trigger(struct vfio_device *vd, const struct vfio_irq_set *h, uint32_t dtype,
                        unsigned long data)
{
    bool is_intx = vd->irq_index == VFIO_PCI_INTX_IRQ_INDEX;
    if (is_intx && h->count == 0 && dtype == VFIO_IRQ_SET_DATA_NONE) {
        vfio_intx_disable(vd);
        return 0;
    }
    if (!(is_intx || vd->irq_index == ~0u) || h->start != 0 || h->count != 1)
        return ERR(-EINVAL);
    if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
        int32_t fd;
        struct file *trigger;
        int err = (int)vfio_copy_from(&fd, data, sizeof(fd));
        if (err)
            return err;
        err = vfio_eventfd_get(fd, &trigger);
        if (err)
            return err;
        if (!is_intx) {
            err = intx_enable(vd, trigger);
            if (err && trigger)
                file_put(trigger);
            return err;
        }
        uint64_t f = irq_save();
        struct file *old = vd->intx.trigger;
        vd->intx.trigger = trigger;
        irq_restore(f);
        if (old)
            file_put(old);
        return 0;
    }
    if (!is_intx)
        return ERR(-EINVAL);
    uint8_t b = 1;
    if (dtype == VFIO_IRQ_SET_DATA_BOOL && vfio_copy_from(&b, data, 1))
        return ERR(-EFAULT);
    if (b)
        intx_signal(vd);                /* loopback, as Linux */
    return 0;
}

/* VFIO_DEVICE_SET_IRQS on VFIO_PCI_INTX_IRQ_INDEX; the header's flags are checked already.
 * UNMASK takes an eventfd (see intx_unmask_efd_set and kernel/fd.h's eventfd_hook for when the
 * unmask runs); MASK does not: -ENOTTY, as Linux, which never implemented it. */
long vfio_intx_set_irqs(struct vfio_device *vd, const struct vfio_irq_set *h, unsigned long data)
{
    uint32_t dtype = h->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    uint32_t action = h->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    size_t size = dtype == VFIO_IRQ_SET_DATA_EVENTFD ? 4 : dtype == VFIO_IRQ_SET_DATA_BOOL ? 1 : 0;
    size_t minsz = END_OF(struct vfio_irq_set, count);
    unsigned max = vfio_intx_count(vd);
    if ((uint64_t)h->count * size > h->argsz - minsz || h->start >= max ||
        (uint64_t)h->start + h->count > max)
        return ERR(-EINVAL);
    if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
        return intx_trigger(vd, h, dtype, data);
    if (vd->irq_index != VFIO_PCI_INTX_IRQ_INDEX || h->start != 0 || h->count != 1)
        return ERR(-EINVAL);
    if (dtype == VFIO_IRQ_SET_DATA_EVENTFD && action == VFIO_IRQ_SET_ACTION_MASK)
        return ERR(-ENOTTY);
    if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
        int32_t fd;
        if (vfio_copy_from(&fd, data, sizeof(fd)))
            return ERR(-EFAULT);
        return intx_unmask_efd_set(vd, fd);
    }
    uint8_t b = 1;
    if (dtype == VFIO_IRQ_SET_DATA_BOOL && vfio_copy_from(&b, data, 1))
        return ERR(-EFAULT);
    if (!b)
        return 0;
    if (action == VFIO_IRQ_SET_ACTION_MASK)
        intx_mask(vd);
    else
        intx_unmask(vd);
    return 0;
}
