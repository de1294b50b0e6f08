/* In-image tests of the AMD-Vi driver with QEMU's edu device doing real DMA (./moat run --tests
 * --iommu amd). The same isolation checks as the VT-d suite: mapped DMA works both ways with
 * verified bytes; every forbidden DMA leaves the canary pages around its target unchanged and,
 * where the unit logs one, produces a fault record with the exact IOVA, requester ID and
 * direction.
 *
 * QEMU's amd-iommu needs pt=off to translate at all (./moat passes it). Its event log is weaker
 * than the specification: 10.0 writes no event at all (its overflow test is inverted), and later
 * versions log IO_PAGE_FAULT only when the DTE or a present directory entry denies the access (a
 * walk that reads a zero entry, or a leaf without the permission, aborts the DMA silently). On
 * that emulation (au->qemu_quirks) the record is demanded where it can exist, probed once with
 * an illegal command; otherwise the abort is checked by the canaries alone and the missing record
 * reported as a diagnostic. On other implementations every record is demanded. */
#include "arch/arch.h"
#include "arch/msi.h"
#include "drivers/edu/edu.h"
#include "iommu/amd/amdvi.h"
#include "kernel/ktest.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"
#include "pci/pci_platform.h"
#include "tests/image/dma_bench.h"
#include "tests/image/dma_fixture.h"

#define IOVA_BASE 0x100000ULL
#define CANARY DMA_CANARY
#define FAULT_WAIT_NS (2ULL * 1000 * 1000 * 1000)
#define NO_FAULT_WAIT_NS (200ULL * 1000 * 1000)

/* ---- fault capture through the domain's fault_fn ---- */

/* The fault arrives by interrupt; polling too makes a lost event a failure of its own
 * (event_interrupt), not a hang. */
static bool wait_fault(struct amdvi_unit *au, bool poll, uint64_t ns)
{
    return poll_until(nr_captured > 0 || (poll && amdvi_event_poll(au) && nr_captured > 0),
                      ns) == 0;
}

/* Does the unit write its event log? Everywhere but on QEMU < 10.1: there, one command with a
 * reserved bit set (which QEMU logs and skips) tells. */
static int events_probe = -1;

static bool events_logged(struct amdvi_unit *au)
{
    if (!au->qemu_quirks)
        return true;
    if (events_probe < 0) {
        struct amdvi_cmd bad;
        amdvi_cmd_inv_devtab_entry(&bad, 0);
        bad.w[1] = 1;
        uint64_t before = au->nr_events;
        amdvi_submit(au, &bad, 1);
        amdvi_event_poll(au);
        events_probe = au->nr_events > before;
        if (!events_probe)
            kprintf("# amdvi: this QEMU writes no event log (QEMU < 10.1): fault records are "
                    "not checked, the canaries are\n");
    }
    return events_probe;
}

/* ---- fixtures ---- */

/* The unit behind the case's edu. */
static struct amdvi_unit *unit_of(const struct dma_case_env *fx)
{
    return to_amdvi_unit(fx->d->unit);
}

/* The edu numbered dev behind a unit of this vendor (skips the case when there is none). */
static bool env_get(struct ktest *t, unsigned dev, struct dma_case_env *env)
{
    return dma_env_get(t, dev, amdvi_nr_units() > 0, "needs an edu device behind an AMD-Vi unit", env);
}

static void check_record(struct ktest *t, const struct dma_case_env *fx, uint64_t iova, bool write)
{
    KEXPECT_EQ(t, last_fault.addr, iova);
    KEXPECT_EQ(t, last_fault.rid, fx->e->rid);
    KEXPECT_EQ(t, last_fault.write, write);
    KEXPECT(t, last_fault.reason != 0);
}

/* One blocked write DMA at iova: canaries intact; the record, unless the emulation logs none
 * for this kind of denial (dte_level: the DTE denies, which every implementation logs). */
