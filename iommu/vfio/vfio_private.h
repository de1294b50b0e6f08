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

struct vfio_group {
    int id;
    bool opened;
    struct vfio_container *container;
    unsigned open_devices;
    unsigned nr_bound;              /* devices bound in the container's context */
    uint32_t dev_ids[VFIO_GROUP_MAX_DEVS];
};

#define VFIO_MAX_VECTORS 32

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
    struct vfio_irq irqs[VFIO_MAX_VECTORS];
    struct pci_dev *pdev;
    struct vfio_group *group;       /* group path */
    struct moat_iommufd *ictx;      /* the context the device is bound to */
    uint32_t dev_id;
    bool cdev_bound;
    struct file *iommufd_file;      /* cdev path: held while bound */
};

struct pci_system *vfio_pci(void);
bool vfio_group_viable(int id);
/* The cdev index of a device (its position in the PCI system). */
int vfio_device_index(const struct pci_dev *pdev);

/* Binds every device of the group to the container's context and attaches it to the IOAS. */
int vfio_container_attach_group(struct vfio_container *c, struct vfio_group *g);
void vfio_container_detach_group(struct vfio_container *c, struct vfio_group *g);
struct vfio_container *vfio_container_of(struct file *f);
void vfio_container_put(struct vfio_container *c);

int vfio_device_open(struct pci_dev *pdev, struct vfio_group *g, struct file **out);
int vfio_cdev_open(const char *rest, int oflags, struct file **out);
struct moat_iommufd *vfio_iommufd_of(struct file *f);
int vfio_iommufd_dev_open(const char *rest, int oflags, struct file **out);
int vfio_user_virt_to_phys(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa);
extern const bool vfio_type1_maps_bars;
long vfio_set_irqs(struct vfio_device *vd, unsigned long arg);
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
