/* DMA spaces: a device bound in the runtime's IOMMUFD context with an IOAS of its own, an IOVA
 * bitmap over a fixed window, mappings at fixed IOVAs (dma.h). */
#include "arch/arch.h"
#include "drivers/dma/dma.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/bitmap.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "moat/iommufd.h"
#include "pci/pci.h"

/* ---- the runtime's IOMMUFD context, shared by every PAGING space ---- */

static struct moat_iommufd *runtime_ctx;
static unsigned runtime_users;

/* The run the next map call is about (map_runs and dma_alloc have just translated it, page by
 * page): the hook below answers for exactly that run without walking the CPU tables again. */
static struct {
    uintptr_t va;
    uint64_t len, pa;
} known_run;

static void known_run_set(uintptr_t va, uint64_t len, uint64_t pa)
{
    known_run.va = va;
    known_run.len = len;
    known_run.pa = pa;
}

/* The physical address of [v, v + len) when the CPU maps it to one contiguous run; -EFAULT
 * otherwise (scattered pages, or holes in the mmap area). */
static int phys_contiguous(uintptr_t v, uint64_t len, uint64_t *pa)
{
    uint64_t first, next;
    if (arch_virt_to_phys(v, &first))
        return -EFAULT;
    for (uint64_t off = DMA_PAGE - (v & (DMA_PAGE - 1)); off < len; off += DMA_PAGE)
        if (arch_virt_to_phys(v + off, &next) || next != first + off)
            return -EFAULT;
    *pa = first;
    return 0;
}

/* Map calls hand physically contiguous runs (map_runs splits buffers): anything else is
 * refused. */
static int dma_virt_to_phys(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    uintptr_t v = (uintptr_t)va;
    if (known_run.len && v == known_run.va && len == known_run.len) {
        *pa = known_run.pa;
        known_run.len = 0;
        return 0;
    }
    return phys_contiguous(v, len, pa);
}

static int runtime_ctx_get(struct moat_iommufd **out)
{
    if (!runtime_ctx) {
        int err = moat_iommufd_open(&runtime_ctx);
        if (err) {
            runtime_ctx = NULL;
            return err;
        }
        moat_iommufd_set_virt_to_phys(runtime_ctx, dma_virt_to_phys, NULL);
    }
    runtime_users++;
    *out = runtime_ctx;
    return 0;
}

static void runtime_ctx_put(void)
{
    MOAT_ASSERT(runtime_users > 0);
    if (--runtime_users == 0) {
        moat_iommufd_close(runtime_ctx);
        runtime_ctx = NULL;
    }
}

/* ---- spaces ---- */

static bool translated(const struct dma_space *ds)
{
    return ds->ictx != NULL;
}

bool dma_space_isolated(const struct dma_space *ds)
{
    return translated(ds);
}

const char *dma_space_describe(const struct dma_space *ds)
{
    if (translated(ds))
        return "own paging domain";
    return ds->domain ? "identity domain: DMA is not isolated" : "no IOMMU: DMA is not isolated";
}

/* The window must lie inside one usable range of the IOAS (the domain's input range minus the
 * device's reserved regions: the interrupt window, firmware identity ranges): a mapping
 * elsewhere would be refused or unreachable. */
static int check_window(struct dma_space *ds)
{
    struct iommu_iova_range r[16];
    uint32_t num = ARRAY_SIZE(r);
    uint64_t align, last = ds->iova_base + ds->npages * DMA_PAGE - 1;
    int err = moat_ioas_iova_ranges(ds->ictx, ds->ioas_id, r, &num, &align);
    if (err && err != -EMSGSIZE)
        return err;
    for (uint32_t i = 0; i < MIN(num, (uint32_t)ARRAY_SIZE(r)); i++)
        if (r[i].start <= ds->iova_base && r[i].last >= last)
            return 0;
    return -ERANGE;
}

/* bind, IOAS, attach (an automatic paging HWPT), window check; undone in reverse on failure
 * (unbinding detaches, which frees the IOAS for its destroy). */
