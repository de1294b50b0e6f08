/* The VFIO face's answers, ioctl by ioctl, against Linux 6.12 (drivers/vfio/group.c,
 * container.c, vfio_main.c, device_cdev.c, iommufd.c, vfio_iommu_type1.c, pci/vfio_pci_core.c,
 * pci/vfio_pci_intrs.c): each test names the Linux function whose checks it follows, and where two
 * arguments are wrong at once, which error Linux gives first. */
#include "tests/host/api/vfio_host.h"

#include <linux/vfio.h>

#include "kernel/fd.h"
#include "pci/pci_platform.h"
#include "pci/pci_regs.h"

static int xopen(const char *path)
{
    int fd = sys_open(path, 0);
    if (fd < 0)
        host_check_failed(__FILE__, __LINE__, path);
    return fd;
}

static long ioc(int fd, unsigned long cmd, const void *arg)
{
    return sys_ioctl(fd, cmd, (unsigned long)(uintptr_t)arg);
}

static long ioc_val(int fd, unsigned long cmd, unsigned long arg)
{
    return sys_ioctl(fd, cmd, arg);
}

static const char *group_path(int g)
{
    static char path[32];
    snprintf(path, sizeof(path), "/dev/vfio/%d", g);
    return path;
}

/* A type1 container with one group set on it (and the IOMMU set when type is non-zero). */
struct t1 {
    int container, group;
};

static void t1_open(struct t1 *t, int group, unsigned long type)
{
    t->container = xopen("/dev/vfio/vfio");
    t->group = xopen(group_path(group));
    REQUIRE(ioc(t->group, VFIO_GROUP_SET_CONTAINER, &t->container) == 0);
    if (type)
        REQUIRE(ioc_val(t->container, VFIO_SET_IOMMU, type) == 0);
}

static void t1_close(struct t1 *t)
{
    sys_close(t->group);
    sys_close(t->container);
}

static int t1_device(struct t1 *t, const char *bdf)
{
    long fd = ioc(t->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
    if (fd < 0)
        host_check_failed(__FILE__, __LINE__, "VFIO_GROUP_GET_DEVICE_FD");
    return (int)fd;
}

/* A type1v2 container with the group of bdf set on it, and bdf's device file. */
static int t1_open_dev(struct t1 *t, int group, const char *bdf)
{
    t1_open(t, group, VFIO_TYPE1v2_IOMMU);
    return t1_device(t, bdf);
}

static void t1_close_dev(struct t1 *t, int dev)
{
    sys_close(dev);
    t1_close(t);
}

/* ---- groups ---- */

/* vfio_group_ioctl_set_container: fdget first (EBADF), then "already has an IOMMU" (EINVAL),
 * then the file's type: a container, an iommufd, else EBADFD. */
TEST(group_set_container_fd_errors_in_linux_order)
{
    struct api_base b;
    vh_setup(&b);
    int group = xopen(group_path(VH_EDU_GROUP)), container = xopen("/dev/vfio/vfio");
    int efd = sys_eventfd(0, 0), closed = xopen("/dev/vfio/vfio"), bad = -1;
    REQUIRE(efd >= 0);
    sys_close(closed);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &bad), -EBADF);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &closed), -EBADF);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &efd), -EBADFD);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &group), -EBADFD);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &container), 0);
    /* with a container set, the type of the second fd is never looked at */
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &efd), -EINVAL);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &container), -EINVAL);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &bad), -EBADF);
    sys_close(efd);
    sys_close(group);
    sys_close(container);
    API_CLEAN(&b);
}

/* vfio_group_ioctl_get_status: a group with a container is viable and says so. Unset before set:
 * EINVAL (vfio_group_ioctl_unset_container). */
TEST(group_status_and_unset)
{
    struct api_base b;
    vh_setup(&b);
    int group = xopen(group_path(VH_EDU_GROUP)), container = xopen("/dev/vfio/vfio");
    struct vfio_group_status st = { .argsz = sizeof(st) - 1 };
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_STATUS, &st), -EINVAL);
    st.argsz = sizeof(st);
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_STATUS, &st), 0);
    CHECK_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE);
    CHECK_EQ(ioc(group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &container), 0);
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_STATUS, &st), 0);
    CHECK_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
    CHECK_EQ(ioc(group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
    CHECK_EQ(ioc(group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
    CHECK_EQ(ioc(group, 0x3b7f, NULL), -ENOTTY);
    sys_close(group);
    sys_close(container);
    API_CLEAN(&b);
}

/* vfio_group_ioctl_get_device_fd: the name is looked up first (ENODEV), then the group must have
 * an IOMMU (vfio_df_group_open: EINVAL), and a container without SET_IOMMU has none for the
 * device (vfio_group_use_container: EINVAL). */
TEST(group_get_device_fd_order)
{
    struct api_base b;
    vh_setup(&b);
    int group = xopen(group_path(VH_EDU_GROUP)), container = xopen("/dev/vfio/vfio");
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_DEVICE_FD, "0000:00:09.0"), -ENODEV);
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_DEVICE_FD, VH_NVME_BDF), -ENODEV);   /* another group's */
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_DEVICE_FD, VH_EDU_BDF), -EINVAL);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &container), 0);
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_DEVICE_FD, VH_EDU_BDF), -EINVAL);
    CHECK_EQ(ioc_val(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
    long dev = ioc(group, VFIO_GROUP_GET_DEVICE_FD, VH_EDU_BDF);
    CHECK(dev >= 0);
    /* an open device keeps the container: UNSET is EBUSY (container_users) */
    CHECK_EQ(ioc(group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
    sys_close((int)dev);
    sys_close(group);
    sys_close(container);
    API_CLEAN(&b);
}

/* vfio_group_fops_open: one open file per group (EBUSY). A device file holds the group file
 * (vfio_group_use_container takes a reference on group->opened_file): closing the group's fd
 * while a device is open does not release it, so it cannot be opened again until the device
 * closes, and the container stays set. */
TEST(group_file_held_by_its_devices)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    CHECK_EQ(sys_open(group_path(VH_EDU_GROUP), 0), -EBUSY);
    int dev = t1_device(&t, VH_EDU_BDF);
    sys_close(t.group);
    CHECK_EQ(sys_open(group_path(VH_EDU_GROUP), 0), -EBUSY);
    /* the device still works through the container's IOMMU */
    struct vfio_device_info di = { .argsz = sizeof(di) };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_GET_INFO, &di), 0);
    struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_GET_INFO, &info), 0);
    sys_close(dev);
    /* now the group is released: its container went with it */
    t.group = xopen(group_path(VH_EDU_GROUP));
    struct vfio_group_status st = { .argsz = sizeof(st) };
    CHECK_EQ(ioc(t.group, VFIO_GROUP_GET_STATUS, &st), 0);
    CHECK_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE);
    info.argsz = sizeof(info);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_GET_INFO, &info), -EINVAL);
    t1_close(&t);
    API_CLEAN(&b);
}

/* ---- the container ---- */

/* vfio_fops_unl_ioctl: without an IOMMU driver every ioctl but the three of the container itself
 * is EINVAL; with one, the driver's unknown ioctls are ENOTTY (vfio_iommu_type1_ioctl).
 * vfio_ioctl_set_iommu: no group or already set: EINVAL; no driver for the type: ENODEV. */
