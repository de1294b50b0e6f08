/* The Intel VT-d driver's internal interfaces: one struct vtd_unit per DRHD, one vtd_domain per
 * iommu_domain. Files: unit.c (bring-up, the iommu_unit_ops), ctx.c (root/context/PASID
 * tables), vtd_pgtable.c (I/O page-table glue), qi.c (invalidation), fault.c (fault events),
 * intremap.c (interrupt remapping); tables.c builds entries and descriptors (host-tested). */
#ifndef MOAT_IOMMU_INTEL_VTD_H
#define MOAT_IOMMU_INTEL_VTD_H

#include "iommu/intel/dmar.h"
#include "iommu/intel/vtd_hw.h"
#include "iommu/iommu.h"

#define VTD_MAX_DIDS 1024               /* domain IDs tracked per unit (CAP.ND may allow more) */
#define VTD_DID_NONE 0                  /* reserved: caching mode tags non-present entries with 0 */
#define VTD_WAIT_TIMEOUT_NS (1000ULL * 1000 * 1000)
#define VTD_MAX_PASID_DEVS 64           /* functions with a PASID table (scalable mode) */
#define VTD_IQ_BYTES 4096
#define VTD_MAX_ATS 16                  /* functions with ATS enabled, per unit */

/* A function whose Address Translation Service is on: its device-TLB must be invalidated
 * with the IOTLB for its domain. */
struct vtd_ats_dev {
    uint16_t rid;
    uint16_t did;
    uint16_t pfsid;                     /* a VF's PF; 0 otherwise (QEMU rejects it non-zero) */
};

struct vtd_pasid_dev {
    uint16_t rid;
    struct vtd_pasid_dir *dir;
    struct vtd_pasid_table *table;      /* PASIDs 0-63: RID_PASID is 0 */
};

struct vtd_unit {
    struct iommu_unit iu;
    char name[8];
    unsigned index;
    const struct vtd_drhd *drhd;
    volatile uint8_t *regs;
    uint64_t cap, ecap;
    uint32_t gcmd;                      /* persistent GCMD bits (TE, QIE, IRE, CFI) */
    bool scalable;                      /* root table in scalable mode */
    bool coherent;                      /* walker snoops: no cache-line cleaning */
    bool caching_mode;                  /* CAP.CM */
    bool qi;                            /* queued invalidation in use */
    bool first_stage_ok;                /* scalable + ECAP.FLTS */
    unsigned levels;                    /* second-stage levels (3/4/5) */
    unsigned ias;
    unsigned nr_dids;
    uint8_t did_used[VTD_MAX_DIDS / 8];
    /* tables */
    struct vtd_root_table *root;
    uint64_t root_pa;
    void *ctx[512];                     /* legacy: [bus]; scalable: [bus * 2 + (devfn >> 7)] */
    struct vtd_pasid_dev pasid_dev[VTD_MAX_PASID_DEVS];
    unsigned nr_pasid_devs;
    /* queued invalidation */
    void *iq;
    uint64_t iq_pa;
    unsigned iq_shift;                  /* log2 descriptor size: 4 (128-bit) or 5 (256-bit) */
    unsigned iq_tail, iq_slots;
    volatile uint32_t *wait_word;
    uint64_t wait_pa;
    uint32_t wait_seq;
    /* faults */
    int fault_vector;
    unsigned nr_frcd;
    unsigned frcd_off;
    unsigned iotlb_off;
    /* interrupt remapping */
    struct vtd_irte *irt;
    uint64_t irt_pa;
    unsigned irt_entries;
    unsigned irt_used;                  /* entries in use, entry 0 (never handed out) included */
    uint64_t irt_map[256 / 64];         /* which entries are in use */
    bool ir;
    struct vtd_ats_dev ats[VTD_MAX_ATS];
    unsigned nr_ats;
    /* statistics for tests and the bench */
    uint64_t nr_waits;                  /* completed invalidation waits */
    uint64_t nr_desc;                   /* descriptors queued */
    uint64_t nr_devtlb;                 /* device-TLB invalidation descriptors */
    uint64_t nr_qi_errors;              /* IQE/ITE/ICE recovered */
    uint64_t nr_faults;                 /* fault records read */
    struct iommu_fault last_fault;      /* the latest record, decoded (for tests) */
    uint64_t nr_overflows;              /* PFO seen */
};

