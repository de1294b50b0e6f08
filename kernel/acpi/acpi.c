#include "kernel/acpi/acpi.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

static uint8_t sum_bytes(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    uint8_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s = (uint8_t)(s + b[i]);
    return s;
}

static bool rsdp_valid(const struct acpi_rsdp *r, acpi_map_fn map, uint64_t pa)
{
    if (memcmp(r->signature, "RSD PTR ", 8) != 0 || sum_bytes(r, 20) != 0)
        return false;
    if (r->revision < 2)
        return true;
    if (r->length < sizeof(*r) || r->length > 4096)
        return false;
    const void *full = map(pa, r->length);
    return full && sum_bytes(full, r->length) == 0;
}

static uint64_t scan_rsdp(acpi_map_fn map, uint64_t start, uint64_t len)
{
    const uint8_t *p = map(start, len);
    if (!p)
        return 0;
    for (uint64_t off = 0; off + sizeof(struct acpi_rsdp) <= len; off += 16)
        if (rsdp_valid((const void *)(p + off), map, start + off))
            return start + off;
    return 0;
}

uint64_t acpi_find_rsdp(acpi_map_fn map)
{
    const uint16_t *ebda_seg = map(0x40e, 2);
    if (ebda_seg) {
        uint64_t ebda = (uint64_t)*ebda_seg << 4;
        if (ebda >= 0x80000 && ebda < 0xa0000) {
            uint64_t pa = scan_rsdp(map, ebda, 1024);
            if (pa)
                return pa;
        }
    }
    return scan_rsdp(map, 0xe0000, 0x20000);
}

static void sig_str(char out[5], const char *sig)
{
    for (int i = 0; i < 4; i++)
        out[i] = (sig[i] >= 0x20 && sig[i] < 0x7f) ? sig[i] : '?';
    out[4] = 0;
}

/* Maps and checks one table; NULL (with a line naming it) when it cannot be trusted. */
static const struct acpi_sdt_header *check_table(struct acpi_info *ai, uint64_t pa,
                                                 const char *what)
{
    const struct acpi_sdt_header *h = ai->map(pa, sizeof(*h));
    if (!h) {
        kprintf("acpi: %s at %#llx is not in memory, skipped\n", what, (unsigned long long)pa);
        return NULL;
    }
    char sig[5];
    sig_str(sig, h->signature);
    uint32_t len = h->length;
    if (len < sizeof(*h) || len > ACPI_MAX_TABLE_LEN || pa + len < pa) {
        kprintf("acpi: table %s at %#llx has impossible length %u, skipped\n", sig,
                (unsigned long long)pa, len);
        return NULL;
    }
    h = ai->map(pa, len);
    if (!h) {
        kprintf("acpi: table %s at %#llx (%u bytes) runs out of memory, skipped\n", sig,
                (unsigned long long)pa, len);
        return NULL;
    }
    if (sum_bytes(h, len) != 0) {
        kprintf("acpi: table %s at %#llx has a bad checksum, skipped\n", sig,
                (unsigned long long)pa);
        return NULL;
    }
    return h;
}

static void record_table(struct acpi_info *ai, uint64_t pa)
{
    const struct acpi_sdt_header *h = check_table(ai, pa, "table");
    if (!h) {
        ai->nr_rejected++;
        return;
    }
    if (ai->nr_tables == ACPI_MAX_TABLES) {
        kprintf("acpi: more than %d tables, ignoring the rest\n", ACPI_MAX_TABLES);
        return;
    }
    struct acpi_table_ref *t = &ai->tables[ai->nr_tables++];
    sig_str(t->signature, h->signature);
    t->pa = pa;
    t->length = h->length;
}

static int walk_root(struct acpi_info *ai, uint64_t root_pa, unsigned entry_size)
{
    const struct acpi_sdt_header *root = check_table(ai, root_pa, entry_size == 8 ? "XSDT" : "RSDT");
    if (!root)
        return -EINVAL;
    const uint8_t *entries = (const uint8_t *)(root + 1);
    unsigned n = (root->length - sizeof(*root)) / entry_size;
    for (unsigned i = 0; i < n; i++) {
        uint64_t pa = 0;
        memcpy(&pa, entries + (uint64_t)i * entry_size, entry_size);
        if (pa)
            record_table(ai, pa);
    }
    return 0;
}

const struct acpi_sdt_header *acpi_find_table(const struct acpi_info *ai, const char *sig,
                                              unsigned index)
{
    for (unsigned i = 0; i < ai->nr_tables; i++) {
        if (memcmp(ai->tables[i].signature, sig, 4) == 0 && index-- == 0)
            return ai->map(ai->tables[i].pa, ai->tables[i].length);
    }
    return NULL;
}

