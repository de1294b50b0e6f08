/* VT-d unit bring-up (VT-d spec 10.4 registers, 6.x caching rules) and the iommu_unit_ops.
 *
 * Order at init, per DRHD: map registers, read CAP/ECAP and adapt, build the root table, point
 * RTADDR at it (SRTP), start queued invalidation, invalidate globally, arm fault events, map
 * RMRRs for the devices they name, and only then set TE. Every function starts in the blocked
 * domain: its context entry is not present, so all its DMA faults. */
#include "arch/arch.h"
#include "iommu/intel/nested.h"
#include "iommu/intel/rmrr.h"
#include "iommu/intel/vtd.h"
#include "kernel/acpi/platform.h"
#include "kernel/cmdline.h"
#include "kernel/init.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_platform.h"

static struct vtd_dmar dmar;
unsigned vtd_fail_nth;
static struct vtd_unit *units[VTD_DMAR_MAX_UNITS];
static unsigned nr_units;
static const struct iommu_unit_ops vtd_ops;

struct vtd_unit *vtd_unit_get(unsigned index)
{
    return index < nr_units ? units[index] : NULL;
}

unsigned vtd_nr_units(void)
{
    return nr_units;
}

bool vtd_opt(const char *word)
{
    char v[64];
    if (!cmdline_get("vtd", v, sizeof(v)))
        return false;
    return strstr(v, word) != NULL;
}

int vtd_gcmd(struct vtd_unit *vu, uint32_t bit, bool set)
{
    uint32_t cmd = vu->gcmd;
    if (set)
        cmd |= bit;
    else
        cmd &= ~bit;
    /* One-shot bits (SRTP, WBF, SIRTP) are written once and never kept in the shadow. */
    if (!(bit & VTD_GSTS_ONESHOT))
        vu->gcmd = cmd;
    vtd_write32(vu, VTD_GCMD_REG, cmd);
    int err;
    if (bit & VTD_GSTS_ONESHOT && bit != VTD_GCMD_WBF)
        err = poll_until(vtd_read32(vu, VTD_GSTS_REG) & bit, VTD_WAIT_TIMEOUT_NS);
    else if (bit == VTD_GCMD_WBF)
        err = poll_until(!(vtd_read32(vu, VTD_GSTS_REG) & bit), VTD_WAIT_TIMEOUT_NS);
    else
        err = poll_until(!!(vtd_read32(vu, VTD_GSTS_REG) & bit) == set, VTD_WAIT_TIMEOUT_NS);
    if (err)
        kprintf("vtd: %s: GSTS did not follow GCMD bit %#x: %s\n", vu->name, bit,
                errno_name(err));
    return err;
}

void vtd_clean(struct vtd_unit *vu, const void *p, size_t len)
{
    if (vu->coherent || !len)
        return;
    uintptr_t a = (uintptr_t)p & ~63ULL, end = (uintptr_t)p + len;
    for (; a < end; a += 64)
        clflush((const void *)a);
    mb();
}

int vtd_flush_write_buffer(struct vtd_unit *vu)
{
    if (!(vu->cap & VTD_CAP_RWBF))
        return 0;
    return vtd_gcmd(vu, VTD_GCMD_WBF, true);
}

/* ---- capabilities ---- */

static int vtd_pick_levels(struct vtd_unit *vu)
{
    unsigned sagaw = FIELD_GET(VTD_CAP_SAGAW, vu->cap);
    unsigned mgaw = FIELD_GET(VTD_CAP_MGAW, vu->cap) + 1;
    if (sagaw & VTD_SAGAW_48)
        vu->levels = 4;
    else if (sagaw & VTD_SAGAW_39)
        vu->levels = 3;
    else if (sagaw & VTD_SAGAW_57)
        vu->levels = 5;
    else
        return -ENODEV;
    vu->ias = MIN(12 + 9 * vu->levels, mgaw);
    return 0;
}

