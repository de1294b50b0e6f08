/* The IOMMU driver contract: what every hardware driver (iommu/intel, iommu/amd,
 * iommu/arm-smmu-v3) implements, and the small vendor-neutral core that keeps track of units,
 * domains, device attachments and faults. The object layer (IOAS/HWPT/device, VFIO) is built
 * on this and never sees a vendor.
 *
 * Layering: hardware drivers never see a caller's untrusted input — the object layer
 * validates everything before calling down. Drivers do validate what hardware and firmware hand
 * them (tables, fault records).
 */
#ifndef MOAT_IOMMU_IOMMU_H
#define MOAT_IOMMU_IOMMU_H

#include "iommu/pgtable/pgtable.h"
#include "lib/compiler.h"

struct pci_dev;
struct iommu_unit;
struct iommu_domain;
struct iommu_resv_region;

enum iommu_domain_type {
    IOMMU_DOMAIN_BLOCKED,   /* every DMA faults: the default for every function */
    IOMMU_DOMAIN_IDENTITY,  /* DMA address = physical address; only on explicit request */
    IOMMU_DOMAIN_PAGING,    /* translated through an I/O page table (iommu/pgtable) */
    IOMMU_DOMAIN_NESTED,    /* a stage-1 table owned by the caller over a PAGING parent */
};

/* Map permissions: the pgtable bits. */
#define IOMMU_READ PGTABLE_PROT_READ
#define IOMMU_WRITE PGTABLE_PROT_WRITE
/* With READ/WRITE: map with leaves of the granule only (IOMMUFD's huge pages off), in one call. */
#define IOMMU_SMALL PGTABLE_PROT_SMALL

/* iommu_domain_cfg.flags */
#define IOMMU_DOMAIN_NEST_PARENT BIT(0)     /* may be the parent (stage 2) of nested domains */
#define IOMMU_DOMAIN_DIRTY_TRACKING BIT(1)  /* hardware dirty bits must be available */
#define IOMMU_DOMAIN_FIRST_STAGE BIT(2)     /* prefer the first-stage (x86-64) format */

/* A nested domain's stage-1 configuration in the driver's own form, made by its nested_parse
 * op from the caller's data; the core only carries it from the parse to domain_alloc. */
#define IOMMU_NESTED_CFG_MAX 64
struct iommu_nested_cfg {
    uint64_t words[IOMMU_NESTED_CFG_MAX / 8];
};

struct iommu_viommu;

struct iommu_domain_cfg {
    uint32_t flags;
    struct iommu_domain *parent;            /* NESTED: the stage-2 domain */
    const struct iommu_nested_cfg *nested;  /* NESTED: what the unit's nested_parse made */
    struct iommu_viommu *viommu;            /* NESTED made on a vIOMMU (parent is its stage 2) */
};

/* Caller data for a driver-defined format (Linux's struct iommu_user_data): len bytes, already
 * copied in by the core. A driver reads it only through iommu_user_load. */
struct iommu_user_data {
    uint32_t type;                          /* IOMMU_HWPT_DATA_* */
    const void *buf;
    size_t len;
};

/* entry_num entries of entry_len bytes (Linux's struct iommu_user_data_array). On return from
 * cache_invalidate_user, entry_num is the number of entries carried out. */
struct iommu_user_array {
    uint32_t type;                          /* IOMMU_HWPT_INVALIDATE_DATA_* */
    const void *buf;
    size_t entry_len;
    uint32_t entry_num;
};

/* A decoded DMA fault record. */
struct iommu_fault {
    uint16_t seg;
    uint16_t rid;           /* requester ID: bus << 8 | devfn */
    uint64_t addr;          /* the IOVA the device used */
    bool write;
    bool has_pasid;
    uint32_t pasid;
    uint32_t reason;        /* the unit's own fault reason code */
    const char *text;       /* the specification's name for that reason */
};

typedef void (*iommu_fault_fn)(struct iommu_domain *d, const struct iommu_fault *f, void *ctx);

