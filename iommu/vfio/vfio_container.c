/* /dev/vfio/vfio: the container and its type1 IOMMU (VFIO_TYPE1v2_IOMMU semantics), backed by
 * one IOAS of a native IOMMUFD context. */
#include "iommu/vfio/vfio_private.h"
#include "kernel/mm/heap.h"
#include "kernel/vm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define VFIO_DMA_MAX 65535u          /* Linux's default dma_entry_limit */
#define DIRTY_BITMAP_PAGES_MAX 0x7fffffffULL
#define DIRTY_BITMAP_SIZE_MAX (ALIGN_UP(DIRTY_BITMAP_PAGES_MAX, 64) / 8)

/* Linux's vfio_iommu_type1_check_extension; iommu_set says whether the container has its IOMMU
 * (vfio_container_ioctl_check_extension asks the driver with or without its data). */
static long container_check_extension(const struct vfio_container *c, unsigned long ext)
{
    switch (ext) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_TYPE1_NESTING_IOMMU:  /* 6.12 answers 1; SET_IOMMU with it fails on VT-d */
    case VFIO_UNMAP_ALL:
        return 1;
    case VFIO_UPDATE_VADDR:
        return c->ictx != NULL;
    default:
        return 0;   /* VFIO_DMA_CC_IOMMU: no unit enforces cache coherency (VT-d snoop control) */
    }
}

/* Linux's vfio_ioctl_set_iommu: no group or set already (EINVAL), no driver for the type
 * (ENODEV). Type1 with nesting needs a domain that can nest (iommu_enable_nesting): none can. */
static int container_set_iommu(struct vfio_container *c, unsigned long type)
{
    if (c->nr_groups == 0 || c->ictx)
        return ERR(-EINVAL);
    if (!container_check_extension(c, type) || type == VFIO_UNMAP_ALL)
        return ERR(-ENODEV);
    if (type == VFIO_TYPE1_NESTING_IOMMU)
        return ERR(-EINVAL);
    int err = moat_iommufd_open(&c->ictx);
    if (err)
        return err;
    moat_iommufd_set_virt_to_phys(c->ictx, vfio_user_virt_to_phys, (void *)&vfio_type1_maps_bars);
    err = moat_ioas_alloc(c->ictx, 0, &c->ioas_id);
    if (err) {
        moat_iommufd_close(c->ictx);
        c->ictx = NULL;
        return err;
    }
    c->v2 = type == VFIO_TYPE1v2_IOMMU;
    /* Groups set before the IOMMU get their devices bound and attached now. */
    for (unsigned i = 0; i < c->nr_groups && !err; i++)
        err = vfio_container_attach_group(c, c->groups[i]);
    if (err) {
        moat_iommufd_close(c->ictx);
        c->ictx = NULL;
    }
    return err;
}

static void group_unbind(struct vfio_container *c, struct vfio_group *g)
{
    while (g->nr_bound)
        moat_device_unbind(c->ictx, g->dev_ids[--g->nr_bound]);
}

/* With the IOMMU set, the group's devices are bound to the container's context and attached to
 * its IOAS (type1 attaches whole groups); before that, nothing happens yet. */
int vfio_container_attach_group(struct vfio_container *c, struct vfio_group *g)
{
    struct pci_system *sys = vfio_pci();
    if (!c->ictx)
        return 0;
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *d = &sys->devs[i];
        if (d->group != g->id)
            continue;
        uint32_t dev_id, pt = c->ioas_id;
        int err = g->nr_bound == VFIO_GROUP_MAX_DEVS ? -ENOSPC :
                  moat_device_bind(c->ictx, d, &dev_id);
        if (!err) {
            g->dev_ids[g->nr_bound++] = dev_id;
            err = moat_device_attach(c->ictx, dev_id, &pt);
        }
        if (err) {
            group_unbind(c, g);
            return err;
        }
    }
    return 0;
}

/* The group's devices go back to blocking; the last group takes the type1 IOMMU with it (and
 * every mapping: each unmap waits for its invalidation). */
void vfio_container_detach_group(struct vfio_container *c, struct vfio_group *g)
{
    unsigned i = 0;
    while (c->groups[i] != g)
        i++;
    c->groups[i] = c->groups[--c->nr_groups];
    if (!c->ictx)
        return;
    group_unbind(c, g);
    if (c->nr_groups == 0) {
        moat_iommufd_close(c->ictx);
        c->ictx = NULL;
        kfree(c->dmas);
        c->dmas = NULL;
        c->nr_dmas = c->cap_dmas = 0;
    }
}

