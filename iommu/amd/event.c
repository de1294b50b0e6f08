/* The event log (AMD IOMMU spec 2.5, 3.4.3): hardware appends 16-byte records at the tail and
 * raises the IOMMU's MSI (its PCI function's MSI capability, 3.2.x) when EventIntEn is set;
 * software consumes from the head. Each record is decoded and handed to iommu_report_fault,
 * which prints the boot log's line and delivers it to the domain's owner.
 *
 * Overflow (2.5.2): when the log is full hardware sets EventOverflow and logs nothing more.
 * Recovery: drain what is there, turn logging off, clear the status bits, reset head and tail by
 * rewriting the base, turn logging back on. Without a usable MSI the log is polled (the in-image
 * tests poll as well, so a lost interrupt is a test failure, not a hang). */
#include "arch/arch.h"
#include "iommu/amd/amdvi.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "pci/pci_platform.h"

#define AMDVI_EVT_SLOTS (AMDVI_RING_BYTES / sizeof(struct amdvi_event))
#define PCI_MSI_FLAGS 2
#define PCI_MSI_FLAGS_ENABLE BIT(0)
#define PCI_MSI_FLAGS_64BIT BIT(7)
#define PCI_MSI_ADDR_LO 4
#define MSI_ADDR_BASE 0xfee00000u

static void amdvi_event_report(struct amdvi_unit *au, const struct amdvi_event *ev)
{
    struct iommu_fault f;
    unsigned code = amdvi_event_decode(ev, au->iu.seg, au->qemu_quirks, &f);
    au->nr_events++;
    bool unit_error = code == AMDVI_EV_ILLEGAL_COMMAND_ERROR ||
                      code == AMDVI_EV_COMMAND_HARDWARE_ERROR ||
                      code == AMDVI_EV_DEV_TAB_HARDWARE_ERROR ||
                      code == AMDVI_EV_PAGE_TAB_HARDWARE_ERROR;
    if (unit_error && (au->nr_unit_errors++ < 8 || au->nr_unit_errors % 1024 == 0))
        kprintf("amdvi: %s: %s at %#llx (event %#llx %#llx)\n", au->name, f.text,
                (unsigned long long)f.addr, (unsigned long long)ev->w[0],
                (unsigned long long)ev->w[1]);
    if (code == AMDVI_EV_ILLEGAL_COMMAND_ERROR || code == AMDVI_EV_COMMAND_HARDWARE_ERROR)
        return;     /* no device to blame: the command's address, not a DMA */
    iommu_report_fault(&au->iu, &f);
}

static void amdvi_evtlog_program(struct amdvi_unit *au)
{
    amdvi_write64(au, AMDVI_EVT_LOG_BASE,
                  au->evtlog_pa | FIELD_PREP(AMDVI_LEN_FIELD, AMDVI_RING_LEN_LOG2));
    amdvi_write64(au, AMDVI_EVT_HEAD, 0);
    amdvi_write64(au, AMDVI_EVT_TAIL, 0);
}

static void amdvi_event_restart(struct amdvi_unit *au)
{
    if (au->nr_overflows++ % 1024 == 0)
        kprintf("amdvi: %s: event log overflow: events were lost (%llu times); restarting it\n",
                au->name, (unsigned long long)au->nr_overflows);
    amdvi_ctrl(au, AMDVI_CTRL_EVT_LOG_EN | AMDVI_CTRL_EVT_INT_EN, false);
    /* The log may only be reprogrammed once hardware has stopped writing it (3.4.11). */
    if (poll_until(!(amdvi_read64(au, AMDVI_STATUS) & AMDVI_STS_EVT_RUN), AMDVI_WAIT_TIMEOUT_NS))
        kprintf("amdvi: %s: event log did not stop; reprogramming it anyway\n", au->name);
    amdvi_write64(au, AMDVI_STATUS, AMDVI_STS_EVT_OVERFLOW | AMDVI_STS_EVT_INT);
    amdvi_evtlog_program(au);
    amdvi_ctrl(au, AMDVI_CTRL_EVT_LOG_EN | (au->event_vector >= 0 ? AMDVI_CTRL_EVT_INT_EN : 0),
               true);
}

