/* virtio-blk (virtio 1.2, 5.2) over the modern PCI transport, one request queue, polled.
 *
 * Each request is a chain of three descriptors: a header the device reads, the data (an IOVA
 * from the block layer: a pool buffer or the caller's buffer mapped for this I/O), and a status
 * byte the device writes. Headers and status bytes live in two arrays indexed by the chain's
 * head, mapped once: the headers device-readable, the status bytes device-writable. */
#include "drivers/dma/blk.h"
#include "drivers/virtio/virtio.h"
#include "drivers/virtio/virtio_blk.h"
#include "drivers/virtio/virtio_blk_hw.h"
#include "kernel/driver.h"
#include "kernel/init.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_hotplug.h"
#include "pci/pci_platform.h"

#define VBLK_MAX_DEVS 4
#define VBLK_QUEUE_MAX 128
#define VBLK_MAX_IO (128u * 1024)
#define VBLK_STATUS_UNSET 0xff

struct vblk {
    struct blk_dev blk;
    struct virtio_pci vp;
    struct virtq vq;
    struct dma_mem hdrs;            /* struct virtio_blk_req_hdr[vq.size] */
    struct dma_mem status;          /* uint8_t[vq.size] */
    uint32_t sectors_per_lba;
    bool read_only;
};

static struct vblk vblks[VBLK_MAX_DEVS];
static unsigned nr_vblks;

static struct vblk *to_vblk(struct blk_dev *b)
{
    return b->priv;
}

/* Capacity and block size from the device configuration; the data size per request is bounded
 * by SIZE_MAX when the device sets one (one data descriptor per request). */
static int vblk_read_config(struct vblk *vb)
{
    struct blk_dev *b = &vb->blk;
    uint64_t capacity;
    uint32_t blk_size = VIRTIO_BLK_SECTOR_SIZE, size_max = VBLK_MAX_IO;
    int err = virtio_pci_config(&vb->vp, VIRTIO_BLK_CFG_CAPACITY, &capacity, 8);
    if (!err && (vb->vp.features & BIT(VIRTIO_BLK_F_BLK_SIZE)))
        err = virtio_pci_config(&vb->vp, VIRTIO_BLK_CFG_BLK_SIZE, &blk_size, 4);
    if (!err && (vb->vp.features & BIT(VIRTIO_BLK_F_SIZE_MAX)))
        err = virtio_pci_config(&vb->vp, VIRTIO_BLK_CFG_SIZE_MAX, &size_max, 4);
    if (err)
        return err;
    if (blk_size < VIRTIO_BLK_SECTOR_SIZE || blk_size > 4096 || (blk_size & (blk_size - 1)))
        blk_size = VIRTIO_BLK_SECTOR_SIZE;      /* a hint we cannot use: keep sectors */
    b->lba_size = blk_size;
    vb->sectors_per_lba = blk_size / VIRTIO_BLK_SECTOR_SIZE;
    b->nlba = capacity / vb->sectors_per_lba;
    b->max_io = ALIGN_DOWN(MIN(VBLK_MAX_IO, size_max), blk_size);
    vb->read_only = vb->vp.features & BIT(VIRTIO_BLK_F_RO);
    return b->max_io ? 0 : -EINVAL;
}

/* Under an IOMMU the device must take IOVAs through the platform (ACCESS_PLATFORM): without
 * it, it would use our IOVAs as physical addresses and bypass translation. */
static int vblk_negotiate(struct vblk *vb)
{
    uint64_t required = BIT(VIRTIO_F_VERSION_1);
    if (dma_space_isolated(&vb->blk.dma))
        required |= BIT(VIRTIO_F_ACCESS_PLATFORM);
    uint64_t wanted = BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VIRTIO_BLK_F_FLUSH) |
                      BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_SIZE_MAX) |
                      BIT(VIRTIO_BLK_F_RO);
    int err = virtio_pci_negotiate(&vb->vp, wanted, required);
    if (err) {
        kprintf("virtio-blk: %s: feature negotiation failed (missing %#llx)\n", vb->blk.name,
                (unsigned long long)vb->vp.features);
        virtio_pci_add_status(&vb->vp, VIRTIO_CONFIG_S_FAILED);
    }
    return err;
}

