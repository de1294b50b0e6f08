/* pciehp's slot state machine and event delivery (pci/pci_hotplug.c, compiled into this test)
 * over the PCI model, with a root port whose slot registers behave as QEMU's hw/pci/pcie.c does:
 * Slot Status events are write-1-to-clear, every Slot Control write is a command that completes
 * at once (Command Completed), powering off an occupied slot with the indicator off detaches
 * the device (presence lost, Presence Detect Changed), and the port sends its MSI-X message
 * only when it goes from no enabled event pending to one (PCIe 6.0 §6.7.3.4). The message
 * calls the vector's handler at once, as an interrupt would. What QEMU cannot do is done here:
 * an event landing between the runtime's status read and its acknowledgement, and a second
 * press of the attention button within the blink window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/pci_hotplug.c"

#include "lib/errno.h"
#include "tests/host/pci/pci_test_util.h"

#define EV_SUPPORTED 0x1fu          /* ABP PFD MRLSC PDC CC, with the same bits in Slot Control */

struct slot_model {
    struct topo t;
    int port_fn, child_fn;          /* model functions */
    struct pci_dev *port;
    uint16_t exp, msix;
    uint8_t child_id[4];            /* the child's vendor/device while plugged */
    bool notified;                  /* QEMU's hpev_notified */
    unsigned msgs;                  /* MSI-X messages sent */
    unsigned bad_acks;              /* acknowledgements of events that were not pending */
    unsigned reads;                 /* configuration reads made through the model */
    uint16_t inject_at_ack;         /* events that arrive just before the next acknowledgement */
    uint32_t table[4];              /* MSI-X entry 0 */
    irq_handler_fn handler;
    void *handler_ctx;
    unsigned vector;
};

static struct slot_model m;
static const char *cmdline = "";
static int with_igb;                /* setup() adds an igb with this many VFs at 00:04.0 */

/* ---- what the image provides, modelled ---- */

struct pci_system *platform_pci(void)
{
    return &m.t.sys;
}

int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
    m.handler = fn;
    m.handler_ctx = ctx;
    m.vector = 0x41;
    return (int)m.vector;
}

void irq_free_vector(unsigned vector)
{
    m.handler = NULL;
}

int msi_compose(struct pci_dev *dev, unsigned vector, struct msi_msg *msg)
{
    msg->addr = 0xfee00000u;
    msg->data = vector;
    return 0;
}

void msi_free(struct pci_dev *dev, const struct msi_msg *msg)
{
}

void *mmio_map(uint64_t pa, uint64_t size)
{
    return m.table;                 /* the port's BAR 0 holds the table at offset 0 */
}

int pci_intx_route(struct pci_system *sys, const struct pci_dev *dev, unsigned *gsi,
                   unsigned *flags)
{
    return -ENODEV;
}

int ioapic_gsi_attach(unsigned gsi, unsigned flags, struct gsi_handler *h)
{
    return -ENODEV;
}

struct iommu_unit *iommu_unit_for(const struct pci_dev *dev)
{
    return NULL;
}

struct iommu_domain *iommu_dev_domain(const struct pci_dev *dev)
{
    return NULL;
}

int iommu_attach(struct iommu_domain *d, struct pci_dev *dev)
{
    return -ENODEV;
}

int iommu_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                       const struct iommu_domain_cfg *cfg, struct iommu_domain **out)
{
    return -ENODEV;
}

void iommu_domain_free(struct iommu_domain *d)
{
}

bool cmdline_get(const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    for (const char *p = cmdline; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(out, size, "%.*s", (int)(len - klen - 1), p + klen + 1);
            return true;
        }
        p += len + (end != NULL);
    }
    return false;
}

bool driver_may_bind(const char *driver_name)
{
    return true;
}

/* pci_ecam.c's "sriov_numvfs=max|N" word, read from this test's command line. */
bool platform_pci_boot_vfs(unsigned *max_vfs)
{
    char v[16];
    if (!cmdline_get("sriov_numvfs", v, sizeof(v)))
        return false;
    *max_vfs = strcmp(v, "max") == 0 ? 0 : (unsigned)strtoul(v, NULL, 10);
    return true;
}

