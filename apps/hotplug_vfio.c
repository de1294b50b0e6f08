/*
 * hotplug_vfio.c - a Linux VFIO program holding a device that is hot-unplugged. It asks QEMU
 * (through ./moat run --qmp) for an edu in the empty root port rp1, drives it the IOMMUFD way
 * (cdev bound to /dev/iommu, DMA checked both ways next to canary pages), registers an eventfd
 * for VFIO_PCI_REQ_IRQ_INDEX, then asks QEMU to unplug it. The runtime must not take the device
 * away: it signals the request eventfd and waits. The program closes the device; only then
 * does it leave, and what referred to it is refused with Linux's errno. Then the same through
 * a type1 container and a group file that stays open after its device left: the group hands
 * out nothing more, the container's mappings can still be taken down, and the number of the
 * open group is not given to the next device plugged.
 *
 *   ./moat run --qmp --topology tests/topologies/10-hotplug.txt --app apps/hotplug_vfio.c \
 *       --cmdline pciehp_blink_ms=100
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define BDF "0000:01:00.0"
#define DEV_DIR "/sys/bus/pci/devices/" BDF
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_BUF 0x40000
#define WAIT_MS 30000

static int failed;
static volatile uint8_t *regs;

#define EXPECT(what, cond)                                                          \
    do {                                                                            \
        int ok_ = !!(cond);                                                         \
        printf("%s %s (errno %s)\n", ok_ ? "ok:  " : "FAIL:", what,                \
               ok_ ? "-" : strerror(errno));                                        \
        failed += !ok_;                                                             \
    } while (0)

static int dma(uint64_t src, uint64_t dst, uint32_t len, int to_ram)
{
    *(volatile uint64_t *)(regs + EDU_DMA_SRC) = src;
    *(volatile uint64_t *)(regs + EDU_DMA_DST) = dst;
    *(volatile uint64_t *)(regs + EDU_DMA_CNT) = len;
    *(volatile uint64_t *)(regs + EDU_DMA_CMD) = 1 | (to_ram ? 2 : 0);
    for (int i = 0; i < 20000; i++) {
        if (!(*(volatile uint64_t *)(regs + EDU_DMA_CMD) & 1))
            return 1;
        usleep(50);
    }
    return 0;
}

static int present(void)
{
    DIR *d = opendir(DEV_DIR "/vfio-dev");
    if (d)
        closedir(d);
    return d != NULL;
}

/* Waits (bounded) in poll(2), where the runtime looks at its hot-plug slots. */
static int wait_for(int want_present)
{
    for (int ms = 0; ms < WAIT_MS; ms += 20) {
        if (present() == want_present)
            return 1;
        poll(NULL, 0, 20);
    }
    return 0;
}

static int cdev_path(char *path, size_t size)
{
    DIR *d = opendir(DEV_DIR "/vfio-dev");
    if (!d)
        return -1;
    struct dirent *e;
    path[0] = 0;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "vfio", 4) == 0)
            snprintf(path, size, "/dev/vfio/devices/%s", e->d_name);
    closedir(d);
    return path[0] ? 0 : -1;
}

static int set_req(int dev, uint32_t flags, uint32_t start, uint32_t count, int32_t data)
{
    struct { struct vfio_irq_set s; int32_t fd; } req = {
        { .argsz = sizeof(req), .flags = flags, .index = VFIO_PCI_REQ_IRQ_INDEX,
          .start = start, .count = count }, data };
    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &req);
}

/* Linux's answers for the request index, and its loopback (DATA_NONE, count 1). */
static void request_channel(int dev, int efd)
{
    struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_REQ_IRQ_INDEX };
    EXPECT("REQ index: one eventfd", ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0 &&
                                         ii.count == 1 && (ii.flags & VFIO_IRQ_INFO_EVENTFD));
    EXPECT("REQ: start 1 is EINVAL",
           set_req(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1, 1, efd) == -1 &&
           errno == EINVAL);
    EXPECT("REQ: masking is ENOTTY",
           set_req(dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, 0, 1, 0) == -1 &&
           errno == ENOTTY);
    EXPECT("REQ: a file that is no eventfd is EINVAL",
           set_req(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, dev) == -1 &&
           errno == EINVAL);
    EXPECT("REQ: the eventfd is registered",
           set_req(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, efd) == 0);
    uint64_t n = 0;
    EXPECT("REQ: DATA_NONE signals it (loopback)",
           set_req(dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, 0) == 0 &&
           read(efd, &n, 8) == 8 && n == 1);
}

