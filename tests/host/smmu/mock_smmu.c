/* The SMMUv3 model of mock_smmu.h. Written from IHI 0070, independently of the driver: its own
 * field decoding (the shared smmu_hw.h names only the bit positions), its own table walker. */
#include "tests/host/smmu/mock_smmu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/log.h"

#define ARENA_BYTES (64u << 20)
/* Low enough for QEMU's 44-bit output size (and below the sanitizer's shadow memory): host
 * memory is used at its own address as the "physical" one. */
#define ARENA_ADDR 0x50000000UL
static void *arena;

#define VIOLATION(m, ...)                                                       \
    do {                                                                        \
        (m)->violations++;                                                      \
        printf("    smmu model violation at %s:%d: ", __FILE__, __LINE__);      \
        printf(__VA_ARGS__);                                                    \
        printf("\n");                                                           \
    } while (0)

void mock_smmu_memory(void)
{
    if (!arena) {
        arena = mmap((void *)ARENA_ADDR, ARENA_BYTES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        MOAT_ASSERT(arena == (void *)ARENA_ADDR);
    }
    memset(arena, 0, ARENA_BYTES);
    pmm_reset();
    heap_reset();
    MOAT_ASSERT(pmm_add_region((uint64_t)(uintptr_t)arena, ARENA_BYTES) == 0);
}

static bool in_arena(uint64_t pa, size_t len)
{
    uint64_t a = (uint64_t)(uintptr_t)arena;
    return pa >= a && pa + len <= a + ARENA_BYTES && pa + len >= pa;
}

static void *mem(struct mock_smmu *m, uint64_t pa, size_t len)
{
    if (!in_arena(pa, len)) {
        VIOLATION(m, "the unit reads %#llx (+%zu): outside memory",
                  (unsigned long long)pa, len);
        return NULL;
    }
    return (void *)(uintptr_t)pa;
}

void mock_smmu_init(struct mock_smmu *m)
{
    memset(m, 0, sizeof(*m));
    m->idr[0] = (uint32_t)(IDR0_S1P | IDR0_S2P | FIELD_PREP(IDR0_TTF, 2) | IDR0_COHACC |
                           IDR0_ASID16 | IDR0_VMID16 | FIELD_PREP(IDR0_TTENDIAN, 2) |
                           FIELD_PREP(IDR0_ST_LEVEL, 1));
    m->idr[1] = (uint32_t)(FIELD_PREP(IDR1_SIDSIZE, 16) | FIELD_PREP(IDR1_EVENTQS, 19) |
                           FIELD_PREP(IDR1_CMDQS, 19));
    m->idr[3] = (uint32_t)IDR3_RIL;
    m->idr[5] = (uint32_t)(FIELD_PREP(IDR5_OAS, 4) | IDR5_GRAN4K | IDR5_GRAN16K | IDR5_GRAN64K);
    m->iidr = 0x43b;
    m->aidr = 1;
}

void mock_smmu_prepare(struct mock_smmu *m, struct smmu_unit *u)
{
    mock_smmu_memory();
    mock_smmu_init(m);
    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "smmu0");
    u->io = &mock_smmu_io;
    u->io_ctx = m;
    u->wait_ns = 20 * 1000 * 1000;
}

/* ---- queues ---- */

static unsigned q_log2(uint64_t base)
{
    return (unsigned)(base & 0x1f);
}

static uint64_t q_addr(uint64_t base)
{
    return base & GENMASK(51, 5);
}

static uint32_t q_mask(uint64_t base)
{
    return (2u << q_log2(base)) - 1;
}

static bool q_full(uint64_t base, uint32_t prod, uint32_t cons)
{
    uint32_t n = 1u << q_log2(base);
    return ((prod ^ cons) & (n - 1)) == 0 && ((prod ^ cons) & n);
}

