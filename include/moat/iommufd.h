/* moat's native IOMMUFD: the object model Linux gives user space through /dev/iommu, as typed
 * in-process C calls. A context (the open /dev/iommu) owns objects named by 32-bit IDs:
 *
 *   IOAS         an IOVA address space: map/unmap/copy of CPU memory, reserved and allowed ranges
 *   HWPT         a hardware page table (an iommu_domain): PAGING over an IOAS (automatic on
 *                attach, or explicit with NEST_PARENT / DIRTY_TRACKING), or NESTED over a
 *                NEST_PARENT paging HWPT with stage-1 data in the format its IOMMU unit
 *                takes (an IOMMU_HWPT_DATA_* type; the unit reads and checks it)
 *   device       a bound PCI function; attach/replace/detach moves its DMA between HWPTs
 *   fault queue  receives decoded DMA fault records of devices behind HWPTs that point at it
 *   vIOMMU       the unit's virtualisation of one nesting user over a NEST_PARENT HWPT (its
 *                stage 2): nested HWPTs are made on it, invalidations go through it
 *   vDEVICE      a bound device's virtual ID on a vIOMMU (Arm SMMUv3: its virtual StreamID)
 *   vEVENTQ      the unit's stage-1 events of a vIOMMU's devices, for the program
 *
 * Errors are negative errno, the values Linux returns for the same mistakes. Every call checks
 * all of its arguments before it changes anything; on an error nothing changed.
 * Flag values and argument structures are Linux's own (<linux/iommufd.h>, Linux 6.12 uapi).
 * The same calls are reachable as ioctls through moat_iommufd_ioctl().
 *
 * Not thread-safe: callers serialise calls on one context (the runtime is single-threaded today).
 */
#ifndef MOAT_IOMMUFD_H
#define MOAT_IOMMUFD_H

#include <linux/types.h>
#include <linux/iommufd.h>

#include "iommu/iommu.h"
#include "moat/iommufd_uapi.h"

struct pci_dev;
struct moat_iommufd;

/* ---- context ---- */

int moat_iommufd_open(struct moat_iommufd **out);
/* Tears everything down: devices back to blocking, every mapping unmapped (each unmap waits for
 * its invalidation), then every object freed. A fault queue descriptor still open (from
 * IOMMU_FAULT_QUEUE_ALLOC through the ioctl face) holds the context, as in Linux: the teardown
 * then happens when the last such descriptor is closed. */
void moat_iommufd_close(struct moat_iommufd *ctx);
/* Destroys an IOAS, HWPT, fault queue, vIOMMU, vDEVICE or vEVENTQ: -ENOENT unknown ID, -EBUSY
 * still in use (a device attached, an HWPT on the IOAS, a nested HWPT or vIOMMU on a parent, an
 * HWPT using the fault queue, a nested HWPT, vDEVICE or vEVENTQ on the vIOMMU, an open
 * descriptor, or a device ID: devices go away with moat_device_unbind()). */
int moat_iommufd_destroy(struct moat_iommufd *ctx, uint32_t id);

/* How a map call's CPU virtual address becomes the physical address devices use: the range
 * [va, va + len) must be physically contiguous, and reachable with the access the mapping
 * gives the device (prot: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE) — the Linux face
 * answers -EFAULT for memory that is not the program's or that it cannot write (kernel/uaccess.h).
 * Default: identity (RAM is identity-mapped), NULL rejected with -EFAULT: the trusted path of
 * the runtime's own drivers. */
typedef int (*moat_virt_to_phys_fn)(void *arg, const void *va, uint64_t len, uint32_t prot,
                                    uint64_t *pa);
void moat_iommufd_set_virt_to_phys(struct moat_iommufd *ctx, moat_virt_to_phys_fn fn, void *arg);

/* How moat_iommufd_ioctl() reaches "user" memory: the argument structure and the pointers
 * inside it (allowed_iovas, data_uptr, ...). Default: kernel/uaccess's copy path, the one every
 * face uses (strict about what is the program's once an appliance runs; before that the zero
 * page, non-canonical addresses and wrapping ranges are -EFAULT). */
