/* The ACPI DMAR table (VT-d spec ch. 8), parsed into plain structures. Portable: host tests feed
 * synthetic tables. The table is firmware input and untrusted: every structure is checked in
 * full before it is kept; a bad one is reported by name and offset and rejected, never
 * followed. */
#ifndef MOAT_IOMMU_INTEL_DMAR_H
#define MOAT_IOMMU_INTEL_DMAR_H

#include "lib/compiler.h"

#define VTD_DMAR_MAX_UNITS 16
#define VTD_DMAR_MAX_RMRR 16
#define VTD_DMAR_MAX_ATSR 8
#define VTD_DMAR_MAX_SATC 8
#define VTD_DMAR_MAX_RHSA 16
#define VTD_DMAR_MAX_SCOPES 64          /* per structure (QEMU lists every function) */
#define VTD_DMAR_MAX_PATH 8             /* hops below the start bus */

struct vtd_dmar_scope {
    uint8_t type;                       /* SCOPE_* (vtd_hw.h) */
    uint8_t enum_id;                    /* IOAPIC/HPET: their ID */
    uint8_t start_bus;
    uint8_t npath;
    uint8_t path[VTD_DMAR_MAX_PATH];    /* devfn of each hop */
};

struct vtd_dmar_scopes {
    unsigned n;
    struct vtd_dmar_scope s[VTD_DMAR_MAX_SCOPES];
};

struct vtd_drhd {
    uint64_t base;                      /* register base */
    uint64_t size;                      /* register set bytes */
    uint16_t seg;
    bool include_all;                   /* INCLUDE_PCI_ALL: every function not claimed by another */
    bool has_rhsa;
    uint32_t proximity;                 /* RHSA */
    struct vtd_dmar_scopes scopes;
};

struct vtd_rmrr {
    uint16_t seg;
    uint64_t base, limit;               /* inclusive limit */
    struct vtd_dmar_scopes scopes;
};

struct vtd_atsr {                       /* also used for SATC */
    uint16_t seg;
    bool flag;                          /* ATSR: ALL_PORTS; SATC: ATC_REQUIRED */
    struct vtd_dmar_scopes scopes;
};

struct vtd_dmar {
    unsigned haw;                       /* host address width in bits */
    uint8_t flags;                      /* DMAR_FLAG_* */
    unsigned nr_units, nr_rmrr, nr_atsr, nr_satc;
    struct vtd_drhd unit[VTD_DMAR_MAX_UNITS];
    struct vtd_rmrr rmrr[VTD_DMAR_MAX_RMRR];
    struct vtd_atsr atsr[VTD_DMAR_MAX_ATSR];
    struct vtd_atsr satc[VTD_DMAR_MAX_SATC];
    unsigned nr_rejected;               /* structures or scopes refused */
};

/* Parses a DMAR table of len bytes (the caller checked the SDT checksum and length).
 * 0 with *out filled (rejected structures counted in out->nr_rejected), or -EINVAL when the
 * table itself is unusable (too short, zero HAW, no usable DRHD). */
int vtd_dmar_parse(const void *table, size_t len, struct vtd_dmar *out);

/* Bridge bus numbers, to follow a scope's path below its start bus: the secondary and
 * subordinate bus of the bridge at (seg, bus, devfn); false when it is not a bridge. */
typedef bool (*vtd_bridge_fn)(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn,
                              uint8_t *secondary, uint8_t *subordinate);

/* Does one of the scopes name the function (seg, bus, devfn)? Endpoints match exactly; a
 * sub-hierarchy matches its bridge and everything below it. */
bool vtd_scopes_match(const struct vtd_dmar_scopes *sc, uint16_t seg, uint16_t scope_seg,
                      uint8_t bus, uint8_t devfn, vtd_bridge_fn bridge, void *ctx);

/* The index of the unit translating (seg, bus, devfn): a unit whose scopes name it, else the
 * segment's INCLUDE_PCI_ALL unit; -ENODEV when none. */
int vtd_dmar_unit_for(const struct vtd_dmar *d, uint16_t seg, uint8_t bus, uint8_t devfn,
                      vtd_bridge_fn bridge, void *ctx);

/* One line per structure kept. */
void vtd_dmar_print(const struct vtd_dmar *d);

#endif
