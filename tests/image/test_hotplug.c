/* PCIe hot-plug cycles driven through QEMU's monitor: the test prints a "moat-qmp:" cue, the
 * runner (./moat run --qmp, tools/qmp-run.py) sends it to QEMU, and the test sees the result
 * only as the runtime does, through the slot's events (pci_hotplug_poll).
 *
 * Needs a topology with an empty pcie-root-port whose QEMU id is hp_bus= (default rp1) and
 * QEMU's ACPI hot-plug off on q35 (-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off),
 * which gives the slot to native hot-plug. hp_cycles=N (default 3) plug/unplug cycles. */
#include "arch/arch.h"
#include "drivers/dma/dma.h"
#include "drivers/edu/edu.h"
#include "iommu/iommu.h"
#include "kernel/cmdline.h"
#include "kernel/ktest.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_hotplug.h"
#include "pci/pci_internal.h"
#include "pci/pci_platform.h"

#define HP_EVENT_TIMEOUT_NS (60 * NSEC_PER_SEC)   /* a QMP round trip on a loaded TCG host */
#define EDU_ID 0x11e81234u
#define EDU_IDENT_MAGIC 0xed

struct hp_env {
    struct pci_system *sys;
    struct pci_dev *port;
    char bus[32];
    unsigned cycles;
    /* Three pages: a canary, the page the device may write while it is mapped, a canary.
     * It outlives every device incarnation: the IOVA it had under the previous one must fault
     * under the next, and nothing of it may change then. */
    uint8_t *buf;
    uint64_t old_iova;              /* 0: no previous incarnation mapped it */
    unsigned bytes_verified, stale_blocked, stale_faults;
};

#define HP_CANARY 0xc5
#define HP_PAGE 4096u

static bool hp_env(struct ktest *t, struct hp_env *e)
{
    e->sys = platform_pci();
    e->port = NULL;
    if (!cmdline_get("hp_bus", e->bus, sizeof(e->bus)))
        strcpy(e->bus, "rp1");
    char v[16];
    unsigned long long n = 3;
    if (cmdline_get("hp_cycles", v, sizeof(v)))
        str_to_u64(v, NULL, 10, &n);
    e->cycles = (unsigned)n;
    for (uint32_t i = 0; e->sys && i < e->sys->ndevs && !e->port; i++) {
        struct pci_hotplug_slot_info info;
        struct pci_dev *d = &e->sys->devs[i];
        if (!d->gone && pci_hotplug_slot_info(d, &info) == 0 && info.state == PCI_SLOT_OFF)
            e->port = d;
    }
    if (!e->port)
        ktest_skip(t, "no empty hot-plug slot (a pcie-root-port, native hot-plug)");
    return e->port != NULL;
}

static struct pci_hotplug_slot_info slot_info(struct hp_env *e)
{
    struct pci_hotplug_slot_info info = { 0 };
    pci_hotplug_slot_info(e->port, &info);
    return info;
}

/* Polls the slots until the port's counter `which` passes `before` (bounded). */
static int wait_slot(struct hp_env *e, bool added, unsigned before)
{
    return poll_until((pci_hotplug_poll(), (added ? slot_info(e).added : slot_info(e).removed) >
                       before), HP_EVENT_TIMEOUT_NS);
}

static struct edu_dev *edu_of(const struct pci_dev *d)
{
    for (unsigned i = 0; i < edu_count(); i++)
        if (edu_get(i) && edu_get(i)->pci == d)
            return edu_get(i);
    return NULL;
}

static bool canaries_intact(const struct hp_env *e)
{
    for (unsigned i = 0; i < HP_PAGE; i++)
        if (e->buf[i] != HP_CANARY || e->buf[2 * HP_PAGE + i] != HP_CANARY)
            return false;
    return true;
}

/* The IOVA the previous device had must not reach the buffer through the new one (its domain
 * is new; a stale IOTLB entry of the old one would let the write through). The bytes decide;
 * the fault record is demanded where the unit writes one (QEMU 10.0's AMD-Vi aborts silently:
 * silent_aborts). */
static void check_old_iova_faults(struct ktest *t, struct hp_env *e, struct edu_dev *ed)
{
    memset(e->buf + HP_PAGE, 0x11, HP_PAGE);
    uint64_t faults = iommu_fault_count();
    KEXPECT_EQ(t, edu_dma(ed, true, e->old_iova, 0, 64), 0);
    bool silent = ed->domain->unit->silent_aborts;
    bool recorded = poll_until(iommu_fault_count() > faults,
                               silent ? 200 * NSEC_PER_MSEC : 5 * NSEC_PER_SEC) == 0;
    if (!silent)
        KEXPECT(t, recorded);
    for (unsigned i = 0; i < HP_PAGE; i++)
        if (e->buf[HP_PAGE + i] != 0x11) {
            ktest_fail(t, __FILE__, __LINE__, "DMA to the old IOVA %#llx reached the buffer",
                       (unsigned long long)e->old_iova);
            break;
        }
    e->stale_faults += recorded;
    e->stale_blocked++;
}

/* Device -> memory through a fresh mapping of the middle page, bytes checked, canaries kept;
 * the mapping is taken down before the device goes, and its IOVA remembered. */
