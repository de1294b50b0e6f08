/* Virtio 1.x over PCI (modern only) and split virtqueues, for the runtime's virtio drivers.
 *
 * Rings live in the device's DMA space (drivers/dma): the descriptor table and the available
 * ring are mapped device-readable only, the used ring read/write; the device is given IOVAs.
 * Everything the device writes (used-ring indices, ids, lengths) is checked before use; the
 * driver keeps its own copy of every descriptor chain and never follows the shared table. */
#ifndef MOAT_DRIVERS_VIRTIO_VIRTIO_H
#define MOAT_DRIVERS_VIRTIO_VIRTIO_H

#include "drivers/dma/dma.h"
#include "drivers/virtio/virtio_hw.h"

struct pci_system;

#define VIRTIO_RESET_TIMEOUT_NS (1000ULL * 1000 * 1000)

struct virtio_pci {
    struct pci_dev *pci;
    volatile uint8_t *common;
    volatile uint8_t *notify;
    volatile uint8_t *isr;
    volatile uint8_t *device;
    uint32_t notify_len, notify_mult, device_len;
    uint64_t features;              /* negotiated */
};

/* Finds and maps the common, notify, ISR and device-configuration structures. -ENODEV when one
 * is missing, -EINVAL when a capability points outside its BAR. */
int virtio_pci_init(struct virtio_pci *vp, struct pci_system *sys, struct pci_dev *pd);
/* Writes 0 to device_status and waits (bounded) until the device reads back 0. */
int virtio_pci_reset(struct virtio_pci *vp);
void virtio_pci_add_status(struct virtio_pci *vp, uint8_t bits);
uint8_t virtio_pci_status(struct virtio_pci *vp);
/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK: accepts offered & wanted; -ENODEV when one of
 * required is not offered or the device refuses FEATURES_OK. */
int virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted, uint64_t required);
/* Device configuration reads, consistent through config_generation. */
int virtio_pci_config(struct virtio_pci *vp, unsigned off, void *buf, unsigned len);

struct virtq {
    uint16_t index, size;
    struct dma_mem drv;             /* descriptor table + available ring: device-readable */
    struct dma_mem dev;             /* used ring: device-writable */
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    struct virtq_used *used;
    volatile uint16_t *notify;
    /* driver-private: never read back from shared memory */
    uint16_t *next;                 /* free list and chain links */
    void **cookie;                  /* per chain head; NULL when not in flight */
    uint32_t *writable;             /* per chain head: device-writable bytes */
    uint16_t *chain_len;
    uint16_t free_head, nfree;
    uint16_t avail_idx, last_used;
    uint16_t in_flight;
};

struct virtq_buf {
    uint64_t iova;
    uint32_t len;
    bool device_writes;
};

/* Allocates a queue of at most max_size entries (the device's own maximum permitting), maps it
 * and programs queue `index` with its IOVAs and MSI-X vector (VIRTIO_MSI_NO_VECTOR: none, and
 * used-buffer notifications suppressed); enables it. */
int virtq_setup(struct virtio_pci *vp, struct dma_space *ds, struct virtq *vq, uint16_t index,
                uint16_t max_size, uint16_t msix_vector);
void virtq_release(struct dma_space *ds, struct virtq *vq);
/* Places a chain of n buffers with cookie (non-NULL) in the available ring (not yet notified).
 * Returns the chain's head, -EBUSY when too few descriptors are free. */
int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *cookie);
void virtq_kick(struct virtq *vq);
/* The head the next virtq_add will use (valid while descriptors are free): lets a driver index
 * per-request memory by head before it builds the chain. */
static inline uint16_t virtq_next_head(const struct virtq *vq) { return vq->free_head; }
/* The next used chain: 1 with its cookie, head and written length, 0 when none, -EPROTO when
 * the device wrote an index, id or length that cannot be (reported in what and value). */
int virtq_get(struct virtq *vq, void **cookie, uint16_t *head, uint32_t *len, const char **what,
              uint64_t *value);

#endif