struct vtd_domain {
    struct iommu_domain d;
    struct vtd_unit *vu;
    uint16_t did;
    bool first_stage;                   /* x86-64 format through a PASID entry (scalable) */
};

static inline struct vtd_domain *to_vtd_domain(struct iommu_domain *d)
{
    return container_of(d, struct vtd_domain, d);
}

static inline struct vtd_unit *to_vtd_unit(struct iommu_unit *u)
{
    return container_of(u, struct vtd_unit, iu);
}

/* Error-path sweeps: when non-zero, the vtd_fail_nth-th allocation from now fails (tests). */
extern unsigned vtd_fail_nth;
static inline bool vtd_alloc_should_fail(void)
{
    return vtd_fail_nth && --vtd_fail_nth == 0;
}

/* ---- registers (unit.c) ---- */
static inline uint32_t vtd_read32(struct vtd_unit *vu, unsigned off)
{
    return *(volatile uint32_t *)(vu->regs + off);
}
static inline uint64_t vtd_read64(struct vtd_unit *vu, unsigned off)
{
    return *(volatile uint64_t *)(vu->regs + off);
}
static inline void vtd_write32(struct vtd_unit *vu, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(vu->regs + off) = v;
}
static inline void vtd_write64(struct vtd_unit *vu, unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(vu->regs + off) = v;
}
/* Sets or clears a GCMD bit and waits (bounded) for GSTS to follow. */
int vtd_gcmd(struct vtd_unit *vu, uint32_t bit, bool set);
/* Makes CPU writes to tables visible to a non-coherent walker. */
void vtd_clean(struct vtd_unit *vu, const void *p, size_t len);
/* Flushes the write buffer when CAP.RWBF asks for it. */
int vtd_flush_write_buffer(struct vtd_unit *vu);
struct vtd_unit *vtd_unit_get(unsigned index);
/* A word in the vtd= command-line option (vtd=legacy,noqi,noir,off). */
bool vtd_opt(const char *word);
unsigned vtd_nr_units(void);

/* ---- tables.c: entry builders (portable) ---- */
uint64_t vtd_aw_of_levels(unsigned levels);
void vtd_mk_context(struct vtd_context_entry *ce, unsigned tt, uint64_t slptptr,
                    unsigned levels, uint16_t did, bool fpd);
void vtd_mk_sm_context(struct vtd_sm_context_entry *ce, uint64_t pasid_dir_pa, uint32_t rid_pasid);
void vtd_mk_pasid_ss(struct vtd_pasid_entry *pe, uint64_t ssptptr, unsigned levels, uint16_t did);
void vtd_mk_pasid_fs(struct vtd_pasid_entry *pe, uint64_t flptptr, unsigned levels, uint16_t did);
void vtd_mk_pasid_pt(struct vtd_pasid_entry *pe, uint16_t did);
void vtd_mk_pasid_nested(struct vtd_pasid_entry *pe, uint64_t flptptr, unsigned fl_levels,
                         uint64_t ssptptr, unsigned ss_levels, uint16_t did);
void vtd_desc_cc(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint16_t sid);
void vtd_desc_iotlb(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint64_t addr,
                    unsigned am, bool ih);
void vtd_desc_piotlb(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint32_t pasid,
                     uint64_t addr, unsigned am, bool ih);
void vtd_desc_pc(struct vtd_inv_desc *d, unsigned gran, uint16_t did, uint32_t pasid);
void vtd_desc_devtlb(struct vtd_inv_desc *d, uint16_t sid, uint16_t pfsid, uint64_t addr,
                     unsigned am);
void vtd_desc_iec(struct vtd_inv_desc *d, bool global, uint16_t index, unsigned im);
void vtd_desc_wait(struct vtd_inv_desc *d, uint32_t data, uint64_t status_pa);
void vtd_mk_irte(struct vtd_irte *e, uint8_t vector, uint32_t dest, bool x2apic, uint16_t sid);
uint32_t vtd_msi_addr_remappable(uint16_t handle);
/* Covers [start, last] with aligned power-of-two page blocks of at most 2^max_am pages;
 * fills addr[]/am[] up to max entries; returns the number needed (may exceed max). */
