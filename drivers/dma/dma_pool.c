/* Pools of pre-mapped DMA buffers (dma.h): every buffer is allocated and mapped once, at
 * dma_pool_init, so that taking and returning one costs no IOMMU work. */
#include "drivers/dma/dma.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

int dma_pool_init(struct dma_pool *p, struct dma_space *ds, unsigned nbufs, uint32_t bufsize)
{
    memset(p, 0, sizeof(*p));
    if (nbufs == 0 || nbufs > UINT16_MAX || bufsize == 0)
        return -EINVAL;
    p->ds = ds;
    p->bufsize = bufsize;
    p->chunks = kcalloc(nbufs, sizeof(*p->chunks));
    p->free = kcalloc(nbufs, sizeof(*p->free));
    if (!p->chunks || !p->free) {
        dma_pool_fini(p);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < nbufs; i++) {
        int err = dma_alloc(ds, bufsize, IOMMU_READ | IOMMU_WRITE, &p->chunks[i]);
        if (err) {
            dma_pool_fini(p);
            return err;
        }
        p->nbufs++;
        p->free[p->nfree++] = (uint16_t)i;
    }
    return 0;
}

/* Every buffer is unmapped before its memory goes back; the IOVA of a quarantined one (its
 * I/O never completed) is kept out of use. */
void dma_pool_fini(struct dma_pool *p)
{
    for (unsigned i = 0; i < p->nbufs; i++) {
        struct dma_mem *m = &p->chunks[i];
        if (m->size)                /* 0: quarantined, already unmapped */
            dma_free(p->ds, m);
    }
    kfree(p->chunks);
    kfree(p->free);
    memset(p, 0, sizeof(*p));
}

static int buf_index(const struct dma_pool *p, const void *buf)
{
    for (unsigned i = 0; i < p->nbufs; i++)
        if (p->chunks[i].cpu == buf)
            return (int)i;
    return -1;
}

void *dma_pool_get(struct dma_pool *p, uint64_t *iova)
{
    if (p->nfree == 0)
        return NULL;
    struct dma_mem *m = &p->chunks[p->free[--p->nfree]];
    *iova = m->iova;
    return m->cpu;
}

void dma_pool_put(struct dma_pool *p, void *buf)
{
    int i = buf_index(p, buf);
    MOAT_ASSERT(i >= 0 && p->nfree < p->nbufs);
    p->free[p->nfree++] = (uint16_t)i;
}

void dma_pool_quarantine(struct dma_pool *p, void *buf)
{
    int i = buf_index(p, buf);
    MOAT_ASSERT(i >= 0);
    struct dma_mem *m = &p->chunks[i];
    struct dma_map map = { m->iova, m->iova, m->size };
    /* The unmap (with its invalidation) ends the device's reach: the memory can go back to
     * the allocator, the IOVA never. Untranslated, nothing ends it: the memory stays out. */
    if (dma_space_isolated(p->ds)) {
        dma_unmap_quarantine(p->ds, &map);
        pmm_free(m->pa, m->order);
    }
    m->size = 0;
    m->cpu = NULL;
    p->nquarantined++;
}
