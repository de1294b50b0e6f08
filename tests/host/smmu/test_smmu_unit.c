/* The SMMUv3 driver against the model of the unit (mock_smmu.c): bring-up and default deny,
 * hostile ID registers, domains and attach-as-replace with DMA whose bytes are checked, fault
 * records (exact IOVA, StreamID, direction), invalidation (range and not, one CMD_SYNC per
 * call, no stale translation), command errors, a hung queue, event queue overflow, GERROR,
 * GET_HW_INFO, the MSI window, and fail-nth over every allocation. */
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "moat/iommufd_smmuv3.h"
#include "tests/host/harness.h"
#include "tests/host/smmu/mock_smmu.h"
#include "iommu/arm-smmu-v3/nested.h"

static struct mock_smmu M;
static struct smmu_unit U;
static bool registered;

/* A fresh model and unit (QEMU's IDRs unless the test changed M after mock_smmu_init). */
static void unit_prepare(void)
{
    mock_smmu_prepare(&M, &U);
}

static int unit_start(void)
{
    int err = smmu_unit_init(&U);
    if (!err && !registered) {
        iommu_register_unit(&U.iu);     /* the same object every test: registered once */
        registered = true;
    }
    return err;
}

static void unit_up(void)
{
    unit_prepare();
    int err = unit_start();
    CHECK_EQ(err, 0);
}

/* Devices live as long as the process: the core keeps track of them across tests. */
static struct pci_dev *mkdev(uint8_t bus, uint8_t devfn)
{
    static struct pci_dev devs[32];
    static unsigned n;
    for (unsigned i = 0; i < n; i++)
        if (devs[i].bus == bus && devs[i].devfn == devfn)
            return &devs[i];
    MOAT_ASSERT(n < ARRAY_SIZE(devs));
    devs[n].bus = bus;
    devs[n].devfn = devfn;
    return &devs[n++];
}

/* Faults delivered to a domain's owner. */
static struct iommu_fault last_fault;
static unsigned nr_delivered;

static void on_fault(struct iommu_domain *d, const struct iommu_fault *f, void *ctx)
{
    last_fault = *f;
    nr_delivered++;
}

static struct iommu_domain *paging(uint32_t flags)
{
    struct iommu_domain *d = NULL;
    struct iommu_domain_cfg cfg = { .flags = flags };
    int err = iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_PAGING, &cfg, &d);
    CHECK_EQ(err, 0);
    if (d) {
        d->fault_fn = on_fault;
        d->fault_ctx = NULL;
    }
    return d;
}

/* A buffer between two canary pages, all from the unit's memory. */
struct buf {
    uint8_t *page;              /* three pages: canary, data, canary */
    uint64_t pa;
};

static struct buf buf_new(void)
{
    struct buf b;
    b.page = pmm_alloc_zeroed(2, &b.pa);    /* 16 KiB: pages 0-2 used */
    memset(b.page, 0xc5, 3 * 4096);
    memset(b.page + 4096, 0, 4096);
    return b;
}

static bool canaries_intact(const struct buf *b)
{
    for (unsigned i = 0; i < 4096; i++)
        if (b->page[i] != 0xc5 || b->page[2 * 4096 + i] != 0xc5)
            return false;
    return true;
}

/* ---- bring-up ---- */

TEST(bringup_default_deny_2level)
{
    unit_up();
    CHECK_EQ(M.cr0ack, CR0_SMMUEN | CR0_CMDQEN | CR0_EVENTQEN);
    CHECK(M.gbpa & GBPA_ABORT);
    CHECK(U.two_level);
    CHECK_EQ(FIELD_GET(STRTAB_BASE_CFG_FMT, M.strtab_cfg), STRTAB_FMT_2LVL);
    CHECK_EQ(FIELD_GET(STRTAB_BASE_CFG_LOG2SIZE, M.strtab_cfg), 16);
    /* Firmware's leftovers invalidated before SMMUEN, in one sync. */
    CHECK_EQ(mock_smmu_count(&M, CMD_CFGI_STE_RANGE), 1);
    CHECK_EQ(mock_smmu_count(&M, CMD_TLBI_NSNH_ALL), 1);
    CHECK_EQ(M.nr_syncs, 1);
    /* No level-2 table yet: every StreamID is refused, with a record. */
    uint8_t x = 0;
    for (uint32_t sid = 0; sid < 0x10000; sid += 0x1111)
        CHECK_EQ(mock_smmu_dma(&M, sid, 0x1000, &x, 1, true), EVT_C_BAD_STREAMID);
    CHECK_EQ(M.violations, 0);
    CHECK(U.iu.silent_aborts);
    CHECK_EQ(U.iu.ias, 48);
    CHECK_EQ(U.iu.pgsize_bitmap, BIT(12) | BIT(21) | BIT(30));
}

TEST(bringup_linear_all_abort)
{
    unit_prepare();
    M.idr[0] &= ~(uint32_t)IDR0_ST_LEVEL;
    M.idr[1] = (M.idr[1] & ~(uint32_t)IDR1_SIDSIZE) | 8;
    REQUIRE(unit_start() == 0);
    CHECK(!U.two_level);
    for (uint32_t sid = 0; sid < 256; sid++) {
        struct smmu_ste e;
        REQUIRE(mock_smmu_read_ste(&M, sid, &e) == 0);
        CHECK_EQ(e.w[0], STE0_V);       /* Config ABORT */
    }
    uint8_t x = 0;
    CHECK_EQ(mock_smmu_dma(&M, 0x18, 0x1000, &x, 1, false), -1);   /* aborted, silently */
    CHECK_EQ(M.nr_events, 0);
    CHECK_EQ(M.violations, 0);
}

/* Each value moat cannot drive is refused by name before anything is written. */
TEST(hostile_id_registers)
{
    struct { unsigned reg; uint32_t clear, set; const char *what; } cases[] = {
        { 0, (uint32_t)IDR0_TTF, (uint32_t)FIELD_PREP(IDR0_TTF, 1), "AArch32 tables only" },
        { 0, (uint32_t)IDR0_TTENDIAN, (uint32_t)FIELD_PREP(IDR0_TTENDIAN, 3), "big-endian" },
        { 0, 0, (uint32_t)FIELD_PREP(IDR0_STALL_MODEL, 2), "stall forced" },
        { 0, (uint32_t)(IDR0_S1P | IDR0_S2P), 0, "no stage" },
        { 0, (uint32_t)IDR0_COHACC, 0, "non-coherent" },
        { 1, 0, (uint32_t)IDR1_TABLES_PRESET, "tables preset" },
        { 1, 0, (uint32_t)IDR1_QUEUES_PRESET, "queues preset" },
        { 1, 0, (uint32_t)IDR1_REL, "relative bases" },
        { 1, (uint32_t)IDR1_SIDSIZE, 33, "33 StreamID bits" },
        { 1, (uint32_t)IDR1_CMDQS, 0, "no command queue" },
        { 1, (uint32_t)IDR1_CMDQS, (uint32_t)FIELD_PREP(IDR1_CMDQS, 20), "command queue 2^20" },
        { 1, (uint32_t)IDR1_EVENTQS, (uint32_t)FIELD_PREP(IDR1_EVENTQS, 25), "event queue 2^25" },
        { 5, (uint32_t)IDR5_OAS, 7, "reserved OAS" },
        { 5, (uint32_t)(IDR5_GRAN4K | IDR5_GRAN16K | IDR5_GRAN64K), 0, "no granule" },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        unit_prepare();
        M.idr[cases[i].reg] = (M.idr[cases[i].reg] & ~cases[i].clear) | cases[i].set;
        int err = unit_start();
        if (err != -ENODEV)
            printf("    case %s: %d\n", cases[i].what, err);
        CHECK_EQ(err, -ENODEV);
        CHECK_EQ(M.cr0, 0);
        CHECK_EQ(M.strtab_base, 0);
    }
}

TEST(cr0_never_acknowledged)
{
    unit_prepare();
    M.cr0_stuck = true;
    M.cr0ack = 0x55;    /* never equals what is written */
    CHECK_EQ(unit_start(), -ETIMEDOUT);
}