static void expect_blocked_write(struct ktest *t, const struct dma_case_env *fx, uint64_t iova,
                                 bool dte_level)
{
    capture_on(fx->d);
    KASSERT(t, edu_dma(fx->e, true, iova, 0, 4096) == 0);
    bool strict = events_logged(unit_of(fx)) && (dte_level || !unit_of(fx)->qemu_quirks);
    bool got = wait_fault(unit_of(fx), true, strict ? FAULT_WAIT_NS : NO_FAULT_WAIT_NS);
    if (got)
        check_record(t, fx, iova, true);
    else if (strict)
        KEXPECT(t, got);
    else
        kprintf("# %s: no fault record for iova %#llx (QEMU); the canaries decide\n", t->name,
                (unsigned long long)iova);
    KEXPECT(t, all_bytes(fx->pages, 4 * 4096, CANARY));
}

/* The shared isolation cases (dma_cases.c) with this unit's fixture and fault checks. */
static bool amdvi_case_get(struct ktest *t, struct dma_case_env *env)
{
    return env_get(t, 0, env);
}

static void amdvi_case_blocked(struct ktest *t, const struct dma_case_env *env, uint64_t iova)
{
    expect_blocked_write(t, env, iova, false);
}

static uint64_t amdvi_case_waits(const struct dma_case_env *env)
{
    return unit_of(env)->nr_waits;
}

static unsigned amdvi_case_batch_waits(const struct dma_case_env *env)
{
    return 1;
}

/* NpCache: maps are invalidated too. */
static unsigned amdvi_case_map_waits(const struct dma_case_env *env)
{
    return unit_of(env)->np_cache ? 1 : 0;
}

static const struct dma_vendor amdvi_dma_vendor = { amdvi_case_get, amdvi_case_blocked,
                                                    amdvi_case_waits, amdvi_case_batch_waits,
                                                    NULL, NULL, amdvi_case_map_waits };
DMA_VENDOR_CASES(&amdvi_dma_vendor)

/* ---- cases ---- */

static void unit_state(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    uint64_t ctrl = amdvi_read64(au, AMDVI_CONTROL);
    KEXPECT(t, ctrl & AMDVI_CTRL_IOMMU_EN);
    KEXPECT(t, ctrl & AMDVI_CTRL_CMD_BUF_EN);
    KEXPECT(t, ctrl & AMDVI_CTRL_EVT_LOG_EN);
    KEXPECT_EQ(t, amdvi_read64(au, AMDVI_DEV_TAB_BASE) & AMDVI_BASE_ADDR, au->devtab_pa);
    KEXPECT(t, amdvi_read64(au, AMDVI_STATUS) & AMDVI_STS_CMD_RUN);
    KEXPECT(t, au->nr_dtes * AMDVI_DTE_BYTES >= 4096 && au->nr_dtes > au->ivhd->last_devid);
    KEXPECT_EQ(t, fx.d->pt.fmt, PGTABLE_FMT_AMD_V1);
    KEXPECT_EQ(t, fx.d->pt.levels, au->levels);
    KEXPECT(t, fx.d->iova_last >= EDU_DMA_LIMIT - 1);
    struct iommu_resv_region rr[IOMMU_MAX_RESV];
    int nr = iommu_resv_regions(fx.e->pci, rr, IOMMU_MAX_RESV);
    KEXPECT(t, nr >= 2 && rr[0].start == AMDVI_INTR_ADDR_FIRST && rr[0].type == IOMMU_RESV_MSI);
    uint64_t regs[4];
    uint32_t type = 99;
    KEXPECT_EQ(t, au->iu.ops->hw_info(&au->iu, regs, sizeof(regs), &type), 24);
    KEXPECT_EQ(t, type, 0);
    KEXPECT_EQ(t, regs[0], au->efr);
    dma_env_put(&fx);
}

/* The edu's entry points at its domain; every entry of a device without a domain (the IOMMU's
 * own function included) is valid and blocked. */
