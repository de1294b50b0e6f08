/*
 * edu_vfio.c - drives QEMU's edu device the VFIO type1 way, as a Linux program would: a
 * container, the device's group (found through /sys/bus/pci/devices/<BDF>/iommu_group), the type1
 * IOMMU, DMA mappings of anonymous memory, the device fd with its BAR mmap'ed. Checks DMA both
 * ways byte for byte, that memory outside the mappings stays untouched, and the errors type1
 * gives for common mistakes. Interrupts: MSI to an eventfd, then INTx (edu raises INTx while its
 * MSI is off) with Linux's level-triggered protocol: the interrupt arrives masked, the program
 * acknowledges the device and unmasks — by ioctl, by writing an eventfd, and through the
 * virtual Interrupt Disable bit of the command register. MSI is armed and disarmed many more
 * times than the interrupt remapping table has entries.
 *
 *   ./moat run --topology tests/topologies/edu.txt --app apps/edu_vfio.c
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define BDF "0000:00:03.0"
#define IOVA 0x1000000ULL      /* edu masks DMA addresses to 28 bits */
#define EDU_BUF 0x40000

static int failed;
static volatile uint8_t *regs;

#define EXPECT(what, cond)                                                          \
    do {                                                                            \
        int ok_ = !!(cond);                                                         \
        printf("%s %s\n", ok_ ? "ok:  " : "FAIL:", what);                           \
        failed += !ok_;                                                             \
    } while (0)

static int dma(uint64_t src, uint64_t dst, uint32_t len, int to_ram)
{
    *(volatile uint64_t *)(regs + 0x80) = src;
    *(volatile uint64_t *)(regs + 0x88) = dst;
    *(volatile uint64_t *)(regs + 0x90) = len;
    *(volatile uint64_t *)(regs + 0x98) = 1 | (to_ram ? 2 : 0);
    for (int i = 0; i < 20000; i++) {
        if (!(*(volatile uint64_t *)(regs + 0x98) & 1))
            return 1;
        usleep(50);
    }
    return 0;
}

static int map(int c, void *va, uint64_t iova, uint64_t size, uint32_t flags)
{
    struct vfio_iommu_type1_dma_map m = { .argsz = sizeof(m), .flags = flags,
                                          .vaddr = (uintptr_t)va, .iova = iova, .size = size };
    return ioctl(c, VFIO_IOMMU_MAP_DMA, &m);
}

static int unmap(int c, uint64_t iova, uint64_t size, uint32_t flags, uint64_t *done)
{
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .flags = flags,
                                            .iova = iova, .size = size };
    int r = ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u);
    if (done)
        *done = u.size;
    return r;
}

static int wait_irq(int efd, int ms);
static int efd_empty(int efd);
static uint16_t cfg16(int dev, unsigned off);
static uint32_t cfg32(int dev, unsigned off);
static int cfg_put32(int dev, unsigned off, uint32_t v);

/* The MSI capability's offset, found through the capability list of the config region. */
static unsigned msi_cap(int dev)
{
    unsigned pos = cfg16(dev, 0x34) & 0xfc;
    for (int n = 0; pos && n < 48; n++) {
        uint16_t id_next = cfg16(dev, pos);
        if ((id_next & 0xff) == 0x05)
            return pos;
        pos = (id_next >> 8) & 0xfc;
    }
    return 0;
}

