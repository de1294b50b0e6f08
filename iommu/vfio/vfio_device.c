/* A VFIO device file (from VFIO_GROUP_GET_DEVICE_FD or /dev/vfio/devices/vfio<N>): regions
 * (BARs, config space) by pread/pwrite and mmap at index << 40, as vfio-pci lays them out; the
 * cdev path binds to an iommufd and attaches to an IOAS or HWPT. And /dev/iommu itself. */
#include "iommu/vfio/vfio_private.h"
#include "arch/arch.h"
#include "kernel/mm/heap.h"
#include "kernel/vm.h"
#include "lib/errno.h"
#include "lib/string.h"

#define REGION_SHIFT 40
#define REGION_INDEX(off) ((off) >> REGION_SHIFT)
#define REGION_OFFSET(off) ((off) & ((1ULL << REGION_SHIFT) - 1))

static bool bar_mmio(const struct pci_bar *b)
{
    return b->size && !(b->flags & PCI_BAR_IO) && (b->flags & PCI_BAR_ASSIGNED);
}

static long device_info(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_device_info info;
    size_t minsz = END_OF(struct vfio_device_info, num_irqs);
    long err = vfio_args_in(&info, arg, minsz);
    if (err)
        return err;
    info.flags = VFIO_DEVICE_FLAGS_PCI;
    if (vd->pdev->flr)
        info.flags |= VFIO_DEVICE_FLAGS_RESET;
    info.num_regions = VFIO_PCI_NUM_REGIONS;
    info.num_irqs = VFIO_PCI_NUM_IRQS;
    return vfio_copy_to(arg, &info, minsz);
}

static long region_info(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_region_info ri;
    size_t minsz = END_OF(struct vfio_region_info, offset);
    long err = vfio_args_in(&ri, arg, minsz);
    if (err)
        return err;
    if (ri.index >= VFIO_PCI_NUM_REGIONS)
        return ERR(-EINVAL);
    ri.offset = (uint64_t)ri.index << REGION_SHIFT;
    ri.size = 0;
    ri.flags = 0;
    ri.cap_offset = 0;
    if (ri.index <= VFIO_PCI_BAR5_REGION_INDEX) {
        const struct pci_bar *b = &vd->pdev->bar[ri.index];
        if (b->size) {
            ri.size = b->size;
            ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
            if (bar_mmio(b) && b->size >= 4096)
                ri.flags |= VFIO_REGION_INFO_FLAG_MMAP;
        }
    } else if (ri.index == VFIO_PCI_CONFIG_REGION_INDEX) {
        ri.size = vd->pdev->cfg_size;
        ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    }
    return vfio_copy_to(arg, &ri, minsz);
}

static long irq_info(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_irq_info ii;
    size_t minsz = END_OF(struct vfio_irq_info, count);
    long err = vfio_args_in(&ii, arg, minsz);
    if (err)
        return err;
    if (ii.index >= VFIO_PCI_NUM_IRQS)
        return ERR(-EINVAL);
    ii.flags = VFIO_IRQ_INFO_EVENTFD;
    ii.count = 0;
    const struct pci_dev *d = vd->pdev;
    if (ii.index == VFIO_PCI_INTX_IRQ_INDEX) {
        ii.count = vfio_intx_count(vd);
        ii.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    } else if (ii.index == VFIO_PCI_MSI_IRQ_INDEX && d->caps.msi) {
        uint16_t ctl = pci_read16(vfio_pci(), d, d->caps.msi + 2);
        ii.count = 1u << ((ctl >> 1) & 7);      /* what the function offers; moat arms one */
        ii.flags |= VFIO_IRQ_INFO_NORESIZE;
    } else if (ii.index == VFIO_PCI_MSIX_IRQ_INDEX && d->caps.msix) {
        ii.count = (pci_read16(vfio_pci(), d, d->caps.msix + 2) & 0x7ff) + 1;
        ii.flags |= VFIO_IRQ_INFO_NORESIZE;
    } else if (ii.index == VFIO_PCI_ERR_IRQ_INDEX || ii.index == VFIO_PCI_REQ_IRQ_INDEX) {
        ii.count = d->caps.exp ? 1 : 0;
    }
    if (ii.count == 0)
        ii.flags = 0;
    return vfio_copy_to(arg, &ii, minsz);
}