static void device_table_default_deny(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    const struct amdvi_dte *e = &au->devtab[fx.e->rid];
    struct amdvi_domain *ad = to_amdvi_domain(fx.d);
    KEXPECT(t, e->w[0] & AMDVI_DTE0_V && e->w[0] & AMDVI_DTE0_TV);
    KEXPECT_EQ(t, FIELD_GET(AMDVI_DTE0_MODE, e->w[0]), fx.d->pt.levels);
    KEXPECT_EQ(t, e->w[0] & AMDVI_DTE0_PT_ROOT, fx.d->pt.root_pa);
    KEXPECT_EQ(t, FIELD_GET(AMDVI_DTE1_DOMAIN_ID, e->w[1]), ad->domid);
    struct amdvi_dte blocked;
    amdvi_mk_dte_blocked(&blocked, au->empty_pa);
    KEXPECT(t, memcmp(&au->devtab[au->ivhd->devid], &blocked, 16) == 0);
    unsigned nr_blocked = 0, nr_other = 0;
    for (uint32_t i = 0; i < au->nr_dtes; i++) {
        if (memcmp(&au->devtab[i], &blocked, 16) == 0)
            nr_blocked++;
        else if (!(au->devtab[i].w[0] & AMDVI_DTE0_V))
            ktest_fail(t, __FILE__, __LINE__, "DTE %#x is not valid", i);
        else
            nr_other++;
    }
    KEXPECT(t, nr_blocked + nr_other == au->nr_dtes && nr_other >= 1);
    dma_env_put(&fx);
}

/* A read from an unmapped IOVA that equals a secret page's physical address must not bring the
 * secret into the device: its buffer, written back through a mapped page, holds none of it. */
