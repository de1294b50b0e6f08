/* The program-memory table and the copy path (kernel/uaccess.c): every boundary of every kind
 * of region, swept against a per-page model of what was registered. */
#include <stdlib.h>

#include "harness.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/uaccess.h"
#include "lib/errno.h"

#define PG 4096UL
#define NPAGES 24

static uint8_t *arena;
/* The model: per page, -1 when not the program's, else prot | kind << 4. */
static int model[NPAGES];

struct layout {
    unsigned first, n;
    int prot;
    enum vm_kind kind;
};

/* Gaps at 0-1, 8, 11, 15 and 20-23; 2-5 and 6-7 adjacent with different protections. */
static const struct layout layout[] = {
    { 2, 4, VM_PROT_READ | VM_PROT_WRITE, VM_KIND_ANON },
    { 6, 2, VM_PROT_READ, VM_KIND_ANON },
    { 9, 2, VM_PROT_READ | VM_PROT_WRITE, VM_KIND_BAR },
    { 12, 2, VM_PROT_READ | VM_PROT_WRITE, VM_KIND_STATIC },
    { 14, 1, VM_PROT_READ, VM_KIND_STATIC },
    { 16, 4, VM_PROT_READ | VM_PROT_WRITE, VM_KIND_STACK },
};

static void setup(void)
{
    vm_prog_reset();
    if (!arena) {
        static void *pool;
        pool = aligned_alloc(2u << 20, 2u << 20);
        pmm_reset();
        heap_reset();
        pmm_add_region((uint64_t)(uintptr_t)pool, 2u << 20);
        arena = aligned_alloc(PG, NPAGES * PG);
    }
    for (unsigned p = 0; p < NPAGES; p++)
        model[p] = -1;
    for (unsigned i = 0; i < ARRAY_SIZE(layout); i++) {
        const struct layout *l = &layout[i];
        CHECK_EQ(vm_prog_region(arena + l->first * PG, l->n * PG, l->prot, l->kind), 0);
        for (unsigned p = l->first; p < l->first + l->n; p++)
            model[p] = l->prot | (int)l->kind << 4;
    }
    vm_prog_strict(true);
}

/* What the model says of [off, off + len) for a copy (byte-granular) or a device (whole pages). */
static int expect(size_t off, size_t len, int prot, bool dma, bool allow_bar)
{
    if (!len)
        return dma ? -EFAULT : 0;
    size_t first = off / PG, last = (off + len - 1) / PG;
    for (size_t p = first; p <= last; p++) {
        if (p >= NPAGES || model[p] < 0 || (model[p] & prot) != prot)
            return -EFAULT;
        enum vm_kind k = (enum vm_kind)(model[p] >> 4);
        if (dma && (k == VM_KIND_STACK || (k == VM_KIND_BAR && !allow_bar)))
            return -EFAULT;
    }
    return 0;
}

TEST(sweep_every_boundary)
{
    setup();
    static const size_t lens[] = { 0, 1, 2, 7, PG - 1, PG, PG + 1, 2 * PG, 3 * PG + 5, 6 * PG };
    static const int prots[] = { VM_PROT_READ, VM_PROT_WRITE, VM_PROT_READ | VM_PROT_WRITE };
    unsigned cases = 0;
    for (unsigned b = 1; b < NPAGES - 1; b++) {
        for (long d = -3; d <= 3; d++) {
            size_t off = b * PG + (size_t)d;
            for (unsigned li = 0; li < ARRAY_SIZE(lens); li++) {
                /* ranges starting at a boundary and ranges ending at it */
                size_t starts[2] = { off, off >= lens[li] ? off - lens[li] : off };
                for (unsigned si = 0; si < 2; si++) {
                    size_t s = starts[si], len = lens[li];
                    if (s + len > NPAGES * PG)
                        continue;
                    for (unsigned pi = 0; pi < ARRAY_SIZE(prots); pi++) {
                        int pr = prots[pi];
                        CHECK_EQ(uaccess_check(arena + s, len, pr), expect(s, len, pr, false, false));
                        CHECK_EQ(vm_dma_check(arena + s, len, pr, false), expect(s, len, pr, true, false));
                        CHECK_EQ(vm_dma_check(arena + s, len, pr, true), expect(s, len, pr, true, true));
                        cases += 3;
                    }
                }
            }
        }
    }
    CHECK(cases > 10000);
    vm_prog_reset();
}

