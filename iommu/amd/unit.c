/* AMD-Vi unit bring-up (AMD IOMMU spec 3.4 registers, 2.x tables) and the iommu_unit_ops.
 *
 * Order at init, per IVHD: map the registers, read EFR and adapt, turn the unit off if firmware
 * left it on, build the device table with every entry blocked (default deny) and point the base
 * register at it, set up the command buffer and the event log (with its MSI), identity-map the
 * IVMD ranges for the devices they name, and only then set IOMMUEn and invalidate everything
 * the unit might have cached. From the first translated DMA on, a device without a domain
 * reaches nothing. */
#include "arch/arch.h"
#include "iommu/amd/amdvi.h"
#include "kernel/acpi/platform.h"
#include "kernel/cmdline.h"
#include "kernel/init.h"
#include "kernel/mm/heap.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_platform.h"

/* The HyperTransport reserved window: never DMA-addressable on AMD systems. */
#define AMDVI_HT_FIRST 0xfd00000000ULL
#define AMDVI_HT_LAST 0xffffffffffULL
#define AMDVI_DEFAULT_IAS 48
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define QEMU_SUBSYSTEM 0x11001af4u      /* subsystem device 1100h, vendor 1af4h */

static struct amdvi_ivrs ivrs;
static struct amdvi_unit *units[AMDVI_IVRS_MAX_UNITS];
static unsigned nr_units;
static const struct iommu_unit_ops amdvi_ops;

struct amdvi_unit *amdvi_unit_get(unsigned index)
{
    return index < nr_units ? units[index] : NULL;
}

unsigned amdvi_nr_units(void)
{
    return nr_units;
}

bool amdvi_opt(const char *word)
{
    char v[64];
    if (!cmdline_get("amdvi", v, sizeof(v)))
        return false;
    return strstr(v, word) != NULL;
}

void amdvi_ctrl(struct amdvi_unit *au, uint64_t bits, bool set)
{
    if (set)
        au->ctrl |= bits;
    else
        au->ctrl &= ~bits;
    amdvi_write64(au, AMDVI_CONTROL, au->ctrl);
}

/* ---- domain IDs ---- */

/* QEMU up to 10.0 checks DTE bit 72 (DomainID bit 8) as reserved and refuses the entry: there,
 * IDs with that bit are never handed out. */
#define AMDVI_QEMU_BAD_DOMID_BIT BIT(8)

static int amdvi_domid_alloc(struct amdvi_unit *au)
{
    for (unsigned i = 1; i < AMDVI_MAX_DOMAIN_IDS; i++) {
        if (au->qemu_quirks && (i & AMDVI_QEMU_BAD_DOMID_BIT))
            continue;
        if (!(au->domid_used[i / 8] & (1u << (i % 8)))) {
            au->domid_used[i / 8] |= (uint8_t)(1u << (i % 8));
            return (int)i;
        }
    }
    return -ENOSPC;
}

static void amdvi_domid_free(struct amdvi_unit *au, uint16_t id)
{
    if (id != AMDVI_DOMID_NONE)
        au->domid_used[id / 8] &= (uint8_t)~(1u << (id % 8));
}

/* ---- which functions a unit serves ---- */

static uint16_t amdvi_rid(const struct pci_dev *dev)
{
    return (uint16_t)(dev->bus << 8 | dev->devfn);
}

static unsigned amdvi_units_on_segment(uint16_t seg)
{
    unsigned n = 0;
    for (unsigned i = 0; i < ivrs.nr_units; i++)
        n += ivrs.unit[i].seg == seg;
    return n;
}

/* The unit an IVHD entry names; a device no entry names (an SR-IOV VF enabled after firmware
 * built the table, a hot-added function) belongs to the segment's only unit when there is one:
 * its DMA then meets a blocked DTE instead of bypassing every check. */
bool amdvi_serves_devid(struct amdvi_unit *au, uint16_t devid)
{
    const struct amdvi_ivhd *h = au->ivhd;
    if (devid == h->devid)
        return false;
    int idx = amdvi_ivrs_unit_for(&ivrs, h->seg, devid);
    if (idx >= 0)
        return idx == (int)au->index;
    return amdvi_units_on_segment(h->seg) == 1;
}

