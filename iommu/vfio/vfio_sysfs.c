/* The attribute files of /sys/bus/pci/devices/<BDF>/ that Linux tools read, in Linux's formats
 * (drivers/pci/pci-sysfs.c): vendor, device, subsystem_vendor, subsystem_device ("0x%04x\n"),
 * class ("0x%06x\n"), revision ("0x%02x\n"), resource (one "start end flags" line per resource,
 * each "0x%016llx"), sriov_totalvfs/sriov_numvfs ("%u\n"), the driver link, a PF's virtfn<N>
 * links and a VF's physfn, and the directories /sys/bus/pci/devices and
 * /sys/bus/pci/devices/<BDF>. (iommu_group and vfio-dev are answered by vfio_group.c.)
 * sriov_numvfs is the one writable file: writing N enables N VFs, 0 disables them (Linux's
 * sriov_numvfs_store, through vfio-pci's sriov_configure). What differs from Linux: no config,
 * irq, numa_node, enable, remove, rescan...; bridge windows read as zeros in resource. */
#include "iommu/vfio/vfio_private.h"
#include "kernel/fd.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/string.h"

#define SYS_PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define RESOURCES_DEVICE 13      /* 6 BARs, the ROM, 6 SR-IOV BARs (Linux's PCI_BRIDGE_RESOURCES) */
#define RESOURCES_BRIDGE 17      /* and the 4 bridge windows */

/* Linux's IORESOURCE_* flags as pci-sysfs prints them, with the BAR's low bits. */
#define IORESOURCE_IO 0x100
#define IORESOURCE_MEM 0x200
#define IORESOURCE_PREFETCH 0x2000
#define IORESOURCE_MEM_64 0x100000
#define IORESOURCE_SIZEALIGN 0x40000
#define BAR_SPACE_IO 0x1
#define BAR_MEM_TYPE_64 0x4
#define BAR_MEM_PREFETCH 0x8

static const char *const attr_names[] = { "vendor", "device", "subsystem_vendor",
                                          "subsystem_device", "class", "revision", "resource",
                                          "sriov_totalvfs", "sriov_numvfs" };

static uint64_t resource_flags(const struct pci_bar *b)
{
    if (b->flags & PCI_BAR_IO)
        return IORESOURCE_IO | IORESOURCE_SIZEALIGN | BAR_SPACE_IO;
    uint64_t f = IORESOURCE_MEM | IORESOURCE_SIZEALIGN;
    if (b->flags & PCI_BAR_MEM64)
        f |= IORESOURCE_MEM_64 | BAR_MEM_TYPE_64;
    if (b->flags & PCI_BAR_PREFETCH)
        f |= IORESOURCE_PREFETCH | BAR_MEM_PREFETCH;
    return f;
}

static int resource_line(char *buf, size_t size, const struct pci_bar *b, uint64_t count)
{
    if (!b || !b->size)
        return fmt_snprintf(buf, size, "0x%016llx 0x%016llx 0x%016llx\n", 0ULL, 0ULL, 0ULL);
    return fmt_snprintf(buf, size, "0x%016llx 0x%016llx 0x%016llx\n",
                        (unsigned long long)b->base,
                        (unsigned long long)(b->base + b->size * count - 1),
                        (unsigned long long)resource_flags(b));
}

static int resource_show(const struct pci_dev *d, char *buf, size_t size)
{
    size_t len = 0;
    unsigned lines = d->is_bridge ? RESOURCES_BRIDGE : RESOURCES_DEVICE;
    for (unsigned i = 0; i < lines && len < size; i++) {
        const struct pci_bar *b = NULL;
        uint64_t count = 1;
        if (i < PCI_STD_NUM_BARS) {
            b = &d->bar[i];
        } else if (i >= 7 && i < 7 + PCI_STD_NUM_BARS && d->total_vfs) {
            b = &d->vf_bar[i - 7];
            count = d->total_vfs;
        }
        len += (size_t)resource_line(buf + len, size - len, b, count);
    }
    return (int)MIN(len, size);
}

