/* PCIe native hot-plug: the slot state machine (see pci_hotplug.h). Slot register layouts are
 * PCIe 6.0 §7.5.3.9-11; the attention-button flow and its 5 s cancel window follow Linux's
 * pciehp, and QEMU's model (hw/pci/pcie.c) completes device_del when the slot's power
 * controller is turned off with the power indicator off. */
#include "pci/pci_hotplug.h"
#include "arch/arch.h"
#include "arch/intx.h"
#include "arch/msi.h"
#include "iommu/iommu.h"
#include "kernel/cmdline.h"
#include "kernel/driver.h"
#include "kernel/fd.h"
#include "kernel/init.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_internal.h"
#include "pci/pci_platform.h"

#define HP_MAX_SLOTS 32
#define HP_MAX_DRIVERS 8
#define HP_BLINK_MS 5000          /* Linux: the user may press again within 5 s to cancel */
#define HP_CMD_TIMEOUT_NS (1000 * NSEC_PER_MSEC)    /* Linux waits 1 s for Command Completed */
#define HP_LINK_TIMEOUT_NS (1000 * NSEC_PER_MSEC)
#define HP_SETTLE_US 100000       /* §6.6.1: 100 ms after the link is up before config requests */
#define HP_PRESENT_TIMEOUT_NS (1000 * NSEC_PER_MSEC)
#define HP_REQUEST_EVERY_NS (10 * NSEC_PER_SEC)     /* Linux re-asks a VFIO user every 10 s */
#define HP_IDLE_EVERY_NS (10 * NSEC_PER_MSEC)
/* A command's completion interrupt normally arrives at once; after this the status is read
 * instead (the interrupt may not come: another event was already pending, so the port sent
 * no new message). */
#define HP_CC_IRQ_WAIT_NS (20 * NSEC_PER_MSEC)
#define HP_ROUNDS 8               /* status reads per look before leaving the rest for later */
#define HP_EVENTS (PCI_EXP_SLTSTA_ABP | PCI_EXP_SLTSTA_PFD | PCI_EXP_SLTSTA_PDC | \
                   PCI_EXP_SLTSTA_DLLSC)

/* How a slot's events reach the runtime. */
enum hp_irq { HP_IRQ_NONE, HP_IRQ_MSIX, HP_IRQ_MSI, HP_IRQ_INTX };
static const char *const hp_irq_names[] = { "polled", "MSI-X", "MSI", "INTx" };

struct hp_slot {
    struct pci_dev *port;
    uint16_t exp;                 /* PCIe capability offset */
    uint32_t sltcap;
    bool dllla;                   /* the port reports Data Link Layer Link Active */
    uint64_t deadline;            /* BLINK_OFF: when the removal goes ahead; WAIT_RELEASE:
                                   * when the holder is asked again */
    unsigned requests;            /* WAIT_RELEASE: asked this many times */
    const char *why;              /* what started the removal */
    struct pci_hotplug_slot_info info;   /* info.irqs counts in the interrupt handler */
    enum hp_irq irq;
    int vector;                   /* MSI/MSI-X: the CPU vector, and the message for it */
    struct msi_msg msg;
    struct gsi_handler intx;      /* INTx: the handler on the port's line */
    volatile bool pending;        /* set by the interrupt: the slot's status wants a look */
    volatile bool intx_masked;    /* INTx: Interrupt Disable set by the handler */
};

static struct hp_slot slots[HP_MAX_SLOTS];
static unsigned nr_slots;
static const struct pci_hotplug_driver *drivers[HP_MAX_DRIVERS];
static unsigned nr_drivers;
static uint64_t blink_ns = HP_BLINK_MS * NSEC_PER_MSEC;
static volatile bool hp_work;     /* some slot's interrupt came since the last look */
/* pciehp_poll=: -1 (default) slots without an interrupt are polled; 0 none is (events come by
 * interrupt or not at all); 1 every slot is polled and none takes an interrupt. */
static int poll_mode = -1;
static bool use_msi = true;       /* pciehp_msi=0: INTx (or polling) even where MSI exists */


int pci_hotplug_register_driver(const struct pci_hotplug_driver *drv)
{
    if (nr_drivers == HP_MAX_DRIVERS)
        return ERR(-ENOSPC);
    drivers[nr_drivers++] = drv;
    return 0;
}