TEST(addresses_never_the_programs)
{
    setup();
    static const uintptr_t bad[] = {
        0, 0x10, PG - 1,                            /* the zero page */
        0x0000800000000000ULL,                      /* first non-canonical */
        0x0000ffffffffffffULL, 0xdead000000000000ULL,
        0xffff800000000000ULL, 0xffffffff80000000ULL, /* the kernel half */
        0xfffffffffffff000ULL,
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        CHECK_EQ(uaccess_check((void *)bad[i], 1, VM_PROT_READ), -EFAULT);
        CHECK_EQ(vm_dma_check((void *)bad[i], PG, VM_PROT_READ, true), -EFAULT);
    }
    /* sizes that wrap, from inside the program's memory */
    CHECK_EQ(uaccess_check(arena + 2 * PG, SIZE_MAX, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check(arena + 2 * PG, (size_t)0 - (uintptr_t)arena, VM_PROT_READ), -EFAULT);
    CHECK_EQ(vm_dma_check(arena + 2 * PG, UINT64_MAX - PG + 1, VM_PROT_READ, true), -EFAULT);
    CHECK_EQ(vm_dma_check(arena + 2 * PG, 0, VM_PROT_READ, true), -EFAULT);
    /* the runtime's own memory: this test's code and a global */
    CHECK_EQ(uaccess_check((void *)(uintptr_t)&setup, 1, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check(&model, sizeof(model), VM_PROT_READ), -EFAULT);
    /* outside strict mode (the runtime's own callers) only impossible addresses fail */
    vm_prog_strict(false);
    CHECK_EQ(uaccess_check(&model, sizeof(model), VM_PROT_WRITE), 0);
    CHECK_EQ(uaccess_check((void *)0x10, 4, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check((void *)0x0000800000000000ULL, 4, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check(arena, SIZE_MAX, VM_PROT_READ), -EFAULT);
    vm_prog_reset();
}

TEST(copies_touch_nothing_on_failure)
{
    setup();
    uint8_t buf[64];
    memset(buf, 0xa5, sizeof(buf));
    memset(arena + 6 * PG, 0x11, 2 * PG);
    /* the end of the read-write run into the read-only one */
    CHECK_EQ(uaccess_copy_to(arena + 6 * PG - 32, buf, 64), -EFAULT);
    CHECK_EQ(arena[6 * PG - 32], 0);
    CHECK_EQ(arena[6 * PG], 0x11);
    CHECK_EQ(uaccess_copy_to(arena + 6 * PG - 64, buf, 64), 0);
    CHECK_EQ(arena[6 * PG - 1], 0xa5);
    CHECK_EQ(uaccess_copy_from(buf, arena + 8 * PG - 32, 64), -EFAULT);   /* into the gap */
    CHECK_EQ(buf[0], 0xa5);
    CHECK_EQ(uaccess_copy_from(buf, arena + 8 * PG - 64, 64), 0);
    CHECK_EQ(buf[0], 0x11);
    vm_prog_reset();
}

TEST(strings_stop_at_the_boundary)
{
    setup();
    char out[64];
    char *end = (char *)arena + 6 * PG;     /* the read-only run ends at 8 * PG */
    memcpy(end + 2 * PG - 5, "/dev/", 5);
    memcpy(arena + 2 * PG, "/dev/iommu", 11);
    CHECK_EQ(uaccess_strncpy(out, (char *)arena + 2 * PG, sizeof(out)), 10);
    CHECK_STR(out, "/dev/iommu");
    /* unterminated before the gap: -EFAULT, not a read past it */
    CHECK_EQ(uaccess_strncpy(out, end + 2 * PG - 5, sizeof(out)), -EFAULT);
    memset(arena + 2 * PG, 'x', 100);
    CHECK_EQ(uaccess_strncpy(out, (char *)arena + 2 * PG, sizeof(out)), -ENAMETOOLONG);
    CHECK_EQ(uaccess_strncpy(out, (char *)0x10, sizeof(out)), -EFAULT);
    CHECK_EQ(uaccess_strncpy(out, (char *)arena + 8 * PG, sizeof(out)), -EFAULT);
    vm_prog_reset();
}

TEST(stack_below_the_entry_frame_is_the_runtimes)
{
    setup();
    uint8_t *stack = arena + 16 * PG;
    uaccess_enter(stack + 2 * PG);
    CHECK_EQ(uaccess_check(stack + 2 * PG + 16, 64, VM_PROT_WRITE), 0);
    CHECK_EQ(uaccess_check(stack + 2 * PG, 8, VM_PROT_WRITE), -EFAULT);
    CHECK_EQ(uaccess_check(stack + PG, 8, VM_PROT_READ), -EFAULT);
    CHECK_EQ(vm_dma_check(stack + 3 * PG, PG, VM_PROT_READ, true), -EFAULT);
    vm_prog_reset();
}

/* A thread's stack (posix/thread.c) is a second stack region: a copy may reach all of a stack
 * that is not running (its thread is suspended in the program's code), only the part above the
 * system call's frames of the running one; no device reaches either. */
TEST(a_suspended_threads_stack_is_the_programs_whole)
{
    setup();
    uint8_t *main_stack = arena + 16 * PG, *thread_stack = arena + 21 * PG;
    CHECK_EQ(vm_prog_region(thread_stack, 2 * PG, VM_PROT_READ | VM_PROT_WRITE, VM_KIND_STACK), 0);
    uaccess_enter(thread_stack + PG);           /* the thread runs */
    CHECK_EQ(uaccess_check(thread_stack + PG + 16, 64, VM_PROT_WRITE), 0);
    CHECK_EQ(uaccess_check(thread_stack + PG - 8, 8, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check(thread_stack, 8, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check(main_stack, 4 * PG, VM_PROT_WRITE), 0);
    CHECK_EQ(vm_dma_check(thread_stack, PG, VM_PROT_READ, true), -EFAULT);
    CHECK_EQ(vm_dma_check(main_stack, PG, VM_PROT_READ, true), -EFAULT);
    uaccess_enter(main_stack + 3 * PG);         /* the main thread runs again */
    CHECK_EQ(uaccess_check(thread_stack, 2 * PG, VM_PROT_WRITE), 0);
    CHECK_EQ(uaccess_check(main_stack + 2 * PG, 8, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check(main_stack + 3 * PG + 16, 8, VM_PROT_READ), 0);
    vm_prog_reset();
}

TEST(protect_forget_and_replace)
{
    setup();
    /* mprotect the middle of the read-write anonymous run read-only: three pieces */
    CHECK_EQ(vm_prog_protect(arena + 3 * PG, 2 * PG, VM_PROT_READ), 0);
    CHECK_EQ(vm_dma_check(arena + 2 * PG, PG, VM_PROT_WRITE, false), 0);
    CHECK_EQ(vm_dma_check(arena + 3 * PG, PG, VM_PROT_WRITE, false), -EFAULT);
    CHECK_EQ(vm_dma_check(arena + 4 * PG, PG, VM_PROT_WRITE, false), -EFAULT);
    CHECK_EQ(vm_dma_check(arena + 5 * PG, PG, VM_PROT_WRITE, false), 0);
    CHECK_EQ(vm_dma_check(arena + 3 * PG, 2 * PG, VM_PROT_READ, false), 0);
    CHECK_EQ(vm_prog_prot(arena + 4 * PG), VM_PROT_READ);
    /* across pieces and kinds; a page that is not the program's anywhere: -ENOMEM, no change */
    CHECK_EQ(vm_prog_protect(arena + 2 * PG, 6 * PG, VM_PROT_READ | VM_PROT_WRITE), 0);
    CHECK_EQ(vm_dma_check(arena + 2 * PG, 6 * PG, VM_PROT_WRITE, false), 0);
    CHECK_EQ(vm_prog_protect(arena + 7 * PG, 2 * PG, VM_PROT_READ), -ENOMEM);
    CHECK_EQ(vm_prog_prot(arena + 7 * PG), VM_PROT_READ | VM_PROT_WRITE);
    CHECK_EQ(vm_prog_protect(arena + 7 * PG + 1, PG, VM_PROT_READ), -EINVAL);
    CHECK_EQ(vm_prog_protect(arena + 2 * PG, 0, 0), 0);
    CHECK_EQ(vm_prog_protect(arena + 2 * PG, PG, 0), 0);
    CHECK_EQ(uaccess_check(arena + 2 * PG, 1, VM_PROT_READ), -EFAULT);     /* PROT_NONE */
    /* munmap of the middle: the ends stay */
    vm_prog_forget(arena + 13 * PG, PG);
    CHECK_EQ(uaccess_check(arena + 12 * PG, PG, VM_PROT_WRITE), 0);
    CHECK_EQ(uaccess_check(arena + 13 * PG, 1, VM_PROT_READ), -EFAULT);
    CHECK_EQ(uaccess_check(arena + 14 * PG, 1, VM_PROT_READ), 0);
    /* a new registration replaces what it covers */
    CHECK_EQ(vm_prog_region(arena + 9 * PG, PG, VM_PROT_READ | VM_PROT_WRITE, VM_KIND_ANON), 0);
    CHECK_EQ(vm_dma_check(arena + 9 * PG, PG, VM_PROT_WRITE, false), 0);
    CHECK_EQ(vm_dma_check(arena + 10 * PG, PG, VM_PROT_WRITE, false), -EFAULT);
    CHECK_EQ(vm_prog_region(arena, 0, VM_PROT_READ, VM_KIND_ANON), -EINVAL);
    vm_prog_reset();
}
