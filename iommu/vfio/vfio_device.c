/* A VFIO device file (from VFIO_GROUP_GET_DEVICE_FD or /dev/vfio/devices/vfio<N>): regions
 * (BARs, config space) by pread/pwrite and mmap at index << 40, as vfio-pci lays them out; the
 * cdev path binds to an iommufd and attaches to an IOAS or HWPT. And /dev/iommu itself. */
#include "iommu/vfio/vfio_private.h"
#include "arch/arch.h"
#include "kernel/mm/heap.h"
#include "kernel/vm.h"
#include "lib/errno.h"
#include "lib/log.h"
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
    struct vfio_device_info info = { 0 };
    long err = vfio_args_in(&info, arg, END_OF(struct vfio_device_info, num_irqs));
    if (err)
        return err;
    info.flags = VFIO_DEVICE_FLAGS_PCI;
    if (pci_reset_supported(vfio_pci(), vd->pdev))
        info.flags |= VFIO_DEVICE_FLAGS_RESET;
    info.num_regions = VFIO_PCI_NUM_REGIONS;
    info.num_irqs = VFIO_PCI_NUM_IRQS;
    /* no capabilities: cap_offset and pad 0 (Linux writes min(argsz, sizeof) bytes) */
    return vfio_copy_to(arg, &info, MIN(info.argsz, sizeof(info)));
}

/* The BAR that holds the MSI-X table, or -1. */
static int msix_bar(struct vfio_device *vd)
{
    const struct pci_dev *d = vd->pdev;
    if (!d->caps.msix)
        return -1;
    return (int)(pci_read32(vfio_pci(), d, (uint16_t)(d->caps.msix + 4)) & 7);
}

/* Linux's vfio_pci_ioctl_get_region_info: config space; BARs (size 0 and no flags when absent;
 * the MSI-X table's BAR says it may be mapped whole: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE); the ROM
 * (moat sizes none: size 0, no flags); VGA only for a VGA device (EINVAL: moat has none). Caps
 * that do not fit give the size needed in argsz and cap_offset 0. */
static long region_info(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_region_info ri;
    size_t minsz = END_OF(struct vfio_region_info, offset);
    long err = vfio_args_in(&ri, arg, minsz);
    if (err)
        return err;
    if (ri.index >= VFIO_PCI_NUM_REGIONS || ri.index == VFIO_PCI_VGA_REGION_INDEX)
        return ERR(-EINVAL);
    ri.offset = (uint64_t)ri.index << REGION_SHIFT;
    ri.size = 0;
    ri.flags = 0;
    struct vfio_info_cap_header msix = { .id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1 };
    const void *cap = NULL;
    if (ri.index <= VFIO_PCI_BAR5_REGION_INDEX) {
        const struct pci_bar *b = &vd->pdev->bar[ri.index];
        if (b->size) {
            ri.size = b->size;
            ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
            if (bar_mmio(b) && b->size >= 4096)
                ri.flags |= VFIO_REGION_INFO_FLAG_MMAP;
            if ((ri.flags & VFIO_REGION_INFO_FLAG_MMAP) && (int)ri.index == msix_bar(vd))
                cap = &msix;
        }
    } else if (ri.index == VFIO_PCI_CONFIG_REGION_INDEX) {
        ri.size = vd->pdev->cfg_size;
        ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    }
    if (cap) {
        ri.flags |= VFIO_REGION_INFO_FLAG_CAPS;
        ri.cap_offset = 0;
        if (ri.argsz < sizeof(ri) + sizeof(msix)) {
            ri.argsz = sizeof(ri) + sizeof(msix);
        } else {
            uint8_t buf[sizeof(msix)];
            struct vfio_caps caps = { buf, 0, sizeof(ri), &ri.cap_offset };
            vfio_cap_add(&caps, cap, sizeof(msix));
            err = vfio_copy_to(arg + sizeof(ri), buf, caps.size);
            if (err)
                return err;
        }
    }
    return vfio_copy_to(arg, &ri, minsz);
}

/* Linux's vfio_pci_ioctl_get_irq_info and vfio_pci_get_irq_count: every index but ERR on a
 * conventional PCI function answers, count 0 when the function lacks the interrupt. INTx is
 * maskable and automasked; MSI-X may grow while enabled (x86's MSI domains allocate MSI-X vectors
 * dynamically in Linux, and moat arms each vector on its own); the others cannot be resized. */
