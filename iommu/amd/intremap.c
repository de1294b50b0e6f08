/* Interrupt remapping (AMD IOMMU spec 2.2.5): every MSI a device writes into the interrupt
 * window is looked up in that device's own table, named by its DTE (IV, IntTabLen, table root,
 * IntCtl = remapped); the message's data bits 10:0 are the index. A device can therefore only
 * raise the interrupts moat gave it.
 *
 * Enabled when the IVHD describes the IOAPIC (as Linux requires: without it, legacy interrupts
 * could not be routed). Then every device the unit serves starts with a table of zero entries
 * (a zeroed page): any interrupt it raises is aborted until msi_compose gives it a real table.
 * The IOAPIC and HPET requester IDs and the IOMMU's own keep IV = 0 (not remapped). Entries use
 * the 32-bit format (GA off): physical destination, xAPIC IDs up to 255. Indices come from a
 * bitmap per table and go back to it when the message is freed (entry cleared, table
 * invalidated first), so re-arming never runs out. */
#include "arch/arch.h"
#include "iommu/amd/amdvi.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

#define AMDVI_IRT_ALLOC_ORDER 1         /* 8 KiB: all 2048 indices the data field can name */

static bool amdvi_special_devid(const struct amdvi_ivhd *h, uint16_t devid)
{
    for (unsigned i = 0; i < h->nr_special; i++)
        if (h->special[i].devid == devid)
            return true;
    return false;
}

static bool amdvi_has_ioapic(const struct amdvi_ivhd *h)
{
    for (unsigned i = 0; i < h->nr_special; i++)
        if (h->special[i].variety == IVHD_SPECIAL_IOAPIC)
            return true;
    return false;
}

int amdvi_ir_init(struct amdvi_unit *au)
{
    const struct amdvi_ivhd *h = au->ivhd;
    au->ir = false;
    if (!amdvi_has_ioapic(h)) {
        kprintf("amdvi: %s: no IOAPIC in the IVRS: interrupt remapping off\n", au->name);
        return 0;
    }
    if (!pmm_alloc_zeroed(AMDVI_IRT_ALLOC_ORDER, &au->irt_blocked_pa))
        return -ENOMEM;
    uint64_t w2 = amdvi_dte_intr_remap(au->irt_blocked_pa, 0);
    unsigned n = 0;
    for (uint32_t devid = 0; devid < au->nr_dtes; devid++) {
        if (!amdvi_serves_devid(au, (uint16_t)devid) || amdvi_special_devid(h, (uint16_t)devid))
            continue;
        au->devtab[devid].w[2] = w2;
        n++;
    }
    mb();
    au->ir = true;
    int err = amdvi_inv_all(au);        /* DTEs and interrupt tables, one wait */
    kprintf("amdvi: %s: interrupt remapping on: %u devices start with an empty table\n",
            au->name, n);
    return err;
}

static struct amdvi_irt *amdvi_irt_find(struct amdvi_unit *au, uint16_t devid)
{
    for (unsigned i = 0; i < au->nr_irt; i++)
        if (au->irt[i].devid == devid)
            return &au->irt[i];
    return NULL;
}

static struct amdvi_irt *amdvi_irt_get(struct amdvi_unit *au, uint16_t devid, bool *fresh)
{
    *fresh = false;
    struct amdvi_irt *t = amdvi_irt_find(au, devid);
    if (t)
        return t;
    if (au->nr_irt == AMDVI_MAX_IRT)
        return NULL;
    t = &au->irt[au->nr_irt];
    t->e = pmm_alloc_zeroed(AMDVI_IRT_ALLOC_ORDER, &t->pa);
    if (!t->e)
        return NULL;
    t->devid = devid;
    t->used = 0;
    memset(t->map, 0, sizeof(t->map));
    au->nr_irt++;
    *fresh = true;
    return t;
}

static bool amdvi_irt_busy(const struct amdvi_irt *t, unsigned index)
{
    return t && (t->map[index / 64] & (1ULL << (index % 64)));
}

/* The first index free in table a and, when given, in table b (a device and its alias share
 * their indices: the message is the same). */
static int amdvi_irt_free_index(const struct amdvi_irt *a, const struct amdvi_irt *b)
{
    for (unsigned index = 0; index < AMDVI_IRT_ENTRIES; index++)
        if (!amdvi_irt_busy(a, index) && !amdvi_irt_busy(b, index))
            return (int)index;
    return -ENOSPC;
}