TEST(container_ioctls_before_and_after_set_iommu)
{
    struct api_base b;
    vh_setup(&b);
    int c = xopen("/dev/vfio/vfio");
    struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
    struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
    struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
    struct vfio_iommu_type1_dirty_bitmap dirty = { .argsz = sizeof(dirty),
                                                   .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START };
    CHECK_EQ(ioc_val(c, VFIO_GET_API_VERSION, 0), VFIO_API_VERSION);
    CHECK_EQ(ioc_val(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL);
    CHECK_EQ(ioc(c, VFIO_IOMMU_GET_INFO, &info), -EINVAL);
    CHECK_EQ(ioc(c, VFIO_IOMMU_MAP_DMA, &map), -EINVAL);
    CHECK_EQ(ioc(c, VFIO_IOMMU_UNMAP_DMA, &unmap), -EINVAL);
    CHECK_EQ(ioc(c, VFIO_IOMMU_DIRTY_PAGES, &dirty), -EINVAL);
    CHECK_EQ(ioc(c, 0x3b7f, NULL), -EINVAL);
    CHECK_EQ(ioc(c, VFIO_GROUP_GET_STATUS, NULL), -EINVAL);
    int g = xopen(group_path(VH_EDU_GROUP));
    CHECK_EQ(ioc(g, VFIO_GROUP_SET_CONTAINER, &c), 0);
    CHECK_EQ(ioc_val(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU), -ENODEV);
    CHECK_EQ(ioc_val(c, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU), -ENODEV);
    CHECK_EQ(ioc_val(c, VFIO_SET_IOMMU, 77), -ENODEV);
    CHECK_EQ(ioc(c, 0x3b7f, NULL), -EINVAL);
    CHECK_EQ(ioc_val(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
    CHECK_EQ(ioc_val(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL);
    CHECK_EQ(ioc(c, 0x3b7f, NULL), -ENOTTY);
    CHECK_EQ(ioc(c, VFIO_GROUP_GET_STATUS, NULL), -ENOTTY);
    sys_close(g);
    sys_close(c);
    API_CLEAN(&b);
}

/* vfio_container_ioctl_check_extension -> vfio_iommu_type1_check_extension: the same answers
 * before SET_IOMMU (with or without a group: the registered drivers are polled) and after, but
 * for UPDATE_VADDR, which needs an IOMMU (0 before, 1 after). DMA_CC_IOMMU needs domains that
 * enforce cache coherency (VT-d's snoop control, which QEMU's intel-iommu does not offer). */
static void check_extensions(int c, bool iommu_set)
{
    static const struct {
        unsigned long ext;
        long before, after;
    } ans[] = {
        { 0, 0, 0 },
        { VFIO_TYPE1_IOMMU, 1, 1 },
        { VFIO_SPAPR_TCE_IOMMU, 0, 0 },
        { VFIO_TYPE1v2_IOMMU, 1, 1 },
        { VFIO_DMA_CC_IOMMU, 0, 0 },
        { VFIO_EEH, 0, 0 },
        { VFIO_TYPE1_NESTING_IOMMU, 1, 1 },
        { VFIO_SPAPR_TCE_v2_IOMMU, 0, 0 },
        { VFIO_NOIOMMU_IOMMU, 0, 0 },
        { VFIO_UNMAP_ALL, 1, 1 },
        { VFIO_UPDATE_VADDR, 0, 1 },
        { 11, 0, 0 },
        { ~0ul, 0, 0 },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(ans); i++) {
        long r = ioc_val(c, VFIO_CHECK_EXTENSION, ans[i].ext);
        if (r != (iommu_set ? ans[i].after : ans[i].before)) {
            char m[96];
            snprintf(m, sizeof(m), "extension %lu: %ld (iommu %s)", ans[i].ext, r,
                     iommu_set ? "set" : "not set");
            host_check_failed(__FILE__, __LINE__, m);
        }
    }
}

TEST(container_check_extension_every_number)
{
    struct api_base b;
    vh_setup(&b);
    int c = xopen("/dev/vfio/vfio");
    check_extensions(c, false);
    int g = xopen(group_path(VH_EDU_GROUP));
    CHECK_EQ(ioc(g, VFIO_GROUP_SET_CONTAINER, &c), 0);
    check_extensions(c, false);
    CHECK_EQ(ioc_val(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
    check_extensions(c, true);
    sys_close(g);
    sys_close(c);
    API_CLEAN(&b);
}

/* vfio_iommu_type1_get_info: the capabilities in the order Linux builds them — migration,
 * DMA available, IOVA ranges — each 8-byte aligned and chained; a buffer too small for them gets
 * the size needed in argsz, CAPS in flags and cap_offset 0; argsz below minsz is EINVAL. */
TEST(container_info_capability_chain_order)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    struct vfio_iommu_type1_info info = { .argsz = offsetof(struct vfio_iommu_type1_info, cap_offset) - 1 };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_GET_INFO, &info), -EINVAL);
    info = (struct vfio_iommu_type1_info){ .argsz = sizeof(info), .cap_offset = 0x55 };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_GET_INFO, &info), 0);
    CHECK_EQ(info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
    CHECK_EQ(info.cap_offset, 0);
    CHECK(info.iova_pgsizes & 4096);
    uint32_t need = info.argsz;
    CHECK(need > sizeof(info));
    uint64_t buf[64];
    memset(buf, 0xa5, sizeof(buf));
    struct vfio_iommu_type1_info *pi = (void *)buf;
    pi->argsz = need;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_GET_INFO, pi), 0);
    CHECK_EQ(pi->argsz, need);
    CHECK_EQ(pi->cap_offset, sizeof(info));
    CHECK_EQ(pi->pad, 0);
    char *base = (char *)buf;
    struct vfio_iommu_type1_info_cap_migration *mig = (void *)(base + pi->cap_offset);
    CHECK_EQ(mig->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
    CHECK_EQ(mig->header.version, 1);
    CHECK_EQ(mig->flags, 0);
    CHECK_EQ(mig->pgsize_bitmap, 4096);
    CHECK_EQ(mig->header.next, sizeof(info) + sizeof(*mig));
    struct vfio_iommu_type1_info_dma_avail *av = (void *)(base + mig->header.next);
    CHECK_EQ(av->header.id, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
    CHECK_EQ(av->avail, 65535);
    CHECK_EQ(av->header.next, mig->header.next + 16);
    struct vfio_iommu_type1_info_cap_iova_range *r = (void *)(base + av->header.next);
    CHECK_EQ(r->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
    CHECK_EQ(r->header.version, 1);
    CHECK_EQ(r->header.next, 0);
    CHECK(r->nr_iovas >= 1);
    CHECK_EQ(av->header.next + sizeof(*r) + r->nr_iovas * sizeof(r->iova_ranges[0]), need);
    /* argsz between minsz and the structure: only that much is written */
    memset(buf, 0xa5, sizeof(buf));
    pi->argsz = offsetof(struct vfio_iommu_type1_info, cap_offset);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_GET_INFO, pi), 0);
    CHECK_EQ(pi->cap_offset, 0xa5a5a5a5);
    t1_close(&t);
    API_CLEAN(&b);
}

/* vfio_iommu_type1_dirty_pages: a v1 container has no dirty tracking at all (EACCES before any
 * other check); one flag at a time; START and STOP repeat harmlessly; GET_BITMAP checks the
 * range and bitmap before it looks at whether tracking is on (EINVAL when it is off). */
TEST(container_dirty_tracking_after_stop)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1_IOMMU);
    struct vfio_iommu_type1_dirty_bitmap d = { .argsz = 1, .flags = 0 };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), -EACCES);
    t1_close(&t);
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), -EINVAL);
    d.argsz = sizeof(d);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), -EINVAL);
    d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), -EINVAL);
    d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), 0);
    d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), 0);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), 0);

    uint8_t *mem = api_pages(4);
    struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map), .vaddr = (uintptr_t)mem,
        .iova = 0x100000, .size = 4 * 4096,
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &map), 0);
    struct {
        struct vfio_iommu_type1_dirty_bitmap h;
        struct vfio_iommu_type1_dirty_bitmap_get g;
    } q;
    uint64_t bits = 0;
    memset(&q, 0, sizeof(q));
    q.h.argsz = sizeof(q);
    q.h.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    q.g = (struct vfio_iommu_type1_dirty_bitmap_get){ .iova = 0x100000, .size = 4 * 4096,
        .bitmap = { .pgsize = 4096, .size = sizeof(bits), .data = (void *)&bits } };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &q), 0);
    CHECK_EQ(bits, 0xf);
    q.g.bitmap.pgsize = 8192;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &q), -EINVAL);
    q.g.bitmap.pgsize = 4096;
    q.h.argsz = sizeof(q.h) + sizeof(q.g) - 1;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &q), -EINVAL);
    q.h.argsz = sizeof(q);
    d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), 0);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &d), 0);
    bits = 0;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_DIRTY_PAGES, &q), -EINVAL);
    CHECK_EQ(bits, 0);
    /* and an unmap asking for the bitmap while tracking is off (vfio_dma_do_unmap): EINVAL, the
     * mapping stays */
    struct {
        struct vfio_iommu_type1_dma_unmap u;
        struct vfio_bitmap bm;
    } un = { { .argsz = sizeof(un), .flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
               .iova = 0x100000, .size = 4 * 4096 },
             { .pgsize = 4096, .size = sizeof(bits), .data = (void *)&bits } };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &un), -EINVAL);
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = 0x100000,
                                            .size = 4 * 4096 };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), 0);
    CHECK_EQ(u.size, 4 * 4096);
    t1_close(&t);
    API_CLEAN(&b);
}

/* vfio_iommu_type1_unmap_dma: GET_DIRTY_BITMAP with ALL or VADDR is refused before the bitmap is
 * read (so even when argsz has no room for it). */
TEST(container_unmap_flag_combinations)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u),
        .flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL);
    u.flags = VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), 0);    /* nothing mapped: nothing */
    CHECK_EQ(u.size, 0);
    u.flags = 0x80;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL);
    u = (struct vfio_iommu_type1_dma_unmap){ .argsz = sizeof(u), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
                                             .size = 4096 };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL);
    t1_close(&t);
    API_CLEAN(&b);
}

/* VFIO_UPDATE_VADDR (vfio_dma_do_unmap with VADDR, vfio_dma_do_map with VADDR): the vaddr of
 * whole mappings is invalidated and then given again; the IOMMU mapping never changes. */
