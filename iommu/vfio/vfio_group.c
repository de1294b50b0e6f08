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
    /* Linux's vfio_group_ioctl_get_status: a group with a container is viable by construction */
    st.flags = 0;
    if (g->container || g->ictx)
        st.flags = VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
    else if (vfio_group_viable(g->id))
        st.flags = VFIO_GROUP_FLAGS_VIABLE;
    return vfio_copy_to(arg, &st, minsz);
}

/* An iommufd as the container (Linux: iommufd_vfio_compat_ioas_create, then group->iommufd):
 * the context gets a compat IOAS if it has none; the group holds the file. */
static long group_set_iommufd(struct vfio_group *g, struct file *f, struct moat_iommufd *ictx)
{
    uint32_t ioas;
    long err = moat_vfio_compat_ioas(ictx, true, &ioas);
    if (err) {
        file_put(f);
        return err;
    }
    g->iommufd_file = f;
    g->ictx = ictx;
    return 0;
}

/* Linux's vfio_group_ioctl_set_container: the descriptor first (EBADF), then a container already
 * set (EINVAL), then what the descriptor is (EBADFD when neither a container nor an iommufd). */
static long group_set_container(struct vfio_group *g, unsigned long arg)
{
    int32_t fd;
    if (vfio_copy_from(&fd, arg, sizeof(fd)))
        return ERR(-EFAULT);
    struct file *cf = fd_get(fd);
    if (!cf)
        return ERR(-EBADF);
    struct vfio_container *c = vfio_container_of(cf);
    struct moat_iommufd *ictx = vfio_iommufd_of(cf);
    long err = 0;
    if (g->container || g->ictx)
        err = ERR(-EINVAL);
    else if (!c && ictx)
        return group_set_iommufd(g, cf, ictx);
    else if (!c)
        err = ERR(-EBADFD);
    else if (!vfio_group_viable(g->id))
        err = ERR(-EPERM);  /* iommu_group_claim_dma_owner: a driver owns a member */
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

/* With an iommufd Linux lets the devices keep it; moat asks for them to close first (EBUSY). */
static long group_unset_container(struct vfio_group *g)
{
    if (!g->container && !g->ictx)
        return ERR(-EINVAL);
    if (g->open_devices)
        return ERR(-EBUSY);
    if (g->ictx) {
        file_put(g->iommufd_file);
        g->iommufd_file = NULL;
        g->ictx = NULL;
        return 0;
    }
    vfio_container_detach_group(g->container, g);
    vfio_container_put(g->container);
    g->container = NULL;
    return 0;
}

/* Linux's vfio_group_ioctl_get_device_fd: the name is at most a page (strndup_user: EINVAL),
 * then each member is asked whether it is the one named (vfio_device_get_from_name over
 * vfio_pci_core_match: "BDF" or "BDF vf_token=UUID"; ENODEV when none is, and a member's
 * errno ends the lookup: a token refused), then the group needs an IOMMU (EINVAL). */
static long group_get_device_fd(struct vfio_group *g, unsigned long arg)
{
    char *name = kmalloc(4096);
    if (!name)
        return ERR(-ENOMEM);
    long n = uaccess_strncpy(name, (const char *)arg, 4096);
    struct pci_system *sys = vfio_pci();
    struct pci_dev *pdev = NULL;
    for (uint32_t i = 0; n >= 0 && i < sys->ndevs && !pdev; i++) {
        if (sys->devs[i].gone || sys->devs[i].group != g->id)
            continue;
        int m = vfio_match_name(&sys->devs[i], name);
        if (m < 0)
            n = m;
        else if (m)
            pdev = &sys->devs[i];
    }
    kfree(name);
    if (n == -ENAMETOOLONG)
        return ERR(-EINVAL);
    if (n < 0)
        return n;
    if (!pdev)
        return ERR(-ENODEV);
    if (!g->ictx && (!g->container || !g->container->ictx))
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

/* The group is released once neither its file nor a device opened through it is open (Linux:
 * each device holds a reference on the group file); its container goes with it. */
static void group_put(struct vfio_group *g)
{
    if (g->file_open || g->open_devices)
        return;
    if (g->container || g->ictx)
        group_unset_container(g);
    g->opened = false;
}

static struct vfio_group_iodev *iodev_find(struct vfio_group *g, const struct pci_dev *pdev)
{
    for (unsigned i = 0; i < g->nr_iodevs; i++)
        if (g->iodevs[i].pdev == pdev)
            return &g->iodevs[i];
    return NULL;
}

/* Linux's vfio_df_group_open over an iommufd: the first open binds (vfio_df_iommufd_bind) and
 * attaches to the compat IOAS (vfio_iommufd_compat_attach_ioas: ENODEV when it was cleared). */
int vfio_group_device_opened(struct vfio_group *g, struct pci_dev *pdev, uint32_t *dev_id)
{
    if (!g->ictx)
        return 0;
    struct vfio_group_iodev *d = iodev_find(g, pdev);
    if (d) {
        d->opens++;
        *dev_id = d->dev_id;
        return 0;
    }
    uint32_t ioas, id;
    int err = g->nr_iodevs == VFIO_GROUP_MAX_DEVS ? -ENOSPC : moat_device_bind(g->ictx, pdev, &id);
    if (err)
        return err;
    err = moat_vfio_compat_ioas(g->ictx, false, &ioas);
    if (!err)
        err = moat_device_attach(g->ictx, id, &ioas);
    if (err) {
        moat_device_unbind(g->ictx, id);
        return err;
    }
    g->iodevs[g->nr_iodevs++] = (struct vfio_group_iodev){ pdev, id, 1 };
    *dev_id = id;
    return 0;
}

void vfio_group_device_closed(struct vfio_group *g, const struct pci_dev *pdev)
{
    struct vfio_group_iodev *d = g->ictx ? iodev_find(g, pdev) : NULL;
    if (d && --d->opens == 0) {
        moat_device_unbind(g->ictx, d->dev_id);
        *d = g->iodevs[--g->nr_iodevs];
    }
    g->open_devices--;
    group_put(g);
}

static void group_release(struct file *f)
{
    struct vfio_group *g = f->priv;
    g->file_open = false;
    group_put(g);
}

static const struct file_ops group_ops = { .ioctl = group_ioctl, .release = group_release };

struct vfio_group *vfio_group_get(int id)
{
    if (id < 0 || id >= VFIO_MAX_GROUPS)
        return NULL;
    if (!groups[id]) {
        groups[id] = kzalloc(sizeof(*groups[id]));
        if (groups[id])
            groups[id]->id = id;
    }
    return groups[id];
}

/* The group number "<N>" names, or -ENOENT. */
static int group_id(const char *rest)
{
    unsigned long long id;
    const char *end;
    if (str_to_u64(rest, &end, 10, &id) || *end || id >= VFIO_MAX_GROUPS || !group_exists((int)id))
        return -ENOENT;
    return (int)id;
}

static int group_node_exists(const char *rest)
{
    return group_id(rest) < 0 ? -ENOENT : 0;
}

/* Linux's vfio_group_fops_open: EBUSY while a member is bound through its cdev, and for a second
 * open. */
static int group_open(const char *rest, int oflags, struct file **out)
{
    int id = group_id(rest);
    if (id < 0)
        return ERR(id);
    struct vfio_group *g = vfio_group_get(id);
    if (!g)
        return ERR(-ENOMEM);
    if (g->nr_cdev_bound || g->opened)
        return ERR(-EBUSY);
    *out = file_new(&group_ops, g);
    if (!*out)
        return ERR(-ENOMEM);
    g->opened = g->file_open = true;
    return 0;
}

int vfio_group_cdev_claim(const struct pci_dev *pdev)
{
    struct vfio_group *g = vfio_group_get(pdev->group);
    if (!g)
        return ERR(-ENOMEM);
    if (g->opened)
        return ERR(-EBUSY);
    for (unsigned i = 0; i < g->nr_cdev_bound; i++)
        if (g->cdev_bound[i] == pdev)
            return ERR(-EINVAL);
    if (g->nr_cdev_bound == VFIO_GROUP_MAX_DEVS)
        return ERR(-ENOSPC);
    g->cdev_bound[g->nr_cdev_bound++] = pdev;
    return 0;
}

void vfio_group_cdev_release(const struct pci_dev *pdev)
{
    struct vfio_group *g = vfio_group_get(pdev->group);
    for (unsigned i = 0; g && i < g->nr_cdev_bound; i++) {
        if (g->cdev_bound[i] == pdev) {
            g->cdev_bound[i] = g->cdev_bound[--g->nr_cdev_bound];
            return;
        }
    }
}

/* ---- /sys ---- */

#define SYS_DEVICES "/sys/bus/pci/devices/"

struct pci_dev *vfio_sysfs_dev(const char *path, const char **leaf)
{
    size_t plen = strlen(SYS_DEVICES);
    if (strncmp(path, SYS_DEVICES, plen) != 0)
        return NULL;
    path += plen;
    struct pci_system *sys = vfio_pci();
    for (uint32_t i = 0; sys && i < sys->ndevs; i++) {
        char bdf[16];
        if (sys->devs[i].gone)
            continue;
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
    struct pci_dev *d = vfio_sysfs_dev(path, &leaf);
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
    struct pci_dev *d = vfio_sysfs_dev(dir, &leaf);
    if (!d || (strcmp(leaf, "vfio-dev") != 0 && strcmp(leaf, "vfio-dev/") != 0))
        return -ENOENT;
    char name[32];
    fmt_snprintf(name, sizeof(name), "vfio%d", vfio_device_index(d));
    emit(ctx, ".");
    emit(ctx, "..");
    emit(ctx, name);
    return 0;
}

static struct devnode group_node = { .path = "/dev/vfio/", .prefix = true, .open = group_open,
                                     .exists = group_node_exists };
static struct devnode cdev_node = { .path = "/dev/vfio/devices/vfio", .prefix = true,
                                    .open = vfio_cdev_open, .exists = vfio_cdev_exists };
static struct devnode iommu_node = { .path = "/dev/iommu", .open = vfio_iommufd_dev_open };
static struct sysfs_provider vfio_sysfs = { .readlink = sysfs_readlink, .list = sysfs_list };

/* A group file still open keeps its number from a new device (pci_system.group_busy). */
static bool vfio_group_busy(int id)
{
    return id >= 0 && id < VFIO_MAX_GROUPS && groups[id] && groups[id]->opened;
}

/* The device leaves (hot-unplug, after its file was closed): containers that bound it with
 * its group let go of it, so nothing in their contexts refers to it any more. */
void vfio_group_device_leaving(struct pci_dev *pdev)
{
    vfio_sriov_leaving(pdev);
    for (unsigned id = 0; id < VFIO_MAX_GROUPS; id++)
        if (groups[id] && groups[id]->container)
            vfio_container_unbind_dev(groups[id]->container, groups[id], pdev);
}

void vfio_register_nodes(void)
{
    /* Order matters: the longer prefix must be tried before /dev/vfio/<group>. */
    devnode_register(&group_node);
    vfio_container_register();
    devnode_register(&iommu_node);
    devnode_register(&cdev_node);
    sysfs_register(&vfio_sysfs);
    vfio_sysfs_register();
}

static int vfio_init(void)
{
    if (!vfio_pci())
        return -ENODEV;
    vfio_register_nodes();
    vm_set_pinned_query(moat_iommufd_is_pinned);
    vfio_pci()->group_busy = vfio_group_busy;
    vfio_hotplug_init();
    return 0;
}
MOAT_UNIT_OPTIONAL(80_late, vfio, vfio_init);
