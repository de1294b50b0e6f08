/* kselftest's harness, as a pattern: each test in a child of its own process group, which forks
 * a grandchild for the body and forwards a fatal signal to itself; the parent waits on a pidfd
 * with a timeout, then waitpid(WNOHANG); results travel through MAP_SHARED memory. This file
 * includes what the harness includes and nothing more (no <signal.h>: Linux's C library brings
 * it with <sys/wait.h>, and the harness relies on that). */
#define _GNU_SOURCE
#include <asm/types.h>
#include <ctype.h>
#include <errno.h>
#include <linux/unistd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "posix_test.h"

void harness_pattern_checks(void)
{
    int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    check("MAP_SHARED | MAP_ANONYMOUS", shared != MAP_FAILED);
    if (shared == MAP_FAILED)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        setpgrp();
        int st = 0;
        pid_t grandchild = fork();
        if (grandchild == 0) {
            shared[0] = 1234;
            abort();
        }
        waitpid(grandchild, &st, 0);
        if (WIFSIGNALED(st))
            kill(getpid(), WTERMSIG(st));
        _exit(0);
    }
    int pidfd = (int)syscall(__NR_pidfd_open, pid, 0);
    bool once = false;
    check("__atomic_test_and_set", !__atomic_test_and_set(&once, __ATOMIC_RELAXED) && once);
    check("pidfd_open of the child", pidfd >= 0);
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    check("its pidfd polls readable: the child has ended", poll(&p, 1, 30000) == 1 && (p.revents & POLLIN));
    close(pidfd);
    int st = 0;
    check("waitpid WNOHANG collects it", waitpid(pid, &st, WNOHANG) == pid);
    check("the grandchild's SIGABRT, forwarded", WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    check("results through shared memory", shared[0] == 1234);
    check("pidfd_open of no such process is ESRCH", syscall(__NR_pidfd_open, 999, 0) == -1 && errno == ESRCH);
    check("an unknown system call is ENOSYS", syscall(100000) == -1 && errno == ENOSYS);
    munmap(shared, 4096);
}
