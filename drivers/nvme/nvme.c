/* NVMe controllers: bring-up (NVMe 2.0, 3.5.1), Identify, the I/O queue pair, probe. */
#include "arch/arch.h"
#include "drivers/nvme/nvme.h"
#include "kernel/driver.h"
#include "kernel/init.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_hotplug.h"
#include "pci/pci_platform.h"

static struct nvme_ctrl ctrls[NVME_MAX_CTRLS];
static unsigned nr_ctrls;

unsigned nvme_count(void)
{
    return nr_ctrls;
}

struct nvme_ctrl *nvme_get(unsigned i)
{
    return i < nr_ctrls ? &ctrls[i] : NULL;
}

static uint32_t rd32(struct nvme_ctrl *c, unsigned off)
{
    return *(volatile uint32_t *)(c->regs + off);
}

static void wr32(struct nvme_ctrl *c, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(c->regs + off) = v;
}

/* 64-bit registers as two dwords, low first. */
static uint64_t rd64(struct nvme_ctrl *c, unsigned off)
{
    return rd32(c, off) | (uint64_t)rd32(c, off + 4) << 32;
}

static void wr64(struct nvme_ctrl *c, unsigned off, uint64_t v)
{
    wr32(c, off, (uint32_t)v);
    wr32(c, off + 4, (uint32_t)(v >> 32));
}

/* CSTS.RDY follows CC.EN within CAP.TO; a controller reporting fatal status will not. */
static int wait_ready(struct nvme_ctrl *c, bool ready)
{
    int err = poll_until(!!(rd32(c, NVME_REG_CSTS) & NVME_CSTS_RDY) == ready ||
                             (ready && (rd32(c, NVME_REG_CSTS) & NVME_CSTS_CFS)),
                         c->timeout_ns);
    if (!err && ready && (rd32(c, NVME_REG_CSTS) & NVME_CSTS_CFS))
        return -EIO;
    return err;
}

/* A controller that still answers has its I/O queue pair deleted before it is disabled, as
 * Linux's nvme_disable_io_queues does: the controller then ends (or waits for) the commands
 * it holds itself. QEMU's model, disabled with commands still running on its backend, never
 * lets go of the device: device_del would not complete. A broken controller is just
 * disabled. */
static void delete_io_queues(struct nvme_ctrl *c)
{
    if (c->blk.broken || !c->io.sqes || !(rd32(c, NVME_REG_CSTS) & NVME_CSTS_RDY))
        return;
    struct nvme_sqe sq = { .cdw0 = NVME_ADMIN_DELETE_SQ, .cdw10 = c->io.qid };
    struct nvme_sqe cq = { .cdw0 = NVME_ADMIN_DELETE_CQ, .cdw10 = c->io.qid };
    if (nvme_admin(c, &sq, NULL) == 0)
        nvme_admin(c, &cq, NULL);
}

int nvme_ctrl_reset(struct blk_dev *b)
{
    struct nvme_ctrl *c = b->priv;
    delete_io_queues(c);
    wr32(c, NVME_REG_CC, rd32(c, NVME_REG_CC) & ~(uint32_t)NVME_CC_EN);
    return wait_ready(c, false);
}

void nvme_ctrl_release(struct blk_dev *b)
{
    struct nvme_ctrl *c = b->priv;
    nvme_queue_free(c, &c->io);
    nvme_queue_free(c, &c->admin);
    dma_free(&b->dma, &c->identify);
}

static int enable(struct nvme_ctrl *c)
{
    int err = nvme_ctrl_reset(&c->blk);
    if (!err)
        err = nvme_queue_alloc(c, &c->admin, 0, NVME_ADMIN_DEPTH);
    if (err)
        return err;
    wr32(c, NVME_REG_AQA, (uint32_t)(FIELD_PREP(NVME_AQA_ASQS, NVME_ADMIN_DEPTH - 1) |
                                     FIELD_PREP(NVME_AQA_ACQS, NVME_ADMIN_DEPTH - 1)));
    wr64(c, NVME_REG_ASQ, c->admin.sq.iova);
    wr64(c, NVME_REG_ACQ, c->admin.cq.iova);
    wr32(c, NVME_REG_INTMS, ~0u);       /* completions are polled */
    uint32_t cc = (uint32_t)(NVME_CC_EN | FIELD_PREP(NVME_CC_CSS, 0) | FIELD_PREP(NVME_CC_MPS, 0) |
                             FIELD_PREP(NVME_CC_IOSQES, NVME_SQES_LOG2) |
                             FIELD_PREP(NVME_CC_IOCQES, NVME_CQES_LOG2));
    wmb();
    wr32(c, NVME_REG_CC, cc);
    return wait_ready(c, true);
}

static int identify(struct nvme_ctrl *c, uint8_t cns, uint32_t nsid)
{
    struct nvme_sqe sqe = { .cdw0 = NVME_ADMIN_IDENTIFY, .nsid = nsid, .cdw10 = cns };
    sqe.prp1 = c->identify.iova;
    memset(c->identify.cpu, 0, NVME_IDENTIFY_SIZE);
    return nvme_admin(c, &sqe, NULL);
}

