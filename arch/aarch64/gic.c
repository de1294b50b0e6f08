/* GICv3 (Arm IHI 0069): the distributor (SPIs, routed to this CPU), this CPU's redistributor
 * (SGIs/PPIs, and LPIs through its property and pending tables), the CPU interface through the
 * ICC system registers, and the ITS (PCI MSIs: device table, collection table, command queue).
 * One CPU. An LPI is enabled in the property table while an ITS event is mapped to it (MAPTI,
 * then INV so the redistributor rereads its configuration); DISCARD and disable undo that. */
#include "arch/aarch64/gic.h"
#include "arch/intx.h"
#include "arch/aarch64/platform.h"
#include "arch/aarch64/trap.h"
#include "kernel/init.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/bitmap.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define ICC_IAR1_EL1 s3_0_c12_c12_0
#define ICC_EOIR1_EL1 s3_0_c12_c12_1
#define ICC_BPR1_EL1 s3_0_c12_c12_3
#define ICC_CTLR_EL1 s3_0_c12_c12_4
#define ICC_SRE_EL1 s3_0_c12_c12_5
#define ICC_IGRPEN1_EL1 s3_0_c12_c12_7
#define ICC_PMR_EL1 s3_0_c4_c6_0
#define SYSREG(r) #r
#define icc_read(r) ({ uint64_t _v; __asm__ __volatile__("mrs %0, " SYSREG(r) : "=r"(_v)); _v; })
#define icc_write(r, v) __asm__ __volatile__("msr " SYSREG(r) ", %0" :: "r"((uint64_t)(v)) : "memory")

/* Distributor. */
#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ICPENDR 0x0280
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0c00
#define GICD_IROUTER 0x6000
#define GICD_CTLR_RWP BIT(31)
#define GICD_CTLR_ARE BIT(4)
#define GICD_CTLR_GRP1 BIT(1)
#define GICD_TYPER_LINES GENMASK(4, 0)
#define GICD_TYPER_LPIS BIT(17)
#define GICD_TYPER_IDBITS GENMASK(23, 19)

/* Redistributor: RD frame, then the SGI frame 64 KiB above it. */
#define GICR_CTLR 0x0000
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078
#define GICR_SGI 0x10000
#define GICR_CTLR_ENABLE_LPIS BIT(0)
#define GICR_TYPER_PLPIS BIT(0)
#define GICR_TYPER_VLPIS BIT(1)
#define GICR_TYPER_LAST BIT(4)
#define GICR_TYPER_PROCNUM GENMASK(23, 8)
#define GICR_WAKER_SLEEP BIT(1)
#define GICR_WAKER_ASLEEP BIT(2)
#define GIC_BASER_INNER_WB (7ULL << 7)          /* PROPBASER/PENDBASER InnerCache RaWaWb */
#define GIC_BASER_SH_INNER (1ULL << 10)

/* ITS. */
#define GITS_CTLR 0x0000
#define GITS_TYPER 0x0008
#define GITS_CBASER 0x0080
#define GITS_CWRITER 0x0088
#define GITS_CREADR 0x0090
#define GITS_BASER 0x0100
#define GITS_TRANSLATER 0x10040
#define GITS_CTLR_ENABLED BIT(0)
#define GITS_CTLR_QUIESCENT BIT(31)
#define GITS_TYPER_ITT_SIZE GENMASK(7, 4)
#define GITS_TYPER_IDBITS GENMASK(12, 8)         /* EventID bits - 1 */
#define GITS_TYPER_DEVBITS GENMASK(17, 13)
#define GITS_TYPER_PTA BIT(19)
#define GITS_BASER_VALID BIT(63)
#define GITS_BASER_INNER_WB (7ULL << 59)
#define GITS_BASER_TYPE GENMASK(58, 56)
#define GITS_BASER_ENTRY GENMASK(52, 48)
#define GITS_BASER_SH_INNER (1ULL << 10)
#define GITS_BASER_PAGE GENMASK(9, 8)
#define GITS_TYPE_DEVICE 1
#define GITS_TYPE_COLLECTION 4

#define ITS_CMD_SYNC 0x05
#define ITS_CMD_MAPD 0x08
#define ITS_CMD_MAPC 0x09
#define ITS_CMD_MAPTI 0x0a
#define ITS_CMD_INV 0x0c
#define ITS_CMD_DISCARD 0x0f
#define ITS_QUEUE_ORDER 4                       /* 64 KiB: 2048 commands */
#define ITS_CMD_TIMEOUT_NS (1 * NSEC_PER_SEC)