/* Config space: reads and writes pass through, except for the header registers vfio_config.c
 * virtualizes as vfio-pci does: the command register's Interrupt Disable, the status register
 * (writes dropped), and the BARs and expansion ROM BAR, whose virtual copies the program sizes
 * and rewrites while the function keeps the addresses moat assigned. */
static uint32_t cfg_read_hw(struct pci_dev *d, uint16_t o, unsigned w)
{
    struct pci_system *sys = vfio_pci();
    return w == 4 ? pci_read32(sys, d, o) : w == 2 ? pci_read16(sys, d, o) : pci_read8(sys, d, o);
}

/* Writes the bytes of v at o that mask names: the whole access, its low half, or byte by byte. */
static void cfg_write_hw(struct pci_dev *d, uint16_t o, unsigned w, uint32_t v, unsigned mask)
{
    struct pci_system *sys = vfio_pci();
    if (mask == (1u << w) - 1 && w == 4) {
        pci_write32(sys, d, o, v);
    } else if (mask == 3 && w >= 2) {
        pci_write16(sys, d, o, (uint16_t)v);
    } else {
        for (unsigned i = 0; i < w; i++)
            if (mask & (1u << i))
                pci_write8(sys, d, (uint16_t)(o + i), (uint8_t)(v >> (8 * i)));
    }
}

/* One naturally aligned access; the header's virtual bits through vfio_config.c. p is the
 * program's buffer: -EFAULT before the function is touched when it cannot take the bytes. */
static long cfg_chunk(struct vfio_device *vd, uint16_t o, unsigned w, uint8_t *p, bool write)
{
    bool virt = vfio_cfg_virtualized(o, w);
    uint32_t v = 0, hw;
    if (!write) {
        if (uaccess_check(p, w, VM_PROT_WRITE))
            return ERR(-EFAULT);
        hw = cfg_read_hw(vd->pdev, o, w);
        v = virt ? vfio_cfg_read(&vd->vcfg, o, w, hw) : hw;
        return vfio_copy_to((unsigned long)p, &v, w);
    }
    if (vfio_copy_from(&v, (unsigned long)p, w))
        return ERR(-EFAULT);
    hw = virt ? cfg_read_hw(vd->pdev, o, w) : 0;
    unsigned mask = (1u << w) - 1;
    if (virt)
        mask = vfio_cfg_write(&vd->vcfg, o, w, v, hw, &v);
    cfg_write_hw(vd->pdev, o, w, v, mask);
    if (virt)
        vfio_intx_follow_virtual(vd);
    return 0;
}

/* The virtual BARs start as the function's; moat does not size expansion ROMs, so the ROM BAR
 * reads 0, as Linux's does for a function without a ROM resource. */
static void cfg_init_bars(struct vfio_device *vd)
{
    const struct pci_dev *d = vd->pdev;
    uint32_t hw[VFIO_CFG_NBARS] = { 0 };
    uint64_t size[VFIO_CFG_NBARS] = { 0 };
    if (d->hdr_type != 0)
        return;
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
        const struct pci_bar *b = &d->bar[i];
        hw[i] = pci_read32(vfio_pci(), d, (uint16_t)(VFIO_CFG_BAR0 + 4 * i));
        size[i] = b->size;
        /* the flag bits from what enumeration found, as Linux takes them from the resource
         * (a VF's BARs read 0 in its own header) */
        if (b->size && (b->flags & PCI_BAR_IO))
            hw[i] = (hw[i] & ~3u) | 1;
        else if (b->size)
            hw[i] = (hw[i] & ~0xfu) | (b->flags & PCI_BAR_MEM64 ? 4 : 0) |
                    (b->flags & PCI_BAR_PREFETCH ? 8 : 0);
    }
    vfio_cfg_init_bars(&vd->vcfg, hw, size);
}

