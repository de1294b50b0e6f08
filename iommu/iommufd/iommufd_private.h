/* The native IOMMUFD object layer's private structures. The top of three layers: the only layer
 * that validates untrusted arguments; below it are iommu/iommu.h (drivers) and iommu/pgtable. */
#ifndef MOAT_IOMMU_CORE_IOMMUFD_PRIVATE_H
#define MOAT_IOMMU_CORE_IOMMUFD_PRIVATE_H

#include "moat/iommufd.h"
#include "iommu/iommufd/iova.h"
#include "iommu/iommu.h"
#include "lib/errno.h"
#include "lib/log.h"

#define IOMMUFD_PAGE 4096ULL
#define IOAS_GUARD IOMMUFD_PAGE         /* kept free around every chosen IOVA range */
#define IOAS_CACHE_CLASSES 7            /* 4 KiB .. 256 KiB */
#define IOAS_CACHE_DEPTH 64            /* a queue depth of freed I/O buffers */
#define IOAS_SPARE_AREAS 64            /* freed area structures kept for the next map */

enum iommufd_obj_type {
    IOMMUFD_OBJ_ANY,
    IOMMUFD_OBJ_IOAS,
    IOMMUFD_OBJ_HWPT_PAGING,
    IOMMUFD_OBJ_HWPT_NESTED,
    IOMMUFD_OBJ_DEVICE,
    IOMMUFD_OBJ_FAULT,
    IOMMUFD_OBJ_VIOMMU,
    IOMMUFD_OBJ_VDEVICE,
    IOMMUFD_OBJ_VEVENTQ,
    IOMMUFD_OBJ_WINDOW,         /* moat's own: an IOAS window (ioas_window.c) */
};

struct iommufd_obj {
    uint32_t id;
    enum iommufd_obj_type type;
    unsigned users;             /* references held by other objects */
};

struct moat_iommufd {
    struct iommufd_obj **objs;  /* objs[id - 1] */
    uint32_t nr_slots;
    uint32_t nr_objs;
    unsigned refs;              /* the opener, and each fault queue descriptor */
    uint32_t vfio_ioas_id;      /* IOMMU_VFIO_IOAS: the VFIO-compat IOAS, 0 when none */
    moat_virt_to_phys_fn v2p;
    void *v2p_arg;
    struct moat_uaccess ua;
    struct moat_iommufd *next;  /* every open context: pin queries */
};

/* A reserved range of an IOAS and who imposed it (a device's unit regions, a domain's width). */
struct ioas_resv {
    uint64_t start, last;
    const void *owner;
};

struct hwpt;

struct ioas {
    struct iommufd_obj obj;
    struct iova_tree tree;          /* areas, cached IOVA, merged reserved ranges */
    struct hwpt *hwpts;             /* paging HWPTs fanned out to */
    struct ioas_resv *resv;         /* raw reserved ranges */
    uint32_t nr_resv, cap_resv;
    struct iova_node *resv_nodes;   /* merged reserved ranges: [0, nr_merged) in the tree */
    uint32_t nr_merged, cap_nodes;
    struct iommu_iova_range *allowed;   /* sorted; none: everywhere */
    uint32_t nr_allowed;
    bool no_huge;
    bool linux_iova;                /* made by IOMMU_IOAS_ALLOC: IOVAs chosen as Linux chooses */
    struct iova_node *cache[IOAS_CACHE_CLASSES];   /* freed ranges, per size class */
    uint32_t cache_len[IOAS_CACHE_CLASSES];
    struct ioas_area *spare;        /* area structures out of any tree, linked by node.next */
    uint32_t nr_spare;
};

struct ioas_area {
    struct iova_node node;          /* [iova, iova + length - 1] */
    uint64_t pa;
    const void *va;                 /* the pinned CPU memory */
    uint32_t prot;                  /* IOMMU_READ | IOMMU_WRITE */
    bool chosen;                    /* the IOVA was chosen by the allocator */
    struct moat_ioas_window *win;   /* a window's area: no memory of its own (va, pa 0) */
    bool evict;                     /* prepared: cached ranges lie in its way (see commit) */
};

