#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "kernel/time.h"
#include "kernel/uaccess.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define MAX_FDS FD_TABLE_SIZE

static struct file *fds[MAX_FDS];
static bool fd_cloexec[MAX_FDS];
static struct devnode *devnodes;
static struct sysfs_provider *sysfs_providers;

void devnode_register(struct devnode *n)
{
    n->next = devnodes;
    devnodes = n;
}

void sysfs_register(struct sysfs_provider *p)
{
    p->next = sysfs_providers;
    sysfs_providers = p;
}

struct file *file_new(const struct file_ops *ops, void *priv)
{
    struct file *f = kzalloc(sizeof(*f));
    if (f) {
        f->ops = ops;
        f->priv = priv;
        f->refs = 1;
        f->mode = FILE_MODE_ANON;
    }
    return f;
}

static int fd_install_from(struct file *f, int min)
{
    for (int i = min < 3 ? 3 : min; i < MAX_FDS; i++) {     /* 0-2 are the console's */
        if (!fds[i]) {
            fds[i] = f;
            fd_cloexec[i] = false;
            return i;
        }
    }
    return -EMFILE;
}

int fd_install(struct file *f)
{
    return fd_install_from(f, 3);
}

bool fd_is_open(int fd)
{
    return fd >= 0 && fd < MAX_FDS && fds[fd];
}

void fd_table_hold(struct file *held[FD_TABLE_SIZE])
{
    for (int fd = 0; fd < MAX_FDS; fd++)
        held[fd] = fd_get(fd);
}

void fd_table_restore(struct file *held[FD_TABLE_SIZE])
{
    for (int fd = 0; fd < MAX_FDS; fd++)
        if (fds[fd] && fds[fd] != held[fd])
            sys_close(fd);
    for (int fd = 0; fd < MAX_FDS; fd++) {
        if (!held[fd])
            continue;
        if (fds[fd])
            file_put(held[fd]);     /* still there: the table's own reference stays */
        else
            fds[fd] = held[fd];     /* the child closed it: the held reference is the table's */
        held[fd] = NULL;
    }
}

struct file *fd_get(int fd)
{
    if (fd < 0 || fd >= MAX_FDS || !fds[fd])
        return NULL;
    fds[fd]->refs++;
    return fds[fd];
}

void file_put(struct file *f)
{
    if (--f->refs == 0) {
        if (f->ops->release)
            f->ops->release(f);
        kfree(f);
    }
}

/* A file open gave: its descriptor, or -EMFILE (and the file is put). */
static int install_opened(struct file *f, int oflags, unsigned mode)
{
    f->oflags = oflags;
    f->mode = mode;
    int fd = fd_install(f);
    if (fd < 0)
        file_put(f);
    return fd;
}

/* ---- /sys attribute files: the contents as read at open ---- */

struct sysfs_file {
    size_t len;
    char data[SYSFS_PAGE];
    char *path;                 /* opened for writing: where writes go */
};

static long sysfs_file_read(struct file *f, void *buf, size_t len, uint64_t off)
{
    struct sysfs_file *s = f->priv;
    if (off >= s->len)
        return 0;
    size_t n = MIN(len, s->len - (size_t)off);
    memcpy(buf, s->data + off, n);
    return (long)n;
}

static void sysfs_file_release(struct file *f)
{
    struct sysfs_file *s = f->priv;
    kfree(s->path);
    kfree(s);
}

static long sysfs_store(const char *path, const char *buf, size_t len);

/* kernfs_fop_write_iter: at most a page less its NUL per write, handed to the store whole. */
static long sysfs_file_write(struct file *f, const void *ubuf, size_t len, uint64_t off)
{
    struct sysfs_file *s = f->priv;
    if (!s->path)
        return -EBADF;
    len = MIN(len, (size_t)SYSFS_PAGE - 1);
    char *buf = kmalloc(len + 1);
    if (!buf)
        return -ENOMEM;
    long n = uaccess_copy_from(buf, ubuf, len);
    if (n == 0) {
        buf[len] = 0;
        n = sysfs_store(s->path, buf, len);
    }
    kfree(buf);
    return n;
}