void mock_smmu_event(struct mock_smmu *m, const struct smmu_event *e)
{
    if (!(m->cr0ack & CR0_EVENTQEN))
        return;
    uint64_t b = m->evtq_base;
    uint32_t prod = m->evtq_prod & q_mask(b), cons = m->evtq_cons & q_mask(b);
    if (q_full(b, prod, cons)) {
        /* OVFLG toggles once per overflow episode: when software has acknowledged it. */
        if ((m->evtq_prod & EVENTQ_PROD_OVFLG) == (m->evtq_cons & EVENTQ_CONS_OVACKFLG))
            m->evtq_prod ^= EVENTQ_PROD_OVFLG;
        m->nr_dropped++;
        return;
    }
    struct smmu_event *slot = mem(m, q_addr(b) + (prod & ((1u << q_log2(b)) - 1)) * 32, 32);
    if (!slot)
        return;
    *slot = *e;
    m->evtq_prod = (m->evtq_prod & EVENTQ_PROD_OVFLG) | ((prod + 1) & q_mask(b));
    m->nr_events++;
}

/* ---- caches ---- */

static void cfg_drop(struct mock_smmu *m, uint32_t sid, bool all)
{
    for (unsigned i = 0; i < MOCK_SMMU_CFG; i++)
        if (all || m->cfg[i].sid == sid)
            m->cfg[i].valid = false;
}

/* Drops TLB entries of one tag (or all) over [page, page + n) (n 0: every page). */
static void tlb_drop(struct mock_smmu *m, bool s2, bool any_tag, uint16_t tag, uint64_t page,
                     uint64_t n)
{
    for (unsigned i = 0; i < MOCK_SMMU_TLB; i++) {
        struct mock_smmu_tlb *t = &m->tlb[i];
        if (!t->valid || (!any_tag && (t->s2 != s2 || t->tag != tag)))
            continue;
        if (n && (t->page < page || t->page - page >= n))
            continue;
        t->valid = false;
    }
}

/* ---- commands ---- */

static bool cmd_check_tlbi_range(struct mock_smmu *m, const struct smmu_cmd *c, uint64_t *n)
{
    unsigned tg = (unsigned)FIELD_GET(CMD1_TG, c->w[1]);
    unsigned num = (unsigned)FIELD_GET(CMD0_NUM, c->w[0]);
    unsigned scale = (unsigned)FIELD_GET(CMD0_SCALE, c->w[0]);
    if (!tg) {
        *n = 1;
        return num == 0 && scale == 0;
    }
    if (!(m->idr[3] & IDR3_RIL)) {
        VIOLATION(m, "range TLBI (TG %u) without IDR3.RIL", tg);
        return false;
    }
    /* In the model's 4 KiB pages: TG 1 4 KiB, 2 16 KiB, 3 64 KiB granules. */
    *n = ((uint64_t)(num + 1) << scale) << (tg == 1 ? 0 : tg == 2 ? 2 : 4);
    return true;
}