static uint16_t slot_status(struct pci_system *sys, struct hp_slot *s)
{
    return pci_read16(sys, s->port, s->exp + PCI_EXP_SLTSTA);
}

/* Writes back exactly the event bits that were seen (W1C): QEMU undoes a write that clears
 * events which were not set, taking it for a racy guest. */
static void slot_ack(struct pci_system *sys, struct hp_slot *s, uint16_t bits)
{
    if (bits)
        pci_write16(sys, s->port, s->exp + PCI_EXP_SLTSTA, bits);
}

/* One Slot Control write is one command (§6.7.3.2); without No Command Completed Support the
 * port reports its completion, which is waited for, bounded. */
static int slot_command(struct pci_system *sys, struct hp_slot *s, uint16_t mask, uint16_t val)
{
    uint16_t ctl = pci_read16(sys, s->port, s->exp + PCI_EXP_SLTCTL);
    unsigned irqs = READ_ONCE(s->info.irqs);
    ctl = (uint16_t)((ctl & ~mask) | (val & mask));
    pci_write16(sys, s->port, s->exp + PCI_EXP_SLTCTL, ctl);
    if (s->sltcap & PCI_EXP_SLTCAP_NCCS)
        return 0;
    if (s->irq != HP_IRQ_NONE && (ctl & PCI_EXP_SLTCTL_HPIE) && (ctl & PCI_EXP_SLTCTL_CCIE) &&
        poll_until(READ_ONCE(s->info.irqs) != irqs, HP_CC_IRQ_WAIT_NS))
        s->info.cc_missed++;
    int err = poll_until(slot_status(sys, s) & PCI_EXP_SLTSTA_CC, HP_CMD_TIMEOUT_NS);
    slot_ack(sys, s, slot_status(sys, s) & PCI_EXP_SLTSTA_CC);
    return err;
}

static int slot_power_indicator(struct pci_system *sys, struct hp_slot *s, unsigned ind)
{
    if (!(s->sltcap & PCI_EXP_SLTCAP_PIP))
        return 0;
    return slot_command(sys, s, PCI_EXP_SLTCTL_PIC, (uint16_t)FIELD_PREP(PCI_EXP_SLTCTL_PIC, ind));
}

static bool slot_powered(struct pci_system *sys, struct hp_slot *s)
{
    return !(s->sltcap & PCI_EXP_SLTCAP_PCP) ||
           !(pci_read16(sys, s->port, s->exp + PCI_EXP_SLTCTL) & PCI_EXP_SLTCTL_PCC);
}

/* Power off with the indicator off in one command: QEMU detaches the device on exactly that. */
static int slot_power_off(struct pci_system *sys, struct hp_slot *s)
{
    uint16_t mask = PCI_EXP_SLTCTL_PIC, val = FIELD_PREP(PCI_EXP_SLTCTL_PIC, PCI_EXP_SLTCTL_IND_OFF);
    if (s->sltcap & PCI_EXP_SLTCAP_PCP) {
        mask |= PCI_EXP_SLTCTL_PCC;
        val |= PCI_EXP_SLTCTL_PCC;
    }
    return slot_command(sys, s, mask, val);
}

static bool link_active(struct pci_system *sys, struct hp_slot *s)
{
    return pci_read16(sys, s->port, s->exp + PCI_EXP_LNKSTA) & PCI_EXP_LNKSTA_DLLLA;
}

static bool function0_present(struct pci_system *sys, struct hp_slot *s)
{
    uint32_t id = pci_cfg_read(sys, s->port->seg, s->port->secondary, 0, PCI_VENDOR_ID, 4);
    return id != 0xffffffffu && (id & 0xffff) != 0xffff && (id & 0xffff) != 0;
}

static void slot_name(const struct hp_slot *s, char *buf, size_t size)
{
    pci_format_bdf(s->port, buf, size);
}

/* What firmware does for the functions present at boot, which drivers expect: decode on for
 * the BARs that were placed. Bus mastering stays the driver's (and the IOMMU blocks it until
 * a driver attaches a domain). */
static void enable_decode(struct pci_system *sys, struct pci_dev *dev)
{
    uint16_t cmd = pci_read16(sys, dev, PCI_COMMAND), want = 0;
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
        if (dev->bar[i].flags & PCI_BAR_ASSIGNED)
            want |= (dev->bar[i].flags & PCI_BAR_IO) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    if (cmd != 0xffff && (cmd & want) != want)
        pci_write16(sys, dev, PCI_COMMAND, cmd | want);
}

