/* The system-call face: each call goes straight to the runtime; a negative errno becomes -1
 * with errno set, as on Linux. */
#include <stdarg.h>
#include "kernel/fd.h"
#include "lib/log.h"
#include "kernel/time.h"
#include "kernel/vm.h"
#include "kernel/mm/heap.h"
#include "lib/string.h"
#include "lib/libc/include/dirent.h"
#include "lib/libc/include/errno.h"
#include "lib/libc/include/fcntl.h"
#include "lib/libc/include/poll.h"
#include "lib/libc/include/sys/eventfd.h"
#include "lib/libc/include/sys/ioctl.h"
#include "lib/libc/include/sys/mman.h"
#include "lib/libc/include/time.h"
#include "lib/libc/include/unistd.h"

static long sys_ret(long r)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

int open(const char *path, int flags, ...)
{
    return (int)sys_ret(sys_open(path, flags));
}

int close(int fd)
{
    return (int)sys_ret(sys_close(fd));
}

int ioctl(int fd, unsigned long cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return (int)sys_ret(sys_ioctl(fd, cmd, arg));
}

ssize_t read(int fd, void *buf, size_t len)
{
    return sys_ret(sys_read(fd, buf, len));
}

ssize_t write(int fd, const void *buf, size_t len)
{
    if (fd == 1 || fd == 2)
        return sys_ret(sys_console_write(buf, len));
    return sys_ret(sys_write(fd, buf, len));
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
    return sys_ret(sys_pread(fd, buf, len, off));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return sys_ret(sys_pwrite(fd, buf, len, off));
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
    return sys_ret(sys_readlink(path, buf, size));
}

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
    return (int)sys_ret(sys_munmap(addr, len));
}

int mprotect(void *addr, size_t len, int prot)
{
    return (int)sys_ret(sys_mprotect(addr, len, prot));
}

int eventfd(unsigned int initval, int flags)
{
    return (int)sys_ret(sys_eventfd(initval, flags));
}

int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    _Static_assert(sizeof(struct pollfd) == sizeof(struct file_pollfd), "Linux's pollfd");
    if (n > FILE_POLL_MAX)
        return (int)sys_ret(-EINVAL);
    return (int)sys_ret(sys_poll((struct file_pollfd *)fds, (unsigned)n, timeout_ms));
}

int usleep(unsigned long us)
{
    udelay(us);
    return 0;
}

unsigned sleep(unsigned s)
{
    udelay((uint64_t)s * 1000000ULL);
    return 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!req || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L || req->tv_sec < 0)
        return (int)sys_ret(-EINVAL);
    udelay(((uint64_t)req->tv_sec * NSEC_PER_SEC + (uint64_t)req->tv_nsec) / NSEC_PER_USEC);
    if (rem)
        rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC_RAW)
        return (int)sys_ret(-EINVAL);
    uint64_t ns = clock_ns();   /* no wall clock: realtime counts from boot too */
    ts->tv_sec = (time_t)(ns / NSEC_PER_SEC);
    ts->tv_nsec = (long)(ns % NSEC_PER_SEC);
    return 0;
}

pid_t getpid(void)
{
    return 1;
}

long sysconf(int name)
{
    return name == _SC_PAGESIZE ? 4096 : (long)sys_ret(-EINVAL);
}

int getpagesize(void)
{
    return 4096;
}

struct moat_dir {
    unsigned n, next;
    struct dirent ents[64];
};

static void dir_emit(void *ctx, const char *name)
{
    struct moat_dir *d = ctx;
    if (d->n < 64) {
        str_copy(d->ents[d->n].d_name, name, sizeof(d->ents[0].d_name));
        d->ents[d->n].d_ino = d->n + 1;
        d->n++;
    }
}

DIR *opendir(const char *path)
{
    struct moat_dir *d = kzalloc(sizeof(*d));
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    int err = sys_list_dir(path, dir_emit, d);
    if (err < 0) {
        kfree(d);
        errno = -err;
        return NULL;
    }
    return d;
}

struct dirent *readdir(DIR *d)
{
    return d->next < d->n ? &d->ents[d->next++] : NULL;
}

int closedir(DIR *d)
{
    kfree(d);
    return 0;
}