/* ---- DMA through domains ---- */

/* Stage 1 or 2: bytes move where mapped, nothing else changes, faults are exact. */
static void dma_through(uint32_t flags, enum smmu_stage want)
{
    unit_up();
    struct pci_dev *dev = mkdev(0, 0x18);
    struct iommu_domain *d = paging(flags);
    REQUIRE(d);
    CHECK_EQ(to_smmu_domain(d)->stage, want);
    struct buf b = buf_new();
    const uint64_t iova = 0x100000;
    REQUIRE(iommu_map(d, iova, b.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(iommu_attach(d, dev) == 0);
    uint8_t out[64], in[64];
    for (unsigned i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + 1);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 100, out, sizeof(out), true), 0);
    CHECK(memcmp(b.page + 4096 + 100, out, sizeof(out)) == 0);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 100, in, sizeof(in), false), 0);
    CHECK(memcmp(in, out, sizeof(in)) == 0);
    /* Unmapped: F_TRANSLATION with the exact address, StreamID and direction. */
    nr_delivered = 0;
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 4096 + 8, out, 8, true), EVT_F_TRANSLATION);
    CHECK_EQ(smmu_evtq_poll(&U), 1);
    CHECK_EQ(nr_delivered, 1);
    CHECK_EQ(last_fault.addr, iova + 4096 + 8);
    CHECK_EQ(last_fault.rid, 0x18);
    CHECK(last_fault.write);
    CHECK_EQ(last_fault.reason, EVT_F_TRANSLATION);
    /* Just unmapped: the TLB held the page; after unmap (one sync) nothing reaches it. */
    mock_smmu_clear_log(&M);
    REQUIRE(iommu_unmap(d, iova, 4096) == 0);
    CHECK_EQ(M.nr_syncs, 1);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 100, in, 8, false), EVT_F_TRANSLATION);
    CHECK_EQ(smmu_evtq_poll(&U), 1);
    CHECK(!last_fault.write);
    /* Read-only: the write is refused and the bytes stay. */
    REQUIRE(iommu_map(d, iova, b.pa + 4096, 4096, IOMMU_READ) == 0);
    uint8_t before[64];
    memcpy(before, b.page + 4096 + 100, 64);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 100, in, 64, false), 0);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 100, out + 1, 63, true), EVT_F_PERMISSION);
    CHECK(memcmp(before, b.page + 4096 + 100, 64) == 0);
    CHECK_EQ(smmu_evtq_poll(&U), 1);
    CHECK_EQ(last_fault.reason, EVT_F_PERMISSION);
    CHECK(canaries_intact(&b));
    REQUIRE(iommu_attach(NULL, dev) == 0);
    CHECK_EQ(mock_smmu_dma(&M, 0x18, iova + 100, in, 8, false), -1);   /* blocked */
    REQUIRE(iommu_unmap(d, iova, 4096) == 0);
    iommu_domain_free(d);
    CHECK_EQ(M.violations, 0);
}

TEST(dma_stage1)
{
    dma_through(0, SMMU_STAGE_1);
}

TEST(dma_stage2)
{
    dma_through(IOMMU_DOMAIN_NEST_PARENT, SMMU_STAGE_2);
}

