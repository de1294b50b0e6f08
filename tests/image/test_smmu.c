/* In-image tests of the Arm SMMUv3 driver with QEMU's edu device doing real DMA
 * (./moat run --tests --iommu smmuv3 --cmdline tests=smmuv3).
 *
 * The shared isolation cases (dma_cases.c) and the unit's own: every blocked DMA is checked by
 * the fault record its domain's owner receives (exact IOVA, StreamID = requester ID, direction,
 * event ID), the "dma fault:" line the core prints, and canary pages that must stay unchanged.
 * An ABORT STE (the blocked domain) records nothing, as the specification says for Config
 * 0b000: there the canaries decide. The edu's 28-bit DMA mask keeps every IOVA below 256 MiB;
 * the cases that use a RAM page's physical address as an IOVA skip on virt, whose RAM starts
 * at 1 GiB (the unit's records prove translation instead). */
#include "arch/arch.h"
#include "arch/msi.h"
#include "drivers/edu/edu.h"
#include "iommu/arm-smmu-v3/smmu.h"
#include "kernel/cmdline.h"
#include "kernel/ktest.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"
#include "pci/pci_platform.h"
#include "tests/image/dma_bench.h"
#include "tests/image/dma_fixture.h"

#define IOVA_BASE DMA_CASE_IOVA_BASE
#define CANARY DMA_CANARY
#define FAULT_WAIT_NS (2ULL * 1000 * 1000 * 1000)
#define NO_FAULT_WAIT_NS (200ULL * 1000 * 1000)

/* The first record since capture_first(d): the unit records every access of a blocked
 * transfer (one per word QEMU's device model issues), the first names its start. */
static struct iommu_fault first_fault;
static volatile unsigned nr_first;

static void capture_first_fault(struct iommu_domain *d, const struct iommu_fault *f, void *ctx)
{
    if (nr_first++ == 0)
        first_fault = *f;
}

static void capture_first(struct iommu_domain *d)
{
    nr_first = 0;
    memset(&first_fault, 0, sizeof(first_fault));
    d->fault_fn = capture_first_fault;
    d->fault_ctx = NULL;
}

/* The record arrives by the wired event interrupt; polling too makes a lost interrupt a
 * failure of its own (fault_event_interrupt), not a hang. */
static bool wait_fault(struct smmu_unit *su, bool poll, uint64_t ns)
{
    return poll_until(nr_first > 0 || (poll && smmu_poll(su) && nr_first > 0), ns) == 0;
}

/* ---- fixtures ---- */

/* The unit behind the case's edu. */
static struct smmu_unit *unit_of(const struct dma_case_env *fx)
{
    return to_smmu_unit(fx->d->unit);
}

/* The edu numbered dev behind a unit of this vendor (skips the case when there is none). */
static bool env_get(struct ktest *t, unsigned dev, struct dma_case_env *env)
{
    return dma_env_get(t, dev, smmu_unit_get(0) != NULL, "needs an edu device behind an SMMUv3", env);
}

/* One blocked write DMA at iova: the record (exact address, requester, write, a translation
 * fault), canaries intact. */
static void expect_blocked_write(struct ktest *t, const struct dma_case_env *fx, uint64_t iova)
{
    capture_first(fx->d);
    KASSERT(t, edu_dma(fx->e, true, iova, 0, 4096) == 0);
    KEXPECT(t, wait_fault(unit_of(fx), true, FAULT_WAIT_NS));
    KEXPECT_EQ(t, first_fault.addr, iova);
    KEXPECT_EQ(t, first_fault.rid, fx->e->rid);
    KEXPECT(t, first_fault.write);
    KEXPECT(t, first_fault.reason == EVT_F_TRANSLATION || first_fault.reason == EVT_F_PERMISSION);
    KEXPECT(t, all_bytes(fx->pages, 4 * 4096, CANARY));
}

/* The shared isolation cases with this unit's fixture and fault checks. */
static bool smmu_case_get(struct ktest *t, struct dma_case_env *env)
{
    return env_get(t, 0, env);
}

static uint64_t smmu_case_waits(const struct dma_case_env *env)
{
    return unit_of(env)->nr_syncs;
}

static unsigned smmu_case_batch_waits(const struct dma_case_env *env)
{
    return 1;
}

static void smmu_case_fail_nth(unsigned n)
{
    smmu_fail_nth = n;
}

/* Replace onto a stage-2 domain: the STE changes configuration, not only its context. */
static const struct iommu_domain_cfg smmu_stage2 = { .flags = IOMMU_DOMAIN_NEST_PARENT };

static const struct dma_vendor smmu_dma_vendor = { smmu_case_get, expect_blocked_write,
                                                   smmu_case_waits, smmu_case_batch_waits,
                                                   &smmu_stage2, smmu_case_fail_nth, NULL };
