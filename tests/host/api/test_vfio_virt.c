/* The portable parts of the VFIO face's interrupt work: the config-space virtualization of the
 * command and status registers (iommu/vfio/vfio_config.c, vfio-pci's rules), and the eventfd
 * hooks that unmask INTx when an eventfd is written (kernel/fd.c, Linux's virqfd). */
#include "iommu/vfio/vfio_config.h"
#include <stdlib.h>

#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "tests/host/harness.h"

/* The descriptor table allocates from moat's heap: a small arena once. */
static void mem_setup(void)
{
    static void *arena;
    if (arena)
        return;
    arena = aligned_alloc(2u << 20, 4u << 20);
    pmm_reset();
    heap_reset();
    pmm_add_region((uint64_t)(uintptr_t)arena, 4u << 20);
}

TEST(config_read_overlays_the_virtual_interrupt_disable)
{
    struct vfio_vconfig v = { 0 };
    /* the function has Interrupt Disable set (moat masks), the program sees its own copy */
    CHECK_EQ(vfio_cfg_read(&v, 4, 2, 0x0406), 0x0006);
    CHECK_EQ(vfio_cfg_read(&v, 4, 4, 0x00180406), 0x00180006);
    CHECK_EQ(vfio_cfg_read(&v, 5, 1, 0x04), 0x00);
    CHECK_EQ(vfio_cfg_read(&v, 4, 1, 0x06), 0x06);
    v.command = VFIO_CFG_INTX_DISABLE;
    CHECK_EQ(vfio_cfg_read(&v, 4, 2, 0x0006), 0x0406);
    /* status passes through, Interrupt Status (bit 3) included */
    CHECK_EQ(vfio_cfg_read(&v, 6, 2, 0x0018), 0x0018);
    CHECK(vfio_cfg_virtualized(4, 2) && vfio_cfg_virtualized(4, 4) && vfio_cfg_virtualized(7, 1));
    CHECK(!vfio_cfg_virtualized(0, 2) && !vfio_cfg_virtualized(8, 4) && !vfio_cfg_virtualized(0x3c, 4));
}

TEST(config_write_keeps_the_real_bit_and_drops_status)
{
    struct vfio_vconfig v = { 0 };
    uint32_t hw;
    /* the program sets Interrupt Disable: only its copy changes, the function keeps its bit */
    CHECK_EQ(vfio_cfg_write(&v, 4, 2, 0x0406, 0x0000, &hw), 0x3);
    CHECK_EQ(hw, 0x0006);
    CHECK_EQ(v.command, VFIO_CFG_INTX_DISABLE);
    /* and clears it while moat has the real one set */
    CHECK_EQ(vfio_cfg_write(&v, 4, 2, 0x0002, 0x0406, &hw), 0x3);
    CHECK_EQ(hw, 0x0402);
    CHECK_EQ(v.command, 0);
    /* a dword write reaches the command register only: status is read-only (RW1C kept) */
    CHECK_EQ(vfio_cfg_write(&v, 4, 4, 0xffff0406, 0x40100006, &hw), 0x3);
    CHECK_EQ(hw & 0xffff, 0x0006);
    CHECK_EQ(v.command, VFIO_CFG_INTX_DISABLE);
    CHECK_EQ(vfio_cfg_write(&v, 6, 2, 0xffff, 0x4010, &hw), 0);
    CHECK_EQ(vfio_cfg_write(&v, 7, 1, 0xff, 0x40, &hw), 0);
    /* byte writes: the low command byte passes, the high one keeps the function's bit 10 */
    CHECK_EQ(vfio_cfg_write(&v, 4, 1, 0x07, 0x06, &hw), 0x1);
    CHECK_EQ(hw, 0x07);
    CHECK_EQ(vfio_cfg_write(&v, 5, 1, 0x01, 0x04, &hw), 0x1);
    CHECK_EQ(hw, 0x05);
    CHECK_EQ(v.command, 0);
    /* only Interrupt Disable is kept virtually */
    CHECK_EQ(vfio_cfg_write(&v, 4, 2, 0xffff, 0x0000, &hw), 0x3);
    CHECK_EQ(v.command, VFIO_CFG_INTX_DISABLE);
    CHECK_EQ(hw, 0xfbff);
}

