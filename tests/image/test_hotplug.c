/* PCIe hot-plug cycles driven through QEMU's monitor: the test prints a "moat-qmp:" cue, the
 * runner (./moat run --qmp, tools/qmp-run.py) sends it to QEMU, and the test sees the result
 * only as the runtime does, through the slot's events (pci_hotplug_poll, which acts on what
 * the slot's interrupt reported; with "pciehp_poll=0" nothing else ever reads the slot).
 *
 * Needs a topology with an empty pcie-root-port whose QEMU id is hp_bus= (default rp1) and
 * QEMU's ACPI hot-plug off on q35 (-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off),
 * which gives the slot to native hot-plug. Command-line words:
 *   hp_cycles=N     plug/unplug cycles (default 3)
 *   hp_add=DEVICE   what to plug, as QEMU's -device (default edu; e.g. nvme,drive=hpd,serial=h)
 *   hp_inflight=1   block devices: unplug with I/Os in flight (a slow disk keeps them there),
 *                   which must end with -ENODEV and never write memory afterwards
 *   hp_nodata=1     the disk keeps nothing (QEMU's null-co): I/Os run, data is not compared
 *   hp_irq=1        block devices: completion interrupts on (MSI-X through the interrupt
 *                   remapping or the GICv3 ITS), each I/O's counted; every incarnation must
 *                   get the vector and message the first had (the last one gave them back)
 * Every plug checks what the runtime made of the function (window, group, blocking domain
 * until bound); a bound edu or block device moves data that is checked byte for byte, next to
 * canary pages; the heap and the page allocator end where the first cycle left them. */
#include "arch/arch.h"
#include "drivers/dma/blk.h"
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
#include "tests/image/test_blk.h"

#define HP_EVENT_TIMEOUT_NS (60 * NSEC_PER_SEC)   /* a QMP round trip on a loaded TCG host */
#define EDU_ID 0x11e81234u
#define EDU_IDENT_MAGIC 0xed

struct hp_env {
    struct pci_system *sys;
    struct pci_dev *port;
    char bus[32];
    char add[96];
    unsigned cycles;
    bool inflight, nodata, irq;
    /* Three pages: a canary, the page the device may write while it is mapped, a canary.
     * It outlives every device incarnation: the IOVA it had under the previous one must fault
     * under the next, and nothing of it may change then. */
    uint8_t *buf;
    uint64_t old_iova;              /* 0: no previous incarnation mapped it */
    unsigned bytes_verified, stale_blocked, stale_faults;
    unsigned ios, ios_enodev, vfs, irqs;
    /* hp_irq: the first incarnation's completion vector and message */
    int irq_vector;
    uint64_t msi_addr;
    uint32_t msi_data;
};

#define HP_CANARY 0xc5
#define HP_PAGE 4096u

static bool hp_env(struct ktest *t, struct hp_env *e)
{
    char v[16];
    e->sys = platform_pci();
    e->port = NULL;
    if (!cmdline_get("hp_bus", e->bus, sizeof(e->bus)))
        strcpy(e->bus, "rp1");
    if (!cmdline_get("hp_add", e->add, sizeof(e->add)))
        strcpy(e->add, "edu");
    e->inflight = cmdline_get("hp_inflight", v, sizeof(v)) && strcmp(v, "1") == 0;
    e->nodata = cmdline_get("hp_nodata", v, sizeof(v)) && strcmp(v, "1") == 0;
    e->irq = cmdline_get("hp_irq", v, sizeof(v)) && strcmp(v, "1") == 0;
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

/* Where the runtime put the new function: grouped by Linux's rule (a port without ACS does
 * not isolate what is below it from itself: the function joins the port's group; a root port
 * with ACS does), every memory BAR assigned inside the port's windows and decoded. */
static void check_placement(struct ktest *t, struct hp_env *e, struct pci_dev *d)
{
    KEXPECT(t, d->group != PCI_NO_GROUP);
    if (e->port->caps.acs)
        KEXPECT(t, d->group != e->port->group);
    else
        KEXPECT_EQ(t, d->group, e->port->group);
    uint16_t cmd = pci_read16(e->sys, d, PCI_COMMAND);
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
        const struct pci_bar *b = &d->bar[i];
        if (!b->size)
            continue;
        if (b->flags & PCI_BAR_IO) {
            /* no I/O window is padded: such a BAR found no room and is never decoded */
            if (!(b->flags & PCI_BAR_ASSIGNED)) {
                KEXPECT(t, b->flags & PCI_BAR_NOSPACE);
                KEXPECT(t, !(cmd & PCI_COMMAND_IO));
            }
            continue;
        }
        KEXPECT(t, b->flags & PCI_BAR_ASSIGNED);
        KEXPECT(t, cmd & PCI_COMMAND_MEMORY);
        const struct pci_aperture *w = (b->flags & PCI_BAR_PREFETCH) && e->port->win_pref.size ?
                                       &e->port->win_pref : &e->port->win_mem;
        KEXPECT(t, b->base >= w->base && b->base - w->base <= w->size - b->size);
    }
}

