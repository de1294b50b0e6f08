/*
 * nvme_vfio.c - a user-space NVMe driver written the way a Linux VFIO program is: the device's
 * group found through /sys/bus/pci/devices/<BDF>/iommu_group, a type1v2 container, BAR0 mmap'ed
 * through VFIO_DEVICE_GET_REGION_INFO, anonymous memory mapped for DMA with VFIO_IOMMU_MAP_DMA,
 * and MSI-X vectors delivered to eventfds (VFIO_DEVICE_SET_IRQS) that the program poll()s.
 *
 * It resets and enables the controller (CC/CSTS handshake, bounded by CAP.TO), builds the admin
 * queue pair, identifies the controller and namespace 1, creates an I/O completion queue on MSI-X
 * vector 1 and its submission queue, writes patterns with one page, two pages and a PRP list,
 * reads them back and compares every byte. Then MSI-X is torn down and re-armed with fresh
 * eventfds more times than an interrupt remapping table has entries (256 on VT-d, 512 per device
 * on AMD-Vi), with an I/O that must be signalled every few rounds; and commands whose data
 * pointers or PRP list lie outside the DMA mapping must not reach memory: the canary pages on
 * either side of the mapped buffer stay intact and the controller keeps working.
 *
 *   tools/run-with-disks.sh --app apps/nvme_vfio.c --cmdline drivers=edu,virtio-blk
 *
 * (--cmdline drivers= keeps moat's own NVMe driver off the device, as binding it to vfio-pci
 * would on Linux; run-with-disks.sh backs the namespace with a real file, so that what is
 * written can be read back.)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BDF "0000:00:05.0"

/* Controller registers (NVMe base specification 2.0, section 3.1.4). */
#define REG_CAP 0x00
#define REG_VS 0x08
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30
#define REG_DBS 0x1000
#define CAP_MQES(c) ((uint32_t)((c) & 0xffff))          /* 15:0, zero-based */
#define CAP_TO(c) ((uint32_t)(((c) >> 24) & 0xff))      /* 31:24, 500 ms units */
#define CAP_DSTRD(c) ((uint32_t)(((c) >> 32) & 0xf))    /* 35:32 */
#define CAP_CSS_NVM(c) (((c) >> 37) & 1)                /* 44:37, bit 0: NVM command set */
#define CAP_MPSMIN(c) ((uint32_t)(((c) >> 48) & 0xf))   /* 51:48 */
#define CC_EN 0x1u
#define CC_SHN_NORMAL (1u << 14)                        /* 15:14 */
#define CC_IOSQES(n) ((uint32_t)(n) << 16)              /* 19:16, log2 of 64 */
#define CC_IOCQES(n) ((uint32_t)(n) << 20)              /* 23:20, log2 of 16 */
#define CSTS_RDY 0x1u
#define CSTS_CFS 0x2u
#define CSTS_SHST(s) (((s) >> 2) & 3)                   /* 3:2; 2: shutdown complete */

/* Admin and NVM command set opcodes; Identify CNS values; feature identifiers. */
#define ADM_DELETE_SQ 0x00
#define ADM_CREATE_SQ 0x01
#define ADM_DELETE_CQ 0x04
#define ADM_CREATE_CQ 0x05
#define ADM_IDENTIFY 0x06
#define ADM_SET_FEATURES 0x09
#define FEAT_NUM_QUEUES 0x07
#define CNS_NAMESPACE 0x00
#define CNS_CONTROLLER 0x01
#define NVM_WRITE 0x01
#define NVM_READ 0x02

/* Common command format: 64 bytes, completion: 16 bytes (section 4.2, 4.6). */
struct nvme_sqe {
    uint32_t cdw0;          /* 7:0 opcode, 31:16 command identifier */
    uint32_t nsid;
    uint32_t cdw2, cdw3;
    uint64_t mptr;
    uint64_t prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "submission queue entry");

struct nvme_cqe {
    uint32_t dw0, dw1;
    uint16_t sqhd, sqid;
    uint16_t cid;
    uint16_t status;        /* bit 0 phase tag, 8:1 SC, 11:9 SCT, 15 DNR */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "completion queue entry");

/* A wait returns the status field without the phase tag: 0 is success. */
#define SC(st) ((st) & 0xff)
#define SCT(st) (((st) >> 8) & 0x7)
#define ST_TIMEOUT 0xffff

