/* Signals. One process runs at a time and nothing interrupts it (no timers, no preemption), so a
 * signal only ever comes from the process itself: kill(getpid(), ...), raise, abort,
 * pthread_kill. It is delivered inside that call, as Linux delivers a signal a thread sends
 * itself before the call returns:
 *   - a handler runs with the action's sa_mask and the signal itself blocked (unless
 *     SA_NODEFER); SA_RESETHAND gives the default action back first; SA_SIGINFO handlers get a
 *     siginfo_t (si_code SI_USER from kill, SI_TKILL from raise and pthread_kill, si_pid the
 *     sender) and a NULL context.
 *   - a blocked signal stays pending (sigpending) until sigprocmask unblocks it, and is
 *     delivered before that call returns; a second one while pending is merged, as Linux merges
 *     standard signals.
 *   - SIG_IGN, and the default action of SIGCHLD, SIGCONT, SIGURG and SIGWINCH, do nothing;
 *     any other default action ends the process (its wait status, or the program's exit status
 *     128 + the signal, says which). A stop signal ends it too: nothing could continue it.
 * The mask and the actions are the process's (a thread's pthread_sigmask sets the process's
 * mask); a fork's child gets the parent's, and the parent keeps its own (fork gives back its
 * static data). The numbers and structures are Linux's (posix/newlib/sys/signal.h). */
#include "posix/posix.h"
#include "kernel/time.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct sigaction actions[NSIG];
static sigset_t blocked, pending;

static bool valid(int sig)
{
    return sig > 0 && sig < NSIG;
}

static sigset_t bit(int sig)
{
    return (sigset_t)1 << (sig - 1);
}

static bool ignored_by_default(int sig)
{
    return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

static void run_pending(void);

/* Delivers sig, sent by this process with si_code code, now or when it is unblocked. */
static void deliver(int sig, int code)
{
    if (blocked & bit(sig)) {
        pending |= bit(sig);
        return;
    }
    struct sigaction act = actions[sig];
    if (act.sa_handler == SIG_IGN || (act.sa_handler == SIG_DFL && ignored_by_default(sig)))
        return;
    if (act.sa_handler == SIG_DFL)
        posix_process_end(sig);
    if (act.sa_flags & SA_RESETHAND)
        actions[sig] = (struct sigaction){ .sa_handler = SIG_DFL };
    sigset_t saved = blocked;
    blocked |= act.sa_mask | ((act.sa_flags & SA_NODEFER) ? 0 : bit(sig));
    blocked &= ~(bit(SIGKILL) | bit(SIGSTOP));
    if (act.sa_flags & SA_SIGINFO) {
        siginfo_t info = { .si_signo = sig, .si_code = code };
        info.si_pid = getpid();
        info.si_uid = getuid();
        act.sa_sigaction(sig, &info, NULL);
    } else {
        act.sa_handler(sig);
    }
    blocked = saved;
    run_pending();
}

/* Delivers what was pending and is no longer blocked, lowest number first, as Linux does. */
static void run_pending(void)
{
    for (int sig = 1; sig < NSIG; sig++)
        if ((pending & ~blocked) & bit(sig)) {
            pending &= ~bit(sig);
            deliver(sig, SI_USER);
        }
}

/* kill(getpid(), sig) (posix/proc.c): 0 checks only. */
int posix_signal_self(int sig)
{
    if (sig != 0)
        deliver(sig, SI_USER);
    return 0;
}

/* Each process is its own process group here, so group N is process N. */
int killpg(pid_t pgrp, int sig)
{
    if (pgrp < 0)
        return (int)posix_ret(-EINVAL);
    return kill(pgrp, sig);
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!valid(sig) || (act && (sig == SIGKILL || sig == SIGSTOP)))
        return (int)posix_ret(-EINVAL);
    if (old)
        *old = actions[sig];
    if (act) {
        actions[sig] = *act;
        actions[sig].sa_mask &= ~(bit(SIGKILL) | bit(SIGSTOP));
        /* POSIX: setting SIG_IGN, or a default that ignores, discards what is pending */
        if (act->sa_handler == SIG_IGN ||
            (act->sa_handler == SIG_DFL && ignored_by_default(sig)))
            pending &= ~bit(sig);
    }
    return 0;
}

/* signal() as Linux's C library has it (BSD semantics): the handler stays installed, the
 * signal is blocked while it runs, and interrupted calls restart. */
