/* The SMMUv3 on an AArch64 machine described by a device tree (image only): the `arm,smmu-v3`
 * node gives the registers and the wired interrupts (eventq, gerror: each runs smmu_poll), the
 * PCIe node's `iommu-map` gives each requester ID's StreamID (the unit serves exactly the
 * requester IDs the map sends to it), and the GIC's ITS doorbell is what every translated
 * domain maps at the software MSI window. Command line: smmuv3=off (no DMA isolation, said so),
 * smmuv3=poll (no interrupts: the event queue is polled). */
#include "arch/aarch64/gic.h"
#include "arch/intx.h"
#include "arch/aarch64/platform.h"
#include "arch/arch.h"
#include "iommu/arm-smmu-v3/smmu.h"
#include "kernel/cmdline.h"
#include "kernel/init.h"
#include "kernel/mm/heap.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_platform.h"

static struct smmu_unit *the_unit;

struct smmu_unit *smmu_unit_get(unsigned index)
{
    return index == 0 ? the_unit : NULL;
}

static bool smmu_opt(const char *word)
{
    char v[64];
    return cmdline_get("smmuv3", v, sizeof(v)) && strstr(v, word) != NULL;
}

/* ---- registers ---- */

static uint32_t mmio_read32(void *ctx, uint32_t off)
{
    return *(volatile uint32_t *)((uint8_t *)ctx + off);
}

static void mmio_write32(void *ctx, uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)((uint8_t *)ctx + off) = v;
}

static uint64_t mmio_read64(void *ctx, uint32_t off)
{
    return *(volatile uint64_t *)((uint8_t *)ctx + off);
}

static void mmio_write64(void *ctx, uint32_t off, uint64_t v)
{
    *(volatile uint64_t *)((uint8_t *)ctx + off) = v;
}

static const struct smmu_io smmu_mmio = { mmio_read32, mmio_write32, mmio_read64, mmio_write64 };

/* ---- which requesters it serves, with which StreamIDs ---- */

static bool dt_sid_of(struct smmu_unit *su, uint16_t rid, uint32_t *sid)
{
    const struct dt_platform *dt = platform_dt();
    uint32_t phandle;
    if (!dt->pcie.nr_iommu_map)
        return false;   /* a PCIe node without iommu-map: its DMA does not go through the unit */
    return dt_map_id(dt->pcie.iommu_map, dt->pcie.nr_iommu_map, rid, &phandle, sid) &&
           phandle == dt->smmu.phandle;
}

static bool dt_serves(struct iommu_unit *u, const struct pci_dev *dev)
{
    uint32_t sid;
    return dev->seg == u->seg && dt_sid_of(to_smmu_unit(u), (uint16_t)(dev->bus << 8 | dev->devfn), &sid);
}

static int dt_for_each_rid(struct smmu_unit *su, struct pci_dev *dev, pci_alias_fn fn, void *arg)
{
    return pci_for_each_dma_alias(platform_pci(), dev, fn, arg);
}

/* ---- interrupts ---- */

static void smmu_irq(void *ctx)
{
    smmu_poll(ctx);
}

static struct gsi_handler smmu_handlers[DT_MAX_IRQS];

/* The eventq and gerror lines (by name; QEMU's virt gives all four, edge-triggered). */
static unsigned smmu_irq_setup(struct smmu_unit *su)
{
    const struct dt_platform *dt = platform_dt();
    unsigned n = 0;
    for (unsigned i = 0; i < dt->smmu.nr_irq; i++) {
        const char *name = dt->smmu.irq_name[i];
        if (!name || (strcmp(name, "eventq") != 0 && strcmp(name, "gerror") != 0))
            continue;
        const struct dt_irq *irq = &dt->smmu.irq[i];
        smmu_handlers[i] = (struct gsi_handler){ smmu_irq, su, NULL };
        unsigned flags = (irq->flags & 0xf) == 4 ? GSI_LEVEL : 0;
        int err = ioapic_gsi_attach(irq->intid, flags, &smmu_handlers[i]);
        if (err)
            kprintf("smmuv3: %s: %s interrupt %u: %s\n", su->name, name, irq->intid,
                    errno_name(err));
        else
            n++;
    }
    return n;
}

/* ---- bring-up ---- */

static void smmu_dt_report(struct smmu_unit *su, uint64_t base)
{
    kprintf("smmuv3: %s at %#llx: idr0 %#x idr1 %#x idr3 %#x idr5 %#x: stage%s%s, %s stream "
            "table (%u StreamID bits), %u-bit output, %u KiB granule, %srange invalidation, "
            "MSI window %#llx -> %#llx, events by %s\n", su->name, (unsigned long long)base,
            su->idr[0], su->idr[1], su->idr[3], su->idr[5], su->f.s1 ? " 1" : "",
            su->f.s2 ? (su->f.s1 ? " and 2" : " 2") : "",
            su->two_level ? "2-level" : "linear", su->strtab_sid_bits, su->f.oas,
            (1u << su->f.granule_shift) / 1024, su->f.ril ? "" : "no ",
            (unsigned long long)SMMU_MSI_IOVA, (unsigned long long)su->msi_doorbell,
            su->nr_irqs ? "interrupt" : "polling");
}

static int smmu_dt_init(void)
{
    const struct dt_platform *dt = platform_dt();
    if (!dt || !dt->smmu.present)
        return 0;       /* no SMMUv3 on this machine */
    if (smmu_opt("off")) {
        kprintf("smmuv3: disabled on the command line: DMA is NOT isolated\n");
        return 0;
    }
    if (dt->smmu.size < SMMU_REG_SIZE) {
        kprintf("smmuv3: register window of %#llx bytes, below the two pages: unit not used\n",
                (unsigned long long)dt->smmu.size);
        return -ENODEV;
    }
    struct smmu_unit *su = kzalloc(sizeof(*su));
    if (!su)
        return -ENOMEM;
    strcpy(su->name, "smmu0");
    su->io = &smmu_mmio;
    su->io_ctx = mmio_map(dt->smmu.base, SMMU_REG_SIZE);
    if (!su->io_ctx)
        return -ENOMEM;
    su->iu.seg = (uint16_t)dt->pcie.domain;
    su->iu.serves = dt_serves;
    su->sid_of = dt_sid_of;
    su->for_each_rid = dt_for_each_rid;
    if (gic_its_doorbell(&su->msi_doorbell))
        su->msi_doorbell = 0;
    int err = smmu_unit_init(su);
    if (err) {
        kprintf("smmuv3: %s at %#llx: bring-up failed: %s\n", su->name,
                (unsigned long long)dt->smmu.base, errno_name(err));
        return err;
    }
    iommu_register_unit(&su->iu);
    the_unit = su;
    su->nr_irqs = smmu_opt("poll") ? 0 : smmu_irq_setup(su);
    smmu_dt_report(su, dt->smmu.base);
    return 0;
}
MOAT_UNIT(60_iommu, smmuv3, smmu_dt_init);

/* Records no interrupt delivered are reported at the end of the boot at the latest. */
static int smmu_late_poll(void)
{
    if (the_unit && smmu_poll(the_unit))
        kprintf("smmuv3: %s: events were pending without an interrupt\n", the_unit->name);
    return 0;
}
MOAT_UNIT_OPTIONAL(80_late, smmuv3_late, smmu_late_poll);