struct moat_uaccess {
    int (*copy_from)(void *arg, void *dst, uint64_t uptr, size_t len);
    int (*copy_to)(void *arg, uint64_t uptr, const void *src, size_t len);
    void *arg;
};
void moat_iommufd_set_uaccess(struct moat_iommufd *ctx, const struct moat_uaccess *ua);

/* Pinning: is any byte of [va, va + len) mapped for DMA by any context? Memory for which this
 * is true must not be freed. */
bool moat_iommufd_is_pinned(const void *va, uint64_t len);
uint64_t moat_iommufd_pinned_bytes(void);

/* ---- IOAS ---- */

int moat_ioas_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t *out_ioas_id);
/* flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE.
 * Without FIXED_IOVA, *iova is chosen (and returned). -EOPNOTSUPP unknown flags, -EINVAL
 * neither READABLE nor WRITEABLE / zero length / misaligned va, iova or length / reserved IOVA,
 * -EOVERFLOW iova + length - 1 or va + length wraps, -EEXIST overlaps a mapping, -ENOSPC no
 * free IOVA, -EFAULT va not translatable, -ENOENT unknown IOAS. */
int moat_ioas_map(struct moat_iommufd *ctx, uint32_t ioas_id, uint32_t flags, const void *va,
                  uint64_t length, uint64_t *iova);
/* Unmaps every mapping inside [iova, iova + length - 1]; each must lie wholly inside (never
 * split: -ENOENT), and something must be mapped there (-ENOENT). iova 0, length UINT64_MAX
 * unmaps everything (0 also when nothing was mapped). *unmapped: bytes unmapped. The
 * mappings leave each domain with one invalidation wait, however many there are. */
int moat_ioas_unmap(struct moat_iommufd *ctx, uint32_t ioas_id, uint64_t iova, uint64_t length,
                    uint64_t *unmapped);
/* Unmaps what num ranges [start, last] cover, each as moat_ioas_unmap would (every mapping
 * wholly inside, something mapped: -ENOENT), with ONE invalidation and wait per domain for
 * them all (moat_ioas_unmap does one per call): when it returns, no DMA reaches any of them.
 * All are checked before anything changes. -EINVAL num 0, start > last or ranges that
 * overlap, -E2BIG num > MOAT_IOAS_UNMAP_MANY_MAX, -EFAULT ranges NULL, -ENOENT unknown IOAS.
 * *unmapped: bytes unmapped. moat's own call; no ioctl carries it. */
#define MOAT_IOAS_UNMAP_MANY_MAX 256
int moat_ioas_unmap_many(struct moat_iommufd *ctx, uint32_t ioas_id,
                         const struct iommu_iova_range *ranges, uint32_t num, uint64_t *unmapped);
/* Maps what [src_iova, src_iova + length) of src maps (the whole range must be mapped: -ENOENT)
 * into dst, at *dst_iova (FIXED_IOVA) or a chosen one. WRITEABLE needs a writeable source
 * (-EPERM). */
int moat_ioas_copy(struct moat_iommufd *ctx, uint32_t dst_ioas_id, uint32_t src_ioas_id,
                   uint32_t flags, uint64_t src_iova, uint64_t length, uint64_t *dst_iova);
/* The usable IOVA ranges (everything minus reserved regions of attached devices and domains).
 * *num: in, entries in ranges; out, entries that exist. -EMSGSIZE when they do not fit (the
 * first *num_in entries are written). *alignment: required IOVA alignment. */
int moat_ioas_iova_ranges(struct moat_iommufd *ctx, uint32_t ioas_id,
                          struct iommu_iova_range *ranges, uint32_t *num, uint64_t *alignment);
/* Restricts where kernel-chosen IOVAs may go (num 0: anywhere). -EINVAL start >= last or
 * overlapping ranges, -EADDRINUSE a range covers a reserved region. */
