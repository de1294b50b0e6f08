/* VT-d nested caller data (nested.h). The checks and their errors follow Linux's VT-d driver
 * (intel_nested_domain_alloc, intel_nested_cache_invalidate_user) so that a program sees the
 * same errno for the same mistake. */
#include <linux/types.h>
#include <linux/iommufd.h>

#include "iommu/intel/nested.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define VTD_PAGE 4096ULL
#define S1_FLAGS (IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE | IOMMU_VTD_S1_WPE)
/* The fields up to and including __reserved must be present (Linux's min_last). */
#define S1_MIN (offsetof(struct iommu_hwpt_vtd_s1, __reserved) + 4)
#define INV_MIN (offsetof(struct iommu_hwpt_vtd_s1_invalidate, __reserved) + 4)

int vtd_nested_parse(struct iommu_unit *u, const struct iommu_user_data *data,
                     struct iommu_nested_cfg *out)
{
    struct iommu_hwpt_vtd_s1 s1;
    (void)u;
    if (data->type != IOMMU_HWPT_DATA_VTD_S1)
        return ERR(-EOPNOTSUPP);
    int err = iommu_user_load(&s1, sizeof(s1), S1_MIN, data->buf, data->len);
    if (err)
        return err;
    if ((s1.flags & ~(uint64_t)S1_FLAGS) || s1.__reserved)
        return ERR(-EOPNOTSUPP);
    if (!IS_ALIGNED(s1.pgtbl_addr, VTD_PAGE) || (s1.addr_width != 48 && s1.addr_width != 57))
        return ERR(-EINVAL);
    memset(out, 0, sizeof(*out));
    struct vtd_s1_cfg *c = (struct vtd_s1_cfg *)out->words;
    c->fl_ptr = s1.pgtbl_addr;
    c->addr_width = (uint8_t)s1.addr_width;
    c->sre = s1.flags & IOMMU_VTD_S1_SRE;
    c->eafe = s1.flags & IOMMU_VTD_S1_EAFE;
    c->wpe = s1.flags & IOMMU_VTD_S1_WPE;
    return 0;
}

static int inv_load(const struct iommu_user_array *a, uint32_t i, struct vtd_s1_inv *out)
{
    struct iommu_hwpt_vtd_s1_invalidate e;
    int err = iommu_user_array_load(&e, sizeof(e), INV_MIN, a, i);
    if (err)
        return err;
    if ((e.flags & ~IOMMU_VTD_INV_FLAGS_LEAF) || e.__reserved)
        return ERR(-EOPNOTSUPP);
    if (!IS_ALIGNED(e.addr, VTD_PAGE) || (e.npages == UINT64_MAX && e.addr))
        return ERR(-EINVAL);
    *out = (struct vtd_s1_inv){ e.addr, e.npages, e.flags & IOMMU_VTD_INV_FLAGS_LEAF };
    return 0;
}

int vtd_nested_invalidate_user(struct iommu_domain *d, struct iommu_user_array *a,
                               vtd_s1_flush_fn flush)
{
    const struct iommu_user_array in = *a;
    struct vtd_s1_inv inv;
    uint32_t good = 0;
    int err = 0;
    a->entry_num = 0;
    if (in.type != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1)
        return ERR(-EINVAL);
    while (good < in.entry_num && !(err = inv_load(&in, good, &inv)))
        good++;
    /* Entries [0, good) are good: carry them out in order; a flush error stops the count. */
    for (uint32_t i = 0; i < good; i++) {
        inv_load(&in, i, &inv);
        int e = flush(d, &inv);
        if (e)
            return e;
        a->entry_num++;
    }
    return err;
}