#define LPI_BASE 8192
#define LPI_IDBITS 14                           /* INTIDs below 16384: 8192 LPIs */
#define NR_LPIS ((1u << LPI_IDBITS) - LPI_BASE)
#define LPI_PRIO 0xa0
#define ITS_EVENT_BITS 8
#define ITS_EVENTS (1u << ITS_EVENT_BITS)       /* per device: an NVMe's 65 MSI-X vectors fit */
#define ITS_MAX_DEVICES 64

static volatile uint8_t *gicd, *gicr, *its;
static uint32_t nr_spi_ids;                     /* SPIs are 32..nr_spi_ids-1 */
static uint64_t rd_pa;
static uint32_t rd_procnum;
static bool lpis_on;
static uint8_t *lpi_prop;                       /* the property table: one byte per LPI */

static struct {
    irq_handler_fn fn;
    void *ctx;
} lpi_handlers[NR_LPIS];
static struct {
    irq_handler_fn fn;
    void *ctx;
} ppi_handlers[32];
static struct gsi_handler *line_handlers[1020];
static unsigned line_flags[1020];

static struct {
    uint8_t *queue;
    uint64_t queue_pa;
    uint32_t write;                             /* byte offset of the next command */
    uint32_t itt_entry, devbits, eventbits;
    uint64_t translater_pa;
} itsq;

static struct its_device {
    bool used;
    uint32_t devid;
    uint64_t itt_pa;
    uint64_t events[ITS_EVENTS / 64];           /* bitmap of mapped event IDs */
    uint16_t lpi[ITS_EVENTS];                   /* each mapped event's LPI */
} its_devs[ITS_MAX_DEVICES];

static inline uint32_t r32(volatile uint8_t *b, uint32_t off) { return *(volatile uint32_t *)(b + off); }
static inline void w32(volatile uint8_t *b, uint32_t off, uint32_t v) { *(volatile uint32_t *)(b + off) = v; }
static inline uint64_t r64(volatile uint8_t *b, uint32_t off) { return *(volatile uint64_t *)(b + off); }
static inline void w64(volatile uint8_t *b, uint32_t off, uint64_t v) { *(volatile uint64_t *)(b + off) = v; }

/* This CPU's affinity as GICR_TYPER[63:32] gives it: Aff3.Aff2.Aff1.Aff0. */
static uint64_t mpidr_affinity(void)
{
    uint64_t m = read_sysreg(mpidr_el1);
    return (m & 0xffffff) | ((m >> 32) & 0xff) << 24;
}

/* The same as GICD_IROUTER wants it: Aff2.Aff1.Aff0 in bits 23:0, Aff3 in 39:32, IRM 0. */
static uint64_t irouter_affinity(void)
{
    uint64_t m = read_sysreg(mpidr_el1);
    return (m & 0xffffff) | ((m >> 32) & 0xff) << 32;
}

static int dist_wait_rwp(void)
{
    return poll_until(!(r32(gicd, GICD_CTLR) & GICD_CTLR_RWP), 100 * NSEC_PER_MSEC);
}

static int dist_init(void)
{
    w32(gicd, GICD_CTLR, 0);
    if (dist_wait_rwp())
        return -ETIMEDOUT;
    uint32_t typer = r32(gicd, GICD_TYPER);
    nr_spi_ids = MIN(32 * ((uint32_t)FIELD_GET(GICD_TYPER_LINES, typer) + 1), 1020u);
    uint64_t aff = irouter_affinity();
    for (uint32_t id = 32; id < nr_spi_ids; id += 32) {
        w32(gicd, GICD_ICENABLER + id / 8, ~0u);
        w32(gicd, GICD_ICPENDR + id / 8, ~0u);
        w32(gicd, GICD_IGROUPR + id / 8, ~0u);          /* group 1 */
    }
    for (uint32_t id = 32; id < nr_spi_ids; id++) {
        *(gicd + GICD_IPRIORITYR + id) = LPI_PRIO;
        w64(gicd, GICD_IROUTER + 8 * id, aff);
    }
    w32(gicd, GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_GRP1);
    return dist_wait_rwp();
}