_sig_func_ptr signal(int sig, _sig_func_ptr handler)
{
    struct sigaction act = { .sa_handler = handler, .sa_flags = SA_RESTART }, old;
    if (handler == SIG_ERR || !valid(sig)) {
        errno = EINVAL;
        return SIG_ERR;
    }
    act.sa_mask = bit(sig);
    if (sigaction(sig, &act, &old))
        return SIG_ERR;
    return old.sa_handler;
}

_sig_func_ptr _signal_r(struct _reent *r, int sig, _sig_func_ptr handler)
{
    return signal(sig, handler);
}

int raise(int sig)
{
    if (sig == 0)
        return 0;                       /* glibc's tgkill(..., 0): only checks */
    if (!valid(sig))
        return (int)posix_ret(-EINVAL);
    deliver(sig, SI_TKILL);
    return 0;
}

int _raise_r(struct _reent *r, int sig)
{
    return raise(sig);
}

/* As Linux's C library: SIGABRT unblocked and raised; if a handler returns, the default action
 * is put back and it is raised again, so the process always ends by SIGABRT. */
void abort(void)
{
    sigset_t abrt = bit(SIGABRT);
    sigprocmask(SIG_UNBLOCK, &abrt, NULL);
    raise(SIGABRT);
    actions[SIGABRT] = (struct sigaction){ .sa_handler = SIG_DFL };
    raise(SIGABRT);
    posix_process_end(SIGABRT);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    sigset_t mask = blocked;
    if (set) {
        switch (how) {
        case SIG_BLOCK:
            mask |= *set;
            break;
        case SIG_UNBLOCK:
            mask &= ~*set;
            break;
        case SIG_SETMASK:
            mask = *set;
            break;
        default:
            return (int)posix_ret(-EINVAL);
        }
    }
    if (old)
        *old = blocked;
    blocked = mask & ~(bit(SIGKILL) | bit(SIGSTOP));
    run_pending();
    return 0;
}

int sigpending(sigset_t *set)
{
    *set = pending;
    return 0;
}

int sigemptyset(sigset_t *set)
{
    *set = 0;
    return 0;
}

int sigfillset(sigset_t *set)
{
    *set = ~(sigset_t)0;
    return 0;
}

int sigaddset(sigset_t *set, int sig)
{
    if (!valid(sig))
        return (int)posix_ret(-EINVAL);
    *set |= bit(sig);
    return 0;
}

int sigdelset(sigset_t *set, int sig)
{
    if (!valid(sig))
        return (int)posix_ret(-EINVAL);
    *set &= ~bit(sig);
    return 0;
}

int sigismember(const sigset_t *set, int sig)
{
    if (!valid(sig))
        return (int)posix_ret(-EINVAL);
    return !!(*set & bit(sig));
}

static bool any_pending(const void *set)
{
    return pending & *(const sigset_t *)set;
}

/* Takes the lowest pending signal of set, waiting (the program's other threads run meanwhile)
 * until one is: the signal, or -errno: EAGAIN at the deadline, EDEADLK when no thread is left
 * to send one (Linux would wait for ever). */
static int take_pending(const sigset_t *set, siginfo_t *info, uint64_t deadline, const char *call)
{
    int err = posix_thread_wait(any_pending, set, deadline, call);
    if (err)
        return err == ETIMEDOUT ? -EAGAIN : -err;
    for (int sig = 1; sig < NSIG; sig++)
        if (pending & *set & bit(sig)) {
            pending &= ~bit(sig);
            if (info) {
                *info = (siginfo_t){ .si_signo = sig, .si_code = SI_USER };
                info->si_pid = getpid();
                info->si_uid = getuid();
            }
            return sig;
        }
    return -EAGAIN;     /* not reached: the wait said one was pending */
}

int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
    uint64_t deadline = 0;
    if (timeout) {
        if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L)
            return (int)posix_ret(-EINVAL);
        deadline = clock_ns() + (uint64_t)timeout->tv_sec * 1000000000u +
                   (uint64_t)timeout->tv_nsec;
        if (pending & *set)
            deadline = 0;
        else if (deadline == clock_ns())
            return (int)posix_ret(-EAGAIN);
    }
    return (int)posix_ret(take_pending(set, info, deadline, "sigtimedwait"));
}

