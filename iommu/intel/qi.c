/* Invalidation (VT-d spec 6.5): the queued interface when ECAP.QI (descriptors, then one
 * invalidation-wait descriptor whose status write is polled with a deadline), else the
 * register interface (CCMD, IOTLB_REG/IVA_REG, each polled with a deadline).
 *
 * Every call submits all its descriptors and waits once: an operation is never left half
 * invalidated when it returns. Queue errors (IQE, ITE, ICE in FSTS) are reported, the queue is
 * reset, and the call fails with -EIO so the caller can fall back (vtd_pgtable.c flushes
 * globally). Callers are serialised (single CPU; the fault handler never invalidates). */
#include "arch/arch.h"
#include "iommu/intel/vtd.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"

#define VTD_MAX_BATCH 32        /* descriptors per submission, wait included */
#define VTD_MAX_PSI 16          /* page-selective invalidations before domain-selective */

int vtd_qi_init(struct vtd_unit *vu)
{
    if (!(vu->ecap & VTD_ECAP_QI) || (!vu->scalable && vtd_opt("noqi"))) {
        vu->qi = false;
        return 0;
    }
    /* Firmware may have left the queue on: it must be idle before IQA may change. */
    if (vtd_read32(vu, VTD_GSTS_REG) & VTD_GCMD_QIE) {
        if (poll_until(vtd_read64(vu, VTD_IQH_REG) == vtd_read64(vu, VTD_IQT_REG),
                       VTD_WAIT_TIMEOUT_NS))
            return -ETIMEDOUT;
        int err = vtd_gcmd(vu, VTD_GCMD_QIE, false);
        if (err)
            return err;
    }
    uint64_t wpa;
    vu->iq = pmm_alloc_zeroed(0, &vu->iq_pa);
    vu->wait_word = pmm_alloc_zeroed(0, &wpa);
    if (!vu->iq || !vu->wait_word)
        return -ENOMEM;
    vu->wait_pa = wpa;
    /* Scalable mode uses 256-bit descriptors (PASID-based ones need them). */
    vu->iq_shift = vu->scalable ? 5 : 4;
    vu->iq_slots = VTD_IQ_BYTES >> vu->iq_shift;
    vu->iq_tail = 0;
    vtd_write64(vu, VTD_IQT_REG, 0);
    vtd_write64(vu, VTD_IQA_REG, vu->iq_pa | (vu->scalable ? VTD_IQA_DW : 0) |
                                 FIELD_PREP(VTD_IQA_QS, 0));
    int err = vtd_gcmd(vu, VTD_GCMD_QIE, true);
    if (!err)
        vu->qi = true;
    return err;
}

/* Recovers after an error. Hardware stops fetching at the faulting descriptor (IQH points at
 * it) until IQE is cleared; everything from there to the tail is discarded by moving the tail
 * back to the head, then the error bits are cleared and the queue runs on from there. The
 * caller's operation failed (-EIO) and is redone by the caller in a stronger form. */
static void vtd_qi_reset(struct vtd_unit *vu, uint32_t fsts)
{
    uint64_t head = vtd_read64(vu, VTD_IQH_REG) & VTD_IQ_QT;
    kprintf("vtd: %s: invalidation queue error (%s%s%s) at slot %llu, IQERCD %#llx: "
            "queue reset\n", vu->name, fsts & VTD_FSTS_IQE ? "IQE " : "",
            fsts & VTD_FSTS_ITE ? "ITE " : "", fsts & VTD_FSTS_ICE ? "ICE" : "",
            (unsigned long long)(head >> vu->iq_shift),
            (unsigned long long)vtd_read64(vu, VTD_IQERCD_REG));
    vu->iq_tail = (unsigned)(head >> vu->iq_shift);
    vtd_write64(vu, VTD_IQT_REG, head);
    vtd_write32(vu, VTD_FSTS_REG, fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE));
    vu->nr_qi_errors++;
}

static void vtd_qi_put(struct vtd_unit *vu, const struct vtd_inv_desc *d)
{
    uint64_t *slot = (uint64_t *)((uint8_t *)vu->iq + ((size_t)vu->iq_tail << vu->iq_shift));
    unsigned words = vu->iq_shift == 5 ? 4 : 2;
    for (unsigned i = 0; i < words; i++)
        slot[i] = d->w[i];
    vtd_clean(vu, slot, (size_t)words * 8);
    vu->iq_tail = (vu->iq_tail + 1) % vu->iq_slots;
    vu->nr_desc++;
}

/* Queues n descriptors and a wait, publishes the tail, and polls the status word. The queue is
 * empty on entry (every submission ends with its wait), so n + 1 slots are always free. */