/* Executes one command; false: illegal (CERROR_ILL). */
static bool cmd_exec(struct mock_smmu *m, const struct smmu_cmd *c)
{
    unsigned op = smmu_cmd_op(c);
    uint32_t sid = (uint32_t)FIELD_GET(CMD0_SID, c->w[0]);
    uint16_t asid = (uint16_t)FIELD_GET(CMD0_ASID, c->w[0]);
    uint16_t vmid = (uint16_t)FIELD_GET(CMD0_VMID, c->w[0]);
    uint64_t n;
    if (m->refuse_op && (int)op == m->refuse_op) {
        m->refuse_op = 0;
        return false;
    }
    switch (op) {
    case CMD_CFGI_STE:
    case CMD_CFGI_CD:
        if (sid >> FIELD_GET(IDR1_SIDSIZE, m->idr[1]))
            return false;
        cfg_drop(m, sid, false);
        return true;
    case CMD_CFGI_STE_RANGE:
    case CMD_CFGI_CD_ALL:
        cfg_drop(m, 0, true);
        return true;
    case CMD_TLBI_NH_ASID:
        tlb_drop(m, false, false, asid, 0, 0);
        return true;
    case CMD_TLBI_NH_VA:
        if (!cmd_check_tlbi_range(m, c, &n))
            return false;
        tlb_drop(m, false, false, asid, (c->w[1] & CMD1_VA) >> 12, n);
        return true;
    case CMD_TLBI_NH_VAA:                       /* every ASID's entries of the range */
        if (!cmd_check_tlbi_range(m, c, &n))
            return false;
        for (unsigned i = 0; i < MOCK_SMMU_TLB; i++) {
            struct mock_smmu_tlb *t = &m->tlb[i];
            uint64_t page = (c->w[1] & CMD1_VA) >> 12;
            if (t->valid && !t->s2 && t->page >= page && t->page - page < n)
                t->valid = false;
        }
        return true;
    case CMD_TLBI_S2_IPA:
        if (!cmd_check_tlbi_range(m, c, &n))
            return false;
        tlb_drop(m, true, false, vmid, (c->w[1] & CMD1_IPA) >> 12, n);
        return true;
    case CMD_TLBI_S12_VMALL:
        tlb_drop(m, true, false, vmid, 0, 0);
        return true;
    case CMD_TLBI_NSNH_ALL:
    case CMD_TLBI_NH_ALL:
        tlb_drop(m, false, true, 0, 0, 0);
        return true;
    case CMD_SYNC:
        m->nr_syncs++;
        return FIELD_GET(CMD0_SYNC_CS, c->w[0]) == CMD_SYNC_CS_NONE;
    default:
        return false;
    }
}

static void cmdq_consume(struct mock_smmu *m)
{
    uint64_t b = m->cmdq_base;
    if (!(m->cr0ack & CR0_CMDQEN) || m->stall || ((m->gerror ^ m->gerrorn) & GERROR_CMDQ_ERR))
        return;
    uint32_t mask = q_mask(b);
    uint32_t cons = m->cmdq_cons & mask;
    uint32_t prod = m->cmdq_prod & mask;
    while (cons != prod) {
        const struct smmu_cmd *c = mem(m, q_addr(b) + (cons & ((1u << q_log2(b)) - 1)) * 16, 16);
        if (!c)
            return;
        if (m->nr_log < MOCK_SMMU_LOG)
            m->log[m->nr_log++] = *c;
        m->nr_cmds++;
        m->op_count[smmu_cmd_op(c)]++;
        if (!cmd_exec(m, c)) {
            m->nr_refused++;
            m->cmdq_cons = cons | (uint32_t)FIELD_PREP(CMDQ_CONS_ERR, CMDQ_ERR_ILL);
            m->gerror ^= GERROR_CMDQ_ERR;
            return;
        }
        cons = (cons + 1) & mask;
        m->cmdq_cons = cons;
    }
}

/* ---- registers ---- */

static uint32_t mock_read32(void *ctx, uint32_t off)
{
    struct mock_smmu *m = ctx;
    if (off <= SMMU_IDR5)
        return m->idr[off / 4];
    switch (off) {
    case SMMU_IIDR: return m->iidr;
    case SMMU_AIDR: return m->aidr;
    case SMMU_CR0: return m->cr0;
    case SMMU_CR0ACK: return m->cr0ack;
    case SMMU_CR1: return m->cr1;
    case SMMU_CR2: return m->cr2;
    case SMMU_GBPA: return m->gbpa;
    case SMMU_IRQ_CTRL: return m->irq_ctrl;
    case SMMU_IRQ_CTRLACK: return m->irq_ctrlack;
    case SMMU_GERROR: return m->gerror;
    case SMMU_GERRORN: return m->gerrorn;
    case SMMU_STRTAB_BASE_CFG: return m->strtab_cfg;
    case SMMU_CMDQ_PROD: return m->cmdq_prod;
    case SMMU_CMDQ_CONS: return m->cmdq_cons;
    case SMMU_EVENTQ_PROD: return m->evtq_prod;
    case SMMU_EVENTQ_CONS: return m->evtq_cons;
    default:
        VIOLATION(m, "read32 of unknown register %#x", off);
        return 0;
    }
}

