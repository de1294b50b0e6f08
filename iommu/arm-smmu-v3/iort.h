/* ACPI IORT (Arm DEN 0049, "IO Remapping Table"): where the SMMUv3 units are, their wired
 * interrupts, and which StreamID each PCI requester ID arrives with (the root complexes' ID
 * mappings). Portable; what UEFI-booted moat reads instead of the device tree's iommu-map. */
#ifndef MOAT_IOMMU_ARM_SMMU_V3_IORT_H
#define MOAT_IOMMU_ARM_SMMU_V3_IORT_H

#include "lib/compiler.h"

#define SMMU_IORT_MAX_UNITS 8
#define SMMU_IORT_MAX_MAPS 32

/* IORT layout (DEN 0049 3.x): the table header, then nodes, each with ID mappings. */
#define IORT_OFF_NODE_COUNT 36
#define IORT_OFF_NODE_ARRAY 40
#define IORT_HEADER_LEN 48
#define IORT_NODE_OFF_TYPE 0
#define IORT_NODE_OFF_LENGTH 1
#define IORT_NODE_OFF_REVISION 3
#define IORT_NODE_OFF_MAP_COUNT 8
#define IORT_NODE_OFF_MAP_ARRAY 12
#define IORT_NODE_DATA 16
#define IORT_NODE_ITS_GROUP 0
#define IORT_NODE_NAMED_COMPONENT 1
#define IORT_NODE_ROOT_COMPLEX 2
#define IORT_NODE_SMMU_V1V2 3
#define IORT_NODE_SMMU_V3 4
#define IORT_NODE_PMCG 5
#define IORT_NODE_RMR 6
/* ID mapping: input base, number of IDs minus one, output base, output reference (the target
 * node's offset in the table), flags */
#define IORT_MAP_LEN 20
#define IORT_MAP_OFF_INPUT 0
#define IORT_MAP_OFF_COUNT 4
#define IORT_MAP_OFF_OUTPUT 8
#define IORT_MAP_OFF_REF 12
#define IORT_MAP_OFF_FLAGS 16
#define IORT_MAP_SINGLE BIT(0)
/* SMMUv3 node data (after the 16-byte node header) */
#define IORT_SMMU3_OFF_BASE 16
#define IORT_SMMU3_OFF_FLAGS 24
#define IORT_SMMU3_OFF_MODEL 40
#define IORT_SMMU3_OFF_GSIV 44          /* event, PRI, GERR, sync: four u32 */
#define IORT_SMMU3_LEN_MIN 60
#define IORT_SMMU3_COHACC BIT(0)
/* Root complex node data */
#define IORT_RC_OFF_SEGMENT 28
#define IORT_RC_LEN_MIN 36

enum smmu_iort_irq { SMMU_IRQ_EVENTQ, SMMU_IRQ_PRIQ, SMMU_IRQ_GERROR, SMMU_IRQ_SYNC };

struct smmu_iort_unit {
    uint64_t base;
    uint32_t node;                  /* its offset in the table: what mappings point at */
    uint32_t model;
    uint32_t gsiv[4];               /* enum smmu_iort_irq; 0: none (MSI only) */
    bool coherent;
};

/* A root complex's requester IDs [rid_first, rid_last] of segment seg arrive as
 * out_base + (rid - rid_first) at unit (an index), or untranslated at the ITS (unit -1). */
struct smmu_iort_map {
    uint32_t seg;
    uint32_t rid_first, rid_last;
    uint32_t out_base;
    int unit;
};

struct smmu_iort {
    unsigned nr_units, nr_maps;
    struct smmu_iort_unit unit[SMMU_IORT_MAX_UNITS];
    struct smmu_iort_map map[SMMU_IORT_MAX_MAPS];
};

/* Parses len bytes of an IORT. -EINVAL with *why naming the first thing that is wrong: nothing
 * of a table that cannot be walked completely is used. */
int smmu_iort_parse(const void *table, size_t len, struct smmu_iort *out, const char **why);
/* Where (seg, rid) goes: the unit's index with *sid, -1 when the root complex sends it to the
 * ITS untranslated, -ENODEV when no mapping names it. Firmware that gives an ID count where the
 * specification wants count - 1 (QEMU's tables) makes two ranges share their boundary ID: the
 * range that starts there wins, as on Linux. */
int smmu_iort_lookup(const struct smmu_iort *t, uint16_t seg, uint16_t rid, uint32_t *sid);

#endif
