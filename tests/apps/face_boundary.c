/*
 * face_boundary.c - the Linux face's memory boundary, attacked as a Linux program would by
 * mistake (or on purpose): every pointer handed to map (type1 and IOMMUFD), pread/pwrite,
 * read/write, ioctl arguments, path strings, poll arrays and mmap/munmap/mprotect that is not
 * the program's own memory, or not at the protection the call needs. Each line names Linux
 * 6.12's answer; moat must give the same (the few deliberate differences say "moat:"), keep
 * running, and leave the runtime's memory byte for byte as it was after the edu device is told
 * to DMA into it. The runtime's addresses come from /sys/kernel/moat/targets/ (readlink).
 *
 *   ./moat run --topology tests/topologies/edu.txt --app tests/apps/face_boundary.c
 */
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

#define BDF "0000:00:03.0"
#define IOVA_OWN 0x1000000ULL       /* the program's own mappings (edu masks DMA to 28 bits) */
#define IOVA_ATTACK 0x4000000ULL    /* where each refused target would have been mapped */
#define EDU_BUF 0x40000
#define PG 4096UL
#define FILL 0x5a                   /* what the edu is told to write */

static int failed, cases;
static volatile uint8_t *regs;
static int container, group, dev, iommufd;
static uint32_t ioas;
static uint64_t cfg_off;
static struct vfio_region_info bar0;

#define EXPECT(what, cond)                                                          \
    do {                                                                            \
        int ok_ = !!(cond);                                                         \
        printf("%s %s\n", ok_ ? "ok:  " : "FAIL:", what);                           \
        failed += !ok_;                                                             \
        cases++;                                                                    \
    } while (0)

static int is_err(long r, int e)
{
    return r == -1 && errno == e;
}

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

static long type1_map(const void *va, uint64_t iova, uint64_t size, uint32_t flags)
{
    struct vfio_iommu_type1_dma_map m = { .argsz = sizeof(m), .flags = flags,
                                          .vaddr = (uintptr_t)va, .iova = iova, .size = size };
    return ioctl(container, VFIO_IOMMU_MAP_DMA, &m);
}

static long type1_unmap(uint64_t iova, uint64_t size)
{
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = size };
    return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u);
}

static long ioas_map(const void *va, uint64_t iova, uint64_t len, uint32_t flags)
{
    struct iommu_ioas_map m = { .size = sizeof(m), .ioas_id = ioas, .user_va = (uintptr_t)va,
                                .length = len, .iova = iova,
                                .flags = flags | IOMMU_IOAS_MAP_FIXED_IOVA };
    return ioctl(iommufd, IOMMU_IOAS_MAP, &m);
}

static long ioas_unmap(uint64_t iova, uint64_t len)
{
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len };
    return ioctl(iommufd, IOMMU_IOAS_UNMAP, &u);
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define FD_RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

static void line(char *buf, size_t n, const char *a, const char *b)
{
    snprintf(buf, n, "%s: %s", a, b);
}

/* Every call that takes a pointer, aimed at addr: each must be EFAULT (as on Linux). Map calls
 * only for page-aligned addresses (a misaligned vaddr is EINVAL before anything is pinned). */
