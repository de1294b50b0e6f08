/* The Arm SMMUv3 driver's internal interfaces: one struct smmu_unit per SMMU, one smmu_domain per
 * iommu_domain. Files, one per hardware function:
 *   probe.c   ID registers -> what the unit can do (hostile values refused by name)
 *   entry.c   STE and CD builders, the bits the SMMU reads of each, and the one writer that moves
 *             an entry between configurations without a window
 *   strtab.c  the stream table, linear or 2-level; every stream starts on ABORT
 *   cmdq.c    the command queue: commands, CMD_SYNC, bounded waits, error recovery, TLBI ranges
 *   event.c   the event queue and GERROR: records decoded into iommu_report_fault
 *   domain.c  blocked, identity, stage-1 and stage-2 domains; attach; map/unmap; the MSI window
 *   unit.c    bring-up order and the iommu_unit_ops
 *   iort.c    ACPI IORT: units and root-complex StreamID mappings (UEFI boots)
 *   platform.c  (image, AArch64) the device tree's unit, its interrupts, the ITS doorbell
 * All of it but platform.c is portable: registers are reached through struct smmu_io (MMIO in the image, a model
 * of the unit in the host tests), memory the SMMU reads comes from the page allocator. */
#ifndef MOAT_IOMMU_ARM_SMMU_V3_SMMU_H
#define MOAT_IOMMU_ARM_SMMU_V3_SMMU_H

#include "iommu/arm-smmu-v3/smmu_hw.h"
#include "iommu/iommu.h"
#include "pci/pci.h"

#define SMMU_WAIT_TIMEOUT_NS (1000ULL * 1000 * 1000)
#define SMMU_CMDQ_LOG2_MAX 8                /* 256 commands: one 4 KiB page */
#define SMMU_EVTQ_LOG2_MAX 10               /* 1024 records: 32 KiB */
#define SMMU_LINEAR_SID_BITS_MAX 12         /* a linear table of at most 256 KiB */
#define SMMU_L2_SPLIT 8                     /* 256 STEs (16 KiB) per level-2 table */
#define SMMU_MAX_IDS 4096                   /* ASIDs and VMIDs tracked per unit */
#define SMMU_IAS 48                         /* stage-1 input width without VAX */

/* Linux's software MSI window on arm64 (the IOVA where the ITS doorbell is mapped). */
#define SMMU_MSI_IOVA 0x8000000ULL
#define SMMU_MSI_LAST 0x80fffffULL

/* Register access: the image reads and writes MMIO, the host tests a model of the unit. */
struct smmu_io {
    uint32_t (*read32)(void *ctx, uint32_t off);
    void (*write32)(void *ctx, uint32_t off, uint32_t v);
    uint64_t (*read64)(void *ctx, uint32_t off);
    void (*write64)(void *ctx, uint32_t off, uint64_t v);
};

/* A queue in memory: prod and cons as the registers hold them (index and wrap bit). */
struct smmu_queue {
    void *base;
    uint64_t pa;
    unsigned log2;                          /* 2^log2 entries */
    unsigned entry_bytes;
    unsigned order;                         /* pmm order of the allocation */
    uint32_t prod, cons;
    uint32_t base_reg, prod_reg, cons_reg;
};

static inline uint32_t smmu_q_idx(const struct smmu_queue *q, uint32_t p)
{
    return p & ((1u << q->log2) - 1);
}
static inline uint32_t smmu_q_wrap(const struct smmu_queue *q, uint32_t p)
{
    return p & (1u << q->log2);
}
static inline uint32_t smmu_q_inc(const struct smmu_queue *q, uint32_t p)
{
    return (p + 1) & ((2u << q->log2) - 1);
}
static inline bool smmu_q_empty(const struct smmu_queue *q, uint32_t prod, uint32_t cons)
{
    return smmu_q_idx(q, prod) == smmu_q_idx(q, cons) &&
           smmu_q_wrap(q, prod) == smmu_q_wrap(q, cons);
}

/* What the ID registers say (probe.c). */
struct smmu_features {
    bool s1, s2;                            /* stages */
    bool two_level;                         /* 2-level stream tables */
    bool ril;                               /* range invalidation */
    bool coherent;                          /* table walks snoop the CPU caches */
    bool asid16, vmid16;
    unsigned sid_bits;
    unsigned cmdq_log2, evtq_log2;
    unsigned oas;                           /* output address bits */
    unsigned granule_shift;                 /* 12, 14 or 16: the granule domains use */
    uint64_t pgsize_bitmap;
};

/* One stream a device uses, and what it is attached to. */
struct smmu_stream {
    uint32_t sid;
    uint16_t rid;                           /* the requester ID it carries (fault records) */
    struct smmu_domain *d;                  /* NULL: the blocked domain */
};

