/* Pools of pre-mapped DMA buffers (dma.h): every buffer is allocated and mapped once, at
 * dma_pool_init, so that taking and returning one costs no IOMMU work. Buffers are carved from
 * slabs of up to 2 MiB: fewer map calls, and a 2 MiB slab is one IOTLB entry. */
#include "drivers/dma/dma.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

int dma_pool_init(struct dma_pool *p, struct dma_space *ds, unsigned nbufs, uint32_t bufsize)
{
    memset(p, 0, sizeof(*p));
    if (nbufs == 0 || nbufs > UINT16_MAX || bufsize == 0 || bufsize > DMA_SUPERPAGE)
        return -EINVAL;
    uint64_t stride = ALIGN_UP((uint64_t)bufsize, DMA_PAGE);
    unsigned per_slab = (unsigned)(DMA_SUPERPAGE / stride);
    p->ds = ds;
    p->bufsize = bufsize;
    p->slabs = kcalloc((nbufs + per_slab - 1) / per_slab, sizeof(*p->slabs));
    p->bufs = kcalloc(nbufs, sizeof(*p->bufs));
    p->free = kcalloc(nbufs, sizeof(*p->free));
    if (!p->slabs || !p->bufs || !p->free) {
        dma_pool_fini(p);
        return -ENOMEM;
    }
    while (p->nbufs < nbufs) {
        unsigned n = MIN(per_slab, nbufs - p->nbufs);
        struct dma_mem *m = &p->slabs[p->nslabs];
        int err = dma_alloc(ds, n * stride, IOMMU_READ | IOMMU_WRITE, m);
        if (err) {
            dma_pool_fini(p);
            return err;
        }
        for (unsigned i = 0; i < n; i++, p->nbufs++) {
            p->bufs[p->nbufs] = (struct dma_pool_buf){
                .cpu = (uint8_t *)m->cpu + i * stride,
                .iova = m->iova + i * stride,
                .slab = (uint16_t)p->nslabs,
            };
            p->free[p->nfree++] = (uint16_t)p->nbufs;
        }
        p->nslabs++;
    }
    return 0;
}

/* Every slab is unmapped before its memory goes back. One that held a quarantined buffer (its
 * I/O never completed) keeps its IOVA range out of use for good; untranslated, nothing ends
 * the device's reach, so its memory stays out too. */
void dma_pool_fini(struct dma_pool *p)
{
    for (unsigned s = 0; s < p->nslabs; s++) {
        struct dma_mem *m = &p->slabs[s];
        bool bad = false;
        for (unsigned i = 0; i < p->nbufs; i++)
            bad |= p->bufs[i].slab == s && p->bufs[i].quarantined;
        if (!bad) {
            dma_free(p->ds, m);
            continue;
        }
        if (dma_space_isolated(p->ds)) {
            struct dma_map map = { m->iova, m->iova, m->size };
            dma_unmap_quarantine(p->ds, &map);
            pmm_free(m->pa, m->order);
        }
    }
    kfree(p->slabs);
    kfree(p->bufs);
    kfree(p->free);
    memset(p, 0, sizeof(*p));
}

static int buf_index(const struct dma_pool *p, const void *buf)
{
    for (unsigned i = 0; i < p->nbufs; i++)
        if (p->bufs[i].cpu == buf)
            return (int)i;
    return -1;
}

void *dma_pool_get(struct dma_pool *p, uint64_t *iova)
{
    if (p->nfree == 0)
        return NULL;
    struct dma_pool_buf *b = &p->bufs[p->free[--p->nfree]];
    *iova = b->iova;
    return b->cpu;
}

void dma_pool_put(struct dma_pool *p, void *buf)
{
    int i = buf_index(p, buf);
    MOAT_ASSERT(i >= 0 && !p->bufs[i].quarantined && p->nfree < p->nbufs);
    p->free[p->nfree++] = (uint16_t)i;
}

/* The buffer stays mapped (the device may still write it) but is never handed out again;
 * dma_pool_fini takes its slab down. */
void dma_pool_quarantine(struct dma_pool *p, void *buf)
{
    int i = buf_index(p, buf);
    MOAT_ASSERT(i >= 0 && !p->bufs[i].quarantined);
    p->bufs[i].quarantined = true;
    p->nquarantined++;
}
