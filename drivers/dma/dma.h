/* DMA for the runtime's own drivers: one address space per device, through the native IOMMUFD
 * API (<moat/iommufd.h>), as an application would use it.
 *
 * A PAGING dma_space binds its device in the runtime's IOMMUFD context (one context for all of
 * the runtime's drivers, so that members of one isolation group may be driven together),
 * allocates an IOAS of its own and attaches the device to it (an automatic paging HWPT). IOVAs
 * come from the space's own bitmap over a fixed window (4 KiB pages, freed ones reused first)
 * and every mapping is a moat_ioas_map at a FIXED_IOVA, one per physically contiguous run.
 * Four kinds of memory a device may reach:
 *   dma_alloc      zeroed pages for rings and queues, mapped for as long as the driver runs;
 *   dma_map        a caller's buffer for one I/O (strict mode): mapped before the device is
 *                  told, unmapped after it completed; the unmap includes the IOTLB
 *                  invalidation, so no DMA through it can happen once dma_unmap returns;
 *                  dma_unmap_many takes several down with one invalidation wait;
 *   dma_window     strict mode without the per-I/O map cost: a caller's buffer stored into
 *                  its request's slot of a window whose page tables stay (leaf entries only),
 *                  cleared at completion, one invalidation per batch (dma_window_sync);
 *   dma_pool       buffers mapped once at set-up, so the data path maps nothing per I/O.
 * An IOVA whose I/O never completed (a timeout) is unmapped and quarantined: never handed out
 * again while the space lives, because the device may still hold it (the bitmap keeps it).
 *
 * IDENTITY (the unprotected baseline of the block benchmark) has no IOMMUFD equivalent: it is
 * the one use of the driver contract (iommu/iommu.h) left here, an identity domain attached
 * directly. Without an IOMMU, or with IDENTITY, the IOVA is the physical address and nothing is
 * mapped: the device is then not isolated, and the space says so (dma_space_isolated()).
 *
 * Single CPU, polled drivers: no locking (the runtime runs drivers on CPU 0 only). */
#ifndef MOAT_DRIVERS_DMA_DMA_H
#define MOAT_DRIVERS_DMA_DMA_H

#include "iommu/iommu.h"
#include "lib/compiler.h"

struct pci_dev;
struct moat_iommufd;
struct moat_ioas_window;

#define DMA_PAGE 4096ULL
/* The IOVA window spaces allocate from by default: below the x86 interrupt window, above 0 so
 * that a zero IOVA is never valid. */
#define DMA_IOVA_BASE 0x40000000ULL
#define DMA_IOVA_SIZE 0x40000000ULL    /* 1 GiB: 262144 pages, a 32 KiB bitmap */
#define DMA_SUPERPAGE (2ULL << 20)     /* dma_alloc's largest block: one 2 MiB leaf */
/* Mappings dma_unmap_many takes down per invalidation wait. */
#define DMA_UNMAP_BATCH 64

struct dma_space {
    struct pci_dev *pci;
    enum iommu_domain_type type;    /* PAGING or IDENTITY (what was asked for) */
    /* PAGING: the runtime's IOMMUFD context, the device and its IOAS there */
    struct moat_iommufd *ictx;      /* NULL when not translated */
    uint32_t dev_id, ioas_id, hwpt_id;
    bool attached;                  /* false once blocked (dma_space_block) */
    bool identity_kept;             /* IDENTITY: the unit refused to block the device */
    /* The domain the device is on (the HWPT's, or the identity domain); NULL without an
     * IOMMU. Read-only, for diagnostics and tests (fault hooks, translations): map through
     * the IOAS, never through it. */
    struct iommu_domain *domain;
    uint64_t iova_base;             /* the window: [iova_base, + npages pages) */
    uint64_t *bitmap;               /* 1 = page in use (or quarantined) */
    uint64_t npages, hint;
    uint64_t used_pages, quarantined_pages;
    uint64_t nr_maps, nr_unmaps;    /* moat_ioas_map calls; unmap calls (one invalidation
                                     * wait each, however many mappings they take down) */
};

/* A device-visible allocation. */
struct dma_mem {
    void *cpu;
    uint64_t pa;
    uint64_t iova;
    uint64_t size;                  /* bytes, a multiple of 4 KiB */
    unsigned order;                 /* pmm order of the backing block */
};

