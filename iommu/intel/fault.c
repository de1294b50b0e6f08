/* Primary fault logging (VT-d spec 7.2): the fault-event interrupt is an MSI programmed in
 * FEDATA/FEADDR/FEUADDR and unmasked in FECTL. Each record is read from the fault recording
 * registers starting at FSTS.FRI, decoded, cleared (F is write-1-to-clear) and handed to
 * iommu_report_fault, which prints the boot log's line (rate-limited per device) and delivers
 * the record to the domain's owner. Hardware raises no new event while PPF or PFO are set
 * (7.2.1), so each pass clears every record and the overflow bit. */
#include "arch/arch.h"
#include "iommu/intel/vtd.h"
#include "lib/errno.h"
#include "lib/log.h"

/* One record: 0 when it held no fault. */
static bool vtd_fault_record(struct vtd_unit *vu, unsigned idx)
{
    unsigned off = vu->frcd_off + idx * VTD_FRCD_SIZE;
    uint64_t hi = vtd_read64(vu, off + 8);
    if (!(hi & VTD_FRCD_HI_F))
        return false;
    uint64_t lo = vtd_read64(vu, off);
    /* Clear F (bit 127) by writing 1 to it alone: the rest of the upper dword is read-only. */
    vtd_write32(vu, off + 12, (uint32_t)(VTD_FRCD_HI_F >> 32));
    struct iommu_fault f;
    vtd_fault_decode(vu->iu.seg, lo, hi, &f);
    vu->last_fault = f;
    vu->nr_faults++;
    iommu_report_fault(&vu->iu, &f);
    return true;
}

unsigned vtd_fault_poll(struct vtd_unit *vu)
{
    /* Callers outside the handler (tests, bring-up) must not race it for the same record. */
    uint64_t flags = irq_save();
    uint32_t fsts = vtd_read32(vu, VTD_FSTS_REG);
    unsigned n = 0;
    if (fsts & VTD_FSTS_PPF) {
        unsigned idx = FIELD_GET(VTD_FSTS_FRI, fsts) % vu->nr_frcd;
        for (unsigned i = 0; i < vu->nr_frcd; i++) {
            if (!vtd_fault_record(vu, idx))
                break;
            n++;
            idx = (idx + 1) % vu->nr_frcd;
        }
    }
    if (fsts & VTD_FSTS_PFO) {
        if (vu->nr_overflows++ % 1024 == 0)
            kprintf("vtd: %s: primary fault overflow: fault records were lost (%llu times)\n",
                    vu->name, (unsigned long long)vu->nr_overflows);
        vtd_write32(vu, VTD_FSTS_REG, VTD_FSTS_PFO);
    }
    irq_restore(flags);
    return n;
}

static void vtd_fault_irq(unsigned vector, void *ctx)
{
    vtd_fault_poll(ctx);
}

/* The fault event goes to this CPU in compatibility format: fault events are never subject to
 * interrupt remapping (5.1.6), so the message is programmed directly. */
int vtd_fault_init(struct vtd_unit *vu)
{
    vtd_write32(vu, VTD_FECTL_REG, (uint32_t)VTD_FECTL_IM);
    int vec = irq_alloc_vector(vtd_fault_irq, vu);
    if (vec < 0)
        return vec;
    vu->fault_vector = vec;
    uint32_t id = apic_id();
    vtd_write32(vu, VTD_FEDATA_REG, (uint32_t)vec);
    vtd_write32(vu, VTD_FEADDR_REG, (uint32_t)(VTD_MSI_ADDR_BASE | ((id & 0xff) << 12)));
    /* x2APIC IDs above 255 need EIM: the upper 24 bits go to FEUADDR. */
    vtd_write32(vu, VTD_FEUADDR_REG, (vu->ecap & VTD_ECAP_EIM) ? id & ~0xffu : 0);
    unsigned stale = vtd_fault_poll(vu);
    if (stale)
        kprintf("vtd: %s: %u fault records left from before\n", vu->name, stale);
    vtd_write32(vu, VTD_FECTL_REG, 0);
    return 0;
}
