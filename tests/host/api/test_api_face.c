/* The ioctl face's descriptors and compat state: IOMMU_FAULT_QUEUE_ALLOC's fault fd (read,
 * poll, write, close, against Linux's fault.c rules) and IOMMU_VFIO_IOAS (vfio_compat.c). */
#include "tests/host/api/api_util.h"
#include "kernel/fd.h"

static void fire(struct pci_dev *p, uint64_t addr, bool write)
{
    struct iommu_fault f = { .seg = p->seg, .rid = (uint16_t)(p->bus << 8 | p->devfn),
                             .addr = addr, .write = write, .reason = 5, .text = "mock" };
    iommu_report_fault(mock_unit(p->seg), &f);
}

static short poll1(int fd)
{
    struct file_pollfd p = { fd, FILE_POLLIN | FILE_POLLRDNORM | FILE_POLLOUT, 0 };
    CHECK_EQ(sys_poll(&p, 1, 0), 1);
    return p.revents;
}

/* A context with device 2 attached to an HWPT that reports to a fault queue with a descriptor. */
struct fault_fix {
    struct moat_iommufd *ctx;
    uint32_t dev, fault_id, hwpt;
    int fd;
};

static void fault_fix_open(struct fault_fix *x)
{
    REQUIRE(moat_iommufd_open(&x->ctx) == 0);
    uint32_t ioas = api_ioas_alloc(x->ctx);
    REQUIRE(moat_device_bind(x->ctx, &api_devs[2], &x->dev) == 0);
    struct iommu_fault_alloc fa = { .size = sizeof(fa) };
    REQUIRE(moat_iommufd_ioctl(x->ctx, IOMMU_FAULT_QUEUE_ALLOC, &fa) == 0);
    x->fault_id = fa.out_fault_id;
    x->fd = (int)fa.out_fault_fd;
    struct iommu_hwpt_alloc ha = { .size = sizeof(ha), .dev_id = x->dev, .pt_id = ioas,
                                   .flags = IOMMU_HWPT_FAULT_ID_VALID, .fault_id = x->fault_id };
    REQUIRE(moat_iommufd_ioctl(x->ctx, IOMMU_HWPT_ALLOC, &ha) == 0);
    x->hwpt = ha.out_hwpt_id;
    uint32_t pt = x->hwpt;
    REQUIRE(moat_device_attach(x->ctx, x->dev, &pt) == 0);
}

TEST(fault_fd_read_poll_linux_records)
{
    struct api_base b;
    api_setup(&b);
    struct fault_fix x;
    fault_fix_open(&x);
    CHECK(x.fd >= 3);
    CHECK_EQ(poll1(x.fd), FILE_POLLOUT);       /* nothing waits: writable only */
    struct iommu_hwpt_pgfault rec[4];
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec)), 0);      /* empty: 0, no blocking */
    fire(&api_devs[2], 0x7000, true);
    fire(&api_devs[2], 0x9000, false);
    fire(&api_devs[2], 0xb000, true);
    CHECK_EQ(poll1(x.fd), FILE_POLLIN | FILE_POLLRDNORM | FILE_POLLOUT);
    /* Linux's length rules: whole records (-ESPIPE), a record must fit (-EINVAL), no offsets. */
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec[0]) - 1), -ESPIPE);
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec[0]) + 8), -ESPIPE);
    CHECK_EQ(sys_read(x.fd, rec, 0), -EINVAL);
    CHECK_EQ(sys_pread(x.fd, rec, sizeof(rec[0]), 0), -ESPIPE);
    memset(rec, 0xa5, sizeof(rec));
    CHECK_EQ(sys_read(x.fd, rec, 2 * sizeof(rec[0])), 2 * (long)sizeof(rec[0]));
    CHECK_EQ(rec[0].flags, IOMMU_PGFAULT_FLAGS_LAST_PAGE);
    CHECK_EQ(rec[0].dev_id, x.dev);
    CHECK_EQ(rec[0].pasid, 0);
    CHECK_EQ(rec[0].grpid, 0);
    CHECK_EQ(rec[0].perm, IOMMU_PGFAULT_PERM_WRITE);
    CHECK_EQ(rec[0].__reserved, 0);
    CHECK_EQ(rec[0].addr, 0x7000);
    CHECK_EQ(rec[0].length, 0);
    CHECK_EQ(rec[0].cookie, 1);
    CHECK_EQ(rec[1].perm, IOMMU_PGFAULT_PERM_READ);
    CHECK_EQ(rec[1].addr, 0x9000);
    CHECK_EQ(rec[1].cookie, 2);
    CHECK_EQ(poll1(x.fd), FILE_POLLIN | FILE_POLLRDNORM | FILE_POLLOUT);
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec)), (long)sizeof(rec[0]));     /* what is left */
    CHECK_EQ(rec[0].addr, 0xb000);
    CHECK_EQ(rec[0].cookie, 3);
    CHECK_EQ(poll1(x.fd), FILE_POLLOUT);
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec)), 0);
    /* Responses: known cookies and codes only (the faults need no answer). */
    struct iommu_hwpt_page_response resp[2] = {
        { .cookie = 1, .code = IOMMUFD_PAGE_RESP_INVALID },
        { .cookie = 9, .code = IOMMUFD_PAGE_RESP_SUCCESS },
    };
    CHECK_EQ(sys_write(x.fd, resp, 1), -ESPIPE);
    CHECK_EQ(sys_write(x.fd, resp, sizeof(resp)), (long)sizeof(resp[0]));    /* done so far */
    CHECK_EQ(sys_write(x.fd, &resp[1], sizeof(resp[1])), -EINVAL);
    resp[0].code = 7;
    CHECK_EQ(sys_write(x.fd, resp, sizeof(resp[0])), -EINVAL);
    CHECK_EQ(sys_pwrite(x.fd, resp, sizeof(resp[0]), 0), -ESPIPE);
    /* Faults the native reader takes are gone from the descriptor too: one queue. */
    fire(&api_devs[2], 0xd000, true);
    uint32_t n;
    struct moat_fault_record r;
    CHECK_EQ(moat_fault_queue_read(x.ctx, x.fault_id, &r, 1, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec)), 0);
    CHECK_EQ(sys_close(x.fd), 0);
    moat_iommufd_close(x.ctx);
    API_CLEAN(&b);
}

