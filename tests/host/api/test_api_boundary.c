/* The face's memory boundary on the host: the same portable descriptor layer and ioctl face as
 * the image, with kernel/uaccess strict about what is the "program's" (pages registered here).
 * Anything else — this test's globals, the runtime heap, the zero page, kernel-half addresses —
 * is -EFAULT, nothing is written, and the object layer is left as it was. */
#include "tests/host/api/api_util.h"
#include "kernel/fd.h"
#include "kernel/uaccess.h"

static uint8_t foreign[4096] __attribute__((aligned(4096)));    /* "the runtime's" */

/* The face's rule for map calls: the program's memory at the access asked; identity below. */
static int prog_v2p(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    int vm_prot = (prot & IOMMU_IOAS_MAP_READABLE ? VM_PROT_READ : 0) |
                  (prot & IOMMU_IOAS_MAP_WRITEABLE ? VM_PROT_WRITE : 0);
    int err = vm_dma_check(va, len, vm_prot, false);
    if (!err)
        *pa = (uint64_t)(uintptr_t)va;
    return err;
}

struct prog {
    uint8_t *rw, *ro;
};

static void prog_enter(struct prog *p)
{
    p->rw = api_pages(5);       /* the fifth page is not the program's */
    p->ro = api_pages(1);
    REQUIRE(vm_prog_region(p->rw, 4 * 4096, VM_PROT_READ | VM_PROT_WRITE, VM_KIND_ANON) == 0);
    REQUIRE(vm_prog_region(p->ro, 4096, VM_PROT_READ, VM_KIND_ANON) == 0);
    vm_prog_strict(true);
}

static void prog_leave(void)
{
    vm_prog_reset();
}

TEST(ioctl_arguments_outside_the_program_are_efault)
{
    struct api_base b;
    api_setup(&b);
    struct prog p;
    prog_enter(&p);
    struct moat_iommufd *ctx;
    REQUIRE(moat_iommufd_open(&ctx) == 0);
    moat_iommufd_set_virt_to_phys(ctx, prog_v2p, NULL);
    struct iommu_ioas_alloc *a = (void *)p.rw;
    *a = (struct iommu_ioas_alloc){ .size = sizeof(*a) };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, a), 0);
    uint32_t ioas = a->out_ioas_id;
    /* the argument itself: a global, the zero page, the kernel half, read-only memory */
    memcpy(foreign, a, sizeof(*a));
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, foreign), -EFAULT);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, (void *)0x10), -EFAULT);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, (void *)0xffff800000000000ULL), -EFAULT);
    memcpy(p.ro, a, sizeof(*a));    /* the host can write it; the table says read-only */
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_ALLOC, p.ro), -EFAULT);  /* the answer needs write */
    /* an argument straddling the end of the program's memory */
    struct iommu_ioas_map *edge = (void *)(p.rw + 4 * 4096 - 8);
    edge->size = sizeof(*edge);     /* the size is read; the rest runs off the end */
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, edge), -EFAULT);
    /* a pointer inside the argument */
    struct iommu_ioas_iova_ranges *r = (void *)p.rw;
    *r = (struct iommu_ioas_iova_ranges){ .size = sizeof(*r), .ioas_id = ioas, .num_iovas = 4,
                                          .allowed_iovas = (uintptr_t)foreign };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, r), -EFAULT);
    r->allowed_iovas = (uintptr_t)(p.rw + 4096);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_IOVA_RANGES, r), 0);
    /* map: the program's writable memory, read-only memory only for a device that reads */
    struct iommu_ioas_map *m = (void *)p.rw;
    *m = (struct iommu_ioas_map){ .size = sizeof(*m), .ioas_id = ioas, .iova = 0x100000,
                                  .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                                           IOMMU_IOAS_MAP_WRITEABLE,
                                  .user_va = (uintptr_t)foreign, .length = 4096 };
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, m), -EFAULT);
    m->user_va = (uintptr_t)p.ro;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, m), -EFAULT);
    m->flags &= ~(uint32_t)IOMMU_IOAS_MAP_WRITEABLE;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, m), 0);
    m->flags |= IOMMU_IOAS_MAP_WRITEABLE;
    m->iova = 0x200000;
    m->user_va = (uintptr_t)(p.rw + 3 * 4096);      /* runs one page past the program's memory */
    m->length = 2 * 4096;
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, m), -EFAULT);
    m->user_va = (uintptr_t)(p.rw + 2 * 4096);
    CHECK_EQ(moat_iommufd_ioctl(ctx, IOMMU_IOAS_MAP, m), 0);
    CHECK(moat_iommufd_is_pinned(p.ro, 4096));
    CHECK(moat_iommufd_is_pinned(p.rw + 3 * 4096, 1));
    CHECK(!moat_iommufd_is_pinned(foreign, sizeof(foreign)));   /* nothing of the refused ones */
    moat_iommufd_close(ctx);
    prog_leave();
    API_CLEAN(&b);
}

