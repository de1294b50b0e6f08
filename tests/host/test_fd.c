/* The descriptor table's calls under the C library's dup/dup2/fcntl/lseek/stat/fstat, with a
 * device node and a directory tree made up here: Linux's answers for each (errno and order). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/compiler.h"
#include "tests/host/harness.h"



static int releases;

static void dev_release(struct file *f)
{
    releases++;
}

static long dev_read(struct file *f, void *buf, size_t len, uint64_t off)
{
    return 0;
}

static const struct file_ops dev_ops = { .read = dev_read, .release = dev_release };
static const struct file_ops stream_ops = { .read = dev_read, .stream = true };

static int dev_open(const char *rest, int oflags, struct file **out)
{
    *out = file_new(&dev_ops, NULL);
    return *out ? 0 : -ENOMEM;
}

static int units_exist(const char *rest)
{
    return strcmp(rest, "0") == 0 || strcmp(rest, "1") == 0 ? 0 : -ENOENT;
}

static struct devnode node = { .path = "/dev/test/node", .open = dev_open };
static struct devnode units = { .path = "/dev/test/units/u", .prefix = true, .open = dev_open,
                                .exists = units_exist };

/* Files come from moat's heap: a small arena, once. */
static void setup(void)
{
    static bool done;
    if (!done) {
        void *arena = aligned_alloc(2u << 20, 4u << 20);
        pmm_reset();
        heap_reset();
        pmm_add_region((uint64_t)(uintptr_t)arena, 4u << 20);
        devnode_register(&node);
        devnode_register(&units);
        done = true;
    }
}

/* What stat answers for a path: the result, and on success the file type. */
static const struct stat_case {
    const char *path;
    int rc;
    unsigned type;
} stat_cases[] = {
    { "/dev/test/node", 0, S_IFCHR },
    { "/dev/test", 0, S_IFDIR },
    { "/dev/test/units", 0, S_IFDIR },
    { "/dev", 0, S_IFDIR },
    { "/", 0, S_IFDIR },
    { "/dev/test/units/u1", 0, S_IFCHR },
    { "/dev/test/units/u2", -ENOENT, 0 },       /* the prefix alone is not enough */
    { "/dev/test/nod", -ENOENT, 0 },
    { "/dev/tes", -ENOENT, 0 },
    { "", -ENOENT, 0 },
    { NULL, -EFAULT, 0 },
};

TEST(stat_device_nodes_and_their_directories)
{
    setup();
    for (size_t i = 0; i < ARRAY_SIZE(stat_cases); i++) {
        const struct stat_case *c = &stat_cases[i];
        unsigned mode = 0;
        int rc = sys_stat(c->path, &mode);
        if (rc != c->rc || (rc == 0 && (mode & S_IFMT) != c->type)) {
            char m[160];
            snprintf(m, sizeof(m), "stat(\"%s\"): %d, type %#o (want %d, type %#o)",
                     c->path ? c->path : "NULL", rc, mode & S_IFMT, c->rc, c->type);
            host_check_failed(__FILE__, __LINE__, m);
        }
    }
}

TEST(fstat_tells_devices_from_anonymous_files)
{
    setup();
    unsigned mode = 0;
    int fd = sys_open("/dev/test/node", O_RDWR);
    REQUIRE(fd >= 3);
    CHECK_EQ(sys_fstat(fd, &mode), 0);
    CHECK_EQ(mode & S_IFMT, S_IFCHR);
    int efd = sys_eventfd(0, 0);
    REQUIRE(efd >= 3);
    CHECK_EQ(sys_fstat(efd, &mode), 0);
    CHECK_EQ(mode, 0600);      /* Linux's anonymous inode: no type bits */
    CHECK_EQ(sys_fstat(200, &mode), -EBADF);
    sys_close(fd);
    sys_close(efd);
}