/* Attach is a replace: each move is checked by DMA, and the other domain is unreachable. */
TEST(attach_replace_chain)
{
    unit_up();
    struct pci_dev *dev = mkdev(1, 0x00);    /* StreamID 0x100: a second level-2 table */
    struct iommu_domain *s1 = paging(0), *s2 = paging(IOMMU_DOMAIN_NEST_PARENT);
    struct iommu_domain *id = NULL;
    REQUIRE(s1 && s2);
    REQUIRE(iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_IDENTITY, NULL, &id) == 0);
    struct buf b1 = buf_new(), b2 = buf_new();
    REQUIRE(iommu_map(s1, 0x200000, b1.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(iommu_map(s2, 0x300000, b2.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    uint8_t v = 0x5a;
    struct iommu_domain *chain[] = { s1, s2, NULL, id, s1, NULL, s2, id, s2, s1 };
    for (unsigned i = 0; i < ARRAY_SIZE(chain); i++) {
        REQUIRE(iommu_attach(chain[i], dev) == 0);
        v++;
        if (chain[i] == id) {   /* DMA address = physical address */
            CHECK_EQ(mock_smmu_dma(&M, 0x100, b1.pa + 4096 + 1, &v, 1, true), 0);
            CHECK_EQ(b1.page[4096 + 1], v);
            continue;
        }
        int r1 = mock_smmu_dma(&M, 0x100, 0x200000, &v, 1, true);
        int r2 = mock_smmu_dma(&M, 0x100, 0x300000, &v, 1, true);
        smmu_evtq_poll(&U);
        if (chain[i] == s1) {
            CHECK(r1 == 0 && r2 == EVT_F_TRANSLATION);
            CHECK_EQ(b1.page[4096], v);
        } else if (chain[i] == s2) {
            CHECK(r1 == EVT_F_TRANSLATION && r2 == 0);
            CHECK_EQ(b2.page[4096], v);
        } else if (chain[i] == NULL) {
            CHECK(r1 == -1 && r2 == -1);
        }
    }
    CHECK(canaries_intact(&b1) && canaries_intact(&b2));
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_unmap(s1, 0x200000, 4096);
    iommu_unmap(s2, 0x300000, 4096);
    iommu_domain_free(s1);
    iommu_domain_free(s2);
    iommu_domain_free(id);
    CHECK_EQ(M.violations, 0);
}

/* Two devices on one domain, one moved away: the other keeps working. */
TEST(two_devices_one_domain)
{
    unit_up();
    struct pci_dev *a = mkdev(0, 0x20), *b = mkdev(0, 0x28);
    struct iommu_domain *d = paging(0), *e = paging(0);
    REQUIRE(d && e);
    struct buf buf = buf_new();
    REQUIRE(iommu_map(d, 0x10000, buf.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(iommu_attach(d, a) == 0 && iommu_attach(d, b) == 0);
    uint8_t x = 1;
    CHECK_EQ(mock_smmu_dma(&M, 0x20, 0x10000, &x, 1, true), 0);
    CHECK_EQ(mock_smmu_dma(&M, 0x28, 0x10010, &x, 1, true), 0);
    REQUIRE(iommu_attach(e, a) == 0);
    CHECK_EQ(mock_smmu_dma(&M, 0x20, 0x10000, &x, 1, true), EVT_F_TRANSLATION);
    CHECK_EQ(mock_smmu_dma(&M, 0x28, 0x10010, &x, 1, true), 0);
    smmu_evtq_poll(&U);
    REQUIRE(iommu_attach(NULL, a) == 0 && iommu_attach(NULL, b) == 0);
    iommu_unmap(d, 0x10000, 4096);
    iommu_domain_free(d);
    iommu_domain_free(e);
    CHECK_EQ(M.violations, 0);
}

/* ---- invalidation ---- */

/* Maps n pages, touches each through the model's TLB, unmaps, checks none still translates. */
static void unmap_invalidates(unsigned n, unsigned syncs, unsigned *cmds, unsigned *first_op)
{
    struct pci_dev *dev = mkdev(0, 0x30);
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    uint64_t pa;
    *cmds = 0;
    uint8_t *mem = pmm_alloc_zeroed(9, &pa);    /* 2 MiB */
    REQUIRE(mem && n <= 512);
    const uint64_t iova = 0x40000000;
    REQUIRE(iommu_map(d, iova, pa, (uint64_t)n * 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(iommu_attach(d, dev) == 0);
    uint8_t x = 0;
    for (unsigned i = 0; i < n && i < MOCK_SMMU_TLB; i++)
        CHECK_EQ(mock_smmu_dma(&M, 0x30, iova + (uint64_t)(n - 1 - i) * 4096, &x, 1, false), 0);
    mock_smmu_clear_log(&M);
    REQUIRE(iommu_unmap(d, iova, (uint64_t)n * 4096) == 0);
    CHECK_EQ(M.nr_syncs, syncs);
    *cmds = M.nr_log - syncs;
    *first_op = smmu_cmd_op(&M.log[0]);
    for (unsigned i = 0; i < n && i < MOCK_SMMU_TLB; i++)
        CHECK_EQ(mock_smmu_dma(&M, 0x30, iova + (uint64_t)(n - 1 - i) * 4096, &x, 1, false),
                 EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(d);
    CHECK_EQ(M.violations, 0);
}

TEST(range_invalidation)
{
    unit_up();
    unsigned cmds, op;
    unmap_invalidates(1, 1, &cmds, &op);
    CHECK_EQ(cmds, 1);
    CHECK_EQ(op, CMD_TLBI_NH_VA);
    unmap_invalidates(300, 1, &cmds, &op);  /* 300 = 11 << 2 + 1 << 8: two range commands */
    CHECK_EQ(cmds, 2);
    CHECK_EQ(op, CMD_TLBI_NH_VA);
    unmap_invalidates(512, 1, &cmds, &op);  /* one 2 MiB leaf: one command */
    CHECK_EQ(cmds, 1);
}

TEST(no_range_invalidation)
{
    unit_prepare();
    M.idr[3] = 0;
    REQUIRE(unit_start() == 0);
    unsigned cmds, op;
    unmap_invalidates(16, 1, &cmds, &op);
    CHECK_EQ(cmds, 16);                     /* one TLBI_NH_VA per page, one sync */
    CHECK_EQ(op, CMD_TLBI_NH_VA);
    unmap_invalidates(300, 1, &cmds, &op);  /* too many: the whole ASID */
    CHECK_EQ(cmds, 1);
    CHECK_EQ(op, CMD_TLBI_NH_ASID);
}

/* The range encoding itself: consecutive, covering exactly [start, last]. */
TEST(range_commands_cover_exactly)
{
    unit_up();
    struct smmu_domain sd = { .su = &U, .stage = SMMU_STAGE_1, .asid = 3 };
    sd.d.pt.granule_shift = 12;
    uint64_t sizes[] = { 1, 2, 31, 32, 33, 63, 65, 1000, 4096, 123457, 1ULL << 36 };
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        struct smmu_cmd c[64];
        uint64_t start = 0x7000 + (i << 20);
        unsigned k = smmu_cmd_tlbi_range(c, 64, &sd, start, start + sizes[i] * 4096 - 1, true);
        REQUIRE(k > 0);
        uint64_t next = start;
        for (unsigned j = 0; j < k; j++) {
            CHECK_EQ(c[j].w[1] & CMD1_VA, next);
            CHECK_EQ(FIELD_GET(CMD1_TG, c[j].w[1]), 1);
            CHECK(c[j].w[1] & CMD1_LEAF);
            CHECK_EQ(FIELD_GET(CMD0_ASID, c[j].w[0]), 3);
            next += (FIELD_GET(CMD0_NUM, c[j].w[0]) + 1) << FIELD_GET(CMD0_SCALE, c[j].w[0]) << 12;
        }
        CHECK_EQ(next, start + sizes[i] * 4096);
    }
}

/* A command the unit refuses: named, skipped, the queue goes on; the flush falls back to the
 * whole ASID, so nothing stays reachable. */
TEST(refused_command_recovered)
{
    unit_up();
    M.refuse_op = CMD_TLBI_NH_VA;
    unsigned cmds, op;
    /* The refused command becomes a sync, then the fallback's own: three in all. */
    unmap_invalidates(4, 3, &cmds, &op);
    CHECK_EQ(U.nr_cmdq_errors, 1);
    CHECK_EQ(M.nr_refused, 1);
    /* Logged: the refused TLBI, the sync put in its place, the batch's sync, the fallback. */
    CHECK_EQ(smmu_cmd_op(&M.log[0]), CMD_TLBI_NH_VA);
    CHECK_EQ(smmu_cmd_op(&M.log[1]), CMD_SYNC);
    CHECK_EQ(smmu_cmd_op(&M.log[3]), CMD_TLBI_NH_ASID);
    CHECK_EQ((M.gerror ^ M.gerrorn) & GERROR_CMDQ_ERR, 0);
}

/* A unit that consumes nothing: the wait ends (bounded) and the queue is reset. */
TEST(hung_queue_bounded)
{
    unit_up();
    M.stall = true;
    struct smmu_cmd c;
    smmu_cmd_cfgi_ste(&c, 1);
    CHECK_EQ(smmu_cmdq_submit(&U, &c, 1), -ETIMEDOUT);
    CHECK_EQ(U.nr_cmdq_resets, 1);
    M.stall = false;
    mock_smmu_clear_log(&M);
    CHECK_EQ(smmu_cmdq_submit(&U, &c, 1), 0);
    CHECK_EQ(M.nr_syncs, 1);
    CHECK_EQ(M.violations, 0);
}

/* A long batch is split so that it never overfills the queue. */
TEST(long_batch_split)
{
    unit_up();
    static struct smmu_cmd c[600];
    for (unsigned i = 0; i < ARRAY_SIZE(c); i++)
        smmu_cmd_cfgi_ste(&c[i], i);
    mock_smmu_clear_log(&M);
    CHECK_EQ(smmu_cmdq_submit(&U, c, ARRAY_SIZE(c)), 0);
    CHECK_EQ(M.nr_cmds - 3, 600 + M.nr_syncs);  /* bring-up: CFGI_ALL, TLBI, SYNC */
    CHECK(M.nr_syncs >= 3);
    CHECK_EQ(M.violations, 0);
}

/* ---- events and global errors ---- */

TEST(event_overflow)
{
    unit_up();
    unsigned size = 1u << U.evtq.log2;
    for (unsigned i = 0; i < size + 10; i++) {
        struct smmu_event e = { { FIELD_PREP(EVT0_ID, EVT_F_TRANSLATION) |
                                  FIELD_PREP(EVT0_SID, 0x40), EVT1_RNW, 0x1000 + i, 0 } };
        mock_smmu_event(&M, &e);
    }
    CHECK_EQ(M.nr_dropped, 10);
    CHECK_EQ(smmu_evtq_poll(&U), size);
    CHECK_EQ(U.nr_overflows, 1);
    CHECK_EQ(M.evtq_cons & EVENTQ_CONS_OVACKFLG, M.evtq_prod & EVENTQ_PROD_OVFLG);
    CHECK_EQ(smmu_evtq_poll(&U), 0);
    CHECK_EQ(U.nr_overflows, 1);
    /* And the queue works again. */
    struct smmu_event e = { { FIELD_PREP(EVT0_ID, EVT_F_PERMISSION) |
                              FIELD_PREP(EVT0_SID, 0x40), 0, 0xabc000, 0 } };
    mock_smmu_event(&M, &e);
    CHECK_EQ(smmu_evtq_poll(&U), 1);
}

/* Records are untrusted: unknown IDs named as such, StreamIDs beyond PCI not delivered, a PROD
 * with bits beyond the queue read only for its index and wrap. */
TEST(hostile_events)
{
    unit_up();
    struct iommu_fault f;
    struct smmu_event e = { { FIELD_PREP(EVT0_ID, 0xee) | FIELD_PREP(EVT0_SID, 0x12345), 0,
                              0xdead000, 0 } };
    CHECK_EQ(smmu_event_decode(&e, 0, &f), 0xee);
    CHECK_STR(f.text, "unknown event");
    CHECK_EQ(f.addr, 0);        /* not a record that carries an address */
    uint64_t before = iommu_fault_count();
    mock_smmu_event(&M, &e);
    CHECK_EQ(smmu_evtq_poll(&U), 1);
    CHECK_EQ(iommu_fault_count(), before);  /* StreamID 0x12345 is nobody's */
    M.evtq_prod |= 0x7f000000u;             /* garbage above the wrap bit */
    CHECK_EQ(smmu_evtq_poll(&U), 0);
}

TEST(gerror_acknowledged)
{
    unit_up();
    M.gerror ^= (uint32_t)(GERROR_SFM_ERR | GERROR_EVENTQ_ABT_ERR);
    uint32_t active = smmu_gerror_poll(&U);
    CHECK_EQ(active, GERROR_SFM_ERR | GERROR_EVENTQ_ABT_ERR);
    CHECK_EQ(M.gerror, M.gerrorn);
    CHECK_EQ(U.nr_gerrors, 1);
    CHECK_EQ(smmu_gerror_poll(&U), 0);
}

/* ---- GET_HW_INFO, reserved regions, the MSI window ---- */

TEST(hw_info_layout)
{
    unit_up();
    struct moat_iommu_hw_info_arm_smmuv3 info;
    uint32_t type = 0;
    memset(&info, 0xff, sizeof(info));
    CHECK_EQ(smmu_hw_info(&U.iu, &info, sizeof(info), &type), 40);
    CHECK_EQ(type, 2);
    CHECK_EQ(info.flags, 0);
    CHECK_EQ(info.reserved, 0);
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(info.idr[i], M.idr[i]);
    CHECK_EQ(info.iidr, M.iidr);
    CHECK_EQ(info.aidr, M.aidr);
    CHECK_EQ(smmu_hw_info(&U.iu, &info, 39, &type), -EINVAL);
}

TEST(msi_window)
{
    unit_up();
    uint64_t doorbell;
    uint8_t *db = pmm_alloc_zeroed(0, &doorbell);
    REQUIRE(db);
    U.msi_doorbell = doorbell;
    struct pci_dev *dev = mkdev(0, 0x38);
    struct iommu_resv_region r[4];
    CHECK_EQ(smmu_resv_regions(&U.iu, dev, r, 4), 1);
    CHECK_EQ(r[0].start, 0x8000000);
    CHECK_EQ(r[0].last, 0x80fffff);
    CHECK_EQ(r[0].type, IOMMU_RESV_MSI);
    for (int stage = 0; stage < 2; stage++) {
        struct iommu_domain *d = paging(stage ? IOMMU_DOMAIN_NEST_PARENT : 0);
        REQUIRE(d);
        REQUIRE(iommu_attach(d, dev) == 0);
        /* The message the device is given names the window, and its write lands on the
         * doorbell. */
        uint64_t addr = iommu_msi_address(dev, doorbell + 0x40);
        CHECK_EQ(addr, SMMU_MSI_IOVA + 0x40);
        uint32_t msg = 0x2a + (uint32_t)stage;
        CHECK_EQ(mock_smmu_dma(&M, 0x38, addr, &msg, 4, true), 0);
        CHECK_EQ(((uint32_t *)db)[0x10], msg);
        REQUIRE(iommu_attach(NULL, dev) == 0);
        iommu_domain_free(d);
    }
    /* Blocked or identity: the doorbell's own address (bypass reaches it; blocked nothing). */
    CHECK_EQ(iommu_msi_address(dev, doorbell + 0x40), doorbell + 0x40);
    struct iommu_domain *id = NULL;
    REQUIRE(iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_IDENTITY, NULL, &id) == 0);
    REQUIRE(iommu_attach(id, dev) == 0);
    CHECK_EQ(iommu_msi_address(dev, doorbell + 0x40), doorbell + 0x40);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(id);
    CHECK_EQ(M.violations, 0);
}

/* ---- fail-nth ---- */

TEST(failnth_bringup)
{
    unsigned n;
    for (n = 1; n < 64; n++) {
        unit_prepare();
        smmu_fail_nth = n;
        int err = unit_start();
        smmu_fail_nth = 0;
        if (!err)
            break;
        CHECK_EQ(err, -ENOMEM);
        CHECK_EQ(M.cr0ack & CR0_SMMUEN, 0);     /* never enabled half-built */
    }
    CHECK(n > 3 && n < 64);
}

TEST(failnth_domains)
{
    unit_up();
    uint64_t doorbell;
    REQUIRE(pmm_alloc_zeroed(0, &doorbell));
    U.msi_doorbell = doorbell;
    for (int stage = 0; stage < 2; stage++) {
        unsigned n;
        for (n = 1; n < 64; n++) {
            size_t heap = heap_live_bytes();
            uint64_t pages = pmm_free_bytes();
            struct iommu_domain *d = NULL;
            struct iommu_domain_cfg cfg = { .flags = stage ? IOMMU_DOMAIN_NEST_PARENT : 0 };
            smmu_fail_nth = n;
            int err = iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_PAGING, &cfg, &d);
            smmu_fail_nth = 0;
            if (!err) {
                iommu_domain_free(d);
                CHECK_EQ(heap_live_bytes(), heap);
                CHECK_EQ(pmm_free_bytes(), pages);
                break;
            }
            CHECK_EQ(err, -ENOMEM);
            CHECK_EQ(heap_live_bytes(), heap);
            CHECK_EQ(pmm_free_bytes(), pages);
        }
        CHECK(n > 2 && n < 64);
    }
    /* IDs are given back on every path: the next domain gets ID 1 again. */
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    CHECK_EQ(to_smmu_domain(d)->asid, 1);
    iommu_domain_free(d);
}

TEST(failnth_attach_level2_table)
{
    unit_up();
    struct pci_dev *dev = mkdev(7, 0x08);
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    smmu_fail_nth = 1;
    CHECK_EQ(iommu_attach(d, dev), -ENOMEM);
    smmu_fail_nth = 0;
    uint8_t x;
    CHECK_EQ(mock_smmu_dma(&M, 0x708, 0, &x, 1, false), EVT_C_BAD_STREAMID);
    REQUIRE(iommu_attach(d, dev) == 0);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(d);
}

TEST(nested_and_dirty_refused)
{
    unit_up();
    struct iommu_domain *d = NULL;
    struct iommu_domain_cfg cfg = { .flags = IOMMU_DOMAIN_DIRTY_TRACKING };
    CHECK_EQ(iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_PAGING, &cfg, &d), -EOPNOTSUPP);
    CHECK_EQ(iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_NESTED, NULL, &d), -EOPNOTSUPP);
    unit_prepare();
    M.idr[0] &= ~(uint32_t)IDR0_S2P;
    REQUIRE(unit_start() == 0);
    cfg.flags = IOMMU_DOMAIN_NEST_PARENT;
    CHECK_EQ(iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_PAGING, &cfg, &d), -EOPNOTSUPP);
}

/* ---- StreamIDs from the firmware's iommu-map ---- */

/* As an iommu-map entry <0x0 &smmu 0x1000 0x100> would say: bus 0 at StreamIDs 0x1000.. */
static bool sid_offset(struct smmu_unit *su, uint16_t rid, uint32_t *sid)
{
    if (rid >= 0x100)
        return false;
    *sid = 0x1000u + rid;
    return true;
}

TEST(iommu_map_offset_streams)
{
    unit_up();
    U.sid_of = sid_offset;
    struct pci_dev *dev = mkdev(0, 0x40), *far = mkdev(2, 0x00);
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    struct buf b = buf_new();
    REQUIRE(iommu_map(d, 0x7000, b.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(iommu_attach(d, dev) == 0);
    uint8_t v = 0x99;
    CHECK_EQ(mock_smmu_dma(&M, 0x1040, 0x7008, &v, 1, true), 0);
    CHECK_EQ(b.page[4096 + 8], 0x99);
    CHECK_EQ(mock_smmu_dma(&M, 0x40, 0x7008, &v, 1, true), EVT_C_BAD_STREAMID);
    /* The fault of StreamID 0x1040 is the requester 00:08.0's, delivered to its domain. */
    nr_delivered = 0;
    CHECK_EQ(mock_smmu_dma(&M, 0x1040, 0x9000, &v, 1, false), EVT_F_TRANSLATION);
    smmu_poll(&U);
    CHECK_EQ(nr_delivered, 1);
    CHECK_EQ(last_fault.rid, 0x40);
    CHECK_EQ(last_fault.addr, 0x9000);
    CHECK_EQ(iommu_attach(d, far), -ENODEV);    /* no map entry: the unit never sees it */
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_unmap(d, 0x7000, 4096);
    iommu_domain_free(d);
    CHECK(canaries_intact(&b));
    CHECK_EQ(M.violations, 0);
}

/* ---- batched unmaps ---- */

TEST(gather_one_sync)
{
    unit_up();
    struct pci_dev *dev = mkdev(0, 0x48);
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    struct buf b = buf_new();
    for (unsigned i = 0; i < 4; i++)
        REQUIRE(iommu_map(d, 0x100000 + i * 0x10000, b.pa + 4096, 4096, IOMMU_READ) == 0);
    REQUIRE(iommu_attach(d, dev) == 0);
    uint8_t x;
    for (unsigned i = 0; i < 4; i++)
        CHECK_EQ(mock_smmu_dma(&M, 0x48, 0x100000 + i * 0x10000, &x, 1, false), 0);
    mock_smmu_clear_log(&M);
    struct pgtable_gather g;
    iommu_gather_init(&g);
    for (unsigned i = 0; i < 4; i++)
        REQUIRE(iommu_unmap_gather(d, 0x100000 + i * 0x10000, 4096, &g) == 0);
    CHECK_EQ(M.nr_syncs, 0);
    iommu_gather_sync(d, &g);
    CHECK_EQ(M.nr_syncs, 1);
    for (unsigned i = 0; i < 4; i++)
        CHECK_EQ(mock_smmu_dma(&M, 0x48, 0x100000 + i * 0x10000, &x, 1, false),
                 EVT_F_TRANSLATION);
    smmu_poll(&U);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(d);
    CHECK_EQ(M.violations, 0);
}

/* ---- granules ---- */

TEST(granule_64k_only)
{
    unit_prepare();
    M.idr[5] = (uint32_t)(FIELD_PREP(IDR5_OAS, 5) | IDR5_GRAN64K);
    REQUIRE(unit_start() == 0);
    CHECK_EQ(U.iu.pgsize_bitmap, BIT(16) | BIT(29));
    struct iommu_domain *s1 = paging(0), *s2 = paging(IOMMU_DOMAIN_NEST_PARENT);
    REQUIRE(s1 && s2);
    CHECK_EQ(s1->pt.granule, 65536);
    CHECK_EQ(FIELD_GET(CD0_TG0, to_smmu_domain(s1)->cd->w[0]), SMMU_TG_64K);
    CHECK_EQ(FIELD_GET(CD0_IPS, to_smmu_domain(s1)->cd->w[0]), 5);
    struct smmu_ste e;
    smmu_ste_for_domain(to_smmu_domain(s2), &e);
    CHECK_EQ(FIELD_GET(STE2_S2TG, e.w[2]), SMMU_TG_64K);
    CHECK_EQ(FIELD_GET(STE2_S2T0SZ, e.w[2]), 64 - s2->pt.ias);
    /* 48-bit IPA with 64 KiB pages: 3 levels from level 1 (SL0 2). */
    CHECK_EQ(s2->pt.levels, 3);
    CHECK_EQ(FIELD_GET(STE2_S2SL0, e.w[2]), 2);
    CHECK_EQ(iommu_map(s1, 0x10000, 0x50000000, 0x10000, IOMMU_READ), 0);
    CHECK_EQ(iommu_map(s1, 0x21000, 0x50000000, 0x1000, IOMMU_READ), -EINVAL);  /* < granule */
    mock_smmu_clear_log(&M);
    CHECK_EQ(iommu_unmap(s1, 0x10000, 0x10000), 0);
    CHECK_EQ(FIELD_GET(CMD1_TG, M.log[0].w[1]), 3);     /* range TLBI in 64 KiB granules */
    iommu_domain_free(s1);
    iommu_domain_free(s2);
    CHECK_EQ(M.violations, 0);
}

/* The unit refuses the CFGI_STE of an attach: the device stays on its old domain, in memory
 * and in the caller's view, so nothing the caller frees is still reachable. */
TEST(attach_unconfirmed_rolls_back)
{
    unit_up();
    struct pci_dev *dev = mkdev(0, 0x50);
    struct iommu_domain *a = paging(0), *b = paging(0);
    REQUIRE(a && b);
    struct buf buf = buf_new();
    REQUIRE(iommu_map(a, 0x4000, buf.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(iommu_attach(a, dev) == 0);
    M.refuse_op = CMD_CFGI_STE;
    CHECK_EQ(iommu_attach(b, dev), -EIO);
    CHECK(iommu_dev_domain(dev) == a);
    /* Whatever the model cached, it fetches the entry again: memory holds domain a's. */
    for (unsigned i = 0; i < MOCK_SMMU_CFG; i++)
        M.cfg[i].valid = false;
    uint8_t v = 0x42;
    CHECK_EQ(mock_smmu_dma(&M, 0x50, 0x4000, &v, 1, true), 0);
    CHECK_EQ(buf.page[4096], 0x42);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(b);
    iommu_unmap(a, 0x4000, 4096);
    iommu_domain_free(a);
    CHECK_EQ(M.violations, 0);
}

/* Write-only: stage 2 says it exactly (a read faults); stage 1 cannot, and maps it readable
 * too, as Linux's Arm stage-1 tables do, rather than failing the map. */
TEST(write_only_mappings)
{
    unit_up();
    struct pci_dev *dev = mkdev(0, 0x58);
    for (int stage = 1; stage <= 2; stage++) {
        struct iommu_domain *d = paging(stage == 2 ? IOMMU_DOMAIN_NEST_PARENT : 0);
        REQUIRE(d);
        struct buf b = buf_new();
        REQUIRE(iommu_map(d, 0x6000, b.pa + 4096, 4096, IOMMU_WRITE) == 0);
        REQUIRE(iommu_attach(d, dev) == 0);
        uint8_t v = 0x17;
        CHECK_EQ(mock_smmu_dma(&M, 0x58, 0x6010, &v, 1, true), 0);
        CHECK_EQ(b.page[4096 + 0x10], 0x17);
        CHECK_EQ(mock_smmu_dma(&M, 0x58, 0x6010, &v, 1, false),
                 stage == 2 ? EVT_F_PERMISSION : 0);
        smmu_poll(&U);
        REQUIRE(iommu_attach(NULL, dev) == 0);
        iommu_unmap(d, 0x6000, 4096);
        iommu_domain_free(d);
        CHECK(canaries_intact(&b));
    }
    CHECK_EQ(M.violations, 0);
}

/* One record per blocked transfer and page: the words after the first (QEMU records each) are
 * counted, not delivered again; a new transfer to the same page, another page, another device
 * or direction is delivered. */
TEST(records_of_one_transfer_coalesced)
{
    unit_up();
    struct pci_dev *dev = mkdev(0, 0x60);
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    REQUIRE(iommu_attach(d, dev) == 0);
    nr_delivered = 0;
    uint8_t buf[4096] = { 0 };
    for (unsigned off = 0; off < 4096; off += 4)    /* one 4 KiB write, word by word */
        CHECK_EQ(mock_smmu_dma(&M, 0x60, 0x20000 + off, buf, 4, true), EVT_F_TRANSLATION);
    smmu_poll(&U);
    CHECK_EQ(nr_delivered, 1);
    CHECK_EQ(last_fault.addr, 0x20000);
    CHECK_EQ(U.nr_coalesced, 1023);
    CHECK_EQ(mock_smmu_dma(&M, 0x60, 0x20000, buf, 4, true), EVT_F_TRANSLATION);  /* again */
    CHECK_EQ(mock_smmu_dma(&M, 0x60, 0x21000, buf, 4, true), EVT_F_TRANSLATION);  /* next page */
    CHECK_EQ(mock_smmu_dma(&M, 0x60, 0x21008, buf, 4, false), EVT_F_TRANSLATION); /* a read */
    smmu_poll(&U);
    CHECK_EQ(nr_delivered, 4);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(d);
    CHECK_EQ(M.violations, 0);
}

/* A poll that interrupts another (the event interrupt during a test's poll) returns at once;
 * the interrupted one still reads every record, including one that came while it ran. */
static unsigned nested_polls;

static void poll_from_fault(struct iommu_domain *d, const struct iommu_fault *f, void *ctx)
{
    nr_delivered++;
    if (nested_polls++ == 0) {
        CHECK_EQ(smmu_poll(&U), 0);
        struct smmu_event e = { { FIELD_PREP(EVT0_ID, EVT_F_TRANSLATION) |
                                  FIELD_PREP(EVT0_SID, 0x68), EVT1_RNW, 0x77000, 0 } };
        mock_smmu_event(&M, &e);
    }
}

TEST(poll_not_reentered)
{
    unit_up();
    struct pci_dev *dev = mkdev(0, 0x68);
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    REQUIRE(iommu_attach(d, dev) == 0);
    d->fault_fn = poll_from_fault;
    nr_delivered = 0;
    nested_polls = 0;
    uint8_t x = 0;
    CHECK_EQ(mock_smmu_dma(&M, 0x68, 0x55000, &x, 1, true), EVT_F_TRANSLATION);
    CHECK_EQ(smmu_poll(&U), 2);
    CHECK_EQ(nr_delivered, 2);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(d);
}

/* The smallest command queue the ID registers may give (two entries): every batch still goes
 * through, one command and one sync at a time. */
TEST(two_entry_command_queue)
{
    unit_prepare();
    M.idr[1] = (M.idr[1] & ~(uint32_t)IDR1_CMDQS) | (uint32_t)FIELD_PREP(IDR1_CMDQS, 1);
    REQUIRE(unit_start() == 0);
    struct smmu_cmd c[5];
    for (unsigned i = 0; i < 5; i++)
        smmu_cmd_cfgi_ste(&c[i], i);
    mock_smmu_clear_log(&M);
    CHECK_EQ(smmu_cmdq_submit(&U, c, 5), 0);
    CHECK_EQ(M.nr_syncs, 5);
    CHECK_EQ(mock_smmu_count(&M, CMD_CFGI_STE), 5);
    struct iommu_domain *d = paging(0);
    REQUIRE(d);
    struct pci_dev *dev = mkdev(0, 0x70);
    REQUIRE(iommu_attach(d, dev) == 0);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_domain_free(d);
    CHECK_EQ(M.violations, 0);
}

/* A 32-bit output unit: stage 2 then takes 32-bit IPAs from level 2 over four concatenated
 * tables (S2SL0 0), and DMA through it lands where mapped. */
TEST(stage2_concatenated_start_level)
{
    unit_prepare();
    M.idr[5] = (M.idr[5] & ~(uint32_t)IDR5_OAS) | (uint32_t)FIELD_PREP(IDR5_OAS, 0);
    REQUIRE(unit_start() == 0);
    struct iommu_domain *d = paging(IOMMU_DOMAIN_NEST_PARENT);
    REQUIRE(d);
    CHECK_EQ(d->pt.ias, 32);
    CHECK_EQ(d->pt.levels, 2);
    struct smmu_ste e;
    smmu_ste_for_domain(to_smmu_domain(d), &e);
    CHECK_EQ(FIELD_GET(STE2_S2SL0, e.w[2]), 0);
    CHECK_EQ(FIELD_GET(STE2_S2T0SZ, e.w[2]), 32);
    CHECK_EQ(FIELD_GET(STE2_S2PS, e.w[2]), 0);
    struct buf b = buf_new();
    struct pci_dev *dev = mkdev(0, 0x78);
    REQUIRE(iommu_map(d, 0xc0001000, b.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    REQUIRE(iommu_attach(d, dev) == 0);
    uint8_t v = 0x61;
    CHECK_EQ(mock_smmu_dma(&M, 0x78, 0xc0001234, &v, 1, true), 0);
    CHECK_EQ(b.page[4096 + 0x234], 0x61);
    REQUIRE(iommu_attach(NULL, dev) == 0);
    iommu_unmap(d, 0xc0001000, 4096);
    iommu_domain_free(d);
    CHECK(canaries_intact(&b));
    CHECK_EQ(M.violations, 0);
}

/* ---- nesting (issue 17): the program's stage 1 over moat's stage 2 ---- */

/* The program's memory: page i at IPA NEST_IPA + i * 4 KiB (stage 2 maps it), pages 0-3 its CD
 * and stage-1 tables (levels 1-3), 4 and 5 data pages A and B, 6 a page stage 2 does not map
 * (its IPA equals its PA, so a stage-1 entry naming it would reach it without stage 2). */
#define NEST_IPA 0x40000000ULL
#define NEST_PAGES 7
#define NEST_IOVA MOCK_SMMU_NEST_IOVA      /* L1 index 0, L2 index 0x80, L3 index 0 */
#define NEST_ASID 7
#define NEST_VSID 0x42

struct nest_env {
    uint8_t *page[NEST_PAGES];
    uint64_t pa[NEST_PAGES];
    struct iommu_domain *s2, *nd;
    struct iommu_viommu *v;
    struct iommu_vdev vd;
    struct pci_dev *dev;
    uint32_t sid;
};

static unsigned nr_vevents;
static uint64_t last_vevent[4];

static int on_vevent(struct iommu_viommu *v, uint32_t type, const void *data, size_t len,
                     void *ctx)
{
    if (type == IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 && len == sizeof(last_vevent))
        memcpy(last_vevent, data, len);
    nr_vevents++;
    return 0;
}

static uint64_t nest_ipa(unsigned i)
{
    return NEST_IPA + i * 4096ULL;
}

static uint64_t *nest_l3(struct nest_env *n)
{
    return (uint64_t *)n->page[3];
}

/* A stage-1 leaf: page at IPA ipa, read-write, access flag set (the unit sets none). */
#define s1_leaf MOCK_SMMU_S1_LEAF

static struct iommu_domain *nested_on(struct nest_env *n, uint64_t ste0)
{
    uint64_t ste[2] = { ste0, FIELD_PREP(STE1_S1CIR, 1) | FIELD_PREP(STE1_S1COR, 1) |
                              FIELD_PREP(STE1_S1CSH, 3) };
    struct iommu_user_data data = { IOMMU_HWPT_DATA_ARM_SMMUV3, ste, sizeof(ste) };
    struct iommu_nested_cfg ncfg;
    struct iommu_domain *d = NULL;
    if (n->v->ops->nested_parse(n->v, &data, &ncfg))
        return NULL;
    struct iommu_domain_cfg cfg = { .parent = n->s2, .nested = &ncfg, .viommu = n->v };
    CHECK_EQ(iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_NESTED, &cfg, &d), 0);
    if (d) {
        d->fault_fn = on_fault;
        d->fault_ctx = NULL;
    }
    return d;
}

static void nest_up(struct nest_env *n)
{
    unit_up();
    memset(n, 0, sizeof(*n));
    for (unsigned i = 0; i < NEST_PAGES; i++) {
        n->page[i] = pmm_alloc_zeroed(0, &n->pa[i]);
        REQUIRE(n->page[i]);
        memset(n->page[i], 0xc5, 4096);
    }
    n->s2 = paging(IOMMU_DOMAIN_NEST_PARENT);
    REQUIRE(n->s2 && to_smmu_domain(n->s2)->stage == SMMU_STAGE_2);
    for (unsigned i = 0; i < NEST_PAGES - 1; i++)
        REQUIRE(iommu_map(n->s2, nest_ipa(i), n->pa[i], 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    /* The program's CD and tables, in its own memory, naming IPAs. */
    memset(n->page[3], 0, 4096);
    mock_smmu_s1_program(n->page[0], n->page[1], n->page[2], nest_ipa(1), nest_ipa(2),
                         nest_ipa(3), NEST_ASID);
    nest_l3(n)[0] = s1_leaf(nest_ipa(4));
    REQUIRE(iommu_viommu_alloc(&U.iu, n->s2, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &n->v) == 0);
    n->dev = mkdev(0, 0x60);
    n->sid = 0x60;
    n->vd = (struct iommu_vdev){ NEST_VSID, n->dev, NULL };
    n->v->vdevs = &n->vd;
    n->v->event_fn = on_vevent;
    n->nd = nested_on(n, STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_S1) | nest_ipa(0));
    REQUIRE(n->nd);
    REQUIRE(iommu_attach(n->nd, n->dev) == 0);
}

static void nest_down(struct nest_env *n)
{
    CHECK_EQ(iommu_attach(NULL, n->dev), 0);
    iommu_domain_free(n->nd);
    n->v->vdevs = NULL;
    iommu_viommu_free(n->v);
    for (unsigned i = 0; i < NEST_PAGES - 1; i++)
        CHECK_EQ(iommu_unmap(n->s2, nest_ipa(i), 4096), 0);
    iommu_domain_free(n->s2);
    CHECK_EQ(M.violations, 0);
}

static int nest_invalidate(struct nest_env *n, uint64_t w0, uint64_t w1)
{
    uint64_t c[2] = { w0, w1 };
    struct iommu_user_array a = { IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, c, sizeof(c), 1 };
    return n->v->ops->cache_invalidate(n->v, &a);
}

static bool page_is(const uint8_t *p, uint8_t v)
{
    for (unsigned i = 0; i < 4096; i++)
        if (p[i] != v)
            return false;
    return true;
}

TEST(nested_viommu_alloc_rules)
{
    unit_up();
    struct iommu_domain *s1 = paging(0), *s2 = paging(IOMMU_DOMAIN_NEST_PARENT);
    struct iommu_viommu *v = NULL;
    REQUIRE(s1 && s2);
    CHECK_EQ(iommu_viommu_alloc(&U.iu, s2, IOMMU_VIOMMU_TYPE_DEFAULT, &v), -EOPNOTSUPP);
    CHECK_EQ(iommu_viommu_alloc(&U.iu, s2, 2, &v), -EOPNOTSUPP);
    CHECK_EQ(iommu_viommu_alloc(&U.iu, s1, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &v), -EINVAL);
    CHECK_EQ(iommu_viommu_alloc(&U.iu, s2, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &v), 0);
    /* Nesting only through a vIOMMU. */
    struct iommu_domain *d = NULL;
    struct iommu_nested_cfg ncfg = { { 0 } };
    struct iommu_domain_cfg cfg = { .parent = s2, .nested = &ncfg };
    CHECK_EQ(iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_NESTED, &cfg, &d), -EOPNOTSUPP);
    iommu_viommu_free(v);
    iommu_domain_free(s1);
    iommu_domain_free(s2);
    unit_prepare();
    M.idr[0] &= ~(uint32_t)IDR0_S1P;            /* stage 2 only: nothing to nest */
    REQUIRE(unit_start() == 0);
    s2 = paging(IOMMU_DOMAIN_NEST_PARENT);
    REQUIRE(s2);
    CHECK_EQ(iommu_viommu_alloc(&U.iu, s2, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &v), -EOPNOTSUPP);
    iommu_domain_free(s2);
}

/* The STE: Config 0b111, the program's S1ContextPtr and stage-1 fields, moat's stage 2 and
 * VMID; then DMA through both stages, bytes and canaries checked. */
TEST(nested_dma_both_stages)
{
    struct nest_env n;
    nest_up(&n);
    struct smmu_ste e;
    REQUIRE(mock_smmu_read_ste(&M, n.sid, &e) == 0);
    struct smmu_ste s2e;
    smmu_mk_ste_s2(&s2e, &n.s2->pt, to_smmu_domain(n.s2)->vmid);
    CHECK_EQ(FIELD_GET(STE0_CONFIG, e.w[0]), STE_CFG_NESTED);
    CHECK_EQ(e.w[0] & STE0_S1CTXPTR, nest_ipa(0));
    CHECK_EQ(e.w[2], s2e.w[2]);                 /* moat's VMID, S2 translation control */
    CHECK_EQ(e.w[3], s2e.w[3]);                 /* moat's stage-2 table */
    CHECK_EQ(FIELD_GET(STE1_S1CSH, e.w[1]), 3);
    CHECK_EQ(FIELD_GET(STE1_EATS, e.w[1]), 0);
    uint8_t data[64], back[64];
    for (unsigned i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(0x30 + i);
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA + 0x10, data, sizeof(data), true), 0);
    CHECK(memcmp(n.page[4] + 0x10, data, sizeof(data)) == 0);
    CHECK_EQ(n.page[4][0x0f], 0xc5);
    CHECK_EQ(n.page[4][0x10 + sizeof(data)], 0xc5);
    CHECK(page_is(n.page[5], 0xc5) && page_is(n.page[6], 0xc5));
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA + 0x10, back, sizeof(back), false), 0);
    CHECK(memcmp(back, data, sizeof(data)) == 0);
    CHECK_EQ(nr_vevents, 0);
    nest_down(&n);
}

/* A stage-1 change is not seen until the program invalidates through the vIOMMU (the model, as
 * the architecture allows, keeps the old translation); after TLBI_NH_VA, converted with moat's
 * VMID, DMA follows the new entry. */
TEST(nested_stage1_change_and_invalidation)
{
    struct nest_env n;
    nest_up(&n);
    uint8_t x = 0x11;
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA, &x, 1, true), 0);
    CHECK_EQ(n.page[4][0], 0x11);
    nest_l3(&n)[0] = s1_leaf(nest_ipa(5));      /* the program moves the page to B */
    x = 0x22;
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA, &x, 1, true), 0);
    CHECK_EQ(n.page[4][0], 0x22);               /* stale, without the invalidation */
    CHECK_EQ(n.page[5][0], 0xc5);
    mock_smmu_clear_log(&M);
    CHECK_EQ(nest_invalidate(&n, CMD_TLBI_NH_VA | FIELD_PREP(CMD0_ASID, NEST_ASID) |
                                     FIELD_PREP(CMD0_VMID, 0x3ff), NEST_IOVA), 0);
    CHECK_EQ(mock_smmu_count(&M, CMD_TLBI_NH_VA), 1);
    CHECK_EQ(mock_smmu_count(&M, CMD_SYNC), 1);
    bool vmid_forced = false;
    for (unsigned i = 0; i < M.nr_log; i++)
        if (smmu_cmd_op(&M.log[i]) == CMD_TLBI_NH_VA)
            vmid_forced = FIELD_GET(CMD0_VMID, M.log[i].w[0]) == to_smmu_domain(n.s2)->vmid;
    CHECK(vmid_forced);
    x = 0x33;
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA, &x, 1, true), 0);
    CHECK_EQ(n.page[5][0], 0x33);
    CHECK_EQ(n.page[4][0], 0x22);
    /* A CD change needs CFGI_CD, its virtual StreamID made physical. */
    mock_smmu_clear_log(&M);
    CHECK_EQ(nest_invalidate(&n, CMD_CFGI_CD | FIELD_PREP(CMD0_SID, NEST_VSID), CMD1_LEAF), 0);
    CHECK_EQ(mock_smmu_count(&M, CMD_CFGI_CD), 1);
    for (unsigned i = 0; i < M.nr_log; i++)
        if (smmu_cmd_op(&M.log[i]) == CMD_CFGI_CD)
            CHECK_EQ(FIELD_GET(CMD0_SID, M.log[i].w[0]), n.sid);
    CHECK_EQ(nest_invalidate(&n, CMD_CFGI_CD | FIELD_PREP(CMD0_SID, 0x99), 0), -EIO);
    CHECK_EQ(M.nr_refused, 0);
    nest_down(&n);
}

