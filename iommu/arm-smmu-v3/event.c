/* The event queue (IHI 0070 3.5, 7.2-7.3) and global errors (7.5).
 *
 * The unit appends 32-byte records at PROD (in page 1) and raises its wired event interrupt;
 * software consumes from CONS. Each record is decoded into the core's fault record (StreamID =
 * requester ID on moat's PCI segments, the exact input address, read or write, the event ID as
 * reason) and handed to iommu_report_fault, which prints the boot log's line and delivers it to
 * the owner of the device's domain. Translation faults are recorded only because every CD sets R
 * and every stage-2 STE sets S2R.
 *
 * Overflow (7.4): when the queue is full the unit drops records and toggles EVENTQ_PROD.OVFLG;
 * software acknowledges by copying it into EVENTQ_CONS.OVACKFLG. The unit's PROD is untrusted:
 * only its index and wrap bits are used and one poll reads at most a queue's worth. */
#include "iommu/arm-smmu-v3/smmu.h"
#include "lib/errno.h"
#include "lib/log.h"

const char *smmu_event_name(unsigned id)
{
    switch (id) {
    case EVT_F_UUT: return "F_UUT: unsupported upstream transaction";
    case EVT_C_BAD_STREAMID: return "C_BAD_STREAMID: StreamID beyond the stream table";
    case EVT_F_STE_FETCH: return "F_STE_FETCH: STE fetch aborted";
    case EVT_C_BAD_STE: return "C_BAD_STE: invalid STE";
    case EVT_F_BAD_ATS_TREQ: return "F_BAD_ATS_TREQ: bad ATS translation request";
    case EVT_F_STREAM_DISABLED: return "F_STREAM_DISABLED: stream disabled";
    case EVT_F_TRANSL_FORBIDDEN: return "F_TRANSL_FORBIDDEN: translation forbidden";
    case EVT_C_BAD_SUBSTREAMID: return "C_BAD_SUBSTREAMID: bad SubstreamID";
    case EVT_F_CD_FETCH: return "F_CD_FETCH: CD fetch aborted";
    case EVT_C_BAD_CD: return "C_BAD_CD: invalid CD";
    case EVT_F_WALK_EABT: return "F_WALK_EABT: table walk aborted";
    case EVT_F_TRANSLATION: return "F_TRANSLATION: no translation";
    case EVT_F_ADDR_SIZE: return "F_ADDR_SIZE: address size fault";
    case EVT_F_ACCESS: return "F_ACCESS: access flag fault";
    case EVT_F_PERMISSION: return "F_PERMISSION: permission fault";
    case EVT_F_TLB_CONFLICT: return "F_TLB_CONFLICT: TLB conflict";
    case EVT_F_CFG_CONFLICT: return "F_CFG_CONFLICT: configuration cache conflict";
    case EVT_E_PAGE_REQUEST: return "E_PAGE_REQUEST: page request";
    case EVT_F_VMS_FETCH: return "F_VMS_FETCH: VMS fetch aborted";
    default: return "unknown event";
    }
}

/* Records whose word 2 is the transaction's input address (7.3). */
static bool event_has_addr(unsigned id)
{
    switch (id) {
    case EVT_F_UUT: case EVT_F_BAD_ATS_TREQ: case EVT_F_TRANSL_FORBIDDEN:
    case EVT_F_WALK_EABT: case EVT_F_TRANSLATION: case EVT_F_ADDR_SIZE: case EVT_F_ACCESS:
    case EVT_F_PERMISSION: case EVT_F_TLB_CONFLICT:
        return true;
    default:
        return false;
    }
}

unsigned smmu_event_decode(const struct smmu_event *e, uint16_t seg, struct iommu_fault *f)
{
    unsigned id = (unsigned)FIELD_GET(EVT0_ID, e->w[0]);
    uint32_t sid = (uint32_t)FIELD_GET(EVT0_SID, e->w[0]);
    *f = (struct iommu_fault){
        .seg = seg,
        .rid = (uint16_t)sid,
        .addr = event_has_addr(id) ? e->w[2] : 0,
        .write = event_has_addr(id) && !(e->w[1] & EVT1_RNW),
        .has_pasid = e->w[0] & EVT0_SSV,
        .pasid = (uint32_t)FIELD_GET(EVT0_SSID, e->w[0]),
        .reason = id,
        .text = smmu_event_name(id),
    };
    return id;
}

/* Whether e continues the transfer the last reported record came from: same stream, reason
 * and direction, a later address in the same 4 KiB page. A unit may record every access of a
 * blocked transfer (QEMU's records each word a device model writes: a 4 KiB DMA makes 1024);
 * one record per transfer and page is what the core's printer and the fault queues get, the
 * rest are counted. A new transfer to the same page starts at or below the last address and
 * is reported again. */
static bool smmu_event_continues(struct smmu_unit *su, uint32_t sid, const struct iommu_fault *f)
{
    struct smmu_last_record *l = &su->last_rec;
    bool same = l->valid && l->sid == sid && l->reason == f->reason && l->write == f->write &&
                (l->addr >> 12) == (f->addr >> 12) && f->addr > l->addr;
    *l = (struct smmu_last_record){ true, sid, f->reason, f->write, f->addr };
    return same;
}