/* A window (moat_ioas_window_alloc): its area, and what its data path keeps. */
struct moat_ioas_window {
    struct iommufd_obj obj;
    struct moat_iommufd *ctx;
    struct ioas *ioas;
    struct ioas_area *area;
    uint64_t iova, length;
    uint64_t *live;                 /* bit per page: mapped and not cleared */
    uint64_t live_pages;
    bool pending;                   /* cleared, not yet synced: gather holds it */
    struct pgtable_gather gather;
};

struct fault_queue;

struct hwpt {
    struct iommufd_obj obj;
    struct iommu_domain *domain;
    struct ioas *ioas;              /* PAGING */
    struct hwpt *parent;            /* NESTED */
    struct viommu *viommu;          /* NESTED made on a vIOMMU */
    struct fault_queue *fault;
    struct hwpt *next;              /* in ioas->hwpts */
    bool auto_domain, nest_parent, dirty_capable;
    bool dirty_on;                  /* IOMMU_HWPT_SET_DIRTY_TRACKING enabled it */
    uint32_t data_type;             /* NESTED */
};

struct idev {
    struct iommufd_obj obj;
    struct moat_iommufd *ctx;
    struct pci_dev *pdev;
    struct iommu_unit *unit;
    struct hwpt *hwpt;              /* attached to */
    struct idev *next_bound;        /* every bound device, every context */
};

/* One producer (the fault reporting path, in an interrupt handler) writes ring[tail] and then
 * moves tail; one consumer reads ring[head] and then moves head. Both counters run freely
 * (tail - head records wait), so neither side needs the other's lock. */
struct fault_queue {
    struct iommufd_obj obj;
    struct moat_iommufd *ctx;
    struct moat_fault_record ring[MOAT_FAULT_QUEUE_DEPTH];
    uint32_t head, tail;
    uint32_t cookies;               /* records handed out through the descriptor */
    uint64_t overflows;
    void (*notify)(void *arg);
    void *notify_arg;
};

struct veventq;

/* A vIOMMU over a NEST_PARENT paging HWPT (Linux's iommufd_viommu). Its users: nested HWPTs,
 * vDEVICEs and vEVENTQs made on it. */
struct viommu {
    struct iommufd_obj obj;
    struct moat_iommufd *ctx;
    struct iommu_viommu *v;
    struct hwpt *hwpt;              /* the stage 2, held */
    struct veventq *veventqs;
};

struct vdevice {
    struct iommufd_obj obj;
    struct viommu *viommu;          /* held */
    struct idev *idev;
    struct iommu_vdev vd;           /* in viommu->v->vdevs */
};

/* Events in a ring of cap slots (min(depth, VEVENTQ_CAP)); the producer (the unit's event
 * path) writes ring[tail % cap] and moves tail, the reader moves head. lost_seq: the sequence
 * number (+ 1) of the LOST_EVENTS header that ends the stream, 0 when a later event took its
 * place; it is due while lost_gen (moved by the producer) differs from lost_read (the reader). */
#define VEVENTQ_CAP 1024
#define VEVENT_DATA_MAX 32
struct vevent {
    uint32_t sequence;
    uint32_t len;
    uint8_t data[VEVENT_DATA_MAX];
};

struct veventq {
    struct iommufd_obj obj;
    struct moat_iommufd *ctx;
    struct viommu *viommu;          /* held */
    struct veventq *next;           /* in viommu->veventqs */
    uint32_t type, depth, cap;
    uint32_t head, tail;
    uint32_t sequence;              /* the next event's */
    uint32_t lost_seq;
    uint32_t lost_gen, lost_read;
    uint64_t lost;                  /* events dropped, ever */
    struct vevent *ring;
};

/* context.c */
void *iommufd_zalloc(size_t size);
/* A reference that keeps the context (and its objects) alive after moat_iommufd_close() until
 * iommufd_ctx_put(), as a Linux fault fd holds its iommufd. */
