/* Split virtqueues (virtio 1.2, 2.7) in the device's DMA space. The driver keeps every chain's
 * links, lengths and owner in private arrays; the shared descriptor table is written, never
 * read back, and every used-ring entry is checked against what is in flight. */
#include "arch/arch.h"
#include "drivers/virtio/virtio.h"
#include "kernel/mm/heap.h"
#include "lib/errno.h"
#include "lib/string.h"

static void wr16(volatile uint8_t *b, unsigned off, uint16_t v)
{
    *(volatile uint16_t *)(b + off) = v;
}
static uint16_t rd16(volatile uint8_t *b, unsigned off) { return *(volatile uint16_t *)(b + off); }

/* A 64-bit register as two 32-bit halves (4.1.3.1 allows it). */
static void wr64(volatile uint8_t *b, unsigned lo, uint64_t v)
{
    *(volatile uint32_t *)(b + lo) = (uint32_t)v;
    *(volatile uint32_t *)(b + lo + 4) = (uint32_t)(v >> 32);
}

static int alloc_private(struct virtq *vq)
{
    vq->next = kcalloc(vq->size, sizeof(*vq->next));
    vq->cookie = kcalloc(vq->size, sizeof(*vq->cookie));
    vq->writable = kcalloc(vq->size, sizeof(*vq->writable));
    vq->chain_len = kcalloc(vq->size, sizeof(*vq->chain_len));
    if (!vq->next || !vq->cookie || !vq->writable || !vq->chain_len)
        return -ENOMEM;
    for (uint16_t i = 0; i < vq->size; i++)
        vq->next[i] = (uint16_t)(i + 1);
    vq->free_head = 0;
    vq->nfree = vq->size;
    return 0;
}

/* The descriptor table and the available ring are only read by the device; the used ring is
 * the one thing it writes (and reads back, for its flags). */
static int alloc_rings(struct dma_space *ds, struct virtq *vq)
{
    uint64_t desc_bytes = 16ULL * vq->size;
    int err = dma_alloc(ds, desc_bytes + virtq_avail_bytes(vq->size), IOMMU_READ, &vq->drv);
    if (err)
        return err;
    err = dma_alloc(ds, virtq_used_bytes(vq->size), IOMMU_READ | IOMMU_WRITE, &vq->dev);
    if (err)
        return err;
    vq->desc = vq->drv.cpu;
    vq->avail = (struct virtq_avail *)((uint8_t *)vq->drv.cpu + desc_bytes);
    vq->used = vq->dev.cpu;
    return 0;
}

