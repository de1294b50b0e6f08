/* Root and context tables (VT-d spec 9.1-9.4), legacy and scalable, and the PASID directory and
 * tables of scalable mode (9.5, 9.6).
 *
 * Publication order (one place each): an entry is written with its present word cleared, the
 * other words next, then the present word last, with a barrier between and the lines cleaned
 * for a non-coherent walker. A present entry is never edited word by word: a legacy context
 * entry is swapped in one 128-bit store; a scalable PASID entry (512 bits) is first made
 * non-present and the caches that may hold it are invalidated (6.5.3.3), so a change of domain
 * passes at worst through "blocked", never through "unchecked". */
#include "arch/arch.h"
#include "arch/cpu_ops.h"
#include "iommu/intel/vtd.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

static void *vtd_page_alloc(struct vtd_unit *vu, uint64_t *pa)
{
    if (vtd_alloc_should_fail())
        return NULL;
    void *p = pmm_alloc_zeroed(0, pa);
    if (p)
        vtd_clean(vu, p, 4096);
    return p;
}

int vtd_tables_init(struct vtd_unit *vu)
{
    vu->root = vtd_page_alloc(vu, &vu->root_pa);
    return vu->root ? 0 : -ENOMEM;
}

/* The tables a unit walked before vtd_tables_replace(), kept until the switch has been
 * invalidated: hardware may still be reading them until then. */
struct vtd_old_tables {
    struct vtd_root_table *root;
    void *ctx[512];
    struct vtd_pasid_dev pasid_dev[VTD_MAX_PASID_DEVS];
    unsigned nr_pasid_devs;
};

static struct vtd_old_tables old_tables;

int vtd_tables_replace(struct vtd_unit *vu)
{
    old_tables.root = vu->root;
    memcpy(old_tables.ctx, vu->ctx, sizeof(vu->ctx));
    memcpy(old_tables.pasid_dev, vu->pasid_dev, sizeof(vu->pasid_dev));
    old_tables.nr_pasid_devs = vu->nr_pasid_devs;
    memset(vu->ctx, 0, sizeof(vu->ctx));
    memset(vu->pasid_dev, 0, sizeof(vu->pasid_dev));
    vu->nr_pasid_devs = 0;
    return vtd_tables_init(vu);
}

void vtd_tables_free_old(void)
{
    if (!old_tables.root)
        return;
    pmm_free(virt_to_phys(old_tables.root), 0);
    for (unsigned i = 0; i < ARRAY_SIZE(old_tables.ctx); i++)
        if (old_tables.ctx[i])
            pmm_free(virt_to_phys(old_tables.ctx[i]), 0);
    for (unsigned i = 0; i < old_tables.nr_pasid_devs; i++) {
        pmm_free(virt_to_phys(old_tables.pasid_dev[i].dir), 0);
        pmm_free(virt_to_phys(old_tables.pasid_dev[i].table), 0);
    }
    memset(&old_tables, 0, sizeof(old_tables));
}

/* The context table holding (bus, devfn), created (and linked into the root entry) on demand. */
static void *vtd_ctx_table(struct vtd_unit *vu, uint8_t bus, uint8_t devfn, bool create)
{
    unsigned slot = vu->scalable ? bus * 2u + (devfn >> 7) : bus;
    if (vu->ctx[slot] || !create)
        return vu->ctx[slot];
    uint64_t pa;
    void *t = vtd_page_alloc(vu, &pa);
    if (!t)
        return NULL;
    vu->ctx[slot] = t;
    struct vtd_root_entry *re = &vu->root->e[bus];
    /* Scalable: lo covers devfn 0-127 (LP/LCTP), hi 128-255 (UP/UCTP); legacy: lo only. */
    if (vu->scalable && (devfn >> 7))
        WRITE_ONCE(re->hi, pa | VTD_RE_UP);
    else
        WRITE_ONCE(re->lo, pa | VTD_RE_P);
    vtd_clean(vu, re, sizeof(*re));
    return t;
}

static uint16_t vtd_sid(uint8_t bus, uint8_t devfn)
{
    return (uint16_t)(bus << 8 | devfn);
}

/* ---- legacy ---- */

static int vtd_legacy_clear(struct vtd_unit *vu, struct vtd_context_entry *ce, uint16_t sid,
                            uint16_t old_did)
{
    if (!(READ_ONCE(ce->lo) & VTD_CE_P))
        return 0;
    WRITE_ONCE(ce->lo, 0);
    vtd_clean(vu, ce, sizeof(*ce));
    int err = vtd_inv_context(vu, VTD_GRAN_DEVICE, old_did, sid);
    if (!err)
        err = vtd_inv_iotlb_domain(vu, old_did);
    return err;
}

