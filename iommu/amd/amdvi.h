/* The AMD-Vi driver's internal interfaces: one struct amdvi_unit per IVHD, one amdvi_domain per
 * iommu_domain. Files: unit.c (bring-up, the iommu_unit_ops), dte.c (device table), cmd.c
 * (command buffer, completion waits, invalidation), amdvi_pgtable.c (I/O page-table glue),
 * event.c (event log, faults), intremap.c (interrupt remapping); ivrs.c parses the ACPI table
 * and tables.c builds entries and commands and decodes events (both portable, host-tested). */
#ifndef MOAT_IOMMU_AMD_AMDVI_H
#define MOAT_IOMMU_AMD_AMDVI_H

#include "iommu/amd/amdvi_hw.h"
#include "iommu/amd/ivrs.h"
#include "iommu/iommu.h"

#define AMDVI_MAX_DOMAIN_IDS 4096       /* tracked per unit (DomainID is 16 bits) */
#define AMDVI_DOMID_NONE 0              /* the blocked domain's tag; never a paging domain's */
#define AMDVI_WAIT_TIMEOUT_NS (1000ULL * 1000 * 1000)
#define AMDVI_RING_BYTES 4096           /* command buffer and event log: 256 entries each */
#define AMDVI_RING_LEN_LOG2 8

#define AMDVI_IRT_LOG2 9                /* 512 remapped interrupts per device */
#define AMDVI_IRT_ENTRIES (1u << AMDVI_IRT_LOG2)
#define AMDVI_MAX_IRT 64                /* devices with an interrupt remapping table */

/* One device's interrupt remapping table (32-bit IRTEs, 2.2.5.1). */
struct amdvi_irt {
    uint16_t devid;
    volatile uint32_t *e;
    uint64_t pa;
    unsigned used;                      /* entries handed out */
    uint64_t map[AMDVI_IRT_ENTRIES / 64];   /* which ones */
};

struct amdvi_unit {
    struct iommu_unit iu;
    char name[12];
    unsigned index;
    const struct amdvi_ivhd *ivhd;
    volatile uint8_t *regs;
    struct pci_dev *pdev;               /* the IOMMU's own PCI function, when enumerated */
    uint64_t efr;
    uint64_t ctrl;                      /* shadow of the control register */
    bool enabled;                       /* IOMMUEn set: commands are fetched, caches fill */
    bool np_cache;                      /* capability NpCache: non-present entries cached */
    bool qemu_quirks;                   /* QEMU's amd-iommu: event flags (event.c), DomainID
                                         * bit 8 (unit.c) */
    unsigned levels;                    /* paging mode of new domains */
    unsigned ias;
    uint16_t domid_next;
    uint8_t domid_used[AMDVI_MAX_DOMAIN_IDS / 8];
    /* device table */
    struct amdvi_dte *devtab;
    uint64_t devtab_pa;
    unsigned devtab_order;              /* pmm order of the allocation */
    uint32_t nr_dtes;
    uint64_t empty_pa;                  /* a zeroed page: the blocked DTEs' table root */
    /* command buffer */
    struct amdvi_cmd *cmdbuf;
    uint64_t cmdbuf_pa;
    unsigned cmd_tail;                  /* entries */
    volatile uint64_t *wait_word;
    uint64_t wait_pa;
    uint64_t wait_seq;
    /* event log */
    struct amdvi_event *evtlog;
    uint64_t evtlog_pa;
    int event_vector;                   /* -1: polled */
    /* interrupt remapping */
    bool ir;
    uint64_t irt_blocked_pa;            /* a zeroed table: interrupts of devices without one abort */
    unsigned nr_irt;
    struct amdvi_irt irt[AMDVI_MAX_IRT];
    /* statistics for tests and the bench */
    uint64_t nr_waits;                  /* completion waits */
    uint64_t nr_cmds;                   /* commands queued */
    uint64_t nr_events;                 /* event log entries read */
    uint64_t nr_overflows;              /* event log overflows (restarts) */
    uint64_t nr_unit_errors;            /* command and table errors reported */
    uint64_t nr_cmd_resets;             /* command buffer resets after a failed wait */
    uint64_t nr_dte_writes;
};

struct amdvi_domain {
    struct iommu_domain d;
    struct amdvi_unit *au;
    uint16_t domid;
};

static inline struct amdvi_domain *to_amdvi_domain(struct iommu_domain *d)
{
    return container_of(d, struct amdvi_domain, d);
}

static inline struct amdvi_unit *to_amdvi_unit(struct iommu_unit *u)
{
    return container_of(u, struct amdvi_unit, iu);
}

/* ---- registers ---- */
static inline uint64_t amdvi_read64(struct amdvi_unit *au, unsigned off)
{
    return *(volatile uint64_t *)(au->regs + off);
}
static inline void amdvi_write64(struct amdvi_unit *au, unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(au->regs + off) = v;
}
/* Sets or clears control bits (the shadow and the register). */
void amdvi_ctrl(struct amdvi_unit *au, uint64_t bits, bool set);
struct amdvi_unit *amdvi_unit_get(unsigned index);
/* Does the unit translate device ID devid of its segment? */
bool amdvi_serves_devid(struct amdvi_unit *au, uint16_t devid);
unsigned amdvi_nr_units(void);
/* A word in the amdvi= command-line option (amdvi=off,noir,poll,dump). */
bool amdvi_opt(const char *word);