static void copy_ascii(char *dst, const uint8_t *src, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
    for (len = n; len > 0 && dst[len - 1] == ' '; len--)
        ;
    dst[len] = '\0';
}

static int identify_ctrl(struct nvme_ctrl *c)
{
    int err = identify(c, NVME_CNS_CTRL, 0);
    if (err)
        return err;
    const uint8_t *id = c->identify.cpu;
    c->vid = (uint16_t)(id[NVME_ID_CTRL_VID] | id[NVME_ID_CTRL_VID + 1] << 8);
    copy_ascii(c->sn, id + NVME_ID_CTRL_SN, 20);
    copy_ascii(c->mn, id + NVME_ID_CTRL_MN, 40);
    memcpy(&c->nn, id + NVME_ID_CTRL_NN, 4);
    uint8_t mdts = id[NVME_ID_CTRL_MDTS];
    c->mdts_bytes = mdts == 0 || mdts > 20 ? 0 : (uint32_t)(NVME_PAGE << mdts);
    if ((id[NVME_ID_CTRL_SQES] & 0xf) > NVME_SQES_LOG2 ||
        (id[NVME_ID_CTRL_CQES] & 0xf) > NVME_CQES_LOG2)
        return -ENODEV;
    return 0;
}

/* The first active namespace and its LBA format. */
static int identify_ns(struct nvme_ctrl *c)
{
    int err = identify(c, NVME_CNS_NS_ACTIVE_LIST, 0);
    if (err)
        return err;
    memcpy(&c->nsid, c->identify.cpu, 4);
    if (c->nsid == 0 || c->nsid > c->nn)
        return -ENODEV;
    err = identify(c, NVME_CNS_NS, c->nsid);
    if (err)
        return err;
    const uint8_t *id = c->identify.cpu;
    uint8_t flbas = id[NVME_ID_NS_FLBAS];
    unsigned fmt = (flbas & 0xf) | (id[NVME_ID_NS_NLBAF] >= 16 ? (flbas >> 5 & 3) << 4 : 0);
    if (fmt > id[NVME_ID_NS_NLBAF])
        return -ENODEV;
    uint32_t lbaf;
    memcpy(&lbaf, id + NVME_ID_NS_LBAF + 4 * fmt, 4);
    unsigned lbads = FIELD_GET(NVME_LBAF_LBADS, lbaf);
    if (lbads < 9 || lbads > 12)
        return -ENODEV;     /* 512 B .. 4 KiB blocks */
    c->blk.lba_size = 1u << lbads;
    memcpy(&c->blk.nlba, id + NVME_ID_NS_NSZE, 8);
    return 0;
}

static int create_io_queues(struct nvme_ctrl *c)
{
    uint16_t depth = (uint16_t)MIN((uint64_t)NVME_IO_DEPTH, FIELD_GET(NVME_CAP_MQES, c->cap) + 1);
    struct nvme_sqe nq = { .cdw0 = NVME_ADMIN_SET_FEATURES, .cdw10 = NVME_FEAT_NUM_QUEUES };
    int err = nvme_admin(c, &nq, NULL);     /* one SQ, one CQ (0's based: 0 and 0) */
    if (!err)
        err = nvme_queue_alloc(c, &c->io, 1, depth);
    if (err)
        return err;
    uint32_t cdw10 = (uint32_t)(FIELD_PREP(NVME_CREATE_QSIZE, depth - 1) |
                                FIELD_PREP(NVME_CREATE_QID, 1));
    /* Interrupt vector 0 (IV 31:16) when the block layer enabled MSI-X. */
    uint32_t ien = c->blk.irq_on ? NVME_CREATE_CQ_IEN : 0;
    struct nvme_sqe cq = { .cdw0 = NVME_ADMIN_CREATE_CQ, .prp1 = c->io.cq.iova,
                           .cdw10 = cdw10, .cdw11 = NVME_CREATE_CQ_PC | ien };
    struct nvme_sqe sq = { .cdw0 = NVME_ADMIN_CREATE_SQ, .prp1 = c->io.sq.iova, .cdw10 = cdw10,
                           .cdw11 = (uint32_t)(NVME_CREATE_SQ_PC |
                                               FIELD_PREP(NVME_CREATE_SQ_CQID, 1)) };
    err = nvme_admin(c, &cq, NULL);
    return err ? err : nvme_admin(c, &sq, NULL);
}

/* CAP checks that hold for the controller's whole life: NVM command set, 4 KiB pages. */
static int check_cap(struct nvme_ctrl *c)
{
    c->cap = rd64(c, NVME_REG_CAP);
    if (c->cap == ~0ULL || !(FIELD_GET(NVME_CAP_CSS, c->cap) & 1) ||
        FIELD_GET(NVME_CAP_MPSMIN, c->cap) != 0)
        return -ENODEV;
    uint64_t to = FIELD_GET(NVME_CAP_TO, c->cap);
    c->timeout_ns = (to ? to : 1) * 500 * NSEC_PER_MSEC;
    return 0;
}