int moat_ioas_allow_iovas(struct moat_iommufd *ctx, uint32_t ioas_id,
                          const struct iommu_iova_range *ranges, uint32_t num);
/* IOMMU_OPTION_HUGE_PAGES on an IOAS: op IOMMU_OPTION_OP_SET/GET, *val 0/1. Disabling while
 * HWPTs with mappings exist -> -EINVAL. */
int moat_ioas_option(struct moat_iommufd *ctx, uint32_t ioas_id, uint32_t option_id, uint16_t op,
                     uint64_t *val);

/* ---- IOAS windows (moat's own; no ioctl carries them) ----
 * A window is a fixed range of an IOAS, [iova, iova + length), whose I/O page-table pages are
 * allocated once, when it is made (and when a device attaches), and stay: a driver maps each
 * request into a slot of it and clears the slot when the request completes, with no IOVA
 * allocation, no tree lookup and no table allocation on that path. It is an ordinary area of
 * the IOAS (ranges, fixed maps and copies see it as taken); moat_ioas_unmap refuses to cut
 * into it (-EBUSY) and unmap-all leaves it. It is destroyed with moat_iommufd_destroy (-EBUSY
 * while a slot is mapped or cleared but not synced, with a device attached). An IOAS with a
 * window has at most one paging HWPT (-EBUSY for a second: every map and clear would have to
 * be done twice). What a window maps is not pinned: the request that mapped it owns it. */
struct moat_ioas_window;
/* -ENOENT unknown IOAS, -EINVAL zero or misaligned length or iova, reserved IOVA,
 * -EOVERFLOW iova + length wraps, -EEXIST overlaps a mapping, -EBUSY more than one HWPT,
 * -ENOMEM. *out_id names it for moat_iommufd_destroy; *out is the data path's handle. */
int moat_ioas_window_alloc(struct moat_iommufd *ctx, uint32_t ioas_id, uint64_t iova,
                           uint64_t length, uint32_t *out_id, struct moat_ioas_window **out);
/* Maps [va, va + length) (physically contiguous: the context's virt-to-phys hook) at
 * iova + offset with prot (IOMMU_READ and/or IOMMU_WRITE): the leaf entries only. -EINVAL
 * zero or misaligned length, offset or va, bad prot; -ERANGE outside the window; -EEXIST part
 * of it still mapped; -EFAULT va not translatable. */
int moat_ioas_window_map(struct moat_ioas_window *w, uint64_t offset, const void *va,
                         uint64_t length, uint32_t prot);
/* Clears what [offset, offset + length) maps (all of it must be mapped: -ENOENT). The device
 * may still reach it until moat_ioas_window_sync returns. -EINVAL, -ERANGE as map. */
int moat_ioas_window_clear(struct moat_ioas_window *w, uint64_t offset, uint64_t length);
/* One invalidation covering everything cleared since the last sync (the span from the lowest
 * to the highest page cleared), one wait: when it returns, no DMA reaches any of it. */
void moat_ioas_window_sync(struct moat_ioas_window *w);

/* ---- HWPT ---- */

struct moat_hwpt_alloc {
    uint32_t flags;         /* IOMMU_HWPT_ALLOC_NEST_PARENT | _DIRTY_TRACKING | FAULT_ID_VALID */
    uint32_t dev_id;        /* the device the domain is made for (its IOMMU unit) */
    uint32_t pt_id;         /* an IOAS (PAGING), a NEST_PARENT paging HWPT or a vIOMMU (NESTED) */
    uint32_t data_type;     /* IOMMU_HWPT_DATA_NONE, or (NESTED) a type the device's unit takes */
    const void *data;
    uint32_t data_len;
    uint32_t fault_id;      /* with IOMMU_HWPT_FAULT_ID_VALID */
};
int moat_hwpt_alloc(struct moat_iommufd *ctx, const struct moat_hwpt_alloc *a,
                    uint32_t *out_hwpt_id);
