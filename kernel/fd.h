/* Files and descriptors for the Linux-compatible face: device nodes (/dev/vfio/..., /dev/iommu)
 * register an open function; a few /sys paths are answered by providers; objects such as eventfds
 * and fault queues install anonymous files. One process, one descriptor table. Every function
 * returns a negative errno on failure (the C library turns that into -1 and errno). Portable:
 * host tests drive the same table. */
#ifndef MOAT_KERNEL_FD_H
#define MOAT_KERNEL_FD_H

#include "lib/compiler.h"

struct file;

#define FILE_POLLIN 0x001
#define FILE_POLLOUT 0x004
#define FILE_POLLERR 0x008
#define FILE_POLLRDNORM 0x040

struct file_ops {
    long (*ioctl)(struct file *f, unsigned long cmd, unsigned long arg);
    /* off is the file position for read/write and the caller's for pread/pwrite. */
    long (*read)(struct file *f, void *buf, size_t len, uint64_t off);
    long (*write)(struct file *f, const void *buf, size_t len, uint64_t off);
    int (*mmap)(struct file *f, uint64_t off, size_t len, int prot, void **out);
    unsigned (*poll)(struct file *f);
    void (*release)(struct file *f);
    /* A stream (Linux's nonseekable files: eventfd, the fault queue): read and write always see
     * offset 0 and leave the position alone; pread and pwrite fail with -ESPIPE. */
    bool stream;
};

struct file {
    const struct file_ops *ops;
    void *priv;
    uint64_t pos;
    unsigned refs;
    int oflags;
    unsigned mode;      /* what stat reports: FILE_MODE_CHR for device nodes, else 0600 */
};

/* Linux's numbers for the arguments of lseek and fcntl. */
#define FD_SEEK_SET 0
#define FD_SEEK_CUR 1
#define FD_O_ACCMODE 03
#define FD_O_RDONLY 0
#define FD_O_APPEND 02000
#define FD_O_NONBLOCK 04000
#define FD_F_GETFD 1
#define FD_F_SETFD 2
#define FD_F_GETFL 3
#define FD_F_SETFL 4
#define FD_FD_CLOEXEC 1

/* File types and permissions as stat reports them (Linux's S_IF* values). */
#define FILE_MODE_DIR 0040000
#define FILE_MODE_CHR 0020000
#define FILE_MODE_REG 0100000
#define FILE_MODE_LNK 0120000
#define FILE_MODE_ANON 0600     /* Linux's anonymous inodes (eventfd, ...): no type bits */

/* A device node: paths equal to `path`, or (prefix) starting with it; rest is what follows. */
struct devnode {
    const char *path;
    bool prefix;
    int (*open)(const char *rest, int oflags, struct file **out);
    /* For prefix nodes: whether rest names a node (0 or -ENOENT), without opening it. */
    int (*exists)(const char *rest);
    struct devnode *next;
};

/* What /sys answers: readlink of a path, the names in a directory, the contents of an
 * attribute file (read whole at open, as sysfs fills its page: at most SYSFS_PAGE bytes; the
 * length, or -ENOENT when the path is not one of the provider's files), and, for the few that
 * take writes, store: each write(2) whole (at most SYSFS_PAGE - 1 bytes, NUL-terminated), as
 * kernfs hands it to the attribute's store method; the length taken or an errno. store with
 * buf NULL asks only whether the file takes writes: 0, or -EACCES (opening it for writing
 * fails so, as kernfs refuses a file without a store method). */
#define SYSFS_PAGE 4096
struct sysfs_provider {
    int (*readlink)(const char *path, char *buf, size_t size);     /* length or -ENOENT */
    int (*list)(const char *dir, void (*emit)(void *ctx, const char *name), void *ctx);
    int (*read)(const char *path, char *buf, size_t size);
    long (*store)(const char *path, const char *buf, size_t len);   /* optional */
    struct sysfs_provider *next;
};

void devnode_register(struct devnode *n);
void sysfs_register(struct sysfs_provider *p);

struct file *file_new(const struct file_ops *ops, void *priv);
/* Takes the caller's reference; returns the descriptor or -EMFILE. */
int fd_install(struct file *f);
/* A new reference to the file behind fd (put it with file_put), or NULL. */
struct file *fd_get(int fd);
void file_put(struct file *f);

/* The sys_* calls are the program's: every pointer it hands them is reached through
 * kernel/uaccess (a bad one is -EFAULT, a path longer than FILE_PATH_MAX -ENAMETOOLONG), and a
 * buffer is checked whole before the file sees it. */
#define FILE_PATH_MAX 4096