/* Registers that may only change while the unit (or that queue) is off (6.3.9). */
static void check_off(struct mock_smmu *m, uint32_t bit, const char *what)
{
    if (m->cr0ack & bit)
        VIOLATION(m, "%s written while enabled", what);
}

static void mock_write32(void *ctx, uint32_t off, uint32_t v)
{
    struct mock_smmu *m = ctx;
    switch (off) {
    case SMMU_CR0:
        m->cr0 = v;
        if (!m->cr0_stuck)
            m->cr0ack = v;
        if (v & CR0_CMDQEN)
            cmdq_consume(m);
        return;
    case SMMU_CR1: check_off(m, CR0_SMMUEN, "CR1"); m->cr1 = v; return;
    case SMMU_CR2: check_off(m, CR0_SMMUEN, "CR2"); m->cr2 = v; return;
    case SMMU_GBPA: m->gbpa = v & ~(uint32_t)GBPA_UPDATE; return;
    case SMMU_IRQ_CTRL: m->irq_ctrl = m->irq_ctrlack = v; return;
    case SMMU_GERRORN:
        m->gerrorn = v;
        cmdq_consume(m);    /* an acknowledged command error lets the queue go on */
        return;
    case SMMU_STRTAB_BASE_CFG: check_off(m, CR0_SMMUEN, "STRTAB_BASE_CFG"); m->strtab_cfg = v; return;
    case SMMU_CMDQ_PROD: m->cmdq_prod = v; cmdq_consume(m); return;
    case SMMU_CMDQ_CONS: check_off(m, CR0_CMDQEN, "CMDQ_CONS"); m->cmdq_cons = v; return;
    case SMMU_EVENTQ_PROD: check_off(m, CR0_EVENTQEN, "EVENTQ_PROD"); m->evtq_prod = v; return;
    case SMMU_EVENTQ_CONS: m->evtq_cons = v; return;
    default:
        VIOLATION(m, "write32 of %#x to register %#x", v, off);
    }
}

static uint64_t mock_read64(void *ctx, uint32_t off)
{
    struct mock_smmu *m = ctx;
    switch (off) {
    case SMMU_STRTAB_BASE: return m->strtab_base;
    case SMMU_CMDQ_BASE: return m->cmdq_base;
    case SMMU_EVENTQ_BASE: return m->evtq_base;
    default:
        VIOLATION(m, "read64 of unknown register %#x", off);
        return 0;
    }
}

static void mock_write64(void *ctx, uint32_t off, uint64_t v)
{
    struct mock_smmu *m = ctx;
    switch (off) {
    case SMMU_STRTAB_BASE: check_off(m, CR0_SMMUEN, "STRTAB_BASE"); m->strtab_base = v; return;
    case SMMU_CMDQ_BASE: check_off(m, CR0_CMDQEN, "CMDQ_BASE"); m->cmdq_base = v; return;
    case SMMU_EVENTQ_BASE: check_off(m, CR0_EVENTQEN, "EVENTQ_BASE"); m->evtq_base = v; return;
    case SMMU_GERROR_IRQ_CFG0: m->gerror_irq_cfg0 = v; return;
    case SMMU_EVENTQ_IRQ_CFG0: m->evtq_irq_cfg0 = v; return;
    default:
        VIOLATION(m, "write64 of %#llx to register %#x", (unsigned long long)v, off);
    }
}

const struct smmu_io mock_smmu_io = { mock_read32, mock_write32, mock_read64, mock_write64 };

unsigned mock_smmu_count(const struct mock_smmu *m, unsigned op)
{
    unsigned n = 0;
    for (unsigned i = 0; i < m->nr_log; i++)
        n += smmu_cmd_op(&m->log[i]) == op;
    return n;
}

void mock_smmu_clear_log(struct mock_smmu *m)
{
    m->nr_log = 0;
    m->nr_syncs = 0;
}