/* The edu's MSI, delivered to an eventfd through VFIO_DEVICE_SET_IRQS. */
static void msi_through_eventfd(int dev)
{
    struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSI_IRQ_INDEX };
    EXPECT("MSI irq info", ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0 && ii.count >= 1 &&
                           (ii.flags & VFIO_IRQ_INFO_EVENTFD));
    int efd = eventfd(0, EFD_NONBLOCK);
    EXPECT("eventfd", efd >= 0);
    struct { struct vfio_irq_set s; int32_t fd; } set = {
        .s = { .argsz = sizeof(set), .index = VFIO_PCI_MSI_IRQ_INDEX, .start = 0, .count = 1,
               .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER },
        .fd = efd,
    };
    unsigned cap = msi_cap(dev);
    EXPECT("edu has an MSI capability, 64-bit", cap && (cfg16(dev, cap + 2) & 0x80));
    uint32_t addr0 = cfg32(dev, cap + 4);
    uint16_t data0 = cfg16(dev, cap + 12);
    EXPECT("SET_IRQS: MSI to an eventfd", ioctl(dev, VFIO_DEVICE_SET_IRQS, &set) == 0);
    /* vfio-pci's view (init_pci_cap_msi_perm): Enable and the message are virtual, so the
     * program reads what it had, not the message programmed for it */
    EXPECT("MSI Enable reads 0 while MSI is on (virtual, as Linux)",
           !(cfg16(dev, cap + 2) & 0x1));
    EXPECT("the message address and data read as before SET_IRQS",
           cfg32(dev, cap + 4) == addr0 && cfg16(dev, cap + 12) == data0);
    EXPECT("a write of the address stays in the program's copy",
           cfg_put32(dev, cap + 4, 0x12345678) && cfg32(dev, cap + 4) == 0x12345678);
    uint64_t n = 0;
    EXPECT("nothing signalled yet", read(efd, &n, 8) == -1 && errno == EAGAIN);
    *(volatile uint32_t *)(regs + 0x60) = 0x1;          /* raise */
    struct pollfd p = { .fd = efd, .events = POLLIN };
    EXPECT("poll sees the interrupt", poll(&p, 1, 2000) == 1 && (p.revents & POLLIN));
    EXPECT("one interrupt counted", read(efd, &n, 8) == 8 && n == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x1;          /* acknowledge */
    struct vfio_irq_set off = { .argsz = sizeof(off), .index = VFIO_PCI_MSI_IRQ_INDEX,
                                .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER };
    EXPECT("SET_IRQS: MSI off", ioctl(dev, VFIO_DEVICE_SET_IRQS, &off) == 0);
    /* Each arm takes an interrupt remapping entry and each disarm gives it back: far more
     * rounds than VT-d's table (256) or an AMD-Vi device table (512) holds. */
    int ok = 0, swaps = 0;
    for (int i = 0; i < 1200; i++)
        ok += ioctl(dev, VFIO_DEVICE_SET_IRQS, &set) == 0 &&
              ioctl(dev, VFIO_DEVICE_SET_IRQS, &off) == 0;
    EXPECT("MSI armed and disarmed 1200 times", ok == 1200);
    int efd2 = eventfd(0, EFD_NONBLOCK);
    EXPECT("MSI on", ioctl(dev, VFIO_DEVICE_SET_IRQS, &set) == 0);
    for (int i = 0; i < 300; i++) {
        set.fd = i & 1 ? efd : efd2;
        swaps += ioctl(dev, VFIO_DEVICE_SET_IRQS, &set) == 0;
    }
    EXPECT("MSI re-armed with another eventfd 300 times", swaps == 300);
    *(volatile uint32_t *)(regs + 0x60) = 0x1;
    EXPECT("the last eventfd gets the interrupt", wait_irq(efd, 2000) == 1 && efd_empty(efd2));
    *(volatile uint32_t *)(regs + 0x64) = 0x1;
    EXPECT("SET_IRQS: MSI off", ioctl(dev, VFIO_DEVICE_SET_IRQS, &off) == 0);
    close(efd2);
    close(efd);
}

static int irq_set(int dev, uint32_t index, uint32_t flags, uint32_t count, int32_t data)
{
    struct { struct vfio_irq_set s; int32_t d; } set = {
        .s = { .argsz = sizeof(set), .index = index, .flags = flags, .start = 0, .count = count },
        .d = data,
    };
    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &set);
}

static int wait_irq(int efd, int ms)
{
    struct pollfd p = { .fd = efd, .events = POLLIN };
    uint64_t n = 0;
    if (poll(&p, 1, ms) != 1 || !(p.revents & POLLIN) || read(efd, &n, 8) != 8)
        return 0;
    return (int)n;
}