static void check_dma(struct ktest *t, struct hp_env *e, struct edu_dev *ed, unsigned n)
{
    if (e->old_iova)
        check_old_iova_faults(t, e, ed);
    uint8_t *page = e->buf + HP_PAGE;
    for (unsigned i = 0; i < HP_PAGE; i++)
        page[i] = (uint8_t)(i * 7 + n);
    struct dma_map m;
    KASSERT(t, dma_map(&ed->dma, page, HP_PAGE, IOMMU_READ | IOMMU_WRITE, &m) == 0);
    KEXPECT_EQ(t, edu_dma(ed, false, m.iova, 0, HP_PAGE), 0);     /* memory -> device */
    memset(page, 0, HP_PAGE);
    KEXPECT_EQ(t, edu_dma(ed, true, m.iova, 0, HP_PAGE), 0);      /* device -> memory */
    for (unsigned i = 0; i < HP_PAGE; i++)
        if (page[i] != (uint8_t)(i * 7 + n)) {
            ktest_fail(t, __FILE__, __LINE__, "byte %u: %#x, wanted %#x", i, page[i],
                       (uint8_t)(i * 7 + n));
            break;
        }
    e->bytes_verified += 2 * HP_PAGE;
    KEXPECT_EQ(t, dma_unmap(&ed->dma, &m), 0);
    KEXPECT(t, canaries_intact(e));
    e->old_iova = m.iova;
}

/* The new function as the runtime sees it: enumerated, placed inside the port's window,
 * grouped, blocked by its IOMMU unit while no driver holds it (or DMA through the driver's
 * space when edu bound it), and answering at its BAR. */
static void check_added_edu(struct ktest *t, struct hp_env *e, struct pci_dev *d, unsigned n)
{
    KEXPECT_EQ(t, ((uint32_t)d->device << 16) | d->vendor, EDU_ID);
    KEXPECT(t, d->group != PCI_NO_GROUP);
    /* Linux's rule: a port without ACS does not isolate what is below it from itself (the
     * function joins the port's group); a root port with ACS does. */
    if (e->port->caps.acs)
        KEXPECT(t, d->group != e->port->group);
    else
        KEXPECT_EQ(t, d->group, e->port->group);
    KEXPECT(t, d->bar[0].flags & PCI_BAR_ASSIGNED);
    const struct pci_aperture *w = &e->port->win_mem;
    KEXPECT(t, d->bar[0].base >= w->base && d->bar[0].base + d->bar[0].size <= w->base + w->size);
    struct iommu_unit *u = iommu_unit_for(d);
    struct edu_dev *ed = d->driver ? edu_of(d) : NULL;
    if (ed && u)
        check_dma(t, e, ed, n);
    else if (u)
        KEXPECT(t, iommu_dev_domain(d) == u->blocked);
    uint16_t cmd = pci_read16(e->sys, d, PCI_COMMAND);
    pci_write16(e->sys, d, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
    volatile uint32_t *mmio = mmio_map(d->bar[0].base, d->bar[0].size);
    KASSERT(t, mmio);
    KEXPECT_EQ(t, mmio[0] & 0xff, EDU_IDENT_MAGIC);
    pci_write16(e->sys, d, PCI_COMMAND, cmd);
}

static void one_cycle(struct ktest *t, struct hp_env *e, unsigned n)
{
    struct pci_hotplug_slot_info before = slot_info(e);
    kprintf("moat-qmp: device_add edu,id=hp%u,bus=%s\n", n, e->bus);
    KASSERT(t, wait_slot(e, true, before.added) == 0);
    struct pci_dev *d = pci_get_dev(e->sys, e->port->seg, e->port->secondary, 0);
    KASSERT(t, d);
    check_added_edu(t, e, d, n);

    kprintf("moat-qmp: device_del hp%u\n", n);
    KASSERT(t, wait_slot(e, false, before.removed) == 0);
    KEXPECT(t, slot_info(e).state == PCI_SLOT_OFF);
    KEXPECT(t, pci_get_dev(e->sys, e->port->seg, e->port->secondary, 0) == NULL);
    /* QEMU detached it: nothing answers on the secondary bus any more. */
    KEXPECT_EQ(t, pci_cfg_read(e->sys, e->port->seg, e->port->secondary, 0, PCI_VENDOR_ID, 4),
               0xffffffffu);
}

static void edu_plug_cycles(struct ktest *t)
{
    struct hp_env e;
    if (!hp_env(t, &e))
        return;
    uint64_t pa;
    e.buf = pmm_alloc_zeroed(2, &pa);   /* 4 pages: canary, target, canary, unused */
    KASSERT(t, e.buf);
    memset(e.buf, HP_CANARY, 4 * HP_PAGE);
    e.old_iova = 0;
    e.bytes_verified = e.stale_blocked = e.stale_faults = 0;
    uint32_t ndevs = e.sys->ndevs;
    int ngroups = (int)e.sys->ngroups;
    size_t heap = 0;
    uint64_t pages = 0;
    for (unsigned n = 0; n < e.cycles && t->failures == 0; n++) {
        one_cycle(t, &e, n);
        if (n == 0) {   /* the first BAR mapping builds CPU page tables that stay */
            heap = heap_live_bytes();
            pages = pmm_free_bytes();
        }
    }
    KEXPECT_EQ(t, slot_info(&e).added, e.cycles);
    KEXPECT_EQ(t, slot_info(&e).removed, e.cycles);
    KEXPECT_EQ(t, e.sys->ndevs, ndevs);
    KEXPECT_EQ(t, heap_live_bytes(), heap);
    KEXPECT_EQ(t, pmm_free_bytes(), pages);
    KEXPECT(t, canaries_intact(&e));
    kprintf("hotplug: %u cycles, %u devices -> %u, groups %d -> %u, %u bytes verified, "
            "%u DMAs to a previous device's IOVA blocked (%u fault records)\n", e.cycles, ndevs,
            e.sys->ndevs, ngroups, e.sys->ngroups, e.bytes_verified, e.stale_blocked,
            e.stale_faults);
    pmm_free(pa, 2);
}

KTEST_SUITE_EXPLICIT(hotplug, KTEST_CASE(edu_plug_cycles));