static int group_number(void)
{
    char link[128];
    ssize_t n = readlink(DEV_DIR "/iommu_group", link, sizeof(link) - 1);
    if (n <= 0)
        return -1;
    link[n] = 0;
    const char *slash = strrchr(link, '/');
    return slash ? atoi(slash + 1) : -1;
}

/* BAR0 mapped, bus mastering on, then memory -> device -> memory through page at iova, the
 * bytes checked. 0, or -1 when BAR0 cannot be mapped. */
static int bar_and_dma(int dev, uint8_t *page, uint64_t iova, uint8_t seed, const char *path)
{
    char what[96];
    struct vfio_region_info r0 = { .argsz = sizeof(r0), .index = VFIO_PCI_BAR0_REGION_INDEX };
    void *m = ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r0) == 0 ?
              mmap(NULL, r0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)r0.offset) :
              MAP_FAILED;
    snprintf(what, sizeof(what), "%s: BAR0 region info and mmap", path);
    EXPECT(what, m != MAP_FAILED);
    if (m == MAP_FAILED)
        return -1;
    regs = m;
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    uint16_t cmd = 0;
    pread(dev, &cmd, 2, (off_t)rc.offset + 4);
    cmd |= 0x6;
    snprintf(what, sizeof(what), "%s: bus mastering", path);
    EXPECT(what, pwrite(dev, &cmd, 2, (off_t)rc.offset + 4) == 2);
    for (int i = 0; i < 4096; i++)
        page[i] = (uint8_t)(i ^ seed);
    snprintf(what, sizeof(what), "%s: DMA memory -> device", path);
    EXPECT(what, dma(iova, EDU_BUF, 4096, 0));
    memset(page, 0, 4096);
    snprintf(what, sizeof(what), "%s: DMA device -> memory", path);
    EXPECT(what, dma(EDU_BUF, iova, 4096, 1));
    int same = 1;
    for (int i = 0; i < 4096; i++)
        same &= page[i] == (uint8_t)(i ^ seed);
    snprintf(what, sizeof(what), "%s: the bytes came back", path);
    EXPECT(what, same);
    return 0;
}

/* Maps buf's middle page at IOVA 0x100000, checks DMA both ways, and hands the request
 * channel an eventfd; returns the eventfd. */
static int type1_device(int c, int dev, uint8_t *buf)
{
    struct vfio_iommu_type1_dma_map dm = {
        .argsz = sizeof(dm), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uintptr_t)(buf + 4096), .iova = 0x100000, .size = 4096 };
    EXPECT("type1: VFIO_IOMMU_MAP_DMA", ioctl(c, VFIO_IOMMU_MAP_DMA, &dm) == 0);
    if (bar_and_dma(dev, buf + 4096, 0x100000, 0xa5, "type1"))
        return -1;
    int efd = eventfd(0, 0);
    EXPECT("type1: the request eventfd is registered",
           efd >= 0 && set_req(dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                               0, 1, efd) == 0);
    return efd;
}

static void type1_path(uint8_t *buf)
{
    printf("moat-qmp: device_add edu,id=hpw,bus=rp1\n");
    EXPECT("type1: the plugged edu appears", wait_for(1));
    int gnum = group_number();
    char gpath[32];
    snprintf(gpath, sizeof(gpath), "/dev/vfio/%d", gnum);
    int c = open("/dev/vfio/vfio", O_RDWR), g = open(gpath, O_RDWR);
    EXPECT("type1: open the container and the group", gnum >= 0 && c >= 0 && g >= 0);
    EXPECT("type1: the group joins the container, type1v2",
           ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) == 0 &&
           ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    int dev = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, BDF);
    EXPECT("type1: VFIO_GROUP_GET_DEVICE_FD", dev >= 0);
    if (c < 0 || g < 0 || dev < 0)
        return;
    int efd = type1_device(c, dev, buf);
    printf("moat-qmp: device_del hpw\n");
    struct pollfd p = { .fd = efd, .events = POLLIN };
    EXPECT("type1: the device request arrives", poll(&p, 1, WAIT_MS) == 1);
    close(dev);
    EXPECT("type1: after close the device leaves, the group file still open", wait_for(0));
    EXPECT("type1: the group hands out nothing more (ENODEV)",
           ioctl(g, VFIO_GROUP_GET_DEVICE_FD, BDF) == -1 && errno == ENODEV);
    struct vfio_iommu_type1_dma_unmap du = { .argsz = sizeof(du), .iova = 0x100000, .size = 4096 };
    EXPECT("type1: the container's mapping can still be taken down",
           ioctl(c, VFIO_IOMMU_UNMAP_DMA, &du) == 0 && du.size == 4096);
    printf("moat-qmp: device_add edu,id=hpx,bus=rp1\n");
    EXPECT("type1: another edu appears", wait_for(1));
    EXPECT("type1: it does not get the number of the group still open", group_number() != gnum);
    close(efd);
    close(g);
    close(c);
    printf("moat-qmp: device_del hpx\n");
    EXPECT("type1: with nobody holding it, it leaves", wait_for(0));
}