#define SMMU_MAX_STREAMS 256

/* The last fault record reported (event.c: one record per blocked transfer and page). */
struct smmu_last_record {
    bool valid;
    uint32_t sid;
    uint32_t reason;
    bool write;
    uint64_t addr;
};

struct smmu_unit {
    struct iommu_unit iu;
    char name[16];
    const struct smmu_io *io;
    void *io_ctx;
    uint32_t idr[6], iidr, aidr;
    struct smmu_features f;
    uint64_t wait_ns;                       /* bound of every hardware wait */
    uint64_t msi_doorbell;                  /* the page MSIs are written to (0: none known) */
    unsigned nr_irqs;                       /* wired interrupts running smmu_poll (0: polled) */
    /* The requester IDs dev's DMA uses (its aliases); NULL: its own only. */
    int (*for_each_rid)(struct smmu_unit *su, struct pci_dev *dev, pci_alias_fn fn, void *arg);
    /* The StreamID of a requester ID (the firmware's iommu-map); false: the unit does not see
     * it. NULL: StreamID = requester ID. */
    bool (*sid_of)(struct smmu_unit *su, uint16_t rid, uint32_t *sid);
    /* stream table */
    bool two_level;
    unsigned strtab_sid_bits;               /* StreamIDs the table covers */
    void *strtab;                           /* linear STEs, or level-1 descriptors */
    uint64_t strtab_pa;
    unsigned strtab_order;
    struct smmu_ste **l2;                   /* 2-level: the CPU pointer of each level-2 table */
    unsigned nr_l1;
    /* queues */
    struct smmu_queue cmdq, evtq;
    volatile bool evtq_busy;                /* a poll of the event queue is running */
    struct smmu_last_record last_rec;
    bool enabled;                           /* CMDQEN acknowledged: commands are consumed */
    /* identifiers */
    uint8_t asid_used[SMMU_MAX_IDS / 8];
    uint8_t vmid_used[SMMU_MAX_IDS / 8];
    /* streams seen by attach */
    unsigned nr_streams;
    struct smmu_stream streams[SMMU_MAX_STREAMS];
    /* statistics for tests and the bench */
    uint64_t nr_cmds, nr_syncs, nr_events, nr_overflows, nr_gerrors, nr_cmdq_errors;
    uint64_t nr_cmdq_resets, nr_ste_writes, nr_entry_breaks;
    uint64_t nr_coalesced;                  /* records continuing a reported transfer */
};

enum smmu_stage { SMMU_STAGE_NONE, SMMU_STAGE_1, SMMU_STAGE_2 };

struct smmu_domain {
    struct iommu_domain d;
    struct smmu_unit *su;
    enum smmu_stage stage;
    uint16_t asid;                          /* stage 1 */
    uint16_t vmid;                          /* stage 2 */
    struct smmu_cd *cd;                     /* stage 1: the one context descriptor */
    uint64_t cd_pa;
    bool msi_mapped;                        /* the doorbell page is mapped at SMMU_MSI_IOVA */
    /* NESTED (viommu.c): the program's checked STE words over its vIOMMU's stage 2 */
    struct iommu_viommu *viommu;
    struct smmu_domain *s2;
    uint64_t vste[2];
};

static inline struct smmu_domain *to_smmu_domain(struct iommu_domain *d)
{
    return container_of(d, struct smmu_domain, d);
}

static inline struct smmu_unit *to_smmu_unit(struct iommu_unit *u)
{
    return container_of(u, struct smmu_unit, iu);
}

static inline uint32_t smmu_read32(struct smmu_unit *su, uint32_t off)
{
    return su->io->read32(su->io_ctx, off);
}
static inline void smmu_write32(struct smmu_unit *su, uint32_t off, uint32_t v)
{
    su->io->write32(su->io_ctx, off, v);
}
static inline uint64_t smmu_read64(struct smmu_unit *su, uint32_t off)
{
    return su->io->read64(su->io_ctx, off);
}
static inline void smmu_write64(struct smmu_unit *su, uint32_t off, uint64_t v)
{
    su->io->write64(su->io_ctx, off, v);
}

/* Error-path sweeps: when non-zero, the smmu_fail_nth-th allocation from now fails (tests). */
extern unsigned smmu_fail_nth;
void *smmu_alloc_pages(unsigned order, uint64_t *pa);
void smmu_free_pages(void *va, uint64_t pa, unsigned order);
void *smmu_zalloc(size_t size);

/* ---- probe.c ---- */
/* Reads the ID registers into su->idr and su->f; -ENODEV naming the register and field when
 * the unit cannot be driven (no AArch64 tables, no stage, fixed tables, big-endian walks, ...). */
