/* Arm SMMUv3 nesting: what a program may hand the unit through a vIOMMU, checked and turned
 * into the unit's own form exactly as Linux's arm-smmu-v3-iommufd.c does it (6.14/6.15):
 *   - the program's STE words 0-1 for a nested domain (only the stage-1 fields it may set);
 *   - its invalidation commands (stage-1 TLB and CD invalidations; virtual StreamIDs
 *     translated through the vIOMMU's vDEVICEs, the VMID forced to the vIOMMU's);
 *   - the unit's event records for it (the StreamID replaced by the virtual one).
 * Portable and hardware-free: the driver and the host tests' mock unit share it. */
#ifndef MOAT_IOMMU_ARM_SMMU_V3_NESTED_H
#define MOAT_IOMMU_ARM_SMMU_V3_NESTED_H

#include "iommu/iommu.h"
#include "moat/iommufd_uapi.h"

/* The fields of STE words 0 and 1 a program may set (Linux's STRTAB_STE_*_NESTING_ALLOWED):
 * V, Config, S1Fmt, S1ContextPtr, S1CDMax; S1DSS, S1CIR, S1COR, S1CSH, S1STALLD, EATS. */
extern const uint64_t smmu_vste_allowed[2];

/* The checked words, as nested_parse leaves them in iommu_nested_cfg.words[0..1]: an STE with V
 * clear becomes all zero (abort), EATS is cleared (the driver sets its own). */
static inline const uint64_t *smmu_vste_words(const struct iommu_nested_cfg *c)
{
    return c->words;
}

/* IOMMU_HWPT_DATA_ARM_SMMUV3 into out. -EINVAL another data type or fewer than 16 bytes, -E2BIG
 * non-zero bytes past them, -EIO a field the program may not set, a Config other than abort,
 * bypass or stage-1, or an EATS other than 0 or 1. */
int smmu_vste_parse(const struct iommu_user_data *data, struct iommu_nested_cfg *out);

/* Where the converted commands go: sid_of gives a device's physical StreamID, issue queues n
 * commands (2 words each) and waits for them; -errno when the unit failed them. */
struct smmu_vcmd_sink {
    uint32_t (*sid_of)(void *ctx, const struct pci_dev *dev);
    int (*issue)(void *ctx, const uint64_t (*cmds)[2], uint32_t n);
    void *ctx;
};

/* One command of the program for vIOMMU v with VMID vmid, in place: -EIO for an opcode Linux
 * does not pass on or a virtual StreamID without a vDEVICE. */
int smmu_vcmd_convert(const struct iommu_viommu *v, uint16_t vmid, const struct smmu_vcmd_sink *s,
                      uint64_t cmd[2]);

/* IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 for v: every entry loaded first (-EINVAL another type
 * or no entries, -E2BIG, nothing done), then converted and issued in order up to the first bad
 * one; a->entry_num says how many were carried out. */
int smmu_viommu_invalidate(const struct iommu_viommu *v, uint16_t vmid,
                           const struct smmu_vcmd_sink *s, struct iommu_user_array *a);

/* Whether Linux hands an event record to the vIOMMU's owner: a stage-1 fault or configuration
 * error of the kinds its uapi lists (C_BAD_STE, F_STREAM_DISABLED, C_BAD_SUBSTREAMID,
 * C_BAD_CD, F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION), not marked stage 2. */
bool smmu_vevent_forwardable(const uint64_t evt[4]);

/* Forwards the record of dev (on a nested domain of v) to v's owner as an
 * IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 event with dev's virtual StreamID: -EOPNOTSUPP not
 * forwardable (the driver's own fault path takes it), -ENOENT dev has no vDEVICE on v, or the
 * owner's answer. */
int smmu_vevent_forward(struct iommu_viommu *v, const struct pci_dev *dev, const uint64_t evt[4]);

#endif