TEST(descriptor_calls_outside_the_program_are_efault)
{
    struct api_base b;
    api_setup(&b);
    struct prog p;
    prog_enter(&p);
    int efd = sys_eventfd(7, 04000);
    REQUIRE(efd >= 3);
    uint64_t *v = (void *)p.rw;
    memset(foreign, 0xee, sizeof(foreign));
    CHECK_EQ(sys_read(efd, foreign, 8), -EFAULT);
    CHECK_EQ(sys_read(efd, p.ro, 8), -EFAULT);
    CHECK_EQ(sys_read(efd, p.rw + 4 * 4096 - 4, 8), -EFAULT);
    CHECK_EQ(sys_read(efd, (void *)0x10, 8), -EFAULT);
    CHECK_EQ(sys_read(efd, p.rw, SIZE_MAX), -EFAULT);
    CHECK_EQ(foreign[0], 0xee);
    CHECK_EQ(sys_read(efd, v, 8), 8);       /* the count survived the refusals */
    CHECK_EQ(*v, 7);
    *(uint64_t *)foreign = 1;
    CHECK_EQ(sys_write(efd, foreign, 8), -EFAULT);
    CHECK_EQ(sys_write(efd, p.ro, 8), 8);   /* reading read-only memory is fine */
    /* poll arrays: inside, straddling, foreign */
    struct file_pollfd *pf = (void *)p.rw;
    *pf = (struct file_pollfd){ efd, FILE_POLLOUT, 0 };
    CHECK_EQ(sys_poll(pf, 1, 0), 1);
    CHECK_EQ(pf->revents, FILE_POLLOUT);
    CHECK_EQ(sys_poll((void *)(p.rw + 4 * 4096 - 8), 2, 0), -EFAULT);
    CHECK_EQ(sys_poll((void *)foreign, 1, 0), -EFAULT);
    CHECK_EQ(sys_poll(pf, FILE_POLL_MAX + 1, 0), -EINVAL);
    /* paths: foreign, unterminated at the end of the program's memory, too long */
    CHECK_EQ(sys_open((const char *)foreign, 0), -EFAULT);
    memcpy(p.rw + 4 * 4096 - 4, "/dev", 4);
    CHECK_EQ(sys_open((const char *)(p.rw + 4 * 4096 - 4), 0), -EFAULT);
    memset(p.rw, 'a', 4 * 4096 - 1);
    p.rw[4 * 4096 - 1] = 0;
    CHECK_EQ(sys_open((const char *)p.rw, 0), -ENAMETOOLONG);
    p.rw[0] = 0;
    CHECK_EQ(sys_open((const char *)p.rw, 0), -ENOENT);
    CHECK_EQ(sys_readlink((const char *)foreign, (char *)p.rw, 16), -EFAULT);
    CHECK_EQ(sys_readlink("/nowhere", (char *)p.rw, 0), -EINVAL);
    CHECK_EQ(sys_ioctl(efd, 0, (unsigned long)foreign), -ENOTTY);
    CHECK_EQ(sys_console_write(foreign, 4), -EFAULT);
    CHECK_EQ(sys_close(efd), 0);
    prog_leave();
    API_CLEAN(&b);
}