/* A stage-1 fault goes to the program (virtual StreamID) and not to moat's fault path; a
 * stage-1 entry or CD pointing outside stage 2 is a stage-2 fault: moat's fault path, exact
 * IOVA, and the page it named stays untouched. */
TEST(nested_faults_by_stage)
{
    struct nest_env n;
    nest_up(&n);
    unsigned ve = nr_vevents, fd = nr_delivered;
    uint8_t x = 0x44;
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA + 0x5000, &x, 1, true), EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    CHECK_EQ(nr_vevents, ve + 1);
    CHECK_EQ(nr_delivered, fd);
    CHECK_EQ(FIELD_GET(EVT0_SID, last_vevent[0]), NEST_VSID);
    CHECK_EQ(FIELD_GET(EVT0_ID, last_vevent[0]), EVT_F_TRANSLATION);
    CHECK_EQ(last_vevent[2], NEST_IOVA + 0x5000);
    CHECK(!(last_vevent[1] & EVT1_S2));
    /* Stage 1 names page 6 by its PA, which stage 2 does not map. */
    nest_l3(&n)[1] = s1_leaf(n.pa[6]);
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA + 0x1008, &x, 1, true), EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    CHECK_EQ(nr_vevents, ve + 1);
    CHECK_EQ(nr_delivered, fd + 1);
    CHECK_EQ(last_fault.addr, NEST_IOVA + 0x1008);
    CHECK(last_fault.write);
    CHECK(page_is(n.page[6], 0xc5));
    /* A stage-1 table outside stage 2. */
    ((uint64_t *)n.page[2])[0x81] = n.pa[6] | 3;
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA + 0x200000, &x, 1, false), EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    CHECK_EQ(nr_delivered, fd + 2);
    CHECK_EQ(last_fault.addr, NEST_IOVA + 0x200000);
    /* A CD outside stage 2: another nested domain, replaced in without a window. */
    struct iommu_domain *bad = nested_on(&n, STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_S1) |
                                                 n.pa[6]);
    REQUIRE(bad);
    CHECK_EQ(iommu_attach(bad, n.dev), 0);
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA, &x, 1, true), EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    CHECK_EQ(nr_delivered, fd + 3);
    CHECK_EQ(nr_vevents, ve + 1);
    CHECK(page_is(n.page[6], 0xc5));
    CHECK_EQ(iommu_attach(n.nd, n.dev), 0);
    iommu_domain_free(bad);
    nest_down(&n);
}