static long container_info(struct vfio_container *c, unsigned long arg)
{
    struct vfio_iommu_type1_info info = { 0 };      /* pad and cap_offset: 0, as Linux */
    long err = vfio_args_in(&info, arg, END_OF(struct vfio_iommu_type1_info, iova_pgsizes));
    if (err)
        return err;
    size_t outsz = MIN(info.argsz, sizeof(info));   /* never more than the program passed */
    struct iommu_unit *u = iommu_first_unit();
    info.flags = VFIO_IOMMU_INFO_PGSIZES;
    info.iova_pgsizes = u ? u->pgsize_bitmap : 4096;
    /* Capabilities: the usable IOVA ranges and how many more mappings are allowed. */
    struct iommu_iova_range r[16];
    uint32_t nr = 16;
    uint64_t align;
    if (moat_ioas_iova_ranges(c->ictx, c->ioas_id, r, &nr, &align))
        nr = 0;
    uint8_t capbuf[sizeof(struct vfio_iommu_type1_info_cap_iova_range) +
                   16 * sizeof(struct vfio_iova_range)];
    struct vfio_iommu_type1_info_cap_iova_range *cr = (void *)capbuf;
    memset(capbuf, 0, sizeof(capbuf));
    cr->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
    cr->header.version = 1;
    cr->nr_iovas = nr;
    for (uint32_t i = 0; i < nr; i++) {
        cr->iova_ranges[i].start = r[i].start;
        cr->iova_ranges[i].end = r[i].last;
    }
    struct vfio_iommu_type1_info_dma_avail av = {
        .header = { .id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, .version = 1 },
        .avail = VFIO_DMA_MAX - c->nr_dmas,
    };
    struct vfio_iommu_type1_info_cap_migration mig = {
        .header = { .id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, .version = 1 },
        .pgsize_bitmap = 4096,
        .max_dirty_bitmap_size = DIRTY_BITMAP_SIZE_MAX,
    };
    size_t caps_size = ALIGN_UP(sizeof(mig), 8) + ALIGN_UP(sizeof(av), 8) +
                       ALIGN_UP(sizeof(*cr) + nr * sizeof(cr->iova_ranges[0]), 8);
    info.flags |= VFIO_IOMMU_INFO_CAPS;
    info.cap_offset = 0;
    if (info.argsz < sizeof(info) + caps_size) {
        info.argsz = (uint32_t)(sizeof(info) + caps_size);
    } else {
        /* Linux's order: migration, DMA available, IOVA ranges (vfio_iommu_type1_get_info) */
        uint8_t buf[sizeof(capbuf) + 2 * sizeof(mig) + 2 * sizeof(av)];
        struct vfio_caps caps = { buf, 0, sizeof(info), &info.cap_offset };
        memset(buf, 0, sizeof(buf));
        vfio_cap_add(&caps, &mig, sizeof(mig));
        vfio_cap_add(&caps, &av, sizeof(av));
        vfio_cap_add(&caps, cr, sizeof(*cr) + nr * sizeof(cr->iova_ranges[0]));
        err = vfio_copy_to(arg + sizeof(info), buf, caps.size);
        if (err)
            return err;
    }
    return vfio_copy_to(arg, &info, outsz);
}

int vfio_cap_add(struct vfio_caps *caps, const void *cap, size_t len)
{
    size_t at = caps->size;
    memcpy(caps->buf + at, cap, len);
    struct vfio_info_cap_header *h = (void *)(caps->buf + at);
    h->next = 0;
    *caps->prev_next = (uint32_t)(caps->info_size + at);
    caps->prev_next = &h->next;
    caps->size = at + ALIGN_UP(len, 8);
    return 0;
}