static uint32_t rd32(const void *base, uint32_t off)
{
    uint32_t v;
    memcpy(&v, (const uint8_t *)base + off, 4);
    return v;
}

static uint64_t rd64(const void *base, uint32_t off)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)base + off, 8);
    return v;
}

/* \_S5 in the DSDT: NameOp "_S5_" PackageOp PkgLength NumElements, then the SLP_TYPa value
 * as ZeroOp, OneOp or BytePrefix+byte. Bounded by the table's length. */
static void find_s5(struct acpi_info *ai)
{
    const struct acpi_sdt_header *dsdt = check_table(ai, ai->dsdt_pa, "DSDT");
    if (!dsdt)
        return;
    const uint8_t *p = (const uint8_t *)dsdt;
    for (uint32_t i = sizeof(*dsdt); i + 10 <= dsdt->length; i++) {
        if (memcmp(p + i, "_S5_", 4) != 0 || p[i + 4] != 0x12)
            continue;
        uint32_t j = i + 5;
        j += 1 + (p[j] >> 6);           /* PkgLength: lead byte + follow bytes */
        j += 1;                         /* NumElements */
        if (j + 2 > dsdt->length)
            return;
        if (p[j] == 0x0a) {
            ai->s5_slp_typ = p[j + 1];
        } else if (p[j] == 0x00 || p[j] == 0x01) {
            ai->s5_slp_typ = p[j];
        } else {
            return;
        }
        ai->have_s5 = true;
        return;
    }
}

/* FADT field offsets (ACPI 6.5 table 5.9). */
#define FADT_DSDT 40
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM_TMR_BLK 76
#define FADT_CENTURY 108                /* the CMOS index of the RTC's century; 0: none */
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_BOOT_ARCH_NO_CMOS_RTC BIT(5)
#define FADT_FLAGS 112
#define FADT_FLAG_TMR_VAL_EXT BIT(8)
#define FADT_X_DSDT 140

static void parse_fadt(struct acpi_info *ai)
{
    const struct acpi_sdt_header *f = acpi_find_table(ai, "FACP", 0);
    if (!f || f->length < FADT_FLAGS + 4)
        return;
    ai->have_fadt = true;
    ai->pm1a_cnt_port = (uint16_t)rd32(f, FADT_PM1A_CNT_BLK);
    ai->pm_timer_port = (uint16_t)rd32(f, FADT_PM_TMR_BLK);
    ai->pm_timer_32bit = (rd32(f, FADT_FLAGS) & FADT_FLAG_TMR_VAL_EXT) != 0;
    ai->dsdt_pa = rd32(f, FADT_DSDT);
    const uint8_t *b = (const uint8_t *)f;
    ai->rtc_century_index = b[FADT_CENTURY];
    ai->no_cmos_rtc = (b[FADT_IAPC_BOOT_ARCH] & FADT_BOOT_ARCH_NO_CMOS_RTC) != 0;
    if (f->length >= FADT_X_DSDT + 8 && rd64(f, FADT_X_DSDT))
        ai->dsdt_pa = rd64(f, FADT_X_DSDT);
    if (ai->dsdt_pa)
        find_s5(ai);
}

static void madt_entry(struct acpi_info *ai, const uint8_t *e)
{
    switch (e[0]) {
    case 0:     /* Processor Local APIC: enabled or online-capable */
        if (e[1] >= 8 && (rd32(e, 4) & 3) && ai->nr_cpus < ACPI_MAX_CPUS)
            ai->cpu_apic_id[ai->nr_cpus++] = e[3];
        break;
    case 1:     /* I/O APIC */
        if (e[1] >= 12 && ai->nr_ioapics < ACPI_MAX_IOAPICS) {
            ai->ioapic[ai->nr_ioapics].id = e[2];
            ai->ioapic[ai->nr_ioapics].pa = rd32(e, 4);
            ai->ioapic[ai->nr_ioapics].gsi_base = rd32(e, 8);
            ai->nr_ioapics++;
        }
        break;
    case 2:     /* Interrupt Source Override */
        if (e[1] >= 10 && ai->nr_iso < ACPI_MAX_ISO) {
            ai->iso[ai->nr_iso].bus = e[2];
            ai->iso[ai->nr_iso].source = e[3];
            ai->iso[ai->nr_iso].gsi = rd32(e, 4);
            ai->iso[ai->nr_iso].flags = (uint16_t)(e[8] | e[9] << 8);
            ai->nr_iso++;
        }
        break;
    case 5:     /* Local APIC Address Override */
        if (e[1] >= 12)
            ai->lapic_pa = rd64(e, 4);
        break;
    case 9:     /* Processor Local x2APIC */
        if (e[1] >= 16 && (rd32(e, 8) & 3) && ai->nr_cpus < ACPI_MAX_CPUS)
            ai->cpu_apic_id[ai->nr_cpus++] = rd32(e, 4);
        break;
    }
}

