/* moat's process conventions, checked from inside a program: argv from the words after "--",
 * the environment from KEY=VALUE words, constructors, atexit and exit flushing stdio, errno
 * with Linux's values and strerror, stat on device nodes and directories, the C library
 * (getopt, qsort, sscanf, strtoul, fopen), and fork/waitpid (fork_checks.c). Exits with status
 * 200 when everything held (a status above 127 checks that all 8 bits arrive), else 1. */
#include <byteswap.h>
#include <dirent.h>
#include <endian.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "posix_test.h"

#ifndef POSIX_TEST_DEFINE
#error "--app-cflags did not pass -DPOSIX_TEST_DEFINE"
#endif

int failures;
static int constructed;

__attribute__((constructor)) static void constructor(void)
{
    constructed = 42;
}

void check(const char *what, int ok)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failures += !ok;
}

static void at_exit(void)
{
    /* Left in stdout's buffer on purpose: exit() must flush it. */
    printf("posix_test: atexit ran, %d failed\n", failures);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void args_checks(int argc, char **argv, char **envp)
{
    check("argv[0] is the program's name", argc > 0 && strcmp(argv[0], "posix") == 0);
    check("argc counts the words after --", argc == 5);
    int opt, r = 0;
    const char *name = NULL;
    while ((opt = getopt(argc, argv, "r:n:")) != -1) {
        if (opt == 'r')
            r = atoi(optarg);
        else if (opt == 'n')
            name = optarg;
    }
    check("getopt -r 3", r == 3);
    check("getopt -n word", name && strcmp(name, "word") == 0);
    check("no operands left", optind == argc);
    check("getenv from a KEY=VALUE word", getenv("MOAT_TEST_VAR") &&
                                          strcmp(getenv("MOAT_TEST_VAR"), "hello") == 0);
    check("envp is the environment", envp && envp[0] && strcmp(envp[0], "MOAT_TEST_VAR=hello") == 0);
    check("lower-case k=v words are moat's, not the environment", getenv("drivers") == NULL);
    check("the constructor ran before main", constructed == 42);
    check("--app-cflags -D reached the program", POSIX_TEST_DEFINE == 7);
#ifdef NDEBUG
    check("assert() is on: no NDEBUG", 0);
#else
    check("assert() is on: no NDEBUG", 1);
#endif
}

static void errno_checks(void)
{
    check("EXDEV is Linux's 18", EXDEV == 18);
    check("EBADFD is Linux's 77", EBADFD == 77);
    check("EDEADLK is Linux's 35", EDEADLK == 35);
    check("ENOTSUP is EOPNOTSUPP (95)", ENOTSUP == 95 && EOPNOTSUPP == 95);
    check("EHWPOISON, Linux's last, is 133", EHWPOISON == 133);
    check("strerror(EXDEV) is Linux's text", strcmp(strerror(EXDEV), "Invalid cross-device link") == 0);
    check("strerror(EPERM) is Linux's text", strcmp(strerror(EPERM), "Operation not permitted") == 0);
    check("strerror(EHWPOISON), the last", strcmp(strerror(EHWPOISON), "Memory page has hardware error") == 0);
    check("strerror of an unknown number", strcmp(strerror(4000), "Unknown error 4000") == 0);
    char ebuf[64];
    check("strerror_r(EBADFD) (POSIX's)", strerror_r(EBADFD, ebuf, sizeof(ebuf)) == 0 &&
                                          strcmp(ebuf, "File descriptor in bad state") == 0);
    check("strerror_r of an unknown number is EINVAL", strerror_r(4000, ebuf, sizeof(ebuf)) == EINVAL);
    check("strerror(ETIMEDOUT)", strcmp(strerror(ETIMEDOUT), "Connection timed out") == 0);
    check("open of a missing path is ENOENT", open("/dev/nothing", O_RDWR) == -1 && errno == ENOENT);
    check("close(-1) is EBADF", close(-1) == -1 && errno == EBADF);
    check("fopen of /proc is ENOENT", fopen("/proc/self/smaps_rollup", "r") == NULL && errno == ENOENT);
}

static void stat_checks(void)
{
    struct stat st;
    check("stat /dev/vfio/vfio is a character device", stat("/dev/vfio/vfio", &st) == 0 && S_ISCHR(st.st_mode));
    check("stat /dev/vfio is a directory", stat("/dev/vfio", &st) == 0 && S_ISDIR(st.st_mode));
    check("stat /dev/iommu is a character device", stat("/dev/iommu", &st) == 0 && S_ISCHR(st.st_mode));
    check("access /dev/iommu F_OK", access("/dev/iommu", F_OK) == 0);
    check("stat of a missing group is ENOENT", stat("/dev/vfio/999", &st) == -1 && errno == ENOENT);
    check("stat vfio-dev is a directory",
          stat("/sys/bus/pci/devices/0000:00:03.0/vfio-dev", &st) == 0 && S_ISDIR(st.st_mode));
    check("lstat iommu_group is a link",
          lstat("/sys/bus/pci/devices/0000:00:03.0/iommu_group", &st) == 0 && S_ISLNK(st.st_mode));
    int fd = open("/dev/vfio/vfio", O_RDWR);
    check("fstat of the container is a character device", fd >= 0 && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode));
    check("fcntl F_GETFL gives the open flags", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
    int fd2 = dup(fd);
    check("dup gives another descriptor", fd2 > fd);
    check("lseek on it", lseek(fd2, 0, SEEK_SET) == 0);
    close(fd2);
    close(fd);
    DIR *d = opendir("/sys/bus/pci/devices/0000:00:03.0/vfio-dev");
    struct dirent *e;
    int vfio = 0;
    while (d && (e = readdir(d)))
        vfio += strncmp(e->d_name, "vfio", 4) == 0;
    if (d)
        closedir(d);
    check("readdir vfio-dev lists vfio<N>", vfio == 1);
    check("isatty(1)", isatty(1) == 1);
}

/* The attribute files Linux tools read, in Linux's formats: QEMU's edu is 1234:11e8, class ff00. */
static int read_attr(const char *leaf, char *buf, size_t size)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/0000:00:03.0/%s", leaf);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = 0;
    fclose(f);
    return (int)n;
}

