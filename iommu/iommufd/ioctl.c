/* The ioctl face of /dev/iommu: Linux's IOMMU_* numbers and structures, decoded into the native
 * calls. The size rule is Linux's (iommufd_fops_ioctl + copy_struct_from_user): the first __u32
 * is the caller's structure size; below the minimum -EINVAL, beyond what moat knows the extra
 * bytes must be zero (-E2BIG). Results are copied back over min(size, known size) bytes.
 * Pointers inside structures are reached through the context's uaccess hooks. */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "lib/log.h"
#include "lib/string.h"

#define IOC_NR(cmd) ((cmd) & 0xff)
#define UPTR(p) ((uint64_t)(uintptr_t)(p))
#define HW_INFO_MAX 256
#define HWPT_DATA_MAX 256

struct ucmd {
    struct moat_iommufd *ctx;
    uint64_t uarg;
    uint32_t user_size;
    uint32_t ksize;
    void *cmd;
};

static int copy_from(struct ucmd *u, void *dst, uint64_t uptr, size_t len)
{
    return u->ctx->ua.copy_from(u->ctx->ua.arg, dst, uptr, len);
}

static int copy_to(struct ucmd *u, uint64_t uptr, const void *src, size_t len)
{
    return u->ctx->ua.copy_to(u->ctx->ua.arg, uptr, src, len);
}

static int respond(struct ucmd *u)
{
    return copy_to(u, u->uarg, u->cmd, MIN(u->user_size, u->ksize)) ? -EFAULT : 0;
}

/* check_zeroed_user: 1 when [uptr, uptr + len) is all zero, 0 when not, -EFAULT. */
static int user_zeroed(struct ucmd *u, uint64_t uptr, uint64_t len)
{
    uint8_t chunk[64];
    while (len) {
        size_t n = MIN(len, sizeof(chunk));
        if (copy_from(u, chunk, uptr, n))
            return ERR(-EFAULT);
        for (size_t i = 0; i < n; i++)
            if (chunk[i])
                return 0;
        uptr += n;
        len -= n;
    }
    return 1;
}

/* copy_struct_from_user of a user array entry or blob into a bounded kernel buffer. */
static int copy_blob(struct ucmd *u, void *dst, size_t max, uint64_t uptr, uint64_t len)
{
    if (len > max) {
        int z = user_zeroed(u, uptr + max, len - max);
        if (z <= 0)
            return z ? z : -E2BIG;
        len = max;
    }
    return copy_from(u, dst, uptr, len) ? -EFAULT : 0;
}

static int do_destroy(struct ucmd *u)
{
    struct iommu_destroy *c = u->cmd;
    return moat_iommufd_destroy(u->ctx, c->id);
}

static int do_ioas_alloc(struct ucmd *u)
{
    struct iommu_ioas_alloc *c = u->cmd;
    int err = moat_ioas_alloc(u->ctx, c->flags, &c->out_ioas_id);
    if (err)
        return err;
    /* a program written for Linux gets the IOVAs Linux would choose (iopt_alloc_iova); the
     * native calls keep moat's own choice (guard pages, reuse of freed ranges) */
    ioas_get(u->ctx, c->out_ioas_id)->linux_iova = true;
    err = respond(u);
    if (err)
        moat_iommufd_destroy(u->ctx, c->out_ioas_id);
    return err;
}

static int do_iova_ranges(struct ucmd *u)
{
    struct iommu_ioas_iova_ranges *c = u->cmd;
    uint32_t max = c->num_iovas, n = 0;
    uint64_t align;
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    int err = moat_ioas_iova_ranges(u->ctx, c->ioas_id, NULL, &n, &align);
    if (err && err != -EMSGSIZE)
        return err;
    struct iommu_iova_range *v = iommufd_zalloc((size_t)n * sizeof(*v));
    if (!v)
        return ERR(-ENOMEM);
    err = moat_ioas_iova_ranges(u->ctx, c->ioas_id, v, &n, &align);
    if (!err && max && copy_to(u, c->allowed_iovas, v, (size_t)MIN(max, n) * sizeof(*v)))
        err = -EFAULT;
    kfree(v);
    if (err)
        return err;
    c->num_iovas = n;
    c->out_iova_alignment = align;
    err = respond(u);
    return err ? err : (n > max ? -EMSGSIZE : 0);
}