DMA_VENDOR_CASES(&smmu_dma_vendor)
DMA_VENDOR_CASE(replace_no_stale_translation, &smmu_dma_vendor)
DMA_VENDOR_CASE(fail_nth_allocation, &smmu_dma_vendor)

/* ---- cases ---- */

static void caps_match_machine(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct smmu_unit *su = unit_of(&fx);
    KEXPECT(t, su->f.s1 && su->f.s2);                 /* virt-9.2 and later */
    KEXPECT(t, su->two_level);
    KEXPECT(t, su->f.ril);
    KEXPECT_EQ(t, su->f.oas, 44);
    KEXPECT_EQ(t, smmu_read32(su, SMMU_CR0ACK) & CR0_SMMUEN, CR0_SMMUEN);
    KEXPECT(t, to_smmu_domain(fx.d)->stage == SMMU_STAGE_1);
    KEXPECT(t, to_smmu_domain(fx.d)->msi_mapped);
    struct iommu_resv_region rr[IOMMU_MAX_RESV];
    int nr = iommu_resv_regions(fx.e->pci, rr, IOMMU_MAX_RESV);
    KEXPECT(t, nr >= 1 && rr[0].start == SMMU_MSI_IOVA && rr[0].last == SMMU_MSI_LAST &&
                   rr[0].type == IOMMU_RESV_MSI);
    KEXPECT(t, fx.d->iova_last >= EDU_DMA_LIMIT - 1);
    dma_env_put(&fx);
}

/* An unmapped IOVA below the edu's mask (the shared case's physical-address IOVA lies above
 * it on virt): blocked with the exact record. */
static void unmapped_low_iova_blocked(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    expect_blocked_write(t, &fx, IOVA_BASE + 0x5a3000);
    KEXPECT_EQ(t, first_fault.reason, EVT_F_TRANSLATION);
    dma_env_put(&fx);
}

/* The MSI window: the edu's MSI (composed through the window) arrives; a DMA aimed at the
 * window beyond the doorbell page faults (only the doorbell is mapped there), and the IOVA
 * space reported to callers leaves the whole window out. */
static void msi_window(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    int vec = irq_alloc_vector(edu_irq, fx.e);
    KASSERT(t, vec > 0);
    struct msi_msg m;
    KASSERT(t, msi_compose(fx.e->pci, (unsigned)vec, &m) == 0);
    KEXPECT(t, m.addr >= SMMU_MSI_IOVA && m.addr <= SMMU_MSI_LAST);
    KEXPECT(t, raise_with(fx.e, &m));
    msi_disable(platform_pci(), fx.e->pci);
    msi_free(fx.e->pci, &m);
    irq_free_vector((unsigned)vec);
    uint64_t pa;
    KEXPECT(t, iommu_iova_to_phys(fx.d, SMMU_MSI_IOVA, &pa) == 0 &&
                   pa == (unit_of(&fx)->msi_doorbell & ~0xfffULL));
    expect_blocked_write(t, &fx, SMMU_MSI_IOVA + 0x10000);
    dma_env_put(&fx);
}

/* On the blocked domain (STE ABORT) nothing reaches memory and nothing is recorded; back in
 * its own domain the device works again. */
