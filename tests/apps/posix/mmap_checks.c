/* munmap of parts of mappings and of ranges with holes, mmap with MAP_FIXED and
 * MAP_FIXED_NOREPLACE: what Linux programs do to place memory at an address they chose (the VFIO
 * selftests' library reserves address space this way and maps a BAR into it). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "posix_test.h"

#define PAGE 4096UL

static void *map_rw(size_t len)
{
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Every page of [p, p + pages) holds its own byte, seed + page index, at both ends. */
static void fill(uint8_t *p, size_t pages, int seed)
{
    for (size_t i = 0; i < pages; i++)
        memset(p + i * PAGE, seed + (int)i, PAGE);
}

static int holds(const uint8_t *p, size_t first, size_t last, int seed)
{
    for (size_t i = first; i <= last; i++)
        if (p[i * PAGE] != (uint8_t)(seed + i) || p[i * PAGE + PAGE - 1] != (uint8_t)(seed + i))
            return 0;
    return 1;
}

static int zero_page(const uint8_t *p)
{
    for (size_t i = 0; i < PAGE; i++)
        if (p[i])
            return 0;
    return 1;
}

static void partial_unmap_checks(void)
{
    uint8_t *p = map_rw(4 * PAGE);
    check("mmap 4 pages", p != MAP_FAILED);
    fill(p, 4, 10);
    check("munmap of the middle two pages", munmap(p + PAGE, 2 * PAGE) == 0);
    check("the outer pages keep their bytes", holds(p, 0, 0, 10) && holds(p, 3, 3, 10));
    check("munmap over a hole unmaps what is there", munmap(p, 4 * PAGE) == 0);
    check("munmap of a range with nothing mapped is 0", munmap(p, 4 * PAGE) == 0);
    check("munmap of a misaligned address is EINVAL", munmap(p + 1, PAGE) == -1 && errno == EINVAL);
    check("munmap of 0 bytes is EINVAL", munmap(p, 0) == -1 && errno == EINVAL);
    check("munmap past the address space is EINVAL",
          munmap((void *)0x7ffffffff000UL, 2 * PAGE) == -1 && errno == EINVAL);

    /* 2 MiB comes as one block: a page cut out of its middle splits it. */
    uint8_t *big = map_rw(512 * PAGE);
    check("mmap 2 MiB", big != MAP_FAILED);
    fill(big, 512, 0);
    check("munmap of one page inside 2 MiB", munmap(big + 5 * PAGE, PAGE) == 0);
    check("the pages around it keep their bytes", holds(big, 0, 4, 0) && holds(big, 6, 511, 0));
    uint8_t *back = mmap(big + 5 * PAGE, PAGE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED into the hole returns that address", back == big + 5 * PAGE);
    check("the new page is zero-filled", back == big + 5 * PAGE && zero_page(back));
    if (back == big + 5 * PAGE)
        memset(back, 0x5a, PAGE);
    check("and writable, its neighbours untouched",
          big[5 * PAGE] == 0x5a && holds(big, 4, 4, 0) && holds(big, 6, 6, 0));
    check("munmap of the whole range, new page and all", munmap(big, 512 * PAGE) == 0);

    /* Partial unmaps give their memory back: 96 rounds of 8 MiB exceed the guest's RAM. */
    int ok = 1;
    for (int round = 0; round < 96 && ok; round++) {
        uint8_t *m = map_rw(2048 * PAGE);
        ok = m != MAP_FAILED && munmap(m + 3 * PAGE, 1000 * PAGE) == 0 &&
             munmap(m, 3 * PAGE) == 0 && munmap(m + 1003 * PAGE, 1045 * PAGE) == 0;
    }
    check("partial unmaps free their pages (96 x 8 MiB)", ok);
}

static void fixed_checks(void)
{
    uint8_t *p = map_rw(2 * PAGE);
    check("mmap 2 pages", p != MAP_FAILED);
    fill(p, 2, 40);
    errno = 0;
    check("MAP_FIXED_NOREPLACE over a mapping is EEXIST",
          mmap(p, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
              MAP_FAILED && errno == EEXIST);
    check("and leaves it as it was", holds(p, 0, 1, 40));
    check("MAP_FIXED at a misaligned address is EINVAL",
          mmap(p + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
              MAP_FAILED && errno == EINVAL);
    uint8_t *q = mmap(p + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                      -1, 0);
    check("MAP_FIXED over a mapped page replaces it", q == p + PAGE && zero_page(p + PAGE));
    check("the page before it stays", holds(p, 0, 0, 40));
    check("munmap of the first page", munmap(p, PAGE) == 0);
    q = mmap(p, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
             0);
    check("MAP_FIXED_NOREPLACE into a hole", q == p && zero_page(p));
    check("munmap of both", munmap(p, 2 * PAGE) == 0);

    /* The selftests' mmap_reserve: PROT_NONE space of size + align, the parts outside an
     * aligned window unmapped, then the window mapped with MAP_FIXED. */
    size_t size = 256 * PAGE, align = 512 * PAGE;
    uint8_t *base = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("reserve PROT_NONE space", base != MAP_FAILED);
    uint8_t *win = (uint8_t *)(((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1));
    check("unmap below the window",
          win == base || munmap(base, (size_t)(win - base)) == 0);
    check("unmap above the window", munmap(win + size, (size_t)(base + align - win)) == 0);
    q = mmap(win, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("MAP_FIXED in the window, aligned as asked",
          q == win && ((uintptr_t)q & (align - 1)) == 0);
    if (q == win) {
        fill(q, 256, 7);
        check("the window is readable and writable", holds(q, 0, 255, 7));
    }
    check("munmap of the window", munmap(win, size) == 0);

    /* PROT_NONE is address space alone, as on Linux: 1 GiB of it on a machine of 512 MiB (the
     * selftests reserve a BAR's size plus 1 GiB), and pages only where access is asked for. */
    size_t gib = (size_t)1 << 30;
    uint8_t *huge = mmap(NULL, gib + 2 * align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("reserve 1 GiB of PROT_NONE space", huge != MAP_FAILED);
    if (huge != MAP_FAILED) {
        q = mmap(huge + align, 2 * PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        check("MAP_FIXED inside it", q == huge + align && zero_page(q));
        check("munmap of the reservation above 1 GiB", munmap(huge + gib, 2 * align) == 0);
        int rw = mprotect(huge + 4 * align, align, PROT_READ | PROT_WRITE) == 0;
        check("mprotect of part of it to read/write", rw);
        if (rw) {
            check("whose pages are there, zero-filled", zero_page(huge + 4 * align) &&
                                                        zero_page(huge + 5 * align - PAGE));
            fill(huge + 4 * align, 512, 9);
            check("and written", holds(huge + 4 * align, 0, 511, 9));
        }
        check("munmap of all of it", munmap(huge, gib) == 0);
    }
    check("MAP_FIXED outside the mmap area is ENOMEM (moat has nothing there to give)",
          mmap((void *)0x10000UL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
               0) == MAP_FAILED && errno == ENOMEM);
}

void mmap_checks(void)
{
    partial_unmap_checks();
    fixed_checks();
}
