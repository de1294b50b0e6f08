/* What the unit can do, from its ID registers (IHI 0070 6.3.1-6.3.6). The registers decide
 * everything: stages, granules, output size, stream-table format and size, queue sizes, range
 * invalidation. A value moat cannot drive is refused with the register and field named. */
#include "iommu/arm-smmu-v3/smmu.h"
#include "lib/errno.h"
#include "lib/log.h"

static int smmu_refuse(struct smmu_unit *su, const char *what)
{
    kprintf("smmuv3: %s: %s: unit not used\n", su->name, what);
    return -ENODEV;
}

static int smmu_probe_idr0(struct smmu_unit *su)
{
    uint32_t r = su->idr[0];
    struct smmu_features *f = &su->f;
    if (!(FIELD_GET(IDR0_TTF, r) & IDR0_TTF_AARCH64))
        return smmu_refuse(su, "IDR0.TTF: no AArch64 translation tables");
    if (FIELD_GET(IDR0_TTENDIAN, r) == IDR0_TTENDIAN_BE)
        return smmu_refuse(su, "IDR0.TTENDIAN: big-endian table walks only");
    if (FIELD_GET(IDR0_STALL_MODEL, r) == IDR0_STALL_FORCE)
        return smmu_refuse(su, "IDR0.STALL_MODEL: stalls forced, faults cannot be terminated");
    f->s1 = r & IDR0_S1P;
    f->s2 = r & IDR0_S2P;
    if (!f->s1 && !f->s2)
        return smmu_refuse(su, "IDR0.S1P/S2P: neither stage implemented");
    f->coherent = r & IDR0_COHACC;
    if (!f->coherent)   /* every table and entry write would need a cache clean: not yet */
        return smmu_refuse(su, "IDR0.COHACC: table walks do not snoop the CPU caches");
    f->two_level = FIELD_GET(IDR0_ST_LEVEL, r) == 1;
    f->asid16 = r & IDR0_ASID16;
    f->vmid16 = r & IDR0_VMID16;
    return 0;
}

static int smmu_probe_idr1(struct smmu_unit *su)
{
    uint32_t r = su->idr[1];
    struct smmu_features *f = &su->f;
    if (r & (IDR1_TABLES_PRESET | IDR1_QUEUES_PRESET))
        return smmu_refuse(su, "IDR1.TABLES_PRESET/QUEUES_PRESET: fixed table or queue bases");
    if (r & IDR1_REL)
        return smmu_refuse(su, "IDR1.REL: base addresses relative to the unit");
    f->sid_bits = (unsigned)FIELD_GET(IDR1_SIDSIZE, r);
    if (f->sid_bits > 32)
        return smmu_refuse(su, "IDR1.SIDSIZE: more than 32 StreamID bits");
    f->cmdq_log2 = (unsigned)FIELD_GET(IDR1_CMDQS, r);
    f->evtq_log2 = (unsigned)FIELD_GET(IDR1_EVENTQS, r);
    if (f->cmdq_log2 == 0 || f->cmdq_log2 > 19)
        return smmu_refuse(su, "IDR1.CMDQS: command queue size out of range (1-19)");
    if (f->evtq_log2 > 19)
        return smmu_refuse(su, "IDR1.EVENTQS: event queue size out of range (0-19)");
    if (f->cmdq_log2 > SMMU_CMDQ_LOG2_MAX)
        f->cmdq_log2 = SMMU_CMDQ_LOG2_MAX;
    if (f->evtq_log2 > SMMU_EVTQ_LOG2_MAX)
        f->evtq_log2 = SMMU_EVTQ_LOG2_MAX;
    return 0;
}

/* The smallest granule the unit offers, and the leaf sizes it gives (pages and blocks). */
static int smmu_probe_idr5(struct smmu_unit *su)
{
    uint32_t r = su->idr[5];
    struct smmu_features *f = &su->f;
    unsigned enc = (unsigned)FIELD_GET(IDR5_OAS, r);
    if (enc > 6)
        return smmu_refuse(su, "IDR5.OAS: reserved output address size");
    f->oas = smmu_pa_bits(enc);
    if (f->oas > 48)
        f->oas = 48;    /* no LPA: 48-bit table formats */
    if (r & IDR5_GRAN4K) {
        f->granule_shift = 12;
        f->pgsize_bitmap = BIT(12) | BIT(21) | BIT(30);
    } else if (r & IDR5_GRAN16K) {
        f->granule_shift = 14;
        f->pgsize_bitmap = BIT(14) | BIT(25);
    } else if (r & IDR5_GRAN64K) {
        f->granule_shift = 16;
        f->pgsize_bitmap = BIT(16) | BIT(29);
    } else {
        return smmu_refuse(su, "IDR5.GRAN4K/16K/64K: no translation granule");
    }
    return 0;
}

int smmu_probe(struct smmu_unit *su)
{
    for (unsigned i = 0; i < 6; i++)
        su->idr[i] = smmu_read32(su, SMMU_IDR0 + 4 * i);
    su->iidr = smmu_read32(su, SMMU_IIDR);
    su->aidr = smmu_read32(su, SMMU_AIDR);
    int err = smmu_probe_idr0(su);
    if (!err)
        err = smmu_probe_idr1(su);
    if (!err)
        err = smmu_probe_idr5(su);
    if (err)
        return err;
    su->f.ril = su->idr[3] & IDR3_RIL;
    return 0;
}
