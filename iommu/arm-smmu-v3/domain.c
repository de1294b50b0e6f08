/* Domains and attachment.
 *   blocked   STE ABORT (the unit records nothing for it, 5.2: Config 0b000)
 *   identity  STE bypass, only on request
 *   paging    stage 1 (Arm LPAE stage-1 tables behind one CD, tagged by an ASID) when the unit
 *             has it and the domain is not a nesting parent, else stage 2 (tagged by a VMID)
 * Attach is a replace: the device's STEs move to the new configuration through the entry
 * writer, never through an unchecked state. Map and unmap go through the generic walker, whose
 * gather becomes TLBI commands and one CMD_SYNC. Leaves always carry the access flag (the
 * pgtable formats set AF): the unit may not update it itself.
 *
 * The MSI window: a PCI function's MSI is a DMA write through the SMMU, so every translated
 * domain maps the interrupt controller's doorbell page at SMMU_MSI_IOVA (Linux's software MSI
 * window); the window is a reserved region, so no caller can map over it. */
#include "iommu/arm-smmu-v3/smmu.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "pci/pci.h"

unsigned smmu_fail_nth;

static bool smmu_should_fail(void)
{
    return smmu_fail_nth && --smmu_fail_nth == 0;
}

void *smmu_alloc_pages(unsigned order, uint64_t *pa)
{
    return smmu_should_fail() ? NULL : pmm_alloc_zeroed(order, pa);
}

void smmu_free_pages(void *va, uint64_t pa, unsigned order)
{
    (void)va;
    pmm_free(pa, order);
}

void *smmu_zalloc(size_t size)
{
    return smmu_should_fail() ? NULL : kzalloc(size);
}

/* ---- ASIDs and VMIDs: 0 is never handed out ---- */

static int smmu_id_alloc(uint8_t *used, unsigned limit)
{
    for (unsigned i = 1; i < limit && i < SMMU_MAX_IDS; i++) {
        if (!(used[i / 8] & (1u << (i % 8)))) {
            used[i / 8] |= (uint8_t)(1u << (i % 8));
            return (int)i;
        }
    }
    return -ENOSPC;
}

static void smmu_id_free(uint8_t *used, unsigned id)
{
    used[id / 8] &= (uint8_t)~(1u << (id % 8));
}

/* ---- page tables ---- */

static void *smmu_pt_alloc(void *ctx, size_t size, uint64_t *pa)
{
    return smmu_alloc_pages(pmm_order_for(size), pa);
}

static void smmu_pt_free(void *ctx, void *va, uint64_t pa, size_t size)
{
    smmu_free_pages(va, pa, pmm_order_for(size));
}

static void *smmu_pt_virt(void *ctx, uint64_t pa)
{
    return phys_to_virt(pa);
}

static const struct pgtable_mem_ops smmu_pt_mem_ops = {
    .alloc = smmu_pt_alloc,
    .free = smmu_pt_free,
    .phys_to_virt = smmu_pt_virt,
};

/* A failed invalidation leaves translations the device could still use: never ignored. */
static void smmu_pt_flush(void *ctx, const struct pgtable_gather *g)
{
    struct smmu_domain *sd = ctx;
    if (!smmu_tlbi_ranges(sd, g->range, g->nr_ranges, g->leaf_only))
        return;
    kprintf("smmuv3: %s: range invalidation failed: invalidating the whole %s %u\n",
            sd->su->name, sd->stage == SMMU_STAGE_1 ? "ASID" : "VMID",
            sd->stage == SMMU_STAGE_1 ? sd->asid : sd->vmid);
    if (smmu_tlbi_domain(sd))
        panic("smmuv3: %s: cannot invalidate: stale DMA translations", sd->su->name);
}

static const struct pgtable_flush_ops smmu_flush_ops = { .flush = smmu_pt_flush };

