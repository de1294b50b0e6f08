/* The ACPI IVRS table (AMD IOMMU spec ch. 5), parsed into plain structures. Portable: host tests
 * feed synthetic tables and QEMU's own. The table is firmware input and untrusted: every block
 * and device entry is bounds-checked before anything is kept; a bad one is reported by name and
 * offset and rejected, never followed. */
#ifndef MOAT_IOMMU_AMD_IVRS_H
#define MOAT_IOMMU_AMD_IVRS_H

#include "lib/compiler.h"

struct pgtable;

#define AMDVI_IVRS_MAX_UNITS 8
#define AMDVI_IVRS_MAX_RANGES 256       /* per unit: select and range entries (merged) */
#define AMDVI_IVRS_MAX_ALIAS 64
#define AMDVI_IVRS_MAX_SPECIAL 16
#define AMDVI_IVRS_MAX_HID 8
#define AMDVI_IVRS_MAX_IVMD 16

/* Device IDs first..last (a select entry has first == last). */
struct amdvi_ivrs_range {
    uint16_t first, last;
    uint8_t setting;                    /* DTE setting byte */
    bool ext;                           /* from an extended entry */
    uint32_t ext_data;
};

/* Device IDs first..last issue their DMA with requester ID `alias`. */
struct amdvi_ivrs_alias {
    uint16_t first, last;
    uint16_t alias;
    uint8_t setting;
};

/* An IOAPIC or HPET and the requester ID its interrupts carry. */
struct amdvi_ivrs_special {
    uint8_t variety;                    /* IVHD_SPECIAL_IOAPIC / _HPET */
    uint8_t handle;                     /* IOAPIC ID / HPET number */
    uint16_t devid;
    uint8_t setting;
};

/* An ACPI device (no PCI function) and the requester ID it uses. */
struct amdvi_ivrs_hid {
    char hid[9], cid[9];
    char uid[17];
    uint8_t uid_format;
    uint16_t devid;
    uint8_t setting;
};

struct amdvi_ivhd {
    uint8_t type;                       /* 10h, 11h or 40h: the highest kept for this IOMMU */
    uint8_t flags;
    uint16_t devid;                     /* the IOMMU's own PCI function */
    uint16_t cap_off;
    uint64_t base;                      /* MMIO registers */
    uint16_t seg;
    uint16_t info;
    uint32_t feat;                      /* 10h: feature reporting; 11h/40h: attributes */
    uint64_t efr;                       /* 11h/40h: EFR image (valid with IVINFO_EFRSUP) */
    bool all;                           /* an ALL entry: every device ID of the segment */
    uint8_t all_setting;
    uint16_t last_devid;                /* highest device ID named by any entry */
    unsigned nr_ranges, nr_alias, nr_special, nr_hid;
    struct amdvi_ivrs_range range[AMDVI_IVRS_MAX_RANGES];
    struct amdvi_ivrs_alias alias[AMDVI_IVRS_MAX_ALIAS];
    struct amdvi_ivrs_special special[AMDVI_IVRS_MAX_SPECIAL];
    struct amdvi_ivrs_hid hid[AMDVI_IVRS_MAX_HID];
};

/* Memory that must stay reachable: identity-mapped (unity, with the block's IR/IW permissions;
 * exclusion ranges read-write) in every domain of the devices it names, from before translation
 * is enabled. Kept only when it names a device some IVHD translates and overlaps no earlier
 * block for a common device. */
struct amdvi_ivmd {
    uint8_t type;                       /* 20h all, 21h one device, 22h a range */
    uint8_t flags;                      /* IVMD_FLAG_* */
    uint16_t seg;
    uint16_t first, last;               /* device IDs (20h: 0..ffff) */
    uint64_t start, last_addr;          /* inclusive */
    uint32_t off;                       /* offset of the block in the table */
};

struct amdvi_ivrs {
    uint32_t ivinfo;
    unsigned nr_units, nr_ivmd;
    struct amdvi_ivhd unit[AMDVI_IVRS_MAX_UNITS];
    struct amdvi_ivmd ivmd[AMDVI_IVRS_MAX_IVMD];
    unsigned nr_rejected;               /* blocks or entries refused */
    unsigned nr_superseded;             /* IVHD blocks replaced by a higher type for the IOMMU */
};

/* Parses an IVRS table of len bytes (the caller checked the SDT checksum and length).
 * 0 with *out filled (rejections counted in out->nr_rejected), or -EINVAL when the table itself
 * is unusable (too short, no usable IVHD). */
int amdvi_ivrs_parse(const void *table, size_t len, struct amdvi_ivrs *out);

/* Does the unit's IVHD name device ID devid (any entry kind, the IOMMU itself excluded)? */
bool amdvi_ivhd_covers(const struct amdvi_ivhd *h, uint16_t devid);
/* The requester ID devid's DMA carries (its alias entry's, else devid). */
uint16_t amdvi_ivhd_alias_of(const struct amdvi_ivhd *h, uint16_t devid);
/* The index of the unit translating (seg, devid), or -ENODEV. */
int amdvi_ivrs_unit_for(const struct amdvi_ivrs *iv, uint16_t seg, uint16_t devid);
/* Does the IVMD block name (seg, devid)? */
bool amdvi_ivmd_covers(const struct amdvi_ivmd *m, uint16_t seg, uint16_t devid);

/* ivmd.c: the pgtable permissions of an IVMD block (PGTABLE_PROT_*). */
uint32_t amdvi_ivmd_prot(const struct amdvi_ivmd *m);
/* Appends to out[*n] (up to max) one DIRECT region per IVMD block naming (seg, devid) that is
 * not there yet, with the block's permissions (exclusion ranges read-write, as Linux turns
 * them into unity maps); -ENOSPC when out is full. */
struct iommu_resv_region;
int amdvi_ivmd_regions(const struct amdvi_ivrs *iv, uint16_t seg, uint16_t devid,
                       struct iommu_resv_region *out, unsigned *n, unsigned max);

/* One line per block kept. */
void amdvi_ivrs_print(const struct amdvi_ivrs *iv);

#endif