/* moat takes a page out of stage 2: the cached whole translation goes too (TLBI_NH_ALL of the
 * VMID after the stage-2 invalidation), so the program's stage 1 cannot keep reaching it. */
TEST(nested_parent_unmap_invalidates_stage1)
{
    struct nest_env n;
    nest_up(&n);
    uint8_t x = 0x55;
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA, &x, 1, true), 0);
    mock_smmu_clear_log(&M);
    CHECK_EQ(iommu_unmap(n.s2, nest_ipa(4), 4096), 0);
    CHECK_EQ(mock_smmu_count(&M, CMD_TLBI_NH_ALL), 1);
    memset(n.page[4], 0xc5, 4096);
    x = 0x66;
    CHECK_EQ(mock_smmu_dma(&M, n.sid, NEST_IOVA, &x, 1, true), EVT_F_TRANSLATION);
    smmu_evtq_poll(&U);
    CHECK(page_is(n.page[4], 0xc5));
    CHECK_EQ(iommu_map(n.s2, nest_ipa(4), n.pa[4], 4096, IOMMU_READ | IOMMU_WRITE), 0);
    nest_down(&n);
}

/* Replace between nested, the parent (stage 2), blocked, the program's bypass (stage 2 only)
 * and abort, each through the entry writer. */
TEST(nested_replace_chain)
{
    struct nest_env n;
    nest_up(&n);
    struct smmu_ste e;
    struct iommu_domain *byp = nested_on(&n, STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_BYPASS));
    struct iommu_domain *abt = nested_on(&n, STE0_V);
    REQUIRE(byp && abt);
    /* A translating nested domain needs the device's vDEVICE; abort and bypass do not. */
    struct pci_dev *other = mkdev(0, 0x61);
    CHECK_EQ(iommu_attach(n.nd, other), -ENOENT);
    CHECK_EQ(iommu_attach(byp, other), 0);
    CHECK_EQ(iommu_attach(abt, other), 0);
    CHECK_EQ(iommu_attach(NULL, other), 0);
    struct { struct iommu_domain *d; unsigned cfg; } chain[] = {
        { n.s2, STE_CFG_S2 }, { n.nd, STE_CFG_NESTED }, { byp, STE_CFG_S2 },
        { abt, STE_CFG_ABORT }, { n.nd, STE_CFG_NESTED }, { NULL, STE_CFG_ABORT },
        { byp, STE_CFG_S2 }, { n.nd, STE_CFG_NESTED },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(chain); i++) {
        CHECK_EQ(iommu_attach(chain[i].d, n.dev), 0);
        REQUIRE(mock_smmu_read_ste(&M, n.sid, &e) == 0);
        CHECK_EQ(FIELD_GET(STE0_CONFIG, e.w[0]), chain[i].cfg);
        uint8_t x = (uint8_t)(0x70 + i);
        uint64_t at = chain[i].cfg == STE_CFG_S2 ? nest_ipa(4) + 1 : NEST_IOVA + 1;
        int r = mock_smmu_dma(&M, n.sid, at, &x, 1, true);
        CHECK_EQ(r, chain[i].cfg == STE_CFG_ABORT ? -1 : 0);
        CHECK_EQ(n.page[4][1], chain[i].cfg == STE_CFG_ABORT ? 0xc5 : x);
        n.page[4][1] = 0xc5;
    }
    CHECK_EQ(U.nr_cmdq_errors, 0);
    iommu_domain_free(byp);
    iommu_domain_free(abt);
    nest_down(&n);
}