void iommufd_ctx_get(struct moat_iommufd *ctx);
void iommufd_ctx_put(struct moat_iommufd *ctx);
int iommufd_slot_reserve(struct moat_iommufd *ctx);
/* A zeroed object of size bytes with a table slot kept free for it (installing it cannot
 * fail); NULL with *err set (-ENOSPC, -ENOMEM) when either cannot be had. */
void *iommufd_obj_zalloc(struct moat_iommufd *ctx, size_t size, int *err);
struct file_ops;
/* A descriptor (kernel/fd.c) whose file holds obj (one user) and the context until its release
 * op calls iommufd_fd_release; the fd, or -errno. */
int iommufd_fd_open(struct moat_iommufd *ctx, struct iommufd_obj *obj,
                    const struct file_ops *ops, void *priv);
void iommufd_fd_release(struct moat_iommufd *ctx, struct iommufd_obj *obj);
void iommufd_obj_install(struct moat_iommufd *ctx, struct iommufd_obj *obj,
                         enum iommufd_obj_type type);
void iommufd_obj_remove(struct moat_iommufd *ctx, struct iommufd_obj *obj);
struct moat_iommufd *iommufd_contexts(void);

/* Inline: every map and unmap starts with these (a call costs more than the lookup). */
static inline struct iommufd_obj *iommufd_get(struct moat_iommufd *ctx, uint32_t id,
                                              enum iommufd_obj_type type)
{
    if (id == 0 || id > ctx->nr_slots)
        return NULL;
    struct iommufd_obj *obj = ctx->objs[id - 1];
    if (!obj || (type != IOMMUFD_OBJ_ANY && obj->type != type))
        return NULL;
    return obj;
}

static inline int iommufd_v2p(struct moat_iommufd *ctx, const void *va, uint64_t len,
                              uint32_t map_flags, uint64_t *pa)
{
    uint64_t end;
    int err = ctx->v2p(ctx->v2p_arg, va, len,
                       map_flags & (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE), pa);
    if (err)
        return err;
    if (__builtin_add_overflow(*pa, len - 1, &end) || !IS_ALIGNED(*pa, IOMMUFD_PAGE))
        return ERR(-EFAULT);
    return 0;
}

/* ioas.c */
struct ioas *ioas_get(struct moat_iommufd *ctx, uint32_t id);
void ioas_destroy(struct ioas *ioas);
int ioas_map_area_domain(struct ioas *ioas, struct iommu_domain *d, struct ioas_area *a);
void ioas_unmap_area_domain(struct iommu_domain *d, struct ioas_area *a);
uint64_t ioas_pinned_bytes(struct ioas *ioas, const void *va, uint64_t len, bool *hit);

/* ioas_area.c */
/* Both place [*iova, + length) and return in *first the lowest node of the tree that meets
 * it (a cached range: nothing else may be there), NULL when none does, for
 * ioas_area_prepare; valid until the tree changes. */
int ioas_choose_iova(struct ioas *ioas, uint64_t length, uint64_t pa, const void *va,
                     uint64_t *iova, struct iova_node **first);
int ioas_check_fixed(struct ioas *ioas, uint64_t iova, uint64_t length,
                     struct iova_node **first);
struct ioas_area *ioas_area_prepare(struct ioas *ioas, uint64_t iova, uint64_t length,
                                    struct iova_node *first);
int ioas_areas_commit(struct ioas *ioas, struct ioas_area **areas, uint32_t n);
/* Places (a fixed *iova, or one chosen), prepares and commits one area; *iova on success. */
int ioas_area_map(struct ioas *ioas, bool fixed, const void *va, uint64_t pa, uint64_t length,
                  uint32_t prot, uint64_t *iova);
void ioas_area_release(struct ioas *ioas, struct ioas_area *a);
void ioas_area_forget(struct ioas *ioas, struct ioas_area *a);
void ioas_area_abort(struct ioas *ioas, struct ioas_area *a);
void ioas_free_all_nodes(struct ioas *ioas);