TEST(container_update_vaddr)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    uint8_t *mem = api_pages(2);
    struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map), .vaddr = (uintptr_t)mem,
        .iova = 0x200000, .size = 2 * 4096,
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &map), 0);
    /* a new vaddr for a mapping whose vaddr is valid: EINVAL; for no mapping: ENOENT */
    struct vfio_iommu_type1_dma_map upd = map;
    upd.flags = VFIO_DMA_MAP_FLAG_VADDR;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &upd), -EINVAL);
    upd.iova = 0x400000;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &upd), -ENOENT);
    upd.iova = map.iova;
    /* VADDR with a protection: EINVAL */
    upd.flags = VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_READ;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &upd), -EINVAL);
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .flags = VFIO_DMA_UNMAP_FLAG_VADDR,
                                            .iova = map.iova, .size = map.size };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), 0);
    CHECK_EQ(u.size, map.size);
    CHECK_EQ(api_xlate(&api_devs[VH_EDU], map.iova), (uint64_t)(uintptr_t)mem);
    /* twice: the second finds an invalid vaddr, undoes and fails */
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL);
    /* the new vaddr must match the mapping's range exactly */
    upd.flags = VFIO_DMA_MAP_FLAG_VADDR;
    upd.size = 4096;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &upd), -EINVAL);
    upd.size = map.size;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &upd), 0);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &upd), -EINVAL);
    u.flags = 0;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), 0);
    CHECK_EQ(u.size, map.size);
    t1_close(&t);
    API_CLEAN(&b);
}

/* ---- device files: info ---- */

static long region(int dev, unsigned index, struct vfio_region_info *ri)
{
    *ri = (struct vfio_region_info){ .argsz = sizeof(*ri), .index = index };
    return ioc(dev, VFIO_DEVICE_GET_REGION_INFO, ri);
}

/* vfio_pci_ioctl_get_region_info: BARs that are not there and a ROM that is not there answer
 * size 0, flags 0 at their offset; the VGA region of a device without VGA is EINVAL, as is any
 * index past the regions. */
TEST(device_region_info_missing_regions)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    int dev = t1_open_dev(&t, VH_EDU_GROUP, VH_EDU_BDF);
    struct vfio_device_info di = { .argsz = sizeof(di) };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_GET_INFO, &di), 0);
    CHECK_EQ(di.flags, VFIO_DEVICE_FLAGS_PCI);
    CHECK_EQ(di.num_regions, VFIO_PCI_NUM_REGIONS);
    CHECK_EQ(di.num_irqs, VFIO_PCI_NUM_IRQS);
    struct vfio_region_info ri;
    CHECK_EQ(region(dev, VFIO_PCI_BAR0_REGION_INDEX, &ri), 0);
    CHECK_EQ(ri.size, 1u << 20);
    CHECK_EQ(ri.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                       VFIO_REGION_INFO_FLAG_MMAP);
    CHECK_EQ(ri.offset, 0);
    CHECK_EQ(region(dev, VFIO_PCI_BAR1_REGION_INDEX, &ri), 0);
    CHECK_EQ(ri.size, 0);
    CHECK_EQ(ri.flags, 0);
    CHECK_EQ(ri.offset, 1ull << 40);
    CHECK_EQ(region(dev, VFIO_PCI_ROM_REGION_INDEX, &ri), 0);
    CHECK_EQ(ri.size, 0);
    CHECK_EQ(ri.flags, 0);
    CHECK_EQ(ri.offset, (uint64_t)VFIO_PCI_ROM_REGION_INDEX << 40);
    CHECK_EQ(region(dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri), 0);
    CHECK_EQ(ri.size, 256);
    CHECK_EQ(ri.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
    CHECK_EQ(region(dev, VFIO_PCI_VGA_REGION_INDEX, &ri), -EINVAL);
    CHECK_EQ(region(dev, VFIO_PCI_NUM_REGIONS, &ri), -EINVAL);
    ri = (struct vfio_region_info){ .argsz = offsetof(struct vfio_region_info, offset) + 7 };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_GET_REGION_INFO, &ri), -EINVAL);
    t1_close_dev(&t, dev);
    API_CLEAN(&b);
}

/* vfio_pci_ioctl_get_region_info -> msix_mappable_cap: the BAR that holds the MSI-X table says
 * it may be mapped whole (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE); a buffer too small for the
 * capability gets the size needed and cap_offset 0. */
TEST(device_region_info_msix_mappable_cap)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    int dev = t1_open_dev(&t, VH_NVME_GROUP, VH_NVME_BDF);
    struct vfio_device_info di = { .argsz = sizeof(di) };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_GET_INFO, &di), 0);
    CHECK_EQ(di.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    struct vfio_region_info ri;
    CHECK_EQ(region(dev, VFIO_PCI_BAR0_REGION_INDEX, &ri), 0);
    uint32_t want = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                    VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
    CHECK_EQ(ri.flags, want);
    CHECK_EQ(ri.argsz, sizeof(ri) + sizeof(struct vfio_info_cap_header));
    CHECK_EQ(ri.cap_offset, 0);
    CHECK_EQ(ri.size, 16384);
    uint64_t buf[8];
    memset(buf, 0xa5, sizeof(buf));
    struct vfio_region_info *p = (void *)buf;
    *p = (struct vfio_region_info){ .argsz = sizeof(buf), .index = 0 };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_GET_REGION_INFO, p), 0);
    CHECK_EQ(p->flags, want);
    CHECK_EQ(p->argsz, sizeof(buf));
    CHECK_EQ(p->cap_offset, sizeof(ri));
    struct vfio_info_cap_header *h = (void *)((char *)buf + p->cap_offset);
    CHECK_EQ(h->id, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
    CHECK_EQ(h->version, 1);
    CHECK_EQ(h->next, 0);
    /* BAR1 is the upper half of the 64-bit BAR0: nothing */
    CHECK_EQ(region(dev, VFIO_PCI_BAR1_REGION_INDEX, &ri), 0);
    CHECK_EQ(ri.size, 0);
    CHECK_EQ(ri.flags, 0);
    CHECK_EQ(region(dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri), 0);
    CHECK_EQ(ri.size, 4096);
    t1_close_dev(&t, dev);
    API_CLEAN(&b);
}

static long irq(int dev, unsigned index, struct vfio_irq_info *ii)
{
    *ii = (struct vfio_irq_info){ .argsz = sizeof(*ii), .index = index };
    return ioc(dev, VFIO_DEVICE_GET_IRQ_INFO, ii);
}

/* vfio_pci_ioctl_get_irq_info + vfio_pci_get_irq_count: INTx is always MASKABLE|AUTOMASKED (count
 * 0 without a pin), MSI always NORESIZE (count 0 without the capability), MSI-X resizable (x86's
 * MSI domains allocate MSI-X vectors dynamically), ERR only for PCIe functions (EINVAL otherwise),
 * REQ always one vector. */
TEST(device_irq_info_every_index)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 e, n;
    t1_open(&e, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    t1_open(&n, VH_NVME_GROUP, VFIO_TYPE1v2_IOMMU);
    int edu = t1_device(&e, VH_EDU_BDF), nvme = t1_device(&n, VH_NVME_BDF);
    const uint32_t intx = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    const uint32_t nores = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
    struct vfio_irq_info ii;
    CHECK_EQ(irq(edu, VFIO_PCI_INTX_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 1);
    CHECK_EQ(ii.flags, intx);
    CHECK_EQ(irq(edu, VFIO_PCI_MSI_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 1);
    CHECK_EQ(ii.flags, nores);
    CHECK_EQ(irq(edu, VFIO_PCI_MSIX_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 0);
    CHECK_EQ(ii.flags, VFIO_IRQ_INFO_EVENTFD);
    CHECK_EQ(irq(edu, VFIO_PCI_ERR_IRQ_INDEX, &ii), -EINVAL);
    CHECK_EQ(irq(edu, VFIO_PCI_REQ_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 1);
    CHECK_EQ(ii.flags, nores);
    CHECK_EQ(irq(edu, VFIO_PCI_NUM_IRQS, &ii), -EINVAL);

    CHECK_EQ(irq(nvme, VFIO_PCI_MSI_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 0);
    CHECK_EQ(ii.flags, nores);
    CHECK_EQ(irq(nvme, VFIO_PCI_MSIX_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 64);
    CHECK_EQ(ii.flags, VFIO_IRQ_INFO_EVENTFD);
    CHECK_EQ(irq(nvme, VFIO_PCI_ERR_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 1);
    CHECK_EQ(ii.flags, nores);
    /* without a pin, INTx has no vector but keeps its flags */
    vh_cfg[VH_NVME][PCI_INTERRUPT_PIN] = 0;
    CHECK_EQ(irq(nvme, VFIO_PCI_INTX_IRQ_INDEX, &ii), 0);
    CHECK_EQ(ii.count, 0);
    CHECK_EQ(ii.flags, intx);
    sys_close(edu);
    sys_close(nvme);
    t1_close(&e);
    t1_close(&n);
    API_CLEAN(&b);
}

/* vfio_set_irqs_validate_and_prepare then vfio_pci_set_irqs_ioctl: the header (argsz, index,
 * unknown flag bits) and start/count against the index's count come first (EINVAL, so any
 * request for an index without vectors is EINVAL), then the data type (EINVAL), then whether the
 * action exists for the index (ENOTTY: MSI/MSI-X masking, no action or two). With MSI on,
 * NONE/BOOL triggers signal the vectors' eventfds (vfio_pci_set_msi_trigger). */
TEST(device_set_irqs_validation_order)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    int dev = t1_open_dev(&t, VH_EDU_GROUP, VH_EDU_BDF);
    struct {
        struct vfio_irq_set h;
        int32_t fd;
    } s;
    const size_t hsz = sizeof(struct vfio_irq_set);
    s.h = (struct vfio_irq_set){ .argsz = hsz - 1, .index = VFIO_PCI_MSI_IRQ_INDEX,
                                 .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    s.h.argsz = hsz;
    s.h.index = VFIO_PCI_NUM_IRQS;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    s.h.index = VFIO_PCI_MSI_IRQ_INDEX;
    s.h.flags |= 1u << 9;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    /* an index without vectors: even "disable" is EINVAL */
    s.h.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    s.h.index = VFIO_PCI_MSIX_IRQ_INDEX;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    s.h.index = VFIO_PCI_MSI_IRQ_INDEX;
    s.h.start = 1;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    s.h.start = 0;
    s.h.count = 2;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    s.h.count = 0;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);  /* "disable" while MSI is off */
    s.h.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    s.h.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -ENOTTY);
    s.h.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -ENOTTY);
    s.h.flags = VFIO_IRQ_SET_DATA_NONE;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -ENOTTY);
    s.h.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_TRIGGER;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -ENOTTY);
    /* eventfd data that argsz has no room for */
    s.h.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    s.h.count = 1;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EINVAL);
    /* MSI on, then loopback triggers */
    int efd = sys_eventfd(0, 0);
    REQUIRE(efd >= 0);
    s.h.argsz = sizeof(s);
    s.fd = efd;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), 0);
    CHECK_EQ(vh_live_vectors, 1);
    s.h.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    s.h.argsz = hsz;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), 0);
    uint64_t v = 0;
    CHECK_EQ(sys_read(efd, &v, sizeof(v)), 8);
    CHECK_EQ(v, 1);
    struct {
        struct vfio_irq_set h;
        uint8_t on;
    } bs = { { .argsz = hsz + 1, .index = VFIO_PCI_MSI_IRQ_INDEX, .count = 1,
               .flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER }, 0 };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &bs), 0);
    bs.on = 1;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &bs), 0);
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &bs), 0);
    CHECK_EQ(sys_read(efd, &v, sizeof(v)), 8);
    CHECK_EQ(v, 2);
    /* disable */
    s.h.count = 0;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), 0);
    CHECK_EQ(vh_live_vectors, 0);
    sys_close(efd);
    t1_close_dev(&t, dev);
    API_CLEAN(&b);
}

