/* The context (the open /dev/iommu): the object table indexed by ID, destroy, teardown, the
 * virt-to-phys and user-access hooks, the pin query, and the one allocation function of this
 * layer (with the fail-the-Nth-allocation test hook). */
#include "iommu/iommufd/iommufd_private.h"
#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "kernel/uaccess.h"
#include "kernel/mm/pmm.h"
#include "lib/log.h"
#include "lib/string.h"

static struct moat_iommufd *contexts;
static unsigned long fail_countdown;
static unsigned long alloc_count;

void moat_iommufd_fail_nth(unsigned long n)
{
    fail_countdown = n;
}

bool moat_iommufd_should_fail(void)
{
    alloc_count++;
    if (!fail_countdown)
        return false;
    return --fail_countdown == 0;
}

unsigned long moat_iommufd_alloc_count(void)
{
    return alloc_count;
}

void *iommufd_zalloc(size_t size)
{
    if (moat_iommufd_should_fail())
        return NULL;
    return kzalloc(size);
}

static int default_v2p(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    if (!va)
        return ERR(-EFAULT);
    *pa = virt_to_phys(va);
    return 0;
}

static int default_copy_from(void *arg, void *dst, uint64_t uptr, size_t len)
{
    return uaccess_copy_from(dst, (const void *)(uintptr_t)uptr, len);
}

static int default_copy_to(void *arg, uint64_t uptr, const void *src, size_t len)
{
    return uaccess_copy_to((void *)(uintptr_t)uptr, src, len);
}

int moat_iommufd_open(struct moat_iommufd **out)
{
    struct moat_iommufd *ctx = iommufd_zalloc(sizeof(*ctx));
    if (!ctx)
        return ERR(-ENOMEM);
    ctx->refs = 1;
    ctx->v2p = default_v2p;
    ctx->ua.copy_from = default_copy_from;
    ctx->ua.copy_to = default_copy_to;
    ctx->next = contexts;
    contexts = ctx;
    *out = ctx;
    return 0;
}

void moat_iommufd_set_virt_to_phys(struct moat_iommufd *ctx, moat_virt_to_phys_fn fn, void *arg)
{
    ctx->v2p = fn ? fn : default_v2p;
    ctx->v2p_arg = arg;
}

void moat_iommufd_set_uaccess(struct moat_iommufd *ctx, const struct moat_uaccess *ua)
{
    if (ua) {
        ctx->ua = *ua;
        return;
    }
    ctx->ua = (struct moat_uaccess){ default_copy_from, default_copy_to, NULL };
}

struct moat_iommufd *iommufd_contexts(void)
{
    return contexts;
}

/* Makes sure a free slot exists (growing the table), so that installing cannot fail. */
int iommufd_slot_reserve(struct moat_iommufd *ctx)
{
    if (ctx->nr_objs < ctx->nr_slots)
        return 0;
    uint32_t n = ctx->nr_slots ? ctx->nr_slots * 2 : 16;
    if (n > (1u << 24))
        return ERR(-ENOSPC);
    struct iommufd_obj **objs = iommufd_zalloc(n * sizeof(*objs));
    if (!objs)
        return ERR(-ENOMEM);
    if (ctx->objs)
        memcpy(objs, ctx->objs, ctx->nr_slots * sizeof(*objs));
    kfree(ctx->objs);
    ctx->objs = objs;
    ctx->nr_slots = n;
    return 0;
}

void *iommufd_obj_zalloc(struct moat_iommufd *ctx, size_t size, int *err)
{
    *err = iommufd_slot_reserve(ctx);
    if (*err)
        return NULL;
    void *p = iommufd_zalloc(size);
    if (!p)
        *err = ERR(-ENOMEM);
    return p;
}

void iommufd_obj_install(struct moat_iommufd *ctx, struct iommufd_obj *obj,
                         enum iommufd_obj_type type)
{
    MOAT_ASSERT(ctx->nr_objs < ctx->nr_slots);
    uint32_t i = 0;
    while (ctx->objs[i])
        i++;
    ctx->objs[i] = obj;
    ctx->nr_objs++;
    obj->id = i + 1;
    obj->type = type;
    obj->users = 0;
}

void iommufd_obj_remove(struct moat_iommufd *ctx, struct iommufd_obj *obj)
{
    MOAT_ASSERT(ctx->objs[obj->id - 1] == obj);
    ctx->objs[obj->id - 1] = NULL;
    ctx->nr_objs--;
}

