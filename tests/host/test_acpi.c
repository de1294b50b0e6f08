/* The ACPI parser on synthetic firmware tables laid out in a fake physical memory: good tables,
 * then each kind of corruption (bad checksum, truncation, impossible lengths, broken entries). */
#include "kernel/acpi/acpi.h"
#include "lib/errno.h"
#include "tests/host/harness.h"

#define MEM_SIZE (2u << 20)
static uint8_t mem[MEM_SIZE];

static const void *fake_map(uint64_t pa, uint64_t len)
{
    if (pa + len < pa || pa + len > MEM_SIZE)
        return NULL;
    return mem + pa;
}

static void fix_checksum(void *p, size_t len, uint8_t *field)
{
    *field = 0;
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + ((uint8_t *)p)[i]);
    *field = (uint8_t)-s;
}

static struct acpi_sdt_header *table_at(uint64_t pa, const char *sig, uint32_t len)
{
    struct acpi_sdt_header *h = (void *)(mem + pa);
    memset(h, 0, len);
    memcpy(h->signature, sig, 4);
    h->length = len;
    h->revision = 1;
    memcpy(h->oem_id, "MOATTS", 6);
    return h;
}

static void seal(uint64_t pa)
{
    struct acpi_sdt_header *h = (void *)(mem + pa);
    fix_checksum(h, h->length, &h->checksum);
}

#define RSDP_PA 0xf0010
#define XSDT_PA 0x100000
#define RSDT_PA 0x100800
#define FADT_PA 0x101000
#define MADT_PA 0x102000
#define MCFG_PA 0x103000
#define DMAR_PA 0x104000
#define DSDT_PA 0x105000

static void put32(uint64_t pa, uint32_t v) { memcpy(mem + pa, &v, 4); }
static void put64(uint64_t pa, uint64_t v) { memcpy(mem + pa, &v, 8); }