static bool amdvi_serves(struct iommu_unit *u, const struct pci_dev *dev)
{
    struct amdvi_unit *au = to_amdvi_unit(u);
    return dev->seg == au->iu.seg && amdvi_serves_devid(au, amdvi_rid(dev));
}

/* ---- domains ---- */

static int amdvi_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                              const struct iommu_domain_cfg *cfg, struct iommu_domain **out)
{
    struct amdvi_unit *au = to_amdvi_unit(u);
    if (type == IOMMU_DOMAIN_NESTED)
        return -EOPNOTSUPP;
    struct amdvi_domain *ad = kzalloc(sizeof(*ad));
    if (!ad)
        return -ENOMEM;
    ad->au = au;
    ad->d.unit = u;
    ad->d.type = type;
    ad->d.flags = cfg->flags;
    if (type != IOMMU_DOMAIN_BLOCKED) {
        int id = amdvi_domid_alloc(au);
        if (id < 0) {
            kfree(ad);
            return id;
        }
        ad->domid = (uint16_t)id;
    }
    if (type == IOMMU_DOMAIN_PAGING) {
        int err = amdvi_domain_pgtable_init(ad);
        if (err) {
            amdvi_domid_free(au, ad->domid);
            kfree(ad);
            return err;
        }
        ad->d.iova_last = ad->d.pt.ia_last;
    }
    *out = &ad->d;
    return 0;
}

/* No device is attached and no mapping is left; flush the domain ID before it is reused. */
static void amdvi_domain_free(struct iommu_domain *d)
{
    struct amdvi_domain *ad = to_amdvi_domain(d);
    if (ad->domid != AMDVI_DOMID_NONE)
        amdvi_inv_domain(ad->au, ad->domid);
    if (d->type == IOMMU_DOMAIN_PAGING)
        pgtable_destroy(&d->pt);
    amdvi_domid_free(ad->au, ad->domid);
    kfree(ad);
}

struct amdvi_attach_args {
    struct amdvi_unit *au;
    struct amdvi_domain *old, *new;
    int err;
};

static void amdvi_attach_rid(struct amdvi_attach_args *a, uint16_t rid)
{
    int err = amdvi_dte_attach(a->au, rid, a->old, a->new);
    if (err)
        a->err = err;
}

static int amdvi_attach_alias(struct pci_dev *dev, uint16_t rid, void *arg)
{
    struct amdvi_attach_args *a = arg;
    amdvi_attach_rid(a, rid);
    /* The IVHD may name another requester ID for it (an alias entry). */
    uint16_t ivhd_alias = amdvi_ivhd_alias_of(a->au->ivhd, rid);
    if (ivhd_alias != rid)
        amdvi_attach_rid(a, ivhd_alias);
    return 0;   /* every alias, even after an error: none may stay on the old domain */
}

static int amdvi_attach_dev(struct iommu_domain *d, struct pci_dev *dev)
{
    struct amdvi_domain *ad = to_amdvi_domain(d);
    struct iommu_domain *cur = iommu_dev_domain(dev);
    struct amdvi_attach_args a = { ad->au, cur ? to_amdvi_domain(cur) : NULL, ad, 0 };
    struct pci_system *sys = platform_pci();
    if (d->type == IOMMU_DOMAIN_BLOCKED)
        a.new = NULL;
    if (a.old && a.old->d.type == IOMMU_DOMAIN_BLOCKED)
        a.old = NULL;
    /* The IVMD memory of every requester ID the device uses was mapped into a kernel paging
     * domain by the core before this call (amdvi_resv_regions reports it per device). */
    if (sys)
        pci_for_each_dma_alias(sys, dev, amdvi_attach_alias, &a);
    else
        amdvi_attach_alias(dev, amdvi_rid(dev), &a);
    return a.err;
}

static int amdvi_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size,
                     uint32_t prot)
{
    return pgtable_map(&d->pt, iova, pa, size, prot);
}

static int amdvi_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size)
{
    return pgtable_unmap(&d->pt, iova, size, 0);
}

static int amdvi_unmap_gather(struct iommu_domain *d, uint64_t iova, uint64_t size,
                              struct pgtable_gather *g)
{
    return pgtable_unmap_gather(&d->pt, iova, size, 0, g);
}