static long cfg_access(struct vfio_device *vd, void *buf, size_t len, uint64_t off, bool write)
{
    if (off >= vd->pdev->cfg_size)
        return ERR(-EINVAL);
    if (len > vd->pdev->cfg_size - off)
        len = vd->pdev->cfg_size - off;
    for (size_t i = 0; i < len;) {
        unsigned w = ((off + i) & 3) == 0 && len - i >= 4 ? 4 : ((off + i) & 1) == 0 && len - i >= 2 ? 2 : 1;
        long err = cfg_chunk(vd, (uint16_t)(off + i), w, (uint8_t *)buf + i, write);
        if (err)
            return err;     /* Linux: the whole call fails, whatever was done before */
        i += w;
    }
    return (long)len;
}

static long bar_access(struct vfio_device *vd, unsigned idx, void *buf, size_t len, uint64_t off,
                       bool write)
{
    const struct pci_bar *b = &vd->pdev->bar[idx];
    if (!bar_mmio(b) || off >= b->size)
        return ERR(-EINVAL);
    if (len > b->size - off)
        len = b->size - off;
    /* the program's buffer first: a bad one touches no register (Linux: -EFAULT) */
    if (uaccess_check(buf, len, write ? VM_PROT_READ : VM_PROT_WRITE))
        return ERR(-EFAULT);
    volatile uint8_t *regs = mmio_map(b->base + ALIGN_DOWN(off, 4096), ALIGN_UP(off % 4096 + len, 4096));
    if (!regs)
        return ERR(-ENOMEM);
    regs += off % 4096;
    for (size_t i = 0; i < len;) {
        unsigned w = ((off + i) & 3) == 0 && len - i >= 4 ? 4 : 1;
        uint32_t v = 0;
        if (write) {
            uaccess_copy_from(&v, (uint8_t *)buf + i, w);
            if (w == 4)
                *(volatile uint32_t *)(regs + i) = v;
            else
                regs[i] = (uint8_t)v;
        } else {
            v = w == 4 ? *(volatile uint32_t *)(regs + i) : regs[i];
            uaccess_copy_to((uint8_t *)buf + i, &v, w);
        }
        i += w;
    }
    return (long)len;
}

static long region_rw(struct file *f, void *buf, size_t len, uint64_t off, bool write)
{
    struct vfio_device *vd = f->priv;
    if (!vd->ictx)
        return ERR(-EINVAL);
    uint64_t idx = REGION_INDEX(off), roff = REGION_OFFSET(off);
    if (idx == VFIO_PCI_CONFIG_REGION_INDEX)
        return cfg_access(vd, buf, len, roff, write);
    if (idx <= VFIO_PCI_BAR5_REGION_INDEX)
        return bar_access(vd, (unsigned)idx, buf, len, roff, write);
    return ERR(-EINVAL);
}

static long device_read(struct file *f, void *buf, size_t len, uint64_t off)
{
    return region_rw(f, buf, len, off, false);
}

static long device_write(struct file *f, const void *buf, size_t len, uint64_t off)
{
    return region_rw(f, (void *)buf, len, off, true);
}

static int device_mmap(struct file *f, uint64_t off, size_t len, int prot, void **out)
{
    struct vfio_device *vd = f->priv;
    uint64_t idx = REGION_INDEX(off), roff = REGION_OFFSET(off);
    if (!vd->ictx || idx > VFIO_PCI_BAR5_REGION_INDEX)
        return ERR(-EINVAL);
    const struct pci_bar *b = &vd->pdev->bar[idx];
    if (!bar_mmio(b) || b->size < 4096 || roff >= b->size || len > b->size - roff ||
        (roff & 4095))
        return ERR(-EINVAL);
    return vm_map_mmio(b->base + roff, len, prot, out);
}

