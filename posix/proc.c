/* Processes. moat runs one program in one address space, so fork follows vfork's rule: the child
 * runs first, to completion, on the same stack and memory, and the parent resumes only when the
 * child has ended (exit, _exit, abort or a fatal kill), with the child's pid; waitpid then
 * collects the child's wait status. The parent's memory is given back as it was at the fork when
 * the child ends: its stack (saved here), its static data and its private anonymous mappings,
 * the heap among them (kernel/vm's fork image); and what the child mapped goes. So the parent
 * sees none of the child's writes there. What differs from Linux's fork:
 *   - memory is copied at the fork, not shared copy-on-write: a fork costs a copy of the
 *     parent's private memory (ENOMEM when there is not that much free). MAP_SHARED memory is
 *     shared, as on Linux. A mapping of the parent's that the child unmapped stays unmapped.
 *   - descriptors: the child shares the parent's open files (as after a fork); those it opened
 *     are closed when it ends (so VFIO's release-on-close runs as at a process exit), and one of
 *     the parent's that it closed or replaced is the parent's again.
 *   - exit() in a child flushes stdio but does not run the atexit handlers (they belong to the
 *     parent here: running them would use them up).
 *   - no preemption: a child that never ends never returns to the parent (no timeout, no alarm).
 * The main program is pid 1 (Linux's init); children count up from 2. */
#include "posix/posix.h"
#include "arch/arch.h"
#include "kernel/fd.h"
#include "kernel/vm.h"

#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORK_DEPTH 8
#define MAX_ZOMBIES 64
#define RESTORE_STACK_SIZE 16384
#define STACK_SLACK 512     /* below fork's locals: its frame and the calls it makes */

struct fork_frame {
    jmp_buf parent;         /* where fork returns in the parent */
    char *lo;               /* the parent's stack (its running thread's) from lo, saved at the fork */
    size_t len;
    void *thread;           /* the thread that forked (posix/thread.c): the child's only one */
    char *saved;
    pid_t parent_pid, child_pid;
    struct vm_fork_image *memory;      /* the parent's private memory, put back at the child's end */
    struct file *fds[FD_TABLE_SIZE];   /* the parent's descriptors, held while the child runs */
};

struct zombie {
    pid_t pid, ppid;
    int status;
};

static struct fork_frame frames[FORK_DEPTH];
static int depth;
static pid_t cur_pid = 1, next_pid = 2;
static struct zombie zombies[MAX_ZOMBIES];
static int nr_zombies;
/* Where a child's end runs: mapped (vm_map_stack) at the first fork, so neither the child's
 * stacks nor the static data that vm_fork_restore puts back. */
static char *restore_stack;
extern char __prog_data_start[], __prog_data_end[];     /* the linker script's */

pid_t getpid(void)
{
    return cur_pid;
}

pid_t getppid(void)
{
    return depth ? frames[depth - 1].parent_pid : 0;
}

uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }

pid_t setsid(void)
{
    return cur_pid;
}

int setpgid(pid_t pid, pid_t pgid)
{
    return 0;
}

pid_t setpgrp(void)
{
    return 0;
}

int posix_fork_depth(void)
{
    return depth;
}

void *posix_forking_thread(void)
{
    return depth ? frames[depth - 1].thread : NULL;
}

static int ending_status;

/* On the restore stack (the child's own may be a stack its thread had, which goes now): the
 * parent's descriptors and memory back, then the parent's stack, and the parent's fork resumes
 * (the frame of the innermost fork, frames[depth - 1]). */
static int end_child(void)
{
    int wait_status = ending_status;
    struct fork_frame *f = &frames[depth - 1];
    fd_table_restore(f->fds);
    /* The parent's memory as it was at the fork, this file's state included: as the fork left it
     * (depth counting the child), less the pids handed out since. */
    pid_t next = next_pid;
    vm_fork_restore(f->memory);
    next_pid = next;
    if (nr_zombies < MAX_ZOMBIES)
        zombies[nr_zombies++] = (struct zombie){ f->child_pid, f->parent_pid, wait_status };
    cur_pid = f->parent_pid;
    memcpy(f->lo, f->saved, f->len);
    longjmp(f->parent, 1);
}

void posix_process_end(int wait_status)
{
    if (depth == 0) {
        fflush(NULL);
        posix_program_end(WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status)
                                                   : WEXITSTATUS(wait_status));
    }
    ending_status = wait_status;
    arch_call_on_stack(end_child, restore_stack + RESTORE_STACK_SIZE);
    __builtin_unreachable();
}