static void vtd_legacy_entry(struct vtd_unit *vu, struct vtd_domain *d, bool ats,
                             struct vtd_context_entry *n)
{
    if (d->d.type == IOMMU_DOMAIN_IDENTITY)
        vtd_mk_context(n, VTD_TT_PT, 0, vu->levels, d->did, false);
    else
        vtd_mk_context(n, ats ? VTD_TT_SLT_DEVTLB : VTD_TT_SLT, d->d.pt.root_pa,
                       d->d.pt.levels, d->did, false);
}

/* One 128-bit store: the walker reads either the whole old entry or the whole new one, so a
 * present entry can be replaced without passing through "blocked". */
static void vtd_write128(struct vtd_context_entry *ce, const struct vtd_context_entry *n)
{
    arch_store128((volatile uint64_t *)ce, n->lo, n->hi);
}

/* Present to present (a domain replace): swap atomically, then drop what the unit cached
 * under the old entry and its domain ID (6.5.3.3). */
static int vtd_legacy_replace(struct vtd_unit *vu, struct vtd_context_entry *ce, uint16_t sid,
                              uint16_t old_did, struct vtd_domain *d, bool ats)
{
    struct vtd_context_entry n;
    vtd_legacy_entry(vu, d, ats, &n);
    vtd_write128(ce, &n);
    vtd_clean(vu, ce, sizeof(*ce));
    int err = vtd_inv_context(vu, VTD_GRAN_DEVICE, old_did, sid);
    if (!err)
        err = vtd_inv_iotlb_domain(vu, old_did);
    if (!err && vu->caching_mode)
        err = vtd_inv_iotlb_domain(vu, d->did);
    return err;
}

static int vtd_legacy_set(struct vtd_unit *vu, struct vtd_context_entry *ce, uint16_t sid,
                          struct vtd_domain *d, bool ats)
{
    struct vtd_context_entry n;
    vtd_legacy_entry(vu, d, ats, &n);
    WRITE_ONCE(ce->hi, n.hi);
    wmb();
    WRITE_ONCE(ce->lo, n.lo);
    vtd_clean(vu, ce, sizeof(*ce));
    /* Not-present to present: only caching mode may have cached the non-present entry, and
     * then under DID 0 (6.1); a device-selective invalidation covers both cases. */
    int err = vtd_inv_context(vu, VTD_GRAN_DEVICE, 0, sid);
    if (!err && vu->caching_mode)
        err = vtd_inv_iotlb_domain(vu, d->did);
    if (!err)
        err = vtd_flush_write_buffer(vu);
    return err;
}

/* ---- scalable ---- */

static struct vtd_pasid_dev *vtd_pasid_dev(struct vtd_unit *vu, uint16_t rid, bool create)
{
    for (unsigned i = 0; i < vu->nr_pasid_devs; i++)
        if (vu->pasid_dev[i].rid == rid)
            return &vu->pasid_dev[i];
    if (!create || vu->nr_pasid_devs == VTD_MAX_PASID_DEVS)
        return NULL;
    struct vtd_pasid_dev *p = &vu->pasid_dev[vu->nr_pasid_devs];
    uint64_t dir_pa, tbl_pa;
    p->dir = vtd_page_alloc(vu, &dir_pa);
    p->table = vtd_page_alloc(vu, &tbl_pa);
    if (!p->dir || !p->table) {
        if (p->dir)
            pmm_free(dir_pa, 0);
        if (p->table)
            pmm_free(tbl_pa, 0);
        return NULL;
    }
    p->rid = rid;
    WRITE_ONCE(p->dir->e[0].w, tbl_pa | VTD_PDE_P);
    vtd_clean(vu, &p->dir->e[0], sizeof(p->dir->e[0]));
    vu->nr_pasid_devs++;
    return p;
}