/* DMA memory: one anonymous mapping; only its middle is mapped for DMA, a canary page sits on
 * either side. Offsets inside the mapped part: */
#define PAGE 4096u
#define DMA_SIZE (1u << 20)
#define IOVA_BASE 0x40000000ull
#define OFF_ASQ 0x0000
#define OFF_ACQ 0x1000
#define OFF_IOSQ 0x2000
#define OFF_IOCQ 0x3000
#define OFF_IDENT 0x4000
#define OFF_PRPLIST 0x5000
#define OFF_BADLIST 0x6000
#define OFF_WBUF 0x10000
#define OFF_RBUF 0x40000
#define XFER_MAX 0x30000
#define QDEPTH 64
#define CANARY 0xa5
#define ARM_ROUNDS 600
#define IO_EVERY 8

static int failed;
static volatile uint8_t *bar;
static uint8_t *dmamem;         /* the mapped part; canaries at dmamem - PAGE and + DMA_SIZE */
static uint32_t dstrd;
static uint32_t lba_size;
static uint64_t ns_lbas;

#define EXPECT(what, cond)                                                          \
    do {                                                                            \
        int ok_ = !!(cond);                                                         \
        printf("%s %s\n", ok_ ? "ok:  " : "FAIL:", what);                           \
        failed += !ok_;                                                             \
    } while (0)

struct queue {
    volatile struct nvme_sqe *sq;
    volatile struct nvme_cqe *cq;
    uint16_t qid, sq_tail, cq_head, next_cid;
    uint8_t phase;
    int efd;                    /* the eventfd of the queue's MSI-X vector */
    unsigned irqs;              /* interrupts counted by the last wait */
};

static struct queue adminq = { .qid = 0, .phase = 1 };
static struct queue ioq = { .qid = 1, .phase = 1 };

static uint32_t rd32(uint32_t off) { return *(volatile uint32_t *)(bar + off); }
static void wr32(uint32_t off, uint32_t v) { *(volatile uint32_t *)(bar + off) = v; }
static uint64_t rd64(uint32_t off) { return rd32(off) | (uint64_t)rd32(off + 4) << 32; }
static void wr64(uint32_t off, uint64_t v)
{
    wr32(off, (uint32_t)v);
    wr32(off + 4, (uint32_t)(v >> 32));
}

static uint64_t iova_of(uint32_t off) { return IOVA_BASE + off; }

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The one bounded register wait: CSTS & mask == want before the deadline. */
static int csts_wait(uint32_t mask, uint32_t want, uint32_t timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms;
    for (;;) {
        uint32_t s = rd32(REG_CSTS);
        if (s != 0xffffffffu && (s & mask) == want)
            return 0;
        if (now_ms() > end)
            return -ETIMEDOUT;
        usleep(1000);
    }
}

static void sq_doorbell(struct queue *q)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);    /* the entry before the tail that names it */
    wr32(REG_DBS + (2u * q->qid) * (4u << dstrd), q->sq_tail);
}

static void cq_doorbell(struct queue *q)
{
    wr32(REG_DBS + (2u * q->qid + 1) * (4u << dstrd), q->cq_head);
}

static uint16_t submit(struct queue *q, struct nvme_sqe *e)
{
    uint16_t cid = q->next_cid++;
    e->cdw0 = (e->cdw0 & 0xffff) | (uint32_t)cid << 16;
    memcpy((void *)&q->sq[q->sq_tail], e, sizeof(*e));
    q->sq_tail = (uint16_t)((q->sq_tail + 1) % QDEPTH);
    sq_doorbell(q);
    return cid;
}

/* Takes every completion the controller has posted; returns the status of cid's if among them. */
static int reap(struct queue *q, uint16_t cid, uint16_t *status)
{
    int found = 0, any = 0;
    for (;;) {
        volatile struct nvme_cqe *c = &q->cq[q->cq_head];
        uint16_t st = c->status;
        if ((st & 1) != q->phase)
            break;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (c->cid == cid) {
            *status = st >> 1;
            found = 1;
        }
        any = 1;
        if (++q->cq_head == QDEPTH) {
            q->cq_head = 0;
            q->phase ^= 1;
        }
    }
    if (any)
        cq_doorbell(q);
    return found;
}

