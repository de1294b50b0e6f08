/* SMMUv3 bring-up (IHI 0070 6.3.9, 3.x "initialization") and the iommu_unit_ops.
 *
 * Order, once the ID registers have been read and accepted (probe.c): build the stream table
 * with every stream on ABORT (default deny), the command and event queues; then, with incoming
 * traffic aborted (GBPA.ABORT) and the unit off, program the table and queue bases, turn the
 * command queue on and invalidate every configuration and TLB entry the unit might hold from
 * firmware, turn the event queue and the interrupts on, and only then set SMMUEN. From the
 * first transaction on, a device without a domain reaches nothing. Every register handshake
 * (CR0ACK, IRQ_CTRLACK, GBPA.Update) is a bounded wait. */
#include "iommu/arm-smmu-v3/smmu.h"
#include "moat/iommufd_smmuv3.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

static int smmu_ack_failed(struct smmu_unit *su, const char *reg, uint32_t want)
{
    kprintf("smmuv3: %s: %s did not acknowledge %#x\n", su->name, reg, want);
    return -ETIMEDOUT;
}

static int smmu_write_cr0(struct smmu_unit *su, uint32_t val)
{
    smmu_write32(su, SMMU_CR0, val);
    if (poll_until(smmu_read32(su, SMMU_CR0ACK) == val, su->wait_ns))
        return smmu_ack_failed(su, "CR0ACK", val);
    return 0;
}

/* Traffic arriving while SMMUEN is 0 is aborted, not passed through (6.3.14). */
static int smmu_gbpa_abort(struct smmu_unit *su)
{
    if (poll_until(!(smmu_read32(su, SMMU_GBPA) & GBPA_UPDATE), su->wait_ns))
        return smmu_ack_failed(su, "GBPA.Update", 0);
    smmu_write32(su, SMMU_GBPA, GBPA_ABORT | GBPA_UPDATE);
    if (poll_until(!(smmu_read32(su, SMMU_GBPA) & GBPA_UPDATE), su->wait_ns))
        return smmu_ack_failed(su, "GBPA.Update", GBPA_ABORT);
    return 0;
}

static int smmu_irq_setup(struct smmu_unit *su)
{
    uint32_t irqs = IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVENTQ_IRQEN;
    smmu_write32(su, SMMU_IRQ_CTRL, irqs);
    if (poll_until(smmu_read32(su, SMMU_IRQ_CTRLACK) == irqs, su->wait_ns))
        return smmu_ack_failed(su, "IRQ_CTRLACK", irqs);
    return 0;
}

/* Firmware may have left configuration and TLB entries cached: drop them all. */
static int smmu_inv_all(struct smmu_unit *su)
{
    struct smmu_cmd c[2];
    smmu_cmd_cfgi_all(&c[0]);
    smmu_cmd_tlbi_nsnh_all(&c[1]);
    return smmu_cmdq_submit(su, c, 2);
}

static int smmu_reset(struct smmu_unit *su)
{
    int err = smmu_gbpa_abort(su);
    if (!err)
        err = smmu_write_cr0(su, 0);
    if (err)
        return err;
    smmu_write32(su, SMMU_CR1, (uint32_t)(FIELD_PREP(CR1_TABLE_SH, CR1_SH_IS) |
                                          FIELD_PREP(CR1_TABLE_OC, CR1_CACHE_WB) |
                                          FIELD_PREP(CR1_TABLE_IC, CR1_CACHE_WB) |
                                          FIELD_PREP(CR1_QUEUE_SH, CR1_SH_IS) |
                                          FIELD_PREP(CR1_QUEUE_OC, CR1_CACHE_WB) |
                                          FIELD_PREP(CR1_QUEUE_IC, CR1_CACHE_WB)));
    smmu_write32(su, SMMU_CR2, (uint32_t)(CR2_RECINVSID | CR2_PTM));
    smmu_strtab_program(su);
    smmu_queue_program(su, &su->cmdq);
    uint32_t cr0 = CR0_CMDQEN;
    if ((err = smmu_write_cr0(su, cr0)))
        return err;
    su->enabled = true;
    if ((err = smmu_inv_all(su)))
        return err;
    smmu_queue_program(su, &su->evtq);
    cr0 |= CR0_EVENTQEN;
    if ((err = smmu_write_cr0(su, cr0)) || (err = smmu_irq_setup(su)))
        return err;
    return smmu_write_cr0(su, cr0 | CR0_SMMUEN);
}

