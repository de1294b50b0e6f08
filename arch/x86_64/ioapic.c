/* I/O APICs (Intel 82093AA datasheet; ICH9 datasheet 13.5): found in the MADT, every pin masked
 * at boot, GSIs routed on demand. A redirection entry is written from the interrupt message the
 * pin must send (the IOAPIC turns an entry into such a message): entry bits 63:48 are address
 * bits 19:4, bit 11 is address bit 2, bits 10:0 are data bits 10:0. In compatibility format
 * that is destination ID, destination mode, delivery mode and vector; in VT-d's remappable
 * format (VT-d spec 5.1.5.1) it is the interrupt index, format bit and vector. The message comes
 * from the IOMMU layer (the composer it registers, ioapic_set_composer) when a unit serving the
 * IOAPIC remaps its interrupts.
 *
 * Level-triggered interrupts end with the local APIC's EOI: it is broadcast to the IOAPICs, which
 * clear Remote IRR on the entries holding that vector, so a remapped entry keeps the vector of
 * its remapping entry in bits 7:0. */
#include "arch/x86_64/ioapic.h"
#include "arch/arch.h"
#include "kernel/acpi/platform.h"
#include "kernel/init.h"
#include "lib/errno.h"
#include "lib/log.h"

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REG_VER 0x01
#define IOAPIC_VER_MRE GENMASK(23, 16)      /* Maximum Redirection Entry */
#define IOAPIC_REG_RTE(n) (0x10 + 2 * (n))

#define RTE_VECTOR GENMASK(7, 0)
#define RTE_DELMODE GENMASK(10, 8)
#define RTE_DESTMODE BIT(11)
#define RTE_POLARITY_LOW BIT(13)
#define RTE_TRIGGER_LEVEL BIT(15)
#define RTE_MASK BIT(16)
#define RTE_DEST_HI GENMASK(63, 48)         /* address bits 19:4 */

#define MSI_ADDR_BASE 0xfee00000ULL
#define MSI_ADDR_DEST GENMASK(19, 12)
#define MAX_PINS 120

struct ioapic {
    uint32_t id, gsi_base;
    unsigned nr_pins;
    volatile uint32_t *regs;
};

struct gsi_state {
    int vector;                     /* 0: never routed */
    unsigned flags;
    uint64_t rte;                   /* as programmed, without the mask bit */
    struct gsi_handler *handlers;
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static unsigned nr_ioapics;
static struct gsi_state gsis[ACPI_MAX_IOAPICS * MAX_PINS];

static uint32_t ioapic_read(struct ioapic *io, uint32_t reg)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    return io->regs[IOAPIC_WIN / 4];
}

static void ioapic_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    io->regs[IOAPIC_WIN / 4] = v;
}

/* The mask bit lives in the low word: masked, the high word changes first; unmasking writes the
 * low word last. Interrupts stay off so that the index register is not raced. */
static void rte_write(struct ioapic *io, unsigned pin, uint64_t rte)
{
    uint64_t f = irq_save();
    ioapic_write(io, IOAPIC_REG_RTE(pin), RTE_MASK);
    ioapic_write(io, IOAPIC_REG_RTE(pin) + 1, (uint32_t)(rte >> 32));
    ioapic_write(io, IOAPIC_REG_RTE(pin), (uint32_t)rte);
    irq_restore(f);
}

static struct ioapic *ioapic_of(unsigned gsi, unsigned *pin)
{
    for (unsigned i = 0; i < nr_ioapics; i++) {
        struct ioapic *io = &ioapics[i];
        if (gsi >= io->gsi_base && gsi - io->gsi_base < io->nr_pins) {
            *pin = gsi - io->gsi_base;
            return io;
        }
    }
    return NULL;
}

static struct gsi_state *gsi_state(unsigned gsi)
{
    return gsi < ARRAY_SIZE(gsis) ? &gsis[gsi] : NULL;
}

static ioapic_compose_fn composer;

void ioapic_set_composer(ioapic_compose_fn fn)
{
    composer = fn;
}

/* The message the pin must send: the registered composer's (interrupt remapping), unless it
 * says -EOPNOTSUPP (no unit remaps this IOAPIC), else compatibility format (physical
 * destination, fixed delivery). */
