/* The VFIO face: Linux's container/group/device files (<linux/vfio.h>) over moat's native
 * IOMMUFD objects (<moat/iommufd.h>). Image only: it lives on the descriptor layer. */
#ifndef MOAT_IOMMU_VFIO_PRIVATE_H
#define MOAT_IOMMU_VFIO_PRIVATE_H

#include <linux/types.h>
#include <linux/vfio.h>

#include "arch/intx.h"
#include "arch/msi.h"
#include "iommu/vfio/vfio_config.h"
#include "kernel/fd.h"
#include "kernel/uaccess.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "moat/iommufd.h"
#include "pci/pci.h"

/* One VFIO_IOMMU_MAP_DMA mapping, as type1 tracks it: unmap may not bisect it. */
struct vfio_dma {
    uint64_t iova, size, vaddr;
    bool vaddr_invalid;             /* VFIO_DMA_UNMAP_FLAG_VADDR: waiting for a new vaddr */
};

struct vfio_container {
    struct moat_iommufd *ictx;      /* made at VFIO_SET_IOMMU */
    uint32_t ioas_id;
    bool v2;
    bool dirty_tracking;            /* type1 dirty logging: every pinned page counts as dirty */
    unsigned nr_groups;
    struct vfio_group *groups[16];
    struct vfio_dma *dmas;          /* sorted by iova */
    unsigned nr_dmas, cap_dmas;
    unsigned refs;                  /* the container file and each group set on it */
};

#define VFIO_GROUP_MAX_DEVS 16

/* A group's state lives as long as the runtime (made at first use by either path). As in Linux,
 * the group path and the cdev path exclude each other: the group file cannot open while a cdev
 * of a member is bound, and a cdev cannot bind while the group file is open. A device opened
 * through the group holds the group file open until the device closes. */
struct vfio_group {
    int id;
    bool opened;                    /* the group file is open, or held by its devices */
    bool file_open;                 /* the program's group file itself */
    struct vfio_container *container;
    unsigned open_devices;          /* device files opened through the group */
    unsigned nr_bound;              /* devices bound in the container's context */
    uint32_t dev_ids[VFIO_GROUP_MAX_DEVS];
    const struct pci_dev *pdevs[VFIO_GROUP_MAX_DEVS];   /* the device of each dev_id */
    unsigned nr_cdev_bound;         /* members bound through their cdevs */
    const struct pci_dev *cdev_bound[VFIO_GROUP_MAX_DEVS];
    /* SET_CONTAINER with an iommufd (Linux's group->iommufd): devices bind to its context at
     * their first open and attach to its compat IOAS, and unbind at their last close. */
    struct file *iommufd_file;
    struct moat_iommufd *ictx;
    unsigned nr_iodevs;
    struct vfio_group_iodev {
        const struct pci_dev *pdev;
        uint32_t dev_id;
        unsigned opens;
    } iodevs[VFIO_GROUP_MAX_DEVS];
};

#define VFIO_MAX_VECTORS 2048           /* an MSI-X table's largest size */

/* One interrupt vector signalled to user space through an eventfd. */
struct vfio_irq {
    struct file *trigger;           /* the eventfd, held while armed */
    int vector;                     /* CPU vector, 0 when none */
    struct msi_msg msg;             /* what the function sends (its remapping entry), or zeroes */
};

/* The INTx line of a device (vfio_intx.c). */
struct vfio_intx {
    bool probed, usable;            /* vfio_intx_count() decided; the answer */
    unsigned gsi, flags;            /* its route (GSI_* flags) */
    struct gsi_handler h;
    struct file *trigger;           /* the eventfd, or NULL */
    bool masked;                    /* Interrupt Disable set by the handler or the user */
    bool virq_disabled;             /* the program's virtual Interrupt Disable, as last applied */
    struct file *unmask_efd;        /* VFIO_IRQ_SET_ACTION_UNMASK's eventfd (no reference) */
    struct eventfd_hook unmask_hook;
};