/* ---- stream table and walks ---- */

int mock_smmu_read_ste(struct mock_smmu *m, uint32_t sid, struct smmu_ste *out)
{
    unsigned log2 = (unsigned)FIELD_GET(STRTAB_BASE_CFG_LOG2SIZE, m->strtab_cfg);
    uint64_t base = m->strtab_base & STRTAB_BASE_ADDR;
    if (sid >> log2)
        return -1;
    uint64_t ste_pa = base + (uint64_t)sid * 64;
    if (FIELD_GET(STRTAB_BASE_CFG_FMT, m->strtab_cfg) == STRTAB_FMT_2LVL) {
        unsigned split = (unsigned)FIELD_GET(STRTAB_BASE_CFG_SPLIT, m->strtab_cfg);
        const uint64_t *l1 = mem(m, base + (uint64_t)(sid >> split) * 8, 8);
        if (!l1)
            return -1;
        unsigned span = (unsigned)FIELD_GET(L1STD_SPAN, *l1);
        if (!span)
            return -1;
        if ((sid & ((1u << split) - 1)) >> (span - 1))
            return -1;
        ste_pa = (*l1 & L1STD_L2PTR) + (uint64_t)(sid & ((1u << split) - 1)) * 64;
    }
    const struct smmu_ste *e = mem(m, ste_pa, 64);
    if (!e)
        return -1;
    *out = *e;
    return 0;
}

struct walk {
    uint64_t pa;
    bool readable, writable;
    unsigned fault;         /* event ID, 0: none */
    bool s2_fault;          /* nested: the fault came from stage 2 (a table's IPA) */
};

/* Nested: the stage 2 that translates every address stage 1 produces (5.2, 3.3.2). */
struct s2_params {
    uint64_t root;
    unsigned ias, start;
    bool rec;
};

static void walk(struct mock_smmu *m, uint64_t root, unsigned ias, unsigned start, bool s2,
                 uint64_t ia, struct walk *w, const struct s2_params *via);

/* An IPA through stage 2 (no TLB: the model caches only whole translations). */
static unsigned s2_xlate(struct mock_smmu *m, const struct s2_params *p, uint64_t ipa,
                         bool write, uint64_t *pa)
{
    struct walk w = { 0 };
    walk(m, p->root, p->ias, p->start, true, ipa, &w, NULL);
    if (w.fault)
        return w.fault;
    if (write ? !w.writable : !w.readable)
        return EVT_F_PERMISSION;
    *pa = w.pa;
    return 0;
}

/* A 4 KiB-granule VMSAv8-64 walk from root over ias bits, starting at level start
 * (concatenated tables at the start level when ias asks for more than 9 bits there). */
static void walk(struct mock_smmu *m, uint64_t root, unsigned ias, unsigned start, bool s2,
                 uint64_t ia, struct walk *w, const struct s2_params *via)
{
    w->fault = EVT_F_TRANSLATION;
    if (ias < 64 && (ia >> ias))
        return;
    uint64_t table = root;
    for (unsigned lvl = start; lvl <= 3; lvl++) {
        unsigned shift = 12 + 9 * (3 - lvl);
        unsigned bits = lvl == start ? ias - shift : 9;
        uint64_t idx = (ia >> shift) & ((1ULL << bits) - 1);
        uint64_t at = table + idx * 8;
        if (via) {                              /* a stage-1 table of a nested stream: an IPA */
            unsigned f = s2_xlate(m, via, at, false, &at);
            if (f) {
                w->fault = f;
                w->s2_fault = true;
                return;
            }
        }
        const uint64_t *d = mem(m, at, 8);
        if (!d || !(*d & 1))
            return;
        bool tbl = *d & 2;
        if (lvl < 3 && tbl) {
            table = *d & GENMASK(47, 12);
            continue;
        }
        if (lvl == 3 && !tbl)
            return;
        if (lvl == 0)
            return;                             /* no level-0 blocks with 4 KiB */
        if (!(*d & BIT(10))) {
            w->fault = EVT_F_ACCESS;            /* the unit does not set AF itself */
            return;
        }
        uint64_t size = 1ULL << shift;
        w->pa = (*d & GENMASK(47, 12) & ~(size - 1)) | (ia & (size - 1));
        if (s2) {                               /* S2AP: bit 6 read, bit 7 write */
            w->readable = *d & BIT(6);
            w->writable = *d & BIT(7);
        } else {                                /* AP[2]: read-only */
            w->readable = true;
            w->writable = !(*d & BIT(7));
        }
        w->fault = 0;
        return;
    }
}

