/* ACPI: find the RSDP, walk the XSDT/RSDT checking every table, and parse what the runtime
 * needs (FADT, MADT, MCFG). Every table is untrusted: a bad checksum or an impossible length
 * is reported by name and the table is skipped. Portable: tables are reached through a map
 * callback, so host tests feed captured or synthetic tables. */
#ifndef MOAT_KERNEL_ACPI_ACPI_H
#define MOAT_KERNEL_ACPI_ACPI_H

#include "lib/compiler.h"

struct acpi_sdt_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __packed;
_Static_assert(sizeof(struct acpi_sdt_header) == 36, "ACPI SDT header");

struct acpi_rsdp {
    char signature[8];          /* "RSD PTR " */
    uint8_t checksum;           /* over the first 20 bytes */
    char oem_id[6];
    uint8_t revision;           /* 0: ACPI 1.0 (RSDT only); 2+: XSDT fields valid */
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;  /* over length bytes */
    uint8_t reserved[3];
} __packed;
_Static_assert(sizeof(struct acpi_rsdp) == 36, "ACPI RSDP");

/* Largest table moat believes: QEMU's DSDT is a few KiB, real ones rarely exceed 512 KiB. */
#define ACPI_MAX_TABLE_LEN (4u << 20)
#define ACPI_MAX_TABLES 64
#define ACPI_MAX_CPUS 256
#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_ISO 16
#define ACPI_MAX_MCFG 16

/* Returns a CPU pointer to len bytes at physical pa, or NULL when that range is not memory. */
typedef const void *(*acpi_map_fn)(uint64_t pa, uint64_t len);

struct acpi_table_ref {
    char signature[5];
    uint64_t pa;
    uint32_t length;
};

struct acpi_mcfg_entry {
    uint64_t base;              /* ECAM base for bus 0 of this segment */
    uint16_t segment;
    uint8_t bus_start, bus_end;
};

struct acpi_info {
    acpi_map_fn map;
    uint64_t rsdp_pa;
    uint8_t revision;
    bool use_xsdt;
    unsigned nr_tables;
    struct acpi_table_ref tables[ACPI_MAX_TABLES];
    unsigned nr_rejected;       /* tables skipped for bad checksum or length */

    /* FADT */
    bool have_fadt;
    uint16_t pm_timer_port;     /* 0: none */
    bool pm_timer_32bit;
    uint16_t pm1a_cnt_port;
    bool have_s5;
    uint8_t s5_slp_typ;
    uint8_t rtc_century_index;  /* CMOS index of the RTC's century byte; 0: none */
    bool no_cmos_rtc;           /* IA-PC boot flags: no CMOS real-time clock */
    uint64_t dsdt_pa;

    /* MADT */
    bool have_madt;
    uint64_t lapic_pa;
    bool pcat_compat;           /* legacy 8259 PICs present (mask them) */
    unsigned nr_cpus;
    uint32_t cpu_apic_id[ACPI_MAX_CPUS];
    unsigned nr_ioapics;
    struct { uint32_t id, gsi_base; uint64_t pa; } ioapic[ACPI_MAX_IOAPICS];
    /* Interrupt Source Overrides (ACPI 6.5 5.2.12.5): flags are MPS INTI flags, polarity 1:0
     * (0 bus default, 1 high, 3 low) and trigger mode 3:2 (0 bus default, 1 edge, 3 level). */
    unsigned nr_iso;
    struct { uint8_t bus, source; uint16_t flags; uint32_t gsi; } iso[ACPI_MAX_ISO];

    /* MCFG */
    unsigned nr_mcfg;
    struct acpi_mcfg_entry mcfg[ACPI_MAX_MCFG];
};

/* Scans the EBDA and 0xE0000–0xFFFFF for a valid RSDP; 0 if none. */
uint64_t acpi_find_rsdp(acpi_map_fn map);
/* Parses everything from the RSDP. -ENOENT: no valid RSDP; -EINVAL: no valid root table. */
int acpi_parse(struct acpi_info *ai, uint64_t rsdp_pa, acpi_map_fn map);
/* The index'th checked table with this signature (e.g. "DMAR", "IVRS"), or NULL. */
const struct acpi_sdt_header *acpi_find_table(const struct acpi_info *ai, const char *sig,
                                              unsigned index);
/* Prints what was found, one line per table. */
void acpi_print(const struct acpi_info *ai);

#endif