/* INVALIDATE_IOMMU_PAGES per gathered range, one COMPLETION_WAIT. */
static void amdvi_gather_sync(struct iommu_domain *d, struct pgtable_gather *g)
{
    pgtable_gather_sync(&d->pt, g);
}

/* Linux 6.12 defines no AMD hw_info type: IOMMU_HW_INFO_TYPE_NONE with the raw EFR, the
 * control register and the IVHD's EFR image. */
static int amdvi_hw_info(struct iommu_unit *u, void *buf, size_t len, uint32_t *type)
{
    struct amdvi_unit *au = to_amdvi_unit(u);
    uint64_t regs[3] = { au->efr, amdvi_read64(au, AMDVI_CONTROL), au->ivhd->efr };
    if (len < sizeof(regs))
        return -EINVAL;
    memcpy(buf, regs, sizeof(regs));
    *type = 0;      /* IOMMU_HW_INFO_TYPE_NONE */
    return sizeof(regs);
}

struct amdvi_resv_args {
    struct amdvi_unit *au;
    struct iommu_resv_region *out;
    unsigned n, max;
    int err;
};

static int amdvi_resv_alias(struct pci_dev *dev, uint16_t rid, void *arg)
{
    struct amdvi_resv_args *r = arg;
    uint16_t ivhd_alias = amdvi_ivhd_alias_of(r->au->ivhd, rid);
    (void)dev;
    if (!r->err)
        r->err = amdvi_ivmd_regions(&ivrs, r->au->iu.seg, rid, r->out, &r->n, r->max);
    if (!r->err && ivhd_alias != rid)
        r->err = amdvi_ivmd_regions(&ivrs, r->au->iu.seg, ivhd_alias, r->out, &r->n, r->max);
    return 0;
}

/* The interrupt window and the HyperTransport range for every device; the IVMD blocks naming
 * any requester ID the device's DMA carries (its PCI aliases and the IVHD's alias entries). */
static int amdvi_resv_regions(struct iommu_unit *u, struct pci_dev *dev,
                              struct iommu_resv_region *out, unsigned max)
{
    struct amdvi_resv_args r = { to_amdvi_unit(u), out, 0, max, 0 };
    struct pci_system *sys = platform_pci();
    if (max < 2)
        return -ENOSPC;
    out[r.n++] = (struct iommu_resv_region){ AMDVI_INTR_ADDR_FIRST, AMDVI_INTR_ADDR_LAST, 0,
                                             IOMMU_RESV_MSI };
    out[r.n++] = (struct iommu_resv_region){ AMDVI_HT_FIRST, AMDVI_HT_LAST, 0,
                                             IOMMU_RESV_RESERVED };
    if (sys)
        pci_for_each_dma_alias(sys, dev, amdvi_resv_alias, &r);
    else
        amdvi_resv_alias(dev, amdvi_rid(dev), &r);
    return r.err ? r.err : (int)r.n;
}

static const struct iommu_unit_ops amdvi_ops = {
    .vendor = "amd",
    .domain_alloc = amdvi_domain_alloc,
    .domain_free = amdvi_domain_free,
    .attach_dev = amdvi_attach_dev,
    .map = amdvi_map,
    .unmap = amdvi_unmap,
    .unmap_gather = amdvi_unmap_gather,
    .gather_sync = amdvi_gather_sync,
    .hw_info = amdvi_hw_info,
    .msi_compose = amdvi_ir_msi_compose,
    .resv_regions = amdvi_resv_regions,
    .msi_free = amdvi_ir_msi_free,
};

/* ---- IVMD: memory that must stay reachable for the devices named ---- */

/* Every device an IVMD names starts on a paging domain of its unit (one per unit) instead of
 * the blocked one, before IOMMUEn: it never sees a gap. The attach maps its IVMD memory
 * (the core, from amdvi_resv_regions), as in every later kernel paging domain of
 * the device. */
static int amdvi_setup_ivmd(struct amdvi_unit *au)
{
    struct pci_system *sys = platform_pci();
    struct iommu_domain *rd = NULL;
    for (uint32_t k = 0; k < (sys ? sys->ndevs : 0); k++) {
        struct pci_dev *dev = &sys->devs[k];
        if (!ivrs.nr_ivmd || !amdvi_serves(&au->iu, dev) || !iommu_dev_require_direct(dev))
            continue;
        if (!rd && amdvi_domain_alloc(&au->iu, IOMMU_DOMAIN_PAGING,
                                      &(struct iommu_domain_cfg){ 0 }, &rd))
            return -ENOMEM;
        int err = iommu_attach(rd, dev);
        if (err)
            return err;
        kprintf("amdvi: %s: IVMD memory identity-mapped for %02x:%02x.%x\n", au->name,
                dev->bus, dev->devfn >> 3, dev->devfn & 7);
    }
    return 0;
}

