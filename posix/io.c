/* Descriptors: each call goes to the kernel's sys_* function (kernel/fd.c), which checks the
 * program's pointers and answers with Linux's errno values; a negative errno becomes -1 and
 * errno. Descriptors 0-2 are the console: writes go to the serial console, reads see end of
 * file (moat has no console input). */
#include "posix/posix.h"
#include "kernel/fd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

long posix_ret(long r)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

bool posix_is_console(int fd)
{
    return fd >= 0 && fd <= 2;
}

int open(const char *path, int flags, ...)
{
    return (int)posix_ret(sys_open(path, flags));
}

int close(int fd)
{
    if (posix_is_console(fd))
        return 0;
    return (int)posix_ret(sys_close(fd));
}

ssize_t read(int fd, void *buf, size_t len)
{
    if (posix_is_console(fd))
        return 0;
    return posix_ret(sys_read(fd, buf, len));
}

ssize_t write(int fd, const void *buf, size_t len)
{
    if (fd == 1 || fd == 2)
        return posix_ret(sys_console_write(buf, len));
    if (fd == 0)
        return posix_ret(-EBADF);       /* stdin is read-only */
    return posix_ret(sys_write(fd, buf, len));
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
    if (posix_is_console(fd))
        return posix_ret(-ESPIPE);
    return posix_ret(sys_pread(fd, buf, len, off));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (posix_is_console(fd))
        return posix_ret(-ESPIPE);
    return posix_ret(sys_pwrite(fd, buf, len, off));
}

off_t lseek(int fd, off_t off, int whence)
{
    if (posix_is_console(fd))
        return posix_ret(-ESPIPE);
    return posix_ret(sys_lseek(fd, off, whence));
}

int ioctl(int fd, unsigned long cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    if (posix_is_console(fd))
        return (int)posix_ret(-ENOTTY);
    return (int)posix_ret(sys_ioctl(fd, cmd, arg));
}

int isatty(int fd)
{
    if (posix_is_console(fd))
        return 1;
    struct file *f = fd_get(fd);
    errno = f ? ENOTTY : EBADF;
    if (f)
        file_put(f);
    return 0;
}

int dup(int fd)
{
    if (posix_is_console(fd))
        return (int)posix_ret(-EINVAL);     /* the console has no file behind it to share */
    return (int)posix_ret(sys_dup(fd, 3));
}

int dup2(int fd, int newfd)
{
    if (posix_is_console(fd) || posix_is_console(newfd))
        return (int)posix_ret(fd == newfd ? fd : -EINVAL);
    return (int)posix_ret(sys_dup2(fd, newfd));
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    if (posix_is_console(fd)) {
        switch (cmd) {
        case F_GETFD: return 0;
        case F_GETFL: return fd == 0 ? O_RDONLY : O_WRONLY;
        case F_SETFD: case F_SETFL: return 0;
        default: return (int)posix_ret(-EINVAL);
        }
    }
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        return (int)posix_ret(sys_dup(fd, (int)arg));
    default:
        return (int)posix_ret(sys_fcntl(fd, cmd, arg));
    }
}

int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    _Static_assert(sizeof(struct pollfd) == sizeof(struct file_pollfd), "Linux's pollfd");
    if (n > FILE_POLL_MAX)
        return (int)posix_ret(-EINVAL);
    if (timeout_ms)
        sched_yield();      /* the other threads first (posix/thread.c) */
    return (int)posix_ret(sys_poll((struct file_pollfd *)fds, (unsigned)n, timeout_ms));
}

int eventfd(unsigned int initval, int flags)
{
    return (int)posix_ret(sys_eventfd(initval, flags));
}

int eventfd_read(int fd, eventfd_t *value)
{
    return read(fd, value, sizeof(*value)) == sizeof(*value) ? 0 : -1;
}

int eventfd_write(int fd, eventfd_t value)
{
    return write(fd, &value, sizeof(value)) == sizeof(value) ? 0 : -1;
}

int fstat(int fd, struct stat *st)
{
    unsigned mode = 0;
    long r = posix_is_console(fd) ? (mode = S_IFCHR | 0620, 0) : sys_fstat(fd, &mode);
    if (r < 0)
        return (int)posix_ret(r);
    *st = (struct stat){ .st_mode = mode, .st_nlink = 1, .st_blksize = 4096 };
    return 0;
}