static enum pgtable_fmt smmu_fmt(const struct smmu_unit *su, enum smmu_stage stage)
{
    static const enum pgtable_fmt s1[] = { PGTABLE_FMT_ARM_S1, PGTABLE_FMT_ARM_S1_16K,
                                           PGTABLE_FMT_ARM_S1_64K };
    static const enum pgtable_fmt s2[] = { PGTABLE_FMT_ARM_S2, PGTABLE_FMT_ARM_S2_16K,
                                           PGTABLE_FMT_ARM_S2_64K };
    unsigned g = su->f.granule_shift == 12 ? 0 : su->f.granule_shift == 14 ? 1 : 2;
    return stage == SMMU_STAGE_1 ? s1[g] : s2[g];
}

/* Stage 1 takes 48-bit IOVAs; stage 2 input is an IPA as wide as the output (Linux's choice). */
static int smmu_domain_pgtable_init(struct smmu_domain *sd)
{
    struct smmu_unit *su = sd->su;
    struct pgtable_cfg cfg = {
        .fmt = smmu_fmt(su, sd->stage),
        .ias = sd->stage == SMMU_STAGE_1 ? SMMU_IAS : su->f.oas,
        .oas = su->f.oas,
        .pgsize_bitmap = su->f.pgsize_bitmap,
    };
    return pgtable_init(&sd->d.pt, &cfg, &smmu_pt_mem_ops, sd, &smmu_flush_ops, sd);
}

/* The doorbell page at the window's start, device memory, write-only for the device's
 * purpose (stage 1 cannot express write-only: read-write). */
static int smmu_msi_map(struct smmu_domain *sd)
{
    struct smmu_unit *su = sd->su;
    if (!su->msi_doorbell)
        return 0;
    uint64_t g = sd->d.pt.granule;
    int err = pgtable_map(&sd->d.pt, SMMU_MSI_IOVA, su->msi_doorbell & ~(g - 1), g,
                          PGTABLE_PROT_READ | PGTABLE_PROT_WRITE | PGTABLE_PROT_MMIO);
    sd->msi_mapped = !err;
    return err;
}

static int smmu_domain_paging(struct smmu_domain *sd, const struct iommu_domain_cfg *cfg)
{
    struct smmu_unit *su = sd->su;
    if (cfg->flags & IOMMU_DOMAIN_DIRTY_TRACKING)
        return -EOPNOTSUPP;     /* no HTTU on the units moat drives */
    bool s2 = (cfg->flags & IOMMU_DOMAIN_NEST_PARENT) || !su->f.s1;
    if (s2 && !su->f.s2)
        return -EOPNOTSUPP;
    sd->stage = s2 ? SMMU_STAGE_2 : SMMU_STAGE_1;
    int id = s2 ? smmu_id_alloc(su->vmid_used, su->f.vmid16 ? 65536 : 256)
                : smmu_id_alloc(su->asid_used, su->f.asid16 ? 65536 : 256);
    if (id < 0)
        return id;
    if (s2)
        sd->vmid = (uint16_t)id;
    else
        sd->asid = (uint16_t)id;
    int err = smmu_domain_pgtable_init(sd);
    if (err)
        goto free_id;
    if (!s2) {
        sd->cd = smmu_alloc_pages(0, &sd->cd_pa);
        if (!sd->cd) {
            err = -ENOMEM;
            goto free_pt;
        }
        smmu_mk_cd(sd->cd, &sd->d.pt, sd->asid);   /* not reachable yet: no STE points here */
    }
    err = smmu_msi_map(sd);
    if (!err) {
        sd->d.iova_last = sd->d.pt.ia_last;
        return 0;
    }
    if (sd->cd)
        smmu_free_pages(sd->cd, sd->cd_pa, 0);
free_pt:
    pgtable_destroy(&sd->d.pt);
free_id:
    smmu_id_free(s2 ? su->vmid_used : su->asid_used, (unsigned)id);
    return err;
}