static void pointer_calls(const char *name, void *addr, int efd)
{
    char w[160];
    struct pollfd *pf = addr;
    if ((uintptr_t)addr & (PG - 1))
        goto no_maps;
    line(w, sizeof(w), name, "type1 MAP_DMA read+write is EFAULT");
    EXPECT(w, is_err(type1_map(addr, IOVA_ATTACK, PG, RW), EFAULT));
    line(w, sizeof(w), name, "type1 MAP_DMA read-only is EFAULT");
    EXPECT(w, is_err(type1_map(addr, IOVA_ATTACK, PG, VFIO_DMA_MAP_FLAG_READ), EFAULT));
    line(w, sizeof(w), name, "IOMMU_IOAS_MAP is EFAULT");
    EXPECT(w, is_err(ioas_map(addr, IOVA_ATTACK, PG, FD_RW), EFAULT));
no_maps:
    line(w, sizeof(w), name, "pread of config space into it is EFAULT");
    EXPECT(w, is_err(pread(dev, addr, 4, (off_t)cfg_off), EFAULT));
    line(w, sizeof(w), name, "pwrite from it is EFAULT");
    EXPECT(w, is_err(pwrite(dev, addr, 2, (off_t)cfg_off), EFAULT));
    line(w, sizeof(w), name, "pread of BAR0 into it is EFAULT");
    EXPECT(w, is_err(pread(dev, addr, 4, 0), EFAULT));
    line(w, sizeof(w), name, "read of an eventfd into it is EFAULT, the count kept");
    uint64_t v = 0;
    EXPECT(w, is_err(read(efd, addr, 8), EFAULT) && read(efd, &v, 8) == 8 && v == 1 &&
              write(efd, &v, 8) == 8);
    line(w, sizeof(w), name, "write of an eventfd from it is EFAULT");
    EXPECT(w, is_err(write(efd, addr, 8), EFAULT));
    line(w, sizeof(w), name, "ioctl VFIO_IOMMU_MAP_DMA with it as the argument is EFAULT");
    EXPECT(w, is_err(ioctl(container, VFIO_IOMMU_MAP_DMA, addr), EFAULT));
    line(w, sizeof(w), name, "ioctl VFIO_DEVICE_GET_INFO with it as the argument is EFAULT");
    EXPECT(w, is_err(ioctl(dev, VFIO_DEVICE_GET_INFO, addr), EFAULT));
    line(w, sizeof(w), name, "ioctl VFIO_GROUP_GET_STATUS with it as the argument is EFAULT");
    EXPECT(w, is_err(ioctl(group, VFIO_GROUP_GET_STATUS, addr), EFAULT));
    line(w, sizeof(w), name, "ioctl VFIO_GROUP_GET_DEVICE_FD with it as the name is EFAULT");
    EXPECT(w, is_err(ioctl(group, VFIO_GROUP_GET_DEVICE_FD, addr), EFAULT));
    line(w, sizeof(w), name, "ioctl IOMMU_IOAS_ALLOC with it as the argument is EFAULT");
    EXPECT(w, is_err(ioctl(iommufd, IOMMU_IOAS_ALLOC, addr), EFAULT));
    line(w, sizeof(w), name, "open of it as a path is EFAULT");
    EXPECT(w, is_err(open((const char *)addr, O_RDWR), EFAULT));
    line(w, sizeof(w), name, "readlink of it as a path is EFAULT");
    char lb[64];
    EXPECT(w, is_err(readlink((const char *)addr, lb, sizeof(lb)), EFAULT));
    line(w, sizeof(w), name, "readlink into it is EFAULT");
    EXPECT(w, is_err(readlink("/sys/bus/pci/devices/" BDF "/iommu_group", (char *)addr, 64),
                     EFAULT));
    line(w, sizeof(w), name, "poll of it as the array is EFAULT");
    EXPECT(w, is_err(poll(pf, 1, 0), EFAULT));
}

/* The runtime's memory: refused everywhere, and unchanged after the edu DMAs at the IOVA it
 * would have had. Stable memory is compared byte for byte; memory the runtime itself changes
 * while it runs (data, bss, heap, stacks) must not hold what the edu wrote. */
static void runtime_target(const char *name, int stable, int efd, uint8_t *fill_page)
{
    char path[96], link[32], w[160];
    snprintf(path, sizeof(path), "/sys/kernel/moat/targets/%s", name);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0) {
        printf("skip: %s (no such target on this machine)\n", name);
        return;
    }
    link[n] = 0;
    uint8_t *a = (uint8_t *)(uintptr_t)(strtoull(link, NULL, 16) & ~(PG - 1));
    uint8_t *before = malloc(PG);
    memcpy(before, a, PG);
    pointer_calls(name, a, efd);
    /* the edu writes where the mapping would have been: the IOMMU refuses it */
    EXPECT("edu buffer filled from the program's page", dma(IOVA_OWN, EDU_BUF, PG, 0));
    dma(EDU_BUF, IOVA_ATTACK, PG, 1);
    line(w, sizeof(w), name, stable ? "byte for byte unchanged after the edu's DMA"
                                    : "holds nothing the edu wrote");
    if (stable) {
        EXPECT(w, memcmp(before, a, PG) == 0);
    } else {
        int found = 0;
        for (size_t i = 0; i + 64 <= PG && !found; i += 64)
            found = memcmp(a + i, fill_page, 64) == 0 && memcmp(before + i, fill_page, 64) != 0;
        EXPECT(w, !found);
    }
    free(before);
}