int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    return (int)posix_ret(take_pending(set, info, 0, "sigwaitinfo"));
}

int sigwait(const sigset_t *set, int *sig)
{
    int r = take_pending(set, NULL, 0, "sigwait");
    if (r < 0)
        return -r;
    *sig = r;
    return 0;
}

static bool deliverable(const void *unused)
{
    return pending & ~blocked;
}

/* Waits with the mask set for a signal whose handler runs; always -1, EINTR once one has run
 * (EDEADLK when no thread is left to send one). */
int sigsuspend(const sigset_t *mask)
{
    sigset_t saved = blocked;
    blocked = *mask & ~(bit(SIGKILL) | bit(SIGSTOP));
    int err = posix_thread_wait(deliverable, NULL, 0, "sigsuspend");
    run_pending();
    blocked = saved;
    return (int)posix_ret(err ? -err : -EINTR);
}

/* Kept and given back; handlers run on the stack of the call that sent the signal, so
 * SA_ONSTACK changes nothing (a signal never interrupts a stack overflow here). */
static stack_t alt_stack = { .ss_flags = SS_DISABLE };

int sigaltstack(const stack_t *ss, stack_t *old)
{
    /* Linux's checks: the mode 0, SS_ONSTACK (taken as 0) or SS_DISABLE; room for a handler */
    bool disable = ss && ss->ss_flags == SS_DISABLE;
    if (ss && !disable && ss->ss_flags != 0 && ss->ss_flags != SS_ONSTACK)
        return (int)posix_ret(-EINVAL);
    if (ss && !disable && ss->ss_size < MINSIGSTKSZ)
        return (int)posix_ret(-ENOMEM);
    if (old)
        *old = alt_stack;
    if (ss)
        alt_stack = disable ? (stack_t){ .ss_flags = SS_DISABLE }
                            : (stack_t){ .ss_sp = ss->ss_sp, .ss_size = ss->ss_size };
    return 0;
}

/* No timers deliver signals in moat: alarm() schedules nothing and SIGALRM never arrives (a
 * program's watchdog does not fire); it answers as if no alarm was pending. */
unsigned alarm(unsigned seconds)
{
    return 0;
}

/* Linux's C library's descriptions. */
static const char *const descriptions[] = {
    [SIGHUP] = "Hangup",
    [SIGINT] = "Interrupt",
    [SIGQUIT] = "Quit",
    [SIGILL] = "Illegal instruction",
    [SIGTRAP] = "Trace/breakpoint trap",
    [SIGABRT] = "Aborted",
    [SIGBUS] = "Bus error",
    [SIGFPE] = "Floating point exception",
    [SIGKILL] = "Killed",
    [SIGUSR1] = "User defined signal 1",
    [SIGSEGV] = "Segmentation fault",
    [SIGUSR2] = "User defined signal 2",
    [SIGPIPE] = "Broken pipe",
    [SIGALRM] = "Alarm clock",
    [SIGTERM] = "Terminated",
    [SIGSTKFLT] = "Stack fault",
    [SIGCHLD] = "Child exited",
    [SIGCONT] = "Continued",
    [SIGSTOP] = "Stopped (signal)",
    [SIGTSTP] = "Stopped",
    [SIGTTIN] = "Stopped (tty input)",
    [SIGTTOU] = "Stopped (tty output)",
    [SIGURG] = "Urgent I/O condition",
    [SIGXCPU] = "CPU time limit exceeded",
    [SIGXFSZ] = "File size limit exceeded",
    [SIGVTALRM] = "Virtual timer expired",
    [SIGPROF] = "Profiling timer expired",
    [SIGWINCH] = "Window changed",
    [SIGIO] = "I/O possible",
    [SIGPWR] = "Power failure",
    [SIGSYS] = "Bad system call",
};

char *strsignal(int sig)
{
    static char buf[32];
    if (sig > 0 && sig < SIGRTMIN)
        return (char *)descriptions[sig];
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(buf, sizeof(buf), "Real-time signal %d", sig - SIGRTMIN);
    else
        snprintf(buf, sizeof(buf), "Unknown signal %d", sig);
    return buf;
}

void psignal(int sig, const char *s)
{
    if (s && *s)
        fprintf(stderr, "%s: %s\n", s, strsignal(sig));
    else
        fprintf(stderr, "%s\n", strsignal(sig));
}