static int do_allow_iovas(struct ucmd *u)
{
    struct iommu_ioas_allow_iovas *c = u->cmd;
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    if (!ioas_get(u->ctx, c->ioas_id))
        return ERR(-ENOENT);
    size_t bytes = (size_t)c->num_iovas * sizeof(struct iommu_iova_range);
    if (bytes > HEAP_MAX_ALLOC)
        return ERR(-ENOMEM);
    struct iommu_iova_range *v = bytes ? iommufd_zalloc(bytes) : NULL;
    if (bytes && !v)
        return ERR(-ENOMEM);
    int err = copy_from(u, v, c->allowed_iovas, bytes) ? -EFAULT : 0;
    if (!err)
        err = moat_ioas_allow_iovas(u->ctx, c->ioas_id, v, c->num_iovas);
    kfree(v);
    return err;
}

static int do_map(struct ucmd *u)
{
    struct iommu_ioas_map *c = u->cmd;
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    uint64_t iova = c->iova;
    int err = moat_ioas_map(u->ctx, c->ioas_id, c->flags, (const void *)(uintptr_t)c->user_va,
                            c->length, &iova);
    c->iova = iova;
    return err ? err : respond(u);
}

static int do_copy(struct ucmd *u)
{
    struct iommu_ioas_copy *c = u->cmd;
    uint64_t dst = c->dst_iova;
    int err = moat_ioas_copy(u->ctx, c->dst_ioas_id, c->src_ioas_id, c->flags, c->src_iova,
                             c->length, &dst);
    c->dst_iova = dst;
    return err ? err : respond(u);
}

static int do_unmap(struct ucmd *u)
{
    struct iommu_ioas_unmap *c = u->cmd;
    uint64_t unmapped;
    int err = moat_ioas_unmap(u->ctx, c->ioas_id, c->iova, c->length, &unmapped);
    if (err)
        return err;
    c->length = unmapped;
    return respond(u);
}

static int option_rlimit(struct ucmd *u, struct iommu_option *c)
{
    if (c->object_id)
        return ERR(-EOPNOTSUPP);
    if (c->op == IOMMU_OPTION_OP_GET) {
        c->val64 = 0;
        return 0;
    }
    if (c->op != IOMMU_OPTION_OP_SET)
        return ERR(-EOPNOTSUPP);
    if (u->ctx->nr_objs)
        return ERR(-EBUSY);
    return c->val64 > 1 ? -EINVAL : 0;    /* accounting modes: nothing to account here */
}

static int do_option(struct ucmd *u)
{
    struct iommu_option *c = u->cmd;
    int err;
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    if (c->option_id == IOMMU_OPTION_RLIMIT_MODE)
        err = option_rlimit(u, c);
    else if (c->option_id == IOMMU_OPTION_HUGE_PAGES) {
        uint64_t val = c->val64;
        err = moat_ioas_option(u->ctx, c->object_id, c->option_id, c->op, &val);
        c->val64 = val;
    } else
        return ERR(-EOPNOTSUPP);
    if (err)
        return err;
    return copy_to(u, u->uarg + offsetof(struct iommu_option, val64), &c->val64,
                   sizeof(c->val64)) ? -EFAULT : 0;
}

static int do_hwpt_alloc(struct ucmd *u)
{
    struct iommu_hwpt_alloc *c = u->cmd;
    uint8_t data[HWPT_DATA_MAX];
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    if ((c->data_type == IOMMU_HWPT_DATA_NONE) != (c->data_len == 0))
        return ERR(-EINVAL);
    int err = copy_blob(u, data, sizeof(data), c->data_uptr, c->data_len);
    if (err)
        return err;
    struct moat_hwpt_alloc a = {
        .flags = c->flags, .dev_id = c->dev_id, .pt_id = c->pt_id, .data_type = c->data_type,
        .data = data, .data_len = MIN(c->data_len, (uint32_t)sizeof(data)),
        .fault_id = c->fault_id,
    };
    err = moat_hwpt_alloc(u->ctx, &a, &c->out_hwpt_id);
    if (err)
        return err;
    err = respond(u);
    if (err)
        moat_iommufd_destroy(u->ctx, c->out_hwpt_id);
    return err;
}