/* ioas_resv.c */
int ioas_resv_check(struct ioas *ioas, const struct ioas_resv *r, uint32_t n);
int ioas_resv_prepare(struct ioas *ioas, uint32_t n_more, struct ioas_resv **new_resv,
                      struct iova_node **new_nodes);
void ioas_resv_commit(struct ioas *ioas, const struct ioas_resv *r, uint32_t n,
                      struct ioas_resv *new_resv, struct iova_node *new_nodes);
void ioas_resv_abort(struct ioas_resv *new_resv, struct iova_node *new_nodes);
void ioas_resv_remove(struct ioas *ioas, const void *owner);
int ioas_resv_add(struct ioas *ioas, const struct ioas_resv *r, uint32_t n);
void ioas_resv_rebuild(struct ioas *ioas);
bool ioas_resv_hits(const struct ioas *ioas, uint64_t start, uint64_t last);
void ioas_cache_evict(struct ioas *ioas, uint64_t start, uint64_t last);

/* ioas_window.c */
int ioas_window_fill(struct moat_ioas_window *w, struct iommu_domain *d);
void ioas_window_drop(struct moat_ioas_window *w, struct iommu_domain *d);
void ioas_window_destroy(struct moat_ioas_window *w);
bool ioas_window_busy(const struct moat_ioas_window *w);

/* hwpt.c */
struct hwpt *hwpt_get(struct moat_iommufd *ctx, uint32_t id);
int hwpt_paging_create(struct moat_iommufd *ctx, struct ioas *ioas, struct idev *idev,
                       uint32_t flags, bool auto_domain, struct hwpt **out);
void hwpt_destroy(struct moat_iommufd *ctx, struct hwpt *h);
void hwpt_set_fault(struct hwpt *h, struct fault_queue *fq);
int hwpt_dirty_check(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t flags, uint64_t iova,
                     uint64_t length, uint64_t page_size, struct hwpt **out);

/* device.c */
void idev_destroy(struct moat_iommufd *ctx, struct idev *idev);
void idev_detach_all(struct moat_iommufd *ctx);
struct idev *idev_get(struct moat_iommufd *ctx, uint32_t id);
struct idev *idev_find_rid(uint16_t seg, uint16_t rid);

/* fault_queue.c */
void fault_queue_destroy(struct fault_queue *fq);
void fault_queue_deliver(struct iommu_domain *d, const struct iommu_fault *f, void *hwpt);
/* A descriptor for the queue in kernel/fd.c's table (read/poll/write as Linux's fault fd), or
 * -errno. It holds a user of the queue and a reference on the context until closed. */
int fault_queue_fd_open(struct moat_iommufd *ctx, uint32_t fault_id);

/* viommu.c */
void viommu_destroy(struct viommu *vi);
void vdevice_destroy(struct vdevice *vd);
void veventq_destroy(struct veventq *q);
struct viommu *viommu_get(struct moat_iommufd *ctx, uint32_t id);
/* Removes (from the context's table too) and destroys the vDEVICEs of idev. */
void idev_vdevices_destroy(struct moat_iommufd *ctx, struct idev *idev);
/* A descriptor for the vEVENTQ (read/poll as Linux's vEVENTQ fd), or -errno; it holds the
 * queue and the context until closed. */
int veventq_fd_open(struct moat_iommufd *ctx, uint32_t veventq_id);

/* Test hook: the n-th allocation from now (1 = the next) fails; 0 turns failures off. Counts
 * this layer's allocations and those a test driver routes through moat_iommufd_should_fail(). */
void moat_iommufd_fail_nth(unsigned long n);
bool moat_iommufd_should_fail(void);
unsigned long moat_iommufd_alloc_count(void);

/* VFIO type1 container ioctls on an iommufd (vfio_compat.c): commands outside IOMMUFD's. */
long iommufd_vfio_ioctl(struct moat_iommufd *ctx, unsigned long cmd, uint64_t uarg);

#endif