void udelay(uint64_t us)
{
}

/* ---- the port's slot, as QEMU models it ---- */

static uint16_t cap_of(struct fake_pci *f, int fn, uint8_t id)
{
    for (uint8_t p = f->fns[fn].cfg[PCI_CAPABILITY_LIST]; p; p = f->fns[fn].cfg[p + 1])
        if (f->fns[fn].cfg[p] == id)
            return p;
    return 0;
}

static uint8_t *port_cfg(unsigned off)
{
    return &m.t.f.fns[m.port_fn].cfg[off];
}

static uint16_t reg16(unsigned off)
{
    return (uint16_t)(port_cfg(off)[0] | port_cfg(off)[1] << 8);
}

static void set16(unsigned off, uint16_t v)
{
    port_cfg(off)[0] = (uint8_t)v;
    port_cfg(off)[1] = (uint8_t)(v >> 8);
}

static uint16_t sltsta(void)
{
    return reg16(m.exp + PCI_EXP_SLTSTA);
}

static uint16_t sltctl(void)
{
    return reg16(m.exp + PCI_EXP_SLTCTL);
}

static bool events_enabled_pending(void)
{
    return (sltctl() & PCI_EXP_SLTCTL_HPIE) && (sltsta() & sltctl() & EV_SUPPORTED);
}

static void notify(void)
{
    bool prev = m.notified;
    m.notified = events_enabled_pending();
    bool msix_on = reg16(m.msix + 2) & BIT(15);
    if (m.notified && !prev && msix_on && !(m.table[3] & 1) && m.handler) {
        m.msgs++;
        m.handler(m.vector, m.handler_ctx);
    }
}

static void slot_event_in(uint16_t bits)
{
    if ((sltsta() & bits) == bits)
        return;
    set16(m.exp + PCI_EXP_SLTSTA, sltsta() | bits);
    notify();
}

static void child_visible(bool on)
{
    uint8_t *id = m.t.f.fns[m.child_fn].cfg;
    if (on)
        memcpy(id, m.child_id, 4);
    else
        memset(id, 0xff, 4);
}

static void plug(void)
{
    child_visible(true);
    set16(m.exp + PCI_EXP_SLTSTA, sltsta() | PCI_EXP_SLTSTA_PDS);
    slot_event_in(PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP);
}

static void port_write(uint16_t off, unsigned width, uint32_t val)
{
    if (off == m.exp + PCI_EXP_SLTSTA && width == 2) {
        if (m.inject_at_ack) {
            slot_event_in(m.inject_at_ack);
            m.inject_at_ack = 0;
        }
        uint16_t sta = sltsta();
        if (val & ~sta & EV_SUPPORTED)
            m.bad_acks++;
        set16(m.exp + PCI_EXP_SLTSTA, (uint16_t)(sta & ~(val & (EV_SUPPORTED | 0x100))));
        m.notified = events_enabled_pending();
        return;
    }
    if (off == m.exp + PCI_EXP_SLTCTL && width == 2) {
        uint16_t old = sltctl(), pic_off = FIELD_PREP(PCI_EXP_SLTCTL_PIC, PCI_EXP_SLTCTL_IND_OFF);
        set16(m.exp + PCI_EXP_SLTCTL, (uint16_t)val);
        bool off_now = (val & PCI_EXP_SLTCTL_PCC) && (val & PCI_EXP_SLTCTL_PIC) == pic_off;
        bool off_before = (old & PCI_EXP_SLTCTL_PCC) && (old & PCI_EXP_SLTCTL_PIC) == pic_off;
        if ((sltsta() & PCI_EXP_SLTSTA_PDS) && off_now && !off_before) {
            child_visible(false);
            set16(m.exp + PCI_EXP_SLTSTA,
                  (uint16_t)((sltsta() & ~PCI_EXP_SLTSTA_PDS) | PCI_EXP_SLTSTA_PDC));
        }
        notify();
        slot_event_in(PCI_EXP_SLTSTA_CC);
        return;
    }
    fake_pci_ops.write(&m.t.f, m.port->seg, m.port->bus, m.port->devfn, off, width, val);
}