/* The queue's ring is bounded: a reader that falls behind loses the newest records, never the
 * oldest, and the descriptor sees exactly what the ring kept. */
TEST(fault_fd_overflow_keeps_oldest)
{
    struct api_base b;
    api_setup(&b);
    struct fault_fix x;
    fault_fix_open(&x);
    for (unsigned i = 0; i < MOAT_FAULT_QUEUE_DEPTH + 3; i++)
        fire(&api_devs[2], 0x100000 + i * 0x1000ULL, true);
    static struct iommu_hwpt_pgfault rec[MOAT_FAULT_QUEUE_DEPTH + 3];
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec)), MOAT_FAULT_QUEUE_DEPTH * (long)sizeof(rec[0]));
    CHECK_EQ(rec[0].addr, 0x100000);
    CHECK_EQ(rec[MOAT_FAULT_QUEUE_DEPTH - 1].cookie, MOAT_FAULT_QUEUE_DEPTH);
    uint64_t over;
    CHECK_EQ(moat_fault_queue_overflows(x.ctx, x.fault_id, &over), 0);
    CHECK_EQ(over, 3);
    fire(&api_devs[2], 0x900000, true);                 /* room again */
    CHECK_EQ(sys_read(x.fd, rec, sizeof(rec)), (long)sizeof(rec[0]));
    CHECK_EQ(rec[0].addr, 0x900000);
    CHECK_EQ(sys_close(x.fd), 0);
    moat_iommufd_close(x.ctx);
    API_CLEAN(&b);
}

/* Lifetime as in Linux: the descriptor is a user of the queue (IOMMU_DESTROY -EBUSY until it is
 * closed) and holds the context (closing the context first defers its teardown). */
TEST(fault_fd_lifetime)
{
    struct api_base b;
    api_setup(&b);
    struct fault_fix x;
    fault_fix_open(&x);
    struct iommu_destroy d = { .size = sizeof(d), .id = x.hwpt };
    CHECK_EQ(moat_device_detach(x.ctx, x.dev), 0);
    CHECK_EQ(moat_iommufd_ioctl(x.ctx, IOMMU_DESTROY, &d), 0);     /* the HWPT let go */
    d.id = x.fault_id;
    CHECK_EQ(moat_iommufd_ioctl(x.ctx, IOMMU_DESTROY, &d), -EBUSY); /* the fd holds it */
    CHECK_EQ(sys_close(x.fd), 0);
    CHECK_EQ(sys_close(x.fd), -EBADF);
    CHECK_EQ(sys_read(x.fd, &d, 64), -EBADF);
    CHECK_EQ(moat_iommufd_ioctl(x.ctx, IOMMU_DESTROY, &d), 0);      /* now it goes */
    CHECK_EQ(moat_iommufd_ioctl(x.ctx, IOMMU_DESTROY, &d), -ENOENT);
    moat_iommufd_close(x.ctx);
    API_CLEAN(&b);

    /* Context closed while the descriptor is open: objects live on, faults still arrive. */
    api_setup(&b);
    fault_fix_open(&x);
    moat_iommufd_close(x.ctx);
    CHECK(heap_live_bytes() > b.heap);
    CHECK_EQ(mock_attached_devs(), 1);
    fire(&api_devs[2], 0x4000, true);
    struct iommu_hwpt_pgfault rec;
    CHECK_EQ(sys_read(x.fd, &rec, sizeof(rec)), (long)sizeof(rec));
    CHECK_EQ(rec.addr, 0x4000);
    CHECK_EQ(sys_close(x.fd), 0);                       /* the last reference: teardown */
    API_CLEAN(&b);
}

