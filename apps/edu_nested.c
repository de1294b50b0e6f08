/*
 * edu_nested.c - nested translation the Linux way (Linux 6.13-6.15 IOMMUFD uapi, Arm SMMUv3):
 * the program owns stage 1, moat owns stage 2. It maps its own memory into an IOAS (the stage-2
 * parent: its "IPAs"), builds an Arm LPAE stage-1 table and a context descriptor in that memory,
 * makes a vIOMMU, gives the edu device a virtual StreamID, installs its STE words through a
 * nested HWPT and makes edu DMA through both stages, bytes checked. Then it moves a stage-1 page
 * and invalidates through the vIOMMU (IOMMU_HWPT_INVALIDATE), provokes a stage-1 fault (read
 * back from its vEVENTQ with the virtual StreamID) and a stage-2 fault (a stage-1 entry naming
 * an IPA outside the parent: moat blocks it, the canary page stays as it was).
 *
 *   ./moat run --arch aarch64 --iommu smmuv3 --topology tests/topologies/edu.txt \
 *              --app apps/edu_nested.c
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
#include <time.h>
#include <unistd.h>

/* Linux 6.13-6.15 uapi that a 6.12 <linux/iommufd.h> lacks, as a program built against older
 * headers carries it (numbers and layouts from Linux's include/uapi/linux/iommufd.h). */
#ifndef IOMMU_VIOMMU_ALLOC
#define IOMMU_VIOMMU_TYPE_ARM_SMMUV3 1
struct iommu_viommu_alloc {
    __u32 size, flags, type, dev_id, hwpt_id, out_viommu_id;
};
#define IOMMU_VIOMMU_ALLOC _IO(IOMMUFD_TYPE, 0x90)
struct iommu_vdevice_alloc {
    __u32 size, viommu_id, dev_id, out_vdevice_id;
    __aligned_u64 virt_id;
};
#define IOMMU_VDEVICE_ALLOC _IO(IOMMUFD_TYPE, 0x91)
#define IOMMU_HWPT_DATA_ARM_SMMUV3 2
#define IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 1
struct iommu_hwpt_arm_smmuv3 {
    __aligned_le64 ste[2];
};
struct iommu_viommu_arm_smmuv3_invalidate {
    __aligned_le64 cmd[2];
};
#endif
#ifndef IOMMU_VEVENTQ_ALLOC
#define IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 1
struct iommufd_vevent_header {
    __u32 flags, sequence;
};
struct iommu_vevent_arm_smmuv3 {
    __aligned_le64 evt[4];
};
struct iommu_veventq_alloc {
    __u32 size, flags, viommu_id, type, veventq_depth, out_veventq_id, out_veventq_fd, __reserved;
};
#define IOMMU_VEVENTQ_ALLOC _IO(IOMMUFD_TYPE, 0x93)
#endif

#define BDF "0000:00:03.0"
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_BUF 0x40000
#define HW_INFO_ARM_SMMUV3 2        /* enum iommu_hw_info_type (6.13) */

/* The program's pages and their IPAs (stage-2 input): CD, L1, L2, L3 tables, data A and B. */
enum { PG_CD, PG_L1, PG_L2, PG_L3, PG_A, PG_B, NR_PAGES };
#define IPA(i) (0x40000000ULL + (uint64_t)(i) * 4096)
#define IPA_OUTSIDE 0x7f000000ULL   /* never mapped in the IOAS */
/* Its IOVAs (stage-1 input; edu reaches 28 bits): one L1, L2 and L3 table cover them. */
#define IOVA_DATA 0x200000ULL       /* L3 index 0 */
#define IOVA_OUT 0x201000ULL        /* L3 index 1: later an IPA outside stage 2 */
#define IOVA_NONE 0x400000ULL       /* no L2 entry: a stage-1 translation fault */
#define ASID 5
#define VSID 0x77                   /* the program's name for the device */

/* Stage-1 (VMSAv8-64, 4 KiB granule) and SMMUv3 fields the program writes (IHI 0070 5.2, 5.4,
 * 4.4.2). */