/* One mapping of a caller's buffer. */
struct dma_map {
    uint64_t iova;                  /* of the buffer's first byte */
    uint64_t iova_base;             /* page-aligned start of the IOVA range */
    uint64_t size;                  /* bytes of IOVA range (whole pages) */
};

/* A pool buffer: where it is, and which slab holds it. */
struct dma_pool_buf {
    void *cpu;
    uint64_t iova;
    uint16_t slab;
    bool quarantined;
};

/* Buffers of one size, mapped once: carved from slabs of up to 2 MiB, each one dma_alloc (one
 * map call; a 2 MiB slab is one large IOMMU leaf, so the device's IOTLB holds the whole slab
 * in one entry). */
struct dma_pool {
    struct dma_space *ds;
    struct dma_mem *slabs;
    unsigned nslabs;
    struct dma_pool_buf *bufs;
    uint16_t *free;                 /* stack of free buffer indices */
    unsigned nbufs, nfree;
    uint32_t bufsize;
    unsigned nquarantined;
};

/* PAGING: binds dev in the runtime's IOMMUFD context, allocates its IOAS and attaches it
 * (-EBUSY when dev, or a member of its group, is bound to another context: an application's
 * VFIO or IOMMUFD file). IDENTITY: an identity domain from its unit (-EOPNOTSUPP when the
 * unit has none). Without an IOMMU: nothing (IOVA = physical address). Bus mastering is the
 * caller's business. */
int dma_space_init(struct dma_space *ds, struct pci_dev *dev, enum iommu_domain_type type);
/* The same with another IOVA window (base page-aligned and not 0, size a multiple of 256 KiB):
 * for devices that cannot address DMA_IOVA_BASE (edu: 28 bits). */
int dma_space_init_window(struct dma_space *ds, struct pci_dev *dev, enum iommu_domain_type type,
                          uint64_t base, uint64_t size);
/* Returns the device to blocking, unbinds it and destroys its IOAS (the runtime's context is
 * closed with its last space). Every mapping must be gone, and the driver must have reset the
 * device first: a new space reuses IOVAs, so a request the device still held would otherwise
 * land in someone else's buffer. */
void dma_space_fini(struct dma_space *ds);
/* Moves the device to blocking (moat_device_detach; idempotent): from then on none of its DMA
 * reaches memory, while this space's mappings can still be taken down. An IDENTITY space whose
 * device needs its firmware 1:1 ranges (the unit refuses to block it) says so and leaves the
 * device in its identity domain, which dma_space_fini then does not free. */
void dma_space_block(struct dma_space *ds);
bool dma_space_isolated(const struct dma_space *ds);
const char *dma_space_describe(const struct dma_space *ds);

/* IOVA ranges, in whole pages. */
int dma_iova_alloc(struct dma_space *ds, uint64_t size, uint64_t *iova);
void dma_iova_free(struct dma_space *ds, uint64_t iova, uint64_t size);

/* Zeroed, physically contiguous memory (size rounded up to a power-of-two page block, at most
 * 2 MiB) mapped with prot at a fresh IOVA; a 2 MiB block at a 2 MiB-aligned one, so that the
 * IOMMU maps it with one large leaf. */
int dma_alloc(struct dma_space *ds, uint64_t size, uint32_t prot, struct dma_mem *m);
/* Unmaps (with invalidation), then frees. */
void dma_free(struct dma_space *ds, struct dma_mem *m);

/* Maps the pages holding [buf, buf + len) with prot at one contiguous IOVA range (the
 * buffer's physical pages may be scattered). -EINVAL for a zero length, -EFAULT for memory the
 * CPU does not map. */
int dma_map(struct dma_space *ds, const void *buf, size_t len, uint32_t prot, struct dma_map *m);
/* Removes the mapping; when it returns, the device cannot reach the buffer any more. */
int dma_unmap(struct dma_space *ds, struct dma_map *m);
/* Removes n mappings with one invalidation wait (per DMA_UNMAP_BATCH): when it returns, the
 * device can reach none of the buffers. */