/* ---- bring-up ---- */

static void amdvi_read_caps(struct amdvi_unit *au)
{
    struct pci_system *sys = platform_pci();
    const struct amdvi_ivhd *h = au->ivhd;
    au->pdev = sys ? pci_get_dev(sys, h->seg, (uint8_t)(h->devid >> 8), (uint8_t)h->devid)
                   : NULL;
    uint32_t cap = au->pdev ? pci_read32(sys, au->pdev, h->cap_off + AMDVI_CAP_HDR) : 0;
    bool efr_ok = (cap & AMDVI_CAP_EFR_SUP) || (ivrs.ivinfo & IVINFO_EFRSUP);
    au->efr = efr_ok ? amdvi_read64(au, AMDVI_EFR) : 0;
    if (!au->efr && (ivrs.ivinfo & IVINFO_EFRSUP))
        au->efr = h->efr;
    au->np_cache = cap & AMDVI_CAP_NP_CACHE;
    au->qemu_quirks = au->pdev && pci_read32(sys, au->pdev, PCI_SUBSYSTEM_VENDOR_ID) ==
                                      QEMU_SUBSYSTEM;
    /* QEMU 10's page walk reports no IO_PAGE_FAULT: a refused DMA just ends. */
    au->iu.silent_aborts = au->qemu_quirks;
    unsigned hats = (unsigned)FIELD_GET(AMDVI_EFR_HATS, au->efr);
    unsigned max_levels = hats == 3 ? 0 : 4 + hats;
    unsigned vasize = (unsigned)FIELD_GET(IVINFO_VASIZE, ivrs.ivinfo);
    au->ias = (vasize >= 32 && vasize < AMDVI_DEFAULT_IAS) ? vasize : AMDVI_DEFAULT_IAS;
    au->levels = MIN((au->ias - 12 + 8) / 9, max_levels);
    au->ias = MIN(au->ias, 12 + 9 * au->levels);
    au->iu.pgsize_bitmap = PGTABLE_SZ_4K | PGTABLE_SZ_2M | PGTABLE_SZ_1G;
}

/* Firmware may have left the unit translating with its own tables: stop it before the base
 * registers change (they may not change while IOMMUEn is set). */
static void amdvi_takeover(struct amdvi_unit *au)
{
    uint64_t ctrl = amdvi_read64(au, AMDVI_CONTROL);
    if (ctrl & AMDVI_CTRL_IOMMU_EN)
        kprintf("amdvi: %s: firmware left the unit on (control %#llx): restarting it\n",
                au->name, (unsigned long long)ctrl);
    au->ctrl = 0;
    amdvi_write64(au, AMDVI_CONTROL, 0);
    const uint64_t running = AMDVI_STS_CMD_RUN | AMDVI_STS_EVT_RUN;
    if (poll_until(!(amdvi_read64(au, AMDVI_STATUS) & running), AMDVI_WAIT_TIMEOUT_NS))
        kprintf("amdvi: %s: command buffer or event log still running (status %#llx)\n",
                au->name, (unsigned long long)amdvi_read64(au, AMDVI_STATUS));
}

static int amdvi_enable(struct amdvi_unit *au)
{
    amdvi_ctrl(au, AMDVI_CTRL_IOMMU_EN, true);
    au->enabled = true;
    return amdvi_inv_all(au);
}

static int amdvi_unit_setup(struct amdvi_unit *au)
{
    amdvi_takeover(au);
    int err = amdvi_devtab_init(au);
    if (!err)
        err = amdvi_cmd_init(au);
    if (!err)
        err = amdvi_event_init(au);
    if (err)
        return err;
    struct iommu_domain *blocked;
    err = amdvi_domain_alloc(&au->iu, IOMMU_DOMAIN_BLOCKED, &(struct iommu_domain_cfg){ 0 },
                             &blocked);
    if (err)
        return err;
    au->iu.blocked = blocked;
    iommu_register_unit(&au->iu);       /* before IVMD attach: the core looks the unit up */
    err = amdvi_setup_ivmd(au);
    if (!err)
        err = amdvi_enable(au);
    return err;
}

