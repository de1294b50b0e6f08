/* I/O page-table glue: the generic walker (iommu/pgtable) with VT-d memory and invalidation.
 * Second stage uses PGTABLE_FMT_VTD_SS with the unit's SAGAW levels; first stage (scalable
 * mode) PGTABLE_FMT_X86_64. The walker hands one gather per operation to vtd_pt_flush, which
 * turns it into page-selective invalidations and a single wait. */
#include "arch/arch.h"
#include "iommu/intel/vtd.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"

static void *vtd_pt_alloc(void *ctx, size_t size, uint64_t *pa)
{
    struct vtd_domain *vd = ctx;
    if (size != 4096 || vtd_alloc_should_fail())
        return NULL;
    void *p = pmm_alloc_zeroed(0, pa);
    if (p)
        vtd_clean(vd->vu, p, size);
    return p;
}

static void vtd_pt_free(void *ctx, void *va, uint64_t pa, size_t size)
{
    pmm_free(pa, 0);
}

static void *vtd_pt_virt(void *ctx, uint64_t pa)
{
    return phys_to_virt(pa);
}

static void vtd_pt_clean(void *ctx, const void *va, size_t len)
{
    struct vtd_domain *vd = ctx;
    vtd_clean(vd->vu, va, len);
}

const struct pgtable_mem_ops vtd_pt_mem_ops = {
    .alloc = vtd_pt_alloc,
    .free = vtd_pt_free,
    .phys_to_virt = vtd_pt_virt,
    .clean = vtd_pt_clean,
};

/* A failed invalidation leaves stale translations the device could still use: that must never
 * be ignored. The queue was reset by qi.c; a global flush is the last resort. */
static void vtd_pt_flush_failed(struct vtd_domain *vd, int err)
{
    kprintf("vtd: %s: IOTLB invalidation for domain %u failed (%s): flushing globally\n",
            vd->vu->name, vd->did, errno_name(err));
    if (vtd_inv_iotlb_global(vd->vu))
        panic("vtd: %s: cannot invalidate the IOTLB: stale DMA translations", vd->vu->name);
}

static void vtd_pt_flush(void *ctx, const struct pgtable_gather *g)
{
    struct vtd_domain *vd = ctx;
    int err = vtd_inv_iotlb_ranges(vd->vu, vd, g->range, g->nr_ranges, g->leaf_only);
    if (err)
        vtd_pt_flush_failed(vd, err);
}

/* Caching mode (CAP.CM): the unit may have cached the entries that were not present, so a
 * map is invalidated like an unmap (6.1). Intermediate tables may have appeared: no IH. */
static void vtd_pt_map_sync(void *ctx, uint64_t iova, uint64_t size)
{
    struct vtd_domain *vd = ctx;
    struct pgtable_range r = { iova, iova + size - 1 };
    int err = vtd_inv_iotlb_ranges(vd->vu, vd, &r, 1, false);
    if (err)
        vtd_pt_flush_failed(vd, err);
}

static const struct pgtable_flush_ops vtd_flush_ops = { .flush = vtd_pt_flush };
static const struct pgtable_flush_ops vtd_flush_ops_cm = {
    .flush = vtd_pt_flush,
    .map_sync = vtd_pt_map_sync,
};

int vtd_domain_pgtable_init(struct vtd_domain *vd)
{
    struct vtd_unit *vu = vd->vu;
    struct pgtable_cfg cfg = { .flags = vu->coherent ? 0 : PGTABLE_CFG_NONCOHERENT };
    if (vd->first_stage) {
        cfg.fmt = PGTABLE_FMT_X86_64;
        cfg.levels = 4;
        cfg.ias = MIN(vu->ias, 47u);
        cfg.pgsize_bitmap = PGTABLE_SZ_4K | PGTABLE_SZ_2M |
                            ((vu->cap & VTD_CAP_FL1GP) ? PGTABLE_SZ_1G : 0);
    } else {
        cfg.fmt = PGTABLE_FMT_VTD_SS;
        cfg.levels = vu->levels;
        cfg.ias = vu->ias;
        cfg.pgsize_bitmap = vu->iu.pgsize_bitmap;
    }
    cfg.oas = 0;        /* the format's maximum: DMAR HAW bounds RAM anyway */
    return pgtable_init(&vd->d.pt, &cfg, &vtd_pt_mem_ops, vd,
                        vu->caching_mode ? &vtd_flush_ops_cm : &vtd_flush_ops, vd);
}