int smmu_probe(struct smmu_unit *su);

/* ---- entry.c ---- */
/* Builders: the whole entry for one configuration. */
void smmu_mk_ste_abort(struct smmu_ste *e);
void smmu_mk_ste_bypass(struct smmu_ste *e);
void smmu_mk_ste_s1(struct smmu_ste *e, uint64_t cd_pa);
void smmu_mk_ste_s2(struct smmu_ste *e, const struct pgtable *pt, uint16_t vmid);
void smmu_mk_ste_nested(struct smmu_ste *e, uint64_t s1ctxptr, const struct pgtable *s2,
                        uint16_t vmid);
void smmu_mk_cd(struct smmu_cd *e, const struct pgtable *pt, uint16_t asid);
/* The bits the SMMU reads of an entry in the configuration it holds (5.2, 5.4). */
void smmu_ste_used(const uint64_t *e, uint64_t *used);
void smmu_cd_used(const uint64_t *e, uint64_t *used);

/* One writer for STEs and CDs. sync makes the SMMU drop what it cached of the entry and waits
 * (CFGI_STE or CFGI_CD + CMD_SYNC). */
struct smmu_entry_writer {
    void (*used)(const uint64_t *e, uint64_t *used);
    uint64_t (*broken)(uint64_t w0);        /* word 0 of a configuration that reads nothing else
                                             * and lets no DMA through (STE abort, CD invalid) */
    unsigned nwords;
    void (*sync)(struct smmu_entry_writer *w);
    void *ctx;
    unsigned nr_syncs;                      /* counted by smmu_entry_write */
    bool broke;                             /* the last write went through the broken state */
};
/* Moves entry to target so that every state the SMMU can observe between two syncs is the old
 * configuration, the new one, or (when more than one word the new configuration reads must
 * change) the broken one. */
void smmu_entry_write(struct smmu_entry_writer *w, volatile uint64_t *entry,
                      const uint64_t *target);
uint64_t smmu_ste_broken(uint64_t w0);
uint64_t smmu_cd_broken(uint64_t w0);

/* ---- strtab.c ---- */
int smmu_strtab_init(struct smmu_unit *su);
void smmu_strtab_program(struct smmu_unit *su);
/* The STE of sid, allocating its level-2 table (all ABORT) on first use; NULL: -ENOMEM or
 * beyond the table (*err says which). */
volatile struct smmu_ste *smmu_ste_for(struct smmu_unit *su, uint32_t sid, int *err);
/* Moves sid's STE to target without a window. */
int smmu_ste_install(struct smmu_unit *su, uint32_t sid, const struct smmu_ste *target);

/* ---- cmdq.c ---- */
/* 2^log2 entries of entry_bytes (up to 32 KiB) and the queue's registers. */
int smmu_queue_init(struct smmu_queue *q, unsigned log2, unsigned entry_bytes, uint32_t base_reg,
                    uint32_t prod_reg, uint32_t cons_reg);
/* Points the unit at q, empty (the queue is off). */
void smmu_queue_program(struct smmu_unit *su, struct smmu_queue *q);
/* Queues n commands and one CMD_SYNC, and waits for the sync (bounded). A command the unit
 * refused is reported and skipped (-EIO); a unit that stops consuming is reset (-ETIMEDOUT). */
int smmu_cmdq_submit(struct smmu_unit *su, const struct smmu_cmd *c, unsigned n);
void smmu_cmd_cfgi_ste(struct smmu_cmd *c, uint32_t sid);
void smmu_cmd_cfgi_cd(struct smmu_cmd *c, uint32_t sid);
void smmu_cmd_cfgi_all(struct smmu_cmd *c);
void smmu_cmd_sync(struct smmu_cmd *c);
void smmu_cmd_tlbi_asid(struct smmu_cmd *c, uint16_t asid);
void smmu_cmd_tlbi_vmall(struct smmu_cmd *c, uint16_t vmid);
void smmu_cmd_tlbi_nsnh_all(struct smmu_cmd *c);
/* Commands invalidating [start, last] of a domain's TLB entries into c (at most max); the count,
 * or 0 when it would take more than max (then the caller invalidates the whole ASID/VMID).
 * With range invalidation one command covers (NUM + 1) << SCALE granules. */
unsigned smmu_cmd_tlbi_range(struct smmu_cmd *c, unsigned max, const struct smmu_domain *sd,
                             uint64_t start, uint64_t last, bool leaf);
/* Invalidates the domain's TLB entries for the ranges (one sync). */
int smmu_tlbi_ranges(struct smmu_domain *sd, const struct pgtable_range *r, unsigned n,
                     bool leaf);