#define IOMMU_MAX_DIRECT 32

struct iommu_domain {
    struct iommu_unit *unit;
    enum iommu_domain_type type;
    uint32_t flags;                 /* IOMMU_DOMAIN_* from the cfg */
    struct pgtable pt;              /* PAGING (and NESTED parents) */
    uint64_t iova_last;             /* highest usable IOVA */
    unsigned nr_devs;               /* devices attached */
    iommu_fault_fn fault_fn;        /* set by the owner (fault queue); NULL: log only */
    void *fault_ctx;
    uint64_t nr_faults;
    bool user;                      /* owned by the object layer (IOMMUFD/VFIO, Linux's
                                     * UNMANAGED): gets no direct mappings */
    /* The 1:1 ranges the core mapped for firmware (iommu_attach); they stay until the domain
     * is freed, whichever devices leave it. */
    unsigned nr_direct;
    struct { uint64_t start, last; } direct[IOMMU_MAX_DIRECT];
};

/* What a hardware driver implements. Every function is called with validated arguments.
 * Map and unmap include their invalidation: when they return, the device sees the new state
 * (for unmap: no DMA through the removed range can happen any more). */
struct iommu_unit_ops {
    const char *vendor;             /* "intel", "amd", "smmuv3" */
    int (*domain_alloc)(struct iommu_unit *u, enum iommu_domain_type type,
                        const struct iommu_domain_cfg *cfg, struct iommu_domain **out);
    /* The domain has no device attached and no mapping left. */
    void (*domain_free)(struct iommu_domain *d);
    /* Moves dev from whatever it is attached to onto d, with no window in which its DMA is
     * unchecked (a replace, not detach + attach). */
    int (*attach_dev)(struct iommu_domain *d, struct pci_dev *dev);
    int (*map)(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot);
    int (*unmap)(struct iommu_domain *d, uint64_t iova, uint64_t size);
    /* Optional, both or neither: unmap_gather is unmap without its invalidation, which is
     * added to g; gather_sync invalidates everything g holds and waits once. Between the two
     * the device may still reach what was unmapped. */
    int (*unmap_gather)(struct iommu_domain *d, uint64_t iova, uint64_t size,
                        struct pgtable_gather *g);
    void (*gather_sync)(struct iommu_domain *d, struct pgtable_gather *g);
    /* Raw capability registers for GET_HW_INFO; returns bytes written or -errno. */
    int (*hw_info)(struct iommu_unit *u, void *buf, size_t len, uint32_t *type);
    /* Optional. */
    int (*set_dirty_tracking)(struct iommu_domain *d, bool enable);
    /* Optional: an MSI address/data pair for dev that reaches vector on the CPU with APIC ID
     * dest through the unit's interrupt remapping. -EOPNOTSUPP when remapping is off (the
     * caller then composes a plain message). */
    int (*msi_compose)(struct iommu_unit *u, struct pci_dev *dev, unsigned vector, uint32_t dest,
                       uint64_t *addr, uint32_t *data);
    /* Optional, with msi_compose: gives back what composing (addr, data) for dev took (its
     * remapping entry), invalidating the unit's cache of it before the entry can be reused.
     * The caller has stopped dev from sending that message first (MSI disabled, the MSI-X
     * entry masked). A message the unit did not compose (remapping off) is ignored. */
    void (*msi_free)(struct iommu_unit *u, struct pci_dev *dev, uint64_t addr, uint32_t data);
    /* Optional: where dev must write its MSIs for them to reach the interrupt controller's
     * doorbell at physical address pa, when the unit translates MSI writes like any DMA (the
     * doorbell mapped at an IOVA in each translated domain, Linux's software MSI window).
     * NULL, or pa itself: the doorbell's own address. */
    uint64_t (*msi_address)(struct iommu_unit *u, struct pci_dev *dev, uint64_t pa);
    /* Optional: the same for an I/O APIC (by its APIC ID, as the MADT and the DMAR/IVRS name
     * it): the message its redirection entry must make it send, level- or edge-triggered.
     * -ENODEV the unit does not serve that IOAPIC, -EOPNOTSUPP remapping is off. NULL: the
     * unit lets that IOAPIC's interrupts through unremapped. */
    int (*ioapic_compose)(struct iommu_unit *u, unsigned ioapic_id, unsigned vector, uint32_t dest,
                          bool level, uint64_t *addr, uint32_t *data);
    /* Optional, for nested domains: reads the caller's stage-1 data into the unit's own
     * config, which domain_alloc(NESTED) then receives in cfg->nested. Called at the boundary,
     * before anything is allocated; touches no hardware. Errors as Linux's drivers give them:
     * -EOPNOTSUPP for a data type the unit does not take, unknown flags or non-zero reserved
     * fields; iommu_user_load's -EINVAL/-E2BIG; -EINVAL for values out of range. */
    int (*nested_parse)(struct iommu_unit *u, const struct iommu_user_data *data,
                        struct iommu_nested_cfg *out);
    /* Optional, for nested domains: the caller's stage-1 cache invalidation. -EINVAL for an
     * entry type the unit does not take. Entries are checked in order up to the first bad one;
     * the good ones before it are carried out, a->entry_num is set to how many were, and the
     * first error is returned (Linux's protocol). */
    int (*cache_invalidate_user)(struct iommu_domain *d, struct iommu_user_array *a);
    /* Optional, for nesting through a vIOMMU: a vIOMMU of Linux's type (IOMMU_VIOMMU_TYPE_*) over
     * parent, a NEST_PARENT paging domain of this unit. -EOPNOTSUPP for a type the unit does not
     * virtualise. The core fills in unit, parent and type. */
    int (*viommu_alloc)(struct iommu_unit *u, struct iommu_domain *parent, uint32_t type,
                        struct iommu_viommu **out);
    /* The reserved regions of dev (which the unit serves), at most max of them into out:
     * the count, or -ENOSPC when there are more. Reads firmware tables only. */
    int (*resv_regions)(struct iommu_unit *u, struct pci_dev *dev,
                        struct iommu_resv_region *out, unsigned max);
};