static long irq_info(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_irq_info ii;
    size_t minsz = END_OF(struct vfio_irq_info, count);
    long err = vfio_args_in(&ii, arg, minsz);
    if (err)
        return err;
    if (ii.index >= VFIO_PCI_NUM_IRQS)
        return ERR(-EINVAL);
    if (ii.index == VFIO_PCI_ERR_IRQ_INDEX && !vd->pdev->caps.exp)
        return ERR(-EINVAL);
    ii.flags = VFIO_IRQ_INFO_EVENTFD;
    ii.count = vfio_irq_count(vd, ii.index);
    if (ii.index == VFIO_PCI_INTX_IRQ_INDEX)
        ii.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    else if (ii.index != VFIO_PCI_MSIX_IRQ_INDEX)
        ii.flags |= VFIO_IRQ_INFO_NORESIZE;
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
static long device_reset(struct vfio_device *vd);

static long cfg_chunk(struct vfio_device *vd, uint16_t o, unsigned w, uint8_t *p, bool write)
{
    bool virt = vfio_cfg_virtualized(&vd->vcfg, o, w);
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
    if (vd->vcfg.reset_requested) {
        /* an FLR written to PCIe Device Control or Advanced Features: Linux's
         * pci_try_reset_function, with the configuration kept */
        vd->vcfg.reset_requested = false;
        device_reset(vd);
    }
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

/* The MSI capability's virtual registers start as the function's (Linux copies the whole
 * config space into vconfig at open). */
struct cap_walk {
    struct vfio_device *vd;
    bool ext;
};

static bool record_cap(uint16_t id, uint16_t off, void *arg)
{
    struct cap_walk *w = arg;
    const struct pci_dev *d = w->vd->pdev;
    uint32_t dw[3] = { 0 };
    for (unsigned i = 0; i < 3; i++)
        if (off + 4 * i + 4 <= d->cfg_size)
            dw[i] = pci_read32(vfio_pci(), d, (uint16_t)(off + 4 * i));
    if (w->ext || id != PCI_CAP_ID_MSI)
        vfio_cfg_add_cap(&w->vd->vcfg, id, off, w->ext, dw);
    return false;
}

/* Every capability with Linux's length and write permissions (vfio_config.h). */
static void cfg_init_caps(struct vfio_device *vd)
{
    struct cap_walk w = { vd, false };
    pci_for_each_cap(vfio_pci(), vd->pdev, false, record_cap, &w);
    w.ext = true;
    if (vd->pdev->cfg_size > 256)
        pci_for_each_cap(vfio_pci(), vd->pdev, true, record_cap, &w);
}

static void cfg_init_msi(struct vfio_device *vd)
{
    struct pci_system *sys = vfio_pci();
    const struct pci_dev *d = vd->pdev;
    uint16_t cap = d->caps.msi;         /* found at enumeration, as vfio_irq_count uses it */
    if (!cap || cap > 0xff - 24)
        return;
    uint16_t flags = pci_read16(sys, d, cap + 2);
    bool is64 = flags & VFIO_MSI_FLAGS_64BIT;
    vfio_cfg_init_msi(&vd->vcfg, (uint8_t)cap, flags, pci_read32(sys, d, cap + 4),
                      is64 ? pci_read32(sys, d, cap + 8) : 0,
                      pci_read16(sys, d, (uint16_t)(cap + (is64 ? 12 : 8))));
}

/* Linux's vfio_pci_config_rw: an access reaching past the configuration space is EFAULT, whole
 * (vfio_config_do_rw), and an empty one reads nothing wherever it is. */
static long cfg_access(struct vfio_device *vd, void *buf, size_t len, uint64_t off, bool write)
{
    if (!len)
        return 0;
    if (off >= vd->pdev->cfg_size || len > vd->pdev->cfg_size - off)
        return ERR(-EFAULT);
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

/* Linux: -EINVAL when the device cannot be reset; its configuration is kept (the BARs the
 * program mapped still decode afterwards). */
static long device_reset(struct vfio_device *vd)
{
    struct pci_system *sys = vfio_pci();
    if (!pci_reset_supported(sys, vd->pdev))
        return ERR(-EINVAL);
    return pci_reset_function(sys, vd->pdev);
}

/* Linux 7.3's vfio_df_ioctl_bind_iommufd: argsz (EFAULT, below the fields up to out_devid
 * EINVAL), the structure as copy_struct_from_user takes it (bytes past token_uuid_ptr must be
 * zero: E2BIG), the arguments (EINVAL; VFIO_DEVICE_BIND_FLAG_TOKEN is the only flag), the
 * group's claim (EBUSY while its file is open), "bound already" (EINVAL), the VF token
 * (vfio_df_check_token: the UUID at token_uuid_ptr, EFAULT, then the token rules), the iommufd
 * (EBADF, EBADFD: iommufd_ctx_from_fd), then the device's single cdev open (EINVAL:
 * vfio_df_open) and the bind itself. */
static int device_enable(struct vfio_device *vd);

_Static_assert(sizeof(struct vfio_bind_iommufd_token) == 24 &&
               offsetof(struct vfio_bind_iommufd_token, token_uuid_ptr) == 16 &&
               END_OF(struct vfio_device_bind_iommufd, out_devid) == 16,
               "Linux 7.3's struct vfio_device_bind_iommufd");

static long bind_args_in(struct vfio_bind_iommufd_token *b, unsigned long arg)
{
    size_t minsz = END_OF(struct vfio_device_bind_iommufd, out_devid);
    uint32_t argsz;
    if (vfio_copy_from(&argsz, arg, sizeof(argsz)))
        return ERR(-EFAULT);
    if (argsz < minsz)
        return ERR(-EINVAL);
    uint8_t chunk[64];
    for (size_t off = sizeof(*b); off < argsz; off += sizeof(chunk)) {  /* check_zeroed_user */
        size_t n = MIN(sizeof(chunk), (size_t)argsz - off);
        if (vfio_copy_from(chunk, arg + off, n))
            return ERR(-EFAULT);
        for (size_t i = 0; i < n; i++)
            if (chunk[i])
                return ERR(-E2BIG);
    }
    memset(b, 0, sizeof(*b));
    return vfio_copy_from(b, arg, MIN((size_t)argsz, sizeof(*b)));
}

static long bind_token(struct vfio_device *vd, const struct vfio_bind_iommufd_token *b)
{
    if (!(b->flags & VFIO_DEVICE_BIND_FLAG_TOKEN))
        return vfio_match_token(vd->pdev, NULL);
    uint8_t uuid[16];
    if (vfio_copy_from(uuid, (unsigned long)b->token_uuid_ptr, sizeof(uuid)))
        return ERR(-EFAULT);
    return vfio_match_token(vd->pdev, uuid);
}

static long cdev_bind(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_bind_iommufd_token b;
    size_t minsz = END_OF(struct vfio_device_bind_iommufd, out_devid);
    long err = bind_args_in(&b, arg);
    if (err)
        return err;
    if (b.iommufd < 0 || (b.flags & ~(uint32_t)VFIO_DEVICE_BIND_FLAG_TOKEN))
        return ERR(-EINVAL);
    struct vfio_group *g = vfio_group_get(vd->pdev->group);
    if (!g)
        return ERR(-ENOMEM);
    if (g->opened)
        return ERR(-EBUSY);
    if (vd->cdev_bound)
        return ERR(-EINVAL);
    err = bind_token(vd, &b);
    if (err)
        return err;
    struct file *f = fd_get(b.iommufd);
    if (!f)
        return ERR(-EBADF);
    struct moat_iommufd *ictx = vfio_iommufd_of(f);
    err = !ictx ? ERR(-EBADFD) : vfio_group_cdev_claim(vd->pdev);
    if (err) {
        file_put(f);
        return err;
    }
    /* iommu_device_claim_dma_owner: a runtime driver owns a member of the group */
    err = vfio_group_viable(vd->pdev->group) ? moat_device_bind(ictx, vd->pdev, &b.out_devid)
                                              : ERR(-EPERM);
    if (err) {
        vfio_group_cdev_release(vd->pdev);
        file_put(f);
        return err;
    }
    err = device_enable(vd);
    if (err) {
        moat_device_unbind(ictx, b.out_devid);
        vfio_group_cdev_release(vd->pdev);
        file_put(f);
        return err;
    }
    vd->ictx = ictx;
    vd->dev_id = b.out_devid;
    vd->cdev_bound = true;
    vd->iommufd_file = f;
    return vfio_copy_to(arg, &b, minsz);
}

/* Linux's vfio_df_ioctl_attach_pt / detach_pt over vfio_iommufd_physical_{attach,detach}_ioas:
 * attaching an attached device replaces its page table; detaching one that is not attached does
 * nothing and succeeds. */
static long cdev_attach(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_device_attach_iommufd_pt a;
    size_t minsz = END_OF(struct vfio_device_attach_iommufd_pt, pt_id);
    long err = vfio_args_in(&a, arg, minsz);
    if (err)
        return err;
    if (a.flags)
        return ERR(-EINVAL);
    err = vd->attached ? moat_device_replace(vd->ictx, vd->dev_id, &a.pt_id)
                           : moat_device_attach(vd->ictx, vd->dev_id, &a.pt_id);
    if (err)
        return err;
    vd->attached = true;
    return vfio_copy_to(arg, &a, minsz);
}

static long cdev_detach(struct vfio_device *vd, unsigned long arg)
{
    struct vfio_device_detach_iommufd_pt d;
    long err = vfio_args_in(&d, arg, END_OF(struct vfio_device_detach_iommufd_pt, flags));
    if (err)
        return err;
    if (d.flags)
        return ERR(-EINVAL);
    if (vd->attached)
        moat_device_detach(vd->ictx, vd->dev_id);
    vd->attached = false;
    return 0;
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
    case VFIO_DEVICE_FEATURE: return vfio_device_feature(vd, arg);
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: return vfio_hot_reset_info(vd, arg);
    case VFIO_DEVICE_PCI_HOT_RESET: return vfio_hot_reset(vd, arg);
    /* cdev only: through the group they reach vfio_pci_core_ioctl, which does not know them */
    case VFIO_DEVICE_ATTACH_IOMMUFD_PT: return vd->group ? ERR(-ENOTTY) : cdev_attach(vd, arg);
    case VFIO_DEVICE_DETACH_IOMMUFD_PT: return vd->group ? ERR(-ENOTTY) : cdev_detach(vd, arg);
    default: return ERR(-ENOTTY);
    }
}

/* Every open device file, for hot-unplug: a device a program holds leaves only once closed. */
static struct vfio_device *open_devs;

bool vfio_device_held(const struct pci_dev *pdev)
{
    for (struct vfio_device *vd = open_devs; vd; vd = vd->next_open)
        if (vd->pdev == pdev)
            return true;
    return false;
}

static bool device_enabled(const struct pci_dev *pdev)
{
    for (struct vfio_device *vd = open_devs; vd; vd = vd->next_open)
        if (vd->pdev == pdev && vd->enabled)
            return true;
    return false;
}

/* vfio_pci_core_disable, when the last file that enabled the device closes: DMA stops (bus
 * mastering off), and the function is reset where it can be, so the next user finds it as the
 * first one did. */
static void device_disable(struct pci_system *sys, struct pci_dev *pdev)
{
    pci_clear_master(sys, pdev);
    if (pci_reset_supported(sys, pdev))
        pci_reset_function(sys, pdev);
}

static void open_unlink(struct vfio_device *vd)
{
    for (struct vfio_device **p = &open_devs; *p; p = &(*p)->next_open) {
        if (*p == vd) {
            *p = vd->next_open;
            return;
        }
    }
}

static void device_release(struct file *f)
{
    struct vfio_device *vd = f->priv;
    open_unlink(vd);
    vfio_irqs_disable(vd);
    if (vd->enabled && !device_enabled(vd->pdev)) {
        vfio_token_vf_closed(vd->pdev);     /* vfio_pci_core_close_device */
        if (!vd->pdev->gone)
            device_disable(vfio_pci(), vd->pdev);
    }
    vfio_err_req_release(vd);
    if (vd->cdev_bound) {
        moat_device_unbind(vd->ictx, vd->dev_id);
        vfio_group_cdev_release(vd->pdev);
        file_put(vd->iommufd_file);
    }
    if (vd->group)
        vfio_group_device_closed(vd->group, vd->pdev);
    kfree(vd->irqs);
    kfree(vd);
}

static const struct file_ops device_ops = {
    .ioctl = device_ioctl, .read = device_read, .write = device_write, .mmap = device_mmap,
    .release = device_release,
};

/* Linux's vfio_pci_core_enable, for the device's first user (vfio_df_device_first_open, after
 * the IOMMU side is bound): bus mastering off (whatever firmware or an earlier driver left:
 * SeaBIOS leaves an NVMe controller mastering), decode on for the BARs that need it (firmware
 * may have left it off, as on AArch64's virt, where no firmware runs before moat), and a reset
 * where the function has one (its answer ignored, as Linux's open does). Bus mastering is then
 * the program's. pci_enable_decode's error fails the open (a BAR never placed: -EINVAL). */
static int device_enable(struct vfio_device *vd)
{
    struct pci_system *sys = vfio_pci();
    if (!device_enabled(vd->pdev)) {
        uint16_t cmd = pci_read16(sys, vd->pdev, PCI_COMMAND), restore = vd->pdev->decode_restore;
        pci_clear_master(sys, vd->pdev);
        int err = pci_enable_decode(sys, vd->pdev);
        if (err) {
            pci_write16(sys, vd->pdev, PCI_COMMAND, cmd);
            return err;
        }
        vd->enabled_decode = true;
        vd->cmd_before = cmd;
        vd->decode_restore_before = restore;
        if (pci_reset_supported(sys, vd->pdev))
            pci_reset_function(sys, vd->pdev);
        vfio_token_vf_opened(vd->pdev);     /* vfio_pci_core_finish_enable */
    }
    vd->enabled = true;
    return 0;
}

/* An open that fails after device_enable leaves the command register as it found it. */
static void device_enable_undo(struct vfio_device *vd)
{
    if (vd->enabled_decode) {
        pci_write16(vfio_pci(), vd->pdev, PCI_COMMAND, vd->cmd_before);
        vd->pdev->decode_restore = vd->decode_restore_before;
        vfio_token_vf_closed(vd->pdev);
    }
    vd->enabled = vd->enabled_decode = false;
}

int vfio_device_open(struct pci_dev *pdev, struct vfio_group *g, struct file **out)
{
    struct vfio_device *vd = kzalloc(sizeof(*vd));
    if (!vd)
        return ERR(-ENOMEM);
    vd->pdev = pdev;
    vd->group = g;
    vd->irq_index = ~0u;
    /* a slot per MSI-X entry (MSI has one vector here) */
    vd->irq_slots = MAX(vfio_irq_count(vd, VFIO_PCI_MSIX_IRQ_INDEX), 1u);
    vd->irqs = kcalloc(vd->irq_slots, sizeof(*vd->irqs));
    if (!vd->irqs) {
        kfree(vd);
        return ERR(-ENOMEM);
    }
    cfg_init_bars(vd);
    cfg_init_msi(vd);
    cfg_init_caps(vd);
    /* The group path opens the device now; a cdev when it is bound (cdev_bind). */
    int err = g ? vfio_group_device_opened(g, pdev, &vd->dev_id) : 0;
    if (err) {
        kfree(vd->irqs);
        kfree(vd);
        return err;
    }
    if (g) {
        g->open_devices++;
        vd->ictx = g->container ? g->container->ictx : g->ictx;
        err = device_enable(vd);
    }
    *out = err ? NULL : file_new(&device_ops, vd);
    if (!*out) {
        if (!err) {
            device_enable_undo(vd);
            err = ERR(-ENOMEM);
        }
        if (g)
            vfio_group_device_closed(g, pdev);
        kfree(vd->irqs);
        kfree(vd);
        return err;
    }
    vd->next_open = open_devs;
    open_devs = vd;
    return 0;
}

/* Linux's vfio_pci_core_request: the program is asked through its REQ eventfd; one that set
 * none is only told on the console (Linux: "No device request channel registered, blocked
 * until released by user"). */
static void device_request(struct pci_dev *pdev, unsigned count)
{
    char bdf[16];
    pci_format_bdf(pdev, bdf, sizeof(bdf));
    for (struct vfio_device *vd = open_devs; vd; vd = vd->next_open) {
        if (vd->pdev != pdev)
            continue;
        if (vd->req_trigger) {
            if (count == 0)
                kprintf("vfio-pci %s: requesting the device from the program\n", bdf);
            eventfd_signal(vd->req_trigger);
        } else if (count == 0) {
            kprintf("vfio-pci %s: no device request channel registered, blocked until "
                    "released by the program\n", bdf);
        }
    }
}

static const struct pci_hotplug_holder vfio_holder = {
    .held = vfio_device_held, .request = device_request, .leaving = vfio_group_device_leaving,
};

void vfio_hotplug_init(void)
{
    vfio_pci()->holder = &vfio_holder;
}

/* The device "vfio<N>" names, or NULL (a departed device has none). Linux has a cdev only
 * for a device bound to vfio-pci. */
static struct pci_dev *cdev_dev(const char *rest)
{
    unsigned long long idx;
    const char *end;
    struct pci_system *sys = vfio_pci();
    if (str_to_u64(rest, &end, 10, &idx) || *end || idx >= sys->ndevs)
        return NULL;
    struct pci_dev *pdev = &sys->devs[idx];
    if (pdev->gone || pdev->group < 0 || (pdev->driver && strcmp(pdev->driver, "vfio-pci") != 0))
        return NULL;
    return pdev;
}

int vfio_cdev_exists(const char *rest)
{
    return cdev_dev(rest) ? 0 : -ENOENT;
}

int vfio_cdev_open(const char *rest, int oflags, struct file **out)
{
    struct pci_dev *pdev = cdev_dev(rest);
    if (!pdev)
        return ERR(-ENOENT);
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
