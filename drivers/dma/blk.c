/* The block-device layer (blk.h): registry, range checks, the two DMA modes, bounded waits. */
#include "drivers/dma/blk.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_platform.h"

static struct blk_dev *devs[BLK_MAX_DEVS];
static unsigned nr_devs;

unsigned blk_count(void)
{
    return nr_devs;
}

struct blk_dev *blk_get(unsigned i)
{
    return i < nr_devs ? devs[i] : NULL;
}

struct blk_dev *blk_find(const char *name)
{
    for (unsigned i = 0; i < nr_devs; i++)
        if (strcmp(devs[i]->name, name) == 0)
            return devs[i];
    return NULL;
}

static void blk_register(struct blk_dev *b)
{
    for (unsigned i = 0; i < nr_devs; i++)
        if (devs[i] == b)
            return;
    if (nr_devs < BLK_MAX_DEVS)
        devs[nr_devs++] = b;
}

/* Completions are polled: the function's legacy interrupt is turned off. */
static int start_device(struct blk_dev *b)
{
    struct pci_system *sys = platform_pci();
    int err = pci_enable_device_cmd(sys, b->pci, PCI_COMMAND_INTX_DISABLE);
    if (!err && b->want_irq)
        err = blk_irq_enable(b);
    if (!err)
        err = b->ops->start(b);
    if (!err)
        err = dma_pool_init(&b->pool, &b->dma, MIN(b->queue_depth, 32u), b->max_io);
    if (!err) {
        err = dma_window_init(&b->win, &b->dma, MIN(b->queue_depth, BLK_WINDOW_SLOTS),
                              b->max_io);
        if (err)
            dma_pool_fini(&b->pool);
    }
    if (err) {
        /* Whatever start set up is freed only once the device cannot reach it. */
        b->ops->reset(b);
        blk_irq_disable(b);
        dma_space_block(&b->dma);
        b->ops->release(b);
    }
    return err;
}

int blk_dev_setup(struct blk_dev *b, enum iommu_domain_type type)
{
    int err = dma_space_init(&b->dma, b->pci, type);
    if (err)
        return err;
    err = start_device(b);
    if (err) {
        dma_space_fini(&b->dma);
        return err;
    }
    if (!b->timeout_ns)
        b->timeout_ns = BLK_IO_TIMEOUT_NS;
    b->up = true;
    b->broken = false;
    b->plugged = false;
    b->nr_held = 0;
    blk_register(b);
    return 0;
}

static void detach_data(struct blk_dev *b, struct blk_io *io, bool abandon);

/* Nothing the device could still reach is freed: it is reset and, behind an IOMMU, cut off
 * from its domain first. Without an IOMMU, a device that did not reset keeps its memory.
 * before_free (removal and recovery end the I/Os the device held there) runs after the reset
 * and before the device leaves its domain: their mappings are taken down (quarantined) while
 * the domain that holds them still exists, each with its invalidation. */
static void teardown(struct blk_dev *b, void (*before_free)(struct blk_dev *b))
{
    if (!b->up)
        return;
    b->up = false;
    int err = b->ops->reset(b);
    blk_irq_disable(b);
    if (before_free)
        before_free(b);
    dma_space_block(&b->dma);
    if (err && !dma_space_isolated(&b->dma)) {
        kprintf("blk: %s: reset failed (%s) with no IOMMU: its memory is never reused\n",
                b->name, errno_name(err));
        b->leaked_bytes += (uint64_t)b->pool.nbufs * b->max_io;
        return;
    }
    b->ops->release(b);
    dma_window_fini(&b->win);
    dma_pool_fini(&b->pool);
    dma_space_fini(&b->dma);
}

void blk_dev_teardown(struct blk_dev *b)
{
    teardown(b, NULL);
}

/* The device is reset and blocked: what it still held can never complete. */
static void end_inflight(struct blk_dev *b, int status)
{
    for (unsigned tag = 0; tag < BLK_MAX_TAGS; tag++) {
        struct blk_io *io = b->inflight[tag];
        if (!io)
            continue;
        b->inflight[tag] = NULL;
        detach_data(b, io, true);
        io->abandoned = true;
        io->status = status;
        io->done = true;
        if (status == -ENODEV)
            b->nr_ended_by_removal++;
    }
}

