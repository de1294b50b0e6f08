/* DMA spaces: a device's domain, an IOVA bitmap over a fixed window, mappings (dma.h). */
#include "arch/arch.h"
#include "drivers/dma/dma.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

static bool translated(const struct dma_space *ds)
{
    return ds->domain && ds->domain->type == IOMMU_DOMAIN_PAGING;
}

bool dma_space_isolated(const struct dma_space *ds)
{
    return translated(ds);
}

const char *dma_space_describe(const struct dma_space *ds)
{
    if (!ds->domain)
        return "no IOMMU: DMA is not isolated";
    return translated(ds) ? "own paging domain" : "identity domain: DMA is not isolated";
}

/* The window must lie inside the domain's input range and clear of the unit's reserved
 * regions (the interrupt window, firmware identity ranges): a mapping there would be refused
 * or unreachable. */
static int check_window(const struct iommu_domain *d)
{
    uint64_t last = DMA_IOVA_BASE + DMA_IOVA_SIZE - 1;
    if (d->iova_last < last)
        return -ERANGE;
    for (unsigned i = 0; i < d->unit->nr_resv; i++)
        if (d->unit->resv[i].start <= last && d->unit->resv[i].last >= DMA_IOVA_BASE)
            return -ERANGE;
    return 0;
}

static int attach_domain(struct dma_space *ds, struct iommu_unit *u)
{
    int err = iommu_domain_alloc(u, ds->type, NULL, &ds->domain);
    if (err) {
        ds->domain = NULL;
        return err;
    }
    if (ds->type == IOMMU_DOMAIN_PAGING)
        err = check_window(ds->domain);
    if (!err)
        err = iommu_attach(ds->domain, ds->pci);
    if (err) {
        iommu_domain_free(ds->domain);
        ds->domain = NULL;
    }
    return err;
}

int dma_space_init(struct dma_space *ds, struct pci_dev *dev, enum iommu_domain_type type)
{
    if (type != IOMMU_DOMAIN_PAGING && type != IOMMU_DOMAIN_IDENTITY)
        return -EINVAL;
    memset(ds, 0, sizeof(*ds));
    ds->pci = dev;
    ds->type = type;
    ds->npages = DMA_IOVA_SIZE / DMA_PAGE;
    ds->bitmap = kzalloc(ds->npages / 8);
    if (!ds->bitmap)
        return -ENOMEM;
    struct iommu_unit *u = iommu_unit_for(dev);
    int err = u ? attach_domain(ds, u) : 0;
    if (err) {
        kfree(ds->bitmap);
        ds->bitmap = NULL;
    }
    return err;
}

void dma_space_block(struct dma_space *ds)
{
    if (ds->domain)
        MOAT_ASSERT(iommu_attach(NULL, ds->pci) == 0);
}

void dma_space_fini(struct dma_space *ds)
{
    if (ds->domain) {
        dma_space_block(ds);
        iommu_domain_free(ds->domain);
        ds->domain = NULL;
    }
    if (ds->used_pages != ds->quarantined_pages)
        kprintf("dma: %llu IOVA pages still in use at teardown\n",
                (unsigned long long)(ds->used_pages - ds->quarantined_pages));
    kfree(ds->bitmap);
    ds->bitmap = NULL;
}

/* ---- the IOVA bitmap ---- */

static bool page_used(const struct dma_space *ds, uint64_t i)
{
    return ds->bitmap[i / 64] & BIT(i % 64);
}

static void mark_pages(struct dma_space *ds, uint64_t first, uint64_t n, bool used)
{
    for (uint64_t i = first; i < first + n; i++) {
        if (used)
            ds->bitmap[i / 64] |= BIT(i % 64);
        else
            ds->bitmap[i / 64] &= ~BIT(i % 64);
    }
    ds->used_pages = used ? ds->used_pages + n : ds->used_pages - n;
}

/* The first run of n free pages in [from, to), or UINT64_MAX. Full words are skipped whole. */
static uint64_t find_run(const struct dma_space *ds, uint64_t from, uint64_t to, uint64_t n)
{
    uint64_t run = 0;
    for (uint64_t i = from; i < to; i++) {
        if (i % 64 == 0 && run == 0 && ds->bitmap[i / 64] == ~0ULL) {
            i += 63;
            continue;
        }
        run = page_used(ds, i) ? 0 : run + 1;
        if (run == n)
            return i + 1 - n;
    }
    return UINT64_MAX;
}

int dma_iova_alloc(struct dma_space *ds, uint64_t size, uint64_t *iova)
{
    uint64_t n = ALIGN_UP(size, DMA_PAGE) / DMA_PAGE;
    if (n == 0 || n > ds->npages)
        return -EINVAL;
    uint64_t first = find_run(ds, ds->hint, ds->npages, n);
    if (first == UINT64_MAX)
        first = find_run(ds, 0, ds->npages, n);
    if (first == UINT64_MAX)
        return -ENOSPC;
    mark_pages(ds, first, n, true);
    ds->hint = first + n == ds->npages ? 0 : first + n;
    *iova = DMA_IOVA_BASE + first * DMA_PAGE;
    return 0;
}

void dma_iova_free(struct dma_space *ds, uint64_t iova, uint64_t size)
{
    uint64_t first = (iova - DMA_IOVA_BASE) / DMA_PAGE;
    uint64_t n = ALIGN_UP(size, DMA_PAGE) / DMA_PAGE;
    MOAT_ASSERT(iova >= DMA_IOVA_BASE && first + n <= ds->npages);
    for (uint64_t i = first; i < first + n; i++)
        MOAT_ASSERT(page_used(ds, i));
    mark_pages(ds, first, n, false);
}