static const struct file_ops sysfs_file_ops = { .read = sysfs_file_read,
                                                .write = sysfs_file_write,
                                                .release = sysfs_file_release };

/* Asks each /sys provider in turn, until one knows the path: its answer, else -ENOENT. */
#define SYSFS_ASK(op, ...)                                                          \
    ({                                                                              \
        long _n = -ENOENT;                                                          \
        for (struct sysfs_provider *_p = sysfs_providers; _p && _n == -ENOENT;      \
             _p = _p->next)                                                         \
            _n = _p->op ? _p->op(__VA_ARGS__) : -ENOENT;                            \
        _n;                                                                         \
    })

/* The attribute's length (filling buf) or -ENOENT. */
static int sysfs_read(const char *path, char *buf, size_t size)
{
    return (int)SYSFS_ASK(read, path, buf, size);
}

static long sysfs_store(const char *path, const char *buf, size_t len)
{
    return SYSFS_ASK(store, path, buf, len);
}

/* Whether path takes writes: 0, else -EACCES (-ENOENT from every provider: none has a store). */
static int sysfs_writable(const char *path)
{
    long n = sysfs_store(path, NULL, 0);
    return n == -ENOENT ? -EACCES : (int)n;
}

/* Linux's kernfs refuses to open a file without a store method for writing: EACCES. */
static int sysfs_open(const char *path, int oflags)
{
    struct sysfs_file *s = kzalloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    int n = sysfs_read(path, s->data, sizeof(s->data));
    if (n >= 0 && (oflags & FD_O_ACCMODE) != FD_O_RDONLY) {
        int w = sysfs_writable(path);
        size_t plen = strlen(path) + 1;
        s->path = w ? NULL : kmalloc(plen);
        if (w)
            n = w;
        else if (!s->path)
            n = -ENOMEM;
        else
            memcpy(s->path, path, plen);
    }
    if (n < 0) {
        kfree(s->path);
        kfree(s);
        return n;
    }
    s->len = (size_t)n;
    struct file *f = file_new(&sysfs_file_ops, s);
    if (!f) {
        kfree(s->path);
        kfree(s);
        return -ENOMEM;
    }
    return install_opened(f, oflags, FILE_MODE_REG | (sysfs_writable(path) ? 0444 : 0644));
}

/* The program's path, copied into a kernel buffer (freed by the caller): -EFAULT,
 * -ENAMETOOLONG, -ENOMEM. */
static int path_in(const char *upath, char **out)
{
    char *p = kmalloc(FILE_PATH_MAX);
    if (!p)
        return -ENOMEM;
    long n = uaccess_strncpy(p, upath, FILE_PATH_MAX);
    if (n < 0) {
        kfree(p);
        return (int)n;
    }
    *out = p;
    return 0;
}

static int open_path(const char *path, int oflags)
{
    for (struct devnode *n = devnodes; n; n = n->next) {
        size_t len = strlen(n->path);
        bool hit = n->prefix ? strncmp(path, n->path, len) == 0 : strcmp(path, n->path) == 0;
        if (!hit)
            continue;
        struct file *f;
        int err = n->open(path + len, oflags, &f);
        if (err)
            return err;
        return install_opened(f, oflags, FILE_MODE_CHR | 0600);
    }
    return sysfs_open(path, oflags);
}

int sys_open(const char *upath, int oflags)
{
    UACCESS_ENTER();
    char *path = NULL;
    int err = path_in(upath, &path);
    if (err)
        return err;
    err = open_path(path, oflags);
    kfree(path);
    return err;
}

int sys_close(int fd)
{
    if (fd < 0 || fd >= MAX_FDS || !fds[fd])
        return -EBADF;
    struct file *f = fds[fd];
    fds[fd] = NULL;
    file_put(f);
    return 0;
}