static const struct smmu_ste *cfg_lookup(struct mock_smmu *m, uint32_t sid, struct smmu_cd **cd)
{
    for (unsigned i = 0; i < MOCK_SMMU_CFG; i++) {
        if (m->cfg[i].valid && m->cfg[i].sid == sid) {
            *cd = &m->cfg[i].cd;
            return &m->cfg[i].ste;
        }
    }
    struct smmu_ste ste;
    if (mock_smmu_read_ste(m, sid, &ste))
        return NULL;
    unsigned i = m->cfg_next++ % MOCK_SMMU_CFG;
    m->cfg[i].valid = true;
    m->cfg[i].sid = sid;
    m->cfg[i].ste = ste;
    memset(&m->cfg[i].cd, 0, sizeof(m->cfg[i].cd));
    if ((ste.w[0] & STE0_V) && FIELD_GET(STE0_CONFIG, ste.w[0]) == STE_CFG_S1) {
        const struct smmu_cd *c = mem(m, ste.w[0] & STE0_S1CTXPTR, 64);
        if (c)
            m->cfg[i].cd = *c;
    }
    *cd = &m->cfg[i].cd;
    return &m->cfg[i].ste;
}

static void record(struct mock_smmu *m, unsigned id, uint32_t sid, uint64_t iova, bool write,
                   bool s2)
{
    struct smmu_event e = { { FIELD_PREP(EVT0_ID, id) | FIELD_PREP(EVT0_SID, sid),
                              (write ? 0 : EVT1_RNW) | (s2 ? EVT1_S2 : 0), iova, 0 } };
    mock_smmu_event(m, &e);
}

static struct mock_smmu_tlb *tlb_find(struct mock_smmu *m, bool s2, uint16_t tag, uint64_t page)
{
    for (unsigned i = 0; i < MOCK_SMMU_TLB; i++) {
        struct mock_smmu_tlb *t = &m->tlb[i];
        if (t->valid && t->s2 == s2 && t->tag == tag && t->page == page)
            return t;
    }
    return NULL;
}

/* The cached translation t for an access: the output address, or a permission fault. */
static int tlb_use(struct mock_smmu *m, const struct mock_smmu_tlb *t, uint32_t sid,
                   uint64_t iova, bool write, bool rec, uint64_t *pa)
{
    if (write ? !t->writable : !t->readable) {
        if (rec)
            record(m, EVT_F_PERMISSION, sid, iova, write, t->s2);
        return rec ? EVT_F_PERMISSION : -1;
    }
    *pa = (t->pa << 12) | (iova & 0xfff);
    return 0;
}

/* Config 0b111: the CD is fetched and the stage-1 tables walked through stage 2, and the
 * stage-1 output (an IPA) is translated by stage 2; the whole translation is cached tagged by
 * the CD's ASID. A stage-2 fault is recorded when the STE asks (S2R), marked stage 2. */
