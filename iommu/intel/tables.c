/* Builders for VT-d entries and invalidation descriptors (portable, host-tested). They fill a
 * caller's copy; the caller publishes it (present word last, see ctx.c). */
#include "iommu/intel/vtd.h"
#include "lib/string.h"

/* Context/PASID AW field: 1 = 39-bit 3-level, 2 = 48-bit 4-level, 3 = 57-bit 5-level. */
uint64_t vtd_aw_of_levels(unsigned levels)
{
    return levels - 2;
}

void vtd_mk_context(struct vtd_context_entry *ce, unsigned tt, uint64_t slptptr,
                    unsigned levels, uint16_t did, bool fpd)
{
    ce->hi = FIELD_PREP(VTD_CE_HI_AW, vtd_aw_of_levels(levels)) | FIELD_PREP(VTD_CE_HI_DID, did);
    ce->lo = VTD_CE_P | (fpd ? VTD_CE_FPD : 0) | FIELD_PREP(VTD_CE_TT, tt) |
             (slptptr & VTD_CE_SLPTPTR);
}

/* PDTS = 0: a 128-entry directory, PASIDs 0..8191. */
void vtd_mk_sm_context(struct vtd_sm_context_entry *ce, uint64_t pasid_dir_pa, uint32_t rid_pasid)
{
    memset(ce, 0, sizeof(*ce));
    ce->w[1] = FIELD_PREP(VTD_SMCE_W1_RID_PASID, rid_pasid);
    ce->w[0] = VTD_SMCE_P | FIELD_PREP(VTD_SMCE_PDTS, 0) | (pasid_dir_pa & VTD_SMCE_PASIDDIRPTR);
}

static void pasid_common(struct vtd_pasid_entry *pe, unsigned pgtt, uint16_t did)
{
    memset(pe, 0, sizeof(*pe));
    pe->w[1] = FIELD_PREP(VTD_PE1_DID, did);
    pe->w[0] = VTD_PE0_P | FIELD_PREP(VTD_PE0_PGTT, pgtt);
}

void vtd_mk_pasid_ss(struct vtd_pasid_entry *pe, uint64_t ssptptr, unsigned levels, uint16_t did)
{
    pasid_common(pe, VTD_PGTT_SL, did);
    pe->w[0] |= FIELD_PREP(VTD_PE0_AW, vtd_aw_of_levels(levels)) | (ssptptr & VTD_PE0_SSPTPTR);
}

/* FLPM: 0 = 4-level, 1 = 5-level. Requests without PASID are user requests: the tables set
 * U/S on every entry, so SRE is not needed. AW is meant for the second stage only, but QEMU
 * derives the first-stage input width (its canonical check) from it: filled in to match. */
void vtd_mk_pasid_fs(struct vtd_pasid_entry *pe, uint64_t flptptr, unsigned levels, uint16_t did)
{
    pasid_common(pe, VTD_PGTT_FL, did);
    pe->w[0] |= FIELD_PREP(VTD_PE0_AW, vtd_aw_of_levels(levels));
    pe->w[2] = FIELD_PREP(VTD_PE2_FLPM, levels == 5 ? 1 : 0) | (flptptr & VTD_PE2_FLPTPTR);
}

void vtd_mk_pasid_pt(struct vtd_pasid_entry *pe, uint16_t did)
{
    pasid_common(pe, VTD_PGTT_PT, did);
}

/* Nested: first stage (guest tables, addresses are IPAs) over second stage. */
void vtd_mk_pasid_nested(struct vtd_pasid_entry *pe, uint64_t flptptr, unsigned fl_levels,
                         uint64_t ssptptr, unsigned ss_levels, uint16_t did)
{
    pasid_common(pe, VTD_PGTT_NESTED, did);
    pe->w[0] |= FIELD_PREP(VTD_PE0_AW, vtd_aw_of_levels(ss_levels)) | (ssptptr & VTD_PE0_SSPTPTR);
    pe->w[2] = FIELD_PREP(VTD_PE2_FLPM, fl_levels == 5 ? 1 : 0) | (flptptr & VTD_PE2_FLPTPTR);
}

void vtd_desc_cc(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint16_t sid)
{
    memset(d, 0, sizeof(*d));
    d->w[0] = vtd_desc_type(VTD_DESC_CC) | FIELD_PREP(VTD_CC_G, gran) |
              FIELD_PREP(VTD_CC_DID, did) | FIELD_PREP(VTD_CC_SID, sid);
}

