/* /dev/vfio/<group>: a VFIO group (the isolation group moat computed, as Linux's iommu_group),
 * the /sys view Linux programs use to find it, and the unit that registers the device nodes. */
#include "iommu/vfio/vfio_private.h"
#include "kernel/init.h"
#include "kernel/mm/heap.h"
#include "kernel/vm.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_platform.h"

#define VFIO_MAX_GROUPS 256

static struct vfio_group *groups[VFIO_MAX_GROUPS];

struct pci_system *vfio_pci(void)
{
    return platform_pci();
}

static bool group_exists(int id)
{
    struct pci_system *sys = vfio_pci();
    for (uint32_t i = 0; sys && i < sys->ndevs; i++)
        if (sys->devs[i].group == id)
            return true;
    return false;
}

/* Viable when no runtime driver has claimed a member: VFIO may own the whole group. */
bool vfio_group_viable(int id)
{
    struct pci_system *sys = vfio_pci();
    for (uint32_t i = 0; i < sys->ndevs; i++)
        if (sys->devs[i].group == id && sys->devs[i].driver &&
            strcmp(sys->devs[i].driver, "vfio-pci") != 0)
            return false;
    return true;
}

int vfio_device_index(const struct pci_dev *pdev)
{
    return (int)pci_dev_index(vfio_pci(), pdev);
}

static long group_status(struct vfio_group *g, unsigned long arg)
{
    struct vfio_group_status st;
    size_t minsz = END_OF(struct vfio_group_status, flags);
    long err = vfio_args_in(&st, arg, minsz);
    if (err)
        return err;
    st.flags = 0;
    if (vfio_group_viable(g->id))
        st.flags |= VFIO_GROUP_FLAGS_VIABLE;
    if (g->container)
        st.flags |= VFIO_GROUP_FLAGS_CONTAINER_SET;
    return vfio_copy_to(arg, &st, minsz);
}

static long group_set_container(struct vfio_group *g, unsigned long arg)
{
    int32_t fd;
    if (vfio_copy_from(&fd, arg, sizeof(fd)))
        return ERR(-EFAULT);
    if (fd < 0)
        return ERR(-EINVAL);
    struct file *cf = fd_get(fd);
    if (!cf)
        return ERR(-EBADF);
    struct vfio_container *c = vfio_container_of(cf);
    long err = 0;
    if (!c)
        err = ERR(-EINVAL);
    else if (g->container)
        err = ERR(-EINVAL);
    else if (!vfio_group_viable(g->id))
        err = ERR(-EPERM);
    else if (c->nr_groups == ARRAY_SIZE(c->groups))
        err = ERR(-ENOSPC);
    if (!err) {
        c->groups[c->nr_groups++] = g;
        err = vfio_container_attach_group(c, g);
        if (err) {
            c->nr_groups--;
        } else {
            g->container = c;
            c->refs++;
        }
    }
    file_put(cf);
    return err;
}

static long group_unset_container(struct vfio_group *g)
{
    if (!g->container)
        return ERR(-EINVAL);
    if (g->open_devices)
        return ERR(-EBUSY);
    vfio_container_detach_group(g->container, g);
    vfio_container_put(g->container);
    g->container = NULL;
    return 0;
}

static long group_get_device_fd(struct vfio_group *g, unsigned long arg)
{
    char name[64];
    long n = uaccess_strncpy(name, (const char *)arg, sizeof(name));
    if (n < 0)      /* Linux's strndup_user: too long is -EINVAL */
        return n == -ENAMETOOLONG ? ERR(-EINVAL) : n;
    struct pci_system *sys = vfio_pci();
    struct pci_dev *pdev = NULL;
    for (uint32_t i = 0; i < sys->ndevs && !pdev; i++) {
        char bdf[16];
        pci_format_bdf(&sys->devs[i], bdf, sizeof(bdf));
        if (sys->devs[i].group == g->id && strcmp(bdf, name) == 0)
            pdev = &sys->devs[i];
    }
    if (!pdev)
        return ERR(-ENODEV);
    if (!g->container || !g->container->ictx)
        return ERR(-EINVAL);
    struct file *f;
    int err = vfio_device_open(pdev, g, &f);
    if (err)
        return err;
    int fd = fd_install(f);
    if (fd < 0)
        file_put(f);
    return fd;
}