static void sysfs_checks(void)
{
    char buf[1024];
    check("vendor is \"0x1234\\n\"", read_attr("vendor", buf, sizeof(buf)) > 0 && strcmp(buf, "0x1234\n") == 0);
    check("device is \"0x11e8\\n\"", read_attr("device", buf, sizeof(buf)) > 0 && strcmp(buf, "0x11e8\n") == 0);
    check("class is \"0x00ff00\\n\"", read_attr("class", buf, sizeof(buf)) > 0 && strcmp(buf, "0x00ff00\n") == 0);
    check("subsystem_vendor", read_attr("subsystem_vendor", buf, sizeof(buf)) == 7 && strncmp(buf, "0x", 2) == 0);
    unsigned long long start, end, flags;
    check("resource: BAR0 as \"start end flags\", 1 MiB of 32-bit memory",
          read_attr("resource", buf, sizeof(buf)) == 13 * 57 &&
          sscanf(buf, "0x%llx 0x%llx 0x%llx", &start, &end, &flags) == 3 &&
          end - start + 1 == 1 << 20 && flags == 0x40200);
    char link[128] = "";
    ssize_t n = readlink("/sys/bus/pci/devices/0000:00:03.0/driver", link, sizeof(link) - 1);
    if (n > 0)
        link[n] = 0;
    check("driver links to vfio-pci", n > 0 && strcmp(basename(link), "vfio-pci") == 0);
    struct stat st;
    check("stat vendor is a regular file", stat("/sys/bus/pci/devices/0000:00:03.0/vendor", &st) == 0 &&
                                           S_ISREG(st.st_mode));
    check("opening it for writing is EACCES",
          open("/sys/bus/pci/devices/0000:00:03.0/vendor", O_RDWR) == -1 && errno == EACCES);
    check("the device's directory", stat("/sys/bus/pci/devices/0000:00:03.0", &st) == 0 && S_ISDIR(st.st_mode));
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)))
        found += strcmp(e->d_name, "0000:00:03.0") == 0;
    if (d)
        closedir(d);
    check("readdir /sys/bus/pci/devices lists 0000:00:03.0", found == 1);
}