static uint32_t model_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                           unsigned width)
{
    m.reads++;
    return fake_pci_ops.read(&m.t.f, seg, bus, devfn, off, width);
}

static void model_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
                        unsigned width, uint32_t val)
{
    if (m.port && seg == m.port->seg && bus == m.port->bus && devfn == m.port->devfn)
        port_write(off, width, val);
    else
        fake_pci_ops.write(&m.t.f, seg, bus, devfn, off, width, val);
}

static const struct pci_cfg_ops model_ops = { model_read, model_write, NULL };

/* q35 with an empty hot-plug root port at 00:06.0 (MSI-X with one entry in BAR 0, as QEMU's
 * pcie-root-port) and an edu for it that is not plugged yet; pciehp takes the slot over. */
static void setup(const char *words)
{
    memset(&m, 0, sizeof(m));
    memset(slots, 0, sizeof(slots));
    nr_slots = 0;
    poll_mode = -1;
    use_msi = true;
    blink_ns = HP_BLINK_MS * NSEC_PER_MSEC;
    cmdline = words;
    topo_begin(&m.t);
    fake_q35_base(&m.t.f);
    m.port_fn = fake_root_port(&m.t.f, FAKE_ROOT(0), 6, 0);
    m.exp = cap_of(&m.t.f, m.port_fn, PCI_CAP_ID_EXP);
    uint16_t flags = reg16(m.exp + PCI_EXP_FLAGS);
    set16(m.exp + PCI_EXP_FLAGS, flags | PCI_EXP_FLAGS_SLOT);
    fake_w32(&m.t.f, m.port_fn, m.exp + PCI_EXP_SLTCAP, PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP |
             PCI_EXP_SLTCAP_AIP | PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPC);
    m.msix = cap_of(&m.t.f, m.port_fn, PCI_CAP_ID_MSIX);    /* one entry, BAR 0 offset 0 */
    m.t.f.fns[m.port_fn].wmask[m.msix + 3] = 0xc0;                   /* Enable, Function Mask */
    m.table[3] = 1;                                                  /* entries reset masked */
    m.child_fn = fake_edu(&m.t.f, m.port_fn, 0, 0);
    memcpy(m.child_id, m.t.f.fns[m.child_fn].cfg, 4);
    child_visible(false);
    if (with_igb)
        fake_igb(&m.t.f, FAKE_ROOT(0), 4, 0, (uint16_t)with_igb);
    REQUIRE(topo_run(&m.t) > 0);
    m.port = topo_dev(&m.t, 0, 6, 0);
    REQUIRE(m.port && m.port->hotplug_slot);
    m.t.sys.ops = &model_ops;
    pciehp_init();
    REQUIRE(nr_slots == 1);
}

static struct pci_hotplug_slot_info info(void)
{
    struct pci_hotplug_slot_info i;
    pci_hotplug_slot_info(m.port, &i);
    return i;
}

/* Boot: MSI-X armed with the composed message, Hot-Plug and Command Completed interrupts on
 * (the command that turned them on completed by its own interrupt), the slot empty. */
TEST(slot_takes_msix)
{
    setup("");
    CHECK_EQ(slots[0].irq, HP_IRQ_MSIX);
    CHECK_EQ(m.table[0], 0xfee00000u);
    CHECK_EQ(m.table[2], m.vector);
    CHECK_EQ(m.table[3] & 1, 0);
    CHECK(sltctl() & PCI_EXP_SLTCTL_HPIE);
    CHECK(sltctl() & PCI_EXP_SLTCTL_CCIE);
    CHECK(info().state == PCI_SLOT_OFF);
    CHECK(info().irqs > 0);
    CHECK_EQ(info().cc_missed, 0);
    CHECK_EQ(m.bad_acks, 0);
    topo_end(&m.t);
}