static void vtd_read_caps(struct vtd_unit *vu)
{
    vu->cap = vtd_read64(vu, VTD_CAP_REG);
    vu->ecap = vtd_read64(vu, VTD_ECAP_REG);
    vu->caching_mode = vu->cap & VTD_CAP_CM;
    unsigned nd = FIELD_GET(VTD_CAP_ND, vu->cap);
    vu->nr_dids = MIN(1u << (4 + 2 * nd), VTD_MAX_DIDS);
    vu->did_used[0] = 1;                /* DID 0: reserved (caching mode) */
    vu->iotlb_off = FIELD_GET(VTD_ECAP_IRO, vu->ecap) * 16;
    vu->frcd_off = FIELD_GET(VTD_CAP_FRO, vu->cap) * 16;
    vu->nr_frcd = FIELD_GET(VTD_CAP_NFR, vu->cap) + 1;
    bool sm_ok = (vu->ecap & VTD_ECAP_SMTS) && (vu->ecap & VTD_ECAP_QI) &&
                 (vu->ecap & (VTD_ECAP_SLTS | VTD_ECAP_FLTS)) && !vtd_opt("legacy");
    vu->scalable = sm_ok;
    vu->first_stage_ok = sm_ok && (vu->ecap & VTD_ECAP_FLTS);
    vu->coherent = vu->scalable ? (vu->ecap & VTD_ECAP_SMPWC) : (vu->ecap & VTD_ECAP_C);
    uint64_t pg = PGTABLE_SZ_4K;
    unsigned sllps = FIELD_GET(VTD_CAP_SLLPS, vu->cap);
    if (sllps & 1)
        pg |= PGTABLE_SZ_2M;
    if (sllps & 2)
        pg |= PGTABLE_SZ_1G;
    vu->iu.pgsize_bitmap = pg;
}

static int vtd_did_alloc(struct vtd_unit *vu)
{
    for (unsigned i = 1; i < vu->nr_dids; i++) {
        if (!(vu->did_used[i / 8] & (1u << (i % 8)))) {
            vu->did_used[i / 8] |= (uint8_t)(1u << (i % 8));
            return (int)i;
        }
    }
    return -ENOSPC;
}

static void vtd_did_free(struct vtd_unit *vu, uint16_t did)
{
    if (did)
        vu->did_used[did / 8] &= (uint8_t)~(1u << (did % 8));
}

/* ---- which functions a unit serves ---- */

static bool vtd_serves_rid(struct vtd_unit *vu, uint16_t seg, uint8_t bus, uint8_t devfn)
{
    return vtd_dmar_unit_for(&dmar, seg, bus, devfn, vtd_pci_bridge, platform_pci()) ==
           (int)vu->index;
}

/* VFs are not in the DRHD device scopes (firmware lists what it saw at boot): a VF is served
 * by its PF's unit, as Linux's dmar_find_matched_drhd_unit looks up pci_physfn. */
static bool vtd_serves(struct iommu_unit *u, const struct pci_dev *dev)
{
    struct pci_system *sys = platform_pci();
    if (dev->is_virtfn && sys && dev->physfn < sys->ndevs)
        dev = &sys->devs[dev->physfn];
    return vtd_serves_rid(to_vtd_unit(u), dev->seg, dev->bus, dev->devfn);
}

/* ---- domains ---- */

