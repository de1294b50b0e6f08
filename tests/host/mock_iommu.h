/* A strict mock IOMMU for host tests of the object layer: implements iommu_unit_ops, checks
 * every argument it is handed (exact ranges, no unmap of what was never mapped, nothing mapped
 * at domain_free, attach only to live domains) and backs paging domains with a real VT-d
 * second-stage page table so that translations can be checked. Violations are counted and
 * printed; tests check mock_violations == 0. */
#ifndef MOAT_TESTS_HOST_MOCK_IOMMU_H
#define MOAT_TESTS_HOST_MOCK_IOMMU_H

#include "iommu/iommu.h"
#include "pci/pci.h"

#define MOCK_UNITS 2
#define MOCK_IAS 48
#define MOCK_MSI_START 0xfee00000ULL
#define MOCK_MSI_LAST 0xfeefffffULL

#define MOCK_UNMAP_LOG 64
#define MOCK_CMD_LOG 128

struct mock_stats {
    uint64_t map_calls, unmap_calls, attach_calls, inv_calls, flushes;
    uint64_t gather_unmaps, gather_syncs;   /* unmap_gather calls (also in unmap_calls) */
    uint64_t last_iova, last_size, last_pa;
    uint32_t last_prot;
    /* Every unmap and unmap_gather, in order (the first MOCK_UNMAP_LOG since the reset). */
    struct { uint64_t iova, size; } unmap_log[MOCK_UNMAP_LOG];
    unsigned nr_unmap_log;
    /* SMMUv3 commands a vIOMMU issued (the first MOCK_CMD_LOG; nr_cmds counts them all). */
    uint64_t cmds[MOCK_CMD_LOG][2];
    unsigned nr_cmds, issue_calls;
};

/* Empties mock_stats' unmap log. */
void mock_unmap_log_reset(void);

extern unsigned mock_violations;
extern struct mock_stats mock_stats;

/* Unmapped ranges whose invalidation (a flush covering them) has not happened yet: the mock
 * checks that none is left when unmap or gather_sync returns (a violation otherwise). */
unsigned mock_pending_invalidations(void);
/* Registers the units (unit 0 serves segment 0, unit 1 segment 1) over a page arena; safe to
 * call from every test. Unit 0 reserves the x86 interrupt window and takes nested stage-1 data
 * in the VT-d format (iommu/intel/nested.h); unit 1 has no nested support. */
void mock_iommu_setup(void);
struct iommu_unit *mock_unit(int i);
/* Replaces unit i's reserved regions (n <= IOMMU_MAX_RESV). */
void mock_set_resv(int i, const struct iommu_resv_region *r, unsigned n);
/* Per-device reserved regions after the unit's: fn appends to out[*n] (up to max), returns 0
 * or -errno. NULL: none. */
typedef int (*mock_dev_resv_fn)(void *ctx, struct pci_dev *dev, struct iommu_resv_region *out,
                                unsigned *n, unsigned max);
void mock_set_dev_resv(mock_dev_resv_fn fn, void *ctx);
/* Live paging/nested domains, bytes mapped in them, devices not on a blocked domain. */
unsigned mock_live_domains(void);
uint64_t mock_mapped_bytes(void);
long long mock_pt_pages(void);     /* page-table pages of live domains */
unsigned mock_attached_devs(void);
/* Makes the next attach to a non-blocked domain fail with err (0: off). */
void mock_fail_attach(int err);
bool mock_dirty_enabled(const struct iommu_domain *d);
/* Simulates a DMA write: sets the leaf's hardware dirty bit. */
void mock_dma_write(struct iommu_domain *d, uint64_t iova);
/* Unit 0 also makes Arm SMMUv3 vIOMMUs (IOMMU_VIOMMU_TYPE_ARM_SMMUV3) through the SMMUv3
 * driver's nesting code (iommu/arm-smmu-v3/nested.h): nested STEs, commands (logged in
 * mock_stats.cmds; StreamID = requester ID) and events. */
unsigned mock_live_viommus(void);
uint16_t mock_viommu_vmid(const struct iommu_viommu *v);
/* The next batch of commands fails with err (0: off). */
void mock_fail_issue(int err);
void mock_cmd_log_reset(void);
/* The checked STE words of a nested domain on a vIOMMU, or NULL. */
const uint64_t *mock_nested_ste(struct iommu_domain *d);
/* The unit recorded event evt for dev: forwarded as the SMMUv3 driver forwards it when dev is
 * on a nested domain of a vIOMMU (its result), else -EOPNOTSUPP. */
int mock_smmu_event(struct pci_dev *dev, const uint64_t evt[4]);
/* Fills a fake PCI device. */
void mock_pci_dev(struct pci_dev *p, uint16_t seg, uint8_t bus, uint8_t devfn, int group);

#endif