#define STE0_V (1ULL << 0)
#define STE0_CFG_S1 (5ULL << 1)
#define STE1_S1CIR_WB (1ULL << 2)
#define STE1_S1COR_WB (1ULL << 4)
#define STE1_S1CSH_IS (3ULL << 6)
#define CD0_T0SZ(n) ((uint64_t)(n))
#define CD0_IR0_WB (1ULL << 8)
#define CD0_OR0_WB (1ULL << 10)
#define CD0_SH0_IS (3ULL << 12)
#define CD0_EPD1 (1ULL << 30)
#define CD0_V (1ULL << 31)
#define CD0_IPS_44 (4ULL << 32)
#define CD0_AA64 (1ULL << 41)
#define CD0_R (1ULL << 45)
#define CD0_A (1ULL << 46)
#define CD0_ASET (1ULL << 47)
#define CD0_ASID(a) ((uint64_t)(a) << 48)
#define MAIR 0x04ff44ULL            /* AttrIndx 0 normal NC, 1 normal WB, 2 device */
#define DESC_TABLE 3ULL
#define LEAF(ipa) ((ipa) | 3ULL | (1ULL << 2) /* AttrIndx 1 */ | (1ULL << 6) /* AP[1] */ | \
                   (3ULL << 8) /* inner shareable */ | (1ULL << 10) /* AF */ | (1ULL << 11))
#define CMD_TLBI_NH_VA 0x12ULL
#define CMD_CFGI_CD 0x05ULL
#define EVT_F_TRANSLATION 0x10

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