static int vtd_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                            const struct iommu_domain_cfg *cfg, struct iommu_domain **out)
{
    struct vtd_unit *vu = to_vtd_unit(u);
    if (type == IOMMU_DOMAIN_NESTED)
        return -EOPNOTSUPP;
    if (type == IOMMU_DOMAIN_IDENTITY && !(vu->ecap & VTD_ECAP_PT))
        return -EOPNOTSUPP;
    struct vtd_domain *vd = vtd_alloc_should_fail() ? NULL : kzalloc(sizeof(*vd));
    if (!vd)
        return -ENOMEM;
    vd->vu = vu;
    vd->d.unit = u;
    vd->d.type = type;
    vd->d.flags = cfg->flags;
    if (type != IOMMU_DOMAIN_BLOCKED) {
        int did = vtd_did_alloc(vu);
        if (did < 0) {
            kfree(vd);
            return did;
        }
        vd->did = (uint16_t)did;
    }
    if (type == IOMMU_DOMAIN_PAGING) {
        /* First stage on request, or when the unit has no second stage (QEMU x-flts=on). */
        vd->first_stage = vu->first_stage_ok && ((cfg->flags & IOMMU_DOMAIN_FIRST_STAGE) ||
                                                 !(vu->ecap & VTD_ECAP_SLTS));
        int err = vtd_domain_pgtable_init(vd);
        if (err) {
            vtd_did_free(vu, vd->did);
            kfree(vd);
            return err;
        }
        vd->d.iova_last = vd->d.pt.ia_last;
    }
    *out = &vd->d;
    return 0;
}

/* No device is attached and no mapping is left; flush the DID before it is reused. */
static void vtd_domain_free(struct iommu_domain *d)
{
    struct vtd_domain *vd = to_vtd_domain(d);
    if (vd->did)
        vtd_inv_iotlb_domain(vd->vu, vd->did);
    if (d->type == IOMMU_DOMAIN_PAGING)
        pgtable_destroy(&d->pt);
    vtd_did_free(vd->vu, vd->did);
    kfree(vd);
}

struct vtd_attach_args {
    struct vtd_unit *vu;
    struct vtd_domain *old, *new;
    int err;
    uint16_t ats_rid;           /* the function's own RID: only it uses ATS, not its aliases */
    bool ats;
};

/* ---- ATS (PCIe ATS capability: +4 capability, +6 control) ---- */
#define PCI_ATS_CTRL 6
#define PCI_ATS_CTRL_ENABLE BIT(15)

static struct vtd_ats_dev *vtd_ats_find(struct vtd_unit *vu, uint16_t rid)
{
    for (unsigned i = 0; i < vu->nr_ats; i++)
        if (vu->ats[i].rid == rid)
            return &vu->ats[i];
    return NULL;
}

/* Whether the platform lets dev use ATS (8.4, 8.8): integrated devices (on a root bus, or
 * named by a SATC) may; others only below a root port an ATSR names (or ALL_PORTS). */
static bool vtd_ats_allowed(struct pci_system *sys, const struct pci_dev *dev)
{
    for (unsigned i = 0; i < dmar.nr_satc; i++)
        if (vtd_scopes_match(&dmar.satc[i].scopes, dev->seg, dmar.satc[i].seg, dev->bus,
                             dev->devfn, vtd_pci_bridge, sys))
            return true;
    const struct pci_dev *rp = dev;
    while (rp->parent != PCI_NONE)
        rp = &sys->devs[rp->parent];
    if (rp == dev)
        return true;
    for (unsigned i = 0; i < dmar.nr_atsr; i++) {
        const struct vtd_atsr *a = &dmar.atsr[i];
        if (a->seg == dev->seg && (a->flag || vtd_scopes_match(&a->scopes, dev->seg, a->seg,
                                                               rp->bus, rp->devfn, vtd_pci_bridge,
                                                               sys)))
            return true;
    }
    return false;
}

/* ATS for translated domains when the unit has device-TLB support and queued invalidation
 * (device-TLB invalidation exists only as a descriptor) and the platform allows it. */
static uint16_t vtd_ats_cap(struct vtd_unit *vu, struct pci_dev *dev, struct vtd_domain *d)
{
    struct pci_system *sys = platform_pci();
    if (!sys || !d || d->d.type != IOMMU_DOMAIN_PAGING || !(vu->ecap & VTD_ECAP_DT) || !vu->qi ||
        vtd_opt("noats") || !vtd_ats_allowed(sys, dev))
        return 0;
    return pci_find_ext_cap(sys, dev, PCI_EXT_CAP_ID_ATS);
}