static int paging_init(struct dma_space *ds)
{
    int err = runtime_ctx_get(&ds->ictx);
    if (err) {
        ds->ictx = NULL;
        return err;
    }
    err = moat_device_bind(ds->ictx, ds->pci, &ds->dev_id);
    if (err)
        goto put;
    bool have_ioas = false;
    err = moat_ioas_alloc(ds->ictx, 0, &ds->ioas_id);
    if (!err) {
        have_ioas = true;
        ds->hwpt_id = ds->ioas_id;
        err = moat_device_attach(ds->ictx, ds->dev_id, &ds->hwpt_id);
    }
    if (!err)
        err = check_window(ds);
    if (!err) {
        ds->attached = true;
        ds->domain = iommu_dev_domain(ds->pci);
        return 0;
    }
    moat_device_unbind(ds->ictx, ds->dev_id);
    if (have_ioas)
        MOAT_ASSERT(moat_iommufd_destroy(ds->ictx, ds->ioas_id) == 0);
put:
    runtime_ctx_put();
    ds->ictx = NULL;
    return err;
}

/* The one exception to "through IOMMUFD": IOMMUFD has no identity HWPT (Linux gives user space
 * none either), so the benchmark's unprotected baseline uses the driver contract. */
static int identity_init(struct dma_space *ds, struct iommu_unit *u)
{
    int err = iommu_domain_alloc(u, IOMMU_DOMAIN_IDENTITY, NULL, &ds->domain);
    if (err) {
        ds->domain = NULL;
        return err;
    }
    err = iommu_attach(ds->domain, ds->pci);
    if (err) {
        iommu_domain_free(ds->domain);
        ds->domain = NULL;
    }
    return err;
}

int dma_space_init_window(struct dma_space *ds, struct pci_dev *dev, enum iommu_domain_type type,
                          uint64_t base, uint64_t size)
{
    uint64_t end;
    if (type != IOMMU_DOMAIN_PAGING && type != IOMMU_DOMAIN_IDENTITY)
        return -EINVAL;
    if (!base || !IS_ALIGNED(base, DMA_PAGE) || !size || !IS_ALIGNED(size, 64 * DMA_PAGE) ||
        __builtin_add_overflow(base, size - 1, &end))
        return -EINVAL;
    memset(ds, 0, sizeof(*ds));
    ds->pci = dev;
    ds->type = type;
    ds->iova_base = base;
    ds->npages = size / DMA_PAGE;
    ds->bitmap = kzalloc(ds->npages / 8);
    if (!ds->bitmap)
        return -ENOMEM;
    struct iommu_unit *u = iommu_unit_for(dev);
    int err = !u ? 0 : type == IOMMU_DOMAIN_PAGING ? paging_init(ds) : identity_init(ds, u);
    if (err) {
        kfree(ds->bitmap);
        ds->bitmap = NULL;
    }
    return err;
}

int dma_space_init(struct dma_space *ds, struct pci_dev *dev, enum iommu_domain_type type)
{
    return dma_space_init_window(ds, dev, type, DMA_IOVA_BASE, DMA_IOVA_SIZE);
}

void dma_space_block(struct dma_space *ds)
{
    if (translated(ds)) {
        if (ds->attached)
            MOAT_ASSERT(moat_device_detach(ds->ictx, ds->dev_id) == 0);
        ds->attached = false;
        ds->domain = NULL;          /* the automatic HWPT went with the device */
    } else if (ds->domain && !ds->identity_kept) {
        /* A device whose firmware-declared memory must stay mapped 1:1 (RMRR, IVMD) may not
         * be blocked; it keeps its identity domain for good, as Linux keeps it. */
        int err = iommu_attach(NULL, ds->pci);
        if (err) {
            char bdf[16];
            pci_format_bdf(ds->pci, bdf, sizeof(bdf));
            kprintf("dma: %s: stays in its identity domain: the unit refuses to block it (%s)\n",
                    bdf, errno_name(err));
            ds->identity_kept = true;
        }
    }
}