int smmu_tlbi_domain(struct smmu_domain *sd);

/* ---- event.c ---- */
/* Decodes an event record into *f; returns the event ID. */
unsigned smmu_event_decode(const struct smmu_event *e, uint16_t seg, struct iommu_fault *f);
const char *smmu_event_name(unsigned id);
/* Reads and reports every pending record, acknowledges an overflow; returns how many. */
unsigned smmu_evtq_poll(struct smmu_unit *su);
/* Handles and acknowledges active global errors; returns the bits that were active. */
uint32_t smmu_gerror_poll(struct smmu_unit *su);
/* What the wired interrupts (eventq, gerror) and the late boot poll run: both of the above. */
unsigned smmu_poll(struct smmu_unit *su);

/* ---- domain.c ---- */
int smmu_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                      const struct iommu_domain_cfg *cfg, struct iommu_domain **out);
void smmu_domain_free(struct iommu_domain *d);
int smmu_attach_dev(struct iommu_domain *d, struct pci_dev *dev);
/* The STE a stream attached to d (NULL: blocked) gets. */
void smmu_ste_for_domain(const struct smmu_domain *sd, struct smmu_ste *e);
/* Attaches the StreamID of requester ID rid to d (NULL: blocked). */
int smmu_attach_rid(struct smmu_unit *su, uint16_t rid, struct smmu_domain *d);
/* The requester ID behind a StreamID attach has seen; false when none. */
bool smmu_rid_of(struct smmu_unit *su, uint32_t sid, uint16_t *rid);
/* iommu_unit_ops.msi_address: the window's IOVA for the doorbell on translated domains. */
uint64_t smmu_msi_address(struct iommu_unit *u, struct pci_dev *dev, uint64_t pa);
int smmu_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot);
int smmu_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size);
int smmu_unmap_gather(struct iommu_domain *d, uint64_t iova, uint64_t size,
                      struct pgtable_gather *g);
void smmu_gather_sync(struct iommu_domain *d, struct pgtable_gather *g);

/* ---- viommu.c (issue 17: nesting) ---- */
/* iommu_unit_ops.viommu_alloc: an IOMMU_VIOMMU_TYPE_ARM_SMMUV3 vIOMMU over a stage-2 parent,
 * its VMID the parent's. */
int smmu_viommu_alloc(struct iommu_unit *u, struct iommu_domain *parent, uint32_t type,
                      struct iommu_viommu **out);
/* domain_alloc(NESTED) on a vIOMMU (cfg->viommu, cfg->nested from its nested_parse). */
int smmu_nested_domain_init(struct smmu_domain *sd, const struct iommu_domain_cfg *cfg);
/* Linux's rule for attaching dev to a translating nested domain: dev needs a vDEVICE on its
 * vIOMMU (its commands and events name it by its virtual StreamID): -ENOENT. Abort and bypass
 * STEs take any device. */
int smmu_nested_attach_check(const struct smmu_domain *sd, const struct pci_dev *dev);
/* The STE of a nested domain: ABORT, stage 2 only (the program's bypass) or Config 0b111 with
 * the program's stage-1 fields over the vIOMMU's stage 2 and VMID. */
void smmu_mk_ste_vnested(struct smmu_ste *e, const struct smmu_domain *sd);
/* A stage-1 event of a stream on a nested domain goes to its vIOMMU's owner (true); everything
 * else (stage-2 faults included) takes the driver's fault path (false). */
bool smmu_event_to_viommu(struct smmu_unit *su, uint32_t sid, const struct smmu_event *e);
/* The domain sid is attached to, or NULL (blocked or never attached). */
struct smmu_domain *smmu_domain_of_sid(struct smmu_unit *su, uint32_t sid);

/* ---- platform.c (image, AArch64: the device tree's unit) ---- */
/* The unit the platform brought up (index 0 only today), or NULL. */
struct smmu_unit *smmu_unit_get(unsigned index);

/* ---- unit.c ---- */
extern const struct iommu_unit_ops smmu_ops;
/* Probes, builds the tables and queues and enables the unit at io; every stream on ABORT.
 * Does not register it with the core (the caller does, after naming its segment). */
int smmu_unit_init(struct smmu_unit *su);
/* Linux's struct iommu_hw_info_arm_smmuv3 (6.13+): flags, reserved, IDR0-5, IIDR, AIDR. */
int smmu_hw_info(struct iommu_unit *u, void *buf, size_t len, uint32_t *type);
int smmu_resv_regions(struct iommu_unit *u, struct pci_dev *dev, struct iommu_resv_region *out,
                      unsigned max);

#endif