static int plain_from(void *arg, void *dst, uint64_t uptr, size_t len)
{
    memcpy(dst, (const void *)(uintptr_t)uptr, len);
    return 0;
}

static int failing_to(void *arg, uint64_t uptr, const void *src, size_t len)
{
    return -EFAULT;
}

/* Every allocation of IOMMU_FAULT_QUEUE_ALLOC fails in turn: an error, nothing left behind. */
TEST(fault_fd_alloc_fail_nth)
{
    struct api_base b;
    api_setup(&b);
    for (unsigned long nth = 1;; nth++) {
        struct moat_iommufd *ctx;
        REQUIRE(moat_iommufd_open(&ctx) == 0);
        struct iommu_fault_alloc fa = { .size = sizeof(fa) };
        moat_iommufd_fail_nth(nth);
        int err = moat_iommufd_ioctl(ctx, IOMMU_FAULT_QUEUE_ALLOC, &fa);
        moat_iommufd_fail_nth(0);
        if (!err) {
            CHECK_EQ(sys_close((int)fa.out_fault_fd), 0);
            moat_iommufd_close(ctx);
            API_CLEAN(&b);
            CHECK(nth > 2);
            break;
        }
        CHECK_EQ(err, -ENOMEM);
        CHECK_EQ(ctx->nr_objs, 0);
        CHECK_EQ(ctx->refs, 1);
        moat_iommufd_close(ctx);
        API_CLEAN(&b);
    }
    /* A response that cannot be written back closes the descriptor and drops the queue. */
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    struct moat_uaccess ua = { plain_from, failing_to, NULL };
    moat_iommufd_set_uaccess(ctx, &ua);
    struct iommu_fault_alloc fa = { .size = sizeof(fa) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_FAULT_QUEUE_ALLOC, &fa), -EFAULT);
    CHECK_EQ(ctx->nr_objs, 0);
    CHECK_EQ(ctx->refs, 1);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}

TEST(vfio_ioas_get_set_clear)
{
    struct api_base b;
    api_setup(&b);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    uint32_t ioas = api_ioas_alloc(ctx), other = api_ioas_alloc(ctx);
    struct iommu_vfio_ioas v = { .size = sizeof(v), .op = IOMMU_VFIO_IOAS_GET };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -ENODEV);    /* none yet */
    v = (struct iommu_vfio_ioas){ .size = sizeof(v), .op = IOMMU_VFIO_IOAS_SET, .ioas_id = 77 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -ENOENT);
    struct iommu_fault_alloc fa = { .size = sizeof(fa) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_FAULT_QUEUE_ALLOC, &fa), 0);
    v.ioas_id = fa.out_fault_id;                            /* an object, not an IOAS */
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -ENOENT);
    v.ioas_id = ioas;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), 0);
    v = (struct iommu_vfio_ioas){ .size = sizeof(v), .op = IOMMU_VFIO_IOAS_GET };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), 0);
    CHECK_EQ(v.ioas_id, ioas);
    v = (struct iommu_vfio_ioas){ .size = sizeof(v), .op = IOMMU_VFIO_IOAS_SET, .ioas_id = other };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), 0);      /* SET replaces */
    v.op = IOMMU_VFIO_IOAS_GET;
    v.ioas_id = 0;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), 0);
    CHECK_EQ(v.ioas_id, other);
    /* Bad requests. */
    v.op = 3;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -EOPNOTSUPP);
    v.op = IOMMU_VFIO_IOAS_GET;
    v.__reserved = 1;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -EOPNOTSUPP);
    v.__reserved = 0;
    v.size = 8;                                             /* below offsetofend(__reserved) */
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -EINVAL);
    /* CLEAR forgets it and destroys nothing. */
    v = (struct iommu_vfio_ioas){ .size = sizeof(v), .op = IOMMU_VFIO_IOAS_CLEAR };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), 0);
    v.op = IOMMU_VFIO_IOAS_GET;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -ENODEV);
    CHECK(ioas_get(ctx, other) != NULL);
    /* Destroying the compat IOAS forgets it. */
    v = (struct iommu_vfio_ioas){ .size = sizeof(v), .op = IOMMU_VFIO_IOAS_SET, .ioas_id = ioas };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), 0);
    struct iommu_destroy d = { .size = sizeof(d), .id = ioas };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_DESTROY, &d), 0);
    v.op = IOMMU_VFIO_IOAS_GET;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_VFIO_IOAS, &v), -ENODEV);
    CHECK_EQ(sys_close((int)fa.out_fault_fd), 0);
    moat_iommufd_close(ctx);
    API_CLEAN(&b);
}