static pid_t fork_process(void)
{
    if (depth == FORK_DEPTH || nr_zombies == MAX_ZOMBIES)
        return (pid_t)posix_ret(-EAGAIN);
    if (!restore_stack && vm_map_stack(RESTORE_STACK_SIZE, (void **)&restore_stack))
        return (pid_t)posix_ret(-ENOMEM);
    struct fork_frame *f = &frames[depth];
    char here;
    f->lo = (char *)(((uintptr_t)&here - STACK_SLACK) & ~(uintptr_t)15);
    f->len = (size_t)(posix_thread_stack_top() - f->lo);
    f->thread = posix_thread_current();
    f->saved = malloc(f->len);
    if (!f->saved)
        return (pid_t)posix_ret(-ENOMEM);
    fd_table_hold(f->fds);
    f->parent_pid = cur_pid;
    f->child_pid = next_pid++;
    fflush(NULL);   /* what the parent printed comes before the child's output */
    if (setjmp(f->parent)) {
        /* The parent, with its stack as it was: the child has ended. */
        struct fork_frame *done = &frames[--depth];
        free(done->saved);
        return done->child_pid;
    }
    memcpy(f->saved, f->lo, f->len);
    depth++;
    cur_pid = f->child_pid;
    /* Last: the image holds this file's state as the child starts, which the child's end
     * returns to. */
    struct vm_fork_image *memory;
    if (vm_fork_save(__prog_data_start, (size_t)(__prog_data_end - __prog_data_start), &memory)) {
        cur_pid = f->parent_pid;
        depth--;
        next_pid--;
        fd_table_restore(f->fds);
        free(f->saved);
        return (pid_t)posix_ret(-ENOMEM);
    }
    f->memory = memory;
    return 0;
}

/* pthread_atfork's handlers (posix/thread.c) around the fork, as glibc runs them: the parent's
 * also when the fork failed. */
pid_t fork(void)
{
    posix_atfork_prepare();
    pid_t pid = fork_process();
    if (pid == 0)
        posix_atfork_child();
    else
        posix_atfork_parent();
    return pid;
}

pid_t vfork(void)
{
    return fork_process();     /* vfork runs no atfork handlers */
}

pid_t waitpid(pid_t pid, int *status, int options)
{
    if (options & ~(WNOHANG | WUNTRACED))
        return (pid_t)posix_ret(-EINVAL);
    for (int i = 0; i < nr_zombies; i++) {
        struct zombie *z = &zombies[i];
        if (z->ppid != cur_pid || (pid > 0 && z->pid != pid))
            continue;
        pid_t got = z->pid;
        if (status)
            *status = z->status;
        *z = zombies[--nr_zombies];
        return got;
    }
    /* Children always run to completion inside fork: nothing is left to wait for. */
    return (pid_t)posix_ret(-ECHILD);
}

pid_t wait(int *status)
{
    return waitpid(-1, status, 0);
}

void _exit(int status)
{
    posix_process_end((status & 0xff) << 8);
}

void exit(int status)
{
    void __call_exitprocs(int, void *);
    if (depth == 0)
        __call_exitprocs(status, NULL);
    fflush(NULL);
    _exit(status);
}

static bool is_zombie(pid_t pid)
{
    for (int i = 0; i < nr_zombies; i++)
        if (zombies[i].pid == pid)
            return true;
    return false;
}

static bool is_running(pid_t pid)
{
    if (pid == cur_pid)
        return true;
    for (int i = 0; i < depth; i++)
        if (frames[i].parent_pid == pid)
            return true;
    return false;
}

/* A pidfd polls readable once its process has ended: here an eventfd holding 1 for a child that
 * has ended (every child has, by the time its parent runs again), 0 for a running process. */
static long pidfd_open(pid_t pid, unsigned flags)
{
    if (flags & ~(unsigned)O_NONBLOCK)
        return -EINVAL;
    if (pid <= 0)
        return -EINVAL;
    if (!is_zombie(pid) && !is_running(pid))
        return -ESRCH;
    return sys_eventfd(is_zombie(pid) ? 1 : 0, (int)flags);
}

long syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a0 = va_arg(ap, long), a1 = va_arg(ap, long);
    va_end(ap);
    switch (number) {
    case __NR_getpid:
    case __NR_gettid:
        return cur_pid;
    case __NR_pidfd_open:
        return posix_ret(pidfd_open((pid_t)a0, (unsigned)a1));
    default:
        return posix_ret(-ENOSYS);
    }
}

int kill(pid_t pid, int sig)
{
    if (sig < 0 || sig >= NSIG)
        return (int)posix_ret(-EINVAL);
    if (pid < -1)
        pid = -pid;     /* a process group: each process is its own group here */
    if (pid != cur_pid && pid != 0) {
        if (is_zombie(pid))
            return 0;   /* Linux: signalling a zombie succeeds and does nothing */
        if (is_running(pid))
            return (int)posix_ret(sig == 0 ? 0 : -EPERM);  /* suspended in fork */
        return (int)posix_ret(-ESRCH);
    }
    return posix_signal_self(sig);
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    return (int)posix_ret(-ENOSYS);     /* one program per image */
}

int getentropy(void *buf, size_t len)
{
    return (int)posix_ret(-ENOSYS);
}