static int attr_show(struct pci_dev *d, const char *leaf, char *buf, size_t size)
{
    struct pci_system *sys = vfio_pci();
    bool type0 = d->hdr_type == 0;
    if (strcmp(leaf, "vendor") == 0)
        return fmt_snprintf(buf, size, "0x%04x\n", d->vendor);
    if (strcmp(leaf, "device") == 0)
        return fmt_snprintf(buf, size, "0x%04x\n", d->device);
    if (strcmp(leaf, "subsystem_vendor") == 0)
        return fmt_snprintf(buf, size, "0x%04x\n",
                            type0 ? pci_read16(sys, d, PCI_SUBSYSTEM_VENDOR_ID) : 0);
    if (strcmp(leaf, "subsystem_device") == 0)
        return fmt_snprintf(buf, size, "0x%04x\n", type0 ? pci_read16(sys, d, PCI_SUBSYSTEM_ID) : 0);
    if (strcmp(leaf, "class") == 0)
        return fmt_snprintf(buf, size, "0x%06x\n", d->class_rev >> 8);
    if (strcmp(leaf, "revision") == 0)
        return fmt_snprintf(buf, size, "0x%02x\n", d->class_rev & 0xff);
    if (strcmp(leaf, "resource") == 0)
        return resource_show(d, buf, size);
    if (d->caps.sriov && strcmp(leaf, "sriov_totalvfs") == 0)
        return fmt_snprintf(buf, size, "%u\n", d->total_vfs);
    if (d->caps.sriov && strcmp(leaf, "sriov_numvfs") == 0)
        return fmt_snprintf(buf, size, "%u\n", d->num_vfs);
    return -ENOENT;
}

static int sysfs_attr_read(const char *path, char *buf, size_t size)
{
    const char *leaf;
    struct pci_dev *d = vfio_sysfs_dev(path, &leaf);
    if (!d)
        return -ENOENT;
    int n = attr_show(d, leaf, buf, size);
    return n < 0 ? n : (int)MIN((size_t)n, size);
}

/* The driver a device is bound to: the runtime's own, or vfio-pci for a function a program may
 * take (as an appliance leaves every device to its program). Bridges have none here. */
static const char *driver_of(const struct pci_dev *d)
{
    if (d->driver)
        return d->driver;
    return !d->is_bridge && d->group >= 0 ? "vfio-pci" : NULL;
}

/* The index-th VF of pf (Linux's virtfn<index>), or NULL. */
static struct pci_dev *pf_virtfn(struct pci_dev *pf, unsigned long long index)
{
    struct pci_system *sys = vfio_pci();
    uint32_t idx = pci_dev_index(sys, pf);
    for (uint32_t v = idx + 1; v < sys->ndevs; v++) {
        struct pci_dev *vf = &sys->devs[v];
        if (!vf->gone && vf->is_virtfn && vf->physfn == idx && index-- == 0)
            return vf;
    }
    return NULL;
}

/* The device a PF's "virtfn<N>" or a VF's "physfn" names, or NULL. */
static struct pci_dev *sriov_link(struct pci_dev *d, const char *leaf)
{
    unsigned long long n;
    const char *end;
    if (strcmp(leaf, "physfn") == 0 && d->is_virtfn && d->physfn < vfio_pci()->ndevs)
        return &vfio_pci()->devs[d->physfn];
    if (strncmp(leaf, "virtfn", 6) == 0 && d->num_vfs && !d->is_virtfn &&
        str_to_u64(leaf + 6, &end, 10, &n) == 0 && !*end && (leaf[6] != '0' || !leaf[7]))
        return pf_virtfn(d, n);
    return NULL;
}

/* readlink does not terminate: at most size bytes of link, its length. */
static int link_out(char *buf, size_t size, const char *link, size_t len)
{
    size_t k = MIN(len, size);
    memcpy(buf, link, k);
    return (int)k;
}

static int sysfs_driver_readlink(const char *path, char *buf, size_t size)
{
    const char *leaf;
    struct pci_dev *d = vfio_sysfs_dev(path, &leaf);
    struct pci_dev *to = d ? sriov_link(d, leaf) : NULL;
    if (to) {
        char link[32];
        pci_format_bdf(to, link + 3, sizeof(link) - 3);   /* a sibling: "../<BDF>" */
        memcpy(link, "../", 3);
        return link_out(buf, size, link, strlen(link));
    }
    const char *drv = d ? driver_of(d) : NULL;
    if (!drv || strcmp(leaf, "driver") != 0)
        return -ENOENT;
    /* From /sys/devices/pci<seg>:<bus>/<BDF>..., one level per bridge above the device. */
    char link[128];
    size_t len = 0;
    for (unsigned i = 0; i < 3u + d->depth && len + 3 < sizeof(link); i++)
        len += (size_t)fmt_snprintf(link + len, sizeof(link) - len, "../");
    len += (size_t)fmt_snprintf(link + len, sizeof(link) - len, "bus/pci/drivers/%s", drv);
    return link_out(buf, size, link, len);
}