static void odd_addresses(int efd)
{
    static const struct { const char *name; uintptr_t a; } odd[] = {
        { "the zero page", 0x0 },
        { "address 0x10 (the issue's bad pointer)", 0x10 },
        { "the first non-canonical address", 0x0000800000000000ULL },
        { "a non-canonical address", 0xdead000000000000ULL },
        { "the kernel half", 0xffff800000000000ULL },
        { "the last page of the address space", 0xfffffffffffff000ULL },
    };
    for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        pointer_calls(odd[i].name, (void *)odd[i].a, efd);
}

static void wrapping_sizes(uint8_t *buf, int efd)
{
    uint64_t wrap = (0 - (uint64_t)(uintptr_t)buf) & ~(PG - 1);
    EXPECT("type1 MAP_DMA whose vaddr + size wraps is EOVERFLOW (Linux 6.18)",
           is_err(type1_map(buf, IOVA_ATTACK, wrap + PG, RW), EOVERFLOW));
    EXPECT("IOMMU_IOAS_MAP whose user_va + length wraps is EOVERFLOW",
           is_err(ioas_map(buf, 0, wrap + PG, FD_RW), EOVERFLOW));
    EXPECT("pread of SIZE_MAX bytes is EFAULT",
           is_err(pread(dev, buf, SIZE_MAX, (off_t)cfg_off), EFAULT));
    EXPECT("read of SIZE_MAX bytes from an eventfd is EFAULT", is_err(read(efd, buf, SIZE_MAX), EFAULT));
}

/* The program's own memory at its edges: what is past it, straddles it or was given back. */
static void program_edges(int efd)
{
    const size_t len = 16 * PG;
    uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("16 pages of anonymous memory", buf != MAP_FAILED);
    pointer_calls("just past an anonymous mapping", buf + len, efd);
    EXPECT("type1 MAP_DMA straddling the end of a mapping is EFAULT",
           is_err(type1_map(buf + len - PG, IOVA_ATTACK, 2 * PG, RW), EFAULT));
    EXPECT("IOMMU_IOAS_MAP straddling the end of a mapping is EFAULT",
           is_err(ioas_map(buf + len - PG, IOVA_ATTACK, 2 * PG, FD_RW), EFAULT));
    EXPECT("pread straddling the end of a mapping is EFAULT",
           is_err(pread(dev, buf + len - 2, 4, (off_t)cfg_off), EFAULT));
    EXPECT("poll array straddling the end of a mapping is EFAULT",
           is_err(poll((struct pollfd *)(buf + len - 8), 2, 0), EFAULT));
    memcpy(buf + len - 14, "/dev/vfio/vfio", 14);      /* no terminator before the end */
    EXPECT("open of a path running off the end of a mapping is EFAULT",
           is_err(open((const char *)(buf + len - 14), O_RDWR), EFAULT));
    char *longpath = malloc(5000);
    memset(longpath, 'a', 4999);
    longpath[0] = '/';
    longpath[4999] = 0;
    EXPECT("open of a 4999-byte path is ENAMETOOLONG", is_err(open(longpath, O_RDWR), ENAMETOOLONG));
    free(longpath);

    uint8_t *gone = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("munmap of a mapping", gone != MAP_FAILED && munmap(gone, 2 * PG) == 0);
    EXPECT("type1 MAP_DMA of memory given back is EFAULT",
           is_err(type1_map(gone, IOVA_ATTACK, PG, RW), EFAULT));
    EXPECT("IOMMU_IOAS_MAP of memory given back is EFAULT",
           is_err(ioas_map(gone, IOVA_ATTACK, PG, FD_RW), EFAULT));
    EXPECT("pread into memory given back is EFAULT", is_err(pread(dev, gone, 4, (off_t)cfg_off), EFAULT));
    EXPECT("type1 MAP_DMA running past the end of a mapping is EFAULT",
           is_err(type1_map(buf + len - 2 * PG, IOVA_ATTACK, 4 * PG, RW), EFAULT));
    EXPECT("munmap of a misaligned address is EINVAL", is_err(munmap(buf + 1, PG), EINVAL));
    munmap(buf, len);
}