/* This CPU's redistributor frame: the one whose affinity matches MPIDR. */
static int find_redist(const struct dt_platform *dt)
{
    uint64_t aff = mpidr_affinity();
    for (uint32_t r = 0; r < dt->gic.nr_redist; r++) {
        uint64_t base = dt->gic.redist[r].base, size = dt->gic.redist[r].size;
        volatile uint8_t *frames = mmio_map(base, size);
        if (!frames)
            return -ENOMEM;
        for (uint64_t off = 0; off + 0x20000 <= size;) {
            uint64_t typer = r64(frames, (uint32_t)off + GICR_TYPER);
            if ((typer >> 32) == aff) {
                gicr = frames + off;
                rd_pa = base + off;
                rd_procnum = (uint32_t)FIELD_GET(GICR_TYPER_PROCNUM, typer);
                return 0;
            }
            if (typer & GICR_TYPER_LAST)
                break;
            off += (typer & GICR_TYPER_VLPIS) ? 0x40000 : 0x20000;
        }
    }
    return -ENODEV;
}

static int redist_init(void)
{
    w32(gicr, GICR_WAKER, r32(gicr, GICR_WAKER) & ~GICR_WAKER_SLEEP);
    if (poll_until(!(r32(gicr, GICR_WAKER) & GICR_WAKER_ASLEEP), 100 * NSEC_PER_MSEC))
        return -ETIMEDOUT;
    volatile uint8_t *sgi = gicr + GICR_SGI;
    w32(sgi, GICD_ICENABLER, ~0u);
    w32(sgi, GICD_ICPENDR, ~0u);
    w32(sgi, GICD_IGROUPR, ~0u);
    for (uint32_t id = 0; id < 32; id++)
        *(sgi + GICD_IPRIORITYR + id) = LPI_PRIO;
    return 0;
}

static void cpu_interface_init(void)
{
    icc_write(ICC_SRE_EL1, icc_read(ICC_SRE_EL1) | 1);     /* system register interface */
    isb();
    icc_write(ICC_PMR_EL1, 0xff);
    icc_write(ICC_BPR1_EL1, 0);
    icc_write(ICC_CTLR_EL1, 0);                             /* EOI both drops and deactivates */
    icc_write(ICC_IGRPEN1_EL1, 1);
    isb();
}

/* LPIs: the property table (one byte per LPI: priority, enable) and the pending table. */
static int lpi_init(void)
{
    if (!(r32(gicd, GICD_TYPER) & GICD_TYPER_LPIS) || !(r64(gicr, GICR_TYPER) & GICR_TYPER_PLPIS))
        return -ENODEV;
    uint64_t prop_pa, pend_pa;
    uint8_t *prop = pmm_alloc_zeroed(1, &prop_pa);          /* 8 KiB: NR_LPIS bytes */
    void *pend = pmm_alloc_zeroed(4, &pend_pa);             /* 64 KiB aligned */
    if (!prop || !pend)
        return -ENOMEM;
    memset(prop, LPI_PRIO, NR_LPIS);                        /* all disabled */
    lpi_prop = prop;
    mb();
    w64(gicr, GICR_PROPBASER, prop_pa | GIC_BASER_INNER_WB | GIC_BASER_SH_INNER | (LPI_IDBITS - 1));
    w64(gicr, GICR_PENDBASER, pend_pa | GIC_BASER_INNER_WB | GIC_BASER_SH_INNER);
    w32(gicr, GICR_CTLR, r32(gicr, GICR_CTLR) | GICR_CTLR_ENABLE_LPIS);
    lpis_on = true;
    return 0;
}

/* ---- ITS commands */

static int its_submit(const uint64_t cmd[4])
{
    uint32_t size = PAGE_SIZE << ITS_QUEUE_ORDER;
    uint32_t next = (itsq.write + 32) % size;
    /* Full when the next write would reach the read pointer. */
    if (poll_until((r64(its, GITS_CREADR) & GENMASK(19, 5)) != next, ITS_CMD_TIMEOUT_NS))
        return -ETIMEDOUT;
    uint64_t *slot = (uint64_t *)(itsq.queue + itsq.write);
    for (int i = 0; i < 4; i++)
        slot[i] = cmd[i];
    wmb();
    itsq.write = next;
    w64(its, GITS_CWRITER, next);
    return 0;
}