static int do_hw_info(struct ucmd *u)
{
    struct iommu_hw_info *c = u->cmd;
    uint8_t data[HW_INFO_MAX];
    uint32_t len = MIN(c->data_len, (uint32_t)sizeof(data));
    if (c->flags || c->__reserved[0] || c->__reserved[1] || c->__reserved[2])
        return ERR(-EOPNOTSUPP);
    uint32_t type;
    uint64_t caps;
    int err = moat_device_get_hw_info(u->ctx, c->dev_id, 0, data, &len, &type, &caps);
    if (err)
        return err;
    uint32_t copy = MIN(c->data_len, len);
    if (copy_to(u, c->data_uptr, data, copy))
        return ERR(-EFAULT);
    for (uint64_t at = copy; at < c->data_len; at += sizeof(data)) {     /* clear_user */
        memset(data, 0, sizeof(data));
        if (copy_to(u, c->data_uptr + at, data, MIN(sizeof(data), c->data_len - at)))
            return ERR(-EFAULT);
    }
    c->data_len = len;
    c->out_data_type = type;
    c->out_capabilities = caps;
    return respond(u);
}

static int do_set_dirty(struct ucmd *u)
{
    struct iommu_hwpt_set_dirty_tracking *c = u->cmd;
    return moat_hwpt_set_dirty_tracking(u->ctx, c->hwpt_id, c->flags);
}

/* The user's bitmap is read, ORed into and written back in chunks of 512 words. */
static int do_get_dirty(struct ucmd *u)
{
    struct iommu_hwpt_get_dirty_bitmap *c = u->cmd;
    uint64_t words[512];
    struct hwpt *h;
    if ((c->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) || c->__reserved)
        return ERR(-EOPNOTSUPP);
    int err = hwpt_dirty_check(u->ctx, c->hwpt_id, c->flags, c->iova, c->length, c->page_size,
                               &h);
    if (err)
        return err;
    uint64_t pages = (c->length - 1) / c->page_size + 1, done = 0;
    while (done < pages) {
        uint64_t n = MIN(pages - done, 64 * ARRAY_SIZE(words));
        size_t bytes = (size_t)((n + 63) / 64) * 8;
        uint64_t uptr = c->data + done / 8;
        if (copy_from(u, words, uptr, bytes))
            return ERR(-EFAULT);
        err = moat_hwpt_get_dirty_bitmap(u->ctx, c->hwpt_id, c->flags,
                                         c->iova + done * c->page_size, n * c->page_size,
                                         c->page_size, words);
        if (err)
            return err;
        if (copy_to(u, uptr, words, bytes))
            return ERR(-EFAULT);
        done += n;
    }
    return 0;
}

static int invalidate(struct ucmd *u, struct iommu_hwpt_invalidate *c)
{
    uint64_t bytes;
    uint32_t n = c->entry_num;
    c->entry_num = 0;
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    if (n && (!c->data_uptr || !c->entry_len))
        return ERR(-EINVAL);
    struct iommufd_obj *obj = iommufd_get(u->ctx, c->hwpt_id, IOMMUFD_OBJ_ANY);
    if (!obj)
        return ERR(-ENOENT);
    if (obj->type != IOMMUFD_OBJ_HWPT_NESTED && obj->type != IOMMUFD_OBJ_VIOMMU)
        return ERR(-EINVAL);
    bytes = (uint64_t)n * c->entry_len;
    if (bytes > HEAP_MAX_ALLOC)
        return ERR(-ENOMEM);
    void *v = bytes ? iommufd_zalloc((size_t)bytes) : NULL;
    if (bytes && !v)
        return ERR(-ENOMEM);
    int err = copy_from(u, v, c->data_uptr, (size_t)bytes) ? -EFAULT : 0;
    if (!err) {
        err = moat_hwpt_invalidate(u->ctx, c->hwpt_id, c->data_type, v, c->entry_len, &n);
        c->entry_num = n;
    }
    kfree(v);
    return err;
}

