#include "kernel/uaccess.h"
#include "kernel/mm/buddy.h"
#include "kernel/mm/heap.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

/* One run of pages with one protection and kind; the table is sorted and never overlaps. */
struct prog_region {
    uintptr_t start, end;
    uint8_t prot;
    uint8_t kind;
};

static struct prog_region *regions;
static unsigned nr_regions, cap_regions;
static bool strict;
static uintptr_t stack_floor;

/* x86_64's lower canonical half ends here; nothing at or above it is ever the program's. */
#define USER_TOP 0x0000800000000000ULL

void vm_prog_strict(bool on)
{
    strict = on;
}

bool vm_prog_is_strict(void)
{
    return strict;
}

void vm_prog_reset(void)
{
    kfree(regions);
    regions = NULL;
    nr_regions = cap_regions = 0;
    strict = false;
    stack_floor = 0;
}

void uaccess_enter(const void *frame)
{
    /* above the entry's saved frame pointer and return address */
    stack_floor = (uintptr_t)frame + 2 * sizeof(void *);
}

/* Room for `more` regions beyond the current ones. */
static int reserve(unsigned more)
{
    if (nr_regions + more <= cap_regions)
        return 0;
    unsigned cap = MAX(cap_regions * 2, nr_regions + more + 8);
    struct prog_region *n = kcalloc(cap, sizeof(*n));
    if (!n)
        return ERR(-ENOMEM);
    if (nr_regions)
        memcpy(n, regions, nr_regions * sizeof(*n));
    kfree(regions);
    regions = n;
    cap_regions = cap;
    return 0;
}