static bool smmu_serves_default(struct iommu_unit *u, const struct pci_dev *dev)
{
    return dev->seg == u->seg;
}

int smmu_unit_init(struct smmu_unit *su)
{
    if (!su->wait_ns)
        su->wait_ns = SMMU_WAIT_TIMEOUT_NS;
    int err = smmu_probe(su);
    if (err)
        return err;
    su->iu.ops = &smmu_ops;
    su->iu.name = su->name;
    su->iu.pgsize_bitmap = su->f.pgsize_bitmap;
    su->iu.ias = su->f.s1 ? SMMU_IAS : su->f.oas;
    su->iu.silent_aborts = true;    /* an ABORT STE records nothing (5.2, Config 0b000) */
    if (!su->iu.serves)
        su->iu.serves = smmu_serves_default;
    if ((err = smmu_strtab_init(su)) ||
        (err = smmu_queue_init(&su->cmdq, su->f.cmdq_log2, sizeof(struct smmu_cmd),
                               SMMU_CMDQ_BASE, SMMU_CMDQ_PROD, SMMU_CMDQ_CONS)) ||
        (err = smmu_queue_init(&su->evtq, su->f.evtq_log2, sizeof(struct smmu_event),
                               SMMU_EVENTQ_BASE, SMMU_EVENTQ_PROD, SMMU_EVENTQ_CONS)))
        return err;
    struct iommu_domain *blocked;
    err = smmu_domain_alloc(&su->iu, IOMMU_DOMAIN_BLOCKED, &(struct iommu_domain_cfg){ 0 },
                            &blocked);
    if (err)
        return err;
    su->iu.blocked = blocked;
    return smmu_reset(su);
}

int smmu_hw_info(struct iommu_unit *u, void *buf, size_t len, uint32_t *type)
{
    struct smmu_unit *su = to_smmu_unit(u);
    struct moat_iommu_hw_info_arm_smmuv3 info = { .iidr = su->iidr, .aidr = su->aidr };
    for (unsigned i = 0; i < 6; i++)
        info.idr[i] = su->idr[i];
    if (len < sizeof(info))
        return -EINVAL;
    memcpy(buf, &info, sizeof(info));
    *type = MOAT_IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
    return sizeof(info);
}

/* Every function's MSIs go through the software MSI window (as on Linux, whatever the
 * interrupt controller: the doorbell is mapped there in each translated domain). */
int smmu_resv_regions(struct iommu_unit *u, struct pci_dev *dev, struct iommu_resv_region *out,
                      unsigned max)
{
    if (max == 0)
        return -ENOSPC;
    out[0] = (struct iommu_resv_region){ SMMU_MSI_IOVA, SMMU_MSI_LAST, 0, IOMMU_RESV_MSI };
    return 1;
}

const struct iommu_unit_ops smmu_ops = {
    .vendor = "smmuv3",
    .domain_alloc = smmu_domain_alloc,
    .domain_free = smmu_domain_free,
    .attach_dev = smmu_attach_dev,
    .map = smmu_map,
    .unmap = smmu_unmap,
    .unmap_gather = smmu_unmap_gather,
    .gather_sync = smmu_gather_sync,
    .hw_info = smmu_hw_info,
    .resv_regions = smmu_resv_regions,
    .msi_address = smmu_msi_address,
    .viommu_alloc = smmu_viommu_alloc,
};