/* Waits for cid's completion, sleeping in poll() on the queue's MSI-X eventfd; returns its
 * status, or ST_TIMEOUT. q->irqs counts the interrupts that arrived meanwhile. */
static uint16_t wait_cid(struct queue *q, uint16_t cid, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    uint16_t st = ST_TIMEOUT;
    q->irqs = 0;
    for (;;) {
        uint64_t t = now_ms();
        struct pollfd p = { .fd = q->efd, .events = POLLIN };
        int r = poll(&p, 1, t >= end ? 0 : (int)(end - t));
        uint64_t n = 0;
        if (r == 1 && read(q->efd, &n, sizeof(n)) == sizeof(n))
            q->irqs += (unsigned)n;
        if (reap(q, cid, &st))
            return st;
        if (r <= 0)
            return ST_TIMEOUT;
    }
}

static uint16_t run_cmd(struct queue *q, struct nvme_sqe *e, int timeout_ms)
{
    return wait_cid(q, submit(q, e), timeout_ms);
}

static uint16_t admin(uint8_t opc, uint32_t nsid, uint64_t prp1, uint32_t cdw10, uint32_t cdw11,
                      uint32_t *dw0)
{
    struct nvme_sqe e = { .cdw0 = opc, .nsid = nsid, .prp1 = prp1, .cdw10 = cdw10, .cdw11 = cdw11 };
    uint16_t cid = submit(&adminq, &e);
    uint16_t st = wait_cid(&adminq, cid, 2000);
    if (st != 0)
        printf("nvme_vfio: admin opcode 0x%02x: status 0x%x, %u interrupts, CSTS 0x%x\n",
               opc, st, adminq.irqs, rd32(REG_CSTS));
    if (dw0 && st != ST_TIMEOUT)
        *dw0 = adminq.cq[(adminq.cq_head + QDEPTH - 1) % QDEPTH].dw0;
    return st;
}

/* ---- VFIO ---------------------------------------------------------------------------------- */

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

static int dma_map(int c, void *va, uint64_t iova, uint64_t size)
{
    struct vfio_iommu_type1_dma_map m = {
        .argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
        .vaddr = (uintptr_t)va, .iova = iova, .size = size,
    };
    return ioctl(c, VFIO_IOMMU_MAP_DMA, &m);
}

static int msix_disarm(int dev);

/* Every MSI-X vector at once, as a program enabling GET_IRQ_INFO's count gets on Linux; the
 * last one signalled by loopback (DATA_BOOL), then all released. */
static void msix_all(int dev, unsigned n)
{
    int efd = eventfd(0, EFD_NONBLOCK), last = eventfd(0, EFD_NONBLOCK);
    size_t sz = sizeof(struct vfio_irq_set) + n * sizeof(int32_t);
    struct vfio_irq_set *set = calloc(1, sz);
    if (efd < 0 || last < 0 || !set) {
        EXPECT("eventfds and the SET_IRQS buffer", 0);
        return;
    }
    *set = (struct vfio_irq_set){ .argsz = (uint32_t)sz, .index = VFIO_PCI_MSIX_IRQ_INDEX,
                                  .count = n,
                                  .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER };
    int32_t *fds = (int32_t *)set->data;
    for (unsigned i = 0; i < n; i++)
        fds[i] = i == n - 1 ? last : efd;
    EXPECT("all MSI-X vectors armed at once", ioctl(dev, VFIO_DEVICE_SET_IRQS, set) == 0);
    struct { struct vfio_irq_set s; uint8_t on; } ping = {
        .s = { .argsz = sizeof(ping), .index = VFIO_PCI_MSIX_IRQ_INDEX, .start = n - 1, .count = 1,
               .flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER },
        .on = 1,
    };
    uint64_t v = 0;
    EXPECT("the last one signals its own eventfd (loopback)",
           ioctl(dev, VFIO_DEVICE_SET_IRQS, &ping) == 0 && read(last, &v, 8) == 8 && v == 1 &&
           read(efd, &v, 8) == -1);
    EXPECT("and all are released", msix_disarm(dev) == 0);
    free(set);
    close(last);
    close(efd);
}

/* MSI-X vectors 0 (admin queue) and 1 (I/O queue) to eventfds. */
static int msix_arm(int dev, int efd0, int efd1)
{
    struct { struct vfio_irq_set s; int32_t fd[2]; } set = {
        .s = { .argsz = sizeof(set), .index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 2,
               .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER },
        .fd = { efd0, efd1 },
    };
    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &set);
}

