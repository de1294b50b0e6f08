/* fork with vfork's rule: the child runs to completion first, its status comes back through
 * waitpid, the descriptors it opened are closed when it ends (VFIO's release-on-close runs:
 * the group can be opened again), and the parent's memory is as it was at the fork (locals,
 * globals, the heap, private mappings; MAP_SHARED memory is shared, the child's mappings go). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>
#include "posix_test.h"

static int counter;

static void child_status_checks(void)
{
    int st = -1;
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    check("fork returns the child's pid to the parent", pid > 1);
    check("waitpid collects it", waitpid(pid, &st, 0) == pid);
    check("_exit(7) is WIFEXITED with status 7", WIFEXITED(st) && WEXITSTATUS(st) == 7);
    check("nothing more to wait for: ECHILD", waitpid(-1, &st, 0) == -1 && errno == ECHILD);

    pid = fork();
    if (pid == 0)
        abort();
    check("abort() in the child is WIFSIGNALED SIGABRT",
          wait(&st) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);

    pid = fork();
    if (pid == 0) {
        counter++;
        exit(getppid() == 1 ? 3 : 4);
    }
    check("exit(3) in the child, whose parent is pid 1", wait(&st) == pid && WEXITSTATUS(st) == 3);
    check("a global the child wrote is the parent's value again", counter == 0);
}

/* As after Linux's fork, the parent sees none of the child's writes to its private memory, and
 * all of them to MAP_SHARED memory; what the child mapped or allocated is gone with it. */
static void memory_checks(void)
{
    char *heap = malloc(100);
    char *priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!heap || priv == MAP_FAILED || shared == MAP_FAILED) {
        check("memory for the fork checks", 0);
        return;
    }
    strcpy(heap, "parent");
    memset(priv, 'p', 8192);
    int st = 0;
    pid_t pid = fork();
    if (pid == 0) {
        strcpy(heap, "child");
        memset(priv, 'c', 8192);
        char *more = malloc(1 << 20);                /* the heap grows in the child */
        void *own = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        shared[0] = (long)own;
        shared[1] = more != NULL && strcmp(heap, "child") == 0 && priv[8191] == 'c';
        pid_t grandchild = fork();                  /* a nested fork gives the child its own back */
        if (grandchild == 0) {
            strcpy(heap, "grandchild");
            _exit(0);
        }
        waitpid(grandchild, &st, 0);
        shared[2] = strcmp(heap, "child") == 0;
        _exit(0);
    }
    waitpid(pid, &st, 0);
    check("the child wrote its copy and grew its heap", shared[1] == 1);
    check("after a grandchild, the child's memory was the child's", shared[2] == 1);
    check("the heap the child wrote is the parent's again", strcmp(heap, "parent") == 0);
    int same = 1;
    for (int i = 0; i < 8192; i++)
        same &= priv[i] == 'p';
    check("a private mapping the child wrote is the parent's again", same);
    check("a mapping the child made is gone with it (madvise: ENOMEM)",
          shared[0] != 0 && madvise((void *)shared[0], 4096, MADV_NORMAL) == -1 && errno == ENOMEM);
    char *after = malloc(1 << 20);
    check("the parent's heap works after the child's", after != NULL);
    if (after)
        memset(after, 0, 1 << 20);
    free(after);
    free(heap);
    munmap(priv, 8192);
    munmap(shared, 4096);
}

static void locals_checks(void)
{
    volatile int local = 1;
    pid_t pid = fork();
    if (pid == 0) {
        local = 2;
        _exit(local);
    }
    int st;
    waitpid(pid, &st, 0);
    check("the child saw its own write", WEXITSTATUS(st) == 2);
    check("the parent's locals are as they were at the fork", local == 1);
}

static void fd_checks(void)
{
    char link[64] = "";
    ssize_t n = readlink("/sys/bus/pci/devices/0000:00:03.0/iommu_group", link, sizeof(link) - 1);
    if (n <= 0) {
        check("readlink iommu_group", 0);
        return;
    }
    link[n] = 0;
    char path[96];
    snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
    int child_fd = -1;
    pid_t pid = fork();
    if (pid == 0) {
        int g = open(path, O_RDWR);
        int again = open(path, O_RDWR);     /* one open file per group: EBUSY */
        _exit(g >= 0 && again < 0 && errno == EBUSY ? 10 + (g & 0x7f) : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    check("the child opened the group", WIFEXITED(st) && WEXITSTATUS(st) >= 10);
    child_fd = WEXITSTATUS(st) - 10;
    check("the child's descriptor is closed when it ends",
          fcntl(child_fd, F_GETFD) == -1 && errno == EBADF);
    int g = open(path, O_RDWR);
    check("the group opens again: its release ran", g >= 0);
    close(g);

    int container = open("/dev/vfio/vfio", O_RDWR);
    pid = fork();
    if (pid == 0)
        _exit(close(container) == 0 ? 0 : 1);
    waitpid(pid, &st, 0);
    check("a descriptor the child closed is the parent's again",
          WEXITSTATUS(st) == 0 && ioctl(container, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
    close(container);
}

void fork_checks(void)
{
    check("getpid of the main program is 1", getpid() == 1);
    child_status_checks();
    locals_checks();
    memory_checks();
    fd_checks();
    harness_pattern_checks();
}
