/* Interrupt remapping (VT-d spec 5.1, 9.9). Each unit with ECAP.IR (and the DMAR's INTR_REMAP
 * flag) gets a 256-entry IRTE table; MSIs are composed in remappable format (address bit 4,
 * handle = IRTE index) and every IRTE checks the full source-id of the requester (SVT = 1).
 * Compatibility-format interrupts stay blocked (GCMD.CFI clear): a DMA write into the
 * interrupt window that is not a valid remappable interrupt becomes a fault, not an interrupt.
 * x2APIC destinations use EIM when the unit has it. Every IRTE change is followed by an
 * index-selective interrupt-entry-cache invalidation. Entries come from a bitmap and go back to
 * it when the message is freed (cleared and invalidated first), so re-arming never runs out. */
#include "arch/arch.h"
#include "iommu/intel/vtd.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_platform.h"

#define VTD_IRT_ENTRIES 256
#define VTD_IRT_S 7                     /* 2^(S+1) = 256 entries */
_Static_assert(VTD_IRT_ENTRIES <= sizeof(((struct vtd_unit *)0)->irt_map) * 8, "IRT map");

static struct vtd_unit *ir_first;

struct vtd_unit *vtd_ir_unit(void)
{
    return ir_first;
}

static int vtd_ir_enable(struct vtd_unit *vu)
{
    bool eim = vu->ecap & VTD_ECAP_EIM;
    vtd_write64(vu, VTD_IRTA_REG, vu->irt_pa | (eim ? VTD_IRTA_EIME : 0) |
                                  FIELD_PREP(VTD_IRTA_S, VTD_IRT_S));
    int err = vtd_gcmd(vu, VTD_GCMD_SIRTP, true);
    if (!err)
        err = vtd_inv_iec(vu, true, 0);
    if (!err && (vu->gcmd & VTD_GCMD_CFI))
        err = vtd_gcmd(vu, VTD_GCMD_CFI, false);
    if (!err)
        err = vtd_gcmd(vu, VTD_GCMD_IRE, true);
    return err;
}

int vtd_ir_init(struct vtd_unit *vu)
{
    if (!(vu->ecap & VTD_ECAP_IR) || !vu->qi)
        return 0;       /* IR needs queued invalidation for the interrupt entry cache */
    if (apic_id() > 0xff && !(vu->ecap & VTD_ECAP_EIM)) {
        kprintf("vtd: %s: x2APIC ID %u needs EIM: interrupt remapping left off\n", vu->name,
                apic_id());
        return -ENODEV;
    }
    vu->irt = pmm_alloc_zeroed(0, &vu->irt_pa);
    if (!vu->irt)
        return -ENOMEM;
    vtd_clean(vu, vu->irt, 4096);
    vu->irt_entries = VTD_IRT_ENTRIES;
    memset(vu->irt_map, 0, sizeof(vu->irt_map));
    vu->irt_map[0] = 1;                 /* entry 0 stays not present: a zero handle faults */
    vu->irt_used = 1;
    int err = vtd_ir_enable(vu);
    if (err) {
        kprintf("vtd: %s: interrupt remapping failed: %s\n", vu->name, errno_name(err));
        return err;
    }
    vu->ir = true;
    if (!ir_first)
        ir_first = vu;
    kprintf("vtd: %s: interrupt remapping on, %u entries, %s destinations, "
            "compatibility format blocked\n", vu->name, vu->irt_entries,
            (vu->ecap & VTD_ECAP_EIM) ? "x2APIC" : "xAPIC");
    return 0;
}

/* Writes entry idx: the word holding Present last. */
static int vtd_irte_write(struct vtd_unit *vu, unsigned idx, const struct vtd_irte *n)
{
    struct vtd_irte *e = &vu->irt[idx];
    WRITE_ONCE(e->lo, 0);
    WRITE_ONCE(e->hi, n->hi);
    wmb();
    WRITE_ONCE(e->lo, n->lo);
    vtd_clean(vu, e, sizeof(*e));
    return vtd_inv_iec(vu, false, (uint16_t)idx);
}

static int vtd_irt_take(struct vtd_unit *vu)
{
    for (unsigned w = 0; w * 64 < vu->irt_entries; w++) {
        if (vu->irt_map[w] == ~0ULL)
            continue;
        unsigned idx = w * 64 + (unsigned)__builtin_ctzll(~vu->irt_map[w]);
        if (idx >= vu->irt_entries)
            break;
        vu->irt_map[w] |= 1ULL << (idx % 64);
        vu->irt_used++;
        return (int)idx;
    }
    return -ENOSPC;
}

static void vtd_irt_give(struct vtd_unit *vu, unsigned idx)
{
    vu->irt_map[idx / 64] &= ~(1ULL << (idx % 64));
    vu->irt_used--;
}

static int vtd_ir_alloc_entry(struct vtd_unit *vu, uint16_t sid, uint8_t vector, bool level)
{
    if (!vu->ir)
        return -EOPNOTSUPP;
    int idx = vtd_irt_take(vu);
    if (idx < 0)
        return idx;
    struct vtd_irte n;
    vtd_mk_irte(&n, vector, apic_id(), vu->ecap & VTD_ECAP_EIM, sid);
    if (level)
        n.lo |= VTD_IRTE_TM;    /* the local APIC then broadcasts the EOI to the IOAPIC */
    int err = vtd_irte_write(vu, (unsigned)idx, &n);
    if (err) {
        vtd_ir_free(vu, (unsigned)idx);
        return err;
    }
    return idx;
}