TEST(dup_and_dup2_share_the_file_until_the_last_close)
{
    setup();
    releases = 0;
    int fd = sys_open("/dev/test/node", O_RDWR);
    REQUIRE(fd >= 3);
    int d = sys_dup(fd, 3);
    CHECK(d > fd);
    CHECK_EQ(sys_dup(fd, 100), 100);               /* F_DUPFD: the lowest free >= 100 */
    CHECK_EQ(sys_dup(fd, 100), 101);
    CHECK_EQ(sys_dup(fd, -1), -EINVAL);
    CHECK_EQ(sys_dup(77, 3), -EBADF);
    CHECK_EQ(sys_dup2(fd, 50), 50);
    CHECK_EQ(sys_dup2(fd, fd), fd);                /* dup2 onto itself: nothing happens */
    CHECK_EQ(sys_dup2(77, 51), -EBADF);
    CHECK_EQ(sys_dup2(fd, 100000), -EBADF);
    int other = sys_open("/dev/test/node", O_RDONLY);
    CHECK_EQ(sys_dup2(fd, other), other);          /* closes what `other` held */
    CHECK_EQ(releases, 1);
    CHECK_EQ(sys_close(fd), 0);
    CHECK_EQ(sys_close(d), 0);
    CHECK_EQ(sys_close(100), 0);
    CHECK_EQ(sys_close(101), 0);
    CHECK_EQ(sys_close(50), 0);
    CHECK_EQ(releases, 1);
    CHECK_EQ(sys_close(other), 0);
    CHECK_EQ(releases, 2);
    CHECK(!fd_is_open(fd));
}