/* After the context entry changed: the device's ATS follows (enabled only once the entry
 * allows translation requests; the old domain's device-TLB was flushed with its IOTLB). */
static void vtd_ats_update(struct vtd_unit *vu, struct pci_dev *dev, uint16_t cap,
                           struct vtd_domain *d)
{
    struct pci_system *sys = platform_pci();
    uint16_t rid = (uint16_t)(dev->bus << 8 | dev->devfn);
    struct vtd_ats_dev *a = vtd_ats_find(vu, rid);
    if (!cap) {
        if (a) {
            uint16_t c = pci_find_ext_cap(sys, dev, PCI_EXT_CAP_ID_ATS);
            if (c)
                pci_write16(sys, dev, c + PCI_ATS_CTRL, 0);
            *a = vu->ats[--vu->nr_ats];
        }
        return;
    }
    if (!a) {
        if (vu->nr_ats == VTD_MAX_ATS)
            return;
        a = &vu->ats[vu->nr_ats++];
        a->rid = rid;
        a->pfsid = 0;
        if (dev->is_virtfn && dev->physfn != PCI_NONE) {
            const struct pci_dev *pf = &sys->devs[dev->physfn];
            a->pfsid = (uint16_t)(pf->bus << 8 | pf->devfn);
        }
        pci_write16(sys, dev, cap + PCI_ATS_CTRL, PCI_ATS_CTRL_ENABLE);   /* STU 0: 4 KiB */
        kprintf("vtd: %s: ATS on for %02x:%02x.%x: its device-TLB is invalidated with its "
                "domain\n", vu->name, dev->bus, dev->devfn >> 3, dev->devfn & 7);
    }
    a->did = d->did;
}

static int vtd_attach_alias(struct pci_dev *dev, uint16_t rid, void *arg)
{
    struct vtd_attach_args *a = arg;
    int err = vtd_ctx_attach(a->vu, (uint8_t)(rid >> 8), (uint8_t)rid, a->old, a->new,
                             a->ats && rid == a->ats_rid);
    if (err)
        a->err = err;
    return 0;   /* every alias, even after an error: none may stay on the old domain */
}

static int vtd_attach_dev(struct iommu_domain *d, struct pci_dev *dev)
{
    struct vtd_domain *vd = to_vtd_domain(d);
    struct iommu_domain *cur = iommu_dev_domain(dev);
    struct vtd_attach_args a = { vd->vu, cur ? to_vtd_domain(cur) : NULL, vd, 0, 0, false };
    if (d->type == IOMMU_DOMAIN_BLOCKED)
        a.new = NULL;
    if (a.old && a.old->d.type == IOMMU_DOMAIN_BLOCKED)
        a.old = NULL;
    uint16_t ats = vtd_ats_cap(vd->vu, dev, a.new);
    a.ats = ats != 0;
    a.ats_rid = (uint16_t)(dev->bus << 8 | dev->devfn);
    struct pci_system *sys = platform_pci();
    if (sys)
        pci_for_each_dma_alias(sys, dev, vtd_attach_alias, &a);
    else
        vtd_attach_alias(dev, a.ats_rid, &a);
    vtd_ats_update(vd->vu, dev, a.err ? 0 : ats, a.new);
    return a.err;
}

static int vtd_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size,
                   uint32_t prot)
{
    /* First-stage (x86-64) entries cannot say write-only: a present entry is readable. As
     * Linux does, write-only becomes read-write there rather than failing the map. */
    if (to_vtd_domain(d)->first_stage && (prot & IOMMU_WRITE))
        prot |= IOMMU_READ;
    int err = pgtable_map(&d->pt, iova, pa, size, prot);
    if (!err && !to_vtd_domain(d)->vu->caching_mode)
        err = vtd_flush_write_buffer(to_vtd_domain(d)->vu);
    return err;
}

static int vtd_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size)
{
    return pgtable_unmap(&d->pt, iova, size, 0);
}