/* Reserved IOVA ranges of one device (Linux's iommu_get_resv_regions), as its unit's
 * resv_regions op reports them: the interrupt window for every device, firmware memory
 * (RMRRs, IVMDs) only for the devices the firmware names. */
enum iommu_resv_type {
    /* Never mappable (e.g. a HyperTransport range). Zero: a region that names no type is
     * the harmless kind. */
    IOMMU_RESV_RESERVED,
    /* Must stay mapped 1:1 (prot) in every domain of the device: the core maps it into each
     * kernel paging domain before the device is attached there, refuses the blocked domain for
     * it, and the object layer refuses to bind the device (Linux's require_direct). */
    IOMMU_RESV_DIRECT,
    /* Mapped 1:1 in kernel domains, but may be left out of user domains (RMRRs of USB and
     * graphics functions, Linux's device_rmrr_is_relaxable). */
    IOMMU_RESV_DIRECT_RELAXABLE,
    IOMMU_RESV_MSI,                 /* the interrupt window: DMA there is an interrupt */
};

struct iommu_resv_region {
    uint64_t start, last;
    uint32_t prot;                  /* DIRECT*: IOMMU_READ | IOMMU_WRITE of the 1:1 mapping */
    enum iommu_resv_type type;
};

#define IOMMU_MAX_RESV 24

/* A virtual IOMMU (Linux's iommufd_viommu): the unit's view of one user of nesting, with its own
 * cache tag (SMMUv3: the VMID of the stage 2) and its own device IDs (SMMUv3: virtual
 * StreamIDs). The owner (the object layer) keeps the vdevs list and receives the events. */
struct iommu_vdev {
    uint64_t virt_id;
    struct pci_dev *dev;
    struct iommu_vdev *next;
};