static void parse_madt(struct acpi_info *ai)
{
    const struct acpi_sdt_header *m = acpi_find_table(ai, "APIC", 0);
    if (!m || m->length < 44)
        return;
    ai->have_madt = true;
    ai->lapic_pa = rd32(m, 36);
    ai->pcat_compat = rd32(m, 40) & 1;
    const uint8_t *p = (const uint8_t *)m;
    for (uint32_t off = 44; off + 2 <= m->length;) {
        uint8_t len = p[off + 1];
        if (len < 2 || off + len > m->length) {
            kprintf("acpi: MADT entry at offset %u has bad length %u, rest ignored\n", off, len);
            return;
        }
        madt_entry(ai, p + off);
        off += len;
    }
}

static void parse_mcfg(struct acpi_info *ai)
{
    const struct acpi_sdt_header *m = acpi_find_table(ai, "MCFG", 0);
    if (!m)
        return;
    const uint8_t *p = (const uint8_t *)m;
    for (uint32_t off = 44; off + 16 <= m->length && ai->nr_mcfg < ACPI_MAX_MCFG; off += 16) {
        struct acpi_mcfg_entry e = {
            .base = rd64(p, off),
            .segment = (uint16_t)(rd32(p, off + 8) & 0xffff),
            .bus_start = p[off + 10],
            .bus_end = p[off + 11],
        };
        if (e.bus_end < e.bus_start || e.base == 0 || !IS_ALIGNED(e.base, 1ULL << 20)) {
            kprintf("acpi: MCFG entry %u (segment %u buses %u-%u base %#llx) is invalid, skipped\n",
                    (off - 44) / 16, e.segment, e.bus_start, e.bus_end,
                    (unsigned long long)e.base);
            continue;
        }
        ai->mcfg[ai->nr_mcfg++] = e;
    }
}

int acpi_parse(struct acpi_info *ai, uint64_t rsdp_pa, acpi_map_fn map)
{
    memset(ai, 0, sizeof(*ai));
    ai->map = map;
    if (!rsdp_pa)
        rsdp_pa = acpi_find_rsdp(map);
    const struct acpi_rsdp *r = rsdp_pa ? map(rsdp_pa, 20) : NULL;
    if (!r || !rsdp_valid(r, map, rsdp_pa)) {
        kprintf("acpi: no valid RSDP%s\n", rsdp_pa ? " at the address the loader gave" : "");
        return -ENOENT;
    }
    ai->rsdp_pa = rsdp_pa;
    ai->revision = r->revision;
    int err = -EINVAL;
    if (r->revision >= 2 && r->xsdt_address) {
        err = walk_root(ai, r->xsdt_address, 8);
        ai->use_xsdt = err == 0;
    }
    if (err && r->rsdt_address)
        err = walk_root(ai, r->rsdt_address, 4);
    if (err)
        return err;
    parse_fadt(ai);
    parse_madt(ai);
    parse_mcfg(ai);
    return 0;
}

void acpi_print(const struct acpi_info *ai)
{
    kprintf("acpi: RSDP at %#llx rev %u, %s, %u tables (%u rejected)\n",
            (unsigned long long)ai->rsdp_pa, ai->revision, ai->use_xsdt ? "XSDT" : "RSDT",
            ai->nr_tables, ai->nr_rejected);
    for (unsigned i = 0; i < ai->nr_tables; i++)
        kprintf("acpi:   %s at %#010llx, %u bytes\n", ai->tables[i].signature,
                (unsigned long long)ai->tables[i].pa, ai->tables[i].length);
    kprintf("acpi: %u CPUs, %u I/O APICs, LAPIC at %#llx, %u ECAM segments\n",
            ai->nr_cpus, ai->nr_ioapics, (unsigned long long)ai->lapic_pa, ai->nr_mcfg);
    kprintf("acpi: PM timer port %#x (%s), PM1a control port %#x, S5 %s (SLP_TYP %u)\n",
            ai->pm_timer_port, ai->pm_timer_32bit ? "32-bit" : "24-bit", ai->pm1a_cnt_port,
            ai->have_s5 ? "found" : "not found", ai->s5_slp_typ);
    for (unsigned i = 0; i < ai->nr_mcfg; i++)
        kprintf("acpi:   ECAM segment %u buses %02x-%02x at %#llx\n", ai->mcfg[i].segment,
                ai->mcfg[i].bus_start, ai->mcfg[i].bus_end, (unsigned long long)ai->mcfg[i].base);
}