static int vtd_unmap_gather(struct iommu_domain *d, uint64_t iova, uint64_t size,
                            struct pgtable_gather *g)
{
    return pgtable_unmap_gather(&d->pt, iova, size, 0, g);
}

/* One batch of page-selective invalidations (or one domain-selective one) and one wait. */
static void vtd_gather_sync(struct iommu_domain *d, struct pgtable_gather *g)
{
    pgtable_gather_sync(&d->pt, g);
}

/* Linux's struct iommu_hw_info_vtd: flags, reserved, cap_reg, ecap_reg. */
static int vtd_hw_info(struct iommu_unit *u, void *buf, size_t len, uint32_t *type)
{
    struct vtd_unit *vu = to_vtd_unit(u);
    uint64_t info[3] = { 0, vu->cap, vu->ecap };
    if (len < sizeof(info))
        return -EINVAL;
    memcpy(buf, info, sizeof(info));
    *type = 1;      /* IOMMU_HW_INFO_TYPE_INTEL_VTD */
    return sizeof(info);
}

/* The interrupt window for every function, and the RMRRs that name this one. */
static int vtd_resv_regions(struct iommu_unit *u, struct pci_dev *dev,
                            struct iommu_resv_region *out, unsigned max)
{
    (void)u;
    unsigned n = 0;
    if (max == 0)
        return -ENOSPC;
    out[n++] = (struct iommu_resv_region){ VTD_INTR_ADDR_FIRST, VTD_INTR_ADDR_LAST, 0,
                                           IOMMU_RESV_MSI };
    int err = vtd_rmrr_regions(&dmar, platform_pci(), dev, out, &n, max);
    return err ? err : (int)n;
}

static const struct iommu_unit_ops vtd_ops = {
    .vendor = "intel",
    .domain_alloc = vtd_domain_alloc,
    .domain_free = vtd_domain_free,
    .attach_dev = vtd_attach_dev,
    .map = vtd_map,
    .unmap = vtd_unmap,
    .unmap_gather = vtd_unmap_gather,
    .gather_sync = vtd_gather_sync,
    .hw_info = vtd_hw_info,
    .msi_compose = vtd_ir_msi_compose,
    .msi_free = vtd_ir_msi_free,
    /* Stage-1 data is read and checked as Linux does; nested domains themselves are not built
     * yet (domain_alloc answers -EOPNOTSUPP), so there is no cache_invalidate_user. */
    .nested_parse = vtd_nested_parse,
    .ioapic_compose = vtd_ir_ioapic_compose,
    .resv_regions = vtd_resv_regions,
};

/* ---- bring-up ---- */

/* Points the unit at our root table. With TE already on (firmware left it translating) the
 * switch is atomic: hardware walks either the old tables or ours, never nothing; the global
 * invalidations that follow drop what it cached from the old ones. */
static int vtd_set_root(struct vtd_unit *vu)
{
    uint64_t rta = vu->root_pa | FIELD_PREP(VTD_RTADDR_TTM,
                                            vu->scalable ? VTD_TTM_SCALABLE : VTD_TTM_LEGACY);
    vtd_write64(vu, VTD_RTADDR_REG, rta);
    vu->iu.root_pa = vu->root_pa;
    return vtd_gcmd(vu, VTD_GCMD_SRTP, true);
}

static int vtd_invalidate_all(struct vtd_unit *vu)
{
    int err = vtd_inv_context(vu, VTD_GRAN_GLOBAL, 0, 0);
    if (!err)
        err = vtd_inv_iotlb_global(vu);
    return err;
}

/* Whether dev has a 1:1 region (an RMRR names it, relaxable or not). */
static bool vtd_has_direct(struct pci_dev *dev)
{
    struct iommu_resv_region r[IOMMU_MAX_RESV];
    int n = iommu_resv_regions(dev, r, IOMMU_MAX_RESV);
    for (int i = 0; i < n; i++)
        if (r[i].type == IOMMU_RESV_DIRECT || r[i].type == IOMMU_RESV_DIRECT_RELAXABLE)
            return true;
    return n < 0;
}