/* vfio_pci_set_err_trigger / vfio_pci_set_req_trigger: the error and request indices take an
 * eventfd (PCIe functions for ERR), and give it back on -1 or close; moat never signals them (it
 * has no AER handling and never asks for a device back). */
TEST(device_err_req_triggers)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    t1_open(&t, VH_NVME_GROUP, VFIO_TYPE1v2_IOMMU);
    int dev = t1_device(&t, VH_NVME_BDF), efd = sys_eventfd(0, 0);
    REQUIRE(efd >= 0);
    struct {
        struct vfio_irq_set h;
        int32_t fd;
    } s = { { .argsz = sizeof(s), .index = VFIO_PCI_ERR_IRQ_INDEX, .count = 1,
              .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER }, efd };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), 0);
    s.h.index = VFIO_PCI_REQ_IRQ_INDEX;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), 0);
    s.fd = -1;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), 0);
    s.fd = 1000;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -EBADF);
    s.h.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK;
    s.fd = efd;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_SET_IRQS, &s), -ENOTTY);
    sys_close(efd);
    sys_close(dev);     /* the ERR eventfd goes back here */
    t1_close(&t);
    API_CLEAN(&b);
}

/* vfio_device_fops_unl_ioctl: the cdev-only ioctls are unknown to a device opened through its
 * group (they reach vfio_pci_core_ioctl: ENOTTY); BIND on it is EINVAL. VFIO_DEVICE_RESET
 * without a working reset: EINVAL (vfio_pci_ioctl_reset). */
TEST(device_group_path_rejects_cdev_ioctls)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    int dev = t1_open_dev(&t, VH_EDU_GROUP, VH_EDU_BDF);
    struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a) };
    struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };
    struct vfio_device_bind_iommufd bi = { .argsz = sizeof(bi), .iommufd = t.container };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), -ENOTTY);
    CHECK_EQ(ioc(dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), -ENOTTY);
    CHECK_EQ(ioc(dev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EINVAL);
    CHECK_EQ(ioc(dev, VFIO_DEVICE_RESET, NULL), -EINVAL);
    CHECK_EQ(ioc(dev, 0x3b7f, NULL), -ENOTTY);
    t1_close_dev(&t, dev);
    API_CLEAN(&b);
}

/* ---- device cdevs ---- */

/* vfio_df_ioctl_bind_iommufd: argsz/flags/negative fd (EINVAL) first, then the group (EBUSY
 * while its file is open), then "bound already" (EINVAL), then the fd: EBADF when closed, EBADFD
 * when not an iommufd (iommufd_ctx_from_fd). Before BIND every other ioctl is EINVAL. */
TEST(cdev_bind_errors_in_linux_order)
{
    struct api_base b;
    vh_setup(&b);
    int cdev = xopen(VH_EDU_CDEV), ictx = xopen("/dev/iommu"), efd = sys_eventfd(0, 0);
    int closed = xopen("/dev/iommu");
    sys_close(closed);
    struct vfio_device_info di = { .argsz = sizeof(di) };
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_GET_INFO, &di), -EINVAL);
    struct vfio_device_bind_iommufd bi = { .argsz = sizeof(bi) - 1, .iommufd = ictx };
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EINVAL);
    /* flag 1 is Linux 7.3's VFIO_DEVICE_BIND_FLAG_TOKEN (test_vfio_face's vf_token tests) */
    bi = (struct vfio_device_bind_iommufd){ .argsz = sizeof(bi), .flags = 2, .iommufd = ictx };
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EINVAL);
    bi.flags = 0;
    bi.iommufd = -1;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EINVAL);
    bi.iommufd = closed;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EBADF);
    bi.iommufd = efd;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EBADFD);
    /* the group's file is open: the device is the group's */
    int group = xopen(group_path(VH_EDU_GROUP));
    bi.iommufd = closed;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EBUSY);
    sys_close(group);
    bi.iommufd = ictx;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), 0);
    CHECK(bi.out_devid != 0);
    bi.iommufd = efd;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EINVAL);
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_GET_INFO, &di), 0);
    sys_close(cdev);
    sys_close(efd);
    sys_close(ictx);
    API_CLEAN(&b);
}

static uint16_t cfg_command(int dev)
{
    return (uint16_t)(vh_cfg[dev][PCI_COMMAND] | vh_cfg[dev][PCI_COMMAND + 1] << 8);
}

/* vfio_pci_core_enable -> pci_enable_device -> pci_enable_resources: a BAR that placement
 * left out for want of room (Linux resets that resource) is skipped, the others get their
 * decode; a BAR never placed fails the first open with EINVAL ("not assigned; can't enable
 * device") and nothing of the open stays: the command register, the group's open count (its
 * container unsets), the memory. Through a cdev the device opens at VFIO_DEVICE_BIND_IOMMUFD,
 * so the bind fails and can be retried. */