static int msix_disarm(int dev)
{
    struct vfio_irq_set off = { .argsz = sizeof(off), .index = VFIO_PCI_MSIX_IRQ_INDEX,
                                .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER };
    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &off);
}

/* Memory Space and Bus Master on, through the config region (vfio-pci leaves that to us). The
 * open found mastering off, as Linux's vfio_pci_core_enable leaves it (SeaBIOS had turned it on
 * to boot from the controller) and memory decode on (pci_enable_device). */
static void cfg_enable(int dev)
{
    struct vfio_region_info rc = { .argsz = sizeof(rc), .index = VFIO_PCI_CONFIG_REGION_INDEX };
    uint16_t cmd = 0;
    ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &rc);
    pread(dev, &cmd, 2, (off_t)rc.offset + 4);
    EXPECT("the open left bus mastering off and memory decode on", (cmd & 0x6) == 0x2);
    cmd |= 0x6;
    pwrite(dev, &cmd, 2, (off_t)rc.offset + 4);
    /* MSI-X is enabled through VFIO_DEVICE_SET_IRQS only: a config write of its Message
     * Control is dropped, as vfio-pci's read-only default for capabilities drops it */
    uint8_t pos = 0;
    pread(dev, &pos, 1, (off_t)rc.offset + 0x34);
    uint16_t id_next = 0, ctl = 0, want = 0x8000, after = 0;
    for (int n = 0; pos && n < 48; n++) {
        pread(dev, &id_next, 2, (off_t)rc.offset + pos);
        if ((id_next & 0xff) == 0x11)
            break;
        pos = (uint8_t)((id_next >> 8) & 0xfc);
    }
    EXPECT("the controller has MSI-X", pos && (id_next & 0xff) == 0x11);
    pread(dev, &ctl, 2, (off_t)rc.offset + pos + 2);
    want |= ctl;
    pwrite(dev, &want, 2, (off_t)rc.offset + pos + 2);
    pread(dev, &after, 2, (off_t)rc.offset + pos + 2);
    EXPECT("a config write of MSI-X Enable is dropped", after == ctl && !(after & 0x8000));
}

static int map_bar0(int dev)
{
    struct vfio_region_info r0 = { .argsz = sizeof(r0), .index = VFIO_PCI_BAR0_REGION_INDEX };
    if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r0) != 0 ||
        !(r0.flags & VFIO_REGION_INFO_FLAG_MMAP))
        return -1;
    void *m = mmap(NULL, r0.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)r0.offset);
    if (m == MAP_FAILED)
        return -1;
    bar = m;
    printf("nvme_vfio: BAR0 %llu KiB mmap'ed\n", (unsigned long long)(r0.size >> 10));
    return 0;
}

/* ---- the controller ------------------------------------------------------------------------ */

static int controller_enable(void)
{
    uint64_t cap = rd64(REG_CAP);
    uint32_t to_ms = (CAP_TO(cap) ? CAP_TO(cap) : 1) * 500;
    dstrd = CAP_DSTRD(cap);
    printf("nvme_vfio: CAP 0x%llx (MQES %u, TO %u ms, DSTRD %u), VS 0x%x\n",
           (unsigned long long)cap, CAP_MQES(cap) + 1, to_ms, dstrd, rd32(REG_VS));
    if (!CAP_CSS_NVM(cap) || CAP_MPSMIN(cap) != 0 || CAP_MQES(cap) + 1 < QDEPTH)
        return -EINVAL;
    wr32(REG_CC, rd32(REG_CC) & ~CC_EN);
    if (csts_wait(CSTS_RDY, 0, to_ms))
        return -ETIMEDOUT;
    wr32(REG_AQA, (QDEPTH - 1) << 16 | (QDEPTH - 1));
    wr64(REG_ASQ, iova_of(OFF_ASQ));
    wr64(REG_ACQ, iova_of(OFF_ACQ));
    wr32(REG_CC, CC_IOCQES(4) | CC_IOSQES(6) | CC_EN);      /* NVM set, 4 KiB pages, RR */
    if (csts_wait(CSTS_RDY | CSTS_CFS, CSTS_RDY, to_ms))
        return -ETIMEDOUT;
    return 0;
}