/* Entry index of t, then the DTE that names a new table or an invalidation of the table. */
static int amdvi_irt_install(struct amdvi_unit *au, struct amdvi_irt *t, bool fresh,
                             unsigned index, uint32_t irte)
{
    t->map[index / 64] |= 1ULL << (index % 64);
    t->used++;
    t->e[index] = irte;
    wmb();
    if (fresh)
        return amdvi_dte_set_intr(au, t->devid, amdvi_dte_intr_remap(t->pa, AMDVI_IRT_LOG2));
    struct amdvi_cmd c;
    amdvi_cmd_inv_intr_table(&c, t->devid);
    return amdvi_submit(au, &c, 1);
}

int amdvi_ir_alloc(struct amdvi_unit *au, uint16_t devid, uint8_t vector, uint8_t dest)
{
    if (!au->ir)
        return -EOPNOTSUPP;
    bool fresh;
    struct amdvi_irt *t = amdvi_irt_get(au, devid, &fresh);
    if (!t)
        return -ENOMEM;
    int index = amdvi_irt_free_index(t, NULL);
    if (index < 0)
        return index;
    int err = amdvi_irt_install(au, t, fresh, (unsigned)index, amdvi_mk_irte(vector, dest));
    return err ? err : index;
}

/* The entry is cleared and the table invalidated (and waited for) before the index can be
 * handed out again; when that times out the entry stays taken. */
int amdvi_ir_free(struct amdvi_unit *au, uint16_t devid, unsigned index)
{
    struct amdvi_irt *t = amdvi_irt_find(au, devid);
    if (!au->ir || index >= AMDVI_IRT_ENTRIES || !amdvi_irt_busy(t, index))
        return -EINVAL;
    t->e[index] = 0;
    wmb();
    struct amdvi_cmd c;
    amdvi_cmd_inv_intr_table(&c, devid);
    int err = amdvi_submit(au, &c, 1);
    if (!err) {
        t->map[index / 64] &= ~(1ULL << (index % 64));
        t->used--;
    }
    return err;
}

int amdvi_ir_msi_compose(struct iommu_unit *u, struct pci_dev *dev, unsigned vector,
                         uint32_t dest, uint64_t *addr, uint32_t *data)
{
    struct amdvi_unit *au = to_amdvi_unit(u);
    if (!au->ir)
        return -EOPNOTSUPP;
    if (dest > 0xff || vector > 0xff)
        return -ERANGE;         /* x2APIC destinations need the 128-bit (GA/XT) format */
    uint16_t devid = (uint16_t)(dev->bus << 8 | dev->devfn);
    /* An IVHD alias carries the device's MSIs too: it gets the same entry at the same index. */
    uint16_t alias = amdvi_ivhd_alias_of(au->ivhd, devid);
    bool fresh, afresh = false;
    struct amdvi_irt *t = amdvi_irt_get(au, devid, &fresh), *at = NULL;
    if (t && alias != devid)
        at = amdvi_irt_get(au, alias, &afresh);
    if (!t || (alias != devid && !at))
        return -ENOMEM;
    int index = amdvi_irt_free_index(t, at);
    if (index < 0)
        return index;
    uint32_t irte = amdvi_mk_irte((uint8_t)vector, (uint8_t)dest);
    int err = amdvi_irt_install(au, t, fresh, (unsigned)index, irte);
    if (!err && at)
        err = amdvi_irt_install(au, at, afresh, (unsigned)index, irte);
    if (err)
        return err;
    *addr = AMDVI_INTR_ADDR_FIRST;
    *data = (uint32_t)FIELD_PREP(AMDVI_MSI_DATA_INDEX, index);
    return 0;
}

void amdvi_ir_msi_free(struct iommu_unit *u, struct pci_dev *dev, uint64_t addr, uint32_t data)
{
    struct amdvi_unit *au = to_amdvi_unit(u);
    if (!au->ir || addr != AMDVI_INTR_ADDR_FIRST)
        return;
    uint16_t devid = (uint16_t)(dev->bus << 8 | dev->devfn);
    uint16_t alias = amdvi_ivhd_alias_of(au->ivhd, devid);
    unsigned index = (unsigned)FIELD_GET(AMDVI_MSI_DATA_INDEX, data);
    int err = amdvi_ir_free(au, devid, index);
    if (!err && alias != devid)
        err = amdvi_ir_free(au, alias, index);
    if (err)
        kprintf("amdvi: %s: IRTE %u of %02x:%02x.%x not freed: %s\n", au->name, index,
                dev->bus, dev->devfn >> 3, dev->devfn & 7, errno_name(err));
}