void dma_unmap_many(struct dma_space *ds, struct dma_map *const *maps, unsigned n);
/* For an I/O that never completed: unmaps and keeps the IOVA range out of use for good. */
void dma_unmap_quarantine(struct dma_space *ds, struct dma_map *m);

/* For each physically contiguous run of the n pages from va (page aligned): fn(arg, run's va,
 * its byte offset from va, its length), with the runtime context's virt-to-phys hook primed to
 * answer for exactly that run. Stops at the first error (-EFAULT: a page the CPU does not map);
 * *done: pages handled before it. */
typedef int (*dma_run_fn)(void *arg, uintptr_t va, uint64_t off, uint64_t len);
int dma_for_each_run(uintptr_t va, uint64_t n, dma_run_fn fn, void *arg, uint64_t *done);

/* A window of slots (strict mode without per-I/O map cost): nslots slots of slot_size bytes
 * at a fixed IOVA range of the space's IOAS (moat_ioas_window_alloc: its page-table pages
 * allocated once and kept). Mapping a request into a slot stores its leaf entries; clearing
 * it removes them; one sync invalidates everything cleared since the last one, with one wait.
 * Slots are handed out from a stack (one per request tag); a slot whose request never
 * completed is quarantined: cleared at once (with its own sync), never handed out again. */
struct dma_window {
    struct dma_space *ds;
    struct moat_ioas_window *w;     /* NULL: untranslated (no IOMMU, IDENTITY): dma_map */
    uint32_t id;
    uint64_t iova;                  /* of slot 0 */
    uint64_t size;                  /* of the IOVA range: nslots * slot_size */
    uint32_t slot_size;             /* bytes, whole pages */
    unsigned nslots, nfree, nquarantined;
    uint16_t *free;                 /* stack of free slots */
    uint64_t nr_syncs;              /* invalidation waits */
};

/* nslots slots, each taking any buffer of up to max_bytes (whatever its offset in its first
 * page). Untranslated spaces get no window (w NULL): callers map with dma_map. */
int dma_window_init(struct dma_window *win, struct dma_space *ds, unsigned nslots,
                    uint32_t max_bytes);
/* Slots still mapped are allowed only once the device is cut off from its domain
 * (dma_space_block); then, as with quarantined slots, the window's IOVA range is never reused
 * while the space lives. */
void dma_window_fini(struct dma_window *win);
/* A free slot (-EAGAIN when none), and [buf, buf + len) mapped there with prot: m describes it
 * (m->iova is the buffer's first byte). -EINVAL for a zero length or one beyond a slot,
 * -EFAULT for memory the CPU does not map. */
int dma_window_map(struct dma_window *win, const void *buf, size_t len, uint32_t prot,
                   struct dma_map *m, uint16_t *slot);
/* Clears the slot's entries; the device may still reach the buffer until dma_window_sync. */
void dma_window_clear(struct dma_window *win, const struct dma_map *m);
/* One invalidation (covering what was cleared) and one wait: no cleared buffer is reachable
 * when it returns. Then the cleared slots may be handed out again: dma_window_put. */
void dma_window_sync(struct dma_window *win);
void dma_window_put(struct dma_window *win, uint16_t slot);
/* A request that never completed: cleared and synced at once, the slot never reused. */
void dma_window_quarantine(struct dma_window *win, const struct dma_map *m);

/* Error-path tests: when non-zero, the dma_fail_nth-th dma_alloc from now fails (-ENOMEM).
 * (The IOMMUFD layer's own allocations fail with moat_iommufd_fail_nth.) */
extern unsigned dma_fail_nth;

int dma_pool_init(struct dma_pool *p, struct dma_space *ds, unsigned nbufs, uint32_t bufsize);
void dma_pool_fini(struct dma_pool *p);
/* A free buffer (NULL when none), its IOVA in *iova. */
void *dma_pool_get(struct dma_pool *p, uint64_t *iova);
void dma_pool_put(struct dma_pool *p, void *buf);
/* A buffer whose I/O never completed: never handed out again; at dma_pool_fini its slab is
 * unmapped (then its memory freed) like the others, but the slab's IOVA range stays
 * quarantined. Without an IOMMU nothing ends the device's reach: the slab is never freed. */
void dma_pool_quarantine(struct dma_pool *p, void *buf);

#endif