static int translate_nested(struct mock_smmu *m, uint32_t sid, const struct smmu_ste *ste,
                            struct smmu_cd *cd, uint64_t iova, bool write, uint64_t *pa)
{
    if (!(ste->w[2] & STE2_S2AA64))
        VIOLATION(m, "nested STE with S2AA64 0 (QEMU aborts)");
    struct s2_params p = { ste->w[3] & STE3_S2TTB, 64 - (unsigned)FIELD_GET(STE2_S2T0SZ, ste->w[2]),
                           2 - (unsigned)FIELD_GET(STE2_S2SL0, ste->w[2]), ste->w[2] & STE2_S2R };
    unsigned f;
    if (!(cd->w[0] & CD0_V)) {                  /* not cached yet: fetch it through stage 2 */
        uint64_t cd_pa;
        f = s2_xlate(m, &p, ste->w[0] & STE0_S1CTXPTR, false, &cd_pa);
        if (f) {
            if (p.rec)
                record(m, f, sid, iova, write, true);
            return p.rec ? (int)f : -1;
        }
        const struct smmu_cd *c = mem(m, cd_pa, 64);
        if (c)
            *cd = *c;
    }
    if (!(cd->w[0] & CD0_V)) {
        record(m, EVT_C_BAD_CD, sid, iova, write, false);
        return EVT_C_BAD_CD;
    }
    uint16_t asid = (uint16_t)FIELD_GET(CD0_ASID, cd->w[0]);
    bool rec = cd->w[0] & CD0_R;
    struct mock_smmu_tlb *t = tlb_find(m, false, asid, iova >> 12);
    if (!t) {
        unsigned ias = 64 - (unsigned)FIELD_GET(CD0_T0SZ, cd->w[0]);
        struct walk w = { 0 };
        walk(m, cd->w[1] & CD1_TTB0, ias, 4 - (ias - 12 + 8) / 9, false, iova, &w, &p);
        if (!w.fault) {                         /* the stage-1 output through stage 2 */
            struct walk w2 = { 0 };
            walk(m, p.root, p.ias, p.start, true, w.pa, &w2, NULL);
            if (w2.fault) {
                w.fault = w2.fault;
                w.s2_fault = true;
            } else {                            /* both stages' permissions */
                w.pa = w2.pa;
                w.readable &= w2.readable;
                w.writable &= w2.writable;
            }
        }
        if (w.fault) {
            bool r = w.s2_fault ? p.rec : rec;
            if (r)
                record(m, w.fault, sid, iova, write, w.s2_fault);
            return r ? (int)w.fault : -1;
        }
        t = &m->tlb[m->tlb_next++ % MOCK_SMMU_TLB];
        *t = (struct mock_smmu_tlb){ true, false, asid, iova >> 12, w.pa >> 12, w.readable,
                                     w.writable };
    }
    return tlb_use(m, t, sid, iova, write, rec, pa);
}

static int translate(struct mock_smmu *m, uint32_t sid, const struct smmu_ste *ste,
                     struct smmu_cd *cd, uint64_t iova, bool write, uint64_t *pa)
{
    if (FIELD_GET(STE0_CONFIG, ste->w[0]) == STE_CFG_NESTED)
        return translate_nested(m, sid, ste, cd, iova, write, pa);
    unsigned cfg = (unsigned)FIELD_GET(STE0_CONFIG, ste->w[0]);
    bool s2 = cfg == STE_CFG_S2;
    uint16_t tag;
    uint64_t root;
    unsigned ias, start;
    bool rec;
    if (s2) {
        if (!(ste->w[2] & STE2_S2AA64))
            VIOLATION(m, "stage-2 STE with S2AA64 0 (QEMU aborts)");
        tag = (uint16_t)FIELD_GET(STE2_S2VMID, ste->w[2]);
        root = ste->w[3] & STE3_S2TTB;
        ias = 64 - (unsigned)FIELD_GET(STE2_S2T0SZ, ste->w[2]);
        start = 2 - (unsigned)FIELD_GET(STE2_S2SL0, ste->w[2]);
        rec = ste->w[2] & STE2_S2R;
    } else {
        if (!(cd->w[0] & CD0_V)) {
            record(m, EVT_C_BAD_CD, sid, iova, write, false);
            return EVT_C_BAD_CD;
        }
        tag = (uint16_t)FIELD_GET(CD0_ASID, cd->w[0]);
        root = cd->w[1] & CD1_TTB0;
        ias = 64 - (unsigned)FIELD_GET(CD0_T0SZ, cd->w[0]);
        start = 4 - (ias - 12 + 8) / 9;
        rec = cd->w[0] & CD0_R;
    }
    struct mock_smmu_tlb *t = tlb_find(m, s2, tag, iova >> 12);
    if (!t) {
        struct walk w = { 0 };
        walk(m, root, ias, start, s2, iova, &w, NULL);
        if (w.fault) {
            if (rec)
                record(m, w.fault, sid, iova, write, s2);
            return rec ? (int)w.fault : -1;
        }
        t = &m->tlb[m->tlb_next++ % MOCK_SMMU_TLB];
        *t = (struct mock_smmu_tlb){ true, s2, tag, iova >> 12, w.pa >> 12, w.readable,
                                     w.writable };
    }
    return tlb_use(m, t, sid, iova, write, rec, pa);
}

