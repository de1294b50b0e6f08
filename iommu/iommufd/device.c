/* Devices: bind (with isolation groups enforced across contexts), attach, replace, detach,
 * hardware info. A bound device is always either on its unit's blocked domain or on the
 * domain of exactly one HWPT of its context. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

static struct idev *bound;              /* every bound device, every context */
static struct pci_dev *pci_devs;
static uint32_t nr_pci_devs;

struct idev *idev_get(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_DEVICE);
    return obj ? container_of(obj, struct idev, obj) : NULL;
}

struct idev *idev_find_rid(uint16_t seg, uint16_t rid)
{
    for (struct idev *i = bound; i; i = i->next_bound)
        if (i->pdev->seg == seg && ((i->pdev->bus << 8) | i->pdev->devfn) == rid)
            return i;
    return NULL;
}

static void log_bdf(const char *what, const struct pci_dev *p)
{
    kprintf("%s %04x:%02x:%02x.%x", what, p->seg, p->bus, p->devfn >> 3, p->devfn & 7);
}

/* A device may be bound only while no member of its group is bound to another context: Linux's
 * iommu_device_claim_dma_owner refuses another owner with EPERM. Bound twice in one context:
 * EBUSY (VFIO never lets Linux get that far). */
static int group_viable(struct moat_iommufd *ctx, const struct pci_dev *pdev)
{
    for (struct idev *i = bound; i; i = i->next_bound) {
        if (i->pdev == pdev)
            return ERR(i->ctx == ctx ? -EBUSY : -EPERM);
        if (pdev->group == PCI_NO_GROUP || i->pdev->group != pdev->group || i->ctx == ctx)
            continue;
        log_bdf("iommufd: cannot bind", pdev);
        log_bdf(": group member", i->pdev);
        kprintf(" is bound to another context (group %d)\n", pdev->group);
        return ERR(-EPERM);
    }
    return 0;
}

/* Binding claims DMA ownership of the whole group, which in Linux puts every member on the
 * blocking domain: refused (-EINVAL) when a member needs firmware's 1:1 mappings (a DIRECT
 * region that is not relaxable: an RMRR, an IVMD), as __iommu_device_set_domain refuses it. */
static int group_claimable(struct pci_dev *pdev)
{
    int err = 0;
    if (iommu_dev_require_direct(pdev))
        err = -EINVAL;
    for (uint32_t i = 0; i < nr_pci_devs && !err && pdev->group != PCI_NO_GROUP; i++)
        if (pci_devs[i].group == pdev->group && iommu_dev_require_direct(&pci_devs[i]))
            err = -EINVAL;
    if (err) {
        log_bdf("iommufd: cannot bind", pdev);
        kprintf(": firmware requires a 1:1 mapping for its group (RMRR/IVMD)\n");
    }
    return err ? ERR(err) : 0;
}

int moat_device_bind(struct moat_iommufd *ctx, struct pci_dev *dev, uint32_t *out_dev_id)
{
    if (!dev)
        return ERR(-EINVAL);
    struct iommu_unit *unit = iommu_unit_for(dev);
    if (!unit)
        return ERR(-ENODEV);
    int err = group_viable(ctx, dev);
    if (!err)
        err = group_claimable(dev);
    if (err)
        return err;
    struct idev *idev = iommufd_obj_zalloc(ctx, sizeof(*idev), &err);
    if (!idev)
        return err;
    idev->ctx = ctx;
    idev->pdev = dev;
    idev->unit = unit;
    idev->next_bound = bound;
    bound = idev;
    iommufd_obj_install(ctx, &idev->obj, IOMMUFD_OBJ_DEVICE);
    *out_dev_id = idev->obj.id;
    return 0;
}

void moat_iommufd_set_pci_devs(struct pci_dev *devs, uint32_t n)
{
    pci_devs = devs;
    nr_pci_devs = n;
}

int moat_device_bind_bdf(struct moat_iommufd *ctx, uint16_t seg, uint8_t bus, uint8_t devfn,
                         uint32_t *out_dev_id)
{
    for (uint32_t i = 0; i < nr_pci_devs; i++)
        if (pci_devs[i].seg == seg && pci_devs[i].bus == bus && pci_devs[i].devfn == devfn)
            return moat_device_bind(ctx, &pci_devs[i], out_dev_id);
    return ERR(-ENODEV);
}

static struct ioas *ioas_of(struct hwpt *h)
{
    return h->ioas ? h->ioas : h->parent->ioas;
}

/* Drops a device's use of h; an automatic HWPT goes away with its last device. */
static void hwpt_put_dev(struct moat_iommufd *ctx, struct hwpt *h)
{
    h->obj.users--;
    if (h->auto_domain && h->obj.users == 0) {
        iommufd_obj_remove(ctx, &h->obj);
        hwpt_destroy(ctx, h);
    }
}

static void detach(struct moat_iommufd *ctx, struct idev *idev)
{
    struct hwpt *h = idev->hwpt;
    /* Back to blocking is a replace onto the unit's blocked domain; it cannot fail. */
    int err = iommu_attach(NULL, idev->pdev);
    MOAT_ASSERT(err == 0);
    idev->hwpt = NULL;
    ioas_resv_remove(ioas_of(h), idev);
    hwpt_put_dev(ctx, h);
}

void idev_destroy(struct moat_iommufd *ctx, struct idev *idev)
{
    if (idev->hwpt)
        detach(ctx, idev);
    idev_vdevices_destroy(ctx, idev);
    struct idev **pp = &bound;
    while (*pp != idev)
        pp = &(*pp)->next_bound;
    *pp = idev->next_bound;
    kfree(idev);
}

void idev_detach_all(struct moat_iommufd *ctx)
{
    for (uint32_t i = 0; i < ctx->nr_slots; i++) {
        struct iommufd_obj *obj = ctx->objs[i];
        if (obj && obj->type == IOMMUFD_OBJ_DEVICE) {
            struct idev *idev = container_of(obj, struct idev, obj);
            if (idev->hwpt)
                detach(ctx, idev);
        }
    }
}

int moat_device_unbind(struct moat_iommufd *ctx, uint32_t dev_id)
{
    struct idev *idev = idev_get(ctx, dev_id);
    if (!idev)
        return ERR(-ENOENT);
    iommufd_obj_remove(ctx, &idev->obj);
    idev_destroy(ctx, idev);
    return 0;
}

int moat_device_detach(struct moat_iommufd *ctx, uint32_t dev_id)
{
    struct idev *idev = idev_get(ctx, dev_id);
    if (!idev)
        return ERR(-ENOENT);
    if (!idev->hwpt)
        return ERR(-EINVAL);
    detach(ctx, idev);
    return 0;
}