/* Linux reports the number of entries handled even on failure. */
static int do_invalidate(struct ucmd *u)
{
    struct iommu_hwpt_invalidate *c = u->cmd;
    int err = invalidate(u, c);
    return respond(u) ? -EFAULT : err;
}

/* The queue and a descriptor for it (kernel/fd.c), which holds the queue: IOMMU_DESTROY is
 * -EBUSY until the descriptor is closed, as in Linux. */
static int do_fault_alloc(struct ucmd *u)
{
    struct iommu_fault_alloc *c = u->cmd;
    int err = moat_fault_queue_alloc(u->ctx, c->flags, &c->out_fault_id);
    if (err)
        return err;
    int fd = fault_queue_fd_open(u->ctx, c->out_fault_id);
    if (fd < 0) {
        moat_iommufd_destroy(u->ctx, c->out_fault_id);
        return fd;
    }
    c->out_fault_fd = (uint32_t)fd;
    err = respond(u);
    if (err) {
        sys_close(fd);
        moat_iommufd_destroy(u->ctx, c->out_fault_id);
    }
    return err;
}

static int do_viommu_alloc(struct ucmd *u)
{
    struct iommu_viommu_alloc *c = u->cmd;
    int err = moat_viommu_alloc(u->ctx, c->flags, c->type, c->dev_id, c->hwpt_id,
                                &c->out_viommu_id);
    if (err)
        return err;
    err = respond(u);
    if (err)
        moat_iommufd_destroy(u->ctx, c->out_viommu_id);
    return err;
}

static int do_vdevice_alloc(struct ucmd *u)
{
    struct iommu_vdevice_alloc *c = u->cmd;
    int err = moat_vdevice_alloc(u->ctx, c->viommu_id, c->dev_id, c->virt_id,
                                 &c->out_vdevice_id);
    if (err)
        return err;
    err = respond(u);
    if (err)
        moat_iommufd_destroy(u->ctx, c->out_vdevice_id);
    return err;
}

/* The queue and its descriptor, which holds it (IOMMU_DESTROY -EBUSY until closed). */
static int do_veventq_alloc(struct ucmd *u)
{
    struct iommu_veventq_alloc *c = u->cmd;
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    int err = moat_veventq_alloc(u->ctx, c->flags, c->viommu_id, c->type, c->veventq_depth,
                                 &c->out_veventq_id);
    if (err)
        return err;
    int fd = veventq_fd_open(u->ctx, c->out_veventq_id);
    if (fd < 0) {
        moat_iommufd_destroy(u->ctx, c->out_veventq_id);
        return fd;
    }
    c->out_veventq_fd = (uint32_t)fd;
    err = respond(u);
    if (err) {
        sys_close(fd);
        moat_iommufd_destroy(u->ctx, c->out_veventq_id);
    }
    return err;
}

/* The IOAS that VFIO compatibility uses (Linux's vfio_compat.c): GET -ENODEV when none is set,
 * SET -ENOENT for an ID that is not an IOAS, CLEAR forgets it (nothing is destroyed). */
static int do_vfio_ioas(struct ucmd *u)
{
    struct iommu_vfio_ioas *c = u->cmd;
    if (c->__reserved)
        return ERR(-EOPNOTSUPP);
    switch (c->op) {
    case IOMMU_VFIO_IOAS_GET:
        if (!u->ctx->vfio_ioas_id)
            return ERR(-ENODEV);
        c->ioas_id = u->ctx->vfio_ioas_id;
        return respond(u);
    case IOMMU_VFIO_IOAS_SET:
        if (!ioas_get(u->ctx, c->ioas_id))
            return ERR(-ENOENT);
        u->ctx->vfio_ioas_id = c->ioas_id;
        return 0;
    case IOMMU_VFIO_IOAS_CLEAR:
        u->ctx->vfio_ioas_id = 0;
        return 0;
    default:
        return ERR(-EOPNOTSUPP);
    }
}

struct ioctl_op {
    unsigned long cmd;
    uint32_t size, min_size;
    int (*fn)(struct ucmd *u);
};

#define OP(_cmd, _fn, _type, _last) \
    [IOC_NR(_cmd) - IOMMUFD_CMD_BASE] = { _cmd, sizeof(_type), END_OF(_type, _last), _fn }