int nvme_ctrl_start(struct blk_dev *b)
{
    struct nvme_ctrl *c = b->priv;
    /* The registers answer once the block layer has enabled the function (decode may be off
     * until then: PCI_SYS_DEFER_DECODE). */
    int err = check_cap(c);
    if (!err)
        err = dma_alloc(&b->dma, NVME_IDENTIFY_SIZE, IOMMU_WRITE, &c->identify);
    if (!err)
        err = enable(c);
    if (!err)
        err = identify_ctrl(c);
    if (!err)
        err = identify_ns(c);
    if (!err)
        err = create_io_queues(c);
    if (err)
        return err;     /* the block layer resets, blocks, then releases */
    b->max_io = c->mdts_bytes ? MIN(NVME_MAX_IO, c->mdts_bytes) : NVME_MAX_IO;
    b->queue_depth = c->io.depth - 1u;
    return 0;
}

static int nvme_probe(struct pci_dev *pd)
{
    struct nvme_ctrl *c = &ctrls[nr_ctrls];
    memset(c, 0, sizeof(*c));
    if (!pd->bar[0].size || !(pd->bar[0].flags & PCI_BAR_ASSIGNED) ||
        (pd->bar[0].flags & PCI_BAR_IO) || pd->bar[0].size < NVME_REG_DBS + 16)
        return -ENODEV;
    c->regs_size = pd->bar[0].size;
    c->regs = mmio_map(pd->bar[0].base, pd->bar[0].size);
    if (!c->regs)
        return -ENOMEM;
    /* CAP is read before the block layer enables the function: memory decode first (firmware
     * may have left it off; on AArch64's virt no firmware ran at all). */
    struct pci_system *sys = platform_pci();
    pci_write16(sys, pd, PCI_COMMAND, pci_read16(sys, pd, PCI_COMMAND) | PCI_COMMAND_MEMORY);
    c->blk.pci = pd;
    c->blk.ops = &nvme_blk_ops;
    c->blk.priv = c;
    str_copy(c->blk.name, "nvme0n1", sizeof(c->blk.name));
    c->blk.name[4] = (char)('0' + nr_ctrls);
    int err = blk_dev_setup(&c->blk, IOMMU_DOMAIN_PAGING);
    if (err)
        return err;
    pci_set_driver(pd, "nvme");
    nr_ctrls++;
    return 0;
}

static void nvme_report(struct nvme_ctrl *c)
{
    char bdf[16];
    pci_format_bdf(c->blk.pci, bdf, sizeof(bdf));
    kprintf("nvme: %s: %s \"%s\" sn \"%s\", ns %u: %llu blocks of %u bytes, I/O queue of %u, "
            "max I/O %u KiB, %s\n", bdf, c->blk.name, c->mn, c->sn, c->nsid,
            (unsigned long long)c->blk.nlba, c->blk.lba_size, c->io.depth, c->blk.max_io / 1024,
            dma_space_describe(&c->blk.dma));
}

static int nvme_hotplug_probe(struct pci_system *sys, struct pci_dev *pd)
{
    if (pd->class_rev >> 8 != NVME_CLASS)
        return -ENODEV;
    if (nr_ctrls == NVME_MAX_CTRLS)
        return -ENOSPC;
    int err = nvme_probe(pd);
    if (!err)
        nvme_report(&ctrls[nr_ctrls - 1]);
    return err;
}

/* The controller's slot stays (its blk_dev answers -ENODEV to late callers) until it is the
 * last one, and is reused by the next probe then. */
static void nvme_remove(struct pci_system *sys, struct pci_dev *pd)
{
    blk_remove_pci(sys, pd);
    while (nr_ctrls > 0 && ctrls[nr_ctrls - 1].blk.removed)
        nr_ctrls--;
}

static const struct pci_hotplug_driver nvme_hotplug = { "nvme", nvme_hotplug_probe, nvme_remove };

static int nvme_init(void)
{
    struct pci_system *sys = platform_pci();
    if (!sys)
        return 0;
    int err = pci_hotplug_register_driver(&nvme_hotplug);
    if (err || !driver_may_bind("nvme"))
        return err;
    for (uint32_t i = 0; i < sys->ndevs && nr_ctrls < NVME_MAX_CTRLS; i++) {
        struct pci_dev *pd = &sys->devs[i];
        if (pd->class_rev >> 8 != NVME_CLASS || pd->driver)
            continue;
        err = nvme_probe(pd);
        if (err)
            kprintf("nvme: %02x:%02x.%x: probe failed: %s\n", pd->bus, pd->devfn >> 3,
                    pd->devfn & 7, errno_name(err));
        else
            nvme_report(&ctrls[nr_ctrls - 1]);
    }
    return 0;
}
MOAT_UNIT_OPTIONAL(70_driver, nvme, nvme_init);