static long device_reset(struct vfio_device *vd)
{
    struct pci_system *sys = vfio_pci();
    const struct pci_dev *d = vd->pdev;
    if (!d->flr || !d->caps.exp)
        return ERR(-EINVAL);
    /* Function Level Reset: Initiate FLR in Device Control, then 100 ms before access. */
    uint16_t ctl = pci_read16(sys, d, d->caps.exp + 8);
    pci_write16(sys, d, d->caps.exp + 8, ctl | 0x8000);
    if (sys->ops->delay_us)
        sys->ops->delay_us(sys->ctx, 100000);
    return 0;
}

static long cdev_bind(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_device_bind_iommufd b;
    size_t minsz = END_OF(struct vfio_device_bind_iommufd, out_devid);
    long err = vfio_args_in(&b, arg, minsz);
    if (err)
        return err;
    if (b.flags)
        return ERR(-EINVAL);
    if (vd->cdev_bound)
        return ERR(-EINVAL);
    struct file *f = fd_get(b.iommufd);
    if (!f)
        return ERR(-EBADF);
    struct moat_iommufd *ictx = vfio_iommufd_of(f);
    if (!ictx) {
        file_put(f);
        return ERR(-EINVAL);
    }
    err = moat_device_bind(ictx, vd->pdev, &b.out_devid);
    if (err) {
        file_put(f);
        return err;
    }
    vd->ictx = ictx;
    vd->dev_id = b.out_devid;
    vd->cdev_bound = true;
    vd->iommufd_file = f;
    return vfio_copy_to(arg, &b, minsz);
}

static long cdev_attach(struct vfio_device *vd, unsigned long arg, bool detach)
{
    if (!vd->cdev_bound)
        return ERR(-EINVAL);
    if (detach) {
        struct vfio_device_detach_iommufd_pt d;
        long err = vfio_args_in(&d, arg, END_OF(struct vfio_device_detach_iommufd_pt, flags));
        if (err)
            return err;
        if (d.flags)
            return ERR(-EINVAL);
        return moat_device_detach(vd->ictx, vd->dev_id);
    }
    struct vfio_device_attach_iommufd_pt a;
    size_t minsz = END_OF(struct vfio_device_attach_iommufd_pt, pt_id);
    long err = vfio_args_in(&a, arg, minsz);
    if (err)
        return err;
    if (a.flags)
        return ERR(-EINVAL);
    err = moat_device_attach(vd->ictx, vd->dev_id, &a.pt_id);
    if (err == -EINVAL)     /* already attached: VFIO's attach replaces */
        err = moat_device_replace(vd->ictx, vd->dev_id, &a.pt_id);
    if (!err)
        err = vfio_copy_to(arg, &a, minsz);
    return err;
}

static long device_ioctl(struct file *f, unsigned long cmd, unsigned long arg)
{
    struct vfio_device *vd = f->priv;
    if (cmd == VFIO_DEVICE_BIND_IOMMUFD)
        return vd->group ? ERR(-EINVAL) : cdev_bind(vd, arg);
    if (!vd->ictx)
        return ERR(-EINVAL);    /* a cdev must be bound before anything else */
    switch (cmd) {
    case VFIO_DEVICE_GET_INFO: return device_info(vd, arg);
    case VFIO_DEVICE_GET_REGION_INFO: return region_info(vd, arg);
    case VFIO_DEVICE_GET_IRQ_INFO: return irq_info(vd, arg);
    case VFIO_DEVICE_SET_IRQS: return vfio_set_irqs(vd, arg);
    case VFIO_DEVICE_RESET: return device_reset(vd);
    case VFIO_DEVICE_ATTACH_IOMMUFD_PT: return vd->group ? ERR(-EINVAL) : cdev_attach(vd, arg, false);
    case VFIO_DEVICE_DETACH_IOMMUFD_PT: return vd->group ? ERR(-EINVAL) : cdev_attach(vd, arg, true);
    default: return ERR(-ENOTTY);
    }
}