static int program_queue(struct virtio_pci *vp, struct virtq *vq, uint16_t msix_vector)
{
    volatile uint8_t *c = vp->common;
    uint64_t noff = (uint64_t)rd16(c, VIRTIO_PCI_COMMON_Q_NOFF) * vp->notify_mult;
    if (noff + 2 > vp->notify_len)
        return -EINVAL;
    vq->notify = (volatile uint16_t *)(vp->notify + noff);
    wr16(c, VIRTIO_PCI_COMMON_Q_SIZE, vq->size);
    /* Completions are polled; an interrupt, when asked for, only reports them. */
    vq->avail->flags = msix_vector == VIRTIO_MSI_NO_VECTOR ? VIRTQ_AVAIL_F_NO_INTERRUPT : 0;
    wr16(c, VIRTIO_PCI_COMMON_Q_MSIX, msix_vector);
    if (rd16(c, VIRTIO_PCI_COMMON_Q_MSIX) != msix_vector)
        return -EBUSY;      /* 4.1.5.1.2: the device could not take the vector */
    wr64(c, VIRTIO_PCI_COMMON_Q_DESCLO, vq->drv.iova);
    wr64(c, VIRTIO_PCI_COMMON_Q_AVAILLO, vq->drv.iova + 16ULL * vq->size);
    wr64(c, VIRTIO_PCI_COMMON_Q_USEDLO, vq->dev.iova);
    wmb();
    wr16(c, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
    return 0;
}

int virtq_setup(struct virtio_pci *vp, struct dma_space *ds, struct virtq *vq, uint16_t index,
                uint16_t max_size, uint16_t msix_vector)
{
    memset(vq, 0, sizeof(*vq));
    vq->index = index;
    wr16(vp->common, VIRTIO_PCI_COMMON_Q_SELECT, index);
    uint16_t dev_max = rd16(vp->common, VIRTIO_PCI_COMMON_Q_SIZE);
    if (dev_max == 0)
        return -ENOENT;
    uint16_t size = 1;
    while (size * 2u <= MIN(dev_max, max_size))     /* split rings: a power of two */
        size = (uint16_t)(size * 2);
    vq->size = size;
    int err = alloc_private(vq);
    if (!err)
        err = alloc_rings(ds, vq);
    if (!err)
        err = program_queue(vp, vq, msix_vector);
    if (err)
        virtq_release(ds, vq);
    return err;
}

void virtq_release(struct dma_space *ds, struct virtq *vq)
{
    dma_free(ds, &vq->drv);
    dma_free(ds, &vq->dev);
    kfree(vq->next);
    kfree(vq->cookie);
    kfree(vq->writable);
    kfree(vq->chain_len);
    memset(vq, 0, sizeof(*vq));
}

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *cookie)
{
    if (n == 0 || n > vq->nfree || !cookie)
        return -EBUSY;
    uint16_t head = vq->free_head, d = head;
    uint32_t writable = 0;
    for (unsigned i = 0; i < n; i++) {
        struct virtq_desc *desc = &vq->desc[d];
        desc->addr = bufs[i].iova;
        desc->len = bufs[i].len;
        desc->flags = (uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
                                 (bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0));
        desc->next = vq->next[d];
        writable += bufs[i].device_writes ? bufs[i].len : 0;
        if (i + 1 < n)
            d = vq->next[d];
    }
    vq->free_head = vq->next[d];
    vq->nfree = (uint16_t)(vq->nfree - n);
    vq->cookie[head] = cookie;
    vq->writable[head] = writable;
    vq->chain_len[head] = (uint16_t)n;
    vq->avail->ring[vq->avail_idx % vq->size] = head;
    wmb();      /* 2.7.13: the ring entry and descriptors before the index */
    WRITE_ONCE(vq->avail->idx, ++vq->avail_idx);
    vq->in_flight++;
    return head;
}

void virtq_kick(struct virtq *vq)
{
    mb();       /* the new available index is visible before the device looks */
    *vq->notify = vq->index;
}

static void free_chain(struct virtq *vq, uint16_t head)
{
    uint16_t last = head;
    for (unsigned i = 1; i < vq->chain_len[head]; i++)
        last = vq->next[last];
    vq->next[last] = vq->free_head;
    vq->free_head = head;
    vq->nfree = (uint16_t)(vq->nfree + vq->chain_len[head]);
    vq->cookie[head] = NULL;
    vq->in_flight--;
}

#define BAD(w, v)          \
    do {                   \
        *what = (w);       \
        *value = (v);      \
        return -EPROTO;    \
    } while (0)

int virtq_get(struct virtq *vq, void **cookie, uint16_t *head, uint32_t *len, const char **what,
              uint64_t *value)
{
    uint16_t used_idx = READ_ONCE(vq->used->idx);
    if (used_idx == vq->last_used)
        return 0;
    if ((uint16_t)(used_idx - vq->last_used) > vq->in_flight)
        BAD("a used index ahead of what is in flight", used_idx);
    rmb();      /* the entry is read after the index that published it */
    const struct virtq_used_elem *e = &vq->used->ring[vq->last_used % vq->size];
    uint32_t id = READ_ONCE(e->id), written = READ_ONCE(e->len);
    if (id >= vq->size)
        BAD("a used id out of range", id);
    if (!vq->cookie[id])
        BAD("a used id that is not in flight", id);
    if (written > vq->writable[id])
        BAD("a used length beyond the device-writable buffers", written);
    *cookie = vq->cookie[id];
    *head = (uint16_t)id;
    *len = written;
    free_chain(vq, (uint16_t)id);
    vq->last_used++;
    return 1;
}