static int vtd_qi_submit(struct vtd_unit *vu, const struct vtd_inv_desc *d, unsigned n)
{
    MOAT_ASSERT(n + 1 <= vu->iq_slots);
    uint32_t seq = ++vu->wait_seq;
    if (seq == 0)
        seq = ++vu->wait_seq;
    for (unsigned i = 0; i < n; i++)
        vtd_qi_put(vu, &d[i]);
    struct vtd_inv_desc w;
    vtd_desc_wait(&w, seq, vu->wait_pa);
    vtd_qi_put(vu, &w);
    wmb();      /* descriptors in memory before the tail moves */
    vtd_write64(vu, VTD_IQT_REG, (uint64_t)vu->iq_tail << vu->iq_shift);
    uint32_t fsts = 0;
    const uint32_t errs = VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE;
    int err = poll_until(READ_ONCE(*vu->wait_word) == seq ||
                         ((fsts = vtd_read32(vu, VTD_FSTS_REG)) & errs), VTD_WAIT_TIMEOUT_NS);
    vu->nr_waits++;
    if (!err && READ_ONCE(*vu->wait_word) == seq)
        return 0;
    vtd_qi_reset(vu, fsts | vtd_read32(vu, VTD_FSTS_REG));
    return err ? err : -EIO;
}

/* ---- register-based invalidation (no QI) ---- */

static int vtd_reg_context(struct vtd_unit *vu, unsigned gran, uint16_t did, uint16_t sid)
{
    vtd_write64(vu, VTD_CCMD_REG, VTD_CCMD_ICC | FIELD_PREP(VTD_CCMD_CIRG, gran) |
                                  FIELD_PREP(VTD_CCMD_SID, sid) | FIELD_PREP(VTD_CCMD_DID, did));
    vu->nr_waits++;
    return poll_until(!(vtd_read64(vu, VTD_CCMD_REG) & VTD_CCMD_ICC), VTD_WAIT_TIMEOUT_NS);
}

static int vtd_reg_iotlb(struct vtd_unit *vu, unsigned gran, uint16_t did, uint64_t addr,
                         unsigned am, bool ih)
{
    if (gran == VTD_GRAN_DEVICE)
        vtd_write64(vu, vu->iotlb_off + VTD_IVA_REG_OFF,
                    (addr & VTD_IVA_ADDR) | FIELD_PREP(VTD_IVA_AM, am) | (ih ? VTD_IVA_IH : 0));
    vtd_write64(vu, vu->iotlb_off + VTD_IOTLB_REG_OFF,
                VTD_IOTLB_IVT | FIELD_PREP(VTD_IOTLB_IIRG, gran) | VTD_IOTLB_DR | VTD_IOTLB_DW |
                FIELD_PREP(VTD_IOTLB_DID, did));
    vu->nr_waits++;
    return poll_until(!(vtd_read64(vu, vu->iotlb_off + VTD_IOTLB_REG_OFF) & VTD_IOTLB_IVT),
                      VTD_WAIT_TIMEOUT_NS);
}

/* ---- the operations ---- */

int vtd_inv_context(struct vtd_unit *vu, unsigned gran, uint16_t did, uint16_t sid)
{
    if (!vu->qi)
        return vtd_reg_context(vu, gran, did, sid);
    struct vtd_inv_desc d;
    vtd_desc_cc(&d, gran, did, sid);
    return vtd_qi_submit(vu, &d, 1);
}

int vtd_inv_iotlb_global(struct vtd_unit *vu)
{
    if (!vu->qi)
        return vtd_reg_iotlb(vu, VTD_GRAN_GLOBAL, 0, 0, 0, false);
    struct vtd_inv_desc d[2];
    unsigned n = 0;
    vtd_desc_iotlb(&d[n++], VTD_GRAN_GLOBAL, 0, 0, 0, false);
    return vtd_qi_submit(vu, d, n);
}

/* Domain-selective: the IOTLB (second stage) and, in scalable mode, the PASID-tagged entries
 * of first-stage translations of RID_PASID. */
/* Device-TLB descriptors for every ATS function in domain did, each covering the aligned
 * block of 2^am pages that holds [start, last] (am 52: everything). Queued after the IOTLB
 * descriptors: the device must not refill from stale IOTLB entries (6.5.2.5). */
static unsigned vtd_devtlb_descs(struct vtd_unit *vu, uint16_t did, uint64_t start, uint64_t last,
                                 struct vtd_inv_desc *d, unsigned room)
{
    unsigned am = 0, n = 0;
    while (am < 52 && (start >> (12 + am)) != (last >> (12 + am)))
        am++;
    for (unsigned i = 0; i < vu->nr_ats && n < room; i++) {
        if (vu->ats[i].did != did)
            continue;
        vtd_desc_devtlb(&d[n++], vu->ats[i].rid, vu->ats[i].pfsid,
                        am >= 52 ? 0 : start & ~((4096ULL << am) - 1), am);
        vu->nr_devtlb++;
    }
    return n;
}