int main(void)
{
    printf("moat-qmp: device_add edu,id=hpv,bus=rp1\n");
    EXPECT("the plugged edu appears", wait_for(1));
    char path[64];
    int iommufd = open("/dev/iommu", O_RDWR);
    int dev = cdev_path(path, sizeof(path)) == 0 ? open(path, O_RDWR) : -1;
    EXPECT("open /dev/iommu and the device cdev", iommufd >= 0 && dev >= 0);
    if (iommufd < 0 || dev < 0)
        return 1;
    struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
    EXPECT("VFIO_DEVICE_BIND_IOMMUFD", ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == 0);
    struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
    EXPECT("IOMMU_IOAS_ALLOC", ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) == 0);
    struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = alloc.out_ioas_id };
    EXPECT("VFIO_DEVICE_ATTACH_IOMMUFD_PT", ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) == 0);

    /* Three pages: a canary, the page the device may reach, a canary. */
    uint8_t *buf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("mmap anonymous", buf != MAP_FAILED);
    if (buf == MAP_FAILED)
        return 1;
    memset(buf, 0xc5, 3 * 4096);
    struct iommu_ioas_map map = {
        .size = sizeof(map), .ioas_id = alloc.out_ioas_id,
        .flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        .user_va = (uintptr_t)(buf + 4096), .length = 4096,
    };
    EXPECT("IOMMU_IOAS_MAP", ioctl(iommufd, IOMMU_IOAS_MAP, &map) == 0);
    if (bar_and_dma(dev, buf + 4096, map.iova, 0x5a, "iommufd"))
        return 1;

    int efd = eventfd(0, 0);
    EXPECT("eventfd", efd >= 0);
    request_channel(dev, efd);

    printf("moat-qmp: device_del hpv\n");
    struct pollfd p = { .fd = efd, .events = POLLIN };
    EXPECT("the device request arrives on the eventfd",
           poll(&p, 1, WAIT_MS) == 1 && (p.revents & POLLIN));
    uint64_t n = 0;
    EXPECT("read the request", read(efd, &n, 8) == 8 && n >= 1);
    poll(NULL, 0, 500);
    EXPECT("the device stays while the program holds it", present());
    EXPECT("it still answers: DMA memory -> device", dma(map.iova, EDU_BUF, 4096, 0));

    close(dev);
    EXPECT("after close the device leaves", wait_for(0));
    struct iommu_hw_info hi = { .size = sizeof(hi), .dev_id = bind.out_devid };
    EXPECT("IOMMU_GET_HW_INFO on the departed device's ID is ENOENT",
           ioctl(iommufd, IOMMU_GET_HW_INFO, &hi) == -1 && errno == ENOENT);
    EXPECT("its cdev is gone: open is ENOENT", open(path, O_RDWR) == -1 && errno == ENOENT);
    struct iommu_ioas_unmap um = { .size = sizeof(um), .ioas_id = alloc.out_ioas_id,
                                   .iova = map.iova, .length = 4096 };
    EXPECT("the IOAS outlives the device: unmap", ioctl(iommufd, IOMMU_IOAS_UNMAP, &um) == 0);
    int intact = 1;
    for (int i = 0; i < 4096; i++)
        intact &= buf[i] == 0xc5 && buf[8192 + i] == 0xc5;
    EXPECT("the canary pages were never written", intact);
    close(efd);
    close(iommufd);
    memset(buf, 0xc5, 3 * 4096);
    type1_path(buf);
    intact = 1;
    for (int i = 0; i < 4096; i++)
        intact &= buf[i] == 0xc5 && buf[8192 + i] == 0xc5;
    EXPECT("type1: the canary pages were never written", intact);
    printf("hotplug_vfio: %s\n", failed ? "FAILED" : "all checks hold");
    return failed ? 1 : 0;
}
