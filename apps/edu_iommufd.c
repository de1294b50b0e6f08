/*
 * edu_iommufd.c - drives QEMU's edu device the IOMMUFD way, as a Linux program would:
 * /dev/iommu for the address space, the VFIO device cdev (/dev/vfio/devices/vfioN, found through
 * /sys/bus/pci/devices/<BDF>/vfio-dev/) bound to it and attached to an IOAS, the BAR mmap'ed,
 * and DMA checked byte for byte both ways. Memory outside the mappings must stay untouched.
 * The device then moves to an HWPT that reports to a fault queue (IOMMU_FAULT_QUEUE_ALLOC,
 * IOMMU_HWPT_FAULT_ID_VALID); its forbidden writes come back through poll() and read() on the
 * fault fd as struct iommu_hwpt_pgfault records.
 *
 *   ./moat run --topology tests/topologies/edu.txt --app apps/edu_iommufd.c
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define BDF "0000:00:03.0"
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_BUF 0x40000

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

/* QEMU's VT-d records DMA faults; its amd-iommu (10.0) leaves the event log empty, so there the
 * records cannot come and their absence is reported as a skip. */
static int faults_recorded;

/* Waits for and reads one fault record; checks where and how the device faulted. */
static void expect_fault(int ffd, uint32_t dev_id, uint64_t iova, const char *what)
{
    struct pollfd p = { .fd = ffd, .events = POLLIN };
    struct iommu_hwpt_pgfault rec;
    char msg[96];
    int ready = poll(&p, 1, faults_recorded ? 2000 : 200) == 1 && (p.revents & POLLIN);
    if (!ready && !faults_recorded) {
        printf("skip: no fault record (%s): this IOMMU model records no DMA faults\n", what);
        return;
    }
    snprintf(msg, sizeof(msg), "poll: a fault record waits (%s)", what);
    EXPECT(msg, ready);
    if (!ready)
        return;
    ssize_t n = read(ffd, &rec, sizeof(rec));
    snprintf(msg, sizeof(msg), "read the record (%s)", what);
    EXPECT(msg, n == (ssize_t)sizeof(rec));
    printf("fault record: dev_id %u addr %#llx perm %#x flags %#x cookie %u\n", rec.dev_id,
           (unsigned long long)rec.addr, rec.perm, rec.flags, rec.cookie);
    snprintf(msg, sizeof(msg), "the record names the device, IOVA and a write (%s)", what);
    EXPECT(msg, rec.dev_id == dev_id && rec.addr == iova && rec.perm == IOMMU_PGFAULT_PERM_WRITE &&
                (rec.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE));
}

/* A fault queue and an HWPT on the IOAS that reports to it; the device is moved onto it. */
static int fault_queue_setup(int iommufd, int dev, uint32_t dev_id, uint32_t ioas_id,
                             uint32_t *fault_id, uint32_t *hwpt_id)
{
    struct iommu_fault_alloc fa = { .size = sizeof(fa) };
    EXPECT("IOMMU_FAULT_QUEUE_ALLOC", ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fa) == 0);
    int ffd = (int)fa.out_fault_fd;
    EXPECT("a fault fd", ffd > 2);
    struct iommu_hwpt_pgfault rec;
    EXPECT("a partial record is ESPIPE, an empty queue reads 0",
           read(ffd, &rec, 8) == -1 && errno == ESPIPE && read(ffd, &rec, sizeof(rec)) == 0);
    struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .flags = IOMMU_HWPT_FAULT_ID_VALID,
                                   .dev_id = dev_id, .pt_id = ioas_id,
                                   .fault_id = fa.out_fault_id };
    EXPECT("IOMMU_HWPT_ALLOC with IOMMU_HWPT_FAULT_ID_VALID",
           ioctl(iommufd, IOMMU_HWPT_ALLOC, &ha) == 0);
    struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = ha.out_hwpt_id };
    EXPECT("replace the attachment with the fault-reporting HWPT",
           ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) == 0 && at.pt_id == ha.out_hwpt_id);
    struct iommu_destroy d = { .size = sizeof(d), .id = fa.out_fault_id };
    EXPECT("the fault queue is busy while in use",
           ioctl(iommufd, IOMMU_DESTROY, &d) == -1 && errno == EBUSY);
    *fault_id = fa.out_fault_id;
    *hwpt_id = ha.out_hwpt_id;
    return ffd;
}

static int open_cdev(void)
{
    DIR *d = opendir("/sys/bus/pci/devices/" BDF "/vfio-dev");
    if (!d)
        return -1;
    struct dirent *e;
    char path[300] = "";
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "vfio", 4) == 0)
            snprintf(path, sizeof(path), "/dev/vfio/devices/%s", e->d_name);
    closedir(d);
    return path[0] ? open(path, O_RDWR) : -1;
}

