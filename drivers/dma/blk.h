/* Block devices for in-runtime users: virtio-blk and NVMe register here, callers read and write
 * logical blocks with either DMA mode:
 *   BLK_DMA_POOLED  data goes through buffers mapped once at set-up (the data path does no
 *                   IOMMU work; one copy per I/O);
 *   BLK_DMA_STRICT  the caller's own buffer is mapped for exactly one I/O and unmapped (with
 *                   the IOTLB invalidation) before the I/O is reported done: no DMA into it
 *                   can happen afterwards. Behind an IOMMU the mapping goes into the I/O's
 *                   slot of the device's window (dma_window: tables allocated once, leaf
 *                   entries stored and cleared per I/O); completions reaped by one poll are
 *                   cleared together and leave with one invalidation and one wait.
 * Synchronous calls (blk_read, blk_write, blk_flush) wait with a deadline. The asynchronous
 * steps below them (prepare, submit, poll, complete) let a caller keep several I/Os in flight.
 *
 * A device that misbehaves (a completion for a request it was not given, a length beyond the
 * buffer, a timeout) is marked broken: its requests end with an error, their IOVAs are
 * quarantined, and nothing more is submitted to it. */
#ifndef MOAT_DRIVERS_DMA_BLK_H
#define MOAT_DRIVERS_DMA_BLK_H

#include "arch/msi.h"
#include "drivers/dma/dma.h"

struct blk_dev;
struct pci_system;

enum blk_op { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH };
enum blk_dma_mode { BLK_DMA_POOLED, BLK_DMA_STRICT };

#define BLK_MAX_DEVS 8
#define BLK_REAP_BATCH 32       /* STRICT completions whose unmaps share one invalidation */
#define BLK_WINDOW_SLOTS 64     /* STRICT I/Os in flight at once (at most queue_depth) */
#define BLK_IO_TIMEOUT_NS (10ULL * 1000 * 1000 * 1000)   /* per I/O; TCG is slow */
#define BLK_MAX_TAGS 128        /* drivers' request slots (io->tag) are below this */
#define BLK_MAX_RECOVERIES 3    /* resets after missed deadlines before a device is given up */

struct blk_io {
    /* what to do: set by blk_io_prepare */
    uint8_t op;                 /* enum blk_op */
    uint64_t lba;
    uint32_t nlb;
    uint64_t iova;              /* the data's first byte, contiguous in IOVA space */
    uint32_t len;               /* bytes: nlb * lba_size */
    /* the outcome: set by the driver when it reaps the completion */
    volatile bool done;
    int status;                 /* 0, -EIO, -ERANGE (LBA out of range), -EOPNOTSUPP, -ENODEV
                                 * (the device left before completing it) */
    bool abandoned;             /* ended without the device: its data was detached then */
    uint16_t tag;               /* the driver's request slot */
    /* the owner's */
    enum blk_dma_mode mode;
    void *buf;                  /* the caller's buffer */
    void *bounce;               /* POOLED: the pool buffer */
    struct dma_map map;         /* STRICT: the mapping of buf */
    bool mapped;                /* STRICT: map is live */
    uint16_t slot;              /* STRICT, translated: its slot of the device's window */
};

struct blk_dev_ops {
    /* Brings the device up on b->dma (rings, queues); the device is reset first. On failure
     * the block layer calls reset, blocks the device's DMA, then calls release. */
    int (*start)(struct blk_dev *b);
    /* Resets the device, ending every DMA it might still do (bounded: -ETIMEDOUT). */
    int (*reset)(struct blk_dev *b);
    /* Frees what start set up (the device is reset, or cut off from its domain). */
    void (*release)(struct blk_dev *b);
    /* Queues io and tells the device (not while b->plugged: then commit does). -EBUSY when
     * the queue is full. */
    int (*submit)(struct blk_dev *b, struct blk_io *io);
    /* Tells the device of every I/O submitted while plugged: one doorbell or notification. */
    void (*commit)(struct blk_dev *b);
    /* Reaps completions, handing each to blk_io_reaped; returns how many, or a negative
     * errno when the device wrote something invalid. */
    int (*poll)(struct blk_dev *b);
};

