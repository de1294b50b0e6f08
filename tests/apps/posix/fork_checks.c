/* fork with vfork's rule: the child runs to completion first, its status comes back through
 * waitpid, the descriptors it opened are closed when it ends (VFIO's release-on-close runs:
 * the group can be opened again), and the parent's locals are as they were at the fork. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>
#include "posix_test.h"

static int shared_counter;

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
        shared_counter++;
        exit(getppid() == 1 ? 3 : 4);
    }
    check("exit(3) in the child, whose parent is pid 1", wait(&st) == pid && WEXITSTATUS(st) == 3);
    check("the child shares the parent's memory (vfork's rule)", shared_counter == 1);
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

static volatile int handled;

static void on_usr1(int sig)
{
    handled = sig;
}

/* Signals a process sends itself reach its handlers synchronously; unhandled ones end it. */
static void signal_checks(void)
{
    struct sigaction sa = { .sa_handler = on_usr1 }, old;
    check("sigaction installs a handler", sigaction(SIGUSR1, &sa, &old) == 0 && old.sa_handler == SIG_DFL);
    check("kill(getpid(), SIGUSR1) runs it", kill(getpid(), SIGUSR1) == 0 && handled == SIGUSR1);
    check("sigaction of SIGKILL is EINVAL", sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
    signal(SIGUSR1, SIG_IGN);
    check("an ignored signal does nothing", kill(getpid(), SIGUSR1) == 0);
    signal(SIGUSR1, SIG_DFL);
    int st = 0;
    pid_t pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGUSR1);
        _exit(0);
    }
    check("an unhandled SIGUSR1 ends the child", waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
                                                 WTERMSIG(st) == SIGUSR1);
}

void fork_checks(void)
{
    check("getpid of the main program is 1", getpid() == 1);
    child_status_checks();
    locals_checks();
    fd_checks();
    harness_pattern_checks();
    signal_checks();
}