static const struct ioctl_op ops[] = {
    OP(IOMMU_DESTROY, do_destroy, struct iommu_destroy, id),
    OP(IOMMU_IOAS_ALLOC, do_ioas_alloc, struct iommu_ioas_alloc, out_ioas_id),
    OP(IOMMU_IOAS_ALLOW_IOVAS, do_allow_iovas, struct iommu_ioas_allow_iovas, allowed_iovas),
    OP(IOMMU_IOAS_COPY, do_copy, struct iommu_ioas_copy, src_iova),
    OP(IOMMU_IOAS_IOVA_RANGES, do_iova_ranges, struct iommu_ioas_iova_ranges,
       out_iova_alignment),
    OP(IOMMU_IOAS_MAP, do_map, struct iommu_ioas_map, iova),
    OP(IOMMU_IOAS_UNMAP, do_unmap, struct iommu_ioas_unmap, length),
    OP(IOMMU_OPTION, do_option, struct iommu_option, val64),
    OP(IOMMU_HWPT_ALLOC, do_hwpt_alloc, struct iommu_hwpt_alloc, __reserved),
    OP(IOMMU_GET_HW_INFO, do_hw_info, struct iommu_hw_info, __reserved),
    OP(IOMMU_HWPT_SET_DIRTY_TRACKING, do_set_dirty, struct iommu_hwpt_set_dirty_tracking,
       __reserved),
    OP(IOMMU_HWPT_GET_DIRTY_BITMAP, do_get_dirty, struct iommu_hwpt_get_dirty_bitmap, data),
    OP(IOMMU_HWPT_INVALIDATE, do_invalidate, struct iommu_hwpt_invalidate, __reserved),
    OP(IOMMU_FAULT_QUEUE_ALLOC, do_fault_alloc, struct iommu_fault_alloc, out_fault_fd),
    OP(IOMMU_VFIO_IOAS, do_vfio_ioas, struct iommu_vfio_ioas, __reserved),
    OP(IOMMU_VIOMMU_ALLOC, do_viommu_alloc, struct iommu_viommu_alloc, out_viommu_id),
    OP(IOMMU_VDEVICE_ALLOC, do_vdevice_alloc, struct iommu_vdevice_alloc, virt_id),
    OP(IOMMU_VEVENTQ_ALLOC, do_veventq_alloc, struct iommu_veventq_alloc, __reserved),
};

union ucmd_buffer {
    struct iommu_hw_info info;
    struct iommu_hwpt_alloc hwpt;
    struct iommu_hwpt_get_dirty_bitmap dirty;
    struct iommu_hwpt_invalidate inv;
    struct iommu_ioas_copy copy;
    struct iommu_ioas_iova_ranges ranges;
    struct iommu_ioas_map map;
    struct iommu_option option;
    struct iommu_viommu_alloc viommu;
    struct iommu_vdevice_alloc vdevice;
    struct iommu_veventq_alloc veventq;
};

int moat_iommufd_ioctl(struct moat_iommufd *ctx, unsigned long cmd, void *arg)
{
    union ucmd_buffer buf;
    struct ucmd u = { .ctx = ctx, .uarg = UPTR(arg), .cmd = &buf };
    unsigned nr = IOC_NR(cmd);
    if (nr < IOMMUFD_CMD_BASE || nr - IOMMUFD_CMD_BASE >= ARRAY_SIZE(ops))
        return (int)iommufd_vfio_ioctl(ctx, cmd, UPTR(arg));   /* vfio_compat.c */
    const struct ioctl_op *op = &ops[nr - IOMMUFD_CMD_BASE];
    if (!op->fn || op->cmd != cmd)
        return ERR(-ENOTTY);
    if (copy_from(&u, &u.user_size, u.uarg, sizeof(u.user_size)))
        return ERR(-EFAULT);
    if (u.user_size < op->min_size)
        return ERR(-EINVAL);
    u.ksize = op->size;
    _Static_assert(sizeof(buf) >= sizeof(struct iommu_hwpt_alloc), "ucmd buffer");
    memset(&buf, 0, sizeof(buf));
    int err = copy_blob(&u, &buf, op->size, u.uarg, u.user_size);
    if (err)
        return err;
    return op->fn(&u);
}