/* Live functions below the port (VFs count: their parent is their PF's). */
static unsigned count_below(struct hp_env *e)
{
    unsigned n = 0;
    uint32_t port = pci_dev_index(e->sys, e->port);
    for (uint32_t i = 0; i < e->sys->ndevs; i++)
        n += !e->sys->devs[i].gone && e->sys->devs[i].parent == port;
    return n;
}

/* An SR-IOV PF gets all its VFs with sriov_numvfs=max, as at boot, each grouped and, with no
 * driver, in its unit's blocking domain (under SMMUv3 that is a stream table entry for every
 * VF's StreamID). */
static void check_vfs(struct ktest *t, struct hp_env *e, struct pci_dev *pf)
{
    KEXPECT_EQ(t, pf->num_vfs, pf->total_vfs);
    KEXPECT_EQ(t, count_below(e), 1u + pf->num_vfs);
    uint32_t idx = pci_dev_index(e->sys, pf);
    for (uint32_t i = 0; i < e->sys->ndevs; i++) {
        struct pci_dev *vf = &e->sys->devs[i];
        if (!vf->is_virtfn || vf->physfn != idx)
            continue;
        KEXPECT(t, vf->group != PCI_NO_GROUP);
        struct iommu_unit *u = iommu_unit_for(vf);
        if (u && !vf->driver)
            KEXPECT(t, iommu_dev_domain(vf) == u->blocked);
    }
    e->vfs += pf->num_vfs;
}

static void check_edu_mmio(struct ktest *t, struct hp_env *e, struct pci_dev *d)
{
    uint16_t cmd = pci_read16(e->sys, d, PCI_COMMAND);
    pci_write16(e->sys, d, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
    volatile uint32_t *mmio = mmio_map(d->bar[0].base, d->bar[0].size);
    KASSERT(t, mmio);
    KEXPECT_EQ(t, mmio[0] & 0xff, EDU_IDENT_MAGIC);
    pci_write16(e->sys, d, PCI_COMMAND, cmd);
}

static struct blk_dev *blk_of(const struct pci_dev *d)
{
    for (unsigned i = 0; i < blk_count(); i++)
        if (blk_get(i)->pci == d)
            return blk_get(i);
    return NULL;
}

/* hp_irq: completion interrupts turned on for this incarnation. The allocators hand out the
 * lowest free vector, remapping entry and ITS event, so an incarnation whose message differs
 * from the first one's means a previous one kept what it had. */
static void irq_on(struct ktest *t, struct hp_env *e, struct blk_dev *b)
{
    b->want_irq = true;
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);
    KASSERT(t, b->irq_on);
    if (!e->irq_vector) {
        e->irq_vector = b->irq_vector;
        e->msi_addr = b->msi.addr;
        e->msi_data = b->msi.data;
        return;
    }
    KEXPECT_EQ(t, b->irq_vector, e->irq_vector);
    KEXPECT_EQ(t, b->msi.addr, e->msi_addr);
    KEXPECT_EQ(t, b->msi.data, e->msi_data);
}

/* One page of the disk pattern written and read back into the page between the canaries, in
 * the pooled mode on even cycles and the strict one on odd cycles, at an LBA that moves; with
 * hp_irq, each of the two completions raises the device's vector. */