/* RMRR ranges stay reachable for the devices they name: they start on one paging domain of
 * the unit instead of the blocked one, before TE is set, so they never see a gap. The core's
 * attach maps each device's RMRRs (and only its own) 1:1 there, as it does in every later
 * kernel paging domain of the device. */
static int vtd_setup_rmrr(struct vtd_unit *vu)
{
    struct pci_system *sys = platform_pci();
    struct iommu_domain *rd = NULL;
    for (uint32_t k = 0; k < (sys && dmar.nr_rmrr ? sys->ndevs : 0); k++) {
        struct pci_dev *dev = &sys->devs[k];
        if (!vtd_serves(&vu->iu, dev) || !vtd_has_direct(dev))
            continue;
        if (!rd && vtd_domain_alloc(&vu->iu, IOMMU_DOMAIN_PAGING,
                                    &(struct iommu_domain_cfg){ 0 }, &rd))
            return -ENOMEM;
        int err = iommu_attach(rd, dev);
        if (err)
            return err;
        kprintf("vtd: %s: RMRR memory identity-mapped for %02x:%02x.%x\n", vu->name,
                dev->bus, dev->devfn >> 3, dev->devfn & 7);
    }
    return 0;
}

/* Hand-over without an unprotected window (firmware left TE on): the new root table is empty,
 * so at the moment SRTP takes effect every function is blocked; TE is never cleared. The
 * global invalidations drop whatever was cached from the old tables before they are freed. */
int vtd_takeover(struct vtd_unit *vu)
{
    int err = vtd_tables_replace(vu);
    if (!err)
        err = vtd_set_root(vu);
    if (!err)
        err = vtd_invalidate_all(vu);
    if (!err)
        vtd_tables_free_old();
    return err;
}

/* After a take-over on a live system: programs every function's current domain (as the core
 * records it) into the new tables. */
int vtd_reattach_all(struct vtd_unit *vu)
{
    struct pci_system *sys = platform_pci();
    int err = 0;
    for (uint32_t i = 0; sys && i < sys->ndevs; i++) {
        struct pci_dev *dev = &sys->devs[i];
        if (!vtd_serves(&vu->iu, dev))
            continue;
        struct iommu_domain *d = iommu_dev_domain(dev);
        if (!d || d == vu->iu.blocked)
            continue;
        struct vtd_attach_args a = { vu, NULL, to_vtd_domain(d), 0,
                                     (uint16_t)(dev->bus << 8 | dev->devfn), false };
        struct vtd_ats_dev *ad = vtd_ats_find(vu, a.ats_rid);
        a.ats = ad != NULL;
        pci_for_each_dma_alias(sys, dev, vtd_attach_alias, &a);
        if (a.err)
            err = a.err;
    }
    return err;
}

static int vtd_unit_setup(struct vtd_unit *vu)
{
    uint32_t gsts = vtd_read32(vu, VTD_GSTS_REG);
    bool handover = gsts & VTD_GCMD_TE;
    if (handover)
        kprintf("vtd: %s: firmware left translation on: taking over without a gap\n", vu->name);
    /* Keep the persistent bits firmware set so that our GCMD writes do not clear them. */
    vu->gcmd = gsts & (VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI);
    int err = vtd_tables_init(vu);
    if (!err)
        err = vtd_set_root(vu);
    if (!err)
        err = vtd_qi_init(vu);
    if (!err)
        err = vtd_invalidate_all(vu);
    if (!err)
        err = vtd_fault_init(vu);
    if (err)
        return err;
    struct iommu_domain *blocked;
    err = vtd_domain_alloc(&vu->iu, IOMMU_DOMAIN_BLOCKED, &(struct iommu_domain_cfg){ 0 },
                           &blocked);
    if (err)
        return err;
    vu->iu.blocked = blocked;
    iommu_register_unit(&vu->iu);       /* before RMRR attach: the core looks the unit up */
    err = vtd_setup_rmrr(vu);
    if (!err && !handover)
        err = vtd_gcmd(vu, VTD_GCMD_TE, true);
    return err;
}