static void blocked_domain_and_back(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct smmu_unit *su = unit_of(&fx);
    KASSERT(t, dma_env_load(&fx, 0x55) == 0);
    uint64_t iova = IOVA_BASE + 0x500000;
    KASSERT(t, iommu_map(fx.d, iova, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, iommu_attach(NULL, fx.e->pci) == 0);
    uint64_t events = su->nr_events;
    KASSERT(t, edu_dma(fx.e, true, iova, 0, 4096) == 0);
    smmu_poll(su);
    KEXPECT_EQ(t, su->nr_events, events);
    KEXPECT(t, all_bytes(fx.pages, 4 * 4096, CANARY));
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    KASSERT(t, edu_dma(fx.e, true, iova, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x55);
    KEXPECT(t, iommu_unmap(fx.d, iova, 4096) == 0);
    dma_env_put(&fx);
}

/* Stage 2 keeps write-only exact: the device can write the page but not read it. The read
 * comes first: QEMU checks only the write permission of a translation it has cached. */
static void stage2_write_only(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct iommu_domain *b;
    struct iommu_domain_cfg s2 = { .flags = IOMMU_DOMAIN_NEST_PARENT };
    KASSERT(t, iommu_domain_alloc(fx.d->unit, IOMMU_DOMAIN_PAGING, &s2, &b) == 0);
    uint64_t iova = IOVA_BASE + 0xa00000;
    KASSERT(t, iommu_map(b, iova, fx.pa + 4096, 4096, IOMMU_WRITE) == 0);
    KASSERT(t, iommu_attach(b, fx.e->pci) == 0);
    capture_first(b);
    KASSERT(t, edu_dma(fx.e, false, iova, 0, 4096) == 0);
    KEXPECT(t, wait_fault(unit_of(&fx), true, FAULT_WAIT_NS));
    KEXPECT_EQ(t, first_fault.reason, EVT_F_PERMISSION);
    KEXPECT(t, !first_fault.write);
    KEXPECT_EQ(t, first_fault.addr, iova);
    b->fault_fn = NULL;
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    KASSERT(t, dma_env_load(&fx, 0x29) == 0);     /* through its own domain */
    KASSERT(t, iommu_attach(b, fx.e->pci) == 0);
    KEXPECT(t, edu_dma(fx.e, true, iova, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x29);
    KASSERT(t, iommu_attach(fx.d, fx.e->pci) == 0);
    KEXPECT(t, iommu_unmap(b, iova, 4096) == 0);
    iommu_domain_free(b);
    dma_env_put(&fx);
}

/* The record arrives by the wired event interrupt alone (no polling). */
static void fault_event_interrupt(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct smmu_unit *su = unit_of(&fx);
    if (!su->nr_irqs) {
        dma_env_put(&fx);
        ktest_skip(t, "the event queue is polled (smmuv3=poll)");
        return;
    }
    capture_first(fx.d);
    uint64_t before = su->nr_events;
    KASSERT(t, edu_dma(fx.e, true, IOVA_BASE + 0x600000, 0, 64) == 0);
    KEXPECT(t, wait_fault(su, false, FAULT_WAIT_NS));
    KEXPECT(t, su->nr_events > before);
    dma_env_put(&fx);
}

/* A command the unit refuses (an opcode it does not know): named, skipped, the queue goes on;
 * invalidation and DMA work afterwards. */
static void queue_error_recovery(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct smmu_unit *su = unit_of(&fx);
    struct smmu_cmd bad = { { 0x7f, 0 } };
    uint64_t errs = su->nr_cmdq_errors;
    KEXPECT_EQ(t, smmu_cmdq_submit(su, &bad, 1), -EIO);
    KEXPECT_EQ(t, su->nr_cmdq_errors, errs + 1);
    KEXPECT_EQ(t, (smmu_read32(su, SMMU_GERROR) ^ smmu_read32(su, SMMU_GERRORN)) &
                      GERROR_CMDQ_ERR, 0);
    KEXPECT_EQ(t, smmu_tlbi_domain(to_smmu_domain(fx.d)), 0);
    KASSERT(t, dma_env_load(&fx, 0x21) == 0);
    KASSERT(t, iommu_map(fx.d, IOVA_BASE, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KEXPECT(t, edu_dma(fx.e, true, IOVA_BASE, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x21);
    KEXPECT(t, iommu_unmap(fx.d, IOVA_BASE, 4096) == 0);
    dma_env_put(&fx);
}

/* A fault storm: round after round the device writes 4 KiB to an unmapped IOVA (QEMU records
 * each word: the event queue fills and overflows every round) while the runtime keeps mapping
 * and unmapping, bounded; afterwards the device works and nothing it aimed at changed. */
static unsigned storm_rounds(void)
{
    char v[16];
    unsigned long long n = 0;
    if (cmdline_get("storm", v, sizeof(v)) && str_to_u64(v, NULL, 10, &n) == 0 && n)
        return (unsigned)n;
    return 20;
}

static void fault_storm(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct smmu_unit *su = unit_of(&fx);
    KASSERT(t, dma_env_load(&fx, 0x3c) == 0);
    unsigned rounds = storm_rounds();
    uint64_t faults0 = iommu_fault_count(), events0 = su->nr_events, t0 = clock_ns();
    uint64_t worst_ns = 0;
    for (unsigned r = 0; r < rounds; r++) {
        KASSERT(t, edu_dma(fx.e, true, IOVA_BASE + 0x4000000 + ((uint64_t)r << 12), 0, 4096) == 0);
        smmu_poll(su);       /* polled units (smmuv3=poll) read each round's records too */
        uint64_t n0 = clock_ns();
        KASSERT(t, iommu_map(fx.d, IOVA_BASE + 0x10000, fx.pa, 4096, IOMMU_READ) == 0);
        KASSERT(t, iommu_unmap(fx.d, IOVA_BASE + 0x10000, 4096) == 0);
        worst_ns = MAX(worst_ns, clock_ns() - n0);
    }
    smmu_poll(su);
    kprintf("smmuv3_storm: %u blocked 4 KiB writes in %llu ms: %llu event records read, %llu "
            "fault records delivered, %llu global errors; slowest map+unmap %llu us\n", rounds,
            (unsigned long long)((clock_ns() - t0) / NSEC_PER_MSEC),
            (unsigned long long)(su->nr_events - events0),
            (unsigned long long)(iommu_fault_count() - faults0),
            (unsigned long long)su->nr_gerrors, (unsigned long long)(worst_ns / NSEC_PER_USEC));
    KEXPECT(t, worst_ns < 2 * NSEC_PER_SEC);     /* generous: the host may be loaded */
    KEXPECT(t, iommu_fault_count() - faults0 >= rounds);
    KEXPECT(t, all_bytes(fx.pages, 4 * 4096, CANARY));
    KASSERT(t, iommu_map(fx.d, IOVA_BASE, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KEXPECT(t, edu_dma(fx.e, true, IOVA_BASE, 0, 4096) == 0);
    KEXPECT(t, fx.pages[4096] == 0x3c && fx.pages[4096 + 4095] == (uint8_t)(0x3c + 4095 * 7));
    KEXPECT(t, iommu_unmap(fx.d, IOVA_BASE, 4096) == 0);
    dma_env_put(&fx);
}

#define BENCH_ROUNDS 1000
static uint64_t bench_ns[BENCH_ROUNDS], bench_map[BENCH_ROUNDS];

/* What an unmap of one 4 KiB leaf asks of the unit: one TLBI (a range of one page), leaf only,
 * one CMD_SYNC. */
static int bench_inval_page(struct iommu_domain *d, uint64_t iova)
{
    struct pgtable_range r = { iova, iova + 4095 };
    return smmu_tlbi_ranges(to_smmu_domain(d), &r, 1, true);
}

static void bench_map_unmap_4k(struct ktest *t)
{
    struct dma_case_env fx;
    if (!env_get(t, 0, &fx))
        return;
    struct smmu_unit *su = unit_of(&fx);
    KASSERT(t, iommu_map(fx.d, IOVA_BASE + 0x1000, fx.pa, 4096, IOMMU_READ) == 0);
    uint64_t w0 = su->nr_syncs;
    for (unsigned i = 0; i < BENCH_ROUNDS; i++) {
        uint64_t n0 = clock_ns();
        int e1 = iommu_map(fx.d, IOVA_BASE, fx.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE);
        uint64_t n1 = clock_ns();
        int e2 = iommu_unmap(fx.d, IOVA_BASE, 4096);
        bench_ns[i] = clock_ns() - n0;
        bench_map[i] = n1 - n0;
        KASSERT(t, e1 == 0 && e2 == 0);
    }
    uint64_t waits = su->nr_syncs - w0;
    sort_u64(bench_ns, BENCH_ROUNDS);
    sort_u64(bench_map, BENCH_ROUNDS);
    kprintf("bench smmuv3_map_unmap_4k %llu ns\n",
            (unsigned long long)bench_ns[BENCH_ROUNDS / 2]);
    kprintf("bench smmuv3_map_4k %llu ns\n", (unsigned long long)bench_map[BENCH_ROUNDS / 2]);
    kprintf("bench smmuv3_waits_per_map_unmap %llu.%02llu waits (CMD_SYNC%s)\n",
            (unsigned long long)(waits / BENCH_ROUNDS),
            (unsigned long long)(waits * 100 / BENCH_ROUNDS % 100),
            su->f.ril ? ", range invalidation" : "");
    struct dma_bench_vendor v = { "smmuv3", bench_inval_page, &su->nr_syncs };
    dma_bench_vs_inval(t, &v, fx.e, fx.d, fx.pa + 4096, IOVA_BASE);
    KEXPECT(t, iommu_unmap(fx.d, IOVA_BASE + 0x1000, 4096) == 0);
    dma_env_put(&fx);
}

KTEST_SUITE(smmuv3,
            KTEST_CASE(caps_match_machine),
            KTEST_CASE(dma_both_directions),
            KTEST_CASE(unmapped_iova_blocked),
            KTEST_CASE(unmapped_low_iova_blocked),
            KTEST_CASE(other_domain_iova_blocked),
            KTEST_CASE(just_unmapped_iova_blocked),
            KTEST_CASE(read_only_blocks_writes),
            KTEST_CASE(msi_window),
            KTEST_CASE(blocked_domain_and_back),
            KTEST_CASE(replace_no_stale_translation),
            KTEST_CASE(stage2_write_only),
            KTEST_CASE(identity_domain_on_request),
            KTEST_CASE(fault_event_interrupt),
            KTEST_CASE(queue_error_recovery),
            KTEST_CASE(one_wait_per_operation),
            KTEST_CASE(one_wait_per_batch),
            KTEST_CASE(fail_nth_allocation),
            KTEST_CASE(fault_storm),
            KTEST_CASE(bench_map_unmap_4k));