/* With nothing pending, a look at the slots reads no register; a plug is one message, after
 * which the slot is enabled and the function found. */
TEST(reads_only_when_interrupted)
{
    setup("pciehp_poll=0");
    pci_hotplug_poll();             /* the look left pending by the boot */
    unsigned reads = m.reads;
    for (int i = 0; i < 100; i++)
        pci_hotplug_poll();
    CHECK_EQ(m.reads, reads);
    unsigned msgs = m.msgs;
    plug();
    CHECK_EQ(m.msgs, msgs + 1);
    CHECK_EQ(pci_hotplug_poll(), 1);
    CHECK(info().state == PCI_SLOT_ON);
    CHECK_EQ(info().added, 1);
    CHECK(pci_get_dev(&m.t.sys, 0, m.port->secondary, 0) != NULL);
    CHECK_EQ(m.bad_acks, 0);
    topo_end(&m.t);
}

/* An event that lands between the status read and the acknowledgement raises no message of its
 * own (one was already pending): acknowledging only what was read leaves it set, and reading
 * again before returning finds it. Here: the attention button is read, and presence is lost
 * before the acknowledgement (a surprise removal). */
TEST(event_between_read_and_ack_not_lost)
{
    setup("pciehp_poll=0");
    plug();
    REQUIRE(pci_hotplug_poll() == 1);
    unsigned msgs = m.msgs;
    slot_event_in(PCI_EXP_SLTSTA_ABP);
    CHECK_EQ(m.msgs, msgs + 1);
    child_visible(false);
    set16(m.exp + PCI_EXP_SLTSTA, sltsta() & ~PCI_EXP_SLTSTA_PDS);
    m.inject_at_ack = PCI_EXP_SLTSTA_PDC;
    pci_hotplug_poll();
    CHECK_EQ(m.inject_at_ack, 0);
    CHECK_EQ(info().removed, 1);
    CHECK(info().state == PCI_SLOT_OFF);
    CHECK(pci_get_dev(&m.t.sys, 0, m.port->secondary, 0) == NULL);
    CHECK_EQ(sltsta() & EV_SUPPORTED, 0);
    CHECK(!m.notified);             /* all clear: the next event sends a message again */
    msgs = m.msgs;
    plug();
    CHECK_EQ(m.msgs, msgs + 1);
    CHECK_EQ(pci_hotplug_poll(), 1);
    CHECK_EQ(info().added, 2);
    CHECK_EQ(m.bad_acks, 0);
    topo_end(&m.t);
}

/* Linux's second press within the blink window cancels the removal; the window passing then
 * removes nothing. A press after that starts a new window, which removes the device. */
TEST(second_press_cancels)
{
    setup("pciehp_poll=0 pciehp_blink_ms=20");
    plug();
    REQUIRE(pci_hotplug_poll() == 1);
    slot_event_in(PCI_EXP_SLTSTA_ABP);
    pci_hotplug_poll();
    CHECK(info().state == PCI_SLOT_BLINK_OFF);
    CHECK_EQ(FIELD_GET(PCI_EXP_SLTCTL_PIC, sltctl()), PCI_EXP_SLTCTL_IND_BLINK);
    slot_event_in(PCI_EXP_SLTSTA_ABP);
    pci_hotplug_poll();
    CHECK(info().state == PCI_SLOT_ON);
    CHECK_EQ(info().cancelled, 1);
    CHECK_EQ(FIELD_GET(PCI_EXP_SLTCTL_PIC, sltctl()), PCI_EXP_SLTCTL_IND_ON);
    uint64_t until = clock_ns() + 60 * NSEC_PER_MSEC;
    while (clock_ns() < until)
        pci_hotplug_poll();
    CHECK_EQ(info().removed, 0);
    CHECK(pci_get_dev(&m.t.sys, 0, m.port->secondary, 0) != NULL);

    slot_event_in(PCI_EXP_SLTSTA_ABP);
    CHECK_EQ(poll_until((pci_hotplug_poll(), info().removed == 1), NSEC_PER_SEC), 0);
    CHECK(info().state == PCI_SLOT_OFF);
    CHECK(!(sltsta() & PCI_EXP_SLTSTA_PDS));        /* the power-off detached it */
    CHECK_EQ(m.bad_acks, 0);
    topo_end(&m.t);
}