static int vblk_start(struct blk_dev *b)
{
    struct vblk *vb = to_vblk(b);
    int err = virtio_pci_reset(&vb->vp);
    if (!err)
        err = vblk_negotiate(vb);
    if (!err)
        err = vblk_read_config(vb);
    if (!err)
        err = virtq_setup(&vb->vp, &b->dma, &vb->vq, 0, VBLK_QUEUE_MAX,
                          b->irq_on ? 0 : VIRTIO_MSI_NO_VECTOR);
    if (!err)
        err = dma_alloc(&b->dma, sizeof(struct virtio_blk_req_hdr) * vb->vq.size, IOMMU_READ,
                        &vb->hdrs);
    if (!err)
        err = dma_alloc(&b->dma, vb->vq.size, IOMMU_READ | IOMMU_WRITE, &vb->status);
    if (err)
        return err;     /* the block layer resets, blocks, then releases */
    b->queue_depth = vb->vq.size / 3u;
    virtio_pci_add_status(&vb->vp, VIRTIO_CONFIG_S_DRIVER_OK);
    return 0;
}

static int vblk_reset(struct blk_dev *b)
{
    return virtio_pci_reset(&to_vblk(b)->vp);
}

static void vblk_release(struct blk_dev *b)
{
    struct vblk *vb = to_vblk(b);
    dma_free(&b->dma, &vb->hdrs);
    dma_free(&b->dma, &vb->status);
    if (vb->vq.size)
        virtq_release(&b->dma, &vb->vq);
}

static int vblk_submit(struct blk_dev *b, struct blk_io *io)
{
    struct vblk *vb = to_vblk(b);
    if (io->op == BLK_OP_WRITE && vb->read_only)
        return -EROFS;
    if (io->op == BLK_OP_FLUSH && !(vb->vp.features & BIT(VIRTIO_BLK_F_FLUSH))) {
        blk_io_reaped(b, io, 0);    /* no volatile cache to flush */
        return 0;
    }
    unsigned n = io->op == BLK_OP_FLUSH ? 2 : 3;
    if (vb->vq.nfree < n)
        return -EBUSY;
    uint16_t slot = virtq_next_head(&vb->vq);
    struct virtio_blk_req_hdr *hdr = (struct virtio_blk_req_hdr *)vb->hdrs.cpu + slot;
    hdr->type = io->op == BLK_OP_READ ? VIRTIO_BLK_T_IN
              : io->op == BLK_OP_WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_FLUSH;
    hdr->reserved = 0;
    hdr->sector = io->op == BLK_OP_FLUSH ? 0 : io->lba * vb->sectors_per_lba;
    ((uint8_t *)vb->status.cpu)[slot] = VBLK_STATUS_UNSET;
    struct virtq_buf bufs[3], *p = bufs;
    *p++ = (struct virtq_buf){ vb->hdrs.iova + slot * sizeof(*hdr), sizeof(*hdr), false };
    if (io->op != BLK_OP_FLUSH)
        *p++ = (struct virtq_buf){ io->iova, io->len, io->op == BLK_OP_READ };
    *p++ = (struct virtq_buf){ vb->status.iova + slot, 1, true };
    int head = virtq_add(&vb->vq, bufs, n, io);
    if (head < 0)
        return head;
    io->tag = (uint16_t)head;
    if (!b->plugged)
        virtq_kick(&vb->vq);
    return 0;
}

static void vblk_commit(struct blk_dev *b)
{
    virtq_kick(&to_vblk(b)->vq);
}

static int status_to_errno(uint8_t st)
{
    return st == VIRTIO_BLK_S_OK ? 0 : st == VIRTIO_BLK_S_IOERR ? -EIO : -EOPNOTSUPP;
}