static struct vtd_unit *vtd_unit_create(unsigned index)
{
    const struct vtd_drhd *h = &dmar.unit[index];
    struct vtd_unit *vu = kzalloc(sizeof(*vu));
    if (!vu)
        return NULL;
    vu->index = index;
    vu->drhd = h;
    fmt_snprintf(vu->name, sizeof(vu->name), "dmar%u", index);
    vu->regs = mmio_map(h->base, MAX(h->size, 4096));
    if (!vu->regs) {
        kfree(vu);
        return NULL;
    }
    vu->iu.ops = &vtd_ops;
    vu->iu.name = vu->name;
    vu->iu.seg = h->seg;
    vu->iu.serves = vtd_serves;
    vtd_read_caps(vu);
    /* The fault-recording and IOTLB registers sit where CAP/ECAP say, possibly past the
     * size the DMAR declared: map what the unit itself describes. */
    uint64_t end = MAX((uint64_t)vu->frcd_off + vu->nr_frcd * VTD_FRCD_SIZE,
                       (uint64_t)vu->iotlb_off + 16);
    if (end > MAX(h->size, 4096) && !mmio_map(h->base, ALIGN_UP(end, 4096))) {
        kfree(vu);
        return NULL;
    }
    return vu;
}

static void vtd_print_unit(struct vtd_unit *vu)
{
    kprintf("vtd: %s at %#llx: ver %#x cap %#llx ecap %#llx: %s mode, %u-level (%u-bit), "
            "%u domain IDs%s%s%s, %s invalidation\n",
            vu->name, (unsigned long long)vu->drhd->base, vtd_read32(vu, VTD_VER_REG),
            (unsigned long long)vu->cap, (unsigned long long)vu->ecap,
            vu->scalable ? "scalable" : "legacy", vu->levels, vu->ias, vu->nr_dids,
            vu->caching_mode ? ", caching mode" : "", vu->coherent ? "" : ", non-coherent walks",
            vu->first_stage_ok ? ", first stage" : "", vu->qi ? "queued" : "register");
}

static int vtd_init(void)
{
    const struct acpi_info *ai = platform_acpi();
    const struct acpi_sdt_header *t = ai ? acpi_find_table(ai, "DMAR", 0) : NULL;
    if (!t)
        return 0;       /* no VT-d on this machine */
    if (vtd_opt("off")) {
        kprintf("vtd: disabled on the command line: DMA is NOT isolated\n");
        return 0;
    }
    int err = vtd_dmar_parse(t, t->length, &dmar);
    if (err)
        return err;
    vtd_dmar_print(&dmar);
    for (unsigned i = 0; i < dmar.nr_units; i++) {
        struct vtd_unit *vu = vtd_unit_create(i);
        if (!vu)
            return -ENOMEM;
        /* A register base with nothing behind it reads all ones (or zeros): never program it. */
        if (vu->cap == ~0ULL || vu->cap == 0 || vu->ecap == ~0ULL) {
            kprintf("vtd: %s at %#llx: no VT-d registers there (CAP %#llx)\n", vu->name,
                    (unsigned long long)vu->drhd->base, (unsigned long long)vu->cap);
            return -ENODEV;
        }
        err = vtd_pick_levels(vu);
        if (!err)
            err = vtd_unit_setup(vu);
        if (err) {
            kprintf("vtd: %s: bring-up failed: %s\n", vu->name, errno_name(err));
            return err;
        }
        units[nr_units++] = vu;
        vtd_print_unit(vu);
        if ((dmar.flags & DMAR_FLAG_INTR_REMAP) && !vtd_opt("noir"))
            vtd_ir_init(vu);
    }
    return 0;
}
MOAT_UNIT(60_iommu, vtd, vtd_init);