/* Per-device state shared by the group path and the cdev path. */
struct vfio_device {
    unsigned irq_index;             /* VFIO_PCI_{INTX,MSI,MSIX}_IRQ_INDEX, or ~0u when none */
    struct vfio_intx intx;
    struct vfio_vconfig vcfg;       /* the program's view of the virtual config bits */
    unsigned nr_irqs;
    struct vfio_irq *irqs;          /* one per MSI-X entry (one at least, for MSI) */
    unsigned irq_slots;
    /* ERR and REQ eventfds: the request is signalled when the device is to be removed
     * (hot-unplug, pci_hotplug.h's holder); no error is ever reported */
    struct file *err_trigger, *req_trigger;
    struct pci_dev *pdev;
    struct vfio_group *group;       /* group path */
    struct moat_iommufd *ictx;      /* the context the device is bound to */
    uint32_t dev_id;
    bool cdev_bound;
    /* Linux's open_device done for this file (group path: at open; cdev: at bind); when
     * enabled_decode, the first user's pci_enable_decode wrote the command register, which
     * was cmd_before until then */
    bool enabled, enabled_decode;
    uint16_t cmd_before, decode_restore_before;
    bool attached;                  /* cdev path: attached to an IOAS or HWPT */
    struct file *iommufd_file;      /* cdev path: held while bound */
    struct vfio_device *next_open;  /* every open device file (vfio_device.c) */
};

struct pci_system *vfio_pci(void);
/* The device nodes and /sys files of the face (the unit's work; host tests call it too). */
void vfio_register_nodes(void);
void vfio_container_register(void);
/* The device a path "/sys/bus/pci/devices/<BDF>[/<leaf>]" names, with the leaf ("" for the
 * device's directory), or NULL. */
struct pci_dev *vfio_sysfs_dev(const char *path, const char **leaf);
/* The attribute files, driver links and directories of /sys/bus/pci/devices (vfio_sysfs.c). */
void vfio_sysfs_register(void);
bool vfio_group_viable(int id);
/* The state of group id (made on first use); NULL when out of memory. */
struct vfio_group *vfio_group_get(int id);
/* A device opened through g: bound in g's iommufd context (at its first open) and attached to
 * the compat IOAS; *dev_id its ID there. Nothing to do with a container. */
int vfio_group_device_opened(struct vfio_group *g, struct pci_dev *pdev, uint32_t *dev_id);
/* A device opened through g closed: the last one releases a group file already closed. */
void vfio_group_device_closed(struct vfio_group *g, const struct pci_dev *pdev);
/* The cdev path's claim on a member (vfio_device_block_group and vfio_df_open in Linux):
 * -EBUSY while the group file is open, -EINVAL when the device is bound through another cdev. */
int vfio_group_cdev_claim(const struct pci_dev *pdev);
void vfio_group_cdev_release(const struct pci_dev *pdev);
/* The cdev index of a device (its position in the PCI system). */
int vfio_device_index(const struct pci_dev *pdev);

/* Binds every device of the group to the container's context and attaches it to the IOAS. */
int vfio_container_attach_group(struct vfio_container *c, struct vfio_group *g);
void vfio_container_detach_group(struct vfio_container *c, struct vfio_group *g);
struct vfio_container *vfio_container_of(struct file *f);
void vfio_container_put(struct vfio_container *c);

int vfio_device_open(struct pci_dev *pdev, struct vfio_group *g, struct file **out);
/* Whether a program has a device file of pdev open. */
bool vfio_device_held(const struct pci_dev *pdev);
/* Hot-unplug (pci_hotplug.h's holder): the VFIO face holds a device while a program has it
 * open; a device that leaves is unbound from the container contexts that bound it. */
void vfio_hotplug_init(void);
void vfio_group_device_leaving(struct pci_dev *pdev);
void vfio_container_unbind_dev(struct vfio_container *c, struct vfio_group *g,
                               const struct pci_dev *pdev);
int vfio_cdev_open(const char *rest, int oflags, struct file **out);
int vfio_cdev_exists(const char *rest);    /* 0 when "vfio<N>" names a device */
struct moat_iommufd *vfio_iommufd_of(struct file *f);
int vfio_iommufd_dev_open(const char *rest, int oflags, struct file **out);
int vfio_user_virt_to_phys(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa);
extern const bool vfio_type1_maps_bars;
long vfio_set_irqs(struct vfio_device *vd, unsigned long arg);
/* vfio_sriov.c: a PF's VFs made by the face (sriov_numvfs), and the VF token rules. */
int vfio_sriov_configure(struct pci_dev *pf, unsigned num_vfs);
/* Linux's vfio_pci_core_match_token_uuid (uuid NULL: none given): 0 or -EACCES/-EINVAL; a PF
 * opened with a token while none of its VFs is in use takes it as its token. */