TEST(device_open_fails_when_a_bar_is_not_placed)
{
    struct api_base b;
    vh_setup(&b);
    struct pci_dev *edu = &api_devs[VH_EDU];
    edu->bar[1] = (struct pci_bar){ 0, 0x20, PCI_BAR_IO };      /* never placed */
    vh_cfg[VH_EDU][PCI_COMMAND] = 0;
    vh_cfg[VH_EDU][PCI_COMMAND + 1] = 0;
    struct t1 t;
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    CHECK_EQ(ioc(t.group, VFIO_GROUP_GET_DEVICE_FD, VH_EDU_BDF), -EINVAL);
    CHECK_EQ(cfg_command(VH_EDU), 0);
    CHECK_EQ(ioc(t.group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);   /* no device left open */
    CHECK_EQ(ioc(t.group, VFIO_GROUP_SET_CONTAINER, &t.container), 0);
    CHECK_EQ(ioc_val(t.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);

    int ictx = xopen("/dev/iommu"), cdev = xopen(VH_EDU_CDEV);
    struct vfio_device_bind_iommufd bi = { .argsz = sizeof(bi), .iommufd = ictx };
    sys_close(t.group);     /* the cdev binds only while the group file is closed */
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EINVAL);
    CHECK_EQ(cfg_command(VH_EDU), 0);
    struct vfio_device_info di = { .argsz = sizeof(di) };
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_GET_INFO, &di), -EINVAL);       /* still unbound */

    /* placement tried and found no room (a hot-plugged igb's I/O BAR below a port without an
     * I/O window): skipped; memory decode for BAR0 alone */
    edu->bar[1].flags |= PCI_BAR_NOSPACE;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), 0);
    CHECK_EQ(cfg_command(VH_EDU), PCI_COMMAND_MEMORY);
    sys_close(cdev);
    sys_close(ictx);
    t.group = xopen(group_path(VH_EDU_GROUP));
    CHECK_EQ(ioc(t.group, VFIO_GROUP_SET_CONTAINER, &t.container), 0);
    CHECK_EQ(ioc_val(t.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
    int dev = t1_device(&t, VH_EDU_BDF);
    CHECK_EQ(cfg_command(VH_EDU), PCI_COMMAND_MEMORY);
    t1_close_dev(&t, dev);
    edu->bar[1] = (struct pci_bar){ 0 };
    API_CLEAN(&b);
}

/* vfio_group_fops_open refuses the group while a cdev of its device is bound (EBUSY,
 * cdev_device_open_cnt); vfio_df_open refuses a second cdev file of a device that is open
 * (EINVAL: only the group path opens a device twice); unbinding (close) gives both back. */
TEST(cdev_and_group_exclude_each_other)
{
    struct api_base b;
    vh_setup(&b);
    int ictx = xopen("/dev/iommu");
    int c1 = xopen(VH_EDU_CDEV), c2 = xopen(VH_EDU_CDEV);
    struct vfio_device_bind_iommufd bi = { .argsz = sizeof(bi), .iommufd = ictx };
    /* opened but not bound: the group still opens */
    int group = xopen(group_path(VH_EDU_GROUP));
    sys_close(group);
    CHECK_EQ(ioc(c1, VFIO_DEVICE_BIND_IOMMUFD, &bi), 0);
    CHECK_EQ(sys_open(group_path(VH_EDU_GROUP), 0), -EBUSY);
    CHECK_EQ(ioc(c2, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EINVAL);
    /* another group is not affected */
    group = xopen(group_path(VH_NVME_GROUP));
    sys_close(group);
    sys_close(c1);
    CHECK_EQ(ioc(c2, VFIO_DEVICE_BIND_IOMMUFD, &bi), 0);
    sys_close(c2);
    /* the group path holds the device: a device fd keeps its group file (see above), so a cdev
     * cannot bind until the device fd closes too */
    struct t1 t;
    int dev = t1_open_dev(&t, VH_EDU_GROUP, VH_EDU_BDF);
    sys_close(t.group);
    c1 = xopen(VH_EDU_CDEV);
    CHECK_EQ(ioc(c1, VFIO_DEVICE_BIND_IOMMUFD, &bi), -EBUSY);
    sys_close(dev);
    CHECK_EQ(ioc(c1, VFIO_DEVICE_BIND_IOMMUFD, &bi), 0);
    sys_close(c1);
    sys_close(t.container);
    sys_close(ictx);
    API_CLEAN(&b);
}

/* vfio_df_ioctl_detach_pt -> vfio_iommufd_physical_detach_ioas: detaching a device that is not
 * attached does nothing and succeeds, so detaching twice is 0 twice; attach after attach
 * replaces (vfio_iommufd_physical_attach_ioas). */
TEST(cdev_detach_twice)
{
    struct api_base b;
    vh_setup(&b);
    int ictx = xopen("/dev/iommu"), cdev = xopen(VH_EDU_CDEV);
    struct vfio_device_bind_iommufd bi = { .argsz = sizeof(bi), .iommufd = ictx };
    struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), -EINVAL);      /* not bound */
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), 0);
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), 0);
    struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
    CHECK_EQ(ioc(ictx, IOMMU_IOAS_ALLOC, &ia), 0);
    struct iommu_ioas_alloc ib = { .size = sizeof(ib) };
    CHECK_EQ(ioc(ictx, IOMMU_IOAS_ALLOC, &ib), 0);
    struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = ia.out_ioas_id };
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), 0);
    a.pt_id = ib.out_ioas_id;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), 0);
    d.flags = 1;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), -EINVAL);
    d.flags = 0;
    d.argsz = sizeof(d) - 1;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), -EINVAL);
    d.argsz = sizeof(d);
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), 0);
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), 0);
    CHECK_EQ(mock_attached_devs(), 0);
    /* the IOAS is free again to destroy */
    struct iommu_destroy ds = { .size = sizeof(ds), .id = ib.out_ioas_id };
    CHECK_EQ(ioc(ictx, IOMMU_DESTROY, &ds), 0);
    sys_close(cdev);
    sys_close(ictx);
    API_CLEAN(&b);
}

/* vfio_ioctl_device_feature: argsz, unknown flags, GET with SET without PROBE (EINVAL), then the
 * feature: moat has none (ENOTTY; see vfio_feature.c for what Linux has). */
TEST(device_feature_header_then_enotty)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    int dev = t1_open_dev(&t, VH_EDU_GROUP, VH_EDU_BDF);
    struct vfio_device_feature f = { .argsz = sizeof(f) - 1,
        .flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_MIGRATION };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_FEATURE, &f), -EINVAL);
    f.argsz = sizeof(f);
    CHECK_EQ(ioc(dev, VFIO_DEVICE_FEATURE, &f), -ENOTTY);
    f.flags = 1u << 19;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_FEATURE, &f), -EINVAL);
    f.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIGRATION;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_FEATURE, &f), -EINVAL);
    f.flags |= VFIO_DEVICE_FEATURE_PROBE;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_FEATURE, &f), -ENOTTY);
    for (uint32_t feat = 0; feat < 16; feat++) {
        f.flags = VFIO_DEVICE_FEATURE_PROBE | feat;
        CHECK_EQ(ioc(dev, VFIO_DEVICE_FEATURE, &f), -ENOTTY);
    }
    t1_close_dev(&t, dev);
    API_CLEAN(&b);
}

/* vfio_pci_ioctl_get_pci_hot_reset_info / vfio_pci_ioctl_pci_hot_reset: header checks, the
 * group path must name groups (count 0: EINVAL), then a root-bus function has no reset (ENODEV). */
TEST(device_hot_reset_on_the_root_bus)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    int dev = t1_open_dev(&t, VH_EDU_GROUP, VH_EDU_BDF);
    struct vfio_pci_hot_reset_info hi = { .argsz = offsetof(struct vfio_pci_hot_reset_info, count) };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hi), -EINVAL);
    hi.argsz = sizeof(hi);
    CHECK_EQ(ioc(dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hi), -ENODEV);
    struct {
        struct vfio_pci_hot_reset h;
        int32_t fd;
    } r = { { .argsz = sizeof(r), .flags = 1, .count = 1 }, t.group };
    CHECK_EQ(ioc(dev, VFIO_DEVICE_PCI_HOT_RESET, &r), -EINVAL);
    r.h.flags = 0;
    r.h.count = 0;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_PCI_HOT_RESET, &r), -EINVAL);
    r.h.count = 1;
    CHECK_EQ(ioc(dev, VFIO_DEVICE_PCI_HOT_RESET, &r), -ENODEV);
    t1_close_dev(&t, dev);
    /* a bound cdev passes no groups */
    int ictx = xopen("/dev/iommu"), cdev = xopen(VH_EDU_CDEV);
    struct vfio_device_bind_iommufd bi = { .argsz = sizeof(bi), .iommufd = ictx };
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bi), 0);
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_PCI_HOT_RESET, &r), -EINVAL);
    r.h.count = 0;
    CHECK_EQ(ioc(cdev, VFIO_DEVICE_PCI_HOT_RESET, &r), -ENODEV);
    sys_close(cdev);
    sys_close(ictx);
    API_CLEAN(&b);
}

/* ---- an iommufd as the container (drivers/iommu/iommufd/vfio_compat.c, group.c) ---- */

static void compat_extensions(int fd, long cc)
{
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 1);
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1);
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL), 1);
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_NESTING_IOMMU), 0);
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), 0);
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU), 0);
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU), cc);
}

/* iommufd_vfio_ioctl before a group: no compat IOAS, so SET_IOMMU, GET_INFO, MAP and UNMAP are
 * ENODEV (DMA_CC_IOMMU too); type1 types only (EINVAL); DIRTY_PAGES is unknown (ENOTTY). */
TEST(iommufd_container_before_a_group)
{
    struct api_base b;
    vh_setup(&b);
    int fd = xopen("/dev/iommu");
    CHECK_EQ(ioc_val(fd, VFIO_GET_API_VERSION, 0), VFIO_API_VERSION);
    compat_extensions(fd, -ENODEV);
    CHECK_EQ(ioc_val(fd, VFIO_SET_IOMMU, VFIO_TYPE1_NESTING_IOMMU), -EINVAL);
    CHECK_EQ(ioc_val(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -ENODEV);
    struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_GET_INFO, &info), -ENODEV);
    struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_MAP_DMA, &map), -ENODEV);
    map.flags = VFIO_DMA_MAP_FLAG_VADDR;
    CHECK_EQ(ioc(fd, VFIO_IOMMU_MAP_DMA, &map), -EINVAL);
    struct vfio_iommu_type1_dirty_bitmap d = { .argsz = sizeof(d) };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_DIRTY_PAGES, &d), -ENOTTY);
    sys_close(fd);
    API_CLEAN(&b);
}