static void end_removed(struct blk_dev *b)
{
    end_inflight(b, -ENODEV);
}

static void end_failed(struct blk_dev *b)
{
    end_inflight(b, -EIO);
}

int blk_dev_recover(struct blk_dev *b)
{
    if (b->removed || b->given_up)
        return b->removed ? -ENODEV : -EIO;
    enum iommu_domain_type type = b->dma.type;
    if (b->nr_recoveries == BLK_MAX_RECOVERIES) {
        teardown(b, end_failed);
        b->given_up = true;
        b->broken = true;
        kprintf("blk: %s: misbehaved again after %u resets: given up, its DMA blocked\n",
                b->name, b->nr_recoveries);
        return -EIO;
    }
    b->nr_recoveries++;
    teardown(b, end_failed);
    int err = blk_dev_setup(b, type);
    kprintf("blk: %s: reset and brought up again (recovery %u of %u)%s%s\n", b->name,
            b->nr_recoveries, BLK_MAX_RECOVERIES, err ? ": failed, " : "",
            err ? errno_name(err) : "");
    return err;
}

static void blk_unregister(struct blk_dev *b)
{
    for (unsigned i = 0; i < nr_devs; i++) {
        if (devs[i] == b) {
            devs[i] = devs[--nr_devs];   /* order carries no meaning */
            return;
        }
    }
}

void blk_remove_pci(struct pci_system *sys, struct pci_dev *pd)
{
    for (unsigned i = 0; i < nr_devs; i++) {
        if (devs[i]->pci == pd) {
            blk_dev_remove(devs[i]);
            return;
        }
    }
}

void blk_dev_remove(struct blk_dev *b)
{
    if (b->up && !b->broken) {
        blk_unplug(b);
        blk_poll(b);        /* what the device finished ends with its own status */
    }
    b->removed = true;
    teardown(b, end_removed);
    blk_irq_release(b);
    blk_unregister(b);
    if (b->nr_ended_by_removal)
        kprintf("blk: %s: removed; %llu I/Os it held ended with -ENODEV\n", b->name,
                (unsigned long long)b->nr_ended_by_removal);
    else
        kprintf("blk: %s: removed\n", b->name);
}

int blk_dev_rebind(struct blk_dev *b, enum iommu_domain_type type)
{
    blk_dev_teardown(b);
    return blk_dev_setup(b, type);
}

void blk_dev_bad_completion(struct blk_dev *b, const char *what, uint64_t value)
{
    kprintf("blk: %s: device wrote %s (%#llx): rejected, device marked broken\n", b->name, what,
            (unsigned long long)value);
    b->nr_bad_completions++;
    b->broken = true;
}

void blk_set_mode(struct blk_dev *b, enum blk_dma_mode mode)
{
    b->mode = mode;
}

/* ---- asynchronous steps ---- */

static int check_range(const struct blk_dev *b, enum blk_op op, uint64_t lba, uint32_t nlb)
{
    uint64_t end;
    if (op == BLK_OP_FLUSH)
        return nlb == 0 ? 0 : -EINVAL;
    if (nlb == 0 || (uint64_t)nlb * b->lba_size > b->max_io)
        return -EINVAL;
    if (__builtin_add_overflow(lba, nlb, &end) || end > b->nlba)
        return -ERANGE;
    return 0;
}

static int attach_data(struct blk_dev *b, struct blk_io *io)
{
    if (io->mode == BLK_DMA_STRICT) {
        /* The device writes memory on a read and reads it on a write: nothing more. */
        uint32_t prot = io->op == BLK_OP_READ ? IOMMU_WRITE : IOMMU_READ;
        int err = b->win.w ? dma_window_map(&b->win, io->buf, io->len, prot, &io->map, &io->slot)
                           : dma_map(&b->dma, io->buf, io->len, prot, &io->map);
        io->iova = io->map.iova;
        io->mapped = err == 0;
        return err;
    }
    io->bounce = dma_pool_get(&b->pool, &io->iova);
    if (!io->bounce)
        return -EAGAIN;
    if (io->op == BLK_OP_WRITE && io->buf)
        blk_copy(io->bounce, io->buf, io->len);
    return 0;
}

