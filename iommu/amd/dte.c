/* The device table (AMD IOMMU spec 2.2.2): one 256-bit entry per device ID, for all 64K of
 * them (2 MiB).
 *
 * Default deny: every entry is written valid and blocked (V, TV, no permission, an empty
 * one-level table) before the unit is enabled, so a device without a domain can reach nothing.
 *
 * Publication order (one place, amdvi_dte_publish): the upper 128 bits (interrupt remapping)
 * first, then the lower 128 bits, which hold V/TV, the table root, the permissions and the
 * domain ID, in one atomic 16-byte store. The walker therefore sees either the old or the new
 * translation, never the old table tagged with the new domain ID. Then INVALIDATE_DEVTAB_ENTRY
 * and the old domain's pages, with one completion wait. */
#include "arch/arch.h"
#include "arch/cpu_ops.h"
#include "iommu/amd/amdvi.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"

static void amdvi_dte_publish(struct amdvi_unit *au, uint16_t devid, const struct amdvi_dte *n)
{
    volatile uint64_t *w = au->devtab[devid].w;
    arch_store128(w + 2, n->w[2], n->w[3]);
    arch_store128(w, n->w[0], n->w[1]);
    au->nr_dte_writes++;
}

static unsigned order_for_bytes(uint64_t bytes)
{
    unsigned order = 0;
    while ((4096ULL << order) < bytes)
        order++;
    return order;
}

/* Every device ID of the segment, not only those the IVHD names: a function the table does not
 * list (a VF, a late one) still finds a blocked entry. 2 MiB for 64K IDs. */
int amdvi_devtab_init(struct amdvi_unit *au)
{
    uint64_t ids = (uint64_t)AMDVI_MAX_DEVID + 1;
    au->devtab_order = order_for_bytes(ids * AMDVI_DTE_BYTES);
    au->nr_dtes = (uint32_t)((4096ULL << au->devtab_order) / AMDVI_DTE_BYTES);
    au->devtab = pmm_alloc_zeroed(au->devtab_order, &au->devtab_pa);
    void *empty = pmm_alloc_zeroed(0, &au->empty_pa);
    if (!au->devtab || !empty)
        return -ENOMEM;
    au->iu.root_pa = au->devtab_pa;
    struct amdvi_dte blocked;
    amdvi_mk_dte_blocked(&blocked, au->empty_pa);
    for (uint32_t i = 0; i < au->nr_dtes; i++)
        au->devtab[i] = blocked;
    mb();
    uint64_t pages = (4096ULL << au->devtab_order) / 4096;
    amdvi_write64(au, AMDVI_DEV_TAB_BASE,
                  au->devtab_pa | FIELD_PREP(AMDVI_DEV_TAB_SIZE, pages - 1));
    return 0;
}

/* The entry devid gets for domain d, keeping its interrupt word. */
static void amdvi_dte_for(struct amdvi_unit *au, uint16_t devid, const struct amdvi_domain *d,
                          struct amdvi_dte *n)
{
    if (!d)
        amdvi_mk_dte_blocked(n, au->empty_pa);
    else if (d->d.type == IOMMU_DOMAIN_IDENTITY)
        amdvi_mk_dte_identity(n, d->domid);
    else
        amdvi_mk_dte_paging(n, d->d.pt.root_pa, d->d.pt.levels, d->domid);
    n->w[2] = au->devtab[devid].w[2];
    n->w[3] = au->devtab[devid].w[3];
}

int amdvi_dte_attach(struct amdvi_unit *au, uint16_t devid, struct amdvi_domain *old,
                     struct amdvi_domain *d)
{
    if (devid >= au->nr_dtes)
        return d ? -ENODEV : 0;     /* beyond the table: hardware blocks it anyway */
    struct amdvi_dte n;
    amdvi_dte_for(au, devid, d, &n);
    amdvi_dte_publish(au, devid, &n);
    struct amdvi_cmd c[2];
    unsigned nc = 0;
    amdvi_cmd_inv_devtab_entry(&c[nc++], devid);
    /* The old domain's translations may be cached for this device (and QEMU keys its IOTLB by
     * device, not domain): drop them before the device can look anything up again. */
    if (old && old->domid != AMDVI_DOMID_NONE)
        amdvi_cmd_inv_pages_all(&c[nc++], old->domid);
    return amdvi_submit(au, c, nc);
}

int amdvi_dte_set_intr(struct amdvi_unit *au, uint16_t devid, uint64_t w2)
{
    if (devid >= au->nr_dtes)
        return -ENODEV;
    struct amdvi_dte n = au->devtab[devid];
    n.w[2] = w2;
    n.w[3] = 0;
    amdvi_dte_publish(au, devid, &n);
    struct amdvi_cmd c[2];
    amdvi_cmd_inv_devtab_entry(&c[0], devid);
    amdvi_cmd_inv_intr_table(&c[1], devid);
    return amdvi_submit(au, c, 2);
}