/* The first tracked mapping that ends above iova, as an index (nr_dmas when none). */
static unsigned dma_lower_bound(const struct vfio_container *c, uint64_t iova)
{
    unsigned lo = 0, hi = c->nr_dmas;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (c->dmas[mid].iova + c->dmas[mid].size - 1 < iova)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct vfio_dma *dma_find(const struct vfio_container *c, uint64_t iova)
{
    unsigned i = dma_lower_bound(c, iova);
    return i < c->nr_dmas && c->dmas[i].iova <= iova ? &c->dmas[i] : NULL;
}

static int dma_reserve(struct vfio_container *c)
{
    if (c->nr_dmas < c->cap_dmas)
        return 0;
    unsigned cap = c->cap_dmas ? c->cap_dmas * 2 : 16;
    struct vfio_dma *n = kmalloc(cap * sizeof(*n));
    if (!n)
        return ERR(-ENOMEM);
    if (c->nr_dmas)
        memcpy(n, c->dmas, c->nr_dmas * sizeof(*n));
    kfree(c->dmas);
    c->dmas = n;
    c->cap_dmas = cap;
    return 0;
}

/* VFIO_DMA_MAP_FLAG_VADDR (Linux's vfio_dma_do_map with set_vaddr): the mapping must be exactly
 * [iova, iova + size) and its vaddr invalidated; it gets the new one. The IOMMU mapping and the
 * pinned memory behind it never changed. */
static long dma_update_vaddr(struct vfio_container *c, const struct vfio_iommu_type1_dma_map *m,
                             uint64_t last_iova)
{
    unsigned i = dma_lower_bound(c, m->iova);
    struct vfio_dma *d = i < c->nr_dmas && c->dmas[i].iova <= last_iova ? &c->dmas[i] : NULL;
    if (!d)
        return ERR(-ENOENT);
    if (!d->vaddr_invalid || d->iova != m->iova || d->size != m->size)
        return ERR(-EINVAL);
    d->vaddr = m->vaddr;
    d->vaddr_invalid = false;
    return 0;
}

/* Linux's vfio_iommu_type1_map_dma and vfio_dma_do_map, in their order. */
static long container_map(struct vfio_container *c, unsigned long arg)
{
    struct vfio_iommu_type1_dma_map m;
    long err = vfio_args_in(&m, arg, END_OF(struct vfio_iommu_type1_dma_map, size));
    if (err)
        return err;
    uint32_t known = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
    if (m.flags & ~known)
        return ERR(-EINVAL);
    /* Wrapping ranges are EOVERFLOW, checked before the flags, as Linux since 6.18 (the
     * selftests' vfio_dma_map_limit_test); 6.12 said EINVAL after them. */
    uint64_t last_iova, last_va;
    if (!m.size)
        return ERR(-EINVAL);
    if (__builtin_add_overflow(m.iova, m.size - 1, &last_iova) ||
        __builtin_add_overflow(m.vaddr, m.size - 1, &last_va))
        return ERR(-EOVERFLOW);
    uint32_t prot = m.flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
    bool set_vaddr = m.flags & VFIO_DMA_MAP_FLAG_VADDR;
    if (!prot == !set_vaddr)
        return ERR(-EINVAL);
    if ((m.size | m.iova | m.vaddr) & 4095)
        return ERR(-EINVAL);
    if (set_vaddr)
        return dma_update_vaddr(c, &m, last_iova);
    unsigned i = dma_lower_bound(c, m.iova);
    if (i < c->nr_dmas && c->dmas[i].iova <= last_iova)
        return ERR(-EEXIST);
    if (c->nr_dmas >= VFIO_DMA_MAX)
        return ERR(-ENOSPC);
    err = dma_reserve(c);
    if (err)
        return err;
    uint32_t flags = IOMMU_IOAS_MAP_FIXED_IOVA;
    if (prot & VFIO_DMA_MAP_FLAG_READ)
        flags |= IOMMU_IOAS_MAP_READABLE;
    if (prot & VFIO_DMA_MAP_FLAG_WRITE)
        flags |= IOMMU_IOAS_MAP_WRITEABLE;
    uint64_t at = m.iova;       /* one call: the object layer maps memory run by run */
    err = moat_ioas_map(c->ictx, c->ioas_id, flags, (const void *)(uintptr_t)m.vaddr, m.size, &at);
    if (err)
        return err == -EOVERFLOW || err == -EADDRINUSE ? ERR(-EINVAL) : err;
    memmove(&c->dmas[i + 1], &c->dmas[i], (c->nr_dmas - i) * sizeof(c->dmas[0]));
    c->dmas[i] = (struct vfio_dma){ .iova = m.iova, .size = m.size, .vaddr = m.vaddr };
    c->nr_dmas++;
    return 0;
}

/* A user bitmap: one bit per pgsize page of a range of npages; -EINVAL when it cannot hold them. */
static int bitmap_check(const struct vfio_bitmap *b, uint64_t range_size)
{
    if (b->pgsize != 4096 || !b->data)
        return ERR(-EINVAL);
    uint64_t npages = range_size / b->pgsize;
    if (!npages || !b->size || b->size > DIRTY_BITMAP_SIZE_MAX || npages > DIRTY_BITMAP_PAGES_MAX ||
        b->size < ALIGN_UP(npages, 64) / 8)
        return ERR(-EINVAL);
    return 0;
}

/* Without hardware dirty bits every pinned page may have been written: like Linux's type1
 * with pinned_page_dirty_scope off, each page of a tracked mapping is reported dirty. */
static long mark_dirty(const struct vfio_dma *d, uint64_t base_iova, uint64_t bitmap)
{
    uint64_t first = (d->iova - base_iova) / 4096, last = first + d->size / 4096 - 1;
    for (uint64_t w = first / 64; w <= last / 64; w++) {
        uint64_t word, at = bitmap + w * sizeof(word);
        uint64_t lo = MAX(first, w * 64) % 64, hi = MIN(last, w * 64 + 63) % 64;
        long err = vfio_copy_from(&word, at, sizeof(word));
        if (err)
            return err;
        word |= (~0ULL >> (63 - hi)) & (~0ULL << lo);
        err = vfio_copy_to(at, &word, sizeof(word));
        if (err)
            return err;
    }
    return 0;
}

static long container_dirty(struct vfio_container *c, unsigned long arg)
{
    if (!c->v2)
        return ERR(-EACCES);
    struct vfio_iommu_type1_dirty_bitmap db;
    size_t minsz = END_OF(struct vfio_iommu_type1_dirty_bitmap, flags);
    long err = vfio_args_in(&db, arg, minsz);
    if (err)
        return err;
    uint32_t known = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
                     VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    if ((db.flags & ~known) || __builtin_popcount(db.flags) != 1)
        return ERR(-EINVAL);
    if (db.flags != VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) {
        c->dirty_tracking = db.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
        return 0;
    }
    struct vfio_iommu_type1_dirty_bitmap_get r;
    if (db.argsz - minsz < sizeof(r))
        return ERR(-EINVAL);
    err = vfio_copy_from(&r, arg + minsz, sizeof(r));
    if (err)
        return err;
    uint64_t last;
    if (!r.size)
        return ERR(-EINVAL);
    if (__builtin_add_overflow(r.iova, r.size - 1, &last))
        return ERR(-EOVERFLOW);     /* Linux since 6.18; 6.12 said EINVAL */
    if (bitmap_check(&r.bitmap, r.size) || (r.iova & 4095) || (r.size & 4095) ||
        !c->dirty_tracking)
        return ERR(-EINVAL);
    /* The range must not bisect a mapping. */
    const struct vfio_dma *d = dma_find(c, r.iova);
    if (d && d->iova != r.iova)
        return ERR(-EINVAL);
    d = dma_find(c, last);
    if (d && d->iova + d->size - 1 != last)
        return ERR(-EINVAL);
    for (unsigned i = dma_lower_bound(c, r.iova); i < c->nr_dmas && c->dmas[i].iova <= last; i++) {
        err = mark_dirty(&c->dmas[i], r.iova, (uint64_t)(uintptr_t)r.bitmap.data);
        if (err)
            return err;
    }
    return 0;
}

/* VFIO_DMA_UNMAP_FLAG_VADDR: the vaddrs of the mappings from index first up to last are
 * invalidated; one already invalid undoes this call's and fails (Linux's vfio_dma_do_unmap). */
static long dma_invalidate_vaddrs(struct vfio_container *c, unsigned first, uint64_t last,
                                  uint64_t *unmapped)
{
    unsigned i;
    for (i = first; i < c->nr_dmas && c->dmas[i].iova <= last; i++) {
        if (c->dmas[i].vaddr_invalid) {
            while (i-- > first)
                c->dmas[i].vaddr_invalid = false;
            *unmapped = 0;
            return ERR(-EINVAL);
        }
        c->dmas[i].vaddr_invalid = true;
        *unmapped += c->dmas[i].size;
    }
    return 0;
}

/* Linux's vfio_iommu_type1_unmap_dma and vfio_dma_do_unmap. type1v2 refuses a range that bisects
 * a mapping; type1 (v1) removes each mapping that starts in the range, whole, and stops at one
 * that starts before it. */
static long container_unmap(struct vfio_container *c, unsigned long arg)
{
    struct vfio_iommu_type1_dma_unmap u;
    size_t minsz = END_OF(struct vfio_iommu_type1_dma_unmap, size);
    long err = vfio_args_in(&u, arg, minsz);
    if (err)
        return err;
    uint32_t known = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL |
                     VFIO_DMA_UNMAP_FLAG_VADDR;
    if (u.flags & ~known)
        return ERR(-EINVAL);
    struct vfio_bitmap bm = { 0, 0, NULL };
    bool want_dirty = u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    bool all = u.flags & VFIO_DMA_UNMAP_FLAG_ALL;
    if (want_dirty) {
        if ((u.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) ||
            u.argsz - minsz < sizeof(bm))
            return ERR(-EINVAL);
        err = vfio_copy_from(&bm, arg + minsz, sizeof(bm));
        if (err)
            return err;
        if (bitmap_check(&bm, u.size))
            return ERR(-EINVAL);
    }
    uint64_t iova = u.iova, last;
    if (iova & 4095)
        return ERR(-EINVAL);
    if (all) {
        if (u.iova || u.size)
            return ERR(-EINVAL);
        last = ~0ULL;
    } else if (!u.size || (u.size & 4095)) {
        return ERR(-EINVAL);
    } else if (__builtin_add_overflow(u.iova, u.size - 1, &last)) {
        return ERR(-EOVERFLOW);     /* Linux since 6.18; 6.12 said EINVAL */
    }
    if (want_dirty && !c->dirty_tracking)
        return ERR(-EINVAL);
    if (c->v2 && !all) {
        const struct vfio_dma *d = dma_find(c, iova);
        if (d && d->iova != iova)
            return ERR(-EINVAL);
        d = dma_find(c, last);
        if (d && d->iova + d->size - 1 != last)
            return ERR(-EINVAL);
    }
    uint64_t unmapped = 0;
    unsigned i = dma_lower_bound(c, iova);
    if (u.flags & VFIO_DMA_UNMAP_FLAG_VADDR) {
        err = dma_invalidate_vaddrs(c, i, last, &unmapped);
        if (err)
            return err;
    }
    long dirty_err = 0;         /* a bitmap the program cannot take: -EFAULT once unmapped */
    while (!(u.flags & VFIO_DMA_UNMAP_FLAG_VADDR) && i < c->nr_dmas && c->dmas[i].iova <= last) {
        struct vfio_dma *d = &c->dmas[i];
        if (d->iova < iova)
            break;          /* v1: a mapping that starts before the range ends the unmap */
        uint64_t done = 0;
        err = moat_ioas_unmap(c->ictx, c->ioas_id, d->iova, d->size, &done);
        if (err)
            return err;
        if (want_dirty && !dirty_err)
            dirty_err = mark_dirty(d, iova, (uint64_t)(uintptr_t)bm.data);
        unmapped += d->size;
        memmove(d, d + 1, (c->nr_dmas - i - 1) * sizeof(*d));
        c->nr_dmas--;
    }
    u.size = unmapped;
    return dirty_err ? dirty_err : vfio_copy_to(arg, &u, minsz);
}

/* Linux's vfio_fops_unl_ioctl: the container answers three ioctls itself; the rest go to its
 * IOMMU driver, and without one they are EINVAL (the driver's unknown ones are ENOTTY). */
static long container_ioctl(struct file *f, unsigned long cmd, unsigned long arg)
{
    struct vfio_container *c = f->priv;
    switch (cmd) {
    case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION:
        return container_check_extension(c, arg);
    case VFIO_SET_IOMMU:
        return container_set_iommu(c, arg);
    }
    if (!c->ictx)
        return ERR(-EINVAL);
    switch (cmd) {
    case VFIO_IOMMU_GET_INFO:
        return container_info(c, arg);
    case VFIO_IOMMU_MAP_DMA:
        return container_map(c, arg);
    case VFIO_IOMMU_UNMAP_DMA:
        return container_unmap(c, arg);
    case VFIO_IOMMU_DIRTY_PAGES:
        return container_dirty(c, arg);
    default:
        return ERR(-ENOTTY);
    }
}

void vfio_container_put(struct vfio_container *c)
{
    if (--c->refs)
        return;
    if (c->ictx)
        moat_iommufd_close(c->ictx);
    kfree(c->dmas);
    kfree(c);
}

static void container_release(struct file *f)
{
    vfio_container_put(f->priv);
}

static const struct file_ops container_ops = {
    .ioctl = container_ioctl,
    .release = container_release,
};

struct vfio_container *vfio_container_of(struct file *f)
{
    return f->ops == &container_ops ? f->priv : NULL;
}

static int container_open(const char *rest, int oflags, struct file **out)
{
    struct vfio_container *c = kzalloc(sizeof(*c));
    if (!c)
        return ERR(-ENOMEM);
    c->refs = 1;
    *out = file_new(&container_ops, c);
    if (!*out) {
        kfree(c);
        return ERR(-ENOMEM);
    }
    return 0;
}

static struct devnode container_node = { .path = "/dev/vfio/vfio", .open = container_open };

void vfio_container_register(void)
{
    devnode_register(&container_node);
}