/* The first region that ends above a (nr_regions when none). */
static unsigned first_above(uintptr_t a)
{
    unsigned lo = 0, hi = nr_regions;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (regions[mid].end <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void remove_at(unsigned i)
{
    memmove(&regions[i], &regions[i + 1], (nr_regions - i - 1) * sizeof(regions[0]));
    nr_regions--;
}

/* Takes [s, e) out of the table. Splitting a region needs a slot; without one, the region's
 * upper part is dropped too (forgetting more than asked never lets a device reach more). */
static void carve(uintptr_t s, uintptr_t e)
{
    for (unsigned i = first_above(s); i < nr_regions && regions[i].start < e;) {
        struct prog_region *r = &regions[i];
        if (r->start < s && r->end > e) {
            if (nr_regions < cap_regions) {
                memmove(r + 2, r + 1, (nr_regions - i - 1) * sizeof(*r));
                r[1] = *r;
                r[1].start = e;
                nr_regions++;
            }
            r->end = s;
            return;
        }
        if (r->start < s) {
            r->end = s;
            i++;
        } else if (r->end > e) {
            r->start = e;
            return;
        } else {
            remove_at(i);
        }
    }
}

static void insert(struct prog_region n)
{
    unsigned i = first_above(n.start);
    memmove(&regions[i + 1], &regions[i], (nr_regions - i) * sizeof(regions[0]));
    regions[i] = n;
    nr_regions++;
}

/* WRITE implies READ on x86_64 (a writable page is readable). */
static uint8_t norm_prot(int prot)
{
    prot &= VM_PROT_READ | VM_PROT_WRITE;
    return (uint8_t)(prot & VM_PROT_WRITE ? prot | VM_PROT_READ : prot);
}

/* The page-rounded span of [va, va + len); false when it is empty or wraps. */
static bool page_span(const void *va, uint64_t len, uintptr_t *s, uintptr_t *e)
{
    uintptr_t a = (uintptr_t)va, last;
    if (!len || __builtin_add_overflow(a, len - 1, &last) || last >= UINTPTR_MAX - PAGE_SIZE)
        return false;
    *s = ALIGN_DOWN(a, PAGE_SIZE);
    *e = ALIGN_UP(last + 1, PAGE_SIZE);
    return true;
}

int vm_prog_region(const void *va, size_t len, int prot, enum vm_kind kind)
{
    uintptr_t s, e;
    if (!page_span(va, len, &s, &e))
        return ERR(-EINVAL);
    int err = reserve(2);
    if (err)
        return err;
    carve(s, e);
    insert((struct prog_region){ s, e, norm_prot(prot), (uint8_t)kind });
    return 0;
}

void vm_prog_forget(const void *va, size_t len)
{
    uintptr_t s, e;
    if (!page_span(va, len, &s, &e))
        return;
    (void)reserve(1);       /* a split without room drops more, never less */
    carve(s, e);
}

int vm_prog_protect(const void *va, size_t len, int prot)
{
    uintptr_t s, e;
    if (!IS_ALIGNED((uintptr_t)va, PAGE_SIZE))
        return ERR(-EINVAL);
    if (!len)
        return 0;
    if (!page_span(va, len, &s, &e))
        return ERR(-ENOMEM);
    /* every page must be the program's before anything changes */
    unsigned i = first_above(s);
    for (uintptr_t a = s; a < e; a = regions[i++].end)
        if (i == nr_regions || regions[i].start > a)
            return ERR(-ENOMEM);
    int err = reserve(2);       /* splitting at s and at e adds at most two regions */
    if (err)
        return err;
    /* split at s and e, then set the protection of every piece between */
    for (i = first_above(s); i < nr_regions && regions[i].start < e; i++) {
        struct prog_region r = regions[i];
        uintptr_t lo = MAX(r.start, s), hi = MIN(r.end, e);
        if (r.start < lo || r.end > hi) {
            carve(lo, hi);
            insert((struct prog_region){ lo, hi, norm_prot(prot), r.kind });
            i = first_above(lo);
        } else {
            regions[i].prot = norm_prot(prot);
        }
    }
    return 0;
}

int vm_prog_prot(const void *va)
{
    unsigned i = first_above((uintptr_t)va);
    if (i == nr_regions || regions[i].start > (uintptr_t)va)
        return -EFAULT;
    return regions[i].prot;
}

/* Walks [s, e) through the table: every byte must be covered with prot; ok() vets each region. */
static int covered(uintptr_t s, uintptr_t e, int prot,
                   bool (*ok)(const struct prog_region *r, uintptr_t from, bool allow_bar),
                   bool allow_bar)
{
    unsigned i = first_above(s);
    for (uintptr_t a = s; a < e; a = regions[i++].end) {
        const struct prog_region *r = &regions[i];
        if (i == nr_regions || r->start > a || (r->prot & prot) != prot || !ok(r, a, allow_bar))
            return ERR(-EFAULT);
    }
    return 0;
}

/* A copy may touch the running stack only above the system call's own frames. Another stack
 * (a suspended thread's, posix/thread.c) holds none of the runtime's frames: threads switch
 * only in the program's code, never inside a system call. */
static bool copy_ok(const struct prog_region *r, uintptr_t from, bool unused)
{
    bool running = stack_floor > r->start && stack_floor <= r->end;
    return r->kind != VM_KIND_STACK || !running || from >= stack_floor;
}

static bool dma_ok(const struct prog_region *r, uintptr_t from, bool allow_bar)
{
    return r->kind == VM_KIND_ANON || r->kind == VM_KIND_STATIC ||
           (r->kind == VM_KIND_BAR && allow_bar);
}

int uaccess_check(const void *va, size_t len, int prot)
{
    uintptr_t a = (uintptr_t)va, end;
    if (!len)
        return 0;
    if (__builtin_add_overflow(a, len, &end) || a < PAGE_SIZE)
        return ERR(-EFAULT);
    if (!strict)        /* the runtime's own callers: refuse only what cannot be an address */
        return end <= USER_TOP || a >= (uintptr_t)0 - USER_TOP ? 0 : ERR(-EFAULT);
    return covered(a, end, norm_prot(prot), copy_ok, false);
}

int uaccess_copy_from(void *dst, const void *usrc, size_t len)
{
    int err = uaccess_check(usrc, len, VM_PROT_READ);
    if (!err && len)
        memcpy(dst, usrc, len);
    return err;
}

int uaccess_copy_to(void *udst, const void *src, size_t len)
{
    int err = uaccess_check(udst, len, VM_PROT_WRITE);
    if (!err && len)
        memmove(udst, src, len);
    return err;
}

long uaccess_strncpy(char *dst, const char *usrc, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        const char *p = usrc + i;
        if ((i == 0 || IS_ALIGNED((uintptr_t)p, PAGE_SIZE)) && uaccess_check(p, 1, VM_PROT_READ))
            return ERR(-EFAULT);
        dst[i] = *p;
        if (!dst[i])
            return (long)i;
    }
    return ERR(-ENAMETOOLONG);
}

int vm_dma_check(const void *va, uint64_t len, int prot, bool allow_bar)
{
    uintptr_t s, e;
    if (!page_span(va, len, &s, &e))
        return ERR(-EFAULT);
    if (!strict)
        return 0;
    if (e > USER_TOP)
        return ERR(-EFAULT);
    return covered(s, e, norm_prot(prot), dma_ok, allow_bar);
}
