/* IVMD memory as the reserved regions of the devices it names (ivrs.h): each block becomes a
 * DIRECT region, which the core maps 1:1 in every kernel-owned domain of the device before it
 * attaches (iommu/core/direct.c). Portable: host-tested. */
#include "iommu/amd/amdvi_hw.h"
#include "iommu/amd/ivrs.h"
#include "iommu/iommu.h"
#include "iommu/pgtable/pgtable.h"
#include "lib/errno.h"
#include "lib/log.h"

uint32_t amdvi_ivmd_prot(const struct amdvi_ivmd *m)
{
    /* An exclusion range is untranslated for its devices (2.3.3): 1:1 with every access is
     * the same reach, kept inside the domain's own table. */
    if (m->flags & IVMD_FLAG_EXCL)
        return PGTABLE_PROT_READ | PGTABLE_PROT_WRITE;
    return ((m->flags & IVMD_FLAG_IR) ? PGTABLE_PROT_READ : 0) |
           ((m->flags & IVMD_FLAG_IW) ? PGTABLE_PROT_WRITE : 0);
}

static bool region_listed(const struct iommu_resv_region *out, unsigned n,
                          const struct amdvi_ivmd *m)
{
    for (unsigned i = 0; i < n; i++)
        if (out[i].start == m->start && out[i].last == m->last_addr &&
            out[i].type == IOMMU_RESV_DIRECT)
            return true;
    return false;
}

/* Linux reports every IVMD block as IOMMU_RESV_DIRECT (its exclusion ranges were made
 * read-write unity maps in init_unity_map_range), so each makes its devices require_direct. */
int amdvi_ivmd_regions(const struct amdvi_ivrs *iv, uint16_t seg, uint16_t devid,
                       struct iommu_resv_region *out, unsigned *n, unsigned max)
{
    for (unsigned i = 0; i < iv->nr_ivmd; i++) {
        const struct amdvi_ivmd *m = &iv->ivmd[i];
        if (!amdvi_ivmd_covers(m, seg, devid) || region_listed(out, *n, m))
            continue;
        if (*n == max)
            return -ENOSPC;
        out[(*n)++] = (struct iommu_resv_region){ m->start, m->last_addr, amdvi_ivmd_prot(m),
                                                  IOMMU_RESV_DIRECT };
    }
    return 0;
}