/* Runs op on the file behind fd, holding a reference across the call. */
#define WITH_FILE(fd, f, missing, expr)                                         \
    ({                                                                          \
        struct file *f = fd_get(fd);                                            \
        long _r;                                                                \
        if (!f)                                                                 \
            _r = -EBADF;                                                        \
        else {                                                                  \
            _r = (missing) ? -EINVAL : (expr);                                  \
            file_put(f);                                                        \
        }                                                                       \
        _r;                                                                     \
    })

long sys_ioctl(int fd, unsigned long cmd, unsigned long arg)
{
    UACCESS_ENTER();
    return WITH_FILE(fd, f, 0, f->ops->ioctl ? f->ops->ioctl(f, cmd, arg) : -ENOTTY);
}

/* A buffer the program hands read (the file writes it) or write (the file reads it). Linux checks
 * only that the range is user addresses and faults on the first byte it cannot copy; moat
 * checks the whole buffer first, so a file never meets a bad pointer. */
static long buf_check(const void *buf, size_t len, bool file_writes)
{
    return uaccess_check(buf, len, file_writes ? VM_PROT_WRITE : VM_PROT_READ) ? -EFAULT : 0;
}

long sys_read(int fd, void *buf, size_t len)
{
    UACCESS_ENTER();
    return WITH_FILE(fd, f, !f->ops->read, buf_check(buf, len, true) ?: ({
        long n = f->ops->read(f, buf, len, f->pos);
        if (n > 0 && !f->ops->stream)
            f->pos += (uint64_t)n;
        n;
    }));
}

long sys_write(int fd, const void *buf, size_t len)
{
    UACCESS_ENTER();
    return WITH_FILE(fd, f, !f->ops->write, buf_check(buf, len, false) ?: ({
        long n = f->ops->write(f, buf, len, f->pos);
        if (n > 0 && !f->ops->stream)
            f->pos += (uint64_t)n;
        n;
    }));
}

/* Linux's order: a negative offset, the descriptor, then FMODE_PREAD (cleared for streams). */
long sys_pread(int fd, void *buf, size_t len, int64_t off)
{
    UACCESS_ENTER();
    if (off < 0)
        return -EINVAL;
    return WITH_FILE(fd, f, !f->ops->stream && !f->ops->read,
                     f->ops->stream ? -ESPIPE : buf_check(buf, len, true) ?:
                     f->ops->read(f, buf, len, (uint64_t)off));
}

long sys_pwrite(int fd, const void *buf, size_t len, int64_t off)
{
    UACCESS_ENTER();
    if (off < 0)
        return -EINVAL;
    return WITH_FILE(fd, f, !f->ops->stream && !f->ops->write,
                     f->ops->stream ? -ESPIPE : buf_check(buf, len, false) ?:
                     f->ops->write(f, buf, len, (uint64_t)off));
}

long sys_console_write(const void *buf, size_t len)
{
    UACCESS_ENTER();
    char line[256];
    for (size_t done = 0; done < len;) {
        size_t k = MIN(len - done, sizeof(line) - 1);
        if (uaccess_copy_from(line, (const char *)buf + done, k))
            return done ? (long)done : -EFAULT;
        line[k] = 0;
        kprintf("%s", line);
        done += k;
    }
    return (long)len;
}

int sys_mmap_file(int fd, uint64_t off, size_t len, int prot, void **out)
{
    return (int)WITH_FILE(fd, f, 0, f->ops->mmap ? f->ops->mmap(f, off, len, prot, out) : -ENODEV);
}

int64_t sys_lseek(int fd, int64_t off, int whence)
{
    return WITH_FILE(fd, f, 0, ({
        int64_t base = whence == FD_SEEK_SET ? 0 : whence == FD_SEEK_CUR ? (int64_t)f->pos : -1;
        int64_t to;
        long r;
        if (f->ops->stream)
            r = -ESPIPE;
        else if (base < 0 || __builtin_add_overflow(base, off, &to) || to < 0)
            r = -EINVAL;
        else
            r = (long)(f->pos = (uint64_t)to);
        r;
    }));
}

