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
int vfio_user_virt_to_phys(void *arg, const void *va, uint64_t len, uint64_t *pa);
long vfio_set_irqs(struct vfio_device *vd, unsigned long arg);
void vfio_irqs_disable(struct vfio_device *vd);
/* INTx (vfio_intx.c): 1 when the device's INTx can be delivered, else 0. */
unsigned vfio_intx_count(struct vfio_device *vd);
long vfio_intx_set_irqs(struct vfio_device *vd, const struct vfio_irq_set *h, const uint8_t *data);
void vfio_intx_disable(struct vfio_device *vd);
/* After a config write: masks or unmasks when the virtual Interrupt Disable changed. */
void vfio_intx_follow_virtual(struct vfio_device *vd);

/* Copies a capability chain entry into an info buffer at *off, linking it to *prev_next. */
void vfio_cap_add(void *info, size_t argsz, size_t *off, uint32_t *prev_next, const void *cap,
                  size_t len);

#endif