/* pciehp_poll=1: no interrupt taken even where MSI-X exists; every look reads the slot. */
TEST(poll_mode_forced)
{
    setup("pciehp_poll=1");
    CHECK_EQ(slots[0].irq, HP_IRQ_NONE);
    CHECK(!(sltctl() & PCI_EXP_SLTCTL_HPIE));
    CHECK(!(reg16(m.msix + 2) & BIT(15)));
    unsigned reads = m.reads;
    pci_hotplug_poll();
    CHECK(m.reads > reads);
    plug();
    CHECK_EQ(m.msgs, 0);
    CHECK_EQ(pci_hotplug_poll(), 1);
    CHECK_EQ(info().added, 1);
    topo_end(&m.t);
}

/* No MSI-X or MSI and no INTx route: the slot is polled, or, with pciehp_poll=0, never read. */
TEST(no_interrupt_polled_or_not_seen)
{
    setup("pciehp_msi=0");
    CHECK_EQ(slots[0].irq, HP_IRQ_NONE);
    CHECK(!(sltctl() & PCI_EXP_SLTCTL_HPIE));
    plug();
    CHECK_EQ(pci_hotplug_poll(), 1);
    CHECK_EQ(info().added, 1);
    topo_end(&m.t);

    setup("pciehp_msi=0 pciehp_poll=0");
    pci_hotplug_poll();
    plug();
    unsigned reads = m.reads;
    CHECK_EQ(pci_hotplug_poll(), 0);
    CHECK_EQ(m.reads, reads);
    CHECK_EQ(info().added, 0);
    topo_end(&m.t);
}

/* ---- SR-IOV at run time (pci_sriov_set_numvfs): the VFs come and go as a hot-plugged
 * subtree does ---- */

static const struct pci_dev *held_dev;
static unsigned leaving_calls, probes;

static bool test_held(const struct pci_dev *dev)
{
    return dev == held_dev;
}

static void test_request(struct pci_dev *dev, unsigned count)
{
}

static void test_leaving(struct pci_dev *dev)
{
    leaving_calls++;
}

static const struct pci_hotplug_holder test_holder = { test_held, test_request, test_leaving };

static int counting_probe(struct pci_system *sys, struct pci_dev *dev)
{
    probes++;
    return -ENODEV;
}

static const struct pci_hotplug_driver counting_drv = { "counting", counting_probe, NULL };

/* Live VFs of pf, each checked to be grouped and reachable by its address. */
static unsigned live_vfs(struct pci_dev *pf)
{
    uint32_t idx = pci_dev_index(&m.t.sys, pf);
    unsigned n = 0;
    for (uint32_t i = 0; i < m.t.sys.ndevs; i++) {
        struct pci_dev *d = &m.t.sys.devs[i];
        if (d->gone || !d->is_virtfn || d->physfn != idx)
            continue;
        n++;
        CHECK(d->group != PCI_NO_GROUP);
        CHECK(pci_get_dev(&m.t.sys, d->seg, d->bus, d->devfn) == d);
    }
    return n;
}

/* The root bus's list of children: no gone entry in it, no entry twice (a reused entry left
 * linked would make a loop), and every live function of the root bus in it. */
static void check_root_list(void)
{
    unsigned listed = 0, live = 0;
    for (uint32_t c = m.t.sys.root_first[0]; c != PCI_NONE && listed <= m.t.sys.ndevs;
         c = m.t.sys.devs[c].next_sibling) {
        CHECK(!m.t.sys.devs[c].gone);
        listed++;
    }
    for (uint32_t i = 0; i < m.t.sys.ndevs; i++)
        live += !m.t.sys.devs[i].gone && m.t.sys.devs[i].parent == PCI_NONE;
    CHECK_EQ(listed, live);
}