static void smmu_event_report(struct smmu_unit *su, const struct smmu_event *e)
{
    struct iommu_fault f;
    unsigned id = smmu_event_decode(e, su->iu.seg, &f);
    uint32_t sid = (uint32_t)FIELD_GET(EVT0_SID, e->w[0]);
    su->nr_events++;
    if (smmu_event_to_viommu(su, sid, e))
        return;     /* the program's own stage 1: its vEVENTQ has it */
    if (event_has_addr(id) && smmu_event_continues(su, sid, &f)) {
        su->nr_coalesced++;
        return;
    }
    if (!event_has_addr(id) && (su->nr_events < 8 || su->nr_events % 1024 == 0))
        kprintf("smmuv3: %s: stream %#x: %s (event %#llx %#llx %#llx %#llx)\n", su->name, sid,
                f.text, (unsigned long long)e->w[0], (unsigned long long)e->w[1],
                (unsigned long long)e->w[2], (unsigned long long)e->w[3]);
    /* The requester behind the StreamID (iommu-map may offset it). A StreamID no attach has
     * seen is a requester ID only when StreamID = requester ID. */
    if (!smmu_rid_of(su, sid, &f.rid) && (su->sid_of || (sid >> 16)))
        return;     /* no PCI requester known: nobody to hand it to */
    iommu_report_fault(&su->iu, &f);
}

#define SMMU_EVTQ_CONS_EVERY 64            /* records between CONS updates while draining */

/* One pass over the records between CONS and the PROD read now. CONS goes back every 64
 * records (the unit can go on writing meanwhile) and at the end, with the overflow
 * acknowledged once the records that were there are read. */
static unsigned smmu_evtq_drain(struct smmu_unit *su)
{
    struct smmu_queue *q = &su->evtq;
    uint32_t mask = (2u << q->log2) - 1;
    uint32_t prod_reg = smmu_read32(su, SMMU_EVENTQ_PROD);
    uint32_t prod = prod_reg & mask;
    uint32_t ovack = smmu_read32(su, SMMU_EVENTQ_CONS) & EVENTQ_CONS_OVACKFLG;
    unsigned n = 0;
    while (!smmu_q_empty(q, prod, q->cons) && n < (1u << q->log2)) {
        const volatile struct smmu_event *slot =
            (const struct smmu_event *)q->base + smmu_q_idx(q, q->cons);
        struct smmu_event e = { { slot->w[0], slot->w[1], slot->w[2], slot->w[3] } };
        smmu_event_report(su, &e);
        q->cons = smmu_q_inc(q, q->cons);
        if (++n % SMMU_EVTQ_CONS_EVERY == 0)
            smmu_write32(su, SMMU_EVENTQ_CONS, q->cons | ovack);
    }
    if ((prod_reg & EVENTQ_PROD_OVFLG) != ovack) {
        su->nr_overflows++;
        kprintf("smmuv3: %s: event queue overflow: records were lost (%llu times)\n", su->name,
                (unsigned long long)su->nr_overflows);
        ovack = prod_reg & EVENTQ_PROD_OVFLG;
    }
    smmu_write32(su, SMMU_EVENTQ_CONS, q->cons | ovack);
    return n;
}

/* Called from the event interrupt and from polls: one that interrupts another returns at once
 * (the interrupted one reads what came, pass after pass until a pass finds nothing). */
unsigned smmu_evtq_poll(struct smmu_unit *su)
{
    if (su->evtq_busy)
        return 0;
    su->evtq_busy = true;
    unsigned n = 0, got;
    do {
        got = smmu_evtq_drain(su);
        n += got;
    } while (got && n < (4u << su->evtq.log2));
    su->evtq_busy = false;
    return n;
}

static const char *const gerror_names[] = {
    "CMDQ_ERR", "bit 1", "EVENTQ_ABT_ERR (an event record could not be written: records lost)",
    "PRIQ_ABT_ERR", "MSI_CMDQ_ABT_ERR", "MSI_EVENTQ_ABT_ERR", "MSI_PRIQ_ABT_ERR",
    "MSI_GERROR_ABT_ERR", "SFM_ERR (service failure mode: the unit stopped translating)",
};

/* Command queue errors are the command queue's to handle (cmdq.c, during its wait); every
 * other active error is reported and acknowledged by toggling its GERRORN bit. */
uint32_t smmu_gerror_poll(struct smmu_unit *su)
{
    uint32_t gn = smmu_read32(su, SMMU_GERRORN);
    uint32_t active = (smmu_read32(su, SMMU_GERROR) ^ gn) & (uint32_t)GERROR_ALL;
    uint32_t ack = active & ~(uint32_t)GERROR_CMDQ_ERR;
    if (!ack)
        return active;
    if (su->nr_gerrors++ < 8 || su->nr_gerrors % 1024 == 0)
        for (unsigned b = 0; b < ARRAY_SIZE(gerror_names); b++)
            if (ack & BIT(b))
                kprintf("smmuv3: %s: global error %s (%llu so far)\n", su->name,
                        gerror_names[b], (unsigned long long)su->nr_gerrors);
    smmu_write32(su, SMMU_GERRORN, gn ^ ack);
    return active;
}

unsigned smmu_poll(struct smmu_unit *su)
{
    smmu_gerror_poll(su);
    return smmu_evtq_poll(su);
}