int sys_dup(int fd, int min)
{
    if (min < 0 || min >= MAX_FDS)
        return -EINVAL;
    struct file *f = fd_get(fd);
    if (!f)
        return -EBADF;
    int nfd = fd_install_from(f, min);
    if (nfd < 0)
        file_put(f);
    return nfd;
}

int sys_dup2(int fd, int newfd)
{
    if (!fd_is_open(fd) || newfd < 0 || newfd >= MAX_FDS)
        return -EBADF;
    if (fd == newfd)
        return newfd;
    if (newfd < 3)
        return -EINVAL;     /* the console's descriptors have no file to replace */
    struct file *f = fd_get(fd);
    if (fds[newfd])
        sys_close(newfd);
    fds[newfd] = f;
    fd_cloexec[newfd] = false;
    return newfd;
}

long sys_fcntl(int fd, int cmd, long arg)
{
    if (!fd_is_open(fd))
        return -EBADF;
    struct file *f = fds[fd];
    switch (cmd) {
    case FD_F_GETFD:
        return fd_cloexec[fd] ? FD_FD_CLOEXEC : 0;
    case FD_F_SETFD:
        fd_cloexec[fd] = arg & FD_FD_CLOEXEC;
        return 0;
    case FD_F_GETFL:
        return f->oflags;
    case FD_F_SETFL:
        f->oflags = (f->oflags & ~(FD_O_APPEND | FD_O_NONBLOCK)) | ((int)arg & (FD_O_APPEND | FD_O_NONBLOCK));
        return 0;
    default:
        return -EINVAL;
    }
}

static long readlink_path(const char *path, char *buf, size_t size)
{
    return SYSFS_ASK(readlink, path, buf, size);
}

/* Linux's order: the size (-EINVAL), the path, then the link copied out. */
long sys_readlink(const char *upath, char *ubuf, size_t size)
{
    UACCESS_ENTER();
    if (!size || size > (size_t)INT64_MAX)
        return -EINVAL;
    char *path = NULL, link[256];
    long n = path_in(upath, &path);
    if (n)
        return n;
    n = readlink_path(path, link, MIN(size, sizeof(link)));
    kfree(path);
    if (n > 0 && uaccess_copy_to(ubuf, link, (size_t)n))
        return -EFAULT;
    return n;
}

static int list_path(const char *dir, void (*emit)(void *ctx, const char *name), void *ctx)
{
    return (int)SYSFS_ASK(list, dir, emit, ctx);
}

int sys_list_dir(const char *udir, void (*emit)(void *ctx, const char *name), void *ctx)
{
    UACCESS_ENTER();
    char *dir = NULL;
    int n = path_in(udir, &dir);
    if (n)
        return n;
    n = list_path(dir, emit, ctx);
    kfree(dir);
    return n;
}

static unsigned poll_once(struct file_pollfd *p, unsigned n)
{
    unsigned ready = 0;
    for (unsigned i = 0; i < n; i++) {
        struct file *f = fd_get(p[i].fd);
        unsigned r = f ? (f->ops->poll ? f->ops->poll(f) : FILE_POLLIN | FILE_POLLOUT) : 0x20;
        if (f)
            file_put(f);
        /* POLLNVAL (0x20) and POLLERR are reported whether asked for or not; a negative fd is
         * skipped, as on Linux. */
        p[i].revents = p[i].fd < 0 ? 0 :
                       (int16_t)(r & ((uint16_t)p[i].events | FILE_POLLERR | 0x20));
        ready += p[i].revents != 0;
    }
    return ready;
}

__attribute__((weak)) void moat_idle_work(void)
{
}