/* VFIO_GROUP_SET_CONTAINER with an iommufd makes its compat IOAS; the group's devices bind to
 * the iommufd at their first open and attach to that IOAS; type1 maps and unmaps go to it. */
TEST(iommufd_container_with_a_group)
{
    struct api_base b;
    vh_setup(&b);
    int fd = xopen("/dev/iommu"), group = xopen(group_path(VH_EDU_GROUP));
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &fd), 0);
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &fd), -EINVAL);
    struct vfio_group_status st = { .argsz = sizeof(st) };
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_STATUS, &st), 0);
    CHECK_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
    struct iommu_vfio_ioas vi = { .size = sizeof(vi), .op = IOMMU_VFIO_IOAS_GET };
    CHECK_EQ(ioc(fd, IOMMU_VFIO_IOAS, &vi), 0);
    CHECK(vi.ioas_id != 0);
    compat_extensions(fd, 1);       /* no HWPT on the IOAS yet */
    CHECK_EQ(ioc_val(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
    long dev = ioc(group, VFIO_GROUP_GET_DEVICE_FD, VH_EDU_BDF);
    CHECK(dev >= 0);
    long dev2 = ioc(group, VFIO_GROUP_GET_DEVICE_FD, VH_EDU_BDF);   /* opened twice: one bind */
    CHECK(dev2 >= 0);
    CHECK_EQ(ioc_val(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU), 0);
    uint8_t *mem = api_pages(4);
    struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map), .vaddr = (uintptr_t)mem,
        .iova = 0x100000, .size = 4 * 4096,
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_MAP_DMA, &map), 0);
    CHECK_EQ(api_xlate(&api_devs[VH_EDU], 0x100000 + 4096), (uint64_t)(uintptr_t)(mem + 4096));
    CHECK_EQ(ioc(fd, VFIO_IOMMU_MAP_DMA, &map), -EEXIST);
    /* wrapping ranges: EOVERFLOW (iopt_check_iova, iopt_unmap_iova) */
    struct vfio_iommu_type1_dma_map wrap = map;
    wrap.iova = ~0ull & ~4095ull;
    wrap.size = 2 * 4096;
    CHECK_EQ(ioc(fd, VFIO_IOMMU_MAP_DMA, &wrap), -EOVERFLOW);
    struct vfio_iommu_type1_dma_unmap wu = { .argsz = sizeof(wu), .iova = wrap.iova,
                                             .size = wrap.size };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_UNMAP_DMA, &wu), -EOVERFLOW);
    /* GET_INFO: DMA available, then the IOVA ranges; argsz always the whole size */
    uint64_t buf[32];
    memset(buf, 0, sizeof(buf));
    struct vfio_iommu_type1_info *pi = (void *)buf;
    pi->argsz = sizeof(*pi);
    CHECK_EQ(ioc(fd, VFIO_IOMMU_GET_INFO, pi), 0);
    CHECK_EQ(pi->flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
    CHECK_EQ(pi->cap_offset, 0);
    CHECK(pi->iova_pgsizes & 4096);
    uint32_t need = pi->argsz;
    CHECK(need > sizeof(*pi) + 16 && need <= sizeof(buf));
    pi->argsz = need;
    CHECK_EQ(ioc(fd, VFIO_IOMMU_GET_INFO, pi), 0);
    CHECK_EQ(pi->cap_offset, sizeof(*pi));
    struct vfio_iommu_type1_info_dma_avail *av = (void *)((char *)buf + pi->cap_offset);
    CHECK_EQ(av->header.id, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
    CHECK_EQ(av->avail, UINT32_MAX);
    struct vfio_iommu_type1_info_cap_iova_range *r = (void *)((char *)buf + av->header.next);
    CHECK_EQ(r->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
    CHECK_EQ(r->header.next, 0);
    CHECK(r->nr_iovas >= 2);
    /* unmaps are IOAS unmaps (iopt_unmap_iova): nothing there unmaps nothing, successfully;
     * a range that cuts a mapping is ENOENT */
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = 0x800000, .size = 4096 };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_UNMAP_DMA, &u), 0);
    CHECK_EQ(u.size, 0);
    u = (struct vfio_iommu_type1_dma_unmap){ .argsz = sizeof(u), .iova = 0x101000, .size = 4096 };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_UNMAP_DMA, &u), -ENOENT);
    u = (struct vfio_iommu_type1_dma_unmap){ .argsz = sizeof(u), .flags = VFIO_DMA_UNMAP_FLAG_ALL };
    CHECK_EQ(ioc(fd, VFIO_IOMMU_UNMAP_DMA, &u), 0);
    CHECK_EQ(u.size, 4 * 4096);
    CHECK_EQ(api_xlate(&api_devs[VH_EDU], 0x100000), UINT64_MAX);
    /* UNSET while a device is open: EBUSY (see vfio_group.c); then the devices go */
    CHECK_EQ(ioc(group, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
    sys_close((int)dev);
    CHECK_EQ(mock_attached_devs(), 1);
    sys_close((int)dev2);
    CHECK_EQ(ioc(group, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_STATUS, &st), 0);
    CHECK_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE);
    /* a cleared compat IOAS: GET_DEVICE_FD fails with ENODEV (vfio_iommufd_compat_attach_ioas) */
    CHECK_EQ(ioc(group, VFIO_GROUP_SET_CONTAINER, &fd), 0);
    vi.op = IOMMU_VFIO_IOAS_CLEAR;
    CHECK_EQ(ioc(fd, IOMMU_VFIO_IOAS, &vi), 0);
    CHECK_EQ(ioc(group, VFIO_GROUP_GET_DEVICE_FD, VH_EDU_BDF), -ENODEV);
    sys_close(group);
    sys_close(fd);
    API_CLEAN(&b);
}

/* vfio_pci_config_rw / vfio_config_do_rw: a config access that reaches past the end is EFAULT
 * as a whole; an empty one is 0 anywhere. vfio_group_ioctl_get_device_fd: a name longer than
 * any device's is ENODEV, one longer than a page EINVAL (strndup_user). */
TEST(device_config_bounds_and_long_names)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    int dev = t1_open_dev(&t, VH_EDU_GROUP, VH_EDU_BDF);
    const int64_t cfg = (int64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
    uint8_t v[8] = { 0 };
    CHECK_EQ(sys_pread(dev, v, 4, cfg), 4);
    CHECK_EQ(v[0] | v[1] << 8, 0x1234);
    CHECK_EQ(sys_pread(dev, v, 8, cfg + 252), -EFAULT);
    CHECK_EQ(sys_pread(dev, v, 4, cfg + 256), -EFAULT);
    CHECK_EQ(sys_pwrite(dev, v, 8, cfg + 252), -EFAULT);
    CHECK_EQ(sys_pread(dev, v, 0, cfg + 4096), 0);
    CHECK_EQ(sys_pread(dev, v, 4, cfg + 252), 4);
    static char name[5000];
    memset(name, 'a', sizeof(name) - 1);
    CHECK_EQ(ioc(t.group, VFIO_GROUP_GET_DEVICE_FD, name), -EINVAL);
    name[100] = 0;
    CHECK_EQ(ioc(t.group, VFIO_GROUP_GET_DEVICE_FD, name), -ENODEV);
    t1_close_dev(&t, dev);
    API_CLEAN(&b);
}

/* Linux 6.18's vfio_dma_do_map/do_unmap and the dirty bitmap's range (the series that lets type1
 * map up to the addressable limit; the selftests' vfio_dma_map_limit_test expects it): a range
 * that wraps is EOVERFLOW, and for MAP this comes before the flags are looked at; a mapping of
 * the last page of the IOVA space maps and unmaps. */
TEST(container_wrapping_ranges_are_eoverflow)
{
    struct api_base b;
    vh_setup(&b);
    struct t1 t;
    t1_open(&t, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    uint8_t *mem = api_pages(2);
    struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map), .vaddr = (uintptr_t)mem,
        .iova = ~0ull & ~4095ull, .size = 2 * 4096,
        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &map), -EOVERFLOW);
    map.flags = 0;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &map), -EOVERFLOW);
    map.size = 0;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &map), -EINVAL);
    map = (struct vfio_iommu_type1_dma_map){ .argsz = sizeof(map), .vaddr = ~0ull & ~4095ull,
        .iova = 0x100000, .size = 2 * 4096, .flags = VFIO_DMA_MAP_FLAG_READ };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &map), -EOVERFLOW);
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = ~0ull & ~4095ull,
                                            .size = 2 * 4096 };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), -EOVERFLOW);
    u.size = 4096 + 1;
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL);
    /* the last page below the aperture's top */
    uint64_t buf[64] = { 0 };
    struct vfio_iommu_type1_info *pi = (void *)buf;
    pi->argsz = sizeof(buf);
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_GET_INFO, pi), 0);
    uint32_t at = pi->cap_offset;
    const struct vfio_iommu_type1_info_cap_iova_range *r = NULL;
    while (at && !r) {
        const struct vfio_info_cap_header *h = (const void *)((const char *)buf + at);
        if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
            r = (const void *)h;
        at = h->next;
    }
    REQUIRE(r && r->nr_iovas);
    uint64_t top = r->iova_ranges[r->nr_iovas - 1].end & ~4095ull;
    map = (struct vfio_iommu_type1_dma_map){ .argsz = sizeof(map), .vaddr = (uintptr_t)mem,
        .iova = top, .size = 4096, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_MAP_DMA, &map), 0);
    u = (struct vfio_iommu_type1_dma_unmap){ .argsz = sizeof(u), .iova = top, .size = 4096 };
    CHECK_EQ(ioc(t.container, VFIO_IOMMU_UNMAP_DMA, &u), 0);
    CHECK_EQ(u.size, 4096);
    t1_close(&t);
    API_CLEAN(&b);
}