static int controller_shutdown(void)
{
    uint64_t cap = rd64(REG_CAP);
    uint32_t to_ms = (CAP_TO(cap) ? CAP_TO(cap) : 1) * 500;
    wr32(REG_CC, rd32(REG_CC) | CC_SHN_NORMAL);
    if (csts_wait(0xc, 0x8, to_ms))
        return -ETIMEDOUT;
    wr32(REG_CC, rd32(REG_CC) & ~(CC_EN | CC_SHN_NORMAL));
    return csts_wait(CSTS_RDY, 0, to_ms);
}

/* Copies an ASCII identify field and drops the trailing spaces. */
static void ident_str(char *out, const uint8_t *in, size_t n)
{
    memcpy(out, in, n);
    out[n] = 0;
    while (n && (out[n - 1] == ' ' || out[n - 1] == 0))
        out[--n] = 0;
}

static int identify(void)
{
    uint8_t *id = dmamem + OFF_IDENT;
    char mn[41], sn[21], fr[9];
    memset(id, 0, PAGE);
    if (admin(ADM_IDENTIFY, 0, iova_of(OFF_IDENT), CNS_CONTROLLER, 0, NULL) != 0)
        return -EIO;
    ident_str(sn, id + 4, 20);
    ident_str(mn, id + 24, 40);
    ident_str(fr, id + 64, 8);
    uint32_t nn;
    memcpy(&nn, id + 516, 4);
    printf("nvme_vfio: model \"%s\" serial \"%s\" firmware \"%s\", %u namespaces, MDTS %u\n",
           mn, sn, fr, nn, id[77]);
    memset(id, 0, PAGE);
    if (nn < 1 || admin(ADM_IDENTIFY, 1, iova_of(OFF_IDENT), CNS_NAMESPACE, 0, NULL) != 0)
        return -EIO;
    uint32_t lbaf;
    memcpy(&ns_lbas, id, 8);                                /* NSZE */
    memcpy(&lbaf, id + 128 + 4 * (id[26] & 0xf), 4);        /* LBAF[FLBAS 3:0] */
    lba_size = 1u << ((lbaf >> 16) & 0xff);                 /* LBADS */
    printf("nvme_vfio: namespace 1: %llu blocks of %u bytes (%llu MiB)\n",
           (unsigned long long)ns_lbas, lba_size,
           (unsigned long long)(ns_lbas * lba_size >> 20));
    return lba_size >= 512 && lba_size <= PAGE && ns_lbas >= 1024 ? 0 : -EINVAL;
}

static int create_io_queues(void)
{
    uint32_t dw0 = 0;
    if (admin(ADM_SET_FEATURES, 0, 0, FEAT_NUM_QUEUES, 0, &dw0) != 0)  /* one SQ, one CQ */
        return -EIO;
    printf("nvme_vfio: %u I/O submission, %u completion queues allowed\n",
           (dw0 & 0xffff) + 1, (dw0 >> 16) + 1);
    /* CQ 1: physically contiguous, interrupts enabled, MSI-X vector 1. */
    if (admin(ADM_CREATE_CQ, 0, iova_of(OFF_IOCQ), (QDEPTH - 1) << 16 | 1, 1u << 16 | 0x3, NULL))
        return -EIO;
    /* SQ 1 completes to CQ 1. */
    if (admin(ADM_CREATE_SQ, 0, iova_of(OFF_IOSQ), (QDEPTH - 1) << 16 | 1, 1u << 16 | 0x1, NULL))
        return -EIO;
    return 0;
}

/* ---- I/O ----------------------------------------------------------------------------------- */

/* A read or write of n blocks at lba from data at IOVA iova; transfers of more than two pages
 * take their page list from OFF_PRPLIST (or from prplist when it is given). */
static uint16_t io(uint8_t opc, uint64_t lba, uint32_t n, uint64_t iova, uint64_t prplist)
{
    uint32_t len = n * lba_size, pages = (len + PAGE - 1) / PAGE;
    struct nvme_sqe e = { .cdw0 = opc, .nsid = 1, .prp1 = iova,
                          .cdw10 = (uint32_t)lba, .cdw11 = (uint32_t)(lba >> 32), .cdw12 = n - 1 };
    if (pages == 2) {
        e.prp2 = iova + PAGE;
    } else if (pages > 2) {
        uint64_t *list = (uint64_t *)(dmamem + OFF_PRPLIST);
        for (uint32_t i = 1; i < pages; i++)
            list[i - 1] = iova + (uint64_t)i * PAGE;
        e.prp2 = prplist ? prplist : iova_of(OFF_PRPLIST);
    }
    return run_cmd(&ioq, &e, 2000);
}