struct hook_log {
    int fires, hups;
    int efd;                /* to signal from inside the hook, or -1 */
    struct file *f;
};

static void hook_fn(void *ctx)
{
    struct hook_log *l = ctx;
    l->fires++;
    if (l->f)
        eventfd_signal(l->f);   /* re-raising from inside: stays in the counter */
}

static void hook_hup(void *ctx)
{
    ((struct hook_log *)ctx)->hups++;
}

static long efd_put(int fd, uint64_t v)
{
    return sys_write(fd, &v, 8);
}

static long efd_get(int fd, uint64_t *v)
{
    return sys_read(fd, v, 8);
}

TEST(eventfd_hook_fires_inside_the_write_and_takes_the_count)
{
    mem_setup();
    int fd = sys_eventfd(0, 04000);
    REQUIRE(fd >= 0);
    struct file *f = fd_get(fd);
    REQUIRE(f && file_is_eventfd(f));
    struct hook_log l = { 0 };
    struct eventfd_hook h = { .fn = hook_fn, .hup = hook_hup, .ctx = &l };
    eventfd_hook_add(f, &h);
    CHECK_EQ(l.fires, 0);
    uint64_t v;
    CHECK_EQ(efd_put(fd, 3), 8);
    CHECK_EQ(l.fires, 1);
    CHECK_EQ(efd_get(fd, &v), -EAGAIN);          /* taken, as virqfd reads it */
    CHECK_EQ(efd_put(fd, 0), 8);                 /* Linux wakes waiters for 0 too */
    CHECK_EQ(l.fires, 2);
    eventfd_signal(f);
    CHECK_EQ(l.fires, 3);
    CHECK_EQ(efd_get(fd, &v), -EAGAIN);
    eventfd_hook_del(f, &h);
    CHECK_EQ(efd_put(fd, 2), 8);
    CHECK_EQ(l.fires, 3);
    CHECK_EQ(efd_get(fd, &v), 8);
    CHECK_EQ(v, 2);
    file_put(f);
    CHECK_EQ(sys_close(fd), 0);
    CHECK_EQ(l.hups, 0);                         /* removed before the close */
}

TEST(eventfd_hook_sees_an_earlier_raise_without_taking_it)
{
    mem_setup();
    int fd = sys_eventfd(5, 04000);
    struct file *f = fd_get(fd);
    REQUIRE(f);
    struct hook_log l = { 0 };
    struct eventfd_hook h = { .fn = hook_fn, .hup = hook_hup, .ctx = &l };
    eventfd_hook_add(f, &h);
    CHECK_EQ(l.fires, 1);
    uint64_t v;
    CHECK_EQ(efd_get(fd, &v), 8);
    CHECK_EQ(v, 5);
    eventfd_hook_del(f, &h);
    file_put(f);
    sys_close(fd);
}

TEST(eventfd_hook_no_recursion_and_hup_on_last_close)
{
    mem_setup();
    int fd = sys_eventfd(0, 04000);
    struct file *f = fd_get(fd);
    REQUIRE(f);
    struct hook_log a = { 0 }, b = { 0 };
    a.f = f;                                     /* a re-raises from inside */
    struct eventfd_hook ha = { .fn = hook_fn, .hup = hook_hup, .ctx = &a };
    struct eventfd_hook hb = { .fn = hook_fn, .hup = hook_hup, .ctx = &b };
    eventfd_hook_add(f, &ha);
    eventfd_hook_add(f, &hb);
    CHECK_EQ(efd_put(fd, 1), 8);
    CHECK_EQ(a.fires, 1);                        /* once each, no recursion */
    CHECK_EQ(b.fires, 1);
    uint64_t v;
    CHECK_EQ(efd_get(fd, &v), 8);                /* the inner raise stayed for a reader */
    CHECK_EQ(v, 1);
    a.f = NULL;
    file_put(f);                                 /* the hooks hold no reference */
    CHECK_EQ(a.hups + b.hups, 0);
    CHECK_EQ(sys_close(fd), 0);
    CHECK_EQ(a.hups, 1);
    CHECK_EQ(b.hups, 1);
}