static void obj_destroy(struct moat_iommufd *ctx, struct iommufd_obj *obj)
{
    iommufd_obj_remove(ctx, obj);
    if (obj->id == ctx->vfio_ioas_id)       /* Linux forgets a destroyed compat IOAS */
        ctx->vfio_ioas_id = 0;
    switch (obj->type) {
    case IOMMUFD_OBJ_IOAS:
        ioas_destroy(container_of(obj, struct ioas, obj));
        break;
    case IOMMUFD_OBJ_HWPT_PAGING:
    case IOMMUFD_OBJ_HWPT_NESTED:
        hwpt_destroy(ctx, container_of(obj, struct hwpt, obj));
        break;
    case IOMMUFD_OBJ_FAULT:
        fault_queue_destroy(container_of(obj, struct fault_queue, obj));
        break;
    case IOMMUFD_OBJ_DEVICE:
        idev_destroy(ctx, container_of(obj, struct idev, obj));
        break;
    case IOMMUFD_OBJ_VIOMMU:
        viommu_destroy(container_of(obj, struct viommu, obj));
        break;
    case IOMMUFD_OBJ_VDEVICE:
        vdevice_destroy(container_of(obj, struct vdevice, obj));
        break;
    case IOMMUFD_OBJ_VEVENTQ:
        veventq_destroy(container_of(obj, struct veventq, obj));
        break;
    case IOMMUFD_OBJ_WINDOW:
        ioas_window_destroy(container_of(obj, struct moat_ioas_window, obj));
        break;
    default:
        MOAT_ASSERT(0);
    }
}

int moat_iommufd_destroy(struct moat_iommufd *ctx, uint32_t id)
{
    struct iommufd_obj *obj = iommufd_get(ctx, id, IOMMUFD_OBJ_ANY);
    if (!obj)
        return ERR(-ENOENT);
    /* A bound device is held by its binder until moat_device_unbind(), as in Linux. */
    if (obj->users || obj->type == IOMMUFD_OBJ_DEVICE)
        return ERR(-EBUSY);
    if (obj->type == IOMMUFD_OBJ_WINDOW &&
        ioas_window_busy(container_of(obj, struct moat_ioas_window, obj)))
        return ERR(-EBUSY);     /* slots still mapped, or cleared and not synced */
    obj_destroy(ctx, obj);
    return 0;
}

void iommufd_ctx_get(struct moat_iommufd *ctx)
{
    ctx->refs++;
}

/* Devices first (back to blocking: no DMA reaches anything from here on), then leaves of the
 * users graph until nothing is left. */
void iommufd_ctx_put(struct moat_iommufd *ctx)
{
    MOAT_ASSERT(ctx->refs);
    if (--ctx->refs)
        return;
    idev_detach_all(ctx);
    while (ctx->nr_objs) {
        unsigned destroyed = 0;
        for (uint32_t i = 0; i < ctx->nr_slots; i++) {
            struct iommufd_obj *obj = ctx->objs[i];
            if (obj && (obj->users == 0 || obj->type == IOMMUFD_OBJ_DEVICE)) {
                obj_destroy(ctx, obj);
                destroyed++;
            }
        }
        MOAT_ASSERT(destroyed);
    }
    for (struct moat_iommufd **pp = &contexts; *pp; pp = &(*pp)->next) {
        if (*pp == ctx) {
            *pp = ctx->next;
            break;
        }
    }
    kfree(ctx->objs);
    kfree(ctx);
}

int iommufd_fd_open(struct moat_iommufd *ctx, struct iommufd_obj *obj,
                    const struct file_ops *ops, void *priv)
{
    struct file *f = moat_iommufd_should_fail() ? NULL : file_new(ops, priv);
    if (!f)
        return ERR(-ENOMEM);
    obj->users++;
    iommufd_ctx_get(ctx);
    int fd = fd_install(f);
    if (fd < 0)
        file_put(f);    /* its release gives both back */
    return fd;
}

void iommufd_fd_release(struct moat_iommufd *ctx, struct iommufd_obj *obj)
{
    MOAT_ASSERT(obj->users);
    obj->users--;
    iommufd_ctx_put(ctx);
}

void moat_iommufd_close(struct moat_iommufd *ctx)
{
    if (ctx)
        iommufd_ctx_put(ctx);
}

static uint64_t pinned_walk(const void *va, uint64_t len, bool *hit)
{
    uint64_t total = 0;
    for (struct moat_iommufd *c = contexts; c; c = c->next)
        for (uint32_t i = 0; i < c->nr_slots; i++)
            if (c->objs[i] && c->objs[i]->type == IOMMUFD_OBJ_IOAS)
                total += ioas_pinned_bytes(container_of(c->objs[i], struct ioas, obj), va,
                                           len, hit);
    return total;
}

bool moat_iommufd_is_pinned(const void *va, uint64_t len)
{
    bool hit = false;
    pinned_walk(va, len, &hit);
    return hit;
}

uint64_t moat_iommufd_pinned_bytes(void)
{
    return pinned_walk(NULL, 0, NULL);
}