/* Fail the n-th driver allocation of the nesting sequence (vIOMMU, nested domain, the level-2
 * stream table of the attach) for every n: each step fails with -ENOMEM or succeeds, and taking
 * down what was made leaves no heap or page behind. */
TEST(failnth_nesting)
{
    unit_up();
    struct iommu_domain *s2 = paging(IOMMU_DOMAIN_NEST_PARENT);
    REQUIRE(s2);
    uint64_t ste[2] = { STE0_V | FIELD_PREP(STE0_CONFIG, STE_CFG_S1) | 0x40000000, 0 };
    struct iommu_user_data data = { IOMMU_HWPT_DATA_ARM_SMMUV3, ste, sizeof(ste) };
    struct pci_dev *dev = mkdev(7, 0x08);         /* a stream no test has used: a new L2 table */
    struct iommu_viommu *warm;                     /* the heap's slabs for these sizes exist */
    REQUIRE(iommu_viommu_alloc(&U.iu, s2, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &warm) == 0);
    struct iommu_domain *warm_d = paging(0);
    iommu_domain_free(warm_d);
    iommu_viommu_free(warm);
    unsigned n;
    for (n = 1; n < 32; n++) {
        size_t heap = heap_live_bytes();
        uint64_t pages = pmm_free_bytes();
        struct iommu_viommu *v = NULL;
        struct iommu_domain *nd = NULL;
        struct iommu_nested_cfg ncfg;
        smmu_fail_nth = n;
        struct iommu_vdev vd = { 1, dev, NULL };
        int err = iommu_viommu_alloc(&U.iu, s2, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, &v);
        if (!err) {
            v->vdevs = &vd;
            err = v->ops->nested_parse(v, &data, &ncfg);
        }
        if (!err) {
            struct iommu_domain_cfg cfg = { .parent = s2, .nested = &ncfg, .viommu = v };
            err = iommu_domain_alloc(&U.iu, IOMMU_DOMAIN_NESTED, &cfg, &nd);
        }
        if (!err)
            err = iommu_attach(nd, dev);
        bool done = !err;
        smmu_fail_nth = 0;
        CHECK(!err || err == -ENOMEM);
        if (nd) {
            CHECK_EQ(iommu_attach(NULL, dev), 0);
            iommu_domain_free(nd);
        }
        if (v)
            v->vdevs = NULL;
        iommu_viommu_free(v);
        if (done)
            break;
        CHECK_EQ(heap_live_bytes(), heap);
        CHECK_EQ(pmm_free_bytes(), pages);
    }
    CHECK(n > 2 && n < 32);
    iommu_domain_free(s2);
    CHECK_EQ(M.violations, 0);
}