static void bind_drivers(struct pci_system *sys, struct pci_dev *dev)
{
    for (unsigned i = 0; i < nr_drivers && !dev->driver; i++) {
        if (!driver_may_bind(drivers[i]->name))
            continue;
        int err = drivers[i]->probe(sys, dev);
        if (err && err != -ENODEV) {
            char bdf[16];
            pci_format_bdf(dev, bdf, sizeof(bdf));
            kprintf("pciehp: %s: %s probe failed: %s\n", bdf, drivers[i]->name,
                    errno_name(err));
        }
    }
}

/* Each function from first on, and its group: "<who>: added <BDF> ...". */
static void report_added(struct pci_system *sys, const char *who, uint32_t first)
{
    char bdf[16];
    for (uint32_t i = first; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        pci_format_bdf(d, bdf, sizeof(bdf));
        kprintf("%s: added %s [%04x:%04x] class %06x, group %d\n", who, bdf, d->vendor,
                d->device, d->class_rev >> 8, d->group);
        if (d->group != PCI_NO_GROUP)
            pci_print_group(sys, (unsigned)d->group);
    }
}

/* The functions from first on, just grouped: decode on as firmware would have left it, then
 * offered to the drivers. */
static void offer_added(struct pci_system *sys, uint32_t first)
{
    uint32_t end = sys->ndevs;
    for (uint32_t i = first; i < end; i++) {
        enable_decode(sys, &sys->devs[i]);
        bind_drivers(sys, &sys->devs[i]);
    }
}

/* SR-IOV PFs get their VFs as at boot: none unless "sriov_numvfs=max|N" asked for them. */
static void enable_vfs(struct pci_system *sys, uint32_t first)
{
    uint32_t end = sys->ndevs;
    unsigned max_vfs;
    if (!platform_pci_boot_vfs(&max_vfs))
        return;
    for (uint32_t i = first; i < end; i++) {
        struct pci_dev *pf = &sys->devs[i];
        if (!pf->caps.sriov || pf->is_virtfn || !pf->total_vfs)
            continue;
        int n = pci_sriov_enable(sys, pf, max_vfs && max_vfs < pf->total_vfs ? max_vfs : 0);
        if (n < 0) {
            char bdf[16];
            pci_format_bdf(pf, bdf, sizeof(bdf));
            kprintf("pciehp: %s: SR-IOV: %s\n", bdf, errno_name(n));
        }
    }
}

static int slot_enable(struct pci_system *sys, struct hp_slot *s)
{
    int err = 0;
    if (!slot_powered(sys, s))
        err = slot_command(sys, s, PCI_EXP_SLTCTL_PCC, 0);
    if (!err)
        err = slot_power_indicator(sys, s, PCI_EXP_SLTCTL_IND_BLINK);
    if (!err && s->dllla)
        err = poll_until(link_active(sys, s), HP_LINK_TIMEOUT_NS);
    if (!err) {
        udelay(HP_SETTLE_US);
        err = poll_until(function0_present(sys, s), HP_PRESENT_TIMEOUT_NS);
    }
    uint32_t first = err ? sys->ndevs : pci_scan_below(sys, s->port);
    if (!err && first == sys->ndevs)
        err = -ENODEV;
    if (!err)
        pci_assign_below(sys, s->port);     /* what does not fit is named and left out */
    if (err) {
        char port[16];
        slot_name(s, port, sizeof(port));
        kprintf("pciehp: %s: the device did not come up (%s); slot powered off\n", port,
                errno_name(err));
        pci_remove_below(sys, s->port);
        slot_power_off(sys, s);
        s->info.failed++;
        return err;
    }
    enable_vfs(sys, first);
    pci_group_added(sys, first);
    s->info.state = PCI_SLOT_ON;
    s->info.added++;
    slot_power_indicator(sys, s, PCI_EXP_SLTCTL_IND_ON);
    char who[32], port[16];
    slot_name(s, port, sizeof(port));
    fmt_snprintf(who, sizeof(who), "pciehp: %s", port);
    report_added(sys, who, first);
    offer_added(sys, first);
    return 0;
}