static int vblk_poll(struct blk_dev *b)
{
    struct vblk *vb = to_vblk(b);
    int count = 0;
    for (;;) {
        void *cookie;
        uint16_t head;
        uint32_t len;
        const char *what;
        uint64_t value;
        int r = virtq_get(&vb->vq, &cookie, &head, &len, &what, &value);
        if (r < 0) {
            blk_dev_bad_completion(b, what, value);
            return r;
        }
        if (r == 0)
            return count;
        uint8_t st = READ_ONCE(((uint8_t *)vb->status.cpu)[head]);
        if (st > VIRTIO_BLK_S_UNSUPP) {
            blk_dev_bad_completion(b, "a request status that is no status", st);
            return -EPROTO;
        }
        blk_io_reaped(b, cookie, status_to_errno(st));
        count++;
    }
}

static const struct blk_dev_ops vblk_ops;

struct virtq *virtio_blk_queue(struct blk_dev *b)
{
    return b->ops == &vblk_ops ? &to_vblk(b)->vq : NULL;
}

static const struct blk_dev_ops vblk_ops = {
    .start = vblk_start,
    .reset = vblk_reset,
    .release = vblk_release,
    .submit = vblk_submit,
    .commit = vblk_commit,
    .poll = vblk_poll,
};

static int vblk_probe(struct pci_system *sys, struct pci_dev *pd)
{
    struct vblk *vb = &vblks[nr_vblks];
    memset(vb, 0, sizeof(*vb));
    vb->blk.pci = pd;
    vb->blk.ops = &vblk_ops;
    vb->blk.priv = vb;
    str_copy(vb->blk.name, "vblk0", sizeof(vb->blk.name));
    vb->blk.name[4] = (char)('0' + nr_vblks);
    int err = virtio_pci_init(&vb->vp, sys, pd);
    if (!err)
        err = blk_dev_setup(&vb->blk, IOMMU_DOMAIN_PAGING);
    if (err)
        return err;
    pci_set_driver(pd, "virtio-blk");
    nr_vblks++;
    char bdf[16];
    pci_format_bdf(pd, bdf, sizeof(bdf));
    kprintf("virtio-blk: %s: %s, %llu blocks of %u bytes, queue of %u, %s\n", bdf,
            vb->blk.name, (unsigned long long)vb->blk.nlba, vb->blk.lba_size, vb->vq.size,
            dma_space_describe(&vb->blk.dma));
    return 0;
}

static int vblk_hotplug_probe(struct pci_system *sys, struct pci_dev *pd)
{
    if (pd->vendor != VIRTIO_PCI_VENDOR ||
        pd->device != VIRTIO_PCI_MODERN_DEVICE_BASE + VIRTIO_ID_BLOCK)
        return -ENODEV;
    return nr_vblks == VBLK_MAX_DEVS ? -ENOSPC : vblk_probe(sys, pd);
}

static void vblk_remove(struct pci_system *sys, struct pci_dev *pd)
{
    blk_remove_pci(sys, pd);
    while (nr_vblks > 0 && vblks[nr_vblks - 1].blk.removed)
        nr_vblks--;
}

static const struct pci_hotplug_driver vblk_hotplug = { "virtio-blk", vblk_hotplug_probe,
                                                        vblk_remove };

static int vblk_init(void)
{
    struct pci_system *sys = platform_pci();
    if (!sys)
        return 0;
    int err = pci_hotplug_register_driver(&vblk_hotplug);
    if (err || !driver_may_bind("virtio-blk"))
        return err;
    uint16_t id = VIRTIO_PCI_MODERN_DEVICE_BASE + VIRTIO_ID_BLOCK;
    for (struct pci_dev *pd = pci_get_dev_by_id(sys, VIRTIO_PCI_VENDOR, id, NULL);
         pd && nr_vblks < VBLK_MAX_DEVS; pd = pci_get_dev_by_id(sys, VIRTIO_PCI_VENDOR, id, pd)) {
        if (pd->driver)
            continue;
        err = vblk_probe(sys, pd);
        if (err)
            kprintf("virtio-blk: %02x:%02x.%x: probe failed: %s\n", pd->bus, pd->devfn >> 3,
                    pd->devfn & 7, errno_name(err));
    }
    return 0;
}
MOAT_UNIT_OPTIONAL(70_driver, virtio_blk, vblk_init);
