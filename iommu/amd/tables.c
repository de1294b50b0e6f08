/* Device table entries, commands and event decoding (AMD IOMMU spec 2.2.2, 2.4, 2.5). Pure
 * functions over raw words: the host tests check every encoding. */
#include "iommu/amd/amdvi.h"
#include "lib/string.h"

void amdvi_mk_dte_blocked(struct amdvi_dte *e, uint64_t empty_root_pa)
{
    memset(e, 0, sizeof(*e));
    /* IR = IW = 0 denies every access at the DTE already; the empty one-level table behind it
     * means that no walker could find a translation even if it ignored them. */
    e->w[0] = AMDVI_DTE0_V | AMDVI_DTE0_TV | FIELD_PREP(AMDVI_DTE0_MODE, 1) |
              (empty_root_pa & AMDVI_DTE0_PT_ROOT);
    e->w[1] = FIELD_PREP(AMDVI_DTE1_DOMAIN_ID, AMDVI_DOMID_NONE);
}

void amdvi_mk_dte_paging(struct amdvi_dte *e, uint64_t root_pa, unsigned levels, uint16_t domid)
{
    memset(e, 0, sizeof(*e));
    e->w[0] = AMDVI_DTE0_V | AMDVI_DTE0_TV | FIELD_PREP(AMDVI_DTE0_MODE, levels) |
              (root_pa & AMDVI_DTE0_PT_ROOT) | AMDVI_DTE0_IR | AMDVI_DTE0_IW;
    e->w[1] = FIELD_PREP(AMDVI_DTE1_DOMAIN_ID, domid);
}

void amdvi_mk_dte_identity(struct amdvi_dte *e, uint16_t domid)
{
    memset(e, 0, sizeof(*e));
    /* Mode 0: translation disabled, access governed by IR/IW alone (2.2.2.1). */
    e->w[0] = AMDVI_DTE0_V | AMDVI_DTE0_TV | AMDVI_DTE0_IR | AMDVI_DTE0_IW;
    e->w[1] = FIELD_PREP(AMDVI_DTE1_DOMAIN_ID, domid);
}

uint64_t amdvi_dte_intr_remap(uint64_t irt_pa, unsigned len_log2)
{
    return AMDVI_DTE2_IV | FIELD_PREP(AMDVI_DTE2_INT_TAB_LEN, len_log2) |
           (irt_pa & AMDVI_DTE2_INT_TAB_ROOT) |
           FIELD_PREP(AMDVI_DTE2_INT_CTL, AMDVI_INTCTL_REMAP);
}

static void cmd_init(struct amdvi_cmd *c, unsigned opcode)
{
    c->w[0] = FIELD_PREP(AMDVI_CMD_OPCODE, opcode);
    c->w[1] = 0;
}

void amdvi_cmd_completion_wait(struct amdvi_cmd *c, uint64_t store_pa, uint64_t data)
{
    cmd_init(c, AMDVI_CMD_COMPLETION_WAIT);
    c->w[0] |= AMDVI_CW0_S | (store_pa & AMDVI_CW0_ADDR);
    c->w[1] = data;
}

void amdvi_cmd_inv_devtab_entry(struct amdvi_cmd *c, uint16_t devid)
{
    cmd_init(c, AMDVI_CMD_INV_DEVTAB_ENTRY);
    c->w[0] |= FIELD_PREP(AMDVI_CMD0_DEVID, devid);
}

void amdvi_cmd_inv_pages_all(struct amdvi_cmd *c, uint16_t domid)
{
    cmd_init(c, AMDVI_CMD_INV_IOMMU_PAGES);
    c->w[0] |= FIELD_PREP(AMDVI_IP0_DOMAIN_ID, domid);
    c->w[1] = AMDVI_INV_ALL_ADDR | AMDVI_IP1_S | AMDVI_IP1_PDE;
}

void amdvi_cmd_inv_pages(struct amdvi_cmd *c, uint16_t domid, uint64_t start, uint64_t last,
                         bool pde)
{
    uint64_t diff = (start ^ last) >> 12;
    if (diff == 0) {
        cmd_init(c, AMDVI_CMD_INV_IOMMU_PAGES);
        c->w[0] |= FIELD_PREP(AMDVI_IP0_DOMAIN_ID, domid);
        c->w[1] = (start & AMDVI_IP1_ADDR) | (pde ? AMDVI_IP1_PDE : 0);
        return;
    }
    /* The block of 2^n bytes holding both ends: n = 12 + bits needed for the page diff. */
    unsigned n = 12 + (64 - (unsigned)__builtin_clzll(diff));
    if (n >= 52) {
        amdvi_cmd_inv_pages_all(c, domid);
        return;
    }
    uint64_t base = start & ~((1ULL << n) - 1);
    /* Address bits 12..n-2 set and bit n-1 clear encode 2^n bytes (Table "page size encodings"). */
    uint64_t ones = ((1ULL << (n - 1)) - 1) & ~0xfffULL;
    cmd_init(c, AMDVI_CMD_INV_IOMMU_PAGES);
    c->w[0] |= FIELD_PREP(AMDVI_IP0_DOMAIN_ID, domid);
    c->w[1] = ((base | ones) & AMDVI_IP1_ADDR) | AMDVI_IP1_S | (pde ? AMDVI_IP1_PDE : 0);
}