/* Linux's sriov_numvfs rules at the runtime call: above TotalVFs ERANGE, nonzero to another
 * nonzero EBUSY, the same count nothing; disabling while a holder (the VFIO face) has a VF is
 * EBUSY and changes nothing; then each VF is let go (the holder's leaving), VF Enable goes off
 * and the VFs are forgotten; enabling N brings exactly N, grouped and offered to the drivers,
 * and a hundred cycles reuse the same entries of devs[]. */
TEST(sriov_numvfs_at_run_time)
{
    with_igb = 8;
    setup("");
    with_igb = 0;
    struct pci_dev *pf = topo_dev(&m.t, 0, 4, 0);
    REQUIRE(pf && pf->caps.sriov);
    CHECK_EQ(pf->num_vfs, 8);               /* fake_run enabled them, as sriov_numvfs=max */
    CHECK_EQ(live_vfs(pf), 8u);
    m.t.sys.holder = &test_holder;
    nr_drivers = 0;
    pci_hotplug_register_driver(&counting_drv);
    CHECK_EQ(pci_sriov_set_numvfs(pf, 9), -ERANGE);
    CHECK_EQ(pci_sriov_set_numvfs(pf, 3), -EBUSY);
    CHECK_EQ(pci_sriov_set_numvfs(pf, 8), 8);
    CHECK_EQ(pci_sriov_set_numvfs(m.port, 1), -ENODEV);

    uint32_t pf_idx = pci_dev_index(&m.t.sys, pf), ndevs = m.t.sys.ndevs;
    held_dev = &m.t.sys.devs[ndevs - 3];
    REQUIRE(held_dev->is_virtfn && held_dev->physfn == pf_idx);
    CHECK_EQ(pci_sriov_set_numvfs(pf, 0), -EBUSY);
    CHECK_EQ(live_vfs(pf), 8u);
    CHECK_EQ(leaving_calls, 0u);
    held_dev = NULL;

    CHECK_EQ(pci_sriov_set_numvfs(pf, 0), 0);
    CHECK_EQ(pf->num_vfs, 0);
    CHECK_EQ(live_vfs(pf), 0u);
    CHECK_EQ(leaving_calls, 8u);
    uint16_t pos = pf->caps.sriov;
    CHECK_EQ(pci_read16(&m.t.sys, pf, pos + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE, 0);
    CHECK_EQ(pci_read16(&m.t.sys, pf, pos + PCI_SRIOV_NUM_VF), 0);
    CHECK(pci_get_dev(&m.t.sys, 0, 0, 0x20 + 0x80) == NULL);      /* VF 0's address */
    CHECK(m.t.sys.ndevs < ndevs);
    check_root_list();

    probes = 0;
    CHECK_EQ(pci_sriov_set_numvfs(pf, 3), 3);
    CHECK_EQ(pf->num_vfs, 3);
    CHECK_EQ(live_vfs(pf), 3u);
    CHECK_EQ(probes, 3u);
    CHECK(pci_read16(&m.t.sys, pf, pos + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE);
    CHECK(pci_get_dev(&m.t.sys, 0, 0, 0xa0 + 2 * 2) != NULL);    /* VF 2 */
    CHECK(pci_get_dev(&m.t.sys, 0, 0, 0xa0 + 2 * 3) == NULL);    /* no VF 3 */
    check_root_list();
    uint32_t with3 = m.t.sys.ndevs;
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(pci_sriov_set_numvfs(pf, 0), 0);
        CHECK_EQ(pci_sriov_set_numvfs(pf, 3), 3);
    }
    CHECK_EQ(m.t.sys.ndevs, with3);
    CHECK_EQ(live_vfs(pf), 3u);
    check_root_list();
    CHECK_EQ(pci_sriov_set_numvfs(pf, 0), 0);
    CHECK_EQ(pci_sriov_set_numvfs(pf, 8), 8);
    CHECK_EQ(live_vfs(pf), 8u);
    check_root_list();
    m.t.sys.holder = NULL;
    nr_drivers = 0;
    topo_end(&m.t);
}
