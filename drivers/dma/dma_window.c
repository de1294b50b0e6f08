/* Windows of slots (dma.h): strict mappings without an IOVA allocation, a tree or a table
 * allocation per I/O. The window is an IOAS window of the space (moat_ioas_window_*); this
 * file adds the slots and the buffers' physical runs. */
#include "drivers/dma/dma.h"
#include "kernel/mm/heap.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "moat/iommufd.h"

int dma_window_init(struct dma_window *win, struct dma_space *ds, unsigned nslots,
                    uint32_t max_bytes)
{
    memset(win, 0, sizeof(*win));
    win->ds = ds;
    if (!nslots || nslots > UINT16_MAX || !max_bytes)
        return -EINVAL;
    if (!dma_space_isolated(ds))
        return 0;
    /* A buffer that does not start on a page boundary spans one page more. */
    win->slot_size = (uint32_t)(ALIGN_UP((uint64_t)max_bytes, DMA_PAGE) + DMA_PAGE);
    win->size = (uint64_t)nslots * win->slot_size;
    win->free = kmalloc(nslots * sizeof(*win->free));
    if (!win->free)
        return -ENOMEM;
    int err = dma_iova_alloc(ds, win->size, &win->iova);
    if (!err) {
        err = moat_ioas_window_alloc(ds->ictx, ds->ioas_id, win->iova, win->size, &win->id,
                                     &win->w);
        if (err)
            dma_iova_free(ds, win->iova, win->size);
    }
    if (err) {
        kfree(win->free);
        win->free = NULL;
        win->w = NULL;
        return err;
    }
    win->nslots = nslots;
    for (unsigned i = 0; i < nslots; i++)       /* slot 0 on top */
        win->free[i] = (uint16_t)(nslots - 1 - i);
    win->nfree = nslots;
    return 0;
}

void dma_window_fini(struct dma_window *win)
{
    if (!win->w)
        return;
    MOAT_ASSERT(moat_iommufd_destroy(win->ds->ictx, win->id) == 0);
    if (win->nquarantined || win->nfree < win->nslots) {
        /* A quarantined slot's request (or one never completed, the device since cut off)
         * may still be held by the device: the IOVA range stays out of use while the space
         * lives (the bitmap keeps it; the quarantined slots were counted already). */
        win->ds->quarantined_pages +=
            (win->size - (uint64_t)win->nquarantined * win->slot_size) / DMA_PAGE;
    } else {
        dma_iova_free(win->ds, win->iova, win->size);
    }
    kfree(win->free);
    win->free = NULL;
    win->w = NULL;
}

struct window_run {
    struct moat_ioas_window *w;
    uint64_t offset;                /* of the buffer's first page in the window */
    uint32_t prot;
};

static int window_map_run(void *arg, uintptr_t va, uint64_t off, uint64_t len)
{
    struct window_run *r = arg;
    return moat_ioas_window_map(r->w, r->offset + off, (const void *)va, len, r->prot);
}

int dma_window_map(struct dma_window *win, const void *buf, size_t len, uint32_t prot,
                   struct dma_map *m, uint16_t *slot)
{
    uintptr_t va = (uintptr_t)buf, end;
    if (len == 0 || __builtin_add_overflow(va, len - 1, &end))
        return -EINVAL;
    uintptr_t first = ALIGN_DOWN(va, DMA_PAGE);
    uint64_t size = ALIGN_DOWN(end, DMA_PAGE) + DMA_PAGE - first;
    if (size > win->slot_size)
        return -EINVAL;
    if (!win->nfree)
        return -EAGAIN;
    uint16_t s = win->free[win->nfree - 1];
    struct window_run r = { win->w, (uint64_t)s * win->slot_size, prot };
    uint64_t done;
    int err = dma_for_each_run(first, size / DMA_PAGE, window_map_run, &r, &done);
    if (err) {
        if (done) {         /* never reached the device: cleared with its own sync */
            MOAT_ASSERT(moat_ioas_window_clear(win->w, r.offset, done * DMA_PAGE) == 0);
            dma_window_sync(win);
        }
        return err;
    }
    win->nfree--;
    m->iova_base = win->iova + r.offset;
    m->iova = m->iova_base + (va - first);
    m->size = size;
    *slot = s;
    return 0;
}

void dma_window_clear(struct dma_window *win, const struct dma_map *m)
{
    int err = moat_ioas_window_clear(win->w, m->iova_base - win->iova, m->size);
    if (err)
        panic("dma: window clear of iova %#llx+%#llx failed: %s",
              (unsigned long long)m->iova_base, (unsigned long long)m->size, errno_name(err));
}

void dma_window_sync(struct dma_window *win)
{
    moat_ioas_window_sync(win->w);
    win->nr_syncs++;
}

void dma_window_put(struct dma_window *win, uint16_t slot)
{
    MOAT_ASSERT(win->nfree < win->nslots && slot < win->nslots);
    win->free[win->nfree++] = slot;
}

void dma_window_quarantine(struct dma_window *win, const struct dma_map *m)
{
    dma_window_clear(win, m);
    dma_window_sync(win);
    win->nquarantined++;
    win->ds->quarantined_pages += win->slot_size / DMA_PAGE;
    kprintf("dma: quarantined iova %#llx+%#llx (I/O never completed)\n",
            (unsigned long long)m->iova_base, (unsigned long long)m->size);
}
