/* The machine facts moat reads from a device tree (QEMU's virt and machines like it): memory,
 * the console, the real-time clock, the GICv3 and its ITS, the generic timer, PSCI, the PCIe
 * host bridge and an SMMUv3. Portable: parsed from a validated struct fdt, host-tested. */
#ifndef MOAT_KERNEL_FDT_DT_PLATFORM_H
#define MOAT_KERNEL_FDT_DT_PLATFORM_H

#include "kernel/fdt/fdt.h"

#define DT_MAX_MEM 16
#define DT_MAX_RANGES 8
#define DT_MAX_MAP 8
#define DT_MAX_IRQS 8
#define DT_MAX_REDIST 4

/* A GIC interrupt as the binding's three cells give it. */
enum dt_irq_kind { DT_IRQ_SPI = 0, DT_IRQ_PPI = 1 };
struct dt_irq {
    uint32_t kind;              /* enum dt_irq_kind */
    uint32_t num;               /* SPI 0..987, PPI 0..15 */
    uint32_t flags;             /* 1: edge rising, 4: level high (bits 3:0) */
    uint32_t intid;             /* GIC interrupt ID: SPI num + 32, PPI num + 16 */
};

/* One entry of a PCI host bridge's ranges. */
enum dt_pci_space { DT_PCI_CONFIG = 0, DT_PCI_IO = 1, DT_PCI_MEM32 = 2, DT_PCI_MEM64 = 3 };
struct dt_pci_range {
    uint32_t space;             /* enum dt_pci_space */
    bool prefetchable;
    uint64_t pci_addr, cpu_addr, size;
};

/* An msi-map or iommu-map entry: requester IDs rid_base..rid_base+length-1 map to
 * out_base.. at the controller named by phandle (node: its offset in the tree). */
struct dt_id_map {
    uint32_t rid_base, phandle, out_base, length;
    int node;
};

struct dt_platform {
    uint32_t nr_mem;
    struct { uint64_t base, size; } mem[DT_MAX_MEM];
    const char *bootargs;           /* /chosen bootargs, points into the blob; NULL if absent */

    struct { uint64_t base, size; struct dt_irq irq; bool present; } uart;    /* arm,pl011 */
    struct { uint64_t base, size; bool present; } rtc;                         /* arm,pl031 */

    struct {
        bool present;
        uint64_t dist_base, dist_size;
        uint32_t nr_redist;
        struct { uint64_t base, size; } redist[DT_MAX_REDIST];
        uint32_t phandle;
        int node;
        struct { bool present; uint64_t base, size; uint32_t phandle; int node; } its;
    } gic;                          /* arm,gic-v3 and its arm,gic-v3-its child */

    struct { bool present; struct dt_irq irq[4]; uint32_t nr_irq; } timer;   /* arm,armv8-timer */
    struct { bool present; bool hvc; } psci;        /* method "hvc" or "smc" */

    struct {
        bool present;
        int node;
        uint64_t ecam_base, ecam_size;
        uint32_t bus_start, bus_end, domain;
        uint32_t nr_ranges;
        struct dt_pci_range ranges[DT_MAX_RANGES];
        uint32_t nr_msi_map, nr_iommu_map;
        struct dt_id_map msi_map[DT_MAX_MAP], iommu_map[DT_MAX_MAP];
        bool coherent;              /* dma-coherent: devices' DMA snoops the CPU caches */
    } pcie;                         /* pci-host-ecam-generic (the first one) */

    struct {
        bool present;
        int node;
        uint64_t base, size;
        uint32_t phandle, nr_irq;
        struct dt_irq irq[DT_MAX_IRQS];
        const char *irq_name[DT_MAX_IRQS];  /* "eventq", "priq", "cmdq-sync", "gerror" */
        bool coherent;
    } smmu;                         /* arm,smmu-v3 (the first one) */
};

/* Fills p from the tree. -EINVAL with *why naming the first fact that is malformed (a node
 * moat needs whose properties do not parse); absent optional devices are simply not present.
 * Memory is required. */
int dt_platform_parse(const struct fdt *f, struct dt_platform *p, const char **why);

/* The GIC interrupt i of node's "interrupts" (three-cell GIC binding); false, *out untouched,
 * when absent, out of range, or when the node's interrupt parent is not a three-cell
 * controller. (A device's irq left zeroed, intid 0, is "none".) */
bool dt_irq(const struct fdt *f, int node, unsigned i, struct dt_irq *out);

/* The GIC interrupt a PCI root-bus function's INTx pin (1 = INTA) raises through the host
 * bridge's interrupt-map (devicetree spec 2.4.3; matched under interrupt-map-mask with the
 * child unit address bus/device/function and the pin). 0 with *out; -ENOENT when no entry
 * matches; -EINVAL when the map is malformed or its parent is not a three-cell GIC. */
int dt_pci_intx(const struct fdt *f, int host, unsigned bus, unsigned devfn, unsigned pin,
                struct dt_irq *out);

/* Maps a requester ID through an msi-map / iommu-map: true with *out (the StreamID or DeviceID)
 * and *phandle when an entry covers rid; false when none does (the ID is then untranslated). */
bool dt_map_id(const struct dt_id_map *map, uint32_t n, uint32_t rid, uint32_t *phandle,
               uint32_t *out);

#endif