/* flags: IOMMU_HWPT_DIRTY_TRACKING_ENABLE or 0. -EOPNOTSUPP when the HWPT was not allocated with
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING. */
int moat_hwpt_set_dirty_tracking(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t flags);
/* Sets bit i of bitmap when the page iova + i * page_size was written by DMA (bits are ORed in),
 * and clears the dirty state unless flags has IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR. */
int moat_hwpt_get_dirty_bitmap(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t flags,
                               uint64_t iova, uint64_t length, uint64_t page_size,
                               uint64_t *bitmap);
/* User-owned stage-1 cache invalidation on a NESTED HWPT or a vIOMMU: *entry_num entries of entry_len bytes
 * of data_type (an IOMMU_HWPT_INVALIDATE_DATA_* type the unit takes, else -EINVAL). Entries are
 * checked up to the first bad one; *entry_num returns how many were done, the call the first
 * error. -EOPNOTSUPP when the unit has no user invalidation. */
int moat_hwpt_invalidate(struct moat_iommufd *ctx, uint32_t hwpt_id, uint32_t data_type,
                         const void *entries, uint32_t entry_len, uint32_t *entry_num);

/* The IOAS VFIO compatibility uses (IOMMU_VFIO_IOAS): -ENODEV when none is set, unless create,
 * which makes one (Linux's iommufd_vfio_compat_ioas_create: a VFIO group set on an iommufd). */
int moat_vfio_compat_ioas(struct moat_iommufd *ctx, bool create, uint32_t *ioas_id);

/* ---- devices ---- */

/* Binds dev to ctx. -ENODEV no IOMMU covers it, -EBUSY it is bound to ctx already, -EPERM it
 * or another member of its isolation group is bound to another context (Linux's answer when
 * another owner holds the group; logged, naming that device). */
int moat_device_bind(struct moat_iommufd *ctx, struct pci_dev *dev, uint32_t *out_dev_id);
/* The devices moat_device_bind_bdf() looks up (the PCI system's array). */
void moat_iommufd_set_pci_devs(struct pci_dev *devs, uint32_t n);
int moat_device_bind_bdf(struct moat_iommufd *ctx, uint16_t seg, uint8_t bus, uint8_t devfn,
                         uint32_t *out_dev_id);
/* Detaches (back to blocking) and forgets the device. */
int moat_device_unbind(struct moat_iommufd *ctx, uint32_t dev_id);
/* *pt_id: an IOAS (an automatic paging HWPT is found or made; its ID is returned) or an HWPT.
 * -EINVAL already attached (use replace) or HWPT of another unit, -ENOENT unknown pt_id,
 * -EADDRINUSE a reserved region of the device is mapped in the IOAS. */
int moat_device_attach(struct moat_iommufd *ctx, uint32_t dev_id, uint32_t *pt_id);
/* Moves an attached device to *pt_id without a window of unchecked DMA. */
int moat_device_replace(struct moat_iommufd *ctx, uint32_t dev_id, uint32_t *pt_id);
/* Back to blocking; -EINVAL when not attached. */
int moat_device_detach(struct moat_iommufd *ctx, uint32_t dev_id);
/* The unit's raw capability data (IOMMU_GET_HW_INFO): copies min(*data_len, size) bytes and
 * zero-fills the rest of data; *data_len returns the size. */
int moat_device_get_hw_info(struct moat_iommufd *ctx, uint32_t dev_id, uint32_t flags,
                            void *data, uint32_t *data_len, uint32_t *out_type,
                            uint64_t *out_capabilities);

/* ---- fault queues ---- */

#define MOAT_FAULT_QUEUE_DEPTH 64

struct moat_fault_record {
    uint32_t dev_id;            /* 0 when the requester is not a bound device */
    uint32_t hwpt_id;
    struct iommu_fault fault;
};