static void stamp(uint8_t *buf, uint64_t lba, uint32_t n, uint32_t seed)
{
    for (uint32_t i = 0; i < n * lba_size; i++)
        buf[i] = (uint8_t)((lba + i / lba_size) * 31 + i * 7 + seed * 13 + (i >> 9));
}

/* Writes a pattern to n blocks at lba, reads them back into a poisoned buffer, compares. */
static int write_read_verify(uint64_t lba, uint32_t n, uint32_t seed)
{
    uint8_t *w = dmamem + OFF_WBUF, *r = dmamem + OFF_RBUF;
    stamp(w, lba, n, seed);
    memset(r, 0xee, n * lba_size);
    uint16_t ws = io(NVM_WRITE, lba, n, iova_of(OFF_WBUF), 0);
    unsigned wirq = ioq.irqs;
    uint16_t rs = io(NVM_READ, lba, n, iova_of(OFF_RBUF), 0);
    unsigned rirq = ioq.irqs;
    if (ws != 0 || rs != 0 || !wirq || !rirq) {
        printf("nvme_vfio: lba %llu x%u: write status 0x%x (%u irq), read 0x%x (%u irq)\n",
               (unsigned long long)lba, n, ws, wirq, rs, rirq);
        return 0;
    }
    return memcmp(w, r, n * lba_size) == 0;
}

static void data_path(void)
{
    uint32_t per_page = PAGE / lba_size;
    EXPECT("write + read back 1 block at LBA 0", write_read_verify(0, 1, 1));
    EXPECT("write + read back one page (PRP1 only)", write_read_verify(8, per_page, 2));
    EXPECT("write + read back two pages (PRP1 + PRP2)", write_read_verify(64, 2 * per_page, 3));
    EXPECT("write + read back 48 KiB (PRP list)",
           write_read_verify(ns_lbas - 12 * per_page, 12 * per_page, 4));
    EXPECT("write + read back 192 KiB (PRP list)", write_read_verify(1000, XFER_MAX / lba_size, 5));
    /* Earlier patterns survive later writes elsewhere. */
    uint8_t *r = dmamem + OFF_RBUF, *w = dmamem + OFF_WBUF;
    stamp(w, 8, per_page, 2);
    memset(r, 0, PAGE);
    EXPECT("the page at LBA 8 still holds its pattern",
           io(NVM_READ, 8, per_page, iova_of(OFF_RBUF), 0) == 0 && memcmp(w, r, PAGE) == 0);
}

/* ---- MSI-X tear-down and re-arm -------------------------------------------------------------- */

static int efd_quiet(int efd)
{
    uint64_t n;
    return read(efd, &n, sizeof(n)) == -1 && errno == EAGAIN;
}

static int rearm(int dev, int round)
{
    if (msix_disarm(dev) != 0)
        return 0;
    close(adminq.efd);
    close(ioq.efd);
    adminq.efd = eventfd(0, EFD_NONBLOCK);
    ioq.efd = eventfd(0, EFD_NONBLOCK);
    if (adminq.efd < 0 || ioq.efd < 0 || msix_arm(dev, adminq.efd, ioq.efd) != 0)
        return 0;
    if (round % IO_EVERY)
        return 1;
    uint8_t *r = dmamem + OFF_RBUF, *w = dmamem + OFF_WBUF;
    uint64_t lba = 2000 + (uint64_t)(round / IO_EVERY) % 64;
    stamp(w, lba, 1, (uint32_t)round);
    memset(r, 0, lba_size);
    return io(NVM_WRITE, lba, 1, iova_of(OFF_WBUF), 0) == 0 && ioq.irqs > 0 &&
           io(NVM_READ, lba, 1, iova_of(OFF_RBUF), 0) == 0 && ioq.irqs > 0 &&
           memcmp(w, r, lba_size) == 0 && efd_quiet(adminq.efd);
}