static long group_ioctl(struct file *f, unsigned long cmd, unsigned long arg)
{
    struct vfio_group *g = f->priv;
    switch (cmd) {
    case VFIO_GROUP_GET_STATUS:
        return group_status(g, arg);
    case VFIO_GROUP_SET_CONTAINER:
        return group_set_container(g, arg);
    case VFIO_GROUP_UNSET_CONTAINER:
        return group_unset_container(g);
    case VFIO_GROUP_GET_DEVICE_FD:
        return group_get_device_fd(g, arg);
    default:
        return ERR(-ENOTTY);
    }
}

static void group_release(struct file *f)
{
    struct vfio_group *g = f->priv;
    if (g->container && !g->open_devices)
        group_unset_container(g);
    g->opened = false;
}

static const struct file_ops group_ops = { .ioctl = group_ioctl, .release = group_release };

static int group_open(const char *rest, int oflags, struct file **out)
{
    unsigned long long id;
    const char *end;
    if (str_to_u64(rest, &end, 10, &id) || *end || id >= VFIO_MAX_GROUPS || !group_exists((int)id))
        return ERR(-ENOENT);
    struct vfio_group *g = groups[id];
    if (!g) {
        g = kzalloc(sizeof(*g));
        if (!g)
            return ERR(-ENOMEM);
        g->id = (int)id;
        groups[id] = g;
    }
    if (g->opened)
        return ERR(-EBUSY);      /* Linux: one open file per group */
    *out = file_new(&group_ops, g);
    if (!*out)
        return ERR(-ENOMEM);
    g->opened = true;
    return 0;
}

/* ---- /sys ---- */

#define SYS_DEVICES "/sys/bus/pci/devices/"

/* The device named by "<BDF>/<leaf>" after the devices directory, with the leaf. */
static struct pci_dev *sys_dev(const char *path, const char **leaf)
{
    size_t plen = strlen(SYS_DEVICES);
    if (strncmp(path, SYS_DEVICES, plen) != 0)
        return NULL;
    path += plen;
    struct pci_system *sys = vfio_pci();
    for (uint32_t i = 0; sys && i < sys->ndevs; i++) {
        char bdf[16];
        pci_format_bdf(&sys->devs[i], bdf, sizeof(bdf));
        size_t n = strlen(bdf);
        if (strncmp(path, bdf, n) == 0 && (path[n] == '/' || path[n] == 0)) {
            *leaf = path[n] ? path + n + 1 : path + n;
            return &sys->devs[i];
        }
    }
    return NULL;
}

static int sysfs_readlink(const char *path, char *buf, size_t size)
{
    const char *leaf;
    struct pci_dev *d = sys_dev(path, &leaf);
    if (!d || strcmp(leaf, "iommu_group") != 0 || d->group < 0)
        return -ENOENT;
    char link[64];
    int n = fmt_snprintf(link, sizeof(link), "../../../../kernel/iommu_groups/%d", d->group);
    size_t k = (size_t)n < size ? (size_t)n : size;
    memcpy(buf, link, k);       /* readlink does not terminate */
    return (int)k;
}

static int sysfs_list(const char *dir, void (*emit)(void *ctx, const char *name), void *ctx)
{
    const char *leaf;
    struct pci_dev *d = sys_dev(dir, &leaf);
    if (!d || (strcmp(leaf, "vfio-dev") != 0 && strcmp(leaf, "vfio-dev/") != 0))
        return -ENOENT;
    char name[32];
    fmt_snprintf(name, sizeof(name), "vfio%d", vfio_device_index(d));
    emit(ctx, ".");
    emit(ctx, "..");
    emit(ctx, name);
    return 0;
}

static struct devnode group_node = { .path = "/dev/vfio/", .prefix = true, .open = group_open };
static struct devnode cdev_node = { .path = "/dev/vfio/devices/vfio", .prefix = true,
                                    .open = vfio_cdev_open };
static struct devnode iommu_node = { .path = "/dev/iommu", .open = vfio_iommufd_dev_open };
static struct sysfs_provider vfio_sysfs = { .readlink = sysfs_readlink, .list = sysfs_list };

void vfio_container_register(void);

static int vfio_init(void)
{
    if (!vfio_pci())
        return -ENODEV;
    /* Order matters: the longer prefix must be tried before /dev/vfio/<group>. */
    devnode_register(&group_node);
    vfio_container_register();
    devnode_register(&iommu_node);
    devnode_register(&cdev_node);
    sysfs_register(&vfio_sysfs);
    vm_set_pinned_query(moat_iommufd_is_pinned);
    return 0;
}
MOAT_UNIT_OPTIONAL(80_late, vfio, vfio_init);