static void check_blk_io(struct ktest *t, struct hp_env *e, struct blk_dev *b, unsigned n)
{
    if (e->irq && !b->irq_on)
        irq_on(t, e, b);
    uint64_t irqs = b->nr_irqs;
    uint32_t nlb = HP_PAGE / b->lba_size;
    uint64_t spl = b->lba_size / 512, seed = 0x5eed0000u + n;
    uint64_t lba = ((uint64_t)n * nlb * 17) % (b->nlba - nlb) / nlb * nlb;
    uint8_t *page = e->buf + HP_PAGE;
    blk_set_mode(b, n & 1 ? BLK_DMA_STRICT : BLK_DMA_POOLED);
    test_blk_pattern(page, lba * spl, nlb * spl, seed);
    KEXPECT_EQ(t, blk_write(b, lba, nlb, page), 0);
    memset(page, 0, HP_PAGE);
    KEXPECT_EQ(t, blk_read(b, lba, nlb, page), 0);
    if (!e->nodata) {
        KEXPECT_EQ(t, test_blk_pattern_check(page, lba * spl, nlb * spl, seed), UINT64_MAX);
        e->bytes_verified += 2 * HP_PAGE;
    }
    KEXPECT(t, canaries_intact(e));
    e->ios += 2;
    if (e->irq) {
        KEXPECT(t, poll_until(b->nr_irqs >= irqs + 2, NSEC_PER_SEC) == 0);
        e->irqs += (unsigned)(b->nr_irqs - irqs);
    }
}

/* The new function as the runtime sees it, then what its driver does with it: a bound edu or
 * block device moves checked data; an unbound function sits in its unit's blocking domain. */
static void check_added(struct ktest *t, struct hp_env *e, struct pci_dev *d, unsigned n)
{
    check_placement(t, e, d);
    struct iommu_unit *u = iommu_unit_for(d);
    bool is_edu = ((uint32_t)d->device << 16 | d->vendor) == EDU_ID;
    struct edu_dev *ed = is_edu && d->driver ? edu_of(d) : NULL;
    struct blk_dev *b = d->driver ? blk_of(d) : NULL;
    if (ed && u)
        check_dma(t, e, ed, n);
    else if (b)
        check_blk_io(t, e, b, n);
    else if (u)
        KEXPECT(t, iommu_dev_domain(d) == u->blocked);
    /* what vfio-pci's first open does (pci_enable_decode, Linux's pci_enable_device): it
     * succeeds with a BAR that found no room (an igb's I/O BAR) */
    if (!d->driver)
        KEXPECT_EQ(t, pci_enable_decode(e->sys, d), 0);
    if (is_edu)
        check_edu_mmio(t, e, d);
    if (d->caps.sriov)
        check_vfs(t, e, d);
}

#define HP_INFLIGHT 8

/* I/Os the device holds when it is unplugged: strict reads into the odd pages of 16, the even
 * pages canaries. Each ends done, with its status or -ENODEV; an I/O that ended with -ENODEV
 * must never see its buffer written afterwards (refilled with canaries, then checked again
 * once the device is gone). */
struct hp_inflight {
    struct blk_io ios[HP_INFLIGHT];
    uint8_t *pages;
    uint64_t pa;
};

static void submit_inflight(struct ktest *t, struct blk_dev *b, struct hp_inflight *f)
{
    uint32_t nlb = HP_PAGE / b->lba_size;
    blk_plug(b);
    for (unsigned i = 0; i < HP_INFLIGHT; i++) {
        KASSERT(t, blk_io_prepare(b, &f->ios[i], BLK_DMA_STRICT, BLK_OP_READ, (uint64_t)i * nlb,
                                  nlb, f->pages + (2 * i + 1) * HP_PAGE) == 0);
        KASSERT(t, blk_io_submit(b, &f->ios[i]) == 0);
    }
    blk_unplug(b);
}