struct iommu_viommu_ops {
    /* Nested domains, vdevs and the owner's event sink are gone. */
    void (*free)(struct iommu_viommu *v);
    /* The caller's stage-1 data for a nested domain on v, read into the unit's own config for
     * domain_alloc(NESTED) (cfg->viommu = v); errors as nested_parse's, and as Linux's driver
     * for that type gives them. */
    int (*nested_parse)(struct iommu_viommu *v, const struct iommu_user_data *data,
                        struct iommu_nested_cfg *out);
    /* The caller's invalidation commands for v: Linux's protocol of cache_invalidate_user
     * (entries in order, a->entry_num set to how many were carried out, the first error). */
    int (*cache_invalidate)(struct iommu_viommu *v, struct iommu_user_array *a);
};

/* An event for the owner of v (type: Linux's IOMMU_VEVENTQ_TYPE_*; len bytes of data with the
 * device named by its virtual ID). -EOPNOTSUPP when the owner takes no events of that type. */
typedef int (*iommu_viommu_event_fn)(struct iommu_viommu *v, uint32_t type, const void *data,
                                     size_t len, void *ctx);

struct iommu_viommu {
    const struct iommu_viommu_ops *ops;
    struct iommu_unit *unit;
    struct iommu_domain *parent;    /* the stage 2 every nested domain on it sits on */
    uint32_t type;                  /* IOMMU_VIOMMU_TYPE_* */
    struct iommu_vdev *vdevs;       /* kept by the owner */
    iommu_viommu_event_fn event_fn; /* set by the owner; NULL: events are logged only */
    void *event_ctx;
};

struct iommu_unit {
    const struct iommu_unit_ops *ops;
    const char *name;               /* "dmar0" */
    uint16_t seg;
    uint64_t pgsize_bitmap;         /* leaf sizes the unit supports */
    unsigned ias;                   /* input address width of its paging domains */
    bool silent_aborts;             /* may abort a translation without a fault record (an
                                     * emulation's gap): callers judge blocked DMA by its
                                     * effect, not by a record */
    struct iommu_domain *blocked;   /* the default domain of every function it serves */
    uint64_t root_pa;               /* the top table the hardware walks (VT-d root table, AMD-Vi
                                     * device table), or 0: the face's attack tests aim at it */
    bool (*serves)(struct iommu_unit *u, const struct pci_dev *dev);
    struct iommu_unit *next;
};

/* ---- the core (iommu/core) ---- */

/* Drivers call this once a unit is up with every function on its blocked domain. */
void iommu_register_unit(struct iommu_unit *u);
/* The unit translating dev's DMA, or NULL when no IOMMU covers it. */
struct iommu_unit *iommu_unit_for(const struct pci_dev *dev);
struct iommu_unit *iommu_first_unit(void);
/* An I/O APIC's message through the first unit that serves it and remaps its interrupts
 * (ops->ioapic_compose); -EOPNOTSUPP when none does. */
int iommu_ioapic_compose(unsigned ioapic_id, unsigned vector, uint32_t dest, bool level,
                         uint64_t *addr, uint32_t *data);
/* dev's MSI through its unit's interrupt remapping (ops->msi_compose); -EOPNOTSUPP when the
 * unit has none or does not remap. iommu_msi_free gives back what it took. */
int iommu_msi_compose(struct pci_dev *dev, unsigned vector, uint32_t dest, uint64_t *addr,
                      uint32_t *data);
void iommu_msi_free(struct pci_dev *dev, uint64_t addr, uint32_t data);

int iommu_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                       const struct iommu_domain_cfg *cfg, struct iommu_domain **out);
/* Unmaps the direct ranges the core put in d, then frees it (no device may be attached). */
void iommu_domain_free(struct iommu_domain *d);
/* Attaches dev to d (replacing its current domain); d == NULL returns it to blocking.
 * For a kernel paging domain (not d->user), dev's DIRECT and DIRECT_RELAXABLE regions are
 * mapped 1:1 first (those already there with the same permissions are kept), all or nothing;
 * they stay with the domain when the device leaves (Linux's iommu_create_device_direct_mappings).
 * -EINVAL for the blocked domain when dev requires direct mappings (Linux refuses it). */
