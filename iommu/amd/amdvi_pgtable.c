/* I/O page-table glue: the generic walker (iommu/pgtable) in the AMD-Vi host (v1) format, with
 * the unit's paging mode as the number of levels. The walker hands one gather per operation to
 * amdvi_pt_flush, which turns it into INVALIDATE_IOMMU_PAGES commands and a single completion
 * wait. The walk is coherent with the CPU caches (the IOMMU snoops its table reads), and AMD-Vi
 * never caches non-present entries unless the capability's NpCache bit says so (then maps are
 * invalidated too, 2.2.1). */
#include "arch/arch.h"
#include "iommu/amd/amdvi.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"

static void *amdvi_pt_alloc(void *ctx, size_t size, uint64_t *pa)
{
    if (size != 4096)
        return NULL;
    return pmm_alloc_zeroed(0, pa);
}

static void amdvi_pt_free(void *ctx, void *va, uint64_t pa, size_t size)
{
    pmm_free(pa, 0);
}

static void *amdvi_pt_virt(void *ctx, uint64_t pa)
{
    return phys_to_virt(pa);
}

static const struct pgtable_mem_ops amdvi_pt_mem_ops = {
    .alloc = amdvi_pt_alloc,
    .free = amdvi_pt_free,
    .phys_to_virt = amdvi_pt_virt,
};

/* A failed invalidation leaves translations the device could still use: never ignored. */
static void amdvi_pt_flush_failed(struct amdvi_domain *ad, int err)
{
    kprintf("amdvi: %s: invalidation for domain %u failed (%s): invalidating everything\n",
            ad->au->name, ad->domid, errno_name(err));
    if (amdvi_inv_all(ad->au))
        panic("amdvi: %s: cannot invalidate: stale DMA translations", ad->au->name);
}

static void amdvi_pt_flush(void *ctx, const struct pgtable_gather *g)
{
    struct amdvi_domain *ad = ctx;
    int err = amdvi_inv_ranges(ad->au, ad->domid, g->range, g->nr_ranges, !g->leaf_only);
    if (err)
        amdvi_pt_flush_failed(ad, err);
}

static void amdvi_pt_map_sync(void *ctx, uint64_t iova, uint64_t size)
{
    struct amdvi_domain *ad = ctx;
    struct pgtable_range r = { iova, iova + size - 1 };
    int err = amdvi_inv_ranges(ad->au, ad->domid, &r, 1, true);
    if (err)
        amdvi_pt_flush_failed(ad, err);
}

static const struct pgtable_flush_ops amdvi_flush_ops = { .flush = amdvi_pt_flush };
static const struct pgtable_flush_ops amdvi_flush_ops_np = {
    .flush = amdvi_pt_flush,
    .map_sync = amdvi_pt_map_sync,
};

int amdvi_domain_pgtable_init(struct amdvi_domain *ad)
{
    struct amdvi_unit *au = ad->au;
    struct pgtable_cfg cfg = {
        .fmt = PGTABLE_FMT_AMD_V1,
        .levels = au->levels,
        .ias = au->ias,
        .oas = 0,
        .pgsize_bitmap = au->iu.pgsize_bitmap,
    };
    return pgtable_init(&ad->d.pt, &cfg, &amdvi_pt_mem_ops, ad,
                        au->np_cache ? &amdvi_flush_ops_np : &amdvi_flush_ops, ad);
}