static void msix_rearm(int dev)
{
    int ok = 0;
    for (int i = 0; i < ARM_ROUNDS; i++) {
        int r = rearm(dev, i);
        if (!r && ok == i)
            printf("nvme_vfio: re-arm round %d failed (errno %d)\n", i, errno);
        ok += r;
    }
    char what[96];
    snprintf(what, sizeof(what),
             "MSI-X torn down and re-armed %d times, an I/O signalled on vector 1 every %dth",
             ARM_ROUNDS, IO_EVERY);
    EXPECT(what, ok == ARM_ROUNDS);
    /* Re-arming an armed vector with another eventfd moves the signal without a disarm. */
    int swaps = 0;
    for (int i = 0; i < 32; i++) {
        int old = ioq.efd;
        ioq.efd = eventfd(0, EFD_NONBLOCK);
        swaps += msix_arm(dev, adminq.efd, ioq.efd) == 0;
        close(old);
    }
    EXPECT("I/O vector re-pointed to a new eventfd 32 times while armed", swaps == 32);
    EXPECT("and the last one hears the I/O", write_read_verify(3000, 1, 77));
    EXPECT("the admin vector still works (identify again)",
           admin(ADM_IDENTIFY, 0, iova_of(OFF_IDENT), CNS_CONTROLLER, 0, NULL) == 0 &&
           adminq.irqs > 0);
}

/* ---- DMA outside the mapping ---------------------------------------------------------------- */

static int canaries_intact(void)
{
    const uint8_t *lo = dmamem - PAGE, *hi = dmamem + DMA_SIZE;
    for (uint32_t i = 0; i < PAGE; i++)
        if (lo[i] != CANARY || hi[i] != CANARY)
            return 0;
    return 1;
}

static void report(const char *what, uint16_t st)
{
    if (st == ST_TIMEOUT)
        printf("nvme_vfio: %s: no completion within the deadline\n", what);
    else
        printf("nvme_vfio: %s: status SCT %u SC 0x%02x\n", what, SCT(st), SC(st));
}

/* What a blocked transfer wrote to the disk: its old data, or the zeros (or ones) that an
 * aborted read returns, never bytes of memory. */
static int blocks_hold_no_memory(const uint8_t *old, const uint8_t *now, uint32_t len)
{
    int zeros = 1, ones = 1;
    for (uint32_t i = 0; i < len; i++) {
        zeros &= now[i] == 0;
        ones &= now[i] == 0xff;
    }
    return zeros || ones || memcmp(old, now, len) == 0;
}

/* Commands whose data or PRP list lie outside the mapping. The IOMMU refuses those accesses; a
 * PRP list it cannot fetch ends the command with Data Transfer Error. QEMU's NVMe model reports
 * success for a refused data page (its DMA layer drops the bytes), so there what counts is that
 * nothing landed outside the mapping and nothing but zeros came from it. */
static void unmapped_dma(void)
{
    uint32_t per_page = PAGE / lba_size;
    uint64_t past = IOVA_BASE + DMA_SIZE, before = IOVA_BASE - PAGE;
    memset(dmamem - PAGE, CANARY, PAGE);
    memset(dmamem + DMA_SIZE, CANARY, PAGE);
    uint16_t s = io(NVM_READ, 0, 2 * per_page, past - PAGE, 0);
    report("read whose 2nd page is past the mapping", s);
    EXPECT("read into a page past the mapping ends (error, success or timeout), canaries intact",
           canaries_intact());
    s = io(NVM_READ, 0, per_page, before, 0);
    report("read into the page before the mapping", s);
    EXPECT("read into the page before the mapping ends, canaries intact", canaries_intact());
    s = io(NVM_READ, 0, 4 * per_page, iova_of(OFF_RBUF), past);
    report("read whose PRP list is past the mapping", s);
    EXPECT("read with an unmapped PRP list: Data Transfer Error", SCT(s) == 0 && SC(s) == 0x04);
    uint8_t *r = dmamem + OFF_RBUF, *w = dmamem + OFF_WBUF;
    stamp(w, 8, per_page, 2);
    s = io(NVM_WRITE, 8, per_page, past, 0);
    report("write from the page past the mapping", s);
    memset(r, 0x5a, PAGE);
    EXPECT("the blocks it aimed at hold their old data or zeros, no bytes of memory",
           io(NVM_READ, 8, per_page, iova_of(OFF_RBUF), 0) == 0 &&
           blocks_hold_no_memory(w, r, PAGE));
    EXPECT("canary pages around the mapping intact", canaries_intact());
    EXPECT("controller not fatal (CSTS.CFS clear)", !(rd32(REG_CSTS) & CSTS_CFS));
    EXPECT("I/O still works after the blocked DMA", write_read_verify(4000, 2 * per_page, 9));
}