TEST(fcntl_flags_and_lseek)
{
    setup();
    int fd = sys_open("/dev/test/node", O_RDWR);
    REQUIRE(fd >= 3);
    CHECK_EQ(sys_fcntl(fd, F_GETFL, 0), O_RDWR);
    CHECK_EQ(sys_fcntl(fd, F_SETFL, O_NONBLOCK | O_RDONLY), 0);
    CHECK_EQ(sys_fcntl(fd, F_GETFL, 0), O_RDWR | O_NONBLOCK);   /* the access mode stays */
    CHECK_EQ(sys_fcntl(fd, F_GETFD, 0), 0);
    CHECK_EQ(sys_fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
    CHECK_EQ(sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC);
    CHECK_EQ(sys_fcntl(fd, 9999, 0), -EINVAL);
    CHECK_EQ(sys_fcntl(200, F_GETFL, 0), -EBADF);
    CHECK_EQ(sys_lseek(fd, 4096, SEEK_SET), 4096);
    CHECK_EQ(sys_lseek(fd, 10, SEEK_CUR), 4106);
    CHECK_EQ(sys_lseek(fd, -5000, SEEK_CUR), -EINVAL);
    CHECK_EQ(sys_lseek(fd, 0, SEEK_END), -EINVAL);
    CHECK_EQ(sys_lseek(fd, 0, 42), -EINVAL);
    CHECK_EQ(sys_lseek(200, 0, SEEK_SET), -EBADF);
    struct file *s = file_new(&stream_ops, NULL);
    int sfd = fd_install(s);
    CHECK_EQ(sys_lseek(sfd, 0, SEEK_SET), -ESPIPE);
    sys_close(sfd);
    sys_close(fd);
}

/* Linux keeps EFD_NONBLOCK as the file's O_NONBLOCK: F_GETFL shows it (O_RDWR beside it), and
 * O_NONBLOCK set by fcntl later makes an empty counter's read EAGAIN too (the VFIO selftests
 * make their MSI eventfds non-blocking that way, then read them before and after a trigger). */
TEST(eventfd_nonblocking_from_creation_or_fcntl)
{
    setup();
    uint64_t v = 0, one = 1;
    int nb = sys_eventfd(0, EFD_NONBLOCK);
    REQUIRE(nb >= 3);
    CHECK_EQ(sys_fcntl(nb, F_GETFL, 0), O_RDWR | O_NONBLOCK);
    CHECK_EQ(sys_read(nb, &v, 8), -EAGAIN);
    int efd = sys_eventfd(0, 0);
    REQUIRE(efd >= 3);
    CHECK_EQ(sys_fcntl(efd, F_GETFL, 0), O_RDWR);
    CHECK_EQ(sys_fcntl(efd, F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(sys_read(efd, &v, 8), -EAGAIN);
    CHECK_EQ(sys_write(efd, &one, 8), 8);
    CHECK_EQ(sys_read(efd, &v, 8), 8);
    CHECK_EQ(v, 1);
    CHECK_EQ(sys_read(efd, &v, 8), -EAGAIN);
    sys_close(nb);
    sys_close(efd);
}

static int attr_read(const char *path, char *buf, size_t size)
{
    if (strcmp(path, "/sys/test/attr") != 0)
        return -ENOENT;
    const char v[] = "0x1234\n";
    size_t n = sizeof(v) - 1 < size ? sizeof(v) - 1 : size;
    memcpy(buf, v, n);
    return (int)n;
}

static struct sysfs_provider attrs = { .read = attr_read };

TEST(sysfs_attribute_files_read_as_at_open)
{
    setup();
    static bool registered;
    if (!registered) {
        sysfs_register(&attrs);
        registered = true;
    }
    unsigned mode = 0;
    CHECK_EQ(sys_stat("/sys/test/attr", &mode), 0);
    CHECK_EQ(mode, S_IFREG | 0444);
    CHECK_EQ(sys_open("/sys/test/attr", O_RDWR), -EACCES);     /* kernfs: no store method */
    CHECK_EQ(sys_open("/sys/test/attr", O_WRONLY), -EACCES);
    CHECK_EQ(sys_open("/sys/test/other", O_RDONLY), -ENOENT);
    int fd = sys_open("/sys/test/attr", O_RDONLY);
    REQUIRE(fd >= 3);
    char buf[16] = "";
    CHECK_EQ(sys_read(fd, buf, 4), 4);
    CHECK_EQ(sys_read(fd, buf + 4, sizeof(buf) - 5), 3);       /* the rest, from the position */
    CHECK_STR(buf, "0x1234\n");
    CHECK_EQ(sys_read(fd, buf, sizeof(buf)), 0);
    CHECK_EQ(sys_pread(fd, buf, 2, 2), 2);
    CHECK_EQ(sys_fstat(fd, &mode), 0);
    CHECK_EQ(mode, S_IFREG | 0444);
    CHECK_EQ(sys_close(fd), 0);
}

TEST(fork_bookkeeping_gives_the_parent_its_table_back)
{
    setup();
    releases = 0;
    static struct file *held[FD_TABLE_SIZE];
    int kept = sys_open("/dev/test/node", O_RDWR);
    int closed = sys_open("/dev/test/node", O_RDWR);
    int replaced = sys_open("/dev/test/node", O_RDWR);
    REQUIRE(kept >= 3 && closed >= 3 && replaced >= 3);
    struct file *closed_file = fd_get(closed), *replaced_file = fd_get(replaced);
    file_put(closed_file);
    file_put(replaced_file);
    fd_table_hold(held);
    /* the child: closes one of the parent's, replaces another, opens its own */
    int own = sys_open("/dev/test/node", O_RDWR);    /* first: it must not take closed's number */
    REQUIRE(own >= 3);
    CHECK_EQ(sys_close(closed), 0);
    CHECK_EQ(sys_dup2(own, replaced), replaced);
    CHECK_EQ(releases, 0);                 /* the parent's files are held: nothing released */
    fd_table_restore(held);
    CHECK_EQ(releases, 1);                 /* the child's own file, closed as at its exit */
    CHECK(!fd_is_open(own));
    struct file *f = fd_get(closed);
    CHECK(f == closed_file);
    if (f)
        file_put(f);
    f = fd_get(replaced);
    CHECK(f == replaced_file);
    if (f)
        file_put(f);
    for (int fd = 0; fd < FD_TABLE_SIZE; fd++)
        CHECK(held[fd] == NULL);
    CHECK_EQ(sys_close(kept), 0);
    CHECK_EQ(sys_close(closed), 0);
    CHECK_EQ(sys_close(replaced), 0);
    CHECK_EQ(releases, 4);                 /* each file released once, at its last close */
}