/* A device-writable mapping needs memory the program can write (the read-only defect). */
static void protections(void)
{
    uint8_t *ro = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("a read-only mapping", ro != MAP_FAILED);
    EXPECT("type1 MAP_DMA read+write of PROT_READ memory is EFAULT",
           is_err(type1_map(ro, IOVA_ATTACK, PG, RW), EFAULT));
    EXPECT("type1 MAP_DMA write-only of PROT_READ memory is EFAULT",
           is_err(type1_map(ro, IOVA_ATTACK, PG, VFIO_DMA_MAP_FLAG_WRITE), EFAULT));
    EXPECT("type1 MAP_DMA read-only of PROT_READ memory is allowed",
           type1_map(ro, IOVA_ATTACK, PG, VFIO_DMA_MAP_FLAG_READ) == 0 && type1_unmap(IOVA_ATTACK, PG) == 0);
    EXPECT("IOMMU_IOAS_MAP writeable of PROT_READ memory is EFAULT",
           is_err(ioas_map(ro, IOVA_ATTACK, PG, FD_RW), EFAULT));
    EXPECT("IOMMU_IOAS_MAP readable of PROT_READ memory is allowed",
           ioas_map(ro, IOVA_ATTACK, PG, IOMMU_IOAS_MAP_READABLE) == 0 && ioas_unmap(IOVA_ATTACK, PG) == 0);
    EXPECT("pread into PROT_READ memory is EFAULT", is_err(pread(dev, ro, 4, (off_t)cfg_off), EFAULT));
    EXPECT("pwrite from PROT_READ memory works", pwrite(dev, ro, 2, (off_t)cfg_off) == 2);

    /* mprotect after the map: Linux keeps the pin and the device's write access */
    uint8_t *rw = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("type1 MAP_DMA read+write of writable memory",
           rw != MAP_FAILED && type1_map(rw, IOVA_ATTACK, PG, RW) == 0);
    EXPECT("mprotect PROT_READ of memory a device may write succeeds", mprotect(rw, PG, PROT_READ) == 0);
    dma(EDU_BUF, IOVA_ATTACK, PG, 1);
    EXPECT("the device still writes it (the pin outlives the CPU's protection)", rw[0] == FILL && rw[PG - 1] == FILL);
    EXPECT("a new read+write map of it is EFAULT", is_err(type1_map(rw, IOVA_ATTACK + PG, PG, RW), EFAULT));
    EXPECT("unmap", type1_unmap(IOVA_ATTACK, PG) == 0);
    EXPECT("mprotect back to read+write", mprotect(rw, PG, PROT_READ | PROT_WRITE) == 0);
    EXPECT("mprotect of the runtime's text is ENOMEM",
           is_err(mprotect((void *)0x100000, PG, PROT_READ | PROT_WRITE), ENOMEM));
    EXPECT("mprotect of a misaligned address is EINVAL", is_err(mprotect(rw + 1, PG, PROT_READ), EINVAL));
    EXPECT("munmap of the runtime's text is EINVAL", is_err(munmap((void *)0x100000, PG), EINVAL));
    munmap(rw, PG);
    munmap(ro, 2 * PG);
}

static uint8_t static_buf[2 * PG] __attribute__((aligned(4096)));
static const uint8_t static_ro[PG] __attribute__((aligned(4096))) = { 1 };