static struct amdvi_unit *amdvi_unit_create(unsigned index)
{
    const struct amdvi_ivhd *h = &ivrs.unit[index];
    struct amdvi_unit *au = kzalloc(sizeof(*au));
    if (!au)
        return NULL;
    au->index = index;
    au->ivhd = h;
    fmt_snprintf(au->name, sizeof(au->name), "amdvi%u", index);
    au->regs = mmio_map(h->base, AMDVI_MMIO_SIZE);
    if (!au->regs) {
        kfree(au);
        return NULL;
    }
    au->iu.ops = &amdvi_ops;
    au->iu.name = au->name;
    au->iu.seg = h->seg;
    au->iu.serves = amdvi_serves;
    amdvi_read_caps(au);
    au->iu.ias = au->ias;
    return au;
}

static void amdvi_print_unit(struct amdvi_unit *au)
{
    kprintf("amdvi: %s at %#llx (%04x:%02x:%02x.%x): efr %#llx control %#llx: %u-level "
            "(%u-bit), %u device table entries, event %s%s%s\n", au->name,
            (unsigned long long)au->ivhd->base, au->iu.seg, au->ivhd->devid >> 8,
            (au->ivhd->devid >> 3) & 0x1f, au->ivhd->devid & 7, (unsigned long long)au->efr,
            (unsigned long long)au->ctrl, au->levels, au->ias, au->nr_dtes,
            au->event_vector >= 0 ? "interrupt" : "polling", au->np_cache ? ", NpCache" : "",
            au->qemu_quirks ? ", QEMU" : "");
}

/* amdvi=dump: the raw table, 16 bytes a line (for bug reports and host-test fixtures). */
static void amdvi_dump_ivrs(const struct acpi_sdt_header *t)
{
    const uint8_t *p = (const uint8_t *)t;
    for (uint32_t off = 0; off < t->length; off += 16) {
        kprintf("ivrs-dump: %04x:", off);
        for (uint32_t i = off; i < off + 16 && i < t->length; i++)
            kprintf(" %02x", p[i]);
        kprintf("\n");
    }
}

static int amdvi_init(void)
{
    const struct acpi_info *ai = platform_acpi();
    const struct acpi_sdt_header *t = ai ? acpi_find_table(ai, "IVRS", 0) : NULL;
    if (!t)
        return 0;       /* no AMD-Vi on this machine */
    if (amdvi_opt("off")) {
        kprintf("amdvi: disabled on the command line: DMA is NOT isolated\n");
        return 0;
    }
    if (amdvi_opt("dump"))
        amdvi_dump_ivrs(t);
    int err = amdvi_ivrs_parse(t, t->length, &ivrs);
    if (err)
        return err;
    amdvi_ivrs_print(&ivrs);
    for (unsigned i = 0; i < ivrs.nr_units; i++) {
        struct amdvi_unit *au = amdvi_unit_create(i);
        if (!au)
            return -ENOMEM;
        err = au->levels ? amdvi_unit_setup(au) : -ENODEV;
        if (err) {
            kprintf("amdvi: %s: bring-up failed: %s\n", au->name, errno_name(err));
            return err;
        }
        units[nr_units++] = au;
        amdvi_print_unit(au);
        if (!amdvi_opt("noir") && (err = amdvi_ir_init(au)))
            kprintf("amdvi: %s: interrupt remapping failed: %s\n", au->name, errno_name(err));
    }
    return 0;
}
MOAT_UNIT(60_iommu, amdvi, amdvi_init);

/* Events that no interrupt delivered (a polled unit, or a lost MSI) are reported at the end of
 * the boot at the latest. */
static int amdvi_late_poll(void)
{
    for (unsigned i = 0; i < nr_units; i++) {
        unsigned n = amdvi_event_poll(units[i]);
        if (n && units[i]->event_vector >= 0)
            kprintf("amdvi: %s: %u events were pending without an interrupt\n",
                    units[i]->name, n);
    }
    return 0;
}
MOAT_UNIT_OPTIONAL(80_late, amdvi_late, amdvi_late_poll);