int main(void)
{
    int iommufd = open("/dev/iommu", O_RDWR);
    EXPECT("open /dev/iommu", iommufd >= 0);
    int dev = open_cdev();
    EXPECT("open the device cdev", dev >= 0);
    if (iommufd < 0 || dev < 0)
        return 1;

    struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
    EXPECT("VFIO_DEVICE_BIND_IOMMUFD", ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == 0);
    struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
    EXPECT("IOMMU_IOAS_ALLOC", ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) == 0);
    struct iommu_hw_info hi = { .size = sizeof(hi), .dev_id = bind.out_devid };
    EXPECT("IOMMU_GET_HW_INFO", ioctl(iommufd, IOMMU_GET_HW_INFO, &hi) == 0);
    faults_recorded = hi.out_data_type == IOMMU_HW_INFO_TYPE_INTEL_VTD;
    struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = alloc.out_ioas_id };
    EXPECT("VFIO_DEVICE_ATTACH_IOMMUFD_PT", ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) == 0);
    EXPECT("attach made an HWPT", at.pt_id != alloc.out_ioas_id);

    /* Three pages: [0] mapped for the device, [1] mapped read-only, [2] never mapped. */
    uint8_t *buf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("mmap anonymous", buf != MAP_FAILED);
    if (buf == MAP_FAILED)
        return 1;
    struct iommu_ioas_map map = {
        .size = sizeof(map), .ioas_id = alloc.out_ioas_id,
        .flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        .user_va = (uintptr_t)buf, .length = 4096,
    };
    EXPECT("IOMMU_IOAS_MAP, kernel-chosen IOVA", ioctl(iommufd, IOMMU_IOAS_MAP, &map) == 0);
    uint64_t iova = map.iova;
    struct iommu_ioas_map ro = map;
    ro.flags = IOMMU_IOAS_MAP_READABLE;
    ro.user_va = (uintptr_t)(buf + 4096);
    EXPECT("IOMMU_IOAS_MAP, read-only page", ioctl(iommufd, IOMMU_IOAS_MAP, &ro) == 0);

    struct vfio_region_info r0 = { .argsz = sizeof(r0), .index = VFIO_PCI_BAR0_REGION_INDEX };
    EXPECT("BAR0 region info", ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r0) == 0);
    void *m = mmap(NULL, r0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)r0.offset);
    EXPECT("BAR0 mmap", m != MAP_FAILED);
    if (m == MAP_FAILED)
        return 1;
    regs = m;
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    uint16_t cmd = 0;
    pread(dev, &cmd, 2, (off_t)rc.offset + 4);
    cmd |= 0x6;
    EXPECT("enable bus mastering", pwrite(dev, &cmd, 2, (off_t)rc.offset + 4) == 2);

    for (int i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
    memset(buf + 4096, 0x11, 4096);
    memset(buf + 8192, 0x22, 4096);
    EXPECT("DMA memory -> device", dma(iova, EDU_BUF, 4096, 0));
    memset(buf, 0, 4096);
    EXPECT("DMA device -> memory", dma(EDU_BUF, iova, 4096, 1));
    int same = 1;
    for (int i = 0; i < 4096; i++)
        same &= buf[i] == (uint8_t)(i ^ 0x5a);
    EXPECT("the bytes came back", same);

    uint32_t fault_id, hwpt_id;
    int ffd = fault_queue_setup(iommufd, dev, bind.out_devid, alloc.out_ioas_id, &fault_id,
                                &hwpt_id);
    EXPECT("DMA still works through the new HWPT", dma(iova, EDU_BUF, 4096, 0));

    /* Writes the device may not do: into the read-only page, and past the mappings. */
    dma(EDU_BUF, ro.iova, 4096, 1);
    expect_fault(ffd, bind.out_devid, ro.iova, "read-only page");
    dma(EDU_BUF, ro.iova + 0x100000, 4096, 1);
    expect_fault(ffd, bind.out_devid, ro.iova + 0x100000, "unmapped IOVA");
    int intact = 1;
    for (int i = 0; i < 4096; i++)
        intact &= buf[4096 + i] == 0x11 && buf[8192 + i] == 0x22;
    EXPECT("read-only and unmapped memory untouched", intact);

    struct iommu_ioas_unmap un = { .size = sizeof(un), .ioas_id = alloc.out_ioas_id,
                                   .iova = iova, .length = 4096 };
    EXPECT("IOMMU_IOAS_UNMAP", ioctl(iommufd, IOMMU_IOAS_UNMAP, &un) == 0 && un.length == 4096);
    memset(buf, 0x33, 4096);
    dma(EDU_BUF, iova, 4096, 1);
    int stale = 1;
    for (int i = 0; i < 4096; i++)
        stale &= buf[i] == 0x33;
    EXPECT("no DMA through a just-unmapped IOVA", stale);
    expect_fault(ffd, bind.out_devid, iova, "just-unmapped IOVA");
    struct iommu_ioas_unmap bad = un;
    EXPECT("unmapping it again is ENOENT",
           ioctl(iommufd, IOMMU_IOAS_UNMAP, &bad) == -1 && errno == ENOENT);

    struct vfio_device_detach_iommufd_pt det = { .argsz = sizeof(det) };
    EXPECT("VFIO_DEVICE_DETACH_IOMMUFD_PT", ioctl(dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &det) == 0);
    close(dev);
    EXPECT("close the fault fd", close(ffd) == 0);
    struct iommu_destroy dh = { .size = sizeof(dh), .id = hwpt_id };
    struct iommu_destroy df = { .size = sizeof(df), .id = fault_id };
    EXPECT("IOMMU_DESTROY of the HWPT, then of the closed fault queue",
           ioctl(iommufd, IOMMU_DESTROY, &dh) == 0 && ioctl(iommufd, IOMMU_DESTROY, &df) == 0);
    close(iommufd);
    printf("edu_iommufd: %d failed\n", failed);
    return failed ? 1 : 0;
}