static bool pages_are(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void check_inflight_ended(struct ktest *t, struct hp_env *e, struct blk_dev *b,
                                 struct hp_inflight *f)
{
    unsigned enodev = 0;
    for (unsigned i = 0; i < HP_INFLIGHT; i++) {
        struct blk_io *io = &f->ios[i];
        KEXPECT(t, io->done);
        int status = io->done ? blk_io_complete(b, io) : -EINPROGRESS;
        KEXPECT(t, status == 0 || status == -ENODEV);
        if (io->status == -ENODEV) {
            enodev++;
            memset(f->pages + (2 * i + 1) * HP_PAGE, HP_CANARY, HP_PAGE);
        }
    }
    KEXPECT(t, enodev > 0);
    KEXPECT_EQ(t, blk_poll(b), -ENODEV);
    udelay(300000);     /* time for any late write to land */
    for (unsigned i = 0; i < HP_INFLIGHT; i++) {
        KEXPECT(t, pages_are(f->pages + 2 * i * HP_PAGE, HP_PAGE, HP_CANARY));
        if (f->ios[i].status == -ENODEV)
            KEXPECT(t, pages_are(f->pages + (2 * i + 1) * HP_PAGE, HP_PAGE, HP_CANARY));
    }
    e->ios += HP_INFLIGHT;
    e->ios_enodev += enodev;
}

static void one_cycle(struct ktest *t, struct hp_env *e, unsigned n)
{
    struct pci_hotplug_slot_info before = slot_info(e);
    kprintf("moat-qmp: device_add %s,id=hp%u,bus=%s\n", e->add, n, e->bus);
    KASSERT(t, wait_slot(e, true, before.added) == 0);
    struct pci_dev *d = pci_get_dev(e->sys, e->port->seg, e->port->secondary, 0);
    KASSERT(t, d);
    check_added(t, e, d, n);

    struct blk_dev *b = e->inflight && d->driver ? blk_of(d) : NULL;
    struct hp_inflight f = { .pages = NULL };
    if (b) {
        f.pages = pmm_alloc_zeroed(4, &f.pa);
        KASSERT(t, f.pages);
        memset(f.pages, HP_CANARY, 16 * HP_PAGE);
        submit_inflight(t, b, &f);
    }
    kprintf("moat-qmp: device_del hp%u\n", n);
    KASSERT(t, wait_slot(e, false, before.removed) == 0);
    KEXPECT(t, slot_info(e).state == PCI_SLOT_OFF);
    KEXPECT(t, pci_get_dev(e->sys, e->port->seg, e->port->secondary, 0) == NULL);
    KEXPECT_EQ(t, count_below(e), 0);
    /* QEMU detached it: nothing answers on the secondary bus any more. */
    KEXPECT_EQ(t, pci_cfg_read(e->sys, e->port->seg, e->port->secondary, 0, PCI_VENDOR_ID, 4),
               0xffffffffu);
    if (b) {
        check_inflight_ended(t, e, b, &f);
        pmm_free(f.pa, 4);
    }
}

static void plug_cycles(struct ktest *t)
{
    struct hp_env e;
    if (!hp_env(t, &e))
        return;
    uint64_t pa;
    e.buf = pmm_alloc_zeroed(2, &pa);   /* 4 pages: canary, target, canary, unused */
    KASSERT(t, e.buf);
    memset(e.buf, HP_CANARY, 4 * HP_PAGE);
    e.old_iova = 0;
    e.bytes_verified = e.stale_blocked = e.stale_faults = e.ios = e.ios_enodev = e.vfs = 0;
    struct pci_hotplug_slot_info start = slot_info(&e);
    e.irqs = 0;
    e.irq_vector = 0;
    uint32_t ndevs = e.sys->ndevs;
    int ngroups = (int)e.sys->ngroups;
    size_t heap = 0;
    uint64_t pages = 0;
    for (unsigned n = 0; n < e.cycles && t->failures == 0; n++) {
        one_cycle(t, &e, n);
        if (n == 0) {   /* the first BAR mappings build CPU page tables that stay */
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
    kprintf("hotplug: %u cycles of %s, %u devices -> %u, groups %d -> %u, %u VFs, %u I/Os (%u "
            "ended by removal with -ENODEV, %u completion interrupts), %u bytes verified, %u "
            "DMAs to a previous device's IOVA blocked (%u fault records), heap and pages back to "
            "the first cycle's; %u slot interrupts, %u command completions without theirs\n",
            e.cycles, e.add, ndevs, e.sys->ndevs, ngroups, e.sys->ngroups, e.vfs, e.ios,
            e.ios_enodev, e.irqs, e.bytes_verified, e.stale_blocked, e.stale_faults,
            slot_info(&e).irqs - start.irqs, slot_info(&e).cc_missed - start.cc_missed);
    pmm_free(pa, 2);
}

/* Polls the slots until the port's state is `state` (bounded). */
static int wait_state(struct hp_env *e, enum pci_slot_state state)
{
    return poll_until((pci_hotplug_poll(), slot_info(e).state == state), HP_EVENT_TIMEOUT_NS);
}

/* pciehp's blink window: pciehp_blink_ms, else Linux's 5 s. */
static uint64_t blink_window_ns(void)
{
    char v[24];
    unsigned long long ms = 5000;
    if (cmdline_get("pciehp_blink_ms", v, sizeof(v)))
        str_to_u64(v, NULL, 10, &ms);
    return ms * NSEC_PER_MSEC;
}

#define HP_QEMU_DEL_RETRY_NS (5500 * NSEC_PER_MSEC)   /* QEMU takes device_del again after 5 s */

/* Linux's second attention-button press within the blink window cancels the removal. QEMU
 * presses the button only for device_del, and refuses a second one while the power indicator
 * blinks, so the second press is made at the slot's state machine (pci_hotplug_press_button):
 * the removal must not happen, the device must stay and work, and a later device_del (once
 * QEMU takes one again) must remove it. */
static void button_cancel(struct ktest *t)
{
    struct hp_env e;
    if (!hp_env(t, &e))
        return;
    uint64_t pa;
    e.buf = pmm_alloc_zeroed(2, &pa);
    KASSERT(t, e.buf);
    memset(e.buf, HP_CANARY, 4 * HP_PAGE);
    e.old_iova = 0;
    e.bytes_verified = e.stale_blocked = e.stale_faults = e.ios = e.ios_enodev = e.vfs = 0;
    e.irqs = 0;
    e.irq_vector = 0;
    struct pci_hotplug_slot_info before = slot_info(&e);
    kprintf("moat-qmp: device_add %s,id=hpc,bus=%s\n", e.add, e.bus);
    KASSERT(t, wait_slot(&e, true, before.added) == 0);
    struct pci_dev *d = pci_get_dev(e.sys, e.port->seg, e.port->secondary, 0);
    KASSERT(t, d);

    kprintf("moat-qmp: device_del hpc\n");
    KASSERT(t, wait_state(&e, PCI_SLOT_BLINK_OFF) == 0);
    KEXPECT_EQ(t, pci_hotplug_press_button(e.port), 0);
    KEXPECT(t, slot_info(&e).state == PCI_SLOT_ON);
    KEXPECT_EQ(t, slot_info(&e).cancelled, before.cancelled + 1);
    /* Well past the blink window: still there, same function, still moving data. */
    uint64_t until = clock_ns() + 3 * blink_window_ns();
    while (clock_ns() < until)
        pci_hotplug_poll();
    KEXPECT_EQ(t, slot_info(&e).removed, before.removed);
    KEXPECT(t, pci_get_dev(e.sys, e.port->seg, e.port->secondary, 0) == d);
    KEXPECT(t, pci_cfg_read(e.sys, e.port->seg, e.port->secondary, 0, PCI_VENDOR_ID, 4) ==
               ((uint32_t)d->device << 16 | d->vendor));
    check_added(t, &e, d, 0);

    udelay(HP_QEMU_DEL_RETRY_NS / 1000);
    kprintf("moat-qmp: device_del hpc\n");
    KASSERT(t, wait_slot(&e, false, before.removed) == 0);
    KEXPECT(t, slot_info(&e).state == PCI_SLOT_OFF);
    KEXPECT(t, pci_get_dev(e.sys, e.port->seg, e.port->secondary, 0) == NULL);
    KEXPECT(t, canaries_intact(&e));
    kprintf("hotplug: a second press within the blink window cancelled the removal (%u "
            "cancelled), the device stayed and moved %u bytes, a later press removed it\n",
            slot_info(&e).cancelled - before.cancelled, e.bytes_verified);
    pmm_free(pa, 2);
}

KTEST_SUITE_EXPLICIT(hotplug, KTEST_CASE(plug_cycles));
KTEST_SUITE_EXPLICIT(hotplug_cancel, KTEST_CASE(button_cancel));