int blk_io_prepare(struct blk_dev *b, struct blk_io *io, enum blk_dma_mode mode, enum blk_op op,
                   uint64_t lba, uint32_t nlb, void *buf)
{
    if (b->removed)
        return -ENODEV;
    int err = check_range(b, op, lba, nlb);
    if (err)
        return err;
    if (!b->up || b->broken)
        return -EIO;
    memset(io, 0, sizeof(*io));
    io->op = (uint8_t)op;
    io->lba = lba;
    io->nlb = nlb;
    io->len = nlb * b->lba_size;
    io->mode = mode;
    io->buf = buf;
    return op == BLK_OP_FLUSH ? 0 : attach_data(b, io);
}

int blk_io_submit(struct blk_dev *b, struct blk_io *io)
{
    if (b->removed)
        return -ENODEV;
    if (b->broken)
        return -EIO;
    io->done = false;
    io->status = -EINPROGRESS;
    b->nr_io++;
    int err = b->ops->submit(b, io);
    if (!err && b->plugged)
        b->nr_held++;
    if (!err) {
        MOAT_ASSERT(io->tag < BLK_MAX_TAGS);
        b->inflight[io->tag] = io;
    }
    return err;
}

void blk_plug(struct blk_dev *b)
{
    b->plugged = b->ops->commit != NULL;
}

void blk_unplug(struct blk_dev *b)
{
    if (!b->plugged)
        return;
    b->plugged = false;
    if (b->nr_held && !b->broken) {
        b->ops->commit(b);
        b->nr_commits++;
    }
    b->nr_held = 0;
}

/* The buffers of every STRICT I/O reaped so far leave the device's reach with one
 * invalidation wait; only then are the I/Os done. */
static void finish_reaped(struct blk_dev *b)
{
    unsigned n = b->nr_reaped;
    if (b->win.w) {
        for (unsigned i = 0; i < n; i++)
            dma_window_clear(&b->win, &b->reaped[i]->map);
        dma_window_sync(&b->win);
        for (unsigned i = 0; i < n; i++)
            dma_window_put(&b->win, b->reaped[i]->slot);
    } else {
        struct dma_map *maps[BLK_REAP_BATCH] = { NULL };
        for (unsigned i = 0; i < n; i++)
            maps[i] = &b->reaped[i]->map;
        dma_unmap_many(&b->dma, maps, n);
    }
    b->nr_reap_batches++;
    for (unsigned i = 0; i < n; i++) {
        b->reaped[i]->mapped = false;
        b->reaped[i]->done = true;
    }
    b->nr_reaped = 0;
}

/* A STRICT I/O that is not reaped: abandoned (never completed) or never submitted. */
static void strict_unmap(struct blk_dev *b, struct blk_io *io, bool abandon)
{
    if (!b->win.w) {
        if (abandon)
            dma_unmap_quarantine(&b->dma, &io->map);
        else
            dma_unmap(&b->dma, &io->map);
    } else if (abandon) {
        dma_window_quarantine(&b->win, &io->map);
    } else {
        dma_window_clear(&b->win, &io->map);
        dma_window_sync(&b->win);
        dma_window_put(&b->win, io->slot);
    }
    io->mapped = false;
}

void blk_io_reaped(struct blk_dev *b, struct blk_io *io, int status)
{
    if (io->tag < BLK_MAX_TAGS && b->inflight[io->tag] == io)
        b->inflight[io->tag] = NULL;
    io->status = status;
    if (io->mode != BLK_DMA_STRICT || !io->mapped || !dma_space_isolated(&b->dma)) {
        io->done = true;
        return;
    }
    if (b->nr_reaped == BLK_REAP_BATCH)
        finish_reaped(b);
    b->reaped[b->nr_reaped++] = io;
}

int blk_poll(struct blk_dev *b)
{
    if (b->removed)
        return -ENODEV;
    if (b->broken)
        return -EIO;
    int n = b->ops->poll(b);
    if (b->nr_reaped)           /* also after a bad completion: those I/O did complete */
        finish_reaped(b);
    if (n < 0)
        b->broken = true;
    return n;
}