/* Linux's kstrtou16(buf, 0, ...): an optional '+', then hex after "0x", octal after "0", else
 * decimal (str_to_u64's base 0), and at most one newline after; anything else, or more than 16
 * bits, is EINVAL. buf is NUL-terminated at len. */
static int parse_u16(const char *buf, size_t len, unsigned *out)
{
    const char *p = buf + (len && *buf == '+'), *end;
    unsigned long long v;
    if (str_to_u64(p, &end, 0, &v) || v > 0xffff || end != buf + len - (len && buf[len - 1] == '\n'))
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* Linux's sriov_numvfs_store: the number (EINVAL), above TotalVFs (ERANGE), the same as now
 * (nothing to do), then the PF's driver must configure SR-IOV (ENOENT: a runtime driver has
 * no sriov_configure; vfio-pci has), 0 disables, and a change between two nonzero counts is
 * EBUSY. */
static long sysfs_attr_store(const char *path, const char *buf, size_t len)
{
    const char *leaf;
    struct pci_dev *d = vfio_sysfs_dev(path, &leaf);
    char scratch[8];
    if (!d || strcmp(leaf, "sriov_numvfs") != 0 || !d->caps.sriov)
        return d && attr_show(d, leaf, scratch, sizeof(scratch)) >= 0 ? -EACCES : -ENOENT;
    if (!buf)
        return 0;
    unsigned n;
    if (parse_u16(buf, len, &n))
        return ERR(-EINVAL);
    if (n > d->total_vfs)
        return ERR(-ERANGE);
    if (n == d->num_vfs)
        return (long)len;
    if (d->driver && strcmp(d->driver, "vfio-pci") != 0) {
        char bdf[16];
        pci_format_bdf(d, bdf, sizeof(bdf));
        kprintf("pci %s: driver does not support SR-IOV configuration via sysfs\n", bdf);
        return ERR(-ENOENT);
    }
    if (n && d->num_vfs) {
        char bdf[16];
        pci_format_bdf(d, bdf, sizeof(bdf));
        kprintf("pci %s: %u VFs already enabled. Disable before enabling %u VFs\n", bdf,
                d->num_vfs, n);
        return ERR(-EBUSY);
    }
    int err = vfio_sriov_configure(d, n);
    return err < 0 ? err : (long)len;
}

static int sysfs_dirs_list(const char *dir, void (*emit)(void *ctx, const char *name), void *ctx)
{
    static const struct { const char *dir, *child; } parents[] = {
        { "/sys", "bus" }, { "/sys/bus", "pci" }, { "/sys/bus/pci", "devices" } };
    struct pci_system *sys = vfio_pci();
    for (unsigned i = 0; i < ARRAY_SIZE(parents); i++) {
        if (strcmp(dir, parents[i].dir) == 0) {
            emit(ctx, ".");
            emit(ctx, "..");
            emit(ctx, parents[i].child);
            return 0;
        }
    }
    if (strcmp(dir, SYS_PCI_DEVICES) == 0) {
        emit(ctx, ".");
        emit(ctx, "..");
        for (uint32_t i = 0; sys && i < sys->ndevs; i++) {
            char bdf[16];
            pci_format_bdf(&sys->devs[i], bdf, sizeof(bdf));
            emit(ctx, bdf);
        }
        return 0;
    }
    const char *leaf;
    struct pci_dev *d = vfio_sysfs_dev(dir, &leaf);
    if (!d || *leaf)
        return -ENOENT;
    emit(ctx, ".");
    emit(ctx, "..");
    char scratch[8];
    for (unsigned i = 0; i < ARRAY_SIZE(attr_names); i++)
        if (attr_show(d, attr_names[i], scratch, sizeof(scratch)) >= 0)
            emit(ctx, attr_names[i]);
    if (d->group >= 0)
        emit(ctx, "iommu_group");
    if (driver_of(d))
        emit(ctx, "driver");
    if (!d->is_bridge && d->group >= 0)
        emit(ctx, "vfio-dev");
    if (d->is_virtfn)
        emit(ctx, "physfn");
    for (unsigned i = 0; !d->is_virtfn && i < d->num_vfs; i++) {
        char name[16];
        fmt_snprintf(name, sizeof(name), "virtfn%u", i);
        emit(ctx, name);
    }
    return 0;
}

static struct sysfs_provider pci_attrs = { .readlink = sysfs_driver_readlink,
                                           .list = sysfs_dirs_list, .read = sysfs_attr_read,
                                           .store = sysfs_attr_store };

void vfio_sysfs_register(void)
{
    sysfs_register(&pci_attrs);
}