/* Makes the scalable context entry present (pointing at the device's PASID directory) once. */
static int vtd_sm_context_present(struct vtd_unit *vu, uint8_t bus, uint8_t devfn,
                                  struct vtd_pasid_dev *p, bool ats)
{
    struct vtd_sm_context_table *t = vtd_ctx_table(vu, bus, devfn, true);
    if (!t)
        return -ENOMEM;
    struct vtd_sm_context_entry *ce = &t->e[devfn & 0x7f];
    if (READ_ONCE(ce->w[0]) & VTD_SMCE_P)
        return 0;
    struct vtd_sm_context_entry n;
    vtd_mk_sm_context(&n, virt_to_phys(p->dir), 0);
    if (ats)
        n.w[0] |= VTD_SMCE_DTE;
    WRITE_ONCE(ce->w[3], n.w[3]);
    WRITE_ONCE(ce->w[2], n.w[2]);
    WRITE_ONCE(ce->w[1], n.w[1]);
    wmb();
    WRITE_ONCE(ce->w[0], n.w[0]);
    vtd_clean(vu, ce, sizeof(*ce));
    return vtd_inv_context(vu, VTD_GRAN_DEVICE, 0, vtd_sid(bus, devfn));
}

/* What a PASID entry of domain d may have left cached (6.5.2.4 / 6.5.2.6): the PASID cache
 * and the IOTLB. The device-selective context-cache invalidation is more than the spec asks:
 * QEMU decides between its pass-through and translated address spaces only when the context
 * cache is invalidated, so without it a device leaving a pass-through domain would keep
 * bypassing translation (seen: DMA landing in RAM after the switch). Harmless on hardware. */
static int vtd_pasid_flush(struct vtd_unit *vu, struct vtd_domain *d, uint16_t sid)
{
    int err = vtd_inv_pasid_cache(vu, d->did, 0);
    if (!err)
        err = vtd_inv_iotlb_domain(vu, d->did);
    if (!err)
        err = vtd_inv_context(vu, VTD_GRAN_DEVICE, 0, sid);
    return err;
}

static int vtd_sm_attach(struct vtd_unit *vu, uint8_t bus, uint8_t devfn,
                         struct vtd_domain *old, struct vtd_domain *d, bool ats)
{
    uint16_t sid = vtd_sid(bus, devfn);
    /* Everything that can fail comes before the old entry is torn down. */
    if (d && !vtd_ctx_table(vu, bus, devfn, true))
        return -ENOMEM;
    struct vtd_pasid_dev *p = vtd_pasid_dev(vu, sid, d != NULL);
    if (!p)
        return d ? -ENOMEM : 0;
    struct vtd_pasid_entry *pe = &p->table->e[0];      /* RID_PASID = 0 */
    int err = 0;
    if (READ_ONCE(pe->w[0]) & VTD_PE0_P) {
        WRITE_ONCE(pe->w[0], 0);
        vtd_clean(vu, pe, sizeof(*pe));
        if (old)
            err = vtd_pasid_flush(vu, old, sid);
    }
    if (err || !d)
        return err;
    struct vtd_pasid_entry n;
    if (d->d.type == IOMMU_DOMAIN_IDENTITY)
        vtd_mk_pasid_pt(&n, d->did);
    else if (d->first_stage)
        vtd_mk_pasid_fs(&n, d->d.pt.root_pa, d->d.pt.levels, d->did);
    else
        vtd_mk_pasid_ss(&n, d->d.pt.root_pa, d->d.pt.levels, d->did);
    for (unsigned i = 7; i >= 1; i--)
        WRITE_ONCE(pe->w[i], n.w[i]);
    wmb();
    WRITE_ONCE(pe->w[0], n.w[0]);
    vtd_clean(vu, pe, sizeof(*pe));
    err = vtd_sm_context_present(vu, bus, devfn, p, ats);
    if (!err)
        err = vtd_pasid_flush(vu, d, sid);  /* caching mode may hold the non-present entry */
    return err;
}

int vtd_ctx_attach(struct vtd_unit *vu, uint8_t bus, uint8_t devfn, struct vtd_domain *old,
                   struct vtd_domain *d, bool ats)
{
    if (vu->scalable)
        return vtd_sm_attach(vu, bus, devfn, old, d, ats);
    uint16_t sid = vtd_sid(bus, devfn);
    struct vtd_context_table *t = vtd_ctx_table(vu, bus, devfn, d != NULL);
    if (!t)
        return d ? -ENOMEM : 0;
    struct vtd_context_entry *ce = &t->e[devfn];
    uint16_t old_did = (uint16_t)FIELD_GET(VTD_CE_HI_DID, READ_ONCE(ce->hi));
    if (d && (READ_ONCE(ce->lo) & VTD_CE_P))
        return vtd_legacy_replace(vu, ce, sid, old_did, d, ats);
    int err = vtd_legacy_clear(vu, ce, sid, old_did);
    if (!err && d)
        err = vtd_legacy_set(vu, ce, sid, d, ats);
    return err;
}