/* Linux's order: the count (-EINVAL), the array copied in (-EFAULT), revents copied out. */
int sys_poll(struct file_pollfd *ufds, unsigned n, int timeout_ms)
{
    UACCESS_ENTER();
    if (n > FILE_POLL_MAX)
        return -EINVAL;
    struct file_pollfd *p = n ? kmalloc(n * sizeof(*p)) : NULL;
    if (n && !p)
        return -ENOMEM;
    if (uaccess_copy_from(p, ufds, n * sizeof(*p))) {
        kfree(p);
        return -EFAULT;
    }
    uint64_t deadline = clock_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * NSEC_PER_MSEC;
    int ready;
    for (;;) {
        ready = (int)poll_once(p, n);
        if (ready || (timeout_ms >= 0 && clock_ns() >= deadline))
            break;
        moat_idle_work();
        arch_cpu_relax();
    }
    for (unsigned i = 0; i < n; i++)
        if (uaccess_copy_to(&ufds[i].revents, &p[i].revents, sizeof(p[i].revents)))
            ready = -EFAULT;
    kfree(p);
    return ready;
}

/* eventfd: a 64-bit counter; read returns and clears it (blocks while zero unless nonblocking),
 * write adds to it. Hooks (eventfd_hook_add) consume what is added, as they are told. */
struct eventfd {
    uint64_t count;
    bool dispatching;               /* hooks are running: a raise from inside them waits */
    struct eventfd_hook *hooks;
};

/* Runs the hooks after the counter was raised: each sees the raise, and the count is taken (as
 * Linux's virqfd reads the eventfd in its wake-up). A raise made while the hooks run (one of
 * them signals this same eventfd) is left in the counter for a reader: no recursion. */
static void eventfd_dispatch(struct eventfd *e)
{
    if (!e->hooks || e->dispatching)
        return;
    e->dispatching = true;
    e->count = 0;
    for (struct eventfd_hook *h = e->hooks, *next; h; h = next) {
        next = h->next;
        h->fn(h->ctx);
    }
    e->dispatching = false;
}

static long eventfd_read(struct file *f, void *buf, size_t len, uint64_t off)
{
    struct eventfd *e = f->priv;
    if (len < 8)
        return -EINVAL;
    if (e->count == 0 && (f->oflags & FD_O_NONBLOCK))
        return -EAGAIN;     /* EFD_NONBLOCK at creation or O_NONBLOCK set by fcntl later */
    while (READ_ONCE(e->count) == 0) {
        moat_idle_work();
        arch_cpu_relax();
    }
    uint64_t v = e->count;
    if (uaccess_copy_to(buf, &v, 8))
        return -EFAULT;         /* the count stays for a reader with a good buffer */
    e->count = 0;
    return 8;
}

static long eventfd_write(struct file *f, const void *buf, size_t len, uint64_t off)
{
    struct eventfd *e = f->priv;
    uint64_t v;
    if (len < 8)
        return -EINVAL;
    if (uaccess_copy_from(&v, buf, 8))
        return -EFAULT;
    if (v == ~0ULL || e->count + v < e->count)
        return -EINVAL;
    e->count += v;
    eventfd_dispatch(e);    /* even for 0: Linux wakes its waiters on every write */
    return 8;
}

static unsigned eventfd_poll(struct file *f)
{
    struct eventfd *e = f->priv;
    return FILE_POLLOUT | (READ_ONCE(e->count) ? FILE_POLLIN : 0);
}

static void eventfd_release(struct file *f)
{
    struct eventfd *e = f->priv;
    for (struct eventfd_hook *h = e->hooks, *next; h; h = next) {
        next = h->next;
        h->next = NULL;
        h->hup(h->ctx);
    }
    kfree(e);
}

static const struct file_ops eventfd_ops = {
    .read = eventfd_read, .write = eventfd_write, .poll = eventfd_poll,
    .release = eventfd_release, .stream = true,
};