static const struct pci_hotplug_driver *driver_of(const struct pci_dev *dev)
{
    for (unsigned i = 0; dev->driver && i < nr_drivers; i++)
        if (strcmp(drivers[i]->name, dev->driver) == 0)
            return drivers[i];
    return NULL;
}

/* Children before their bridge, so that nothing below a function outlives it. */
static void unbind_subtree(struct pci_system *sys, struct pci_dev *dev)
{
    for (uint32_t c = dev->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
        unbind_subtree(sys, &sys->devs[c]);
    const struct pci_hotplug_driver *drv = driver_of(dev);
    if (drv && drv->remove)
        drv->remove(sys, dev);
    else if (dev->driver)
        kprintf("pciehp: driver %s cannot let go of a device; it is blocked under it\n",
                dev->driver);
    pci_set_driver(dev, NULL);
    if (sys->holder)
        sys->holder->leaving(dev);
    if (iommu_unit_for(dev))
        iommu_attach(NULL, dev);
    uint16_t cmd = pci_read16(sys, dev, PCI_COMMAND);
    if (cmd != 0xffff)
        pci_write16(sys, dev, PCI_COMMAND, cmd & ~(PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY |
                                                   PCI_COMMAND_IO));
}

static void slot_disable(struct pci_system *sys, struct hp_slot *s, const char *why)
{
    char port[16];
    slot_name(s, port, sizeof(port));
    for (uint32_t c = s->port->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
        unbind_subtree(sys, &sys->devs[c]);
    pci_remove_below(sys, s->port);
    int err = slot_power_off(sys, s);
    s->info.state = PCI_SLOT_OFF;
    s->info.removed++;
    kprintf("pciehp: %s: removed (%s)%s\n", port, why, err ? ", power-off not acknowledged" : "");
}

static bool subtree_held(struct pci_system *sys, struct pci_dev *dev)
{
    for (uint32_t c = dev->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
        if (subtree_held(sys, &sys->devs[c]))
            return true;
    return sys->holder && sys->holder->held(dev);
}

static void subtree_request(struct pci_system *sys, struct pci_dev *dev, unsigned count)
{
    for (uint32_t c = dev->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
        subtree_request(sys, &sys->devs[c], count);
    if (sys->holder && sys->holder->held(dev))
        sys->holder->request(dev, count);
}

static bool port_held(struct pci_system *sys, struct hp_slot *s)
{
    for (uint32_t c = s->port->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
        if (subtree_held(sys, &sys->devs[c]))
            return true;
    return false;
}

/* ---- SR-IOV at run time (pci_platform.h): the VFs come and go as a hot-plugged function's
 * subtree does, through the same enumeration, grouping, driver offer and unbinding ---- */

int pci_sriov_set_numvfs(struct pci_dev *pf, unsigned num_vfs)
{
    struct pci_system *sys = platform_pci();
    if (!sys || pf->gone || !pf->caps.sriov || pf->is_virtfn || !pf->total_vfs)
        return ERR(-ENODEV);
    if (num_vfs > pf->total_vfs)
        return ERR(-ERANGE);
    if (num_vfs == pf->num_vfs)
        return num_vfs;
    uint32_t idx = pci_dev_index(sys, pf);
    char bdf[16];
    pci_format_bdf(pf, bdf, sizeof(bdf));
    if (num_vfs == 0) {
        for (uint32_t v = idx + 1; v < sys->ndevs; v++)
            if (!sys->devs[v].gone && sys->devs[v].is_virtfn && sys->devs[v].physfn == idx &&
                sys->holder && sys->holder->held(&sys->devs[v]))
                return ERR(-EBUSY);
        for (uint32_t v = idx + 1; v < sys->ndevs; v++)
            if (!sys->devs[v].gone && sys->devs[v].is_virtfn && sys->devs[v].physfn == idx)
                unbind_subtree(sys, &sys->devs[v]);
        unsigned had = pf->num_vfs;
        int err = pci_sriov_disable(sys, pf);
        if (!err)
            kprintf("pci %s: %u VFs disabled\n", bdf, had);
        return err;
    }
    if (pf->num_vfs)
        return ERR(-EBUSY);
    uint32_t first = sys->ndevs;
    int n = pci_sriov_enable(sys, pf, num_vfs);
    if (n >= 0 && sys->ndevs - first < num_vfs) {
        /* devs[] filled up: none of them, rather than a PF with VFs it does not know */
        pci_sriov_disable(sys, &sys->devs[idx]);
        n = ERR(-ENOSPC);
    }
    if (n < 0) {
        kprintf("pci %s: SR-IOV: %u VFs not enabled (%s)\n", bdf, num_vfs, errno_name(n));
        return n;
    }
    pci_group_added(sys, first);
    char who[32];
    fmt_snprintf(who, sizeof(who), "pci %s", bdf);
    kprintf("%s: %d VFs enabled\n", who, n);
    report_added(sys, who, first);
    offer_added(sys, first);
    return n;
}

/* The removal: at once, or once every holder has let go (asked again every 10 s). */
static int slot_remove(struct pci_system *sys, struct hp_slot *s, const char *why)
{
    if (s->info.state != PCI_SLOT_WAIT_RELEASE) {
        s->why = why;
        s->requests = 0;
    }
    if (!port_held(sys, s)) {
        slot_disable(sys, s, s->why);
        return 1;
    }
    if (s->info.state != PCI_SLOT_WAIT_RELEASE || clock_ns() >= s->deadline) {
        char port[16];
        slot_name(s, port, sizeof(port));
        if (s->requests == 0)
            kprintf("pciehp: %s: a program holds the device: asking it to let go\n", port);
        for (uint32_t c = s->port->first_child; c != PCI_NONE; c = sys->devs[c].next_sibling)
            subtree_request(sys, &sys->devs[c], s->requests);
        s->requests++;
        s->deadline = clock_ns() + HP_REQUEST_EVERY_NS;
        s->info.state = PCI_SLOT_WAIT_RELEASE;
    }
    return 0;
}

static int slot_button(struct pci_system *sys, struct hp_slot *s, bool present)
{
    char port[16];
    slot_name(s, port, sizeof(port));
    switch (s->info.state) {
    case PCI_SLOT_ON:
        s->info.state = PCI_SLOT_BLINK_OFF;
        s->deadline = clock_ns() + blink_ns;
        slot_power_indicator(sys, s, PCI_EXP_SLTCTL_IND_BLINK);
        kprintf("pciehp: %s: attention button: removing in %llu ms unless pressed again\n",
                port, (unsigned long long)(blink_ns / NSEC_PER_MSEC));
        return 0;
    case PCI_SLOT_BLINK_OFF:
        s->info.state = PCI_SLOT_ON;
        s->info.cancelled++;
        slot_power_indicator(sys, s, PCI_EXP_SLTCTL_IND_ON);
        kprintf("pciehp: %s: attention button pressed again: removal cancelled\n", port);
        return 0;
    default:
        return present && slot_enable(sys, s) == 0;
    }
}

/* ---- interrupts: the handlers only note that the slot has work ---- */

static void slot_signal(unsigned vector, void *ctx)
{
    struct hp_slot *s = ctx;
    s->info.irqs++;
    s->pending = true;
    hp_work = true;
}

/* INTx is level-triggered and may be shared: ours only when the port says it asserts it; then
 * quietened with Interrupt Disable until the slot's status has been read and acknowledged. */
static void slot_intx(void *ctx)
{
    struct hp_slot *s = ctx;
    struct pci_system *sys = platform_pci();
    if (s->intx_masked || !(pci_read16(sys, s->port, PCI_STATUS) & PCI_STATUS_INTERRUPT))
        return;
    pci_write16(sys, s->port, PCI_COMMAND,
                pci_read16(sys, s->port, PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
    s->intx_masked = true;
    slot_signal(0, s);
}

static void slot_intx_unmask(struct pci_system *sys, struct hp_slot *s)
{
    uint64_t f = irq_save();
    if (s->intx_masked) {
        s->intx_masked = false;
        pci_write16(sys, s->port, PCI_COMMAND,
                    pci_read16(sys, s->port, PCI_COMMAND) & ~PCI_COMMAND_INTX_DISABLE);
    }
    irq_restore(f);
}

/* Where the port's IOMMU unit translates MSIs (SMMUv3: they are writes like any other, to the
 * ITS doorbell), the port needs a domain that maps the doorbell: a paging domain of its own
 * holding nothing else, as Linux gives every port a default domain. The port itself never
 * does DMA; the blocked domain (or no stream table entry at all) would abort its messages.
 * Units that remap interrupts beside translation (VT-d, AMD-Vi) take them in any domain. */
static int slot_msi_domain(struct hp_slot *s)
{
    struct iommu_unit *u = iommu_unit_for(s->port);
    struct iommu_domain *cur = iommu_dev_domain(s->port), *d;
    if (!u || !u->ops->msi_address || (cur && cur->type == IOMMU_DOMAIN_PAGING))
        return 0;
    int err = iommu_domain_alloc(u, IOMMU_DOMAIN_PAGING, NULL, &d);
    if (err)
        return err;
    err = iommu_attach(d, s->port);
    if (err)
        iommu_domain_free(d);
    return err;
}

static int slot_vector(struct hp_slot *s)
{
    int err = slot_msi_domain(s);
    if (err)
        return err;
    int vec = irq_alloc_vector(slot_signal, s);
    if (vec < 0)
        return vec;
    err = msi_compose(s->port, (unsigned)vec, &s->msg);
    if (err) {
        irq_free_vector((unsigned)vec);
        return err;
    }
    s->vector = vec;
    return 0;
}

/* The port sends its hot-plug events with the message its PCIe capability names (Interrupt
 * Message Number): that MSI-X entry, or MSI's only message. Bus mastering carries it. */
static int slot_msix(struct pci_system *sys, struct hp_slot *s, unsigned msg)
{
    volatile uint32_t *e = msix_entry_map(sys, s->port, msg);
    if (!e)
        return -EINVAL;
    int err = pci_enable_device(sys, s->port);
    if (!err)
        err = slot_vector(s);
    if (err)
        return err;
    msix_entry_write(e, &s->msg, false);
    msix_set_enable(sys, s->port, true);
    s->irq = HP_IRQ_MSIX;
    return 0;
}

static int slot_msi(struct pci_system *sys, struct hp_slot *s, unsigned msg)
{
    if (msg != 0)
        return -EINVAL;         /* one message enabled: only number 0 exists */
    int err = pci_enable_device(sys, s->port);
    if (!err)
        err = slot_vector(s);
    if (!err)
        err = msi_enable(sys, s->port, &s->msg);
    if (err)
        return err;
    s->irq = HP_IRQ_MSI;
    return 0;
}

static int slot_intx_attach(struct pci_system *sys, struct hp_slot *s)
{
    unsigned gsi, flags;
    if (!pci_read8(sys, s->port, PCI_INTERRUPT_PIN))
        return -ENODEV;
    int err = pci_intx_route(sys, s->port, &gsi, &flags);
    if (err)
        return err;
    s->intx = (struct gsi_handler){ .fn = slot_intx, .ctx = s };
    pci_write16(sys, s->port, PCI_COMMAND,
                pci_read16(sys, s->port, PCI_COMMAND) & ~PCI_COMMAND_INTX_DISABLE);
    err = ioapic_gsi_attach(gsi, flags, &s->intx);
    if (err)
        return err;
    s->irq = HP_IRQ_INTX;
    return 0;
}

/* Without pciehp_poll=0, a slot on INTx is polled as well: QEMU 10.0's root ports drop their
 * INTx level at every configuration write while MSI is off (the AER root-error update sets the
 * line to the AER state: hw/pci/pcie_aer.c,
 * pcie_aer_root_write_config), so a level raised by a command's completion is
 * lost and the line then stays low with events pending. */
static bool slot_polled(const struct hp_slot *s)
{
    return poll_mode == 1 ||
           (poll_mode == -1 && (s->irq == HP_IRQ_NONE || s->irq == HP_IRQ_INTX));
}

/* As Linux's port driver chooses: MSI-X, else MSI, else INTx; none leaves the slot polled. The
 * boot-log line says which (and why none). */
static void slot_irq_setup(struct pci_system *sys, struct hp_slot *s, char *how, size_t size)
{
    if (poll_mode == 1) {
        fmt_snprintf(how, size, "events polled (pciehp_poll=1)");
        return;
    }
    unsigned msg = FIELD_GET(PCI_EXP_FLAGS_IRQ, pci_read16(sys, s->port, s->exp + PCI_EXP_FLAGS));
    int err = -ENODEV;
    if (use_msi && s->port->caps.msix)
        err = slot_msix(sys, s, msg);
    if (err && use_msi && s->port->caps.msi)
        err = slot_msi(sys, s, msg);
    if (err)
        err = slot_intx_attach(sys, s);
    if (!err)
        fmt_snprintf(how, size, "events by %s%s", hp_irq_names[s->irq],
                     slot_polled(s) ? ", and polled" : "");
    else if (poll_mode == 0)
        fmt_snprintf(how, size, "no interrupt (%s) and pciehp_poll=0: events are not seen",
                 errno_name(err));
    else
        fmt_snprintf(how, size, "events polled: no interrupt (%s)", errno_name(err));
}

/* ---- the slot's work, in thread context ---- */

static int slot_event(struct pci_system *sys, struct hp_slot *s, uint16_t events, bool present)
{
    if (events & (PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC)) {
        /* QEMU signals a hot-add as presence change and button press together: the presence
         * decides, as in Linux (a press on an empty, off slot means nothing). */
        if (present && s->info.state == PCI_SLOT_OFF)
            return slot_enable(sys, s) == 0;
        if (!present && s->info.state != PCI_SLOT_OFF)
            return slot_remove(sys, s, "surprise removal");
    } else if (events & PCI_EXP_SLTSTA_ABP && s->info.state != PCI_SLOT_WAIT_RELEASE) {
        return slot_button(sys, s, present);
    }
    return 0;
}

/* Reads the status, acknowledges exactly what it read and acts on it, until a read finds no
 * event: an MSI is sent only when the port goes from no enabled event pending to one (PCIe
 * 6.0 §6.7.3.4), so events that arrived meanwhile raise no message of their own. Presence comes
 * from the same read as the events acknowledged: QEMU's monitor runs beside the vCPU, and a
 * device_add landing between a read and a fresh one would have its PDC cleared with an older
 * one and leave its ABP behind, taken later for a press on a live slot. From one snapshot, the
 * leftover ABP (with presence) finds the slot off and enables it. */
static int slot_events(struct pci_system *sys, struct hp_slot *s)
{
    int done = 0;
    unsigned round;
    s->pending = false;
    for (round = 0; round < HP_ROUNDS; round++) {
        uint16_t sta = slot_status(sys, s);
        uint16_t events = sta & (HP_EVENTS | PCI_EXP_SLTSTA_CC);
        if (!events)
            break;
        slot_ack(sys, s, events);
        if (s->irq == HP_IRQ_INTX)
            slot_intx_unmask(sys, s);
        done += slot_event(sys, s, events & HP_EVENTS, sta & PCI_EXP_SLTSTA_PDS);
    }
    if (s->irq == HP_IRQ_INTX)
        slot_intx_unmask(sys, s);
    if (round == HP_ROUNDS)
        s->pending = true;      /* more next time */
    return done;
}

/* Reads a slot's status only when its interrupt came (or it is polled); the blink window and a
 * holder's release are checked against the clock without touching the slot. */
static int slot_work(struct pci_system *sys, struct hp_slot *s)
{
    int done = 0;
    bool polled = slot_polled(s);
    if (s->pending || polled)
        done = slot_events(sys, s);
    if ((s->info.state == PCI_SLOT_BLINK_OFF && clock_ns() >= s->deadline) ||
        s->info.state == PCI_SLOT_WAIT_RELEASE)
        done |= slot_remove(sys, s, "attention button");
    return done;
}

int pci_hotplug_poll(void)
{
    struct pci_system *sys = platform_pci();
    int n = 0;
    hp_work = false;
    for (unsigned i = 0; sys && i < nr_slots; i++)
        n += slot_work(sys, &slots[i]);
    return n;
}

/* While a program waits in poll(2) (kernel/fd.c): at once when a slot's interrupt came, else
 * at most every 10 ms (for polled slots, the blink window and a holder's release). */
void moat_idle_work(void)
{
    static uint64_t last;
    uint64_t now = clock_ns();
    if (nr_slots == 0 || (!hp_work && now - last < HP_IDLE_EVERY_NS))
        return;
    last = now;
    pci_hotplug_poll();
}

int pci_hotplug_press_button(const struct pci_dev *port)
{
    struct pci_system *sys = platform_pci();
    for (unsigned i = 0; sys && i < nr_slots; i++)
        if (slots[i].port == port)
            return slot_event(sys, &slots[i], PCI_EXP_SLTSTA_ABP,
                              slot_status(sys, &slots[i]) & PCI_EXP_SLTSTA_PDS);
    return -ENODEV;
}

int pci_hotplug_slot_info(const struct pci_dev *port, struct pci_hotplug_slot_info *out)
{
    for (unsigned i = 0; i < nr_slots; i++) {
        if (slots[i].port == port) {
            *out = slots[i].info;
            return 0;
        }
    }
    return -ENODEV;
}

/* Takes a slot over as Linux's pciehp does at probe: stale events cleared, an empty slot
 * powered off, the port's interrupt set up, presence/link/button events enabled and, with an
 * interrupt, Hot-Plug and Command Completed interrupts too. A slot that reports no presence
 * while functions were enumerated below it is someone else's (QEMU's ACPI hot-plug, q35's
 * default: Linux would not get native control through _OSC): left alone. */
static void slot_init(struct pci_system *sys, struct pci_dev *port)
{
    struct hp_slot *s = &slots[nr_slots];
    char bdf[16], how[80];
    pci_format_bdf(port, bdf, sizeof(bdf));
    s->port = port;
    s->exp = port->caps.exp;
    bool present = slot_status(sys, s) & PCI_EXP_SLTSTA_PDS;
    if (!present && port->first_child != PCI_NONE) {
        kprintf("pciehp: %s: no presence reported with a device below: hot-plug left to the "
                "firmware\n", bdf);
        return;
    }
    nr_slots++;
    s->sltcap = pci_read32(sys, port, s->exp + PCI_EXP_SLTCAP);
    s->dllla = pci_read32(sys, port, s->exp + PCI_EXP_LNKCAP) & PCI_EXP_LNKCAP_DLLLARC;
    slot_ack(sys, s, slot_status(sys, s) & (HP_EVENTS | PCI_EXP_SLTSTA_CC));
    present = slot_status(sys, s) & PCI_EXP_SLTSTA_PDS;
    s->info.state = present && slot_powered(sys, s) ? PCI_SLOT_ON : PCI_SLOT_OFF;
    slot_irq_setup(sys, s, how, sizeof(how));
    uint16_t enable = PCI_EXP_SLTCTL_ABPE | PCI_EXP_SLTCTL_PDCE | PCI_EXP_SLTCTL_DLLSCE;
    if (s->irq != HP_IRQ_NONE)
        enable |= PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_CCIE;
    slot_command(sys, s, PCI_EXP_SLTCTL_ABPE | PCI_EXP_SLTCTL_PDCE | PCI_EXP_SLTCTL_DLLSCE |
                 PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_CCIE, enable);
    s->pending = true;          /* anything that came before the interrupt was on */
    if (s->info.state == PCI_SLOT_OFF && !present && slot_powered(sys, s))
        slot_power_off(sys, s);
    kprintf("pciehp: %s: slot %u, %s; windows mem [%#llx +%#llx] pref [%#llx +%#llx]; %s\n",
            bdf, (unsigned)FIELD_GET(PCI_EXP_SLTCAP_PSN, s->sltcap),
            s->info.state == PCI_SLOT_ON ? "occupied" : "empty",
            (unsigned long long)port->win_mem.base, (unsigned long long)port->win_mem.size,
            (unsigned long long)port->win_pref.base, (unsigned long long)port->win_pref.size,
            how);
    if (present && s->info.state == PCI_SLOT_OFF)
        slot_enable(sys, s);   /* present at boot but powered off */
}

static int pciehp_init(void)
{
    struct pci_system *sys = platform_pci();
    char v[24];
    unsigned long long ms;
    if (cmdline_get("pciehp_blink_ms", v, sizeof(v)) && str_to_u64(v, NULL, 10, &ms) == 0)
        blink_ns = ms * NSEC_PER_MSEC;
    if (cmdline_get("pciehp_poll", v, sizeof(v))) {
        poll_mode = strcmp(v, "0") == 0 ? 0 : strcmp(v, "1") == 0 ? 1 : -1;
        if (poll_mode == -1)
            kprintf("pciehp: pciehp_poll=%s: neither 0 nor 1, ignored\n", v);
    }
    if (cmdline_get("pciehp_msi", v, sizeof(v)))
        use_msi = strcmp(v, "0") != 0;
    for (uint32_t i = 0; sys && i < sys->ndevs && nr_slots < HP_MAX_SLOTS; i++)
        if (!sys->devs[i].gone && sys->devs[i].hotplug_slot && sys->devs[i].secondary)
            slot_init(sys, &sys->devs[i]);
    return 0;
}
MOAT_UNIT(70_driver, pciehp, pciehp_init);
