/* Arm SMMUv3 nesting: the program's STE words, commands and events (nested.h). The masks and
 * errnos are Linux's (arm_smmu_validate_vste, arm_vsmmu_convert_user_cmd,
 * arm_vsmmu_cache_invalidate, arm_smmu_handle_event). */
#include "iommu/arm-smmu-v3/nested.h"
#include "iommu/arm-smmu-v3/smmu_hw.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#ifndef CMD_ATC_INV
#define CMD_ATC_INV 0x40                   /* 4.5.1 */
#endif

#define STE_EATS_ABT 0
#define STE_EATS_TRANS 1
#define VCMD_BATCH 32                       /* commands issued per wait */

const uint64_t smmu_vste_allowed[2] = {
    STE0_V | STE0_CONFIG | STE0_S1FMT | STE0_S1CTXPTR | STE0_S1CDMAX,
    STE1_S1DSS | STE1_S1CIR | STE1_S1COR | STE1_S1CSH | STE1_S1STALLD | STE1_EATS,
};

int smmu_vste_parse(const struct iommu_user_data *data, struct iommu_nested_cfg *out)
{
    struct iommu_hwpt_arm_smmuv3 arg;
    if (data->type != IOMMU_HWPT_DATA_ARM_SMMUV3)
        return ERR(-EINVAL);
    int err = iommu_user_load(&arg, sizeof(arg), sizeof(arg), data->buf, data->len);
    if (err)
        return err;
    memset(out, 0, sizeof(*out));
    if (!(arg.ste[0] & STE0_V))
        return 0;                           /* an invalid STE: the nested domain aborts */
    if ((arg.ste[0] & ~smmu_vste_allowed[0]) || (arg.ste[1] & ~smmu_vste_allowed[1]))
        return ERR(-EIO);
    unsigned cfg = (unsigned)FIELD_GET(STE0_CONFIG, arg.ste[0]);
    if (cfg != STE_CFG_ABORT && cfg != STE_CFG_BYPASS && cfg != STE_CFG_S1)
        return ERR(-EIO);
    unsigned eats = (unsigned)FIELD_GET(STE1_EATS, arg.ste[1]);
    if (eats != STE_EATS_ABT && eats != STE_EATS_TRANS)
        return ERR(-EIO);
    out->words[0] = arg.ste[0];
    out->words[1] = arg.ste[1] & ~STE1_EATS;
    return 0;
}

int smmu_vcmd_convert(const struct iommu_viommu *v, uint16_t vmid, const struct smmu_vcmd_sink *s,
                      uint64_t cmd[2])
{
    switch (FIELD_GET(CMD0_OP, cmd[0])) {
    case CMD_TLBI_NSNH_ALL:                 /* everything of the program: its VMID's stage 1 */
        cmd[0] = CMD_TLBI_NH_ALL | FIELD_PREP(CMD0_VMID, vmid);
        cmd[1] = 0;
        return 0;
    case CMD_TLBI_NH_VA:
    case CMD_TLBI_NH_VAA:
    case CMD_TLBI_NH_ALL:
    case CMD_TLBI_NH_ASID:
        cmd[0] = (cmd[0] & ~CMD0_VMID) | FIELD_PREP(CMD0_VMID, vmid);
        return 0;
    case CMD_ATC_INV:
    case CMD_CFGI_CD:
    case CMD_CFGI_CD_ALL: {
        const struct pci_dev *dev = iommu_viommu_dev(v, FIELD_GET(CMD0_SID, cmd[0]));
        if (!dev)
            return ERR(-EIO);
        cmd[0] = (cmd[0] & ~CMD0_SID) | FIELD_PREP(CMD0_SID, s->sid_of(s->ctx, dev));
        return 0;
    }
    default:
        return ERR(-EIO);
    }
}

int smmu_viommu_invalidate(const struct iommu_viommu *v, uint16_t vmid,
                           const struct smmu_vcmd_sink *s, struct iommu_user_array *a)
{
    uint64_t batch[VCMD_BATCH][2];
    const struct iommu_user_array in = *a;
    uint32_t total = in.entry_num, done = 0, n = 0;
    int err = 0;
    a->entry_num = 0;
    if (in.type != IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 || !total)
        return ERR(-EINVAL);
    for (uint32_t i = 0; i < total; i++) {  /* Linux copies the whole array before anything */
        err = iommu_user_array_load(batch[0], sizeof(batch[0]), 0, &in, i);
        if (err)
            return err;
    }
    for (uint32_t i = 0; i < total && !err; i++) {
        iommu_user_array_load(batch[n], sizeof(batch[n]), 0, &in, i);
        err = smmu_vcmd_convert(v, vmid, s, batch[n]);
        if (!err)
            n++;
        if (n && (n == VCMD_BATCH || err || i + 1 == total)) {
            int ierr = s->issue(s->ctx, (const uint64_t (*)[2])batch, n);
            if (ierr) {
                err = ierr;
                break;
            }
            done += n;
            n = 0;
        }
    }
    a->entry_num = done;
    return err;
}

bool smmu_vevent_forwardable(const uint64_t evt[4])
{
    if (evt[1] & EVT1_S2)
        return false;
    switch (FIELD_GET(EVT0_ID, evt[0])) {
    case EVT_C_BAD_STE:
    case EVT_F_STREAM_DISABLED:
    case EVT_C_BAD_SUBSTREAMID:
    case EVT_C_BAD_CD:
    case EVT_F_TRANSLATION:
    case EVT_F_ADDR_SIZE:
    case EVT_F_ACCESS:
    case EVT_F_PERMISSION:
        return true;
    default:
        return false;
    }
}

int smmu_vevent_forward(struct iommu_viommu *v, const struct pci_dev *dev, const uint64_t evt[4])
{
    struct iommu_vevent_arm_smmuv3 ve;
    uint64_t vsid;
    if (!smmu_vevent_forwardable(evt))
        return -EOPNOTSUPP;
    if (iommu_viommu_virt_id(v, dev, &vsid))
        return -ENOENT;
    ve.evt[0] = (evt[0] & ~EVT0_SID) | FIELD_PREP(EVT0_SID, vsid);
    for (unsigned i = 1; i < 4; i++)
        ve.evt[i] = evt[i];
    return iommu_viommu_report(v, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, &ve, sizeof(ve));
}
