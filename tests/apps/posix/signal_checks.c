/* Signals as a Linux program sees them: Linux's numbers, handlers run by kill/raise before the
 * call returns, SA_SIGINFO with its siginfo_t, the BSD semantics of signal(), SA_RESETHAND, a
 * blocked signal pending until it is unblocked, abort ending by SIGABRT even when a handler
 * returns, sigwait/sigtimedwait/sigsuspend, sigaltstack, unhandled signals ending a child with
 * that signal, and glibc's descriptions. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "posix_test.h"

static volatile int handled, runs, nested_seen;

static void on_usr1(int sig)
{
    handled = sig;
    runs++;
}

static volatile int info_sig, info_code, info_pid, info_ctx_null;

static void on_info(int sig, siginfo_t *info, void *ctx)
{
    info_sig = info->si_signo == sig ? sig : -1;
    info_code = info->si_code;
    info_pid = info->si_pid;
    info_ctx_null = ctx == NULL;
}

/* Raises its own signal again: that one waits, blocked, until this handler returns. */
static void raises_itself(int sig)
{
    if (runs++ == 0) {
        raise(sig);
        nested_seen = runs;
    }
}

static void returns_from_abort(int sig)
{
    handled = sig;
}

static void number_checks(void)
{
    check("signal numbers are Linux's: SIGBUS 7, SIGUSR1 10, SIGUSR2 12, SIGCHLD 17, SIGSTOP 19",
          SIGBUS == 7 && SIGUSR1 == 10 && SIGUSR2 == 12 && SIGCHLD == 17 && SIGSTOP == 19 &&
          SIGSYS == 31 && NSIG == 65);
    check("SA_SIGINFO 4, SA_RESTART 0x10000000; SIG_BLOCK 0, SIG_UNBLOCK 1, SIG_SETMASK 2",
          SA_SIGINFO == 4 && SA_RESTART == 0x10000000 && SIG_BLOCK == 0 && SIG_UNBLOCK == 1 &&
          SIG_SETMASK == 2);
    check("strsignal(SIGUSR1) is glibc's \"User defined signal 1\"",
          strcmp(strsignal(SIGUSR1), "User defined signal 1") == 0);
    check("strsignal(SIGABRT) is \"Aborted\", strsignal(99) \"Unknown signal 99\"",
          strcmp(strsignal(SIGABRT), "Aborted") == 0 &&
          strcmp(strsignal(99), "Unknown signal 99") == 0);
    sigset_t s;
    check("sigemptyset, sigaddset(SIGRTMAX), sigismember",
          sigemptyset(&s) == 0 && sigaddset(&s, SIGRTMAX) == 0 && sigismember(&s, SIGRTMAX) == 1 &&
          sigismember(&s, SIGUSR1) == 0);
    errno = 0;
    check("sigaddset of signal 0 or 65 is EINVAL",
          sigaddset(&s, 0) == -1 && errno == EINVAL && sigaddset(&s, NSIG) == -1);
}

static void handler_checks(void)
{
    struct sigaction sa = { .sa_handler = on_usr1 }, old;
    check("sigaction installs a handler", sigaction(SIGUSR1, &sa, &old) == 0 && old.sa_handler == SIG_DFL);
    check("kill(getpid(), SIGUSR1) runs it", kill(getpid(), SIGUSR1) == 0 && handled == SIGUSR1);
    errno = 0;
    check("sigaction of SIGKILL is EINVAL", sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
    check("sigaction of signal 65 is EINVAL", sigaction(NSIG, NULL, &old) == -1 && errno == EINVAL);
    signal(SIGUSR1, SIG_IGN);
    check("an ignored signal does nothing", kill(getpid(), SIGUSR1) == 0);

    runs = 0;
    check("signal() returns the previous handler", signal(SIGUSR1, on_usr1) == SIG_IGN);
    check("signal()'s handler stays installed: raise twice runs it twice (BSD semantics)",
          raise(SIGUSR1) == 0 && raise(SIGUSR1) == 0 && runs == 2);
    check("sigaction reports signal()'s SA_RESTART",
          sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == on_usr1 &&
          (old.sa_flags & SA_RESTART));

    sa = (struct sigaction){ .sa_sigaction = on_info, .sa_flags = SA_SIGINFO };
    check("an SA_SIGINFO handler installs", sigaction(SIGUSR2, &sa, NULL) == 0);
    check("kill runs it with si_signo, si_code SI_USER, si_pid the sender, a NULL context",
          kill(getpid(), SIGUSR2) == 0 && info_sig == SIGUSR2 && info_code == SI_USER &&
          info_pid == getpid() && info_ctx_null);
    check("raise runs it with si_code SI_TKILL", raise(SIGUSR2) == 0 && info_code == SI_TKILL);
    errno = 0;
    check("raise(0) is 0, raise(65) EINVAL", raise(0) == 0 && raise(NSIG) == -1 && errno == EINVAL);
    check("sigaction gives back sa_sigaction and SA_SIGINFO",
          sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_sigaction == on_info &&
          old.sa_flags == SA_SIGINFO);

    sa = (struct sigaction){ .sa_handler = on_usr1, .sa_flags = SA_RESETHAND };
    sigaction(SIGUSR2, &sa, NULL);
    runs = 0;
    raise(SIGUSR2);
    check("SA_RESETHAND: one run, then the default action is back",
          runs == 1 && sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_handler == SIG_DFL);

    sa = (struct sigaction){ .sa_handler = raises_itself };
    sigaction(SIGUSR1, &sa, NULL);
    runs = nested_seen = 0;
    raise(SIGUSR1);
    check("a handler's own signal waits until the handler returns", nested_seen == 1 && runs == 2);
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGUSR1, &sa, NULL);
    runs = nested_seen = 0;
    raise(SIGUSR1);
    check("with SA_NODEFER it runs at once, inside the handler", nested_seen == 2 && runs == 2);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static void mask_checks(void)
{
    sigset_t set, old, pend;
    signal(SIGUSR1, on_usr1);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGKILL);
    runs = 0;
    check("sigprocmask(SIG_BLOCK, {SIGUSR1, SIGKILL}) is 0",
          sigprocmask(SIG_BLOCK, &set, &old) == 0 && !sigismember(&old, SIGUSR1));
    check("SIGKILL cannot be blocked", sigprocmask(SIG_BLOCK, NULL, &old) == 0 &&
                                       sigismember(&old, SIGUSR1) && !sigismember(&old, SIGKILL));
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    check("a blocked signal does not run, and is pending",
          runs == 0 && sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1));
    check("unblocking delivers it once, before sigprocmask returns",
          sigprocmask(SIG_UNBLOCK, &set, NULL) == 0 && runs == 1 &&
          sigpending(&pend) == 0 && !sigismember(&pend, SIGUSR1));
    errno = 0;
    check("sigprocmask with how 3 is EINVAL", sigprocmask(3, &set, NULL) == -1 && errno == EINVAL);
    check("pthread_sigmask sets the same mask",
          pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 && sigprocmask(SIG_SETMASK, NULL, &old) == 0 &&
          sigismember(&old, SIGUSR1) && pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_IGN);
    check("setting SIG_IGN discards a pending signal",
          sigpending(&pend) == 0 && !sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGUSR1, SIG_DFL);
}

