/* Memory: mmap and the heap. Anonymous mmap and the heap under malloc both take anonymous,
 * zero-filled memory of the mmap area from the kernel (kernel/vm), which registers it as the
 * program's memory (kernel/uaccess): all of a program's dynamic memory is of one kind, which a
 * device may reach once mapped for DMA. */
#include "posix/posix.h"
#include "kernel/uaccess.h"
#include "kernel/vm.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096u
#define HEAP_CHUNK (1u << 20)   /* the heap grows in chunks of at least this */

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *out = MAP_FAILED;
    int err = sys_mmap(addr, len, prot, flags, fd, off, &out);
    if (err) {
        errno = -err;
        return MAP_FAILED;
    }
    return out;
}

int munmap(void *addr, size_t len)
{
    return (int)posix_ret(sys_munmap(addr, len));
}

int mprotect(void *addr, size_t len, int prot)
{
    return (int)posix_ret(sys_mprotect(addr, len, prot));
}

/* Advice changes nothing in moat: memory is resident and never swapped. Linux's answers: EINVAL
 * for a misaligned start or an advice it does not know, ENOMEM when the start is not mapped. */
int madvise(void *addr, size_t len, int advice)
{
    if ((uintptr_t)addr & (PAGE - 1))
        return (int)posix_ret(-EINVAL);
    switch (advice) {
    case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL: case MADV_WILLNEED:
    case MADV_DONTNEED: case MADV_FREE: case MADV_HUGEPAGE: case MADV_NOHUGEPAGE:
    case MADV_DONTFORK: case MADV_DOFORK: case MADV_DONTDUMP: case MADV_DODUMP:
    case MADV_COLLAPSE:
        break;
    default:
        return (int)posix_ret(-EINVAL);
    }
    return (int)posix_ret(len && vm_prog_prot(addr) < 0 ? -ENOMEM : 0);
}

int mlock(const void *addr, size_t len)
{
    return 0;       /* resident already */
}

int munlock(const void *addr, size_t len)
{
    return 0;
}

/* malloc's sbrk: a bump pointer in the current chunk of anonymous memory. A request that does not
 * fit takes a new chunk elsewhere in the mmap area; newlib's malloc takes such a non-contiguous
 * answer as foreign memory and goes on from there. The heap never shrinks. */
static char *heap_cur, *heap_end;

void *sbrk(ptrdiff_t incr)
{
    if (incr < 0) {
        errno = ENOMEM;
        return (void *)-1;
    }
    if ((size_t)incr > (size_t)(heap_end - heap_cur)) {
        size_t len = ((size_t)incr + HEAP_CHUNK - 1) & ~(size_t)(HEAP_CHUNK - 1);
        void *chunk;
        if (len < (size_t)incr || vm_map_anon(len, &chunk)) {
            errno = ENOMEM;
            return (void *)-1;
        }
        heap_cur = chunk;
        heap_end = heap_cur + len;
    }
    char *p = heap_cur;
    heap_cur += incr;
    return p;
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

int getpagesize(void)
{
    return PAGE;
}
