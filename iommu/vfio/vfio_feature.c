/* A device file's VFIO_DEVICE_FEATURE and bus-reset ioctls, answered as vfio-pci answers for what
 * moat has: a PF's VF token (vfio_sriov.c); no migration, no DMA logging, no runtime power
 * management, and no secondary bus or slot reset. */
#include "iommu/vfio/vfio_private.h"
#include "lib/errno.h"
#include "lib/string.h"

/* Linux's vfio_ioctl_device_feature: argsz and flags first (EINVAL; GET with SET only with
 * PROBE), then the feature. Migration and DMA logging need mig_ops/log_ops, the others go to
 * vfio_pci_core_ioctl_feature; of those moat has the PF's VF token, and ENOTTY for the rest
 * (Linux also offers LOW_POWER_ENTRY/EXIT: runtime PM, which also revokes BAR mmaps). */
long vfio_device_feature(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_device_feature f;
    long err = vfio_args_in(&f, arg, END_OF(struct vfio_device_feature, flags));
    if (err)
        return err;
    uint32_t known = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET |
                     VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE;
    if (f.flags & ~known)
        return ERR(-EINVAL);
    if (!(f.flags & VFIO_DEVICE_FEATURE_PROBE) && (f.flags & VFIO_DEVICE_FEATURE_SET) &&
        (f.flags & VFIO_DEVICE_FEATURE_GET))
        return ERR(-EINVAL);
    size_t minsz = END_OF(struct vfio_device_feature, flags);
    if ((f.flags & VFIO_DEVICE_FEATURE_MASK) == VFIO_DEVICE_FEATURE_PCI_VF_TOKEN)
        return vfio_feature_vf_token(vd, f.flags, arg + minsz, f.argsz - minsz);
    return ERR(-ENOTTY);
}

/* Linux's vfio_pci_ioctl_get_pci_hot_reset_info and vfio_pci_ioctl_pci_hot_reset: after the
 * header checks (and, for the reset, the rule that only a cdev may pass an empty group list),
 * a function with neither a resettable slot nor a bridge above it (q35's root bus) is ENODEV.
 * moat resets no slot or bus, so it answers ENODEV behind a bridge too, where Linux lists the
 * functions a bus reset would touch. */
long vfio_hot_reset_info(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_pci_hot_reset_info h;
    long err = vfio_args_in(&h, arg, END_OF(struct vfio_pci_hot_reset_info, count));
    return err ? err : ERR(-ENODEV);
}

long vfio_hot_reset(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_pci_hot_reset h;
    long err = vfio_args_in(&h, arg, END_OF(struct vfio_pci_hot_reset, count));
    if (err)
        return err;
    if (h.flags)
        return ERR(-EINVAL);
    if (!!h.count == vd->cdev_bound)
        return ERR(-EINVAL);    /* a group list from a cdev, or none from the group path */
    return ERR(-ENODEV);
}