/* Submits cmd followed by SYNC and waits until the ITS has consumed both. */
static int its_run(const uint64_t cmd[4])
{
    uint64_t rdbase = (r64(its, GITS_TYPER) & GITS_TYPER_PTA) ? rd_pa >> 16 : rd_procnum;
    const uint64_t sync[4] = { ITS_CMD_SYNC, 0, rdbase << 16, 0 };
    int err = its_submit(cmd);
    if (!err)
        err = its_submit(sync);
    if (!err)
        err = poll_until((r64(its, GITS_CREADR) & GENMASK(19, 5)) == itsq.write, ITS_CMD_TIMEOUT_NS);
    if (err)
        kprintf("gic: ITS command %#llx not consumed (%s)\n", (unsigned long long)(cmd[0] & 0xff),
                errno_name(err));
    return err;
}

static int its_tables_init(void)
{
    uint64_t typer = r64(its, GITS_TYPER);
    itsq.itt_entry = (uint32_t)FIELD_GET(GITS_TYPER_ITT_SIZE, typer) + 1;
    itsq.devbits = (uint32_t)FIELD_GET(GITS_TYPER_DEVBITS, typer) + 1;
    itsq.eventbits = MIN((uint32_t)FIELD_GET(GITS_TYPER_IDBITS, typer) + 1, ITS_EVENT_BITS);
    for (int n = 0; n < 8; n++) {
        uint64_t b = r64(its, GITS_BASER + 8 * n);
        uint64_t type = FIELD_GET(GITS_BASER_TYPE, b);
        if (type != GITS_TYPE_DEVICE && type != GITS_TYPE_COLLECTION)
            continue;
        uint64_t esize = FIELD_GET(GITS_BASER_ENTRY, b) + 1;
        /* A flat table: every DeviceID, or a page of collections. 4 KiB pages, at most 256. */
        uint64_t bytes = type == GITS_TYPE_DEVICE ? esize << itsq.devbits : PAGE_SIZE;
        uint64_t pages = ALIGN_UP(bytes, PAGE_SIZE) / PAGE_SIZE;
        if (pages > 256) {
            kprintf("gic: ITS table %d needs %llu pages, more than a flat table holds\n", n,
                    (unsigned long long)pages);
            return -ENOSPC;
        }
        unsigned order = 0;
        while ((1ULL << order) < pages)
            order++;
        uint64_t pa;
        if (!pmm_alloc_zeroed(order, &pa))
            return -ENOMEM;
        uint64_t v = GITS_BASER_VALID | GITS_BASER_INNER_WB | (type << 56) |
                     (b & GITS_BASER_ENTRY) | pa | GITS_BASER_SH_INNER | (pages - 1);
        w64(its, GITS_BASER + 8 * n, v);
        if ((r64(its, GITS_BASER + 8 * n) & GITS_BASER_PAGE) != 0) {
            kprintf("gic: ITS table %d does not take 4 KiB pages\n", n);
            return -EOPNOTSUPP;
        }
    }
    return 0;
}

static int its_init(const struct dt_platform *dt)
{
    its = mmio_map(dt->gic.its.base, dt->gic.its.size);
    if (!its)
        return -ENOMEM;
    w32(its, GITS_CTLR, r32(its, GITS_CTLR) & ~GITS_CTLR_ENABLED);
    if (poll_until(r32(its, GITS_CTLR) & GITS_CTLR_QUIESCENT, 100 * NSEC_PER_MSEC))
        return -ETIMEDOUT;
    int err = its_tables_init();
    if (err)
        return err;
    itsq.queue = pmm_alloc_zeroed(ITS_QUEUE_ORDER, &itsq.queue_pa);
    if (!itsq.queue)
        return -ENOMEM;
    w64(its, GITS_CBASER, GITS_BASER_VALID | GITS_BASER_INNER_WB | itsq.queue_pa |
                          GITS_BASER_SH_INNER | ((1u << ITS_QUEUE_ORDER) - 1));
    w64(its, GITS_CWRITER, 0);
    itsq.write = 0;
    itsq.translater_pa = dt->gic.its.base + GITS_TRANSLATER;
    w32(its, GITS_CTLR, r32(its, GITS_CTLR) | GITS_CTLR_ENABLED);
    /* Collection 0 targets this CPU's redistributor. */
    uint64_t rdbase = (r64(its, GITS_TYPER) & GITS_TYPER_PTA) ? rd_pa >> 16 : rd_procnum;
    const uint64_t mapc[4] = { ITS_CMD_MAPC, 0, BIT(63) | rdbase << 16 | 0, 0 };
    return its_run(mapc);
}

int gic_its_doorbell(uint64_t *pa)
{
    if (!itsq.translater_pa)
        return -ENODEV;
    *pa = itsq.translater_pa;
    return 0;
}