int smmu_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                      const struct iommu_domain_cfg *cfg, struct iommu_domain **out)
{
    struct smmu_unit *su = to_smmu_unit(u);
    if (type == IOMMU_DOMAIN_NESTED && (!cfg->viommu || cfg->viommu->unit != u))
        return -EOPNOTSUPP;     /* nesting only through a vIOMMU */
    struct smmu_domain *sd = smmu_zalloc(sizeof(*sd));
    if (!sd)
        return -ENOMEM;
    sd->su = su;
    sd->d.unit = u;
    sd->d.type = type;
    sd->d.flags = cfg->flags;
    if (type == IOMMU_DOMAIN_PAGING || type == IOMMU_DOMAIN_NESTED) {
        int err = type == IOMMU_DOMAIN_PAGING ? smmu_domain_paging(sd, cfg)
                                              : smmu_nested_domain_init(sd, cfg);
        if (err) {
            kfree(sd);
            return err;
        }
    }
    *out = &sd->d;
    return 0;
}

/* No device is attached and no caller mapping is left: the driver's own MSI page goes, the
 * TLB tag is flushed before it is reused, then the memory. */
void smmu_domain_free(struct iommu_domain *d)
{
    struct smmu_domain *sd = to_smmu_domain(d);
    struct smmu_unit *su = sd->su;
    for (unsigned i = 0; i < su->nr_streams; i++)
        MOAT_ASSERT(su->streams[i].d != sd);
    if (sd->stage != SMMU_STAGE_NONE) {
        if (sd->msi_mapped)
            pgtable_unmap(&d->pt, SMMU_MSI_IOVA, d->pt.granule, 0);
        smmu_tlbi_domain(sd);
        pgtable_destroy(&d->pt);
        if (sd->cd)
            smmu_free_pages(sd->cd, sd->cd_pa, 0);
        if (sd->stage == SMMU_STAGE_1)
            smmu_id_free(su->asid_used, sd->asid);
        else
            smmu_id_free(su->vmid_used, sd->vmid);
    }
    kfree(sd);
}

/* ---- attach ---- */

void smmu_ste_for_domain(const struct smmu_domain *sd, struct smmu_ste *e)
{
    if (!sd || sd->d.type == IOMMU_DOMAIN_BLOCKED)
        smmu_mk_ste_abort(e);
    else if (sd->d.type == IOMMU_DOMAIN_IDENTITY)
        smmu_mk_ste_bypass(e);
    else if (sd->d.type == IOMMU_DOMAIN_NESTED)
        smmu_mk_ste_vnested(e, sd);
    else if (sd->stage == SMMU_STAGE_1)
        smmu_mk_ste_s1(e, sd->cd_pa);
    else
        smmu_mk_ste_s2(e, &sd->d.pt, sd->vmid);
}

static struct smmu_stream *smmu_stream(struct smmu_unit *su, uint32_t sid, bool create)
{
    for (unsigned i = 0; i < su->nr_streams; i++)
        if (su->streams[i].sid == sid)
            return &su->streams[i];
    if (!create || su->nr_streams == SMMU_MAX_STREAMS)
        return NULL;
    su->streams[su->nr_streams] = (struct smmu_stream){ sid, 0, NULL };
    return &su->streams[su->nr_streams++];
}

struct smmu_domain *smmu_domain_of_sid(struct smmu_unit *su, uint32_t sid)
{
    struct smmu_stream *s = smmu_stream(su, sid, false);
    return s ? s->d : NULL;
}

bool smmu_rid_of(struct smmu_unit *su, uint32_t sid, uint16_t *rid)
{
    struct smmu_stream *s = smmu_stream(su, sid, false);
    if (s)
        *rid = s->rid;
    return s != NULL;
}