static int all(const uint8_t *p, uint8_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static int invalidate(int iommufd, uint32_t viommu_id, uint64_t w0, uint64_t w1)
{
    struct iommu_viommu_arm_smmuv3_invalidate c = { { w0, w1 } };
    struct iommu_hwpt_invalidate inv = {
        .size = sizeof(inv), .hwpt_id = viommu_id, .data_uptr = (uintptr_t)&c,
        .data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, .entry_len = sizeof(c),
        .entry_num = 1,
    };
    return ioctl(iommufd, IOMMU_HWPT_INVALIDATE, &inv) == 0 && inv.entry_num == 1;
}

int main(void)
{
    int iommufd = open("/dev/iommu", O_RDWR);
    int dev = open_cdev();
    EXPECT("open /dev/iommu and the device cdev", iommufd >= 0 && dev >= 0);
    if (iommufd < 0 || dev < 0)
        return 1;
    struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
    EXPECT("VFIO_DEVICE_BIND_IOMMUFD", ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == 0);
    struct iommu_hw_info hi = { .size = sizeof(hi), .dev_id = bind.out_devid };
    EXPECT("IOMMU_GET_HW_INFO", ioctl(iommufd, IOMMU_GET_HW_INFO, &hi) == 0);
    if (hi.out_data_type != HW_INFO_ARM_SMMUV3) {
        printf("skip: nesting runs on Arm SMMUv3 (--iommu smmuv3); this unit is type %u\n",
               hi.out_data_type);
        printf("edu_nested: %d failed\n", failed);
        return failed ? 1 : 0;
    }

    /* The program's memory: its tables and data, and a canary page it never maps. */
    uint8_t *pg = mmap(NULL, (NR_PAGES + 1) * 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("mmap anonymous", pg != MAP_FAILED);
    if (pg == MAP_FAILED)
        return 1;
    uint8_t *canary = pg + NR_PAGES * 4096;
    memset(pg, 0, (NR_PAGES + 1) * 4096);
    memset(pg + PG_A * 4096, 0xaa, 4096);
    memset(pg + PG_B * 4096, 0xbb, 4096);
    memset(canary, 0xcc, 4096);

    /* Stage 2: the IOAS maps each page at its IPA; a NEST_PARENT HWPT over it. */
    struct iommu_ioas_alloc al = { .size = sizeof(al) };
    EXPECT("IOMMU_IOAS_ALLOC", ioctl(iommufd, IOMMU_IOAS_ALLOC, &al) == 0);
    int mapped = 1;
    for (int i = 0; i < NR_PAGES; i++) {
        struct iommu_ioas_map m = {
            .size = sizeof(m), .ioas_id = al.out_ioas_id,
            .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                     IOMMU_IOAS_MAP_WRITEABLE,
            .user_va = (uintptr_t)(pg + i * 4096), .length = 4096, .iova = IPA(i),
        };
        mapped &= ioctl(iommufd, IOMMU_IOAS_MAP, &m) == 0;
    }
    EXPECT("IOMMU_IOAS_MAP of the program's pages at their IPAs", mapped);
    struct iommu_hwpt_alloc par = { .size = sizeof(par), .flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
                                    .dev_id = bind.out_devid, .pt_id = al.out_ioas_id };
    EXPECT("IOMMU_HWPT_ALLOC NEST_PARENT (stage 2)", ioctl(iommufd, IOMMU_HWPT_ALLOC, &par) == 0);
    struct iommu_viommu_alloc va = { .size = sizeof(va), .type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
                                     .dev_id = bind.out_devid, .hwpt_id = par.out_hwpt_id };
    EXPECT("IOMMU_VIOMMU_ALLOC (ARM_SMMUV3)", ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &va) == 0);
    struct iommu_vdevice_alloc vd = { .size = sizeof(vd), .viommu_id = va.out_viommu_id,
                                      .dev_id = bind.out_devid, .virt_id = VSID };
    EXPECT("IOMMU_VDEVICE_ALLOC (virtual StreamID)",
           ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vd) == 0);
    struct iommu_veventq_alloc qa = { .size = sizeof(qa), .viommu_id = va.out_viommu_id,
                                      .type = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, .veventq_depth = 16 };
    EXPECT("IOMMU_VEVENTQ_ALLOC", ioctl(iommufd, IOMMU_VEVENTQ_ALLOC, &qa) == 0);

    /* Stage 1, in the program's memory, naming IPAs. */
    uint64_t *cd = (uint64_t *)(pg + PG_CD * 4096);
    uint64_t *l1 = (uint64_t *)(pg + PG_L1 * 4096), *l2 = (uint64_t *)(pg + PG_L2 * 4096);
    uint64_t *l3 = (uint64_t *)(pg + PG_L3 * 4096);
    cd[0] = CD0_T0SZ(64 - 39) | CD0_IR0_WB | CD0_OR0_WB | CD0_SH0_IS | CD0_EPD1 | CD0_V |
            CD0_IPS_44 | CD0_AA64 | CD0_R | CD0_A | CD0_ASET | CD0_ASID(ASID);
    cd[1] = IPA(PG_L1);
    cd[3] = MAIR;
    l1[IOVA_DATA >> 30] = IPA(PG_L2) | DESC_TABLE;
    l2[(IOVA_DATA >> 21) & 511] = IPA(PG_L3) | DESC_TABLE;
    l3[(IOVA_DATA >> 12) & 511] = LEAF(IPA(PG_A));
    struct iommu_hwpt_arm_smmuv3 ste = { { STE0_V | STE0_CFG_S1 | IPA(PG_CD),
                                           STE1_S1CIR_WB | STE1_S1COR_WB | STE1_S1CSH_IS } };
    struct iommu_hwpt_alloc nh = { .size = sizeof(nh), .dev_id = bind.out_devid,
                                   .pt_id = va.out_viommu_id,
                                   .data_type = IOMMU_HWPT_DATA_ARM_SMMUV3,
                                   .data_len = sizeof(ste), .data_uptr = (uintptr_t)&ste };
    EXPECT("IOMMU_HWPT_ALLOC nested (the program's STE words)",
           ioctl(iommufd, IOMMU_HWPT_ALLOC, &nh) == 0);
    struct iommu_hwpt_arm_smmuv3 bad = ste;
    bad.ste[1] |= 1ULL << 30;                       /* STRW: not the program's to set */
    struct iommu_hwpt_alloc nb = nh;
    nb.data_uptr = (uintptr_t)&bad;
    EXPECT("an STE field a program may not set is EIO",
           ioctl(iommufd, IOMMU_HWPT_ALLOC, &nb) == -1 && errno == EIO);
    struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = nh.out_hwpt_id };
    EXPECT("attach the device to the nested HWPT",
           ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) == 0);

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

    /* Both stages: edu reads page A through IOVA_DATA and writes it back 256 bytes on. */
    uint8_t *a = pg + PG_A * 4096, *b = pg + PG_B * 4096;
    for (int i = 0; i < 256; i++)
        a[i] = (uint8_t)(i ^ 0x3c);
    EXPECT("DMA memory -> device through both stages", dma(IOVA_DATA, EDU_BUF, 256, 0));
    EXPECT("DMA device -> memory through both stages", dma(EDU_BUF, IOVA_DATA + 256, 256, 1));
    int same = 1;
    for (int i = 0; i < 256; i++)
        same &= a[256 + i] == (uint8_t)(i ^ 0x3c);
    EXPECT("the bytes arrived where stage 1 and stage 2 put them", same);
    EXPECT("the rest of page A and page B untouched",
           all(a + 512, 0xaa, 4096 - 512) && all(b, 0xbb, 4096) && all(canary, 0xcc, 4096));

    /* Stage 1 moves IOVA_DATA to page B. Without an invalidation, what the unit shows. */
    l3[(IOVA_DATA >> 12) & 511] = LEAF(IPA(PG_B));
    dma(EDU_BUF, IOVA_DATA + 1024, 256, 1);
    printf("without an invalidation the unit wrote to page %s\n",
           !all(b, 0xbb, 4096) ? "B (no stale translation)"
                               : !all(a + 1024, 0xaa, 256) ? "A (its cached translation)"
                                                           : "neither");
    memset(a + 1024, 0xaa, 256);
    memset(b, 0xbb, 4096);
    EXPECT("IOMMU_HWPT_INVALIDATE on the vIOMMU: TLBI_NH_VA (VMID forced by moat)",
           invalidate(iommufd, va.out_viommu_id, CMD_TLBI_NH_VA | ((uint64_t)ASID << 48),
                      IOVA_DATA));
    EXPECT("DMA after the invalidation", dma(EDU_BUF, IOVA_DATA + 2048, 256, 1));
    same = 1;
    for (int i = 0; i < 256; i++)
        same &= b[2048 + i] == (uint8_t)(i ^ 0x3c);
    EXPECT("it went to page B, page A kept its bytes", same && all(a + 2048, 0xaa, 256));
    EXPECT("CFGI_CD with the virtual StreamID",
           invalidate(iommufd, va.out_viommu_id, CMD_CFGI_CD | ((uint64_t)VSID << 32), 1));
    errno = 0;
    EXPECT("CFGI_CD naming a StreamID without a vDEVICE is EIO",
           !invalidate(iommufd, va.out_viommu_id, CMD_CFGI_CD | (0x12ULL << 32), 1) &&
               errno == EIO);

    /* A stage-1 fault: the program's own, on its vEVENTQ with its virtual StreamID. */
    dma(EDU_BUF, IOVA_NONE, 64, 1);
    struct pollfd p = { .fd = (int)qa.out_veventq_fd, .events = POLLIN };
    EXPECT("poll: the vEVENTQ has an event", poll(&p, 1, 2000) == 1 && (p.revents & POLLIN));
    uint8_t ev[64];
    ssize_t n = read((int)qa.out_veventq_fd, ev, sizeof(ev));
    struct iommufd_vevent_header hdr;
    struct iommu_vevent_arm_smmuv3 rec;
    memset(&rec, 0, sizeof(rec));
    memcpy(&hdr, ev, sizeof(hdr));
    if (n >= (ssize_t)(sizeof(hdr) + sizeof(rec)))
        memcpy(&rec, ev + sizeof(hdr), sizeof(rec));
    printf("vevent: %zd bytes, flags %#x seq %u, evt %#llx %#llx %#llx\n", n, hdr.flags,
           hdr.sequence, (unsigned long long)rec.evt[0], (unsigned long long)rec.evt[1],
           (unsigned long long)rec.evt[2]);
    EXPECT("a stage-1 F_TRANSLATION at the IOVA, with the virtual StreamID",
           n == (ssize_t)(sizeof(hdr) + sizeof(rec)) && hdr.flags == 0 &&
               (rec.evt[0] & 0xff) == EVT_F_TRANSLATION && (rec.evt[0] >> 32) == VSID &&
               rec.evt[2] == IOVA_NONE && !(rec.evt[1] & (1ULL << 39)));
    /* The unit records each access of the transfer: the rest follow, in order. */
    int more = 0, in_order = 1;
    uint32_t seq = hdr.sequence;
    while ((n = read((int)qa.out_veventq_fd, ev, sizeof(ev))) == (ssize_t)(sizeof(hdr) +
                                                                            sizeof(rec))) {
        memcpy(&hdr, ev, sizeof(hdr));
        memcpy(&rec, ev + sizeof(hdr), sizeof(rec));
        in_order &= hdr.sequence == ++seq && (rec.evt[0] >> 32) == VSID &&
                    rec.evt[2] > IOVA_NONE && rec.evt[2] < IOVA_NONE + 64;
        more++;
    }
    printf("the transfer's other records: %d\n", more);
    EXPECT("they are the same transfer's, sequence numbers without a gap", n == 0 && in_order);

    /* A stage-2 fault: stage 1 names an IPA moat's stage 2 does not map. */
    l3[(IOVA_OUT >> 12) & 511] = LEAF(IPA_OUTSIDE);
    invalidate(iommufd, va.out_viommu_id, CMD_TLBI_NH_VA | ((uint64_t)ASID << 48), IOVA_OUT);
    dma(EDU_BUF, IOVA_OUT, 4096, 1);
    usleep(20000);
    n = read((int)qa.out_veventq_fd, ev, sizeof(ev));
    memset(&rec, 0, sizeof(rec));
    if (n >= (ssize_t)(sizeof(hdr) + sizeof(rec)))
        memcpy(&rec, ev + sizeof(hdr), sizeof(rec));
    printf("after the stage-2 fault the vEVENTQ read %zd bytes (evt %#llx %#llx %#llx %#llx)\n",
           n, (unsigned long long)rec.evt[0], (unsigned long long)rec.evt[1],
           (unsigned long long)rec.evt[2], (unsigned long long)rec.evt[3]);
    EXPECT("stage 2 stopped it: not the program's event", n == 0);
    EXPECT("every page the program did not send it to is as it was",
           all(canary, 0xcc, 4096) && all(b, 0xbb, 2048) && all(a + 512, 0xaa, 4096 - 512));

    /* What a nested map costs against a stage-2 map, in this run: the program's stage-1 update
     * and its TLBI_NH_VA through the vIOMMU, against IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP of a page
     * in the parent (the unmap waits for its invalidation). */
    enum { ROUNDS = 200 };
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ok = 1;
    for (int i = 0; i < ROUNDS; i++) {
        l3[(IOVA_DATA >> 12) & 511] = LEAF(IPA(i & 1 ? PG_A : PG_B));
        ok &= invalidate(iommufd, va.out_viommu_id, CMD_TLBI_NH_VA | ((uint64_t)ASID << 48),
                         IOVA_DATA);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int i = 0; i < ROUNDS; i++) {
        struct iommu_ioas_map mp = {
            .size = sizeof(mp), .ioas_id = al.out_ioas_id,
            .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                     IOMMU_IOAS_MAP_WRITEABLE,
            .user_va = (uintptr_t)canary, .length = 4096, .iova = IPA(64),
        };
        struct iommu_ioas_unmap um = { .size = sizeof(um), .ioas_id = al.out_ioas_id,
                                       .iova = IPA(64), .length = 4096 };
        ok &= ioctl(iommufd, IOMMU_IOAS_MAP, &mp) == 0 && ioctl(iommufd, IOMMU_IOAS_UNMAP, &um) == 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &t2);
    EXPECT("the timed rounds all succeeded", ok);
    long long s1 = ((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)) / ROUNDS;
    long long s2 = ((t2.tv_sec - t1.tv_sec) * 1000000000LL + (t2.tv_nsec - t1.tv_nsec)) / ROUNDS;
    printf("bench nested_s1_update_inval_4k %lld ns\n", s1);
    printf("bench nested_s2_map_unmap_4k %lld ns\n", s2);
    long long r = s2 ? s1 * 100 / s2 : 0;       /* no floating point in moat's programs */
    printf("bench nested_s1_vs_s2_ratio %lld.%02lld x\n", r / 100, r % 100);

    /* Destroy rules, then the teardown. */
    struct iommu_destroy d = { .size = sizeof(d), .id = va.out_viommu_id };
    EXPECT("the vIOMMU is busy while used", ioctl(iommufd, IOMMU_DESTROY, &d) == -1 &&
                                                errno == EBUSY);
    d.id = par.out_hwpt_id;
    EXPECT("the parent is busy while used", ioctl(iommufd, IOMMU_DESTROY, &d) == -1 &&
                                                errno == EBUSY);
    struct vfio_device_detach_iommufd_pt det = { .argsz = sizeof(det) };
    EXPECT("VFIO_DEVICE_DETACH_IOMMUFD_PT", ioctl(dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &det) == 0);
    close((int)qa.out_veventq_fd);
    int gone = 1;
    uint32_t ids[] = { nh.out_hwpt_id, vd.out_vdevice_id, qa.out_veventq_id, va.out_viommu_id,
                       par.out_hwpt_id };
    for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        d.id = ids[i];
        gone &= ioctl(iommufd, IOMMU_DESTROY, &d) == 0;
    }
    EXPECT("IOMMU_DESTROY: nested HWPT, vDEVICE, vEVENTQ, vIOMMU, parent", gone);
    close(dev);
    close(iommufd);
    printf("edu_nested: %d failed\n", failed);
    return failed ? 1 : 0;
}