/* Undoes prepare. abandon: the I/O never completed, the device may still hold its IOVA. */
static void detach_data(struct blk_dev *b, struct blk_io *io, bool abandon)
{
    if (io->tag < BLK_MAX_TAGS && b->inflight[io->tag] == io)
        b->inflight[io->tag] = NULL;
    if (io->abandoned || io->op == BLK_OP_FLUSH)
        return;
    if (io->mode == BLK_DMA_STRICT) {
        if (io->mapped)         /* else unmapped when it was reaped */
            strict_unmap(b, io, abandon);
        return;
    }
    if (abandon) {
        dma_pool_quarantine(&b->pool, io->bounce);
        return;
    }
    if (io->op == BLK_OP_READ && io->status == 0 && io->buf)
        blk_copy(io->buf, io->bounce, io->len);
    dma_pool_put(&b->pool, io->bounce);
}

int blk_io_complete(struct blk_dev *b, struct blk_io *io)
{
    MOAT_ASSERT(io->done);
    detach_data(b, io, false);
    return io->status;
}

/* Undoes prepare for an I/O that was never submitted. */
static void io_cancel(struct blk_dev *b, struct blk_io *io)
{
    io->status = 0;
    detach_data(b, io, false);
}

int blk_io_wait(struct blk_dev *b, struct blk_io *io)
{
    blk_unplug(b);      /* else io may never reach the device */
    int err = poll_until(io->done || blk_poll(b) < 0 || io->done, b->timeout_ns);
    if (io->done)
        return blk_io_complete(b, io);
    if (err == -ETIMEDOUT) {
        kprintf("blk: %s: I/O at lba %llu timed out; device marked broken\n", b->name,
                (unsigned long long)io->lba);
        b->nr_timeouts++;
        b->broken = true;
    }
    detach_data(b, io, true);
    if (b->removed)
        return -ENODEV;
    if (!b->no_recovery) {
        blk_dev_recover(b);     /* resets first: the device lets go of the buffer */
        return err ? err : -EIO;
    }
    /* Untranslated, nothing but a reset keeps the device out of the caller's buffer. */
    if (!dma_space_isolated(&b->dma)) {
        int rerr = b->ops->reset(b);
        if (rerr)
            kprintf("blk: %s: reset after an abandoned I/O failed (%s): the device may still "
                    "write memory it was given\n", b->name, errno_name(rerr));
    }
    return err ? err : -EIO;
}

/* ---- synchronous calls ---- */

static int blk_rw(struct blk_dev *b, enum blk_op op, uint64_t lba, uint32_t nlb, void *buf)
{
    uint64_t end;
    if (nlb == 0)
        return -EINVAL;
    if (__builtin_add_overflow(lba, nlb, &end) || end > b->nlba)
        return -ERANGE;
    uint32_t per_io = b->max_io / b->lba_size;
    for (uint32_t done = 0; done < nlb;) {
        uint32_t n = MIN(per_io, nlb - done);
        struct blk_io io;
        int err = blk_io_prepare(b, &io, b->mode, op, lba + done, n,
                                 (uint8_t *)buf + (size_t)done * b->lba_size);
        if (err)
            return err;
        err = blk_io_submit(b, &io);
        if (err) {
            io_cancel(b, &io);
            return err;
        }
        err = blk_io_wait(b, &io);
        if (err)
            return err;
        done += n;
    }
    return 0;
}

int blk_read(struct blk_dev *b, uint64_t lba, uint32_t nlb, void *buf)
{
    return blk_rw(b, BLK_OP_READ, lba, nlb, buf);
}

int blk_write(struct blk_dev *b, uint64_t lba, uint32_t nlb, const void *buf)
{
    return blk_rw(b, BLK_OP_WRITE, lba, nlb, (void *)buf);
}

int blk_flush(struct blk_dev *b)
{
    struct blk_io io;
    int err = blk_io_prepare(b, &io, b->mode, BLK_OP_FLUSH, 0, 0, NULL);
    if (!err)
        err = blk_io_submit(b, &io);
    return err ? err : blk_io_wait(b, &io);
}