static void build_dsdt(void)
{
    static const uint8_t body[] = { 0x10, 0x05, '\\', '_', 'S', 'B', '_',   /* filler */
                                    0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04,
                                    0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
    table_at(DSDT_PA, "DSDT", 36 + sizeof(body));
    memcpy(mem + DSDT_PA + 36, body, sizeof(body));
    seal(DSDT_PA);
}

static void build_fadt(void)
{
    table_at(FADT_PA, "FACP", 276);
    put32(FADT_PA + 40, DSDT_PA);
    put32(FADT_PA + 64, 0x604);     /* PM1a_CNT_BLK */
    put32(FADT_PA + 76, 0x608);     /* PM_TMR_BLK */
    put32(FADT_PA + 112, 1u << 8);  /* TMR_VAL_EXT */
    seal(FADT_PA);
}

static void build_madt(void)
{
    uint32_t len = 44 + 8 + 8 + 12 + 10 + 16;
    table_at(MADT_PA, "APIC", len);
    put32(MADT_PA + 36, 0xfee00000);
    put32(MADT_PA + 40, 1);                 /* PCAT_COMPAT */
    uint8_t *e = mem + MADT_PA + 44;
    e[0] = 0; e[1] = 8; e[2] = 0; e[3] = 0; e[4] = 1;            /* LAPIC id 0 enabled */
    e += 8;
    e[0] = 0; e[1] = 8; e[2] = 1; e[3] = 1; e[4] = 0;            /* LAPIC id 1 disabled */
    e += 8;
    e[0] = 1; e[1] = 12; e[2] = 2;                               /* IOAPIC id 2 */
    memcpy(e + 4, &(uint32_t){ 0xfec00000 }, 4);
    memcpy(e + 8, &(uint32_t){ 0 }, 4);
    e += 12;
    e[0] = 2; e[1] = 10; e[2] = 0; e[3] = 9;                    /* ISA IRQ 9 -> GSI 9, level high */
    memcpy(e + 4, &(uint32_t){ 9 }, 4);
    e[8] = 0x0d;
    e += 10;
    e[0] = 9; e[1] = 16;                                         /* x2APIC id 300 enabled */
    memcpy(e + 4, &(uint32_t){ 300 }, 4);
    memcpy(e + 8, &(uint32_t){ 1 }, 4);
    seal(MADT_PA);
}

static void build_mcfg(void)
{
    table_at(MCFG_PA, "MCFG", 44 + 32);
    put64(MCFG_PA + 44, 0xb0000000ULL);
    mem[MCFG_PA + 44 + 10] = 0;
    mem[MCFG_PA + 44 + 11] = 0xff;
    put64(MCFG_PA + 60, 0xc0000000ULL);      /* second entry: segment 1, end < start: invalid */
    mem[MCFG_PA + 60 + 8] = 1;
    mem[MCFG_PA + 60 + 10] = 9;
    mem[MCFG_PA + 60 + 11] = 3;
    seal(MCFG_PA);
}

static void build_root(bool xsdt_ok)
{
    const uint64_t tables[] = { FADT_PA, MADT_PA, MCFG_PA, DMAR_PA };
    table_at(XSDT_PA, "XSDT", 36 + 8 * 4);
    table_at(RSDT_PA, "RSDT", 36 + 4 * 4);
    for (int i = 0; i < 4; i++) {
        put64(XSDT_PA + 36 + 8 * i, tables[i]);
        put32(RSDT_PA + 36 + 4 * i, (uint32_t)tables[i]);
    }
    seal(XSDT_PA);
    seal(RSDT_PA);
    if (!xsdt_ok)
        mem[XSDT_PA + 40] ^= 0xff;
    struct acpi_rsdp *r = (void *)(mem + RSDP_PA);
    memset(r, 0, sizeof(*r));
    memcpy(r->signature, "RSD PTR ", 8);
    memcpy(r->oem_id, "MOATTS", 6);
    r->revision = 2;
    r->rsdt_address = RSDT_PA;
    r->xsdt_address = XSDT_PA;
    r->length = sizeof(*r);
    fix_checksum(r, 20, &r->checksum);
    fix_checksum(r, sizeof(*r), &r->extended_checksum);
}

static void build_all(void)
{
    memset(mem, 0, sizeof(mem));
    build_dsdt();
    build_fadt();
    build_madt();
    build_mcfg();
    table_at(DMAR_PA, "DMAR", 48);
    seal(DMAR_PA);
    build_root(true);
}

static struct acpi_info ai;

TEST(good_tables)
{
    build_all();
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK(ai.use_xsdt);
    CHECK_EQ(ai.nr_tables, 4);
    CHECK_EQ(ai.nr_rejected, 0);
    CHECK_EQ(ai.pm_timer_port, 0x608);
    CHECK(ai.pm_timer_32bit);
    CHECK_EQ(ai.pm1a_cnt_port, 0x604);
    CHECK(ai.have_s5);
    CHECK_EQ(ai.s5_slp_typ, 5);
    CHECK_EQ(ai.nr_cpus, 2);                /* the disabled LAPIC does not count */
    CHECK_EQ(ai.cpu_apic_id[0], 0);
    CHECK_EQ(ai.cpu_apic_id[1], 300);
    CHECK_EQ(ai.nr_ioapics, 1);
    CHECK_EQ(ai.nr_iso, 1);
    CHECK_EQ(ai.iso[0].source, 9);
    CHECK_EQ(ai.iso[0].gsi, 9);
    CHECK_EQ(ai.iso[0].flags, 0x0d);
    CHECK_EQ(ai.ioapic[0].pa, 0xfec00000);
    CHECK(ai.pcat_compat);
    CHECK_EQ(ai.nr_mcfg, 1);                /* the invalid second entry is skipped */
    CHECK_EQ(ai.mcfg[0].base, 0xb0000000ULL);
    CHECK_EQ(ai.mcfg[0].bus_end, 0xff);
    const struct acpi_sdt_header *d = acpi_find_table(&ai, "DMAR", 0);
    REQUIRE(d != NULL);
    CHECK_EQ(d->length, 48);
    CHECK(acpi_find_table(&ai, "DMAR", 1) == NULL);
    CHECK(acpi_find_table(&ai, "IVRS", 0) == NULL);
}

TEST(rsdp_found_by_scanning)
{
    build_all();
    CHECK_EQ(acpi_find_rsdp(fake_map), RSDP_PA);
    REQUIRE(acpi_parse(&ai, 0, fake_map) == 0);
    CHECK_EQ(ai.rsdp_pa, RSDP_PA);
}

TEST(rsdp_bad_checksum_is_refused)
{
    build_all();
    mem[RSDP_PA + 9] ^= 1;      /* OEM id byte: breaks the checksum */
    CHECK_EQ(acpi_parse(&ai, RSDP_PA, fake_map), -ENOENT);
    CHECK_EQ(acpi_find_rsdp(fake_map), 0);
}

TEST(bad_table_checksum_is_skipped)
{
    build_all();
    mem[MADT_PA + 50] ^= 0x40;
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK_EQ(ai.nr_rejected, 1);
    CHECK(!ai.have_madt);
    CHECK_EQ(ai.nr_cpus, 0);
    CHECK(acpi_find_table(&ai, "APIC", 0) == NULL);
    CHECK_EQ(ai.nr_mcfg, 1);    /* the others are still used */
}

TEST(impossible_and_truncated_lengths)
{
    build_all();
    ((struct acpi_sdt_header *)(mem + MADT_PA))->length = 0xfffffff0u;     /* overflow */
    ((struct acpi_sdt_header *)(mem + MCFG_PA))->length = 20;              /* < header */
    ((struct acpi_sdt_header *)(mem + DMAR_PA))->length = MEM_SIZE;        /* runs past memory */
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK_EQ(ai.nr_rejected, 3);
    CHECK_EQ(ai.nr_tables, 1);
    CHECK(ai.have_fadt);
}

TEST(bad_xsdt_falls_back_to_rsdt)
{
    build_all();
    build_root(false);
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK(!ai.use_xsdt);
    CHECK_EQ(ai.nr_tables, 4);
}

TEST(no_usable_root_table)
{
    build_all();
    build_root(false);
    mem[RSDT_PA + 40] ^= 0xff;
    CHECK_EQ(acpi_parse(&ai, RSDP_PA, fake_map), -EINVAL);
}

TEST(madt_zero_length_entry_ends_walk)
{
    build_all();
    mem[MADT_PA + 44 + 8 + 1] = 0;      /* second entry claims length 0: must not loop */
    seal(MADT_PA);
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK_EQ(ai.nr_cpus, 1);
    CHECK_EQ(ai.nr_ioapics, 0);
}

TEST(madt_entry_past_table_end)
{
    build_all();
    mem[MADT_PA + 44 + 8 + 8 + 12 + 1] = 200;   /* the x2APIC entry claims 200 bytes */
    seal(MADT_PA);
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK_EQ(ai.nr_cpus, 1);
    CHECK_EQ(ai.nr_ioapics, 1);
}

TEST(table_pointer_outside_memory)
{
    build_all();
    put64(XSDT_PA + 36 + 8 * 3, 0xfffffffffffff000ULL);
    seal(XSDT_PA);
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK_EQ(ai.nr_tables, 3);
    CHECK_EQ(ai.nr_rejected, 1);
}

TEST(dsdt_without_s5)
{
    build_all();
    memcpy(mem + DSDT_PA + 36 + 8, "_S4_", 4);
    seal(DSDT_PA);
    REQUIRE(acpi_parse(&ai, RSDP_PA, fake_map) == 0);
    CHECK(!ai.have_s5);
}