/* Drain reads and writes (DR/DW) so completion of the wait covers requests in flight. */
void vtd_desc_iotlb(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint64_t addr,
                    unsigned am, bool ih)
{
    memset(d, 0, sizeof(*d));
    d->w[0] = vtd_desc_type(VTD_DESC_IOTLB) | FIELD_PREP(VTD_IOTLBD_G, gran) |
              VTD_IOTLBD_DR | VTD_IOTLBD_DW | FIELD_PREP(VTD_IOTLBD_DID, did);
    if (gran == VTD_GRAN_DEVICE)
        d->w[1] = (addr & VTD_IOTLB1_ADDR) | FIELD_PREP(VTD_IOTLB1_AM, am) |
                  (ih ? VTD_IOTLB1_IH : 0);
}

void vtd_desc_piotlb(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint32_t pasid,
                     uint64_t addr, unsigned am, bool ih)
{
    memset(d, 0, sizeof(*d));
    d->w[0] = vtd_desc_type(VTD_DESC_PIOTLB) | FIELD_PREP(VTD_PIOTLB_G, gran) |
              FIELD_PREP(VTD_PIOTLB_DID, did) | FIELD_PREP(VTD_PIOTLB_PASID, pasid);
    if (gran == VTD_PIOTLB_G_PAGE)
        d->w[1] = (addr & VTD_PIOTLB1_ADDR) | FIELD_PREP(VTD_PIOTLB1_AM, am) |
                  (ih ? VTD_PIOTLB1_IH : 0);
}

void vtd_desc_pc(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint32_t pasid)
{
    memset(d, 0, sizeof(*d));
    d->w[0] = vtd_desc_type(VTD_DESC_PC) | FIELD_PREP(VTD_PC_G, gran) |
              FIELD_PREP(VTD_PC_DID, did) | FIELD_PREP(VTD_PC_PASID, pasid);
}

/* Device-TLB: a range of 2^am pages is encoded by S = 1 and the low address bits set
 * (6.5.2.5): bit (11 + am) clear, the bits below it set. */
void vtd_desc_devtlb(struct vtd_inv_desc *d, uint16_t sid, uint16_t pfsid, uint64_t addr,
                     unsigned am)
{
    memset(d, 0, sizeof(*d));
    d->w[0] = vtd_desc_type(VTD_DESC_DEVTLB) | FIELD_PREP(VTD_DEVTLB_SID, sid) |
              FIELD_PREP(VTD_DEVTLB_PFSID_LO, pfsid & 0xf) |
              FIELD_PREP(VTD_DEVTLB_PFSID_HI, pfsid >> 4);
    d->w[1] = addr & VTD_DEVTLB1_ADDR;
    if (am) {
        d->w[1] |= VTD_DEVTLB1_S;
        d->w[1] |= (BIT(11 + am) - 1) & ~0xfffULL & ~BIT(11 + am);
        d->w[1] &= ~BIT(11 + am);
    }
}

void vtd_desc_iec(struct vtd_inv_desc *d, bool global, uint16_t index, unsigned im)
{
    memset(d, 0, sizeof(*d));
    d->w[0] = vtd_desc_type(VTD_DESC_IEC) | (global ? 0 : VTD_IEC_G) |
              FIELD_PREP(VTD_IEC_IM, im) | FIELD_PREP(VTD_IEC_IIDX, index);
}

/* Status write with fence: completes only after every earlier descriptor did. */
void vtd_desc_wait(struct vtd_inv_desc *d, uint32_t data, uint64_t status_pa)
{
    memset(d, 0, sizeof(*d));
    d->w[0] = vtd_desc_type(VTD_DESC_WAIT) | VTD_WAIT_SW | VTD_WAIT_FN |
              FIELD_PREP(VTD_WAIT_SDATA, data);
    d->w[1] = status_pa & VTD_WAIT1_SADDR;
}

/* Fixed delivery, physical destination, edge; SVT = verify the full source-id. */
void vtd_mk_irte(struct vtd_irte *e, uint8_t vector, uint32_t dest, bool x2apic, uint16_t sid)
{
    e->hi = FIELD_PREP(VTD_IRTE_HI_SID, sid) | FIELD_PREP(VTD_IRTE_HI_SQ, 0) |
            FIELD_PREP(VTD_IRTE_HI_SVT, VTD_SVT_VERIFY_SID);
    uint64_t dst = x2apic ? dest : (uint64_t)(dest & 0xff) << 8;
    e->lo = VTD_IRTE_P | FIELD_PREP(VTD_IRTE_V, vector) | FIELD_PREP(VTD_IRTE_DST, dst);
}