int vtd_inv_iotlb_domain(struct vtd_unit *vu, uint16_t did)
{
    if (!vu->qi)
        return vtd_reg_iotlb(vu, VTD_GRAN_DOMAIN, did, 0, 0, false);
    struct vtd_inv_desc d[2 + VTD_MAX_ATS];
    unsigned n = 0;
    vtd_desc_iotlb(&d[n++], VTD_GRAN_DOMAIN, did, 0, 0, false);
    if (vu->scalable)
        vtd_desc_piotlb(&d[n++], VTD_PIOTLB_G_PASID, did, 0, 0, 0, false);
    n += vtd_devtlb_descs(vu, did, 0, ~0ULL, d + n, VTD_MAX_ATS);
    return vtd_qi_submit(vu, d, n);
}

static unsigned vtd_max_am(struct vtd_unit *vu)
{
    return (vu->cap & VTD_CAP_PSI) ? FIELD_GET(VTD_CAP_MAMV, vu->cap) : 0;
}

/* Page-selective descriptors for every range, or one domain-selective one when that would
 * take too many (or the unit has no PSI). */
static unsigned vtd_build_ranges(struct vtd_unit *vu, struct vtd_domain *vd,
                                 const struct pgtable_range *r, unsigned nr, bool leaf,
                                 struct vtd_inv_desc *d)
{
    uint64_t addr[VTD_MAX_PSI];
    unsigned am[VTD_MAX_PSI], n = 0;
    bool psi = vu->cap & VTD_CAP_PSI;
    for (unsigned i = 0; i < nr && psi; i++) {
        unsigned k = vtd_psi_split(r[i].start, r[i].last, vtd_max_am(vu), addr + n, am + n,
                                   VTD_MAX_PSI - n);
        if (n + k > VTD_MAX_PSI)
            psi = false;
        else
            n += k;
    }
    if (!psi) {
        vtd_desc_iotlb(&d[0], VTD_GRAN_DOMAIN, vd->did, 0, 0, false);
        if (!vd->first_stage)
            return 1;
        vtd_desc_piotlb(&d[1], VTD_PIOTLB_G_PASID, vd->did, 0, 0, 0, false);
        return 2;
    }
    for (unsigned i = 0; i < n; i++) {
        if (vd->first_stage)
            vtd_desc_piotlb(&d[i], VTD_PIOTLB_G_PAGE, vd->did, 0, addr[i], am[i], leaf);
        else
            vtd_desc_iotlb(&d[i], VTD_GRAN_DEVICE, vd->did, addr[i], am[i], leaf);
    }
    return n;
}

int vtd_inv_iotlb_ranges(struct vtd_unit *vu, struct vtd_domain *vd,
                         const struct pgtable_range *r, unsigned n, bool leaf_only)
{
    struct vtd_inv_desc d[VTD_MAX_BATCH - 1];
    unsigned nd = vtd_build_ranges(vu, vd, r, n, leaf_only, d);
    if (vu->qi) {
        for (unsigned i = 0; i < n; i++)
            nd += vtd_devtlb_descs(vu, vd->did, r[i].start, r[i].last, d + nd,
                                   ARRAY_SIZE(d) - nd);
        return vtd_qi_submit(vu, d, nd);
    }
    for (unsigned i = 0; i < nd; i++) {
        unsigned gran = FIELD_GET(VTD_IOTLBD_G, d[i].w[0]);
        int err = vtd_reg_iotlb(vu, gran, vd->did, d[i].w[1] & VTD_IOTLB1_ADDR,
                                FIELD_GET(VTD_IOTLB1_AM, d[i].w[1]), d[i].w[1] & VTD_IOTLB1_IH);
        if (err)
            return err;
    }
    return 0;
}

int vtd_inv_pasid_cache(struct vtd_unit *vu, uint16_t did, uint32_t pasid)
{
    if (!vu->qi)
        return -EOPNOTSUPP;
    struct vtd_inv_desc d;
    vtd_desc_pc(&d, 1, did, pasid);     /* PASID-selective within the domain */
    return vtd_qi_submit(vu, &d, 1);
}

int vtd_inv_iec(struct vtd_unit *vu, bool global, uint16_t index)
{
    if (!vu->qi)
        return -EOPNOTSUPP;
    struct vtd_inv_desc d;
    vtd_desc_iec(&d, global, index, 0);
    return vtd_qi_submit(vu, &d, 1);
}

/* A descriptor of a reserved type: hardware must report IQE and we must recover. */
int vtd_qi_inject_bad(struct vtd_unit *vu)
{
    if (!vu->qi)
        return -EOPNOTSUPP;
    struct vtd_inv_desc d = { { vtd_desc_type(0xf), 0, 0, 0 } };
    return vtd_qi_submit(vu, &d, 1);
}