/* ---- SR-IOV: sriov_numvfs and VF tokens (Linux 7.3: drivers/pci/iov.c, vfio_pci_core.c,
 * device_cdev.c) ---- */

#define UUID_1 "52ac9bff-3a88-4fbd-901a-0d767c3b6c97"
#define UUID_2 "88594674-90a0-47a9-aea8-9d9b352ac08a"
static const uint8_t uuid1[16] = { 0x52, 0xac, 0x9b, 0xff, 0x3a, 0x88, 0x4f, 0xbd,
                                   0x90, 0x1a, 0x0d, 0x76, 0x7c, 0x3b, 0x6c, 0x97 };
static const uint8_t uuid2[16] = { 0x88, 0x59, 0x46, 0x74, 0x90, 0xa0, 0x47, 0xa9,
                                   0xae, 0xa8, 0x9d, 0x9b, 0x35, 0x2a, 0xc0, 0x8a };

#define SYS_PF "/sys/bus/pci/devices/" VH_PF_BDF
#define SYS_VF "/sys/bus/pci/devices/" VH_VF_BDF

/* One write(2) of s to the PF's sriov_numvfs: its result. */
static long numvfs_write(const char *s)
{
    int fd = sys_open(SYS_PF "/sriov_numvfs", 1 /* O_WRONLY */);
    if (fd < 0)
        return fd;
    long n = sys_write(fd, s, strlen(s));
    sys_close(fd);
    return n;
}

static void read_attr(const char *path, char *buf, size_t size)
{
    memset(buf, 0, size);
    int fd = xopen(path);
    sys_read(fd, buf, size - 1);
    sys_close(fd);
}

static void check_link(const char *path, const char *want)
{
    char buf[64] = { 0 };
    long n = sys_readlink(path, buf, sizeof(buf) - 1);
    CHECK_EQ(n, (long)strlen(want));
    CHECK(strcmp(buf, want) == 0);
}

/* sriov_numvfs_store: kstrtou16 (EINVAL), above TotalVFs (ERANGE), the count it has already
 * (nothing done), a PF driver without sriov_configure (ENOENT), nonzero to another nonzero
 * (EBUSY); then vfio_pci_core_sriov_configure: the VF appears with virtfn0/physfn links and
 * vfio-pci as its driver, and disabling while a program has it open is refused (EBUSY: Linux
 * would wait for the program to let go). kernfs: a file without store opens for writing with
 * EACCES. */
TEST(sriov_numvfs_store_rules)
{
    struct api_base b;
    vh_setup(&b);
    vh_sriov_setup();
    char buf[32];
    read_attr(SYS_PF "/sriov_numvfs", buf, sizeof(buf));
    CHECK(strcmp(buf, "0\n") == 0);
    read_attr(SYS_PF "/sriov_totalvfs", buf, sizeof(buf));
    CHECK(strcmp(buf, "2\n") == 0);
    unsigned mode = 0;
    CHECK_EQ(sys_stat(SYS_PF "/sriov_numvfs", &mode), 0);
    CHECK_EQ(mode & 0777, 0644u);
    CHECK_EQ(sys_stat(SYS_PF "/vendor", &mode), 0);
    CHECK_EQ(mode & 0777, 0444u);
    CHECK_EQ(sys_open(SYS_PF "/vendor", 1), -EACCES);
    CHECK_EQ(sys_open(SYS_PF "/vendor", 2), -EACCES);
    CHECK_EQ(numvfs_write("abc"), -EINVAL);
    CHECK_EQ(numvfs_write(""), -EINVAL);
    CHECK_EQ(numvfs_write("-1"), -EINVAL);
    CHECK_EQ(numvfs_write("1 "), -EINVAL);
    CHECK_EQ(numvfs_write("70000"), -EINVAL);
    CHECK_EQ(numvfs_write("3"), -ERANGE);
    CHECK_EQ(numvfs_write("0\n"), 2);
    CHECK_EQ(vh_sriov_calls, 0u);
    CHECK_EQ(sys_stat(SYS_VF, &mode), -ENOENT);
    /* a runtime driver owns the PF: it has no sriov_configure */
    api_devs[VH_PF].driver = "edu";
    CHECK_EQ(numvfs_write("1"), -ENOENT);
    api_devs[VH_PF].driver = NULL;
    CHECK_EQ(vh_sriov_calls, 0u);

    CHECK_EQ(numvfs_write("0x1\n"), 4);
    CHECK_EQ(vh_sriov_calls, 1u);
    read_attr(SYS_PF "/sriov_numvfs", buf, sizeof(buf));
    CHECK(strcmp(buf, "1\n") == 0);
    CHECK_EQ(sys_stat(SYS_VF, &mode), 0);
    check_link(SYS_PF "/virtfn0", "../" VH_VF_BDF);
    check_link(SYS_VF "/physfn", "../" VH_PF_BDF);
    CHECK_EQ(sys_readlink(SYS_PF "/virtfn1", buf, sizeof(buf)), -ENOENT);
    CHECK_EQ(sys_readlink(SYS_PF "/virtfn00", buf, sizeof(buf)), -ENOENT);
    CHECK_EQ(sys_readlink(SYS_PF "/physfn", buf, sizeof(buf)), -ENOENT);
    char drv[128] = { 0 };
    long n = sys_readlink(SYS_VF "/driver", drv, sizeof(drv) - 1);
    CHECK(n > 9 && strcmp(drv + n - 9, "/vfio-pci") == 0);
    CHECK_EQ(sys_open(SYS_VF "/sriov_numvfs", 0), -ENOENT);     /* a VF has no SR-IOV */
    CHECK_EQ(numvfs_write("1"), 1);                              /* the same: nothing done */
    CHECK_EQ(numvfs_write("2"), -EBUSY);
    CHECK_EQ(vh_sriov_calls, 1u);

    int vf = xopen(VH_VF_CDEV);
    CHECK_EQ(numvfs_write("0"), -EBUSY);
    CHECK_EQ(sys_stat(SYS_VF, &mode), 0);
    sys_close(vf);
    CHECK_EQ(numvfs_write("0"), 1);
    CHECK_EQ(vh_sriov_calls, 2u);
    CHECK_EQ(sys_stat(SYS_VF, &mode), -ENOENT);
    CHECK_EQ(sys_readlink(SYS_PF "/virtfn0", buf, sizeof(buf)), -ENOENT);
    read_attr(SYS_PF "/sriov_numvfs", buf, sizeof(buf));
    CHECK(strcmp(buf, "0\n") == 0);
    API_CLEAN(&b);
}

/* Both groups on one type1v2 container. */
struct sriov_t1 {
    int container, pf_group, vf_group;
};