unsigned amdvi_event_poll(struct amdvi_unit *au)
{
    unsigned n = 0;
    uint64_t status = amdvi_read64(au, AMDVI_STATUS);
    /* Clear the interrupt bit first: a record arriving while we drain raises a new one. */
    if (status & AMDVI_STS_EVT_INT)
        amdvi_write64(au, AMDVI_STATUS, AMDVI_STS_EVT_INT);
    uint64_t head = amdvi_read64(au, AMDVI_EVT_HEAD) & AMDVI_RING_PTR;
    uint64_t tail = amdvi_read64(au, AMDVI_EVT_TAIL) & AMDVI_RING_PTR;
    while (head != tail && n < AMDVI_EVT_SLOTS) {
        unsigned idx = (unsigned)(head / sizeof(struct amdvi_event)) % AMDVI_EVT_SLOTS;
        struct amdvi_event ev = { { READ_ONCE(au->evtlog[idx].w[0]),
                                    READ_ONCE(au->evtlog[idx].w[1]) } };
        amdvi_event_report(au, &ev);
        head = (head + sizeof(struct amdvi_event)) % AMDVI_RING_BYTES;
        amdvi_write64(au, AMDVI_EVT_HEAD, head);
        n++;
        tail = amdvi_read64(au, AMDVI_EVT_TAIL) & AMDVI_RING_PTR;
    }
    if (status & AMDVI_STS_EVT_OVERFLOW)
        amdvi_event_restart(au);
    return n;
}

static void amdvi_event_irq(unsigned vector, void *ctx)
{
    amdvi_event_poll(ctx);
}

/* The event interrupt is the IOMMU function's own MSI, to this CPU in compatibility format. */
static int amdvi_event_msi(struct amdvi_unit *au)
{
    struct pci_system *sys = platform_pci();
    if (!au->pdev || !au->pdev->caps.msi || !sys || amdvi_opt("poll"))
        return -ENODEV;
    int vec = irq_alloc_vector(amdvi_event_irq, au);
    if (vec < 0)
        return vec;
    uint16_t cap = au->pdev->caps.msi;
    uint16_t flags = pci_read16(sys, au->pdev, cap + PCI_MSI_FLAGS);
    unsigned data_off = (flags & PCI_MSI_FLAGS_64BIT) ? 12 : 8;
    pci_write16(sys, au->pdev, cap + PCI_MSI_FLAGS, flags & ~PCI_MSI_FLAGS_ENABLE);
    pci_write32(sys, au->pdev, cap + PCI_MSI_ADDR_LO, MSI_ADDR_BASE | ((apic_id() & 0xff) << 12));
    if (flags & PCI_MSI_FLAGS_64BIT)
        pci_write32(sys, au->pdev, cap + PCI_MSI_ADDR_LO + 4, 0);
    pci_write16(sys, au->pdev, cap + data_off, (uint16_t)vec);
    /* Single message: MME stays 0. The message is a memory write by the function itself. */
    pci_write16(sys, au->pdev, cap + PCI_MSI_FLAGS, (flags & ~(7u << 4)) | PCI_MSI_FLAGS_ENABLE);
    pci_write16(sys, au->pdev, PCI_COMMAND,
                pci_read16(sys, au->pdev, PCI_COMMAND) | PCI_COMMAND_MASTER);
    au->event_vector = vec;
    return 0;
}

int amdvi_event_init(struct amdvi_unit *au)
{
    au->evtlog = pmm_alloc_zeroed(0, &au->evtlog_pa);
    if (!au->evtlog)
        return -ENOMEM;
    au->event_vector = -1;
    amdvi_ctrl(au, AMDVI_CTRL_EVT_LOG_EN | AMDVI_CTRL_EVT_INT_EN, false);
    /* The base is ignored while EventLogInt is pending (QEMU follows 3.4.3 to the letter). */
    amdvi_write64(au, AMDVI_STATUS, AMDVI_STS_EVT_OVERFLOW | AMDVI_STS_EVT_INT);
    amdvi_evtlog_program(au);
    int err = amdvi_event_msi(au);
    if (err)
        kprintf("amdvi: %s: no event interrupt (%s): the event log is polled\n", au->name,
                errno_name(err));
    amdvi_ctrl(au, AMDVI_CTRL_EVT_LOG_EN | (au->event_vector >= 0 ? AMDVI_CTRL_EVT_INT_EN : 0),
               true);
    return 0;
}