static struct its_device *its_device(uint32_t devid, bool create)
{
    struct its_device *free_slot = NULL;
    for (int i = 0; i < ITS_MAX_DEVICES; i++) {
        if (its_devs[i].used && its_devs[i].devid == devid)
            return &its_devs[i];
        if (!its_devs[i].used && !free_slot)
            free_slot = &its_devs[i];
    }
    if (!create || !free_slot)
        return NULL;
    uint64_t itt_pa;
    /* 2^eventbits entries of at most 16 bytes, 256-byte aligned: one page holds them. */
    _Static_assert(ITS_EVENTS * 16 <= PAGE_SIZE, "an ITT in one page");
    if (!pmm_alloc_zeroed(0, &itt_pa))
        return NULL;
    const uint64_t mapd[4] = { ITS_CMD_MAPD | (uint64_t)devid << 32, itsq.eventbits - 1,
                               BIT(63) | itt_pa, 0 };
    if (its_run(mapd)) {
        pmm_free(itt_pa, 0);
        return NULL;
    }
    *free_slot = (struct its_device){ .used = true, .devid = devid, .itt_pa = itt_pa };
    return free_slot;
}

int gic_its_map_event(uint32_t devid, unsigned lpi, uint32_t *event)
{
    if (!itsq.queue)
        return -ENODEV;
    if (lpi < LPI_BASE || lpi >= LPI_BASE + NR_LPIS)
        return -EINVAL;
    if (devid >> itsq.devbits)
        return -ERANGE;
    struct its_device *d = its_device(devid, true);
    if (!d)
        return -ENOMEM;
    uint32_t ev = 0;
    while (ev < (1u << itsq.eventbits) && bitmap_test(d->events, ev))
        ev++;
    if (ev == 1u << itsq.eventbits)
        return -ENOSPC;
    lpi_prop[lpi - LPI_BASE] = LPI_PRIO | 1;                /* enabled */
    wmb();
    const uint64_t mapti[4] = { ITS_CMD_MAPTI | (uint64_t)devid << 32, ev | (uint64_t)lpi << 32, 0, 0 };
    const uint64_t inv[4] = { ITS_CMD_INV | (uint64_t)devid << 32, ev, 0, 0 };
    int err = its_run(mapti);
    if (!err)
        err = its_run(inv);
    if (err) {
        lpi_prop[lpi - LPI_BASE] = LPI_PRIO;
        return err;
    }
    bitmap_assign(d->events, ev, 1, true);
    d->lpi[ev] = (uint16_t)lpi;
    *event = ev;
    return 0;
}

void gic_its_unmap_event(uint32_t devid, uint32_t event)
{
    struct its_device *d = its_device(devid, false);
    if (!d || event >= ITS_EVENTS || !bitmap_test(d->events, event))
        return;
    const uint64_t discard[4] = { ITS_CMD_DISCARD | (uint64_t)devid << 32, event, 0, 0 };
    if (its_run(discard) == 0)
        bitmap_assign(d->events, event, 1, false);
    lpi_prop[d->lpi[event] - LPI_BASE] = LPI_PRIO;          /* disabled until mapped again */
}

/* ---- interrupt IDs and handlers */

int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
    if (!lpis_on)
        return -ENODEV;
    for (unsigned i = 0; i < NR_LPIS; i++) {
        if (!lpi_handlers[i].fn) {
            lpi_handlers[i].ctx = ctx;
            lpi_handlers[i].fn = fn;
            return (int)(LPI_BASE + i);
        }
    }
    return -ENOSPC;
}

void gic_run_vector(unsigned vector)
{
    if (vector >= LPI_BASE && vector < LPI_BASE + NR_LPIS && lpi_handlers[vector - LPI_BASE].fn)
        lpi_handlers[vector - LPI_BASE].fn(vector, lpi_handlers[vector - LPI_BASE].ctx);
}

void irq_free_vector(unsigned vector)
{
    if (vector >= LPI_BASE && vector < LPI_BASE + NR_LPIS)
        lpi_handlers[vector - LPI_BASE].fn = NULL;
}

int gic_ppi_attach(unsigned intid, irq_handler_fn fn, void *ctx)
{
    if (!gicr || intid < 16 || intid >= 32)
        return -EINVAL;
    ppi_handlers[intid].ctx = ctx;
    ppi_handlers[intid].fn = fn;
    w32(gicr + GICR_SGI, fn ? GICD_ISENABLER : GICD_ICENABLER, 1u << intid);
    return 0;
}

