/* Nesting (issue 17): the vIOMMU of a program that owns stage 1 while moat owns stage 2.
 *   vIOMMU   over a stage-2 (NEST_PARENT) domain; its VMID is the parent's, so every stage-1
 *            TLB entry the program's tables make is tagged with moat's VMID
 *   nested   the program's STE words 0-1 (checked by nested.c: only its stage-1 fields) over
 *            the parent's stage 2: Config 0b111, S1ContextPtr an IPA, so the unit fetches the
 *            program's CD and walks its tables through moat's stage 2 (which bounds them)
 *   commands the program's TLBI_NH_* / CFGI_CD* / ATC_INV, converted by nested.c (VMID forced,
 *            virtual StreamIDs made physical) and issued with one CMD_SYNC per batch
 *   events   stage-1 records of a stream on a nested domain, with its virtual StreamID, go to
 *            the vIOMMU's owner (the program's vEVENTQ); stage-2 records take the driver's
 *            fault path as for any domain
 * The program's MSI IOVA must map (in its stage 1) to the IPA of moat's MSI window
 * (SMMU_MSI_IOVA), which every stage 2 maps to the doorbell, as a Linux guest does. */
#include "iommu/arm-smmu-v3/nested.h"
#include "iommu/arm-smmu-v3/smmu.h"
#include "kernel/mm/heap.h"
#include "lib/errno.h"
#include "lib/log.h"

struct smmu_viommu {
    struct iommu_viommu v;
    struct smmu_unit *su;
    struct smmu_domain *s2;
};

static struct smmu_viommu *to_sv(struct iommu_viommu *v)
{
    return container_of(v, struct smmu_viommu, v);
}

static uint32_t sv_sid_of(void *ctx, const struct pci_dev *dev)
{
    struct smmu_unit *su = ctx;
    uint16_t rid = (uint16_t)(dev->bus << 8 | dev->devfn);
    uint32_t sid = rid;
    if (su->sid_of && !su->sid_of(su, rid, &sid))
        return UINT32_MAX;      /* beyond every stream table: the unit refuses the command */
    return sid;
}

static int sv_issue(void *ctx, const uint64_t (*cmds)[2], uint32_t n)
{
    _Static_assert(sizeof(struct smmu_cmd) == sizeof(cmds[0]), "a command is two words");
    return smmu_cmdq_submit(ctx, (const struct smmu_cmd *)cmds, n);
}

static int sv_invalidate(struct iommu_viommu *v, struct iommu_user_array *a)
{
    struct smmu_viommu *sv = to_sv(v);
    const struct smmu_vcmd_sink sink = { sv_sid_of, sv_issue, sv->su };
    return smmu_viommu_invalidate(v, sv->s2->vmid, &sink, a);
}

static int sv_nested_parse(struct iommu_viommu *v, const struct iommu_user_data *data,
                           struct iommu_nested_cfg *out)
{
    return smmu_vste_parse(data, out);
}

static void sv_free(struct iommu_viommu *v)
{
    kfree(to_sv(v));
}

static const struct iommu_viommu_ops smmu_viommu_ops = {
    .free = sv_free,
    .nested_parse = sv_nested_parse,
    .cache_invalidate = sv_invalidate,
};

/* arm_vsmmu_alloc's rules: the type, a unit with both stages, a stage-2 parent of this unit. */
int smmu_viommu_alloc(struct iommu_unit *u, struct iommu_domain *parent, uint32_t type,
                      struct iommu_viommu **out)
{
    struct smmu_unit *su = to_smmu_unit(u);
    if (type != IOMMU_VIOMMU_TYPE_ARM_SMMUV3 || !su->f.s1 || !su->f.s2)
        return -EOPNOTSUPP;
    if (parent->unit != u || parent->type != IOMMU_DOMAIN_PAGING ||
        to_smmu_domain(parent)->stage != SMMU_STAGE_2)
        return -EINVAL;
    struct smmu_viommu *sv = smmu_zalloc(sizeof(*sv));
    if (!sv)
        return -ENOMEM;
    sv->v.ops = &smmu_viommu_ops;
    sv->su = su;
    sv->s2 = to_smmu_domain(parent);
    *out = &sv->v;
    return 0;
}

int smmu_nested_domain_init(struct smmu_domain *sd, const struct iommu_domain_cfg *cfg)
{
    struct smmu_viommu *sv = to_sv(cfg->viommu);
    if (!cfg->nested || cfg->parent != &sv->s2->d)
        return -EINVAL;
    const uint64_t *w = smmu_vste_words(cfg->nested);
    sd->viommu = cfg->viommu;
    sd->s2 = sv->s2;
    sd->vste[0] = w[0];
    sd->vste[1] = w[1];
    sd->stage = SMMU_STAGE_NONE;    /* no table of its own: nothing to map, flush or free */
    return 0;
}

int smmu_nested_attach_check(const struct smmu_domain *sd, const struct pci_dev *dev)
{
    uint64_t vsid;
    unsigned cfg = (unsigned)FIELD_GET(STE0_CONFIG, sd->vste[0]);
    if (!(sd->vste[0] & STE0_V) || cfg != STE_CFG_S1)
        return 0;
    return iommu_viommu_virt_id(sd->viommu, dev, &vsid) ? -ENOENT : 0;
}

void smmu_mk_ste_vnested(struct smmu_ste *e, const struct smmu_domain *sd)
{
    unsigned cfg = (unsigned)FIELD_GET(STE0_CONFIG, sd->vste[0]);
    if (!(sd->vste[0] & STE0_V) || cfg == STE_CFG_ABORT) {
        smmu_mk_ste_abort(e);
        return;
    }
    smmu_mk_ste_s2(e, &sd->s2->d.pt, sd->s2->vmid);
    if (cfg == STE_CFG_BYPASS)
        return;                     /* the program bypasses its stage 1: moat's stage 2 only */
    e->w[0] = (sd->vste[0] & ~STE0_CONFIG) | FIELD_PREP(STE0_CONFIG, STE_CFG_NESTED);
    e->w[1] |= sd->vste[1];
}

bool smmu_event_to_viommu(struct smmu_unit *su, uint32_t sid, const struct smmu_event *e)
{
    struct smmu_domain *sd = smmu_domain_of_sid(su, sid);
    uint16_t rid;
    if (!sd || sd->d.type != IOMMU_DOMAIN_NESTED || !smmu_rid_of(su, sid, &rid))
        return false;
    for (const struct iommu_vdev *vd = sd->viommu->vdevs; vd; vd = vd->next) {
        if ((uint16_t)(vd->dev->bus << 8 | vd->dev->devfn) == rid) {
            uint64_t evt[4] = { e->w[0], e->w[1], e->w[2], e->w[3] };
            return smmu_vevent_forward(sd->viommu, vd->dev, evt) == 0;
        }
    }
    return false;
}