void dma_space_fini(struct dma_space *ds)
{
    if (translated(ds)) {
        MOAT_ASSERT(moat_device_unbind(ds->ictx, ds->dev_id) == 0);
        MOAT_ASSERT(moat_iommufd_destroy(ds->ictx, ds->ioas_id) == 0);
        runtime_ctx_put();
        ds->ictx = NULL;
        ds->attached = false;
        ds->domain = NULL;
    } else if (ds->domain) {
        dma_space_block(ds);
        if (!ds->identity_kept)     /* else the device still uses it */
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
    return bitmap_test(ds->bitmap, i);
}

static void mark_pages(struct dma_space *ds, uint64_t first, uint64_t n, bool used)
{
    bitmap_assign(ds->bitmap, first, n, used);
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

/* The first run of n free pages in [from, to) whose IOVA is a multiple of align pages. */
static uint64_t find_run_aligned(const struct dma_space *ds, uint64_t from, uint64_t to,
                                 uint64_t n, uint64_t align)
{
    uint64_t base = ds->iova_base / DMA_PAGE;
    for (uint64_t i = ALIGN_UP(base + from, align) - base; i + n <= to; i += align) {
        uint64_t k = 0;
        while (k < n && !page_used(ds, i + k))
            k++;
        if (k == n)
            return i;
    }
    return UINT64_MAX;
}

/* As dma_iova_alloc, at an IOVA aligned to align bytes (a power of two). */
static int iova_alloc_aligned(struct dma_space *ds, uint64_t size, uint64_t align, uint64_t *iova)
{
    uint64_t n = ALIGN_UP(size, DMA_PAGE) / DMA_PAGE, ap = align / DMA_PAGE;
    if (n == 0 || n > ds->npages)
        return -EINVAL;
    uint64_t first = UINT64_MAX;
    /* from the hint on first, then from the start */
    for (uint64_t from = ds->hint;; from = 0) {
        first = ap > 1 ? find_run_aligned(ds, from, ds->npages, n, ap)
                       : find_run(ds, from, ds->npages, n);
        if (first != UINT64_MAX || from == 0)
            break;
    }
    if (first == UINT64_MAX)
        return -ENOSPC;
    mark_pages(ds, first, n, true);
    ds->hint = first + n == ds->npages ? 0 : first + n;
    *iova = ds->iova_base + first * DMA_PAGE;
    return 0;
}

int dma_iova_alloc(struct dma_space *ds, uint64_t size, uint64_t *iova)
{
    return iova_alloc_aligned(ds, size, DMA_PAGE, iova);
}

void dma_iova_free(struct dma_space *ds, uint64_t iova, uint64_t size)
{
    uint64_t first = (iova - ds->iova_base) / DMA_PAGE;
    uint64_t n = ALIGN_UP(size, DMA_PAGE) / DMA_PAGE;
    MOAT_ASSERT(iova >= ds->iova_base && first + n <= ds->npages);
    for (uint64_t i = first; i < first + n; i++)
        MOAT_ASSERT(page_used(ds, i));
    mark_pages(ds, first, n, false);
    /* Freed IOVAs are handed out again first: the IOAS still holds their nodes (its cache),
     * so mapping there again costs no allocation and no tree update. The unmap that freed
     * them invalidated the IOTLB, so reuse is safe. */
    ds->hint = MIN(ds->hint, first);
}

/* ---- mappings ---- */

/* [va, va + size) is physically contiguous at pa (the caller translated it). */
static int ioas_map_counted(struct dma_space *ds, uintptr_t va, uint64_t pa, uint64_t iova,
                            uint64_t size, uint32_t prot)
{
    uint32_t flags = IOMMU_IOAS_MAP_FIXED_IOVA |
                     (prot & IOMMU_READ ? IOMMU_IOAS_MAP_READABLE : 0) |
                     (prot & IOMMU_WRITE ? IOMMU_IOAS_MAP_WRITEABLE : 0);
    ds->nr_maps++;
    known_run_set(va, size, pa);
    int err = moat_ioas_map(ds->ictx, ds->ioas_id, flags, (const void *)va, size, &iova);
    known_run.len = 0;
    return err;
}

/* A failed unmap would leave the device a way into memory about to be reused. */
static void unmap_failed(uint64_t iova, uint64_t size, int err)
{
    panic("dma: unmap of iova %#llx+%#llx failed: %s", (unsigned long long)iova,
          (unsigned long long)size, errno_name(err));
}

/* [iova, iova + size) holds whole mappings only (one per contiguous run): one call, one wait. */
static void ioas_unmap_counted(struct dma_space *ds, uint64_t iova, uint64_t size)
{
    uint64_t done;
    ds->nr_unmaps++;
    int err = moat_ioas_unmap(ds->ictx, ds->ioas_id, iova, size, &done);
    if (err || done != size)
        unmap_failed(iova, size, err ? err : -EIO);
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
    /* A 2 MiB block at a 2 MiB-aligned IOVA is one large leaf: one IOTLB entry for it all. */
    int err = iova_alloc_aligned(ds, m->size, m->size >= DMA_SUPERPAGE ? DMA_SUPERPAGE : DMA_PAGE,
                                 &m->iova);
    if (!err) {
        err = ioas_map_counted(ds, (uintptr_t)m->cpu, m->pa, m->iova, m->size, prot);
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
        ioas_unmap_counted(ds, m->iova, m->size);
        dma_iova_free(ds, m->iova, m->size);
    }
    pmm_free(m->pa, m->order);
    m->cpu = NULL;
}

int dma_for_each_run(uintptr_t va, uint64_t n, dma_run_fn fn, void *arg, uint64_t *done)
{
    *done = 0;
    while (*done < n) {
        uint64_t pa, next, off = *done * DMA_PAGE;
        if (arch_virt_to_phys(va + off, &pa))
            return -EFAULT;
        uint64_t run = 1;
        while (*done + run < n && !arch_virt_to_phys(va + off + run * DMA_PAGE, &next) &&
               next == pa + run * DMA_PAGE)
            run++;
        known_run_set(va + off, run * DMA_PAGE, pa);
        int err = fn(arg, va + off, off, run * DMA_PAGE);
        known_run.len = 0;
        if (err)
            return err;
        *done += run;
    }
    return 0;
}

struct map_runs_args {
    struct dma_space *ds;
    uint64_t iova;
    uint32_t prot;
};

static int map_one_run(void *arg, uintptr_t va, uint64_t off, uint64_t len)
{
    struct map_runs_args *a = arg;
    uint64_t pa = known_run.pa;
    return ioas_map_counted(a->ds, va, pa, a->iova + off, len, a->prot);
}

/* Maps the CPU pages of [va, va + n pages) at consecutive IOVAs from iova, one map call per
 * physically contiguous run. On failure whatever was mapped is removed again (one call). */
static int map_runs(struct dma_space *ds, uintptr_t va, uint64_t n, uint64_t iova, uint32_t prot)
{
    struct map_runs_args a = { ds, iova, prot };
    uint64_t done;
    if (!dma_for_each_run(va, n, map_one_run, &a, &done))
        return 0;
    if (done)
        ioas_unmap_counted(ds, iova, done * DMA_PAGE);
    return -EFAULT;
}

/* Untranslated, the device sees physical addresses: the buffer must be contiguous there. */
static int map_untranslated(uintptr_t first, uintptr_t va, struct dma_map *m)
{
    int err = phys_contiguous(first, m->size, &m->iova_base);
    if (!err)
        m->iova = m->iova_base + (va - first);
    return err;
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
    ioas_unmap_counted(ds, m->iova_base, m->size);
    dma_iova_free(ds, m->iova_base, m->size);
    return 0;
}

/* One moat_ioas_unmap_many per DMA_UNMAP_BATCH maps: their invalidations share one wait. The
 * IOVAs go back only after it. */
void dma_unmap_many(struct dma_space *ds, struct dma_map *const *maps, unsigned n)
{
    struct iommu_iova_range r[DMA_UNMAP_BATCH];
    if (!translated(ds))
        return;
    for (unsigned first = 0; first < n; first += DMA_UNMAP_BATCH) {
        unsigned k = MIN(n - first, (unsigned)DMA_UNMAP_BATCH);
        uint64_t want = 0, done;
        for (unsigned i = 0; i < k; i++) {
            const struct dma_map *m = maps[first + i];
            r[i] = (struct iommu_iova_range){ m->iova_base, m->iova_base + m->size - 1 };
            want += m->size;
        }
        ds->nr_unmaps++;
        int err = moat_ioas_unmap_many(ds->ictx, ds->ioas_id, r, k, &done);
        if (err || done != want)
            unmap_failed(r[0].start, want, err ? err : -EIO);
        for (unsigned i = 0; i < k; i++)
            dma_iova_free(ds, maps[first + i]->iova_base, maps[first + i]->size);
    }
}

void dma_unmap_quarantine(struct dma_space *ds, struct dma_map *m)
{
    if (!translated(ds))
        return;
    ioas_unmap_counted(ds, m->iova_base, m->size);
    ds->quarantined_pages += m->size / DMA_PAGE;
    kprintf("dma: quarantined iova %#llx+%#llx (I/O never completed)\n",
            (unsigned long long)m->iova_base, (unsigned long long)m->size);
}
