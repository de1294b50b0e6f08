/* IVMD memory in a domain (ivrs.h): every IVMD block naming a device is mapped 1:1 in each
 * paging domain the device is attached to, before its DTE points there, so that the device
 * never meets a domain without it. Portable: the host tests check the mappings on a real
 * AMD-Vi v1 table. */
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

static uint64_t ivmd_size(const struct amdvi_ivmd *m)
{
    return m->last_addr - m->start + 1;
}

/* Already there, 1:1 with exactly these permissions (another device of the same domain, or
 * an attach to the domain the device is on)? Checked at both ends: a map is all or nothing. */
static bool ivmd_in_place(const struct pgtable *pt, const struct amdvi_ivmd *m)
{
    const uint64_t at[2] = { m->start, m->last_addr & ~0xfffULL };
    const uint32_t mask = PGTABLE_PROT_READ | PGTABLE_PROT_WRITE;
    for (unsigned i = 0; i < 2; i++) {
        struct pgtable_xlate x;
        if (pgtable_translate(pt, at[i], &x) || x.pa != at[i] ||
            (x.prot & mask) != amdvi_ivmd_prot(m))
            return false;
    }
    return true;
}

int amdvi_ivmd_map_domain(const struct amdvi_ivrs *iv, struct pgtable *pt, uint16_t seg,
                          uint16_t devid)
{
    const struct amdvi_ivmd *done[AMDVI_IVRS_MAX_IVMD];
    unsigned n = 0;
    int err = 0;
    for (unsigned i = 0; i < iv->nr_ivmd && !err; i++) {
        const struct amdvi_ivmd *m = &iv->ivmd[i];
        if (!amdvi_ivmd_covers(m, seg, devid))
            continue;
        if (m->last_addr > pt->ia_last) {
            kprintf("amdvi: IVMD %#llx-%#llx for device %04x:%04x lies beyond the domain's "
                    "%#llx: not attached\n", (unsigned long long)m->start,
                    (unsigned long long)m->last_addr, seg, devid,
                    (unsigned long long)pt->ia_last);
            err = -ERANGE;
            break;
        }
        err = pgtable_map(pt, m->start, m->start, ivmd_size(m), amdvi_ivmd_prot(m));
        if (err == -EEXIST && ivmd_in_place(pt, m))
            err = 0;
        else if (!err)
            done[n++] = m;
    }
    if (err)
        while (n--)
            pgtable_unmap(pt, done[n]->start, ivmd_size(done[n]), 0);
    return err;
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