static void sriov_t1_open(struct sriov_t1 *t)
{
    t->container = xopen("/dev/vfio/vfio");
    t->pf_group = xopen(group_path(VH_PF_GROUP));
    t->vf_group = xopen(group_path(VH_VF_GROUP));
    REQUIRE(ioc(t->pf_group, VFIO_GROUP_SET_CONTAINER, &t->container) == 0);
    REQUIRE(ioc(t->vf_group, VFIO_GROUP_SET_CONTAINER, &t->container) == 0);
    REQUIRE(ioc_val(t->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
}

static void sriov_t1_close(struct sriov_t1 *t)
{
    sys_close(t->vf_group);
    sys_close(t->pf_group);
    sys_close(t->container);
}

static long get_fd(int group, const char *name)
{
    return ioc(group, VFIO_GROUP_GET_DEVICE_FD, name);
}

/* vfio_group_ioctl_get_device_fd -> vfio_pci_core_match: "BDF" then spaces and one
 * "vf_token=UUID" (a short or malformed UUID, an unknown or repeated option: EINVAL; other text
 * after the BDF: not this device, ENODEV); vfio_pci_core_match_token_uuid: a PF with no VF in
 * use takes the token it is opened with; a VF made through vfio-pci needs its PF's token
 * (EACCES without, EACCES for another); while a VF is in use (vfio_pci_core_finish_enable ..
 * close_device) the PF needs the token too; a device that is neither PF nor VF refuses one
 * (EINVAL). */
TEST(vf_token_group_path)
{
    struct api_base b;
    vh_setup(&b);
    vh_sriov_setup();
    REQUIRE(numvfs_write("1") == 1);
    struct sriov_t1 t;
    sriov_t1_open(&t);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF " vf_token=52ac9bff"), -EINVAL);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF " vf_token=52ac9bff-3a88-4fbd-901a-0d767c3b6c9g"),
             -EINVAL);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF " vf_token=52ac9bff-3a88-4fbd+901a-0d767c3b6c97"),
             -EINVAL);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF " vf_token=" UUID_1 " vf_token=" UUID_1), -EINVAL);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF " vf_token=" UUID_1 "x"), -EINVAL);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF " foo"), -EINVAL);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF "x vf_token=" UUID_1), -ENODEV);
    long pf = get_fd(t.pf_group, VH_PF_BDF "   vf_token=" UUID_1 "  ");
    CHECK(pf >= 0);
    CHECK_EQ(get_fd(t.vf_group, VH_VF_BDF), -EACCES);
    CHECK_EQ(get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_2), -EACCES);
    long vf = get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_1);
    CHECK(vf >= 0);
    /* a VF in use: the PF must show the same token */
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF), -EACCES);
    CHECK_EQ(get_fd(t.pf_group, VH_PF_BDF " vf_token=" UUID_2), -EACCES);
    long pf2 = get_fd(t.pf_group, VH_PF_BDF " vf_token=" UUID_1);
    CHECK(pf2 >= 0);
    sys_close((int)pf2);
    sys_close((int)vf);
    /* no VF in use: opening the PF with another token sets it; the PF's token outlives its
     * files (pf_early_close) */
    pf2 = get_fd(t.pf_group, VH_PF_BDF " vf_token=" UUID_2);
    CHECK(pf2 >= 0);
    sys_close((int)pf2);
    sys_close((int)pf);
    CHECK_EQ(get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_1), -EACCES);
    vf = get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_2);
    CHECK(vf >= 0);
    sys_close((int)vf);
    sriov_t1_close(&t);
    /* neither PF nor VF */
    struct t1 e;
    t1_open(&e, VH_EDU_GROUP, VFIO_TYPE1v2_IOMMU);
    CHECK_EQ(get_fd(e.group, VH_EDU_BDF " vf_token=" UUID_1), -EINVAL);
    t1_close(&e);
    REQUIRE(numvfs_write("0") == 1);
    API_CLEAN(&b);
}

struct vf_token_feature {
    struct vfio_device_feature h;
    uint8_t uuid[16];
};

static long set_token(int dev, uint32_t flags, const uint8_t *uuid, uint32_t argsz)
{
    struct vf_token_feature f = { .h = { .argsz = argsz, .flags = flags } };
    memcpy(f.uuid, uuid, 16);
    return ioc(dev, VFIO_DEVICE_FEATURE, &f);
}

/* vfio_pci_core_feature_token over vfio_check_feature: only a PF has the feature (ENOTTY); GET
 * is not offered, even with PROBE (EINVAL); PROBE with SET answers 0 and changes nothing;
 * neither GET nor SET, or less than a UUID, is EINVAL; SET replaces the token
 * (override_token). A VF made otherwise than through vfio-pci (its PF's driver, or boot's
 * sriov_numvfs=max) needs no token and refuses one (EINVAL: "PF not bound to vfio-pci"). */
TEST(vf_token_feature)
{
    struct api_base b;
    vh_setup(&b);
    vh_sriov_setup();
    uint32_t tok = VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, sz = sizeof(struct vf_token_feature);
    struct t1 e;
    int edu = t1_open_dev(&e, VH_EDU_GROUP, VH_EDU_BDF);
    CHECK_EQ(set_token(edu, tok | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE, uuid1, sz),
             -ENOTTY);
    t1_close_dev(&e, edu);

    REQUIRE(numvfs_write("1") == 1);
    struct sriov_t1 t;
    sriov_t1_open(&t);
    long pf = get_fd(t.pf_group, VH_PF_BDF);
    REQUIRE(pf >= 0);
    int p = (int)pf;
    CHECK_EQ(set_token(p, tok | VFIO_DEVICE_FEATURE_GET, uuid1, sz), -EINVAL);
    CHECK_EQ(set_token(p, tok | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE, uuid1, sz),
             -EINVAL);
    CHECK_EQ(set_token(p, tok | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE, uuid1, sz),
             0);
    CHECK_EQ(get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_1), -EACCES);   /* nothing set */
    CHECK_EQ(set_token(p, tok, uuid1, sz), -EINVAL);
    CHECK_EQ(set_token(p, tok | VFIO_DEVICE_FEATURE_SET, uuid1, sz - 1), -EINVAL);
    CHECK_EQ(set_token(p, tok | VFIO_DEVICE_FEATURE_SET, uuid1, sz), 0);
    long vf = get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_1);
    CHECK(vf >= 0);
    sys_close((int)vf);
    CHECK_EQ(set_token(p, tok | VFIO_DEVICE_FEATURE_SET, uuid2, sz), 0);
    CHECK_EQ(get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_1), -EACCES);
    vf = get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_2);
    CHECK(vf >= 0);
    sys_close((int)vf);
    sys_close(p);
    REQUIRE(numvfs_write("0") == 1);

    /* VFs the PF's own driver made: no token */
    REQUIRE(pci_sriov_set_numvfs(&api_devs[VH_PF], 1) == 1);
    CHECK_EQ(get_fd(t.vf_group, VH_VF_BDF " vf_token=" UUID_2), -EINVAL);
    vf = get_fd(t.vf_group, VH_VF_BDF);
    CHECK(vf >= 0);
    sys_close((int)vf);
    REQUIRE(pci_sriov_set_numvfs(&api_devs[VH_PF], 0) == 0);
    sriov_t1_close(&t);
    API_CLEAN(&b);
}

/* Linux 7.3's VFIO_DEVICE_BIND_IOMMUFD with its token (bookworm's header lacks both). */
struct bind_token {
    uint32_t argsz, flags;
    int32_t iommufd;
    uint32_t out_devid;
    uint64_t token_uuid_ptr;
    uint64_t more;              /* past Linux's structure */
};
#define BIND_FLAG_TOKEN 1u

/* vfio_df_ioctl_bind_iommufd: argsz below the fields up to out_devid (EINVAL), bytes past
 * token_uuid_ptr not zero (copy_struct_from_user: E2BIG), an unknown flag (EINVAL), then
 * vfio_df_check_token: the UUID read from token_uuid_ptr (EFAULT), the token rules; an argsz of
 * the older 16-byte structure carries no token. */
TEST(vf_token_cdev_bind)
{
    struct api_base b;
    vh_setup(&b);
    vh_sriov_setup();
    REQUIRE(numvfs_write("1") == 1);
    int ictx = xopen("/dev/iommu"), pf = xopen(VH_PF_CDEV), vf = xopen(VH_VF_CDEV);
    struct bind_token bt = { .argsz = 24, .flags = BIND_FLAG_TOKEN, .iommufd = ictx,
                             .token_uuid_ptr = (uintptr_t)uuid1 };
    CHECK_EQ(ioc(pf, VFIO_DEVICE_BIND_IOMMUFD, &bt), 0);
    bt = (struct bind_token){ .argsz = 15, .iommufd = ictx };
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EINVAL);
    bt.argsz = 16;
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EACCES);
    bt = (struct bind_token){ .argsz = 16, .flags = BIND_FLAG_TOKEN, .iommufd = ictx,
                              .token_uuid_ptr = (uintptr_t)uuid1 };
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EFAULT);   /* ptr beyond argsz: 0 */
    bt.argsz = 24;
    bt.flags = 2;
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EINVAL);
    bt.flags = BIND_FLAG_TOKEN;
    bt.token_uuid_ptr = 8;
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EFAULT);
    bt = (struct bind_token){ .argsz = sizeof(bt), .flags = BIND_FLAG_TOKEN, .iommufd = ictx,
                              .token_uuid_ptr = (uintptr_t)uuid1, .more = 1 };
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), -E2BIG);
    bt.more = 0;
    bt.token_uuid_ptr = (uintptr_t)uuid2;
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EACCES);
    bt.token_uuid_ptr = (uintptr_t)uuid1;
    CHECK_EQ(ioc(vf, VFIO_DEVICE_BIND_IOMMUFD, &bt), 0);
    CHECK(bt.out_devid != 0);
    /* the VF is in use: a second PF file needs the token */
    int pf2 = xopen(VH_PF_CDEV), ictx2 = xopen("/dev/iommu");
    bt = (struct bind_token){ .argsz = 24, .iommufd = ictx2 };
    CHECK_EQ(ioc(pf2, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EACCES);
    sys_close(pf2);
    sys_close(ictx2);
    /* a device that is neither PF nor VF refuses a token */
    int edu = xopen(VH_EDU_CDEV);
    bt = (struct bind_token){ .argsz = 24, .flags = BIND_FLAG_TOKEN, .iommufd = ictx,
                              .token_uuid_ptr = (uintptr_t)uuid1 };
    CHECK_EQ(ioc(edu, VFIO_DEVICE_BIND_IOMMUFD, &bt), -EINVAL);
    sys_close(edu);
    sys_close(vf);
    sys_close(pf);
    sys_close(ictx);
    REQUIRE(numvfs_write("0") == 1);
    API_CLEAN(&b);
}