static void device_release(struct file *f)
{
    struct vfio_device *vd = f->priv;
    vfio_irqs_disable(vd);
    if (vd->group)
        vd->group->open_devices--;
    if (vd->cdev_bound) {
        moat_device_unbind(vd->ictx, vd->dev_id);
        file_put(vd->iommufd_file);
    }
    kfree(vd);
}

static const struct file_ops device_ops = {
    .ioctl = device_ioctl, .read = device_read, .write = device_write, .mmap = device_mmap,
    .release = device_release,
};

int vfio_device_open(struct pci_dev *pdev, struct vfio_group *g, struct file **out)
{
    struct vfio_device *vd = kzalloc(sizeof(*vd));
    if (!vd)
        return ERR(-ENOMEM);
    vd->pdev = pdev;
    vd->group = g;
    vd->irq_index = ~0u;
    cfg_init_bars(vd);
    if (g)
        vd->ictx = g->container->ictx;
    *out = file_new(&device_ops, vd);
    if (!*out) {
        kfree(vd);
        return ERR(-ENOMEM);
    }
    if (g)
        g->open_devices++;
    return 0;
}

int vfio_cdev_open(const char *rest, int oflags, struct file **out)
{
    unsigned long long idx;
    const char *end;
    struct pci_system *sys = vfio_pci();
    if (str_to_u64(rest, &end, 10, &idx) || *end || idx >= sys->ndevs)
        return ERR(-ENOENT);
    struct pci_dev *pdev = &sys->devs[idx];
    if (pdev->group < 0 || !vfio_group_viable(pdev->group))
        return ERR(-EBUSY);
    return vfio_device_open(pdev, NULL, out);
}

/* ---- /dev/iommu ---- */

static long iommufd_ioctl(struct file *f, unsigned long cmd, unsigned long arg)
{
    return moat_iommufd_ioctl(f->priv, cmd, (void *)arg);
}

static void iommufd_release(struct file *f)
{
    moat_iommufd_close(f->priv);
}

static const struct file_ops iommufd_ops = { .ioctl = iommufd_ioctl, .release = iommufd_release };

struct moat_iommufd *vfio_iommufd_of(struct file *f)
{
    return f->ops == &iommufd_ops ? f->priv : NULL;
}

/* The program's memory for DMA: kernel/vm answers whether a device may reach it with the access
 * asked (and where it is: one contiguous run per map call). arg is the face's rule for BARs. */
int vfio_user_virt_to_phys(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    const bool *allow_bar = arg;
    int vm_prot = (prot & IOMMU_IOAS_MAP_READABLE ? VM_PROT_READ : 0) |
                  (prot & IOMMU_IOAS_MAP_WRITEABLE ? VM_PROT_WRITE : 0);
    return vm_dma_pin(va, len, vm_prot, allow_bar && *allow_bar, pa);
}

/* Linux 6.12: type1 maps a BAR the program mmap'd (VM_PFNMAP, for peer-to-peer); IOMMUFD pins
 * with pin_user_pages, which refuses it (-EFAULT). */
const bool vfio_type1_maps_bars = true;

int vfio_iommufd_dev_open(const char *rest, int oflags, struct file **out)
{
    struct moat_iommufd *ictx;
    int err = moat_iommufd_open(&ictx);
    if (err)
        return err;
    moat_iommufd_set_virt_to_phys(ictx, vfio_user_virt_to_phys, NULL);
    *out = file_new(&iommufd_ops, ictx);
    if (!*out) {
        moat_iommufd_close(ictx);
        return ERR(-ENOMEM);
    }
    return 0;
}