struct blk_dev {
    char name[16];              /* "vblk0", "nvme0n1" */
    struct pci_dev *pci;
    const struct blk_dev_ops *ops;
    void *priv;                 /* the driver's */
    uint32_t lba_size;
    uint64_t nlba;
    uint32_t max_io;            /* bytes per I/O, a multiple of lba_size */
    unsigned queue_depth;       /* I/Os the device takes at once */
    struct dma_space dma;
    struct dma_pool pool;       /* queue_depth buffers of max_io bytes */
    struct dma_window win;      /* STRICT: a slot per request in flight (translated only) */
    enum blk_dma_mode mode;     /* of blk_read/blk_write */
    bool up, broken;
    bool removed;               /* blk_dev_remove: every call answers -ENODEV */
    bool no_recovery;           /* a missed deadline leaves the device broken (tests) */
    unsigned nr_recoveries;     /* blk_dev_recover's resets so far */
    bool given_up;              /* misbehaved past BLK_MAX_RECOVERIES: down and blocked */
    bool plugged;               /* blk_plug: submissions wait for blk_unplug's one doorbell */
    unsigned nr_held;           /* submitted while plugged, not yet told to the device */
    uint64_t nr_commits;        /* blk_unplug's doorbells */
    uint64_t timeout_ns;
    uint64_t nr_io, nr_timeouts, nr_bad_completions;
    uint64_t leaked_bytes;      /* kept from reuse: a device without IOMMU that did not reset */
    /* completion interrupts (blk_irq.c), opt-in: want_irq before setup or a rebind */
    bool want_irq, irq_on;      /* irq_on: MSI-X entry 0 live; drivers route completions to it */
    int irq_vector;
    struct msi_msg msi;         /* the message MSI-X entry 0 sends */
    volatile uint32_t *msix_entry;
    volatile uint64_t nr_irqs;
    /* STRICT completions reaped by the current poll, not yet unmapped (blk_io_reaped) */
    struct blk_io *reaped[BLK_REAP_BATCH];
    unsigned nr_reaped;
    uint64_t nr_reap_batches;   /* unmap calls for reaped I/Os (one invalidation wait each) */
    /* I/Os the device was given and has not completed, by tag: removal ends them */
    struct blk_io *inflight[BLK_MAX_TAGS];
    uint64_t nr_ended_by_removal;
};

/* Drivers: sets up b's DMA space (type: PAGING normally), enables the PCI function, runs
 * ops->start and fills the pool; then registers b (first call only). */
int blk_dev_setup(struct blk_dev *b, enum iommu_domain_type type);
/* Resets the device, cuts it off from its domain, then frees its rings, pool and domain. */
void blk_dev_teardown(struct blk_dev *b);
/* The device is leaving (hot-unplug) or has left: what it completed is reaped, then it is
 * reset and blocked, every I/O it still held ends with -ENODEV (done, its buffer detached: a
 * STRICT mapping unmapped with its IOVA quarantined, a pool buffer quarantined), its memory and
 * domain are freed, and it leaves the registry. The blk_dev's memory stays valid (the driver
 * owns it): callers still holding I/Os complete them and get -ENODEV, and -ENODEV from every
 * other call. */
void blk_dev_remove(struct blk_dev *b);
/* A device that missed an I/O deadline or wrote an impossible completion (broken) is reset,
 * every other I/O it held ends with -EIO, and it is brought up again on a new domain of the
 * same type (as Linux's NVMe timeout handler resets the controller); blk_io_wait calls this
 * for the I/O it gave up on. After BLK_MAX_RECOVERIES a device is given up: reset, blocked,
 * its memory freed, reported; -EIO from then on. Returns 0 when the device is up again. */
int blk_dev_recover(struct blk_dev *b);
/* A block driver's hot-unplug hook (pci_hotplug_driver.remove): blk_dev_remove of the device
 * registered for pd, if any. */
