/* Paths: stat and access on the device nodes and directories the kernel knows (there is no file
 * system: /dev/vfio/..., /dev/iommu and the /sys files of the Linux-compatible face), readlink,
 * and directories read with opendir/readdir. Nothing can be created or removed: those calls
 * fail with EROFS, as on a read-only file system, or ENOENT for a path that does not exist. */
#include "posix/posix.h"
#include "kernel/fd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_MAX_ENTRIES 256

static int stat_mode(const char *path, struct stat *st)
{
    unsigned mode;
    int err = sys_stat(path, &mode);
    if (err < 0)
        return (int)posix_ret(err);
    *st = (struct stat){ .st_mode = mode, .st_nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1,
                         .st_blksize = 4096 };
    return 0;
}

/* moat's symbolic links (/sys/bus/pci/devices/<BDF>/iommu_group) point at directories. */
int stat(const char *path, struct stat *st)
{
    int r = stat_mode(path, st);
    if (r == 0 && S_ISLNK(st->st_mode))
        st->st_mode = S_IFDIR | 0755;
    return r;
}

int lstat(const char *path, struct stat *st)
{
    return stat_mode(path, st);
}

int access(const char *path, int amode)
{
    struct stat st;
    if (amode & ~(R_OK | W_OK | X_OK))
        return (int)posix_ret(-EINVAL);
    if (stat(path, &st))
        return -1;
    if ((amode & X_OK) && !S_ISDIR(st.st_mode))
        return (int)posix_ret(-EACCES);
    return 0;
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
    return posix_ret(sys_readlink(path, buf, size));
}

static int read_only(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (int)posix_ret(-EROFS);
}

int unlink(const char *path)
{
    return read_only(path);
}

int mkdir(const char *path, mode_t mode)
{
    struct stat st;
    return (int)posix_ret(stat(path, &st) == 0 ? -EEXIST : -EROFS);
}

int link(const char *old, const char *new)
{
    return read_only(old);
}

struct __moat_dir {
    unsigned n, next;
    struct dirent ents[DIR_MAX_ENTRIES];
};

static void dir_emit(void *ctx, const char *name)
{
    struct __moat_dir *d = ctx;
    if (d->n == DIR_MAX_ENTRIES)
        return;
    struct dirent *e = &d->ents[d->n++];
    strncpy(e->d_name, name, sizeof(e->d_name) - 1);
    e->d_ino = d->n;
    e->d_off = d->n;
    e->d_reclen = sizeof(*e);
    e->d_type = DT_UNKNOWN;
}

DIR *opendir(const char *path)
{
    struct __moat_dir *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    int err = sys_list_dir(path, dir_emit, d);
    if (err < 0) {
        free(d);
        errno = -err;
        return NULL;
    }
    return d;
}

struct dirent *readdir(DIR *d)
{
    return d->next < d->n ? &d->ents[d->next++] : NULL;
}

void rewinddir(DIR *d)
{
    d->next = 0;
}

int closedir(DIR *d)
{
    free(d);
    return 0;
}

/* POSIX's basename and dirname (<libgen.h>): they may modify the path they are given.
 * newlib's <libgen.h> declares the POSIX basename under the symbol "basename" (its C name
 * __xpg_basename) but does not define it; newlib has only the GNU one, __gnu_basename. */
char *__xpg_basename(char *path)
{
    if (!path || !*path)
        return ".";
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = 0;
    char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

char *dirname(char *path)
{
    if (!path || !*path)
        return ".";
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    if (n == 0)
        return ".";
    while (n > 1 && path[n - 1] == '/')
        n--;
    path[n] = 0;
    return path;
}