int smmu_attach_rid(struct smmu_unit *su, uint16_t rid, struct smmu_domain *d)
{
    uint32_t sid = rid;
    if (su->sid_of && !su->sid_of(su, rid, &sid))
        return d ? -ENODEV : 0;     /* the unit never sees it: nothing to block either */
    struct smmu_stream *s = smmu_stream(su, sid, d != NULL);
    if (!s)
        return d ? -ENOSPC : 0;
    s->rid = rid;
    struct smmu_ste e;
    smmu_ste_for_domain(d, &e);
    int err = smmu_ste_install(su, sid, &e);
    if (!err) {
        s->d = d;
        return 0;
    }
    if (err == -ENOMEM || err == -ENODEV)
        return err;     /* nothing was written */
    /* The unit did not confirm the change: the entry goes back to the old domain's, which the
     * caller still believes in (and will not free while the device is on it). */
    kprintf("smmuv3: %s: stream %#x: attach failed (%s): back to its previous domain\n",
            su->name, sid, errno_name(err));
    smmu_ste_for_domain(s->d, &e);
    if (smmu_ste_install(su, sid, &e))
        kprintf("smmuv3: %s: stream %#x: the unit confirms nothing\n", su->name, sid);
    return err;
}

struct smmu_attach_args {
    struct smmu_unit *su;
    struct smmu_domain *d;
    int err;
};

static int smmu_attach_alias(struct pci_dev *dev, uint16_t rid, void *arg)
{
    struct smmu_attach_args *a = arg;
    int err = smmu_attach_rid(a->su, rid, a->d);
    if (err && !a->err)
        a->err = err;
    return 0;   /* every alias, even after an error: none may stay on the old domain */
}

int smmu_attach_dev(struct iommu_domain *d, struct pci_dev *dev)
{
    struct smmu_domain *sd = to_smmu_domain(d);
    struct smmu_attach_args a = { sd->su, d->type == IOMMU_DOMAIN_BLOCKED ? NULL : sd, 0 };
    if (d->type == IOMMU_DOMAIN_NESTED) {
        int err = smmu_nested_attach_check(sd, dev);
        if (err)
            return err;
    }
    if (sd->su->for_each_rid)
        sd->su->for_each_rid(sd->su, dev, smmu_attach_alias, &a);
    else
        smmu_attach_alias(dev, (uint16_t)(dev->bus << 8 | dev->devfn), &a);
    return a.err;
}

/* ---- MSIs ---- */

/* A device on a translated domain writes its MSIs into the window, where the domain maps the
 * doorbell page; on identity (bypass) its writes reach the doorbell itself; on the blocked
 * domain nothing does. The domain is the device's at the time the message is composed (every
 * translated domain maps the window at the same IOVA, so moving between them keeps it). */
uint64_t smmu_msi_address(struct iommu_unit *u, struct pci_dev *dev, uint64_t pa)
{
    struct smmu_unit *su = to_smmu_unit(u);
    struct iommu_domain *d = iommu_dev_domain(dev);
    if (!d || d->type != IOMMU_DOMAIN_PAGING || !to_smmu_domain(d)->msi_mapped ||
        (pa & ~(d->pt.granule - 1)) != (su->msi_doorbell & ~(d->pt.granule - 1)))
        return pa;
    return SMMU_MSI_IOVA + (pa & (d->pt.granule - 1));
}

/* ---- map and unmap ---- */

int smmu_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot)
{
    /* Stage-1 entries cannot say write-only (AP: read-only or read-write). As Linux does,
     * write-only becomes read-write there rather than failing the map; stage 2 (S2AP) keeps
     * it exact. */
    if (to_smmu_domain(d)->stage == SMMU_STAGE_1 && (prot & IOMMU_WRITE))
        prot |= IOMMU_READ;
    return pgtable_map(&d->pt, iova, pa, size, prot);
}

int smmu_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size)
{
    return pgtable_unmap(&d->pt, iova, size, 0);
}

int smmu_unmap_gather(struct iommu_domain *d, uint64_t iova, uint64_t size,
                      struct pgtable_gather *g)
{
    return pgtable_unmap_gather(&d->pt, iova, size, 0, g);
}

void smmu_gather_sync(struct iommu_domain *d, struct pgtable_gather *g)
{
    pgtable_gather_sync(&d->pt, g);
}