int iommu_attach(struct iommu_domain *d, struct pci_dev *dev);
/* The address dev's MSIs to the doorbell at pa must carry (iommu_unit_ops.msi_address); pa
 * when no unit translates them. The architecture's MSI composer calls it. */
uint64_t iommu_msi_address(struct pci_dev *dev, uint64_t pa);
/* dev's reserved regions (iommu_unit_ops.resv_regions): count or -errno; 0 without a unit. */
int iommu_resv_regions(struct pci_dev *dev, struct iommu_resv_region *out, unsigned max);
/* Whether dev has an IOMMU_RESV_DIRECT region (Linux's dev->iommu->require_direct). */
bool iommu_dev_require_direct(struct pci_dev *dev);
struct iommu_domain *iommu_dev_domain(const struct pci_dev *dev);
int iommu_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, uint32_t prot);
int iommu_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size);
/* Several unmaps of one domain, one invalidation wait: iommu_gather_init, any number of
 * iommu_unmap_gather, then iommu_gather_sync, after which (as after iommu_unmap) no DMA
 * reaches any of the ranges. Until the sync the caller must neither map the ranges again nor
 * free what they reached. Units without batching unmap (and invalidate) at once. */
void iommu_gather_init(struct pgtable_gather *g);
int iommu_unmap_gather(struct iommu_domain *d, uint64_t iova, uint64_t size,
                       struct pgtable_gather *g);
void iommu_gather_sync(struct iommu_domain *d, struct pgtable_gather *g);
int iommu_iova_to_phys(struct iommu_domain *d, uint64_t iova, uint64_t *pa);
/* Allocates the table pages [iova, iova + size) needs for 4 KiB leaves, mapping nothing
 * (pgtable_populate): maps of single pages there then only store leaves. Unmaps through a
 * keep_tables gather leave the tables for the next map; they go with the domain. */
int iommu_populate(struct iommu_domain *d, uint64_t iova, uint64_t size);

/* Drivers report every fault record here: the core prints the boot log's line
 *   dma fault: dev 0000:00:03.0 iova 0x... write reason 5 (...)
 * (rate-limited per device) and hands the record to the owner of the device's domain. */
void iommu_report_fault(struct iommu_unit *u, const struct iommu_fault *f);
uint64_t iommu_fault_count(void);

/* vIOMMUs (iommu/core/viommu.c). */
int iommu_viommu_alloc(struct iommu_unit *u, struct iommu_domain *parent, uint32_t type,
                       struct iommu_viommu **out);
void iommu_viommu_free(struct iommu_viommu *v);
/* The device behind virtual ID virt_id of v, or NULL. */
struct pci_dev *iommu_viommu_dev(const struct iommu_viommu *v, uint64_t virt_id);
/* dev's virtual ID on v: 0, or -ENOENT when dev has none there. */
int iommu_viommu_virt_id(const struct iommu_viommu *v, const struct pci_dev *dev,
                         uint64_t *virt_id);
/* Drivers hand a vIOMMU's events (already in the user's form) to its owner here. */
int iommu_viommu_report(struct iommu_viommu *v, uint32_t type, const void *data, size_t len);

/* Loads a caller's struct of which the driver knows size bytes and needs at least min, from
 * len bytes at src (copy_struct_from_user's rules): shorter than min -EINVAL, longer than size
 * with a non-zero byte past size -E2BIG; a shorter one is zero-extended. */
int iommu_user_load(void *dst, size_t size, size_t min, const void *src, size_t len);
/* Entry i of a (i < a->entry_num), loaded by the same rules. */
int iommu_user_array_load(void *dst, size_t size, size_t min, const struct iommu_user_array *a,
                          uint32_t i);

#endif