unsigned vtd_psi_split(uint64_t start, uint64_t last, unsigned max_am, uint64_t *addr,
                       unsigned *am, unsigned max);
/* Decodes a fault recording register's two halves. */
void vtd_fault_decode(uint16_t seg, uint64_t lo, uint64_t hi, struct iommu_fault *f);
/* The specification's name of a fault reason. */
const char *vtd_fault_reason_name(unsigned reason);

/* ---- ctx.c ---- */
int vtd_tables_init(struct vtd_unit *vu);
/* New, empty tables (every function blocked); the old ones stay allocated until
 * vtd_tables_free_old(), called once the switch has been invalidated. */
int vtd_tables_replace(struct vtd_unit *vu);
void vtd_tables_free_old(void);
/* Takes a unit over while it translates: new empty tables, RTADDR switched with TE left on,
 * global invalidation, then the old tables are freed. Every function ends up blocked; the
 * core's attachments must be redone by the caller. Used at boot when firmware left TE set. */
int vtd_takeover(struct vtd_unit *vu);
/* Programs every function's current domain again (after vtd_takeover on a live system). */
int vtd_reattach_all(struct vtd_unit *vu);
/* Points (bus, devfn) at d (NULL: blocked) with the invalidations the change needs. */
int vtd_ctx_attach(struct vtd_unit *vu, uint8_t bus, uint8_t devfn, struct vtd_domain *old,
                   struct vtd_domain *d, bool ats);

/* ---- vtd_pgtable.c ---- */
int vtd_domain_pgtable_init(struct vtd_domain *vd);
extern const struct pgtable_mem_ops vtd_pt_mem_ops;

/* ---- qi.c: every function waits for completion (bounded) ---- */
int vtd_qi_init(struct vtd_unit *vu);
int vtd_inv_context(struct vtd_unit *vu, unsigned gran, uint16_t did, uint16_t sid);
int vtd_inv_iotlb_domain(struct vtd_unit *vu, uint16_t did);
int vtd_inv_iotlb_global(struct vtd_unit *vu);
/* Page-selective for every range (falls back to domain-selective), one wait in all. */
int vtd_inv_iotlb_ranges(struct vtd_unit *vu, struct vtd_domain *vd,
                         const struct pgtable_range *r, unsigned n, bool leaf_only);
int vtd_inv_pasid_cache(struct vtd_unit *vu, uint16_t did, uint32_t pasid);
int vtd_inv_iec(struct vtd_unit *vu, bool global, uint16_t index);
/* Test hook: queues a descriptor of an invalid type and waits (expects IQE, recovery). */
int vtd_qi_inject_bad(struct vtd_unit *vu);

/* ---- fault.c ---- */
int vtd_fault_init(struct vtd_unit *vu);
/* Reads and reports every pending fault record; returns how many. Safe from IRQ and polls. */
unsigned vtd_fault_poll(struct vtd_unit *vu);

/* ---- intremap.c ---- */
int vtd_ir_init(struct vtd_unit *vu);
/* Allocates an IRTE for (sid → vector on this CPU); returns its index or -errno. */
int vtd_ir_alloc(struct vtd_unit *vu, uint16_t sid, uint8_t vector);
/* Clears IRTE idx, invalidates the interrupt entry cache for it and frees it. */
int vtd_ir_free(struct vtd_unit *vu, unsigned idx);
/* The unit translating interrupts, or NULL when remapping is off. */
struct vtd_unit *vtd_ir_unit(void);
/* iommu_unit_ops.msi_compose */
int vtd_ir_msi_compose(struct iommu_unit *u, struct pci_dev *dev, unsigned vector, uint32_t dest,
                       uint64_t *addr, uint32_t *data);
void vtd_ir_msi_free(struct iommu_unit *u, struct pci_dev *dev, uint64_t addr, uint32_t data);
int vtd_ir_ioapic_compose(struct iommu_unit *u, unsigned ioapic_id, unsigned vector,
                          uint32_t dest, bool level, uint64_t *addr, uint32_t *data);

#endif