static void library_checks(void)
{
    int v[] = { 5, 3, 9, 1 };
    qsort(v, 4, sizeof(v[0]), cmp_int);
    check("qsort", v[0] == 1 && v[3] == 9);
    unsigned a = 0, b = 0;
    check("sscanf", sscanf("vendor 0x1234 device 4328", "vendor %x device %u", &a, &b) == 2 &&
                    a == 0x1234 && b == 4328);
    check("strtoul base 0", strtoul("0x10", NULL, 0) == 16);
    char p[] = "/sys/bus/pci/devices";
    check("basename", strcmp(basename(p), "devices") == 0);
    char buf[64];
    snprintf(buf, sizeof(buf), "%zu %llx %.2f", (size_t)42, 0xabcULL, 1.5);
    check("printf %zu %llx %.2f", strcmp(buf, "42 abc 1.50") == 0);
    char *m = malloc(3 << 20);
    check("malloc 3 MiB", m != NULL);
    if (m)
        memset(m, 1, 3 << 20);
    free(m);
    void *map = mmap(NULL, 1 << 21, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap anonymous", map != MAP_FAILED);
    check("madvise MADV_HUGEPAGE", madvise(map, 1 << 21, MADV_HUGEPAGE) == 0);
    check("madvise of an unknown advice is EINVAL", madvise(map, 1 << 21, 1000) == -1 && errno == EINVAL);
    check("munmap", munmap(map, 1 << 21) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    usleep(1000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    check("usleep(1000) waits 1 ms",
          (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 1000000);
    struct timespec wall, mono;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    gettimeofday(&tv, NULL);
    /* QEMU's real-time clock starts at the host's time (its default -rtc base=utc) */
    check("CLOCK_REALTIME is the wall clock: after 2025-01-01", wall.tv_sec > 1735689600);
    check("time() and gettimeofday agree with it",
          time(NULL) - wall.tv_sec <= 1 && tv.tv_sec - wall.tv_sec <= 1 && tv.tv_sec >= wall.tv_sec);
    check("CLOCK_MONOTONIC counts from boot (under a day)", mono.tv_sec < 86400);
    check("clock ids are Linux's: REALTIME 0, MONOTONIC 1, MONOTONIC_RAW 4, BOOTTIME 7",
          CLOCK_REALTIME == 0 && CLOCK_MONOTONIC == 1 && CLOCK_MONOTONIC_RAW == 4 &&
          CLOCK_BOOTTIME == 7);
    check("sysconf(_SC_PAGESIZE)", sysconf(_SC_PAGESIZE) == 4096 && getpagesize() == 4096);
    check("htole32/be16toh/bswap_64", htole32(0x12345678) == 0x12345678 && be16toh(0x1234) == 0x3412 &&
                                      bswap_64(0x0102030405060708ULL) == 0x0807060504030201ULL);
    uuid_t id, again;
    char text[UUID_STR_LEN];
    check("uuid_parse", uuid_parse("4D7a1c2e-0b3f-4a5d-9e8f-0123456789AB", id) == 0 &&
                        id[0] == 0x4d && id[4] == 0x0b && id[15] == 0xab);
    uuid_unparse(id, text);
    check("uuid_unparse: lower case, dashes in place",
          strcmp(text, "4d7a1c2e-0b3f-4a5d-9e8f-0123456789ab") == 0);
    uuid_unparse_upper(id, text);
    check("uuid_unparse_upper", strcmp(text, "4D7A1C2E-0B3F-4A5D-9E8F-0123456789AB") == 0);
    check("uuid_parse round trip", uuid_parse(text, again) == 0 && uuid_compare(id, again) == 0);
    check("uuid_parse refuses a short, a long, a misplaced dash and a non-hex digit",
          uuid_parse("4d7a1c2e-0b3f-4a5d-9e8f-0123456789a", again) == -1 &&
          uuid_parse("4d7a1c2e-0b3f-4a5d-9e8f-0123456789abc", again) == -1 &&
          uuid_parse("4d7a1c2e0-b3f-4a5d-9e8f-0123456789ab", again) == -1 &&
          uuid_parse("4d7a1c2e-0b3f-4a5d-9e8f-0123456789ag", again) == -1 &&
          uuid_compare(id, again) == 0);
    uuid_clear(again);
    check("uuid_clear / uuid_is_null / uuid_copy", uuid_is_null(again) && !uuid_is_null(id) &&
          (uuid_copy(again, id), uuid_compare(again, id) == 0));
    struct utsname u;
#if defined(__aarch64__)
    const char *machine = "aarch64";
#else
    const char *machine = "x86_64";
#endif
    check("uname", uname(&u) == 0 && strcmp(u.sysname, "moat") == 0 && strcmp(u.machine, machine) == 0);
    errno = ENOENT;
    warn("warn says %s", "this");       /* "posix: warn says this: No such file or directory" */
}

int main(int argc, char **argv, char **envp)
{
    atexit(at_exit);
    setvbuf(stdout, NULL, _IOFBF, 4096);    /* fully buffered: exit must flush */
    args_checks(argc, argv, envp);
    errno_checks();
    stat_checks();
    sysfs_checks();
    library_checks();
    mmap_checks();
    fork_checks();
    signal_checks();
    fflush(stdout);
    exit(failures ? 1 : 200);
}