/* ---- tables.c: builders and decoders (portable) ---- */
/* Blocked: V, TV, paging mode 1 over an empty table, no permission: every access faults. */
void amdvi_mk_dte_blocked(struct amdvi_dte *e, uint64_t empty_root_pa);
void amdvi_mk_dte_paging(struct amdvi_dte *e, uint64_t root_pa, unsigned levels, uint16_t domid);
void amdvi_mk_dte_identity(struct amdvi_dte *e, uint16_t domid);
/* The interrupt word: remapped through a table of 2^len_log2 entries at irt_pa. */
uint64_t amdvi_dte_intr_remap(uint64_t irt_pa, unsigned len_log2);
void amdvi_cmd_completion_wait(struct amdvi_cmd *c, uint64_t store_pa, uint64_t data);
void amdvi_cmd_inv_devtab_entry(struct amdvi_cmd *c, uint16_t devid);
/* The smallest naturally aligned block holding [start, last]: S = 0 for one 4 KiB page, else the
 * size encoded in the address; the whole space when that block reaches 2^52. */
void amdvi_cmd_inv_pages(struct amdvi_cmd *c, uint16_t domid, uint64_t start, uint64_t last,
                         bool pde);
void amdvi_cmd_inv_pages_all(struct amdvi_cmd *c, uint16_t domid);
void amdvi_cmd_inv_intr_table(struct amdvi_cmd *c, uint16_t devid);
void amdvi_cmd_inv_all(struct amdvi_cmd *c);
/* The range an INVALIDATE_IOMMU_PAGES command covers (the decoder the tests use). */
void amdvi_inv_pages_range(const struct amdvi_cmd *c, uint64_t *start, uint64_t *last);
/* Decodes an event log entry into *f (seg from the unit). qemu: QEMU's flag encoding (its
 * IO_PAGE_FAULT carries the access as 1 read / 2 write in the low flag bits). Returns the
 * event code. */
unsigned amdvi_event_decode(const struct amdvi_event *e, uint16_t seg, bool qemu,
                            struct iommu_fault *f);
const char *amdvi_event_name(unsigned code);
uint32_t amdvi_mk_irte(uint8_t vector, uint8_t dest_apic_id);

/* ---- dte.c ---- */
int amdvi_devtab_init(struct amdvi_unit *au);
/* Points devid at d (NULL: blocked) with the invalidations the change needs, one wait. */
int amdvi_dte_attach(struct amdvi_unit *au, uint16_t devid, struct amdvi_domain *old,
                     struct amdvi_domain *d);
/* Sets the interrupt word of devid's DTE (and invalidates the DTE and the table). */
int amdvi_dte_set_intr(struct amdvi_unit *au, uint16_t devid, uint64_t w2);

/* ---- cmd.c: every call queues its commands and one completion wait ---- */
int amdvi_cmd_init(struct amdvi_unit *au);
int amdvi_submit(struct amdvi_unit *au, const struct amdvi_cmd *c, unsigned n);
int amdvi_inv_all(struct amdvi_unit *au);
int amdvi_inv_domain(struct amdvi_unit *au, uint16_t domid);
int amdvi_inv_ranges(struct amdvi_unit *au, uint16_t domid, const struct pgtable_range *r,
                     unsigned n, bool pde);

/* ---- amdvi_pgtable.c ---- */
int amdvi_domain_pgtable_init(struct amdvi_domain *ad);

/* ---- event.c ---- */
int amdvi_event_init(struct amdvi_unit *au);
/* Reads and reports every pending event (and restarts an overflowed log); returns how many.
 * Safe from the interrupt handler and from polls. */
unsigned amdvi_event_poll(struct amdvi_unit *au);

/* ---- intremap.c ---- */
int amdvi_ir_init(struct amdvi_unit *au);
/* iommu_unit_ops.msi_compose: an IRTE in dev's table; the message names its index. */
int amdvi_ir_msi_compose(struct iommu_unit *u, struct pci_dev *dev, unsigned vector,
                         uint32_t dest, uint64_t *addr, uint32_t *data);
/* Allocates an IRTE for devid (vector to dest); its index or -errno. */
int amdvi_ir_alloc(struct amdvi_unit *au, uint16_t devid, uint8_t vector, uint8_t dest);
/* Clears entry index of devid's table, invalidates the unit's copy of the table and frees it. */
int amdvi_ir_free(struct amdvi_unit *au, uint16_t devid, unsigned index);
/* iommu_unit_ops.msi_free: the entry that amdvi_ir_msi_compose gave (and its alias's). */
void amdvi_ir_msi_free(struct iommu_unit *u, struct pci_dev *dev, uint64_t addr, uint32_t data);

#endif