uint32_t vtd_msi_addr_remappable(uint16_t handle)
{
    return (uint32_t)(VTD_MSI_ADDR_BASE | FIELD_PREP(VTD_MSI_ADDR_HANDLE_LO, handle & 0x7fff) |
                      VTD_MSI_ADDR_IF | ((handle & 0x8000) ? VTD_MSI_ADDR_HANDLE_HI : 0));
}

unsigned vtd_psi_split(uint64_t start, uint64_t last, unsigned max_am, uint64_t *addr,
                       unsigned *am, unsigned max)
{
    uint64_t pfn = start >> 12, end = (last >> 12) + 1;    /* [pfn, end) */
    unsigned n = 0;
    while (pfn < end) {
        unsigned a = 0;
        while (a < max_am && (pfn & ((2ULL << a) - 1)) == 0 && pfn + (2ULL << a) <= end)
            a++;
        if (n < max) {
            addr[n] = pfn << 12;
            am[n] = a;
        }
        n++;
        pfn += 1ULL << a;
    }
    return n;
}

static const char *const vtd_reason_names[] = {
    [0x1] = "root entry not present",
    [0x2] = "context entry not present",
    [0x3] = "invalid context entry",
    [0x4] = "address beyond the guest address width",
    [0x5] = "write access not permitted",
    [0x6] = "read access not permitted",
    [0x7] = "paging entry unreachable",
    [0x8] = "root table unreachable",
    [0x9] = "context table unreachable",
    [0xa] = "reserved field set in root entry",
    [0xb] = "reserved field set in context entry",
    [0xc] = "reserved field set in paging entry",
    [0xd] = "translation type blocked by context entry",
    [0xe] = "output address in the interrupt address range",
    [0x20] = "reserved field set in interrupt request",
    [0x21] = "interrupt index beyond the table",
    [0x22] = "interrupt entry not present",
    [0x23] = "interrupt table unreachable",
    [0x24] = "reserved field set in interrupt entry",
    [0x25] = "compatibility-format interrupt blocked",
    [0x26] = "interrupt source-id check failed",
    [0x31] = "invalid translation table mode",
    [0x47] = "page request with PRE clear",
    [0x50] = "PASID directory entry unreachable",
    [0x51] = "PASID directory entry not present",
    [0x58] = "PASID table entry unreachable",
    [0x59] = "PASID table entry not present",
    [0x5b] = "invalid PASID table entry",
    [0x70] = "first-stage paging entry unreachable",
    [0x71] = "first-stage paging entry not present",
    [0x72] = "reserved field set in first-stage paging entry",
    [0x73] = "invalid first-stage table pointer",
    [0x80] = "non-canonical first-stage input address",
    [0x81] = "first-stage privilege violation",
    [0x85] = "write access not permitted (scalable)",
    [0x87] = "output address in the interrupt address range (scalable)",
    [0x91] = "first-stage A/D update failed",
};

/* A primary fault record (11.4.14), as hardware wrote it: every field is taken as found and
 * an unknown reason keeps its number with the name "unknown fault reason". */
void vtd_fault_decode(uint16_t seg, uint64_t lo, uint64_t hi, struct iommu_fault *f)
{
    f->seg = seg;
    f->rid = (uint16_t)FIELD_GET(VTD_FRCD_HI_SID, hi);
    f->reason = (uint32_t)FIELD_GET(VTD_FRCD_HI_FR, hi);
    f->write = !(hi & VTD_FRCD_HI_T1);
    f->has_pasid = hi & VTD_FRCD_HI_PP;
    f->pasid = f->has_pasid ? (uint32_t)FIELD_GET(VTD_FRCD_HI_PV, hi) : 0;
    /* Interrupt-remapping faults carry the interrupt index in FI[63:48], not an address. */
    if (f->reason >= 0x20 && f->reason < 0x30)
        f->addr = lo >> 48;
    else
        f->addr = lo & VTD_FRCD_LO_FI;
    f->text = vtd_fault_reason_name(f->reason);
}

const char *vtd_fault_reason_name(unsigned reason)
{
    if (reason < ARRAY_SIZE(vtd_reason_names) && vtd_reason_names[reason])
        return vtd_reason_names[reason];
    return "unknown fault reason";
}