static int ioapic_message(struct ioapic *io, unsigned vector, bool level, uint64_t *addr,
                          uint32_t *data)
{
    if (composer) {
        int err = composer(io->id, vector, apic_id(), level, addr, data);
        if (err != -EOPNOTSUPP)
            return err;
    }
    if (apic_id() > 0xff)
        return -ERANGE;
    *addr = MSI_ADDR_BASE | FIELD_PREP(MSI_ADDR_DEST, apic_id());
    *data = vector & 0xff;
    return 0;
}

static uint64_t rte_from_message(uint64_t addr, uint32_t data, unsigned flags)
{
    uint64_t rte = FIELD_PREP(RTE_DEST_HI, (addr >> 4) & 0xffff) |
                   ((addr & BIT(2)) ? RTE_DESTMODE : 0) |
                   (data & (RTE_VECTOR | RTE_DELMODE));
    if (flags & GSI_LEVEL)
        rte |= RTE_TRIGGER_LEVEL;
    if (flags & GSI_ACTIVE_LOW)
        rte |= RTE_POLARITY_LOW;
    return rte;
}

static void gsi_dispatch(unsigned vector, void *ctx)
{
    struct gsi_state *g = ctx;
    for (struct gsi_handler *h = g->handlers; h; h = h->next)
        h->fn(h->ctx);
}

/* The first routing of a GSI: a vector, its message, the entry (left masked). */
static int gsi_route(struct gsi_state *g, struct ioapic *io, unsigned pin, unsigned flags)
{
    int vec = irq_alloc_vector(gsi_dispatch, g);
    if (vec < 0)
        return vec;
    uint64_t addr;
    uint32_t data;
    int err = ioapic_message(io, (unsigned)vec, flags & GSI_LEVEL, &addr, &data);
    if (err) {
        irq_free_vector((unsigned)vec);
        return err;
    }
    g->vector = vec;
    g->flags = flags;
    g->rte = rte_from_message(addr, data, flags);
    rte_write(io, pin, g->rte | RTE_MASK);
    return 0;
}

int ioapic_gsi_check(unsigned gsi)
{
    unsigned pin;
    if (!ioapic_of(gsi, &pin) || !gsi_state(gsi))
        return -ENODEV;
    return 0;
}

int ioapic_gsi_attach(unsigned gsi, unsigned flags, struct gsi_handler *h)
{
    unsigned pin;
    struct ioapic *io = ioapic_of(gsi, &pin);
    struct gsi_state *g = gsi_state(gsi);
    if (!io || !g)
        return -ENODEV;
    if (g->vector && g->flags != flags)
        return -EINVAL;
    if (!g->vector) {
        int err = gsi_route(g, io, pin, flags);
        if (err)
            return err;
    }
    uint64_t f = irq_save();
    h->next = g->handlers;
    g->handlers = h;
    irq_restore(f);
    rte_write(io, pin, g->rte);
    return 0;
}

void ioapic_gsi_detach(unsigned gsi, struct gsi_handler *h)
{
    unsigned pin;
    struct ioapic *io = ioapic_of(gsi, &pin);
    struct gsi_state *g = gsi_state(gsi);
    if (!io || !g)
        return;
    uint64_t f = irq_save();
    for (struct gsi_handler **pp = &g->handlers; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    if (!g->handlers)
        rte_write(io, pin, g->rte | RTE_MASK);
    irq_restore(f);
}

static int ioapic_init(void)
{
    const struct acpi_info *ai = platform_acpi();
    if (!ai || !ai->nr_ioapics)
        return 0;
    for (unsigned i = 0; i < ai->nr_ioapics; i++) {
        struct ioapic *io = &ioapics[nr_ioapics];
        io->regs = mmio_map(ai->ioapic[i].pa, 4096);
        if (!io->regs)
            return -ENOMEM;
        io->id = ai->ioapic[i].id;
        io->gsi_base = ai->ioapic[i].gsi_base;
        io->nr_pins = MIN(FIELD_GET(IOAPIC_VER_MRE, ioapic_read(io, IOAPIC_REG_VER)) + 1,
                          (unsigned)MAX_PINS);
        for (unsigned pin = 0; pin < io->nr_pins; pin++)
            rte_write(io, pin, RTE_MASK);
        kprintf("ioapic: id %u at %#llx, GSI %u-%u, every pin masked\n", io->id,
                (unsigned long long)ai->ioapic[i].pa, io->gsi_base,
                io->gsi_base + io->nr_pins - 1);
        nr_ioapics++;
    }
    return 0;
}
MOAT_UNIT_OPTIONAL(40_time, c_ioapic, ioapic_init);