void amdvi_inv_pages_range(const struct amdvi_cmd *c, uint64_t *start, uint64_t *last)
{
    uint64_t addr = c->w[1] & AMDVI_IP1_ADDR;
    if (!(c->w[1] & AMDVI_IP1_S)) {
        *start = addr;
        *last = addr + 0xfff;
        return;
    }
    unsigned k = (unsigned)__builtin_ctzll(~(addr | 0xfffULL));    /* first zero from bit 12 */
    if (k >= 51) {
        *start = 0;
        *last = ~0ULL;
        return;
    }
    uint64_t size = 1ULL << (k + 1);
    *start = addr & ~(size - 1);
    *last = *start + size - 1;
}

void amdvi_cmd_inv_intr_table(struct amdvi_cmd *c, uint16_t devid)
{
    cmd_init(c, AMDVI_CMD_INV_INTR_TABLE);
    c->w[0] |= FIELD_PREP(AMDVI_CMD0_DEVID, devid);
}

void amdvi_cmd_inv_all(struct amdvi_cmd *c)
{
    cmd_init(c, AMDVI_CMD_INV_IOMMU_ALL);
}

static const char *const event_names[] = {
    [AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY] = "ILLEGAL_DEV_TABLE_ENTRY",
    [AMDVI_EV_IO_PAGE_FAULT] = "IO_PAGE_FAULT",
    [AMDVI_EV_DEV_TAB_HARDWARE_ERROR] = "DEV_TAB_HARDWARE_ERROR",
    [AMDVI_EV_PAGE_TAB_HARDWARE_ERROR] = "PAGE_TAB_HARDWARE_ERROR",
    [AMDVI_EV_ILLEGAL_COMMAND_ERROR] = "ILLEGAL_COMMAND_ERROR",
    [AMDVI_EV_COMMAND_HARDWARE_ERROR] = "COMMAND_HARDWARE_ERROR",
    [AMDVI_EV_IOTLB_INV_TIMEOUT] = "IOTLB_INV_TIMEOUT",
    [AMDVI_EV_INVALID_DEVICE_REQUEST] = "INVALID_DEVICE_REQUEST",
    [AMDVI_EV_INVALID_PPR_REQUEST] = "INVALID_PPR_REQUEST",
    [AMDVI_EV_EVENT_COUNTER_ZERO] = "EVENT_COUNTER_ZERO",
};

const char *amdvi_event_name(unsigned code)
{
    if (code < ARRAY_SIZE(event_names) && event_names[code])
        return event_names[code];
    return "reserved event code";
}

/* The access direction. The specification's RW flag is set for writes; QEMU's emulation instead
 * stores its access permission (1 read, 2 write) in flag bits 0-1 and never sets RW. */
static bool event_is_write(unsigned code, unsigned flags, bool qemu)
{
    if (code != AMDVI_EV_IO_PAGE_FAULT && code != AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY &&
        code != AMDVI_EV_INVALID_DEVICE_REQUEST)
        return false;
    if (qemu && code == AMDVI_EV_IO_PAGE_FAULT)
        return flags & BIT(1);
    return flags & AMDVI_EVF_RW;
}

unsigned amdvi_event_decode(const struct amdvi_event *e, uint16_t seg, bool qemu,
                            struct iommu_fault *f)
{
    unsigned code = (unsigned)FIELD_GET(AMDVI_EV0_CODE, e->w[0]);
    unsigned flags = (unsigned)FIELD_GET(AMDVI_EV0_FLAGS, e->w[0]);
    memset(f, 0, sizeof(*f));
    f->seg = seg;
    f->rid = (uint16_t)FIELD_GET(AMDVI_EV0_DEVID, e->w[0]);
    f->addr = e->w[1];
    f->reason = code;
    f->text = amdvi_event_name(code);
    f->write = event_is_write(code, flags, qemu);
    /* Command errors carry no device: the address is that of the command. */
    if (code == AMDVI_EV_ILLEGAL_COMMAND_ERROR || code == AMDVI_EV_COMMAND_HARDWARE_ERROR)
        f->rid = 0;
    if (code == AMDVI_EV_IO_PAGE_FAULT && !qemu && (flags & AMDVI_EVF_GN)) {
        f->has_pasid = true;
        f->pasid = (uint32_t)FIELD_GET(AMDVI_EV0_PASID_LO, e->w[0]);
    }
    return code;
}

uint32_t amdvi_mk_irte(uint8_t vector, uint8_t dest_apic_id)
{
    return (uint32_t)(AMDVI_IRTE_REMAP_EN | FIELD_PREP(AMDVI_IRTE_INT_TYPE, 0) |
                      FIELD_PREP(AMDVI_IRTE_DEST, dest_apic_id) |
                      FIELD_PREP(AMDVI_IRTE_VECTOR, vector));
}