int mock_smmu_dma(struct mock_smmu *m, uint32_t sid, uint64_t iova, void *buf, size_t len,
                  bool write)
{
    if ((iova & 0xfff) + len > 4096) {
        VIOLATION(m, "test DMA crosses a page");
        return -1;
    }
    if (!(m->cr0ack & CR0_SMMUEN))
        return -1;                              /* GBPA: moat always sets ABORT */
    struct smmu_cd *cd;
    const struct smmu_ste *ste = cfg_lookup(m, sid, &cd);
    if (!ste) {
        if (m->cr2 & CR2_RECINVSID)
            record(m, EVT_C_BAD_STREAMID, sid, iova, write, false);
        return EVT_C_BAD_STREAMID;
    }
    if (!(ste->w[0] & STE0_V)) {
        record(m, EVT_C_BAD_STE, sid, iova, write, false);
        return EVT_C_BAD_STE;
    }
    unsigned cfg = (unsigned)FIELD_GET(STE0_CONFIG, ste->w[0]);
    uint64_t pa = iova;
    if (cfg == STE_CFG_ABORT)
        return -1;                              /* no record for an ABORT STE */
    if (cfg != STE_CFG_BYPASS && cfg != STE_CFG_S1 && cfg != STE_CFG_S2 &&
        cfg != STE_CFG_NESTED) {
        record(m, EVT_C_BAD_STE, sid, iova, write, false);
        return EVT_C_BAD_STE;
    }
    if (cfg != STE_CFG_BYPASS) {
        int r = translate(m, sid, ste, cd, iova, write, &pa);
        if (r)
            return r;
    }
    void *p = mem(m, pa, len);
    if (!p)
        return -1;
    if (write)
        memcpy(p, buf, len);
    else
        memcpy(buf, p, len);
    return 0;
}

void mock_smmu_s1_program(void *cd, void *l1, void *l2, uint64_t l1_ipa, uint64_t l2_ipa,
                          uint64_t l3_ipa, uint16_t asid)
{
    struct smmu_cd *c = cd;
    memset(c, 0, sizeof(*c));
    c->w[0] = FIELD_PREP(CD0_T0SZ, 64 - 39) | FIELD_PREP(CD0_IR0, 1) | FIELD_PREP(CD0_OR0, 1) |
              FIELD_PREP(CD0_SH0, 3) | CD0_EPD1 | CD0_V | FIELD_PREP(CD0_IPS, 4) | CD0_AA64 |
              CD0_R | CD0_A | CD0_ASET | FIELD_PREP(CD0_ASID, asid);
    c->w[1] = l1_ipa;
    c->w[3] = PGTABLE_ARM_MAIR;
    memset(l1, 0, 4096);
    memset(l2, 0, 4096);
    ((uint64_t *)l1)[(MOCK_SMMU_NEST_IOVA >> 30) & 511] = l2_ipa | 3;
    ((uint64_t *)l2)[(MOCK_SMMU_NEST_IOVA >> 21) & 511] = l3_ipa | 3;
}