/* Linux's struct pollfd. */
struct file_pollfd {
    int32_t fd;
    int16_t events;
    int16_t revents;
};
#define FILE_POLL_MAX 1024          /* Linux's default RLIMIT_NOFILE: more fds is -EINVAL */

int sys_open(const char *path, int oflags);
int sys_close(int fd);
long sys_ioctl(int fd, unsigned long cmd, unsigned long arg);
long sys_read(int fd, void *buf, size_t len);
long sys_write(int fd, const void *buf, size_t len);
long sys_pread(int fd, void *buf, size_t len, int64_t off);
long sys_pwrite(int fd, const void *buf, size_t len, int64_t off);
int sys_mmap_file(int fd, uint64_t off, size_t len, int prot, void **out);
long sys_readlink(const char *path, char *buf, size_t size);
/* The seek of a file's position: SEEK_SET 0, SEEK_CUR 1 (-ESPIPE for streams; -EINVAL for
 * SEEK_END: moat's files have no size). */
int64_t sys_lseek(int fd, int64_t off, int whence);
/* A second descriptor for fd's file: the lowest free one >= min (Linux's F_DUPFD). */
int sys_dup(int fd, int min);
/* fd's file at newfd, closing what newfd held (Linux's dup2). */
int sys_dup2(int fd, int newfd);
/* F_GETFD/F_SETFD (FD_CLOEXEC: kept, moat has no exec), F_GETFL/F_SETFL (O_NONBLOCK and
 * O_APPEND may change); Linux's numbers. */
long sys_fcntl(int fd, int cmd, long arg);
/* What stat reports of a path or a descriptor: its type and permission bits (FILE_MODE_*).
 * Directories are the parents of device nodes (/dev, /dev/vfio) and what /sys lists. */
int sys_stat(const char *path, unsigned *mode);
int sys_fstat(int fd, unsigned *mode);
/* Whether fd is open, without taking a reference. */
bool fd_is_open(int fd);
/* fork's bookkeeping (moat has one descriptor table): a reference to the file behind every
 * descriptor, held while a child runs; then the table as it was: descriptors opened since are
 * closed (as a process exit closes them), held files return to their numbers (a descriptor the
 * child closed or replaced is the parent's again), and the held references are dropped. */
#define FD_TABLE_SIZE 256
void fd_table_hold(struct file *held[FD_TABLE_SIZE]);
void fd_table_restore(struct file *held[FD_TABLE_SIZE]);
int sys_list_dir(const char *dir, void (*emit)(void *ctx, const char *name), void *ctx);
/* What the runtime does while a program waits in poll or a blocking eventfd read (it has no
 * threads): PCIe hot-plug slot events (pci/pci_hotplug.c). A weak no-op where that is absent. */
void moat_idle_work(void);
/* Returns the number of ready descriptors (revents filled), 0 at the timeout (ms; <0: none). */
int sys_poll(struct file_pollfd *fds, unsigned n, int timeout_ms);
/* Writes to the console (descriptors 1 and 2). */
long sys_console_write(const void *buf, size_t len);
int sys_eventfd(unsigned initval, int flags);
/* Adds one to an eventfd (from an interrupt handler, e.g. VFIO_DEVICE_SET_IRQS triggers). */
void eventfd_signal(struct file *f);
bool file_is_eventfd(const struct file *f);

/* A consumer of an eventfd's raises, as Linux's virqfd (VFIO's unmask-by-eventfd): moat has no
 * wait queues or worker threads, so fn runs synchronously inside whatever raises the counter —
 * every successful write(2) of the program (even of 0, as Linux wakes its waiters then too), or
 * eventfd_signal() from an interrupt handler — and the count is taken, so the eventfd then reads as empty. When hooked while the counter is
 * already non-zero, fn runs once at eventfd_hook_add without taking it (Linux checks for a
 * pending event at registration the same way). A raise from inside a hook stays in the counter.
 * The hook holds no reference: when the eventfd's last reference goes (the program closed it),
 * hup runs and the consumer must forget the file (Linux's EPOLLHUP tear-down). fn and hup run
 * with the eventfd's state consistent; they must not free the file. */
struct eventfd_hook {
    void (*fn)(void *ctx);
    void (*hup)(void *ctx);
    void *ctx;
    struct eventfd_hook *next;      /* the eventfd's list */
};

/* f must be an eventfd (file_is_eventfd). One eventfd can feed several hooks. */
void eventfd_hook_add(struct file *f, struct eventfd_hook *h);
void eventfd_hook_del(struct file *f, struct eventfd_hook *h);

#endif