static void unmapped_read_gets_nothing(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    if (fx.pa + 4096 >= EDU_DMA_LIMIT) {
        dma_env_put(&fx);
        ktest_skip(t, "the page is above the device's DMA mask");
        return;
    }
    KASSERT(t, dma_env_load(&fx, 0x10) == 0);
    fill_pattern(fx.pages + 4096, 4096, 0xe3);                  /* the secret */
    capture_on(fx.d);
    KASSERT(t, edu_dma(fx.e, false, fx.pa + 4096, 0, 4096) == 0);   /* unmapped: refused */
    uint64_t iova = IOVA_BASE + 0x380000;
    KASSERT(t, iommu_map(fx.d, iova, fx.pa + 8192, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, edu_dma(fx.e, true, iova, 0, 4096) == 0);
    uint8_t secret[4096];
    fill_pattern(secret, sizeof(secret), 0xe3);
    KEXPECT(t, memcmp(fx.pages + 8192, secret, 64) != 0);
    KEXPECT(t, memcmp(fx.pages + 8192 + 2048, secret + 2048, 64) != 0);
    if (events_logged(au) && !au->qemu_quirks) {
        KEXPECT(t, wait_fault(au, true, FAULT_WAIT_NS));
        check_record(t, &fx, fx.pa + 4096, false);
    }
    KEXPECT(t, iommu_unmap(fx.d, iova, 4096) == 0);
    dma_env_put(&fx);
}

/* In the blocked domain (V, TV, no permission) every DMA faults at the DTE: the record must
 * come, with the exact IOVA and requester; back in its own domain the device works again. */
static void blocked_domain_and_back(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    KASSERT(t, dma_env_load(&fx, 0x55) == 0);
    uint64_t iova = IOVA_BASE + 0x500000;
    KASSERT(t, iommu_map(fx.d, iova, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, edu_dma(fx.e, true, iova, 0, 4096) == 0);      /* cached in the IOTLB now */
    memset(fx.pages, CANARY, 4 * 4096);
    KASSERT(t, iommu_attach(NULL, fx.e->pci) == 0);
    struct iommu_domain *blocked = au->iu.blocked;
    struct dma_case_env bfx = fx;
    bfx.d = blocked;
    expect_blocked_write(t, &bfx, iova, true);
    /* a read is refused as well, and recorded as a read (it lands in the device's buffer at
     * 64 bytes from the end, which the check below does not look at) */
    nr_captured = 0;
    KASSERT(t, edu_dma(fx.e, false, iova + 0x1000, 4096 - 64, 64) == 0);
    if (events_logged(au)) {
        KEXPECT(t, wait_fault(au, true, FAULT_WAIT_NS));
        check_record(t, &fx, iova + 0x1000, false);
    }
    blocked->fault_fn = NULL;
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    KASSERT(t, edu_dma(fx.e, true, iova, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x55 && fx.pages[4096 + 100] == (uint8_t)(0x55 + 100 * 7));
    KEXPECT(t, iommu_unmap(fx.d, iova, 4096) == 0);
    dma_env_put(&fx);
}

/* The event arrives by the IOMMU function's MSI alone (no polling). */
static void event_interrupt(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    if (au->event_vector < 0 || !events_logged(au)) {
        dma_env_put(&fx);
        ktest_skip(t, "event log polled (no MSI), or not written (QEMU < 10.1)");
        return;
    }
    KASSERT(t, iommu_attach(NULL, fx.e->pci) == 0);
    capture_on(au->iu.blocked);
    uint64_t before = au->nr_events;
    KASSERT(t, edu_dma(fx.e, true, IOVA_BASE + 0x600000, 0, 64) == 0);
    KEXPECT(t, wait_fault(au, false, FAULT_WAIT_NS));
    KEXPECT(t, au->nr_events > before);
    KEXPECT_EQ(t, amdvi_read64(au, AMDVI_STATUS) & AMDVI_STS_EVT_OVERFLOW, 0);
    au->iu.blocked->fault_fn = NULL;
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    dma_env_put(&fx);
}

/* Fills the event log past its 256 entries with ILLEGAL_COMMAND_ERROR events (a command with a
 * reserved bit set; QEMU logs one and goes on, real hardware would stop the command buffer) with
 * interrupts off, so that hardware sets EventOverflow; the poll restarts the log and the next
 * fault is recorded again. */
static void event_log_overflow_restart(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    if (!au->qemu_quirks || !events_logged(au)) {
        dma_env_put(&fx);
        ktest_skip(t, "needs QEMU >= 10.1 (illegal commands stop real hardware's command "
                      "buffer; QEMU < 10.1 writes no event log)");
        return;
    }
    struct amdvi_cmd bad[30];
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        amdvi_cmd_inv_devtab_entry(&bad[i], 0);
        bad[i].w[1] = 1;                /* reserved */
    }
    uint64_t overflows = au->nr_overflows, flags = irq_save();
    for (unsigned r = 0; r < 10; r++)
        KEXPECT_EQ(t, amdvi_submit(au, bad, ARRAY_SIZE(bad)), 0);
    KEXPECT(t, amdvi_read64(au, AMDVI_STATUS) & AMDVI_STS_EVT_OVERFLOW);
    amdvi_event_poll(au);
    irq_restore(flags);
    KEXPECT_EQ(t, au->nr_overflows, overflows + 1);
    KEXPECT_EQ(t, amdvi_read64(au, AMDVI_STATUS) & AMDVI_STS_EVT_OVERFLOW, 0);
    KEXPECT(t, amdvi_read64(au, AMDVI_STATUS) & AMDVI_STS_EVT_RUN);
    /* logging works again */
    KASSERT(t, iommu_attach(NULL, fx.e->pci) == 0);
    capture_on(au->iu.blocked);
    KASSERT(t, edu_dma(fx.e, true, IOVA_BASE + 0x700000, 0, 64) == 0);
    KEXPECT(t, wait_fault(au, true, FAULT_WAIT_NS));
    KEXPECT_EQ(t, last_fault.addr, IOVA_BASE + 0x700000);
    au->iu.blocked->fault_fn = NULL;
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    dma_env_put(&fx);
}

/* The decode-and-report path on a record put into the log by hand (QEMU lets software move the
 * tail while logging is off): an IO_PAGE_FAULT in QEMU's encoding for the edu, a write at an
 * exact IOVA, must reach the domain's owner and print the boot log's "dma fault:" line. */
static void event_record_reported(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    if (!unit_of(&fx)->qemu_quirks) {
        dma_env_put(&fx);
        ktest_skip(t, "needs QEMU: the tail register belongs to the hardware");
        return;
    }
    struct amdvi_unit *au = unit_of(&fx);
    uint64_t iova = 0x7654000;
    capture_on(fx.d);
    amdvi_ctrl(au, AMDVI_CTRL_EVT_LOG_EN, false);
    uint64_t tail = amdvi_read64(au, AMDVI_EVT_TAIL) & AMDVI_RING_PTR;
    struct amdvi_event *slot = &au->evtlog[tail / sizeof(struct amdvi_event)];
    slot->w[0] = fx.e->rid | FIELD_PREP(AMDVI_EV0_FLAGS, AMDVI_EVF_I | 2) |
                 FIELD_PREP(AMDVI_EV0_CODE, AMDVI_EV_IO_PAGE_FAULT);
    slot->w[1] = iova;
    mb();
    amdvi_write64(au, AMDVI_EVT_TAIL, (tail + sizeof(struct amdvi_event)) % AMDVI_RING_BYTES);
    amdvi_ctrl(au, AMDVI_CTRL_EVT_LOG_EN, true);
    uint64_t before = au->nr_events;
    KEXPECT_EQ(t, amdvi_event_poll(au), 1);
    KEXPECT_EQ(t, au->nr_events, before + 1);
    KEXPECT_EQ(t, nr_captured, 1);
    check_record(t, &fx, iova, true);
    KEXPECT_EQ(t, last_fault.reason, AMDVI_EV_IO_PAGE_FAULT);
    KEXPECT_EQ(t, amdvi_read64(au, AMDVI_EVT_HEAD), amdvi_read64(au, AMDVI_EVT_TAIL));
    KEXPECT_EQ(t, amdvi_event_poll(au), 0);
    dma_env_put(&fx);
}

/* A unit without INVALIDATE_IOMMU_ALL (EFR.IASup clear) is flushed entry by entry, in batches;
 * the unit keeps working afterwards. */
static void invalidate_all_without_ia(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    uint64_t efr = au->efr, w0 = au->nr_waits, c0 = au->nr_cmds;
    au->efr &= ~AMDVI_EFR_IASUP;
    KEXPECT_EQ(t, amdvi_inv_all(au), 0);
    au->efr = efr;
    uint64_t cmds = 2ULL * au->nr_dtes + AMDVI_MAX_DOMAIN_IDS;
    KEXPECT_EQ(t, au->nr_cmds - c0 - (au->nr_waits - w0), cmds);
    KEXPECT_EQ(t, au->nr_waits - w0, (cmds + 30) / 31);
    KASSERT(t, dma_env_load(&fx, 0x5a) == 0);
    KASSERT(t, iommu_map(fx.d, IOVA_BASE, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KEXPECT(t, edu_dma(fx.e, true, IOVA_BASE, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x5a);
    KEXPECT(t, iommu_unmap(fx.d, IOVA_BASE, 4096) == 0);
    dma_env_put(&fx);
}

/* A command buffer that stops (as hardware does at an illegal command; here CmdBufEn is cleared
 * behind the driver's back): the wait times out, the ring is reset, and the next operation and
 * DMA work. */
static void stuck_command_buffer_recovers(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    uint64_t resets = au->nr_cmd_resets;
    amdvi_write64(au, AMDVI_CONTROL, au->ctrl & ~AMDVI_CTRL_CMD_BUF_EN);
    KEXPECT_EQ(t, amdvi_inv_domain(au, to_amdvi_domain(fx.d)->domid), -ETIMEDOUT);
    KEXPECT_EQ(t, au->nr_cmd_resets, resets + 1);
    KEXPECT(t, amdvi_read64(au, AMDVI_CONTROL) & AMDVI_CTRL_CMD_BUF_EN);
    KEXPECT_EQ(t, amdvi_inv_domain(au, to_amdvi_domain(fx.d)->domid), 0);
    KASSERT(t, dma_env_load(&fx, 0x6b) == 0);
    KASSERT(t, iommu_map(fx.d, IOVA_BASE, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KEXPECT(t, edu_dma(fx.e, true, IOVA_BASE, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x6b);
    KEXPECT(t, iommu_unmap(fx.d, IOVA_BASE, 4096) == 0);
    dma_env_put(&fx);
}

/* One completion wait per map/unmap call, however many pages it covers. */
/* An attach: the DTE, the old domain's pages, one wait. */
static void one_wait_per_attach(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    uint64_t w0 = unit_of(&fx)->nr_waits;
    KASSERT(t, iommu_attach(NULL, fx.e->pci) == 0);
    KEXPECT_EQ(t, unit_of(&fx)->nr_waits - w0, 1);
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    dma_env_put(&fx);
}

/* Domain IDs above 255 (16-bit field): the edu translated through a domain tagged 0x1xx. */
#define MANY_DOMAINS 300
static struct iommu_domain *many[MANY_DOMAINS];

static void domain_ids_above_255(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    unsigned n = 0;
    struct iommu_domain *d = NULL;
    while (n < MANY_DOMAINS && iommu_domain_alloc(fx.d->unit, IOMMU_DOMAIN_PAGING, NULL,
                                                  &many[n]) == 0) {
        d = many[n++];
        if (to_amdvi_domain(d)->domid >= 0x100)
            break;
    }
    KASSERT(t, d && to_amdvi_domain(d)->domid >= 0x100);
    KASSERT(t, dma_env_load(&fx, 0x3c) == 0);
    uint64_t iova = IOVA_BASE + 0x900000;
    KASSERT(t, iommu_map(d, iova, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, iommu_attach(d, fx.e->pci) == 0);
    KEXPECT(t, edu_dma(fx.e, true, iova, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x3c && fx.pages[4096 + 9] == (uint8_t)(0x3c + 63));
    KEXPECT(t, all_bytes(fx.pages, 4096, CANARY));
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    KEXPECT(t, iommu_unmap(d, iova, 4096) == 0);
    for (unsigned i = 0; i < n; i++)
        iommu_domain_free(many[i]);
    dma_env_put(&fx);
}

/* ---- interrupt remapping ---- */

/* msi_free gives the entry back: composing and freeing three tables' worth leaves the
 * device's table as it was, a freed index aborts, and a message composed after still works. */
static void irte_freed_for_reuse(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    if (!au->ir) {
        dma_env_put(&fx);
        ktest_skip(t, "interrupt remapping off");
        return;
    }
    int vec = irq_alloc_vector(edu_irq, fx.e);
    KASSERT(t, vec > 0);
    struct msi_msg m;
    KASSERT(t, msi_compose(fx.e->pci, (unsigned)vec, &m) == 0);
    msi_free(fx.e->pci, &m);
    const struct amdvi_irt *tb = NULL;
    for (unsigned i = 0; i < au->nr_irt; i++)
        if (au->irt[i].devid == fx.e->rid)
            tb = &au->irt[i];
    KASSERT(t, tb != NULL);
    unsigned used = tb->used, ok = 0;
    for (unsigned i = 0; i < 3 * AMDVI_IRT_ENTRIES; i++) {
        if (msi_compose(fx.e->pci, (unsigned)vec, &m) == 0)
            ok++;
        msi_free(fx.e->pci, &m);
    }
    KEXPECT_EQ(t, ok, 3 * AMDVI_IRT_ENTRIES);
    KEXPECT_EQ(t, tb->used, used);
    KEXPECT(t, !raise_with(fx.e, &m));
    KASSERT(t, msi_compose(fx.e->pci, (unsigned)vec, &m) == 0);
    KEXPECT(t, raise_with(fx.e, &m));
    msi_disable(platform_pci(), fx.e->pci);
    msi_free(fx.e->pci, &m);
    KEXPECT_EQ(t, tb->used, used);
    irq_free_vector((unsigned)vec);
    dma_env_put(&fx);
}

/* The edu's MSI reaches its vector only through the entry moat gave it: an index it was not
 * given, or an entry in another device's table, is aborted. Devices without a table of their
 * own start with an empty one. */
static void msi_through_irte(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    if (!au->ir) {
        dma_env_put(&fx);
        ktest_skip(t, "interrupt remapping off");
        return;
    }
    const struct amdvi_dte *e = &au->devtab[fx.e->rid];
    KEXPECT(t, e->w[2] & AMDVI_DTE2_IV);
    KEXPECT_EQ(t, e->w[2] & AMDVI_DTE2_INT_TAB_ROOT, au->irt_blocked_pa);
    int vec = irq_alloc_vector(edu_irq, fx.e);
    KASSERT(t, vec > 0);
    struct msi_msg m;
    KASSERT(t, msi_compose(fx.e->pci, (unsigned)vec, &m) == 0);
    KEXPECT_EQ(t, m.addr, AMDVI_INTR_ADDR_FIRST);
    KEXPECT(t, m.data < AMDVI_IRT_ENTRIES);
    KEXPECT_EQ(t, FIELD_GET(AMDVI_DTE2_INT_CTL, e->w[2]), AMDVI_INTCTL_REMAP);
    KEXPECT_EQ(t, FIELD_GET(AMDVI_DTE2_INT_TAB_LEN, e->w[2]), AMDVI_IRT_LOG2);
    KEXPECT(t, raise_with(fx.e, &m));
    /* an index it was never given */
    struct msi_msg bad = { AMDVI_INTR_ADDR_FIRST, m.data + 7 };
    KEXPECT(t, !raise_with(fx.e, &bad));
    /* another requester's entry: the same index in the other device's table does not count */
    uint16_t other = (uint16_t)(fx.e->rid ^ 0x8);
    int oi = amdvi_ir_alloc(au, other, (uint8_t)vec, (uint8_t)apic_id());
    KASSERT(t, oi >= 0);
    bad.data = (uint32_t)oi + 1;
    if (bad.data != m.data)
        KEXPECT(t, !raise_with(fx.e, &bad));
    /* the good entry still works */
    KEXPECT(t, raise_with(fx.e, &m));
    msi_disable(platform_pci(), fx.e->pci);
    irq_free_vector((unsigned)vec);
    dma_env_put(&fx);
}

#define BENCH_ROUNDS 1000
static uint64_t bench_ns[BENCH_ROUNDS];

/* What an unmap of one 4 KiB leaf asks of the unit: INVALIDATE_IOMMU_PAGES, one wait. */
static int bench_inval_page(struct iommu_domain *d, uint64_t iova)
{
    struct amdvi_domain *ad = to_amdvi_domain(d);
    struct pgtable_range r = { iova, iova + 4095 };
    return amdvi_inv_ranges(ad->au, ad->domid, &r, 1, false);
}

static void bench_map_unmap_4k(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct amdvi_unit *au = unit_of(&fx);
    /* warm the table: the intermediate levels stay allocated around the IOVA */
    KASSERT(t, iommu_map(fx.d, IOVA_BASE + 0x1000, fx.pa, 4096, IOMMU_READ) == 0);
    uint64_t w0 = au->nr_waits;
    for (unsigned i = 0; i < BENCH_ROUNDS; i++) {
        uint64_t n0 = clock_ns();
        int e1 = iommu_map(fx.d, IOVA_BASE, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE);
        int e2 = iommu_unmap(fx.d, IOVA_BASE, 4096);
        bench_ns[i] = clock_ns() - n0;
        KASSERT(t, e1 == 0 && e2 == 0);
    }
    uint64_t waits = au->nr_waits - w0;
    sort_u64(bench_ns, BENCH_ROUNDS);
    kprintf("bench amdvi_map_unmap_4k %llu ns\n", (unsigned long long)bench_ns[BENCH_ROUNDS / 2]);
    kprintf("bench amdvi_waits_per_map_unmap %llu.%02llu waits%s\n",
            (unsigned long long)(waits / BENCH_ROUNDS),
            (unsigned long long)(waits * 100 / BENCH_ROUNDS % 100),
            au->np_cache ? " (NpCache: maps are invalidated too)" : "");
    struct dma_bench_vendor v = { "amdvi", bench_inval_page, &au->nr_waits };
    dma_bench_vs_inval(t, &v, fx.e, fx.d, fx.pa + 4096, IOVA_BASE);
    KEXPECT(t, iommu_unmap(fx.d, IOVA_BASE + 0x1000, 4096) == 0);
    dma_env_put(&fx);
}

KTEST_SUITE(amdvi,
            KTEST_CASE(unit_state),
            KTEST_CASE(device_table_default_deny),
            KTEST_CASE(dma_both_directions),
            KTEST_CASE(unmapped_iova_blocked),
            KTEST_CASE(unmapped_read_gets_nothing),
            KTEST_CASE(other_domain_iova_blocked),
            KTEST_CASE(just_unmapped_iova_blocked),
            KTEST_CASE(read_only_blocks_writes),
            KTEST_CASE(blocked_domain_and_back),
            KTEST_CASE(identity_domain_on_request),
            KTEST_CASE(event_interrupt),
            KTEST_CASE(event_log_overflow_restart),
            KTEST_CASE(event_record_reported),
            KTEST_CASE(one_wait_per_operation),
            KTEST_CASE(one_wait_per_attach),
            KTEST_CASE(one_wait_per_batch),
            KTEST_CASE(invalidate_all_without_ia),
            KTEST_CASE(stuck_command_buffer_recovers),
            KTEST_CASE(domain_ids_above_255),
            KTEST_CASE(msi_through_irte),
            KTEST_CASE(irte_freed_for_reuse),
            KTEST_CASE(bench_map_unmap_4k));