/* The entry is cleared and the interrupt entry cache invalidated (and waited for) before the
 * index can be handed out again. When the invalidation times out the entry stays taken: the
 * unit may still hold the old one. */
int vtd_ir_free(struct vtd_unit *vu, unsigned idx)
{
    if (!vu->ir || idx == 0 || idx >= vu->irt_entries ||
        !(vu->irt_map[idx / 64] & (1ULL << (idx % 64))))
        return -EINVAL;
    struct vtd_irte *e = &vu->irt[idx];
    WRITE_ONCE(e->lo, 0);
    WRITE_ONCE(e->hi, 0);
    vtd_clean(vu, e, sizeof(*e));
    int err = vtd_inv_iec(vu, false, (uint16_t)idx);
    if (!err)
        vtd_irt_give(vu, idx);
    return err;
}

int vtd_ir_alloc(struct vtd_unit *vu, uint16_t sid, uint8_t vector)
{
    return vtd_ir_alloc_entry(vu, sid, vector, false);
}

static int vtd_last_alias(struct pci_dev *dev, uint16_t rid, void *arg)
{
    *(uint16_t *)arg = rid;
    return 0;
}

/* The requester ID the unit sees on dev's interrupt writes: the last DMA alias (a PCIe-to-PCI
 * bridge takes ownership of what it forwards), so that source-id validation matches it. */
static uint16_t vtd_msi_sid(struct pci_dev *dev)
{
    uint16_t rid = (uint16_t)(dev->bus << 8 | dev->devfn);
    struct pci_system *sys = platform_pci();
    if (sys)
        pci_for_each_dma_alias(sys, dev, vtd_last_alias, &rid);
    return rid;
}

int vtd_ir_msi_compose(struct iommu_unit *u, struct pci_dev *dev, unsigned vector, uint32_t dest,
                       uint64_t *addr, uint32_t *data)
{
    struct vtd_unit *vu = to_vtd_unit(u);
    if (!vu->ir)
        return -EOPNOTSUPP;
    if (dest != apic_id())
        return -EINVAL;
    int idx = vtd_ir_alloc(vu, vtd_msi_sid(dev), (uint8_t)vector);
    if (idx < 0)
        return idx;
    *addr = vtd_msi_addr_remappable((uint16_t)idx);
    *data = 0;
    return 0;
}

/* Only remappable messages name an entry: the handle is in the address (5.1.2.2), and moat
 * composes without subhandles. */
void vtd_ir_msi_free(struct iommu_unit *u, struct pci_dev *dev, uint64_t addr, uint32_t data)
{
    struct vtd_unit *vu = to_vtd_unit(u);
    if (!vu->ir || !(addr & VTD_MSI_ADDR_IF) || (addr & VTD_MSI_ADDR_SHV))
        return;
    unsigned idx = (unsigned)FIELD_GET(VTD_MSI_ADDR_HANDLE_LO, addr) |
                   ((addr & VTD_MSI_ADDR_HANDLE_HI) ? 1u << 15 : 0);
    int err = vtd_ir_free(vu, idx);
    if (err)
        kprintf("vtd: %s: IRTE %u of %02x:%02x.%x not freed: %s\n", vu->name, idx, dev->bus,
                dev->devfn >> 3, dev->devfn & 7, errno_name(err));
}

/* The IOAPIC's source-id: its device scope in this unit's DRHD (8.3.1.1), start bus and one
 * hop (an IOAPIC below bridges is not supported). */
static int vtd_ioapic_sid(struct vtd_unit *vu, unsigned ioapic_id, uint16_t *sid)
{
    const struct vtd_dmar_scopes *sc = &vu->drhd->scopes;
    for (unsigned i = 0; i < sc->n; i++) {
        const struct vtd_dmar_scope *s = &sc->s[i];
        if (s->type != SCOPE_IOAPIC || s->enum_id != ioapic_id)
            continue;
        if (s->npath != 1)
            return -ENODEV;
        *sid = (uint16_t)(s->start_bus << 8 | s->path[0]);
        return 0;
    }
    return -ENODEV;
}

/* Remappable format for an IOAPIC entry (5.1.5.1): the handle in the address, and the vector in
 * the data, which the entry keeps in bits 7:0 so that the EOI broadcast matches it. */
int vtd_ir_ioapic_compose(struct iommu_unit *u, unsigned ioapic_id, unsigned vector,
                          uint32_t dest, bool level, uint64_t *addr, uint32_t *data)
{
    struct vtd_unit *vu = to_vtd_unit(u);
    uint16_t sid;
    if (vtd_ioapic_sid(vu, ioapic_id, &sid))
        return -ENODEV;
    if (!vu->ir)
        return -EOPNOTSUPP;
    if (dest != apic_id())
        return -EINVAL;
    int idx = vtd_ir_alloc_entry(vu, sid, (uint8_t)vector, level);
    if (idx < 0)
        return idx;
    *addr = vtd_msi_addr_remappable((uint16_t)idx);
    *data = vector & 0xff;
    return 0;
}