/* Memory that is the program's: heap, static data, stack, a BAR it mapped. */
static void program_kinds(int efd, uint8_t *own)
{
    uint8_t *heap = NULL;
    EXPECT("posix_memalign of 2 pages", posix_memalign((void **)&heap, PG, 2 * PG) == 0);
    memset(heap, 0, 2 * PG);    /* malloc'd memory may be reused: the checks below need zeros */
    EXPECT("type1 MAP_DMA of heap memory", type1_map(heap, IOVA_ATTACK, 2 * PG, RW) == 0);
    EXPECT("the edu writes the heap buffer",
           dma(EDU_BUF, IOVA_ATTACK + PG, PG, 1) && heap[PG] == FILL && heap[2 * PG - 1] == FILL && heap[0] == 0);
    EXPECT("unmap", type1_unmap(IOVA_ATTACK, 2 * PG) == 0);
    struct vfio_device_info *info = malloc(sizeof(*info));
    info->argsz = sizeof(*info);
    EXPECT("ioctl arguments on the heap", ioctl(dev, VFIO_DEVICE_GET_INFO, info) == 0 && info->num_regions == 9);
    free(info);
    free(heap);

    EXPECT("type1 MAP_DMA of static data", type1_map(static_buf, IOVA_ATTACK, 2 * PG, RW) == 0);
    EXPECT("the edu writes the static buffer",
           dma(EDU_BUF, IOVA_ATTACK, PG, 1) && static_buf[0] == FILL && static_buf[PG] == 0);
    EXPECT("unmap", type1_unmap(IOVA_ATTACK, 2 * PG) == 0);
    EXPECT("IOMMU_IOAS_MAP of static data", ioas_map(static_buf, IOVA_ATTACK, PG, FD_RW) == 0 &&
                                            ioas_unmap(IOVA_ATTACK, PG) == 0);
    EXPECT("type1 MAP_DMA read+write of read-only static data is EFAULT",
           is_err(type1_map(static_ro, IOVA_ATTACK, PG, RW), EFAULT));
    EXPECT("type1 MAP_DMA read-only of read-only static data is allowed",
           type1_map(static_ro, IOVA_ATTACK, PG, VFIO_DMA_MAP_FLAG_READ) == 0 &&
           type1_unmap(IOVA_ATTACK, PG) == 0);

    uint8_t local[2 * PG];
    uint8_t *page = (uint8_t *)(((uintptr_t)local + PG - 1) & ~(PG - 1));
    uint32_t id = 0;
    EXPECT("pread into a stack variable", pread(dev, &id, 4, (off_t)cfg_off) == 4 && (id & 0xffff) == 0x1234);
    EXPECT("moat: type1 MAP_DMA of the stack is EFAULT (Linux allows it; here the runtime's frames share it)",
           is_err(type1_map(page, IOVA_ATTACK, PG, RW), EFAULT));
    EXPECT("moat: pread below the caller's frame (the runtime's own frames) is EFAULT",
           is_err(pread(dev, (uint8_t *)__builtin_frame_address(0) - 3 * PG, 4, (off_t)cfg_off), EFAULT));

    /* Linux 6.12: type1 maps a VM_PFNMAP BAR mapping (peer-to-peer); IOMMUFD pins pages and
     * refuses it */
    EXPECT("type1 MAP_DMA of the program's BAR0 mapping is allowed",
           type1_map((void *)regs, IOVA_ATTACK, PG, RW) == 0 && type1_unmap(IOVA_ATTACK, PG) == 0);
    EXPECT("IOMMU_IOAS_MAP of the program's BAR0 mapping is EFAULT",
           is_err(ioas_map((void *)regs, IOVA_ATTACK, PG, FD_RW), EFAULT));
    (void)efd;
    (void)own;
}

/* Linux's VFIO selftests map a BAR this way (mmap_reserve): PROT_NONE address space twice the
 * BAR's size, the parts outside a window aligned to that size unmapped, the BAR mapped into the
 * window with MAP_FIXED. The window then reaches the same registers; a MAP_FIXED that fails
 * leaves what was mapped there. */