int vfio_match_token(const struct pci_dev *pdev, const uint8_t *uuid);
/* Linux's vfio_pci_core_match for VFIO_GROUP_GET_DEVICE_FD's "BDF[ vf_token=UUID]": 0 when name
 * is another device, 1 when it is this one and the token rules pass, else their errno. */
int vfio_match_name(const struct pci_dev *pdev, const char *name);
/* A VF opened for its first user / closed by its last: the PF's count of VFs in use. */
void vfio_token_vf_opened(const struct pci_dev *vf);
void vfio_token_vf_closed(const struct pci_dev *vf);
void vfio_sriov_leaving(const struct pci_dev *pdev);
long vfio_feature_vf_token(struct vfio_device *vd, uint32_t flags, unsigned long data,
                           size_t len);

/* Linux 7.3's VFIO_DEVICE_BIND_IOMMUFD carries a VF token; bookworm's header does not have it. */
#ifndef VFIO_DEVICE_BIND_FLAG_TOKEN
#define VFIO_DEVICE_BIND_FLAG_TOKEN (1 << 0)
#endif
struct vfio_bind_iommufd_token {
    uint32_t argsz;
    uint32_t flags;
    int32_t iommufd;
    uint32_t out_devid;
    uint64_t token_uuid_ptr __attribute__((aligned(8)));
};

/* vfio_feature.c: VFIO_DEVICE_FEATURE, GET_PCI_HOT_RESET_INFO and PCI_HOT_RESET. */
long vfio_device_feature(struct vfio_device *vd, unsigned long arg);
long vfio_hot_reset_info(struct vfio_device *vd, unsigned long arg);
long vfio_hot_reset(struct vfio_device *vd, unsigned long arg);
/* The vectors the function offers at a VFIO_PCI_*_IRQ_INDEX (what GET_IRQ_INFO reports). */
unsigned vfio_irq_count(struct vfio_device *vd, unsigned index);
/* fd >= 0: that eventfd, a new reference (-EBADF, or -EINVAL for another file); fd < 0: none. */
int vfio_eventfd_get(int32_t fd, struct file **out);
/* The ERR and REQ eventfds go back (the device file closes). */
void vfio_err_req_release(struct vfio_device *vd);
void vfio_irqs_disable(struct vfio_device *vd);
/* INTx (vfio_intx.c): 1 when the device's INTx can be delivered, else 0. */
unsigned vfio_intx_count(struct vfio_device *vd);
long vfio_intx_set_irqs(struct vfio_device *vd, const struct vfio_irq_set *h, unsigned long data);
void vfio_intx_disable(struct vfio_device *vd);
/* After a config write: masks or unmasks when the virtual Interrupt Disable changed. */
void vfio_intx_follow_virtual(struct vfio_device *vd);

/* The argument of a VFIO ioctl is a structure whose first __u32 is argsz. Every handler takes
 * it as Linux's do: copy the minimum (END_OF the last field it needs; -EFAULT), then refuse an
 * argsz below that minimum (-EINVAL). All the program's memory is reached through kernel/uaccess. */
static inline long vfio_args_in(void *dst, unsigned long arg, size_t minsz)
{
    if (uaccess_copy_from(dst, (const void *)arg, minsz))
        return ERR(-EFAULT);
    uint32_t argsz;
    memcpy(&argsz, dst, sizeof(argsz));
    return argsz < minsz ? ERR(-EINVAL) : 0;
}

/* Copies len bytes back to the program at uptr (its argument, or a buffer it names). */
static inline long vfio_copy_to(unsigned long uptr, const void *src, size_t len)
{
    return uaccess_copy_to((void *)uptr, src, len) ? ERR(-EFAULT) : 0;
}

static inline long vfio_copy_from(void *dst, unsigned long uptr, size_t len)
{
    return uaccess_copy_from(dst, (const void *)uptr, len) ? ERR(-EFAULT) : 0;
}

/* A capability chain being built in a kernel buffer (Linux's vfio_info_cap): each entry is
 * 8-byte aligned and linked from the previous one; offsets count from the info structure. */
struct vfio_caps {
    uint8_t *buf;
    size_t size, info_size;
    uint32_t *prev_next;        /* the info's cap_offset until the first entry is added */
};
int vfio_cap_add(struct vfio_caps *caps, const void *cap, size_t len);

#endif