/* ---- main ----------------------------------------------------------------------------------- */

static int setup(int *cp, int *gp, int *dp)
{
    int c = open("/dev/vfio/vfio", O_RDWR);
    EXPECT("open the container", c >= 0 && ioctl(c, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
    EXPECT("type1v2 supported", ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);
    int g = open_group();
    struct vfio_group_status st = { .argsz = sizeof(st) };
    EXPECT("open the NVMe function's group, viable",
           g >= 0 && ioctl(g, VFIO_GROUP_GET_STATUS, &st) == 0 &&
           (st.flags & VFIO_GROUP_FLAGS_VIABLE));
    EXPECT("group into the container, type1v2",
           ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) == 0 &&
           ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    int d = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, BDF);
    EXPECT("device fd", d >= 0);
    *cp = c, *gp = g, *dp = d;
    return failed ? -1 : 0;
}

static int dma_setup(int c)
{
    uint8_t *m = mmap(NULL, DMA_SIZE + 2 * PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT("anonymous DMA memory", m != MAP_FAILED);
    if (m == MAP_FAILED)
        return -1;
    memset(m, 0, DMA_SIZE + 2 * PAGE);
    dmamem = m + PAGE;
    EXPECT("VFIO_IOMMU_MAP_DMA 1 MiB (not the canary pages)",
           dma_map(c, dmamem, IOVA_BASE, DMA_SIZE) == 0);
    adminq.sq = (volatile struct nvme_sqe *)(dmamem + OFF_ASQ);
    adminq.cq = (volatile struct nvme_cqe *)(dmamem + OFF_ACQ);
    ioq.sq = (volatile struct nvme_sqe *)(dmamem + OFF_IOSQ);
    ioq.cq = (volatile struct nvme_cqe *)(dmamem + OFF_IOCQ);
    return 0;
}

static void teardown(int c, int g, int dev)
{
    EXPECT("delete I/O SQ and CQ", admin(ADM_DELETE_SQ, 0, 0, 1, 0, NULL) == 0 &&
                                   admin(ADM_DELETE_CQ, 0, 0, 1, 0, NULL) == 0);
    EXPECT("normal shutdown, controller disabled", controller_shutdown() == 0);
    EXPECT("MSI-X off", msix_disarm(dev) == 0);
    close(adminq.efd);
    close(ioq.efd);
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .flags = VFIO_DMA_UNMAP_FLAG_ALL };
    EXPECT("UNMAP_ALL", ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u) == 0 && u.size == DMA_SIZE);
    close(dev);
    close(g);
    close(c);
}

int main(void)
{
    int c, g, dev;
    if (setup(&c, &g, &dev) || dma_setup(c) || map_bar0(dev)) {
        printf("nvme_vfio: set-up failed\n");
        return 1;
    }
    struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
    EXPECT("MSI-X: at least 2 vectors",
           ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0 && ii.count >= 2 &&
           (ii.flags & VFIO_IRQ_INFO_EVENTFD));
    printf("nvme_vfio: %u MSI-X vectors\n", ii.count);
    cfg_enable(dev);
    msix_all(dev, ii.count);
    adminq.efd = eventfd(0, EFD_NONBLOCK);
    ioq.efd = eventfd(0, EFD_NONBLOCK);
    EXPECT("MSI-X vectors 0 and 1 to eventfds", msix_arm(dev, adminq.efd, ioq.efd) == 0);
    int e = controller_enable();
    EXPECT("controller reset and enabled (CC.EN, CSTS.RDY)", e == 0);
    if (e)
        return 1;
    EXPECT("identify controller and namespace 1", identify() == 0);
    EXPECT("I/O CQ (MSI-X vector 1) and SQ created", create_io_queues() == 0);
    if (failed)
        return 1;
    data_path();
    msix_rearm(dev);
    unmapped_dma();
    teardown(c, g, dev);
    printf("nvme_vfio: %d failed\n", failed);
    return failed ? 1 : 0;
}