#define INTX VFIO_PCI_INTX_IRQ_INDEX
#define ACT_NONE(a) (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_##a)

#define EFD_UNMASK (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK)

static int efd_write(int efd, uint64_t v)
{
    return write(efd, &v, 8) == 8;
}

static int efd_empty(int efd)
{
    uint64_t n;
    return read(efd, &n, 8) == -1 && errno == EAGAIN;
}

static int efd_raised(int efd)
{
    struct pollfd p = { .fd = efd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* INTx unmasked through an eventfd (Linux's virqfd): writing it unmasks, inside the write. */
static void intx_unmask_eventfd(int dev, int efd)
{
    int ufd = eventfd(0, EFD_NONBLOCK);
    EXPECT("MASK by eventfd is ENOTTY, as Linux",
           irq_set(dev, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, 1, ufd) == -1 &&
           errno == ENOTTY);
    EXPECT("UNMASK eventfd: a closed descriptor is EBADF",
           irq_set(dev, INTX, EFD_UNMASK, 1, 250) == -1 && errno == EBADF);
    EXPECT("UNMASK eventfd: not an eventfd is EINVAL",
           irq_set(dev, INTX, EFD_UNMASK, 1, dev) == -1 && errno == EINVAL);
    EXPECT("UNMASK eventfd", irq_set(dev, INTX, EFD_UNMASK, 1, ufd) == 0);
    EXPECT("a second UNMASK eventfd is EBUSY",
           irq_set(dev, INTX, EFD_UNMASK, 1, efd) == -1 && errno == EBUSY);
    EXPECT("writing it unmasks what the last round left masked", efd_write(ufd, 1));
    int rounds = 0;
    for (int i = 0; i < 3; i++) {
        *(volatile uint32_t *)(regs + 0x60) = 0x1u << i;
        int n = wait_irq(efd, 2000);
        int quiet = wait_irq(efd, 30) == 0;
        *(volatile uint32_t *)(regs + 0x64) = 0x1u << i;
        int w = efd_write(ufd, 1);
        rounds += n == 1 && quiet && w && efd_empty(ufd);
    }
    EXPECT("three rounds unmasked by writing the eventfd, which the unmask empties", rounds == 3);
    *(volatile uint32_t *)(regs + 0x60) = 0x20;
    EXPECT("after those, INTx is unmasked: the next one arrives", wait_irq(efd, 2000) == 1);
    EXPECT("writing the eventfd while still asserted signals again",
           efd_write(ufd, 1) && wait_irq(efd, 50) == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x20;
    EXPECT("after the ack, a write unmasks", efd_write(ufd, 1) && efd_empty(ufd));
    EXPECT("UNMASK eventfd -1 tears it down", irq_set(dev, INTX, EFD_UNMASK, 1, -1) == 0);
    *(volatile uint32_t *)(regs + 0x60) = 0x40;
    int got = wait_irq(efd, 2000);
    *(volatile uint32_t *)(regs + 0x64) = 0x40;
    efd_write(ufd, 1);
    *(volatile uint32_t *)(regs + 0x60) = 0x40;
    EXPECT("then a write no longer unmasks (and stays in the counter)",
           got == 1 && wait_irq(efd, 100) == 0 && efd_raised(ufd));
    EXPECT("an eventfd already raised unmasks when it is set",
           irq_set(dev, INTX, EFD_UNMASK, 1, ufd) == 0 && wait_irq(efd, 2000) == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x40;
    close(ufd);
    int ufd2 = eventfd(0, EFD_NONBLOCK);
    EXPECT("closing the eventfd tears it down: another can be set",
           irq_set(dev, INTX, EFD_UNMASK, 1, ufd2) == 0 && efd_write(ufd2, 1));
    EXPECT("and torn down", irq_set(dev, INTX, EFD_UNMASK, 1, -1) == 0);
    close(ufd2);
}

/* The command register's Interrupt Disable is virtual (as vfio-pci): the program's copy masks
 * INTx and holds off every unmask until cleared; status writes are dropped. */
static uint16_t cfg16(int dev, unsigned off)
{
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    uint16_t v = 0xdead;
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    pread(dev, &v, 2, (off_t)(rc.offset + off));
    return v;
}

static int cfg_put16(int dev, unsigned off, uint16_t v)
{
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    return pwrite(dev, &v, 2, (off_t)(rc.offset + off)) == 2;
}

static uint32_t cfg32(int dev, unsigned off)
{
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    uint32_t v = 0xdeadbeef;
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    pread(dev, &v, 4, (off_t)(rc.offset + off));
    return v;
}

static int cfg_put32(int dev, unsigned off, uint32_t v)
{
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    return pwrite(dev, &v, 4, (off_t)(rc.offset + off)) == 4;
}

/* The BARs are virtual (as vfio-pci): sizing through the config region answers as the hardware
 * would, while the function keeps decoding where it was placed. edu: BAR0 is 1 MiB of 32-bit
 * non-prefetchable memory, nothing else. */
static void bar_sizing(int dev)
{
    uint32_t bar0 = cfg32(dev, 0x10);
    EXPECT("BAR0 reads as 32-bit non-prefetchable memory", bar0 && (bar0 & 0xf) == 0);
    EXPECT("sizing BAR0 reads back the 1 MiB mask",
           cfg_put32(dev, 0x10, 0xffffffff) && cfg32(dev, 0x10) == 0xfff00000);
    EXPECT("the device still answers at its BAR meanwhile",
           (*(volatile uint32_t *)regs & 0xff) == 0xed);
    EXPECT("restoring BAR0 reads back the address",
           cfg_put32(dev, 0x10, bar0) && cfg32(dev, 0x10) == bar0);
    EXPECT("an unimplemented BAR reads 0 and sizes to 0",
           cfg32(dev, 0x14) == 0 && cfg_put32(dev, 0x14, 0xffffffff) && cfg32(dev, 0x14) == 0);
    EXPECT("no expansion ROM: its BAR reads 0",
           cfg32(dev, 0x30) == 0 && cfg_put32(dev, 0x30, 0xfffff800) && cfg32(dev, 0x30) == 0);
    *(volatile uint32_t *)(regs + 0x04) = 0x12345678;
    EXPECT("and the device works there afterwards",
           *(volatile uint32_t *)(regs + 0x04) == ~0x12345678u);
}

#define CMD_INTX_DISABLE 0x400
#define STATUS_INTX 0x8

static void intx_virtual_disable(int dev, int efd)
{
    uint16_t cmd = cfg16(dev, 4);
    EXPECT("Interrupt Disable reads clear while INTx is in use", !(cmd & CMD_INTX_DISABLE));
    EXPECT("setting it reads back set",
           cfg_put16(dev, 4, cmd | CMD_INTX_DISABLE) && (cfg16(dev, 4) & CMD_INTX_DISABLE));
    *(volatile uint32_t *)(regs + 0x60) = 0x80;
    EXPECT("with it set, nothing arrives; Interrupt Status reads set",
           wait_irq(efd, 100) == 0 && (cfg16(dev, 6) & STATUS_INTX));
    EXPECT("UNMASK does not unmask under it",
           irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == 0 && wait_irq(efd, 100) == 0);
    uint16_t st = cfg16(dev, 6);
    EXPECT("status writes are dropped", cfg_put16(dev, 6, 0xffff) && cfg16(dev, 6) == st);
    EXPECT("clearing it delivers the pending interrupt",
           cfg_put16(dev, 4, cmd & ~CMD_INTX_DISABLE) && !(cfg16(dev, 4) & CMD_INTX_DISABLE) &&
           wait_irq(efd, 2000) == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x80;
    EXPECT("Interrupt Status clears with the ack", !(cfg16(dev, 6) & STATUS_INTX));
    EXPECT("then UNMASK unmasks again", irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == 0);
    *(volatile uint32_t *)(regs + 0x60) = 0x80;
    EXPECT("and the next one arrives", wait_irq(efd, 2000) == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x80;
    EXPECT("unmask after it", irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == 0);
    /* Set before INTx is enabled: INTx starts masked. */
    EXPECT("INTx off, Interrupt Disable set",
           irq_set(dev, INTX, ACT_NONE(TRIGGER), 0, 0) == 0 && cfg_put16(dev, 4, cmd | CMD_INTX_DISABLE));
    EXPECT("INTx on again", irq_set(dev, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                                      1, efd) == 0);
    *(volatile uint32_t *)(regs + 0x60) = 0x80;
    EXPECT("it starts masked", wait_irq(efd, 100) == 0);
    EXPECT("until the bit is cleared", cfg_put16(dev, 4, cmd) && wait_irq(efd, 2000) == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x80;
    irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0);
}

/* The edu's INTx (MSI is off again), level-triggered: automasked on arrival, unmasked by us. */
static void intx_through_eventfd(int dev)
{
    struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = INTX };
    EXPECT("INTx irq info: one, eventfd, maskable, automasked",
           ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0 && ii.count == 1 &&
           ii.flags == (VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
                        VFIO_IRQ_INFO_AUTOMASKED));
    if (ii.count != 1)
        return;
    int efd = eventfd(0, EFD_NONBLOCK);
    EXPECT("UNMASK before INTx is on is EINVAL",
           irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == -1 && errno == EINVAL);
    EXPECT("SET_IRQS: INTx to an eventfd",
           irq_set(dev, INTX, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1,
                   efd) == 0);
    EXPECT("MSI while INTx is on is EINVAL",
           irq_set(dev, VFIO_PCI_MSI_IRQ_INDEX,
                   VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1, efd) == -1 &&
           errno == EINVAL);
    EXPECT("two INTx vectors is EINVAL",
           irq_set(dev, INTX, ACT_NONE(MASK), 2, 0) == -1 && errno == EINVAL);
    int rounds = 0;
    for (int i = 0; i < 3; i++) {
        *(volatile uint32_t *)(regs + 0x60) = 0x1u << i;    /* raise */
        int n = wait_irq(efd, 2000);
        *(volatile uint32_t *)(regs + 0x60) = 0x100;        /* still asserted, but masked */
        int quiet = wait_irq(efd, 50) == 0;
        *(volatile uint32_t *)(regs + 0x64) = 0x100u | 1u << i; /* acknowledge: the line drops */
        int unmasked = irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == 0;
        rounds += n == 1 && quiet && unmasked && wait_irq(efd, 50) == 0;
    }
    EXPECT("three INTx rounds: raise, one signal, masked, ack, unmask", rounds == 3);
    /* Unmasking while the device still asserts re-sends instead of unmasking. */
    *(volatile uint32_t *)(regs + 0x60) = 0x8;
    int first = wait_irq(efd, 2000);
    EXPECT("UNMASK of a still-pending INTx signals again",
           first == 1 && irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == 0 && wait_irq(efd, 50) == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x8;
    EXPECT("unmask after the ack", irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == 0);
    /* The user's own mask holds the interrupt back until unmasked. */
    EXPECT("MASK", irq_set(dev, INTX, ACT_NONE(MASK), 1, 0) == 0);
    *(volatile uint32_t *)(regs + 0x60) = 0x10;
    int held = wait_irq(efd, 100) == 0;
    EXPECT("masked: nothing arrives; UNMASK delivers it",
           held && irq_set(dev, INTX, ACT_NONE(UNMASK), 1, 0) == 0 && wait_irq(efd, 2000) == 1);
    *(volatile uint32_t *)(regs + 0x64) = 0x10;
    intx_unmask_eventfd(dev, efd);
    intx_virtual_disable(dev, efd);
    EXPECT("SET_IRQS: INTx off", irq_set(dev, INTX, ACT_NONE(TRIGGER), 0, 0) == 0);
    close(efd);
}

static int open_group(void)
{
    char link[128], path[64];
    ssize_t n = readlink("/sys/bus/pci/devices/" BDF "/iommu_group", link, sizeof(link) - 1);
    if (n <= 0)
        return -1;
    link[n] = 0;
    snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
    return open(path, O_RDWR);
}

static void type1_mistakes(int c, uint8_t *buf)
{
    const uint32_t rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    EXPECT("map of zero bytes is EINVAL", map(c, buf, IOVA, 0, rw) == -1 && errno == EINVAL);
    EXPECT("misaligned iova is EINVAL", map(c, buf, IOVA + 1, 4096, rw) == -1 && errno == EINVAL);
    EXPECT("no permission is EINVAL", map(c, buf, IOVA, 4096, 0) == -1 && errno == EINVAL);
    EXPECT("wrapping iova is EOVERFLOW (Linux 6.18)",
           map(c, buf, ~0ULL & ~4095ULL, 8192, rw) == -1 && errno == EOVERFLOW);
    EXPECT("overlap is EEXIST", map(c, buf, IOVA + 4096, 4096, rw) == -1 && errno == EEXIST);
    EXPECT("unmap that bisects a mapping is EINVAL",
           unmap(c, IOVA + 4096, 4096, 0, NULL) == -1 && errno == EINVAL);
    uint64_t done = 1;
    EXPECT("unmap of nothing unmaps 0 bytes",
           unmap(c, IOVA + (64 << 20), 4096, 0, &done) == 0 && done == 0);
    EXPECT("UNMAP_ALL with a range is EINVAL",
           unmap(c, IOVA, 4096, VFIO_DMA_UNMAP_FLAG_ALL, NULL) == -1 && errno == EINVAL);
}

int main(void)
{
    int c = open("/dev/vfio/vfio", O_RDWR);
    EXPECT("open the container", c >= 0);
    EXPECT("API version", ioctl(c, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
    EXPECT("type1v2 supported", ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);
    EXPECT("SET_IOMMU before a group is EINVAL",
           ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == -1 && errno == EINVAL);
    int g = open_group();
    EXPECT("open the group", g >= 0);
    EXPECT("a group opens once", open_group() == -1 && errno == EBUSY);
    struct vfio_group_status st = { .argsz = sizeof(st) };
    EXPECT("group viable", ioctl(g, VFIO_GROUP_GET_STATUS, &st) == 0 &&
                           (st.flags & VFIO_GROUP_FLAGS_VIABLE));
    EXPECT("device fd before SET_IOMMU is EINVAL",
           ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) == 0 &&
           ioctl(g, VFIO_GROUP_GET_DEVICE_FD, BDF) == -1 && errno == EINVAL);
    EXPECT("SET_IOMMU type1v2", ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    struct { struct vfio_iommu_type1_info info; uint8_t caps[256]; } ib = { .info.argsz = sizeof(ib) };
    EXPECT("GET_INFO with capabilities", ioctl(c, VFIO_IOMMU_GET_INFO, &ib) == 0 &&
           (ib.info.flags & VFIO_IOMMU_INFO_CAPS) && ib.info.cap_offset >= sizeof(ib.info) &&
           (ib.info.iova_pgsizes & 4096));

    uint8_t *buf = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("4 MiB of anonymous memory", buf != MAP_FAILED);
    if (buf == MAP_FAILED || g < 0 || c < 0)
        return 1;
    EXPECT("map 2 MiB", map(c, buf, IOVA, 2 << 20, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) == 0);
    type1_mistakes(c, buf);

    int dev = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, BDF);
    EXPECT("device fd", dev >= 0);
    EXPECT("an unknown device is ENODEV",
           ioctl(g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:1e.0") == -1 && errno == ENODEV);
    struct vfio_region_info r0 = { .argsz = sizeof(r0), .index = VFIO_PCI_BAR0_REGION_INDEX };
    EXPECT("BAR0 info", ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r0) == 0 && r0.size == 0x100000);
    void *m = mmap(NULL, r0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)r0.offset);
    EXPECT("BAR0 mmap", m != MAP_FAILED);
    if (m == MAP_FAILED)
        return 1;
    regs = m;
    EXPECT("edu identifies itself", (*(volatile uint32_t *)regs & 0xff) == 0xed);
    bar_sizing(dev);
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    uint16_t cmd;
    pread(dev, &cmd, 2, (off_t)rc.offset + 4);
    cmd |= 0x6;
    pwrite(dev, &cmd, 2, (off_t)rc.offset + 4);

    msi_through_eventfd(dev);
    intx_through_eventfd(dev);

    for (int i = 0; i < 4096; i++)
        buf[i] = (uint8_t)(i * 13 + 7);
    memset(buf + (2 << 20), 0x77, 4096);        /* just past the mapping: a canary */
    EXPECT("DMA to the device", dma(IOVA, EDU_BUF, 4096, 0));
    EXPECT("DMA back to memory", dma(EDU_BUF, IOVA + 0x10000, 4096, 1));
    EXPECT("round trip", memcmp(buf, buf + 0x10000, 4096) == 0);
    dma(EDU_BUF, IOVA + (2 << 20), 4096, 1);
    int intact = 1;
    for (int i = 0; i < 4096; i++)
        intact &= buf[(2 << 20) + i] == 0x77;
    EXPECT("memory past the mapping untouched", intact);

    /* Dirty logging: with no hardware dirty bits, every pinned page counts as dirty (type1). */
    struct { struct vfio_iommu_type1_dirty_bitmap h; struct vfio_iommu_type1_dirty_bitmap_get g; } dp;
    uint64_t bits[(4 << 20) / 4096 / 64] = { 0 };
    memset(&dp, 0, sizeof(dp));
    dp.h.argsz = sizeof(dp);
    dp.h.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    dp.g = (struct vfio_iommu_type1_dirty_bitmap_get){ .iova = IOVA, .size = 4 << 20,
        .bitmap = { .pgsize = 4096, .size = sizeof(bits), .data = (__u64 *)bits } };
    EXPECT("GET_BITMAP before START is EINVAL",
           ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &dp) == -1 && errno == EINVAL);
    struct vfio_iommu_type1_dirty_bitmap start = { .argsz = sizeof(start),
                                                   .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START };
    EXPECT("DIRTY_PAGES start", ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &start) == 0);
    EXPECT("GET_BITMAP", ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &dp) == 0);
    EXPECT("the mapped 2 MiB are dirty, the rest not",
           bits[0] == ~0ULL && bits[7] == ~0ULL && bits[8] == 0 && bits[15] == 0);
    start.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
    EXPECT("DIRTY_PAGES stop", ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &start) == 0);

    uint64_t done = 0;
    EXPECT("UNMAP_ALL", unmap(c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done) == 0 && done == (2 << 20));
    memset(buf + 0x20000, 0x66, 4096);
    dma(EDU_BUF, IOVA + 0x20000, 4096, 1);
    int stale = 1;
    for (int i = 0; i < 4096; i++)
        stale &= buf[0x20000 + i] == 0x66;
    EXPECT("no DMA after the unmap returned", stale);
    /* Memory unmapped by the program while still mapped for DMA is never reused: the runtime
     * quarantines it (and says so), and the device can still finish its DMA harmlessly. */
    uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("map one more page", p != MAP_FAILED &&
           map(c, p, IOVA + (8 << 20), 4096, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) == 0);
    EXPECT("munmap while DMA-mapped", munmap(p, 4096) == 0);
    EXPECT("DMA into it still completes", dma(EDU_BUF, IOVA + (8 << 20), 4096, 1));
    EXPECT("its unmap", unmap(c, IOVA + (8 << 20), 4096, 0, &done) == 0 && done == 4096);
    close(dev);
    EXPECT("UNSET_CONTAINER", ioctl(g, VFIO_GROUP_UNSET_CONTAINER) == 0);
    close(g);
    close(c);
    printf("edu_vfio: %d failed\n", failed);
    return failed ? 1 : 0;
}
