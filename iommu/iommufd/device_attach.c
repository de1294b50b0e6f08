/* Attach and replace: find (or make) the HWPT, reserve the device's own regions in its IOAS
 * (so an IOAS's usable ranges narrow only for the devices attached to it), then
 * one iommu_attach — which is a replace in the driver, so DMA is never unchecked. Any failure
 * leaves the device where it was and removes what was made for it. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

/* The device's own reserved regions, as iommufd's iopt_table_enforce_dev_resv_regions takes
 * them: all but DIRECT_RELAXABLE ones, which a user domain may leave unmapped. The count or
 * -errno. */
static int dev_resv(const struct idev *idev, struct ioas_resv *out)
{
    struct iommu_resv_region r[IOMMU_MAX_RESV];
    int n = iommu_resv_regions(idev->pdev, r, IOMMU_MAX_RESV), m = 0;
    for (int i = 0; i < n; i++)
        if (r[i].type != IOMMU_RESV_DIRECT_RELAXABLE)
            out[m++] = (struct ioas_resv){ r[i].start, r[i].last, idev };
    return n < 0 ? n : m;
}

static struct ioas *ioas_of(struct hwpt *h)
{
    return h->ioas ? h->ioas : h->parent->ioas;
}

/* The HWPT for *pt_id: an IOAS gives its automatic HWPT for this unit, made if missing. */
static int resolve(struct moat_iommufd *ctx, struct idev *idev, uint32_t pt_id,
                   struct hwpt **out, bool *created)
{
    struct iommufd_obj *obj = iommufd_get(ctx, pt_id, IOMMUFD_OBJ_ANY);
    *created = false;
    if (!obj)
        return ERR(-ENOENT);
    if (obj->type == IOMMUFD_OBJ_HWPT_PAGING || obj->type == IOMMUFD_OBJ_HWPT_NESTED) {
        *out = container_of(obj, struct hwpt, obj);
        return (*out)->domain->unit == idev->unit ? 0 : -EINVAL;
    }
    if (obj->type != IOMMUFD_OBJ_IOAS)
        return ERR(-EINVAL);
    struct ioas *ioas = container_of(obj, struct ioas, obj);
    for (struct hwpt *h = ioas->hwpts; h; h = h->next) {
        if (h->auto_domain && h->domain->unit == idev->unit) {
            *out = h;
            return 0;
        }
    }
    struct ioas_resv r[IOMMU_MAX_RESV] = { { 0 } };
    int n = dev_resv(idev, r);
    int err = n < 0 ? n : ioas_resv_check(ioas, r, (uint32_t)n);
    if (!err)
        err = hwpt_paging_create(ctx, ioas, idev, 0, true, out);
    *created = !err;
    return err;
}

static void unresolve(struct moat_iommufd *ctx, struct hwpt *h, bool created)
{
    if (created) {
        iommufd_obj_remove(ctx, &h->obj);
        hwpt_destroy(ctx, h);
    }
}

/* Reserve (unless already reserved in that IOAS), attach; undo on failure. */
static int move_to(struct moat_iommufd *ctx, struct idev *idev, struct hwpt *h, bool created)
{
    struct ioas *ioas = ioas_of(h);
    bool same_ioas = idev->hwpt && ioas_of(idev->hwpt) == ioas;
    struct ioas_resv r[IOMMU_MAX_RESV] = { { 0 } };
    int n = same_ioas ? 0 : dev_resv(idev, r);
    int err = n < 0 ? n : ioas_resv_add(ioas, r, (uint32_t)n);
    if (!err) {
        err = iommu_attach(h->domain, idev->pdev);
        if (err && !same_ioas)
            ioas_resv_remove(ioas, idev);
    }
    if (err) {
        unresolve(ctx, h, created);
        return err;
    }
    struct hwpt *old = idev->hwpt;
    idev->hwpt = h;
    h->obj.users++;
    if (old) {
        if (!same_ioas)
            ioas_resv_remove(ioas_of(old), idev);
        old->obj.users--;
        if (old->auto_domain && old->obj.users == 0) {
            iommufd_obj_remove(ctx, &old->obj);
            hwpt_destroy(ctx, old);
        }
    }
    return 0;
}

int moat_device_attach(struct moat_iommufd *ctx, uint32_t dev_id, uint32_t *pt_id)
{
    struct hwpt *h;
    bool created;
    struct idev *idev = idev_get(ctx, dev_id);
    if (!idev)
        return ERR(-ENOENT);
    if (idev->hwpt)
        return ERR(-EINVAL);
    int err = resolve(ctx, idev, *pt_id, &h, &created);
    if (!err)
        err = move_to(ctx, idev, h, created);
    if (!err)
        *pt_id = h->obj.id;
    return err;
}

int moat_device_replace(struct moat_iommufd *ctx, uint32_t dev_id, uint32_t *pt_id)
{
    struct hwpt *h;
    bool created;
    struct idev *idev = idev_get(ctx, dev_id);
    if (!idev)
        return ERR(-ENOENT);
    if (!idev->hwpt)
        return ERR(-EINVAL);
    int err = resolve(ctx, idev, *pt_id, &h, &created);
    if (err)
        return err;
    if (h != idev->hwpt)
        err = move_to(ctx, idev, h, created);
    if (!err)
        *pt_id = h->obj.id;
    return err;
}

int moat_device_get_hw_info(struct moat_iommufd *ctx, uint32_t dev_id, uint32_t flags,
                            void *data, uint32_t *data_len, uint32_t *out_type,
                            uint64_t *out_capabilities)
{
    uint8_t buf[256];
    uint32_t type = IOMMU_HW_INFO_TYPE_NONE;
    int n = 0;
    if (flags)
        return ERR(-EOPNOTSUPP);
    struct idev *idev = idev_get(ctx, dev_id);
    if (!idev)
        return ERR(-ENOENT);
    if (*data_len && !data)
        return ERR(-EFAULT);
    const struct iommu_unit_ops *ops = idev->unit->ops;
    if (ops->hw_info) {
        n = ops->hw_info(idev->unit, buf, sizeof(buf), &type);
        if (n < 0)
            return n;
        n = MIN(n, (int)sizeof(buf));
    }
    uint32_t copy = MIN(*data_len, (uint32_t)n);
    if (copy)
        memcpy(data, buf, copy);
    if (*data_len > copy)
        memset((uint8_t *)data + copy, 0, *data_len - copy);
    *data_len = (uint32_t)n;
    *out_type = type;
    *out_capabilities = ops->set_dirty_tracking ? IOMMU_HW_CAP_DIRTY_TRACKING : 0;
    return 0;
}