static void fixed_bar(void)
{
    size_t size = bar0.size;
    uint8_t *base = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("PROT_NONE space for the BAR", base != MAP_FAILED);
    if (base == MAP_FAILED)
        return;
    uint8_t *win = (uint8_t *)(((uintptr_t)base + size - 1) & ~(uintptr_t)(size - 1));
    EXPECT("unmap below and above the aligned window",
           (win == base || munmap(base, (size_t)(win - base)) == 0) &&
           munmap(win + size, (size_t)(base + size - win)) == 0);
    volatile uint8_t *bar = mmap(win, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, dev,
                                 (off_t)bar0.offset);
    EXPECT("MAP_FIXED of BAR 0 into the window", bar == win);
    if (bar != win)
        return;
    EXPECT("the window reads the edu's identification",
           *(volatile uint32_t *)bar == 0x010000edu && *(volatile uint32_t *)regs == 0x010000edu);
    *(volatile uint32_t *)(bar + 4) = 0x12345678u;     /* the liveness register inverts */
    EXPECT("a write through the window reaches the device", *(volatile uint32_t *)(regs + 4) == ~0x12345678u);
    EXPECT("munmap of the window", munmap(win, size) == 0);
    uint8_t *page = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(page, FILL, PG);
    EXPECT("MAP_FIXED of a region the device does not have fails",
           mmap(page, PG, PROT_READ, MAP_SHARED | MAP_FIXED, dev, (off_t)(40ULL << 40)) == MAP_FAILED);
    EXPECT("and leaves the page as it was", page[0] == FILL && page[PG - 1] == FILL);
    munmap(page, PG);
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

static int setup(uint8_t **own)
{
    container = open("/dev/vfio/vfio", O_RDWR);
    group = open_group();
    EXPECT("container and group", container >= 0 && group >= 0 &&
           ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) == 0 &&
           ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, BDF);
    struct vfio_region_info r0 = { .argsz = sizeof(r0), .index = VFIO_PCI_BAR0_REGION_INDEX };
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    EXPECT("device fd and its regions", dev >= 0 && ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r0) == 0 &&
           ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc) == 0);
    cfg_off = rc.offset;
    bar0 = r0;
    void *m = mmap(NULL, r0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)r0.offset);
    if (m == MAP_FAILED)
        return -1;
    regs = m;
    uint16_t cmd;
    pread(dev, &cmd, 2, (off_t)cfg_off + 4);
    cmd |= 0x6;             /* memory space and bus mastering */
    pwrite(dev, &cmd, 2, (off_t)cfg_off + 4);

    iommufd = open("/dev/iommu", O_RDWR);
    struct iommu_ioas_alloc a = { .size = sizeof(a) };
    EXPECT("/dev/iommu and an IOAS", iommufd >= 0 && ioctl(iommufd, IOMMU_IOAS_ALLOC, &a) == 0);
    ioas = a.out_ioas_id;

    *own = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (*own == MAP_FAILED)
        return -1;
    memset(*own, FILL, PG);
    EXPECT("the program's own page mapped for the edu to read",
           type1_map(*own, IOVA_OWN, PG, VFIO_DMA_MAP_FLAG_READ) == 0);
    return 0;
}

int main(void)
{
    uint8_t *own;
    if (setup(&own))
        return 1;
    int efd = eventfd(1, EFD_NONBLOCK);
    EXPECT("an eventfd holding 1", efd >= 0);

    static const struct { const char *name; int stable; } targets[] = {
        { "text", 1 }, { "rodata", 1 }, { "iommu_root", 1 }, { "page_table", 1 },
        { "driver_page", 1 }, { "other_dma", 1 }, { "data", 0 }, { "bss", 0 }, { "heap", 0 }, { "kernel_stack", 0 },
    };
    for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
        runtime_target(targets[i].name, targets[i].stable, efd, own);
    odd_addresses(efd);
    wrapping_sizes(own, efd);
    program_edges(efd);
    protections();
    program_kinds(efd, own);
    fixed_bar();
    EXPECT("the runtime still answers", ioctl(container, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
    printf("face_boundary: %d cases, %d failed\n", cases, failed);
    return failed != 0;
}