/* kselftest's harness before Linux 6.16-ish timed tests out with an SA_SIGINFO SIGALRM handler
 * and alarm(): installing it and putting the saved action back must work. */
static void harness_alarm_checks(void)
{
    struct sigaction action = { .sa_sigaction = on_info, .sa_flags = SA_SIGINFO }, saved, now;
    check("an SA_SIGINFO SIGALRM handler installs, alarm(30) answers 0",
          sigaction(SIGALRM, &action, &saved) == 0 && alarm(30) == 0);
    check("alarm(0), then the saved action goes back",
          alarm(0) == 0 && sigaction(SIGALRM, &saved, NULL) == 0 &&
          sigaction(SIGALRM, NULL, &now) == 0 && now.sa_handler == SIG_DFL);
}

static void wait_checks(void)
{
    sigset_t set, now;
    siginfo_t info;
    int sig = 0;
    struct timespec ten_ms = { 0, 10000000 };
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGUSR1, on_usr1);
    runs = 0;
    raise(SIGUSR1);
    check("sigwait takes a pending signal without running its handler",
          sigwait(&set, &sig) == 0 && sig == SIGUSR1 && runs == 0 &&
          sigpending(&now) == 0 && !sigismember(&now, SIGUSR1));
    errno = 0;
    check("sigtimedwait with nothing pending is EAGAIN after its timeout",
          sigtimedwait(&set, &info, &ten_ms) == -1 && errno == EAGAIN);
    kill(getpid(), SIGUSR1);
    check("sigtimedwait gives a pending one with its siginfo",
          sigtimedwait(&set, &info, &ten_ms) == SIGUSR1 && info.si_signo == SIGUSR1 &&
          info.si_code == SI_USER);
    check("sigwait with nothing pending and no thread to send one is EDEADLK (Linux waits for ever)",
          sigwait(&set, &sig) == EDEADLK);
    raise(SIGUSR1);
    sigset_t none;
    sigemptyset(&none);
    errno = 0;
    check("sigsuspend runs the pending handler and is EINTR",
          sigsuspend(&none) == -1 && errno == EINTR && runs == 1);
    check("then the mask is as before: SIGUSR1 blocked",
          sigprocmask(SIG_SETMASK, NULL, &now) == 0 && sigismember(&now, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGUSR1, SIG_DFL);

    static char alt[SIGSTKSZ];
    stack_t ss = { .ss_sp = alt, .ss_size = 1024 }, old;
    check("sigaltstack: none at first", sigaltstack(NULL, &old) == 0 && old.ss_flags == SS_DISABLE);
    errno = 0;
    check("a stack below MINSIGSTKSZ is ENOMEM", sigaltstack(&ss, NULL) == -1 && errno == ENOMEM);
    ss.ss_size = sizeof(alt);
    ss.ss_flags = 5;
    check("flags 5 are EINVAL", sigaltstack(&ss, NULL) == -1 && errno == EINVAL);
    ss.ss_flags = 0;
    check("one of SIGSTKSZ is kept and given back",
          sigaltstack(&ss, NULL) == 0 && sigaltstack(NULL, &old) == 0 && old.ss_sp == alt &&
          old.ss_size == sizeof(alt) && old.ss_flags == 0);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
}

static void ending_checks(void)
{
    int st = 0;
    pid_t pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGUSR1);
        _exit(0);
    }
    check("an unhandled SIGUSR1 ends the child with signal 10",
          waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1 &&
          WTERMSIG(st) == 10);

    handled = 0;
    pid = fork();
    if (pid == 0) {
        signal(SIGABRT, returns_from_abort);
        abort();
    }
    check("abort() ends the child by SIGABRT though its handler returned",
          waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    check("the child's handler was the child's: the parent's SIGABRT action is the default",
          signal(SIGABRT, SIG_DFL) == SIG_DFL);

    pid = fork();
    if (pid == 0) {
        signal(SIGCHLD, SIG_DFL);
        raise(SIGCHLD);
        raise(SIGWINCH);
        _exit(3);
    }
    check("SIGCHLD and SIGWINCH are ignored by default",
          waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

void signal_checks(void)
{
    number_checks();
    handler_checks();
    mask_checks();
    harness_alarm_checks();
    wait_checks();
    ending_checks();
}