void blk_remove_pci(struct pci_system *sys, struct pci_dev *pd);
/* Both: moves a device to a domain of another type (the benchmark's identity runs). */
int blk_dev_rebind(struct blk_dev *b, enum iommu_domain_type type);
/* MSI-X entry 0 of the function to this CPU (through interrupt remapping when the unit has
 * it): -ENODEV without MSI-X. Called by blk_dev_setup when want_irq; disabled on teardown. */
int blk_irq_enable(struct blk_dev *b);
void blk_irq_disable(struct blk_dev *b);
/* The function is leaving (reset and blocked, so none of its messages can still come): its
 * vector and what its message took (an interrupt remapping entry, an ITS event) are given
 * back. blk_dev_remove calls it. */
void blk_irq_release(struct blk_dev *b);
/* Drivers hand every completed io here from ops->poll. A STRICT one is not done yet: blk_poll
 * unmaps the buffers of all the I/Os its poll reaped with one invalidation wait, and only
 * then marks them done, so a caller never sees a completed I/O whose buffer the device can
 * still reach. */
void blk_io_reaped(struct blk_dev *b, struct blk_io *io, int status);
/* Drivers report what a completion says; logs and marks the device broken on a bad one. */
void blk_dev_bad_completion(struct blk_dev *b, const char *what, uint64_t value);

/* POOLED's copy between the caller's buffer and the pool buffer: the fastest of a portable
 * unrolled loop and the CPU's own bulk copies (arch_copies), chosen by timing each once at the
 * first copy (memcpy for lengths or buffers not 64-byte multiples). blk_copy_costs: each
 * candidate's name and nanoseconds on 4 KiB (up to max; returns how many), the one chosen in
 * *which. */
void blk_copy(void *dst, const void *src, size_t n);
unsigned blk_copy_costs(const char **names, uint64_t *ns, unsigned max, const char **which);

unsigned blk_count(void);
struct blk_dev *blk_get(unsigned i);
struct blk_dev *blk_find(const char *name);

int blk_read(struct blk_dev *b, uint64_t lba, uint32_t nlb, void *buf);
int blk_write(struct blk_dev *b, uint64_t lba, uint32_t nlb, const void *buf);
int blk_flush(struct blk_dev *b);
void blk_set_mode(struct blk_dev *b, enum blk_dma_mode mode);

/* The asynchronous steps. prepare checks the range (-ERANGE past the end, -EINVAL for zero or
 * too many blocks), then maps buf into a free slot of the window (STRICT; -EAGAIN when every
 * slot is in use) or takes a pool buffer (POOLED; -EAGAIN when none is free) and copies the
 * data of a write into it. complete undoes that (copying a read's data out
 * of the pool buffer) once io->done and returns io->status. POOLED with buf NULL copies
 * nothing: the caller fills or reads io->bounce itself, before submit or before complete. */
int blk_io_prepare(struct blk_dev *b, struct blk_io *io, enum blk_dma_mode mode, enum blk_op op,
                   uint64_t lba, uint32_t nlb, void *buf);
int blk_io_submit(struct blk_dev *b, struct blk_io *io);
/* Between blk_plug and blk_unplug, submitted I/Os wait in the device's queue and unplug tells
 * the device of all of them at once (one doorbell instead of one per I/O, as Linux's plugs and
 * its NVMe driver's last-request doorbell). Waiting (blk_io_wait, blk_read...) unplugs first. */
void blk_plug(struct blk_dev *b);
void blk_unplug(struct blk_dev *b);
int blk_poll(struct blk_dev *b);
int blk_io_complete(struct blk_dev *b, struct blk_io *io);
/* Waits (bounded) for io and completes it; on a timeout or a broken device the I/O is
 * abandoned: its IOVA quarantined, -ETIMEDOUT or -EIO returned. */
int blk_io_wait(struct blk_dev *b, struct blk_io *io);

#endif