int ioapic_gsi_check(unsigned gsi)
{
    return gicd && gsi >= 32 && gsi < nr_spi_ids ? 0 : -ENODEV;
}

int gic_spi_configure(unsigned intid, bool edge)
{
    if (ioapic_gsi_check(intid))
        return -EINVAL;
    uint32_t off = GICD_ICFGR + 4 * (intid / 16), shift = 2 * (intid % 16) + 1;
    w32(gicd, GICD_ICENABLER + 4 * (intid / 32), 1u << (intid % 32));
    dist_wait_rwp();
    w32(gicd, off, (r32(gicd, off) & ~(1u << shift)) | (edge ? 1u << shift : 0));
    return 0;
}

void gic_spi_enable(unsigned intid, bool on)
{
    if (ioapic_gsi_check(intid))
        return;
    w32(gicd, (on ? GICD_ISENABLER : GICD_ICENABLER) + 4 * (intid / 32), 1u << (intid % 32));
    if (!on)
        dist_wait_rwp();
}

int ioapic_gsi_attach(unsigned gsi, unsigned flags, struct gsi_handler *h)
{
    int err = ioapic_gsi_check(gsi);
    if (err)
        return err;
    if (flags & GSI_ACTIVE_LOW)
        return -EINVAL;         /* SPIs are active high or rising-edge */
    uint64_t f = irq_save();
    if (line_handlers[gsi] && line_flags[gsi] != flags) {
        err = -EINVAL;
    } else {
        if (!line_handlers[gsi]) {
            gic_spi_configure(gsi, !(flags & GSI_LEVEL));
            line_flags[gsi] = flags;
        }
        h->next = line_handlers[gsi];
        line_handlers[gsi] = h;
        gic_spi_enable(gsi, true);
    }
    irq_restore(f);
    return err;
}

void ioapic_gsi_detach(unsigned gsi, struct gsi_handler *h)
{
    if (ioapic_gsi_check(gsi))
        return;
    uint64_t f = irq_save();
    for (struct gsi_handler **p = &line_handlers[gsi]; *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
    if (!line_handlers[gsi])
        gic_spi_enable(gsi, false);
    irq_restore(f);
}

void gic_handle_irq(void)
{
    uint64_t iar = icc_read(ICC_IAR1_EL1);
    uint32_t id = (uint32_t)(iar & 0xffffff);
    if (id >= 1020 && id < 1024)
        return;                                 /* spurious */
    if (id >= LPI_BASE && id < LPI_BASE + NR_LPIS && lpi_handlers[id - LPI_BASE].fn) {
        lpi_handlers[id - LPI_BASE].fn(id, lpi_handlers[id - LPI_BASE].ctx);
    } else if (id < 1020 && line_handlers[id]) {
        for (struct gsi_handler *h = line_handlers[id]; h; h = h->next)
            h->fn(h->ctx);
    } else if (id < 32 && ppi_handlers[id].fn) {
        ppi_handlers[id].fn(id, ppi_handlers[id].ctx);
    } else {
        kprintf("irq: unexpected interrupt ID %u\n", id);
    }
    icc_write(ICC_EOIR1_EL1, iar);
    isb();
}

static int gic_init(void)
{
    const struct dt_platform *dt = platform_dt();
    if (!dt->gic.present) {
        kprintf("gic: the device tree names no GICv3\n");
        return -ENODEV;
    }
    gicd = mmio_map(dt->gic.dist_base, dt->gic.dist_size);
    if (!gicd)
        return -ENOMEM;
    int err = dist_init();
    if (!err)
        err = find_redist(dt);
    if (!err)
        err = redist_init();
    if (err)
        return err;
    cpu_interface_init();
    err = lpi_init();
    if (err) {
        kprintf("gic: no LPIs (%s): no MSIs\n", errno_name(err));
    } else if (dt->gic.its.present) {
        err = its_init(dt);
        if (err) {
            kprintf("gic: ITS not usable (%s): no MSIs\n", errno_name(err));
            itsq.queue = NULL;
            itsq.translater_pa = 0;
        }
    }
    kprintf("gic: GICv3, SPIs 32-%u, %s, ITS %s\n", nr_spi_ids - 1,
            lpis_on ? "LPIs on" : "no LPIs", itsq.queue ? "on" : "off");
    irq_enable();
    return 0;
}
MOAT_UNIT(40_time, b_gic, gic_init);