/* ---- mappings ---- */

static int iommu_map_counted(struct dma_space *ds, uint64_t iova, uint64_t pa, uint64_t size,
                             uint32_t prot)
{
    ds->nr_maps++;
    return iommu_map(ds->domain, iova, pa, size, prot);
}

static void iommu_unmap_counted(struct dma_space *ds, uint64_t iova, uint64_t size)
{
    ds->nr_unmaps++;
    /* A failed unmap would leave the device a way into memory about to be reused. */
    int err = iommu_unmap(ds->domain, iova, size);
    if (err)
        panic("dma: unmap of iova %#llx+%#llx failed: %s", (unsigned long long)iova,
              (unsigned long long)size, errno_name(err));
}

static unsigned order_for(uint64_t size)
{
    unsigned order = 0;
    while ((DMA_PAGE << order) < size)
        order++;
    return order;
}

unsigned dma_fail_nth;

int dma_alloc(struct dma_space *ds, uint64_t size, uint32_t prot, struct dma_mem *m)
{
    memset(m, 0, sizeof(*m));
    if (size == 0 || size > (DMA_PAGE << BUDDY_MAX_ORDER))
        return -EINVAL;
    if (dma_fail_nth && --dma_fail_nth == 0)
        return -ENOMEM;
    m->order = order_for(size);
    m->size = DMA_PAGE << m->order;
    m->cpu = pmm_alloc_zeroed(m->order, &m->pa);
    if (!m->cpu)
        return -ENOMEM;
    m->iova = m->pa;
    if (!translated(ds))
        return 0;
    int err = dma_iova_alloc(ds, m->size, &m->iova);
    if (!err) {
        err = iommu_map_counted(ds, m->iova, m->pa, m->size, prot);
        if (err)
            dma_iova_free(ds, m->iova, m->size);
    }
    if (err) {
        pmm_free(m->pa, m->order);
        m->cpu = NULL;
    }
    return err;
}

void dma_free(struct dma_space *ds, struct dma_mem *m)
{
    if (!m->cpu)
        return;
    if (translated(ds)) {
        iommu_unmap_counted(ds, m->iova, m->size);
        dma_iova_free(ds, m->iova, m->size);
    }
    pmm_free(m->pa, m->order);
    m->cpu = NULL;
}

/* Maps the CPU pages of [va, va + n pages) at iova, one IOMMU call per physically contiguous
 * run. On failure whatever was mapped is removed again. */
static int map_runs(struct dma_space *ds, uintptr_t va, uint64_t n, uint64_t iova, uint32_t prot)
{
    uint64_t done = 0;
    while (done < n) {
        uint64_t pa, next;
        if (arch_virt_to_phys(va + done * DMA_PAGE, &pa))
            goto fail;
        uint64_t run = 1;
        while (done + run < n && !arch_virt_to_phys(va + (done + run) * DMA_PAGE, &next) &&
               next == pa + run * DMA_PAGE)
            run++;
        if (iommu_map_counted(ds, iova + done * DMA_PAGE, pa, run * DMA_PAGE, prot))
            goto fail;
        done += run;
    }
    return 0;
fail:
    if (done)
        iommu_unmap_counted(ds, iova, done * DMA_PAGE);
    return -EFAULT;
}

/* Untranslated, the device sees physical addresses: the buffer must be contiguous there. */
static int map_untranslated(uintptr_t first, uintptr_t va, struct dma_map *m)
{
    uint64_t base, pa;
    if (arch_virt_to_phys(first, &base))
        return -EFAULT;
    for (uint64_t off = DMA_PAGE; off < m->size; off += DMA_PAGE)
        if (arch_virt_to_phys(first + off, &pa) || pa != base + off)
            return -EFAULT;
    m->iova_base = base;
    m->iova = base + (va - first);
    return 0;
}

int dma_map(struct dma_space *ds, const void *buf, size_t len, uint32_t prot, struct dma_map *m)
{
    uintptr_t va = (uintptr_t)buf, end;
    if (len == 0 || __builtin_add_overflow(va, len - 1, &end))
        return -EINVAL;
    uintptr_t first = ALIGN_DOWN(va, DMA_PAGE);
    m->size = ALIGN_DOWN(end, DMA_PAGE) + DMA_PAGE - first;
    if (!translated(ds))
        return map_untranslated(first, va, m);
    int err = dma_iova_alloc(ds, m->size, &m->iova_base);
    if (err)
        return err;
    err = map_runs(ds, first, m->size / DMA_PAGE, m->iova_base, prot);
    if (err) {
        dma_iova_free(ds, m->iova_base, m->size);
        return err;
    }
    m->iova = m->iova_base + (va - first);
    return 0;
}

int dma_unmap(struct dma_space *ds, struct dma_map *m)
{
    if (!translated(ds))
        return 0;
    iommu_unmap_counted(ds, m->iova_base, m->size);
    dma_iova_free(ds, m->iova_base, m->size);
    return 0;
}

void dma_unmap_quarantine(struct dma_space *ds, struct dma_map *m)
{
    if (!translated(ds))
        return;
    iommu_unmap_counted(ds, m->iova_base, m->size);
    ds->quarantined_pages += m->size / DMA_PAGE;
    kprintf("dma: quarantined iova %#llx+%#llx (I/O never completed)\n",
            (unsigned long long)m->iova_base, (unsigned long long)m->size);
}