/* Through the ioctl face (IOMMU_FAULT_QUEUE_ALLOC) a queue also gets a descriptor that behaves as
 * Linux's fault fd: read() gives struct iommu_hwpt_pgfault records (a whole number of them, else
 * -ESPIPE; 0 when none wait), poll() POLLIN while records wait; it holds the queue (destroy is
 * -EBUSY) and the context until closed. The descriptor and the calls below share one queue. */
int moat_fault_queue_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t *out_fault_id);
/* Copies out up to max records, oldest first, and removes them; *n: how many. */
int moat_fault_queue_read(struct moat_iommufd *ctx, uint32_t fault_id,
                          struct moat_fault_record *out, uint32_t max, uint32_t *n);
/* Poll: 1 when records are waiting, 0 when not, or -errno. */
int moat_fault_queue_readable(struct moat_iommufd *ctx, uint32_t fault_id);
/* Called (in the fault reporting path) when a record is queued. */
int moat_fault_queue_set_notify(struct moat_iommufd *ctx, uint32_t fault_id,
                                void (*fn)(void *arg), void *arg);
/* Records dropped because the queue was full. */
int moat_fault_queue_overflows(struct moat_iommufd *ctx, uint32_t fault_id, uint64_t *out);

/* ---- nesting through a vIOMMU (Linux 6.13-6.15) ---- */

/* A vIOMMU of type (IOMMU_VIOMMU_TYPE_*) on dev_id's unit over hwpt_id, a NEST_PARENT paging
 * HWPT. -EOPNOTSUPP flags, type DEFAULT, a unit without vIOMMUs or a type it does not take;
 * -ENOENT unknown device or not a paging HWPT; -EINVAL not NEST_PARENT or another unit's. */
int moat_viommu_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t type, uint32_t dev_id,
                      uint32_t hwpt_id, uint32_t *out_viommu_id);
/* dev_id's virtual ID virt_id on the vIOMMU (for SMMUv3 the StreamID its commands and events
 * name). -ENOENT unknown vIOMMU or device, -EINVAL device of another unit, -EEXIST the device
 * or the virtual ID has one already on that vIOMMU. Unbinding the device destroys it. */
int moat_vdevice_alloc(struct moat_iommufd *ctx, uint32_t viommu_id, uint32_t dev_id,
                       uint64_t virt_id, uint32_t *out_vdevice_id);
/* An event queue of type (IOMMU_VEVENTQ_TYPE_*) for the vIOMMU, holding depth events (moat
 * holds at most 1024 whatever the depth) before it loses new ones. -EOPNOTSUPP flags or type
 * DEFAULT, -EINVAL depth 0, -ENOENT unknown vIOMMU, -EEXIST one of that type exists. */
int moat_veventq_alloc(struct moat_iommufd *ctx, uint32_t flags, uint32_t viommu_id,
                       uint32_t type, uint32_t depth, uint32_t *out_veventq_id);
/* Reads events as Linux's vEVENTQ descriptor does: struct iommufd_vevent_header then the
 * type's record, whole events only, oldest first; a header with IOMMU_VEVENTQ_FLAG_LOST_EVENTS
 * and no record last when events were lost. Bytes read (0: nothing waits or nothing fits). */
long moat_veventq_read(struct moat_iommufd *ctx, uint32_t veventq_id, void *buf, size_t len);
/* 1 when something waits, 0 when not, or -errno. */
int moat_veventq_readable(struct moat_iommufd *ctx, uint32_t veventq_id);
/* Events the queue lost because it was full. */
int moat_veventq_lost(struct moat_iommufd *ctx, uint32_t veventq_id, uint64_t *out);

/* ---- the ioctl face ---- */

/* Linux's IOMMU_* ioctls on /dev/iommu, with their structures; arg points at the structure, whose
 * first __u32 is its size. -ENOTTY unknown command, -EINVAL size below the minimum, -E2BIG
 * non-zero bytes beyond the structure moat knows. */
int moat_iommufd_ioctl(struct moat_iommufd *ctx, unsigned long cmd, void *arg);

#endif