bool file_is_eventfd(const struct file *f)
{
    return f && f->ops == &eventfd_ops;
}

void eventfd_signal(struct file *f)
{
    if (f && f->ops == &eventfd_ops) {
        struct eventfd *e = f->priv;
        e->count++;
        eventfd_dispatch(e);
    }
}

void eventfd_hook_add(struct file *f, struct eventfd_hook *h)
{
    struct eventfd *e = f->priv;
    h->next = e->hooks;
    e->hooks = h;
    if (READ_ONCE(e->count))
        h->fn(h->ctx);      /* raised before the hook was there: seen, not taken */
}

void eventfd_hook_del(struct file *f, struct eventfd_hook *h)
{
    struct eventfd *e = f->priv;
    for (struct eventfd_hook **pp = &e->hooks; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    h->next = NULL;
}

#define EFD_NONBLOCK_FLAG FD_O_NONBLOCK     /* Linux's EFD_NONBLOCK is O_NONBLOCK */
#define FD_O_RDWR 02
int sys_eventfd(unsigned initval, int flags)
{
    struct eventfd *e = kzalloc(sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->count = initval;
    struct file *f = file_new(&eventfd_ops, e);
    if (!f) {
        kfree(e);
        return -ENOMEM;
    }
    f->oflags = FD_O_RDWR | (flags & EFD_NONBLOCK_FLAG);   /* F_GETFL's answer, as on Linux */
    int fd = fd_install(f);
    if (fd < 0)
        file_put(f);
    return fd;
}

static bool is_parent_dir(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && path[n] == '/' && (n > 1 || dir[0] == '/');
}

static int devnode_stat(const char *path, unsigned *mode)
{
    for (struct devnode *n = devnodes; n; n = n->next) {
        size_t len = strlen(n->path);
        if (n->prefix ? strncmp(path, n->path, len) == 0 && path[len] && n->exists &&
                            n->exists(path + len) == 0
                      : strcmp(path, n->path) == 0) {
            *mode = FILE_MODE_CHR | 0600;
            return 0;
        }
        if (is_parent_dir(path, n->path)) {
            *mode = FILE_MODE_DIR | 0755;
            return 0;
        }
    }
    return -ENOENT;
}

static void emit_nothing(void *ctx, const char *name)
{
}

static int stat_path(const char *path, unsigned *mode)
{
    if (!*path)
        return -ENOENT;
    if (strcmp(path, "/") == 0) {
        *mode = FILE_MODE_DIR | 0755;
        return 0;
    }
    if (devnode_stat(path, mode) == 0)
        return 0;
    if (list_path(path, emit_nothing, NULL) == 0) {
        *mode = FILE_MODE_DIR | 0755;
        return 0;
    }
    char c;
    if (readlink_path(path, &c, 1) >= 0) {
        *mode = FILE_MODE_LNK | 0777;
        return 0;
    }
    char *page = kmalloc(SYSFS_PAGE);
    int n = page ? sysfs_read(path, page, SYSFS_PAGE) : -ENOMEM;
    kfree(page);
    if (n >= 0) {
        *mode = FILE_MODE_REG | (sysfs_writable(path) ? 0444 : 0644);
        return 0;
    }
    return n;
}

int sys_stat(const char *upath, unsigned *umode)
{
    UACCESS_ENTER();
    char *path = NULL;
    unsigned mode = 0;
    int err = path_in(upath, &path);
    if (err)
        return err;
    err = stat_path(path, &mode);
    kfree(path);
    if (!err && uaccess_copy_to(umode, &mode, sizeof(mode)))
        return -EFAULT;
    return err;
}

int sys_fstat(int fd, unsigned *umode)
{
    UACCESS_ENTER();
    if (!fd_is_open(fd))
        return -EBADF;
    return uaccess_copy_to(umode, &fds[fd]->mode, sizeof(fds[fd]->mode)) ? -EFAULT : 0;
}
