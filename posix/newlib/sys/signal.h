/* moat's <sys/signal.h>, put in place of newlib's before newlib is built. newlib's own header
 * numbers signals as BSD does (SIGUSR1 30, SIGCHLD 20) and has no sa_sigaction; a program written
 * for Linux compares wait statuses, exit codes (128 + the signal) and handler arguments with
 * Linux's numbers, so this one has Linux's: the signal numbers, struct sigaction with
 * sa_sigaction and the SA_* flags, siginfo_t with its si_code values, and sigprocmask's
 * SIG_BLOCK/SIG_UNBLOCK/SIG_SETMASK. Delivery is moat's (posix/signal.c). */
#ifndef _SYS_SIGNAL_H
#define _SYS_SIGNAL_H

#include "_ansi.h"
#include <sys/cdefs.h>
#include <sys/features.h>
#include <sys/types.h>
#include <sys/_sigset.h>
#include <sys/_timespec.h>

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(_SIGSET_T_DECLARED)
#define _SIGSET_T_DECLARED
typedef __sigset_t sigset_t;        /* one bit per signal: bit (n - 1) is signal n */
#endif

typedef void (*_sig_func_ptr)(int);

/* Linux's numbers (x86_64 and arm64 agree). */
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGIOT SIGABRT
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGSTKFLT 16
#define SIGCHLD 17
#define SIGCLD SIGCHLD
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGURG 23
#define SIGXCPU 24
#define SIGXFSZ 25
#define SIGVTALRM 26
#define SIGPROF 27
#define SIGWINCH 28
#define SIGIO 29
#define SIGPOLL SIGIO
#define SIGPWR 30
#define SIGSYS 31
#define SIGRTMIN 32
#define SIGRTMAX 64
#define NSIG 65
#define _NSIG NSIG

union sigval {
    int sival_int;
    void *sival_ptr;
};

#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD 2

struct sigevent {
    union sigval sigev_value;
    int sigev_signo;
    int sigev_notify;
    void (*sigev_notify_function)(union sigval);
    void *sigev_notify_attributes;
};

/* What a handler installed with SA_SIGINFO is told. Each cause fills its own fields; they
 * overlap as on Linux (si_pid/si_uid for kill, si_status for a child, si_addr for a fault). */
typedef struct {
    int si_signo;
    int si_errno;
    int si_code;
    union {
        int __pad[28];
        struct {
            pid_t pid;
            uid_t uid;
            union {
                union sigval value;     /* sigqueue */
                int status;             /* SIGCHLD */
            } u;
        } proc;
        struct {
            void *addr;
        } fault;
        struct {
            long band;
            int fd;
        } poll;
    } __fields;
} siginfo_t;

#define si_pid __fields.proc.pid
#define si_uid __fields.proc.uid
#define si_value __fields.proc.u.value
#define si_int __fields.proc.u.value.sival_int
#define si_ptr __fields.proc.u.value.sival_ptr
#define si_status __fields.proc.u.status
#define si_addr __fields.fault.addr
#define si_band __fields.poll.band
#define si_fd __fields.poll.fd

/* si_code for a signal sent by a program */
#define SI_USER 0           /* kill */
#define SI_KERNEL 0x80
#define SI_QUEUE (-1)       /* sigqueue */
#define SI_TIMER (-2)
#define SI_MESGQ (-3)
#define SI_ASYNCIO (-4)
#define SI_SIGIO (-5)
#define SI_TKILL (-6)       /* raise, pthread_kill */

struct sigaction {
    union {
        _sig_func_ptr __handler;
        void (*__info_handler)(int, siginfo_t *, void *);
    } __u;
    sigset_t sa_mask;
    int sa_flags;
    void (*sa_restorer)(void);
};
#define sa_handler __u.__handler
#define sa_sigaction __u.__info_handler

#define SA_NOCLDSTOP 0x00000001
#define SA_NOCLDWAIT 0x00000002
#define SA_SIGINFO 0x00000004
#define SA_RESTORER 0x04000000
#define SA_ONSTACK 0x08000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000
#define SA_NOMASK SA_NODEFER
#define SA_ONESHOT SA_RESETHAND

#define MINSIGSTKSZ 2048
#define SIGSTKSZ 8192
#define SS_ONSTACK 1
#define SS_DISABLE 2

typedef struct sigaltstack {
    void *ss_sp;
    int ss_flags;
    size_t ss_size;
} stack_t;

#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2

int sigprocmask(int, const sigset_t *, sigset_t *);
int pthread_sigmask(int, const sigset_t *, sigset_t *);
int kill(pid_t, int);
int killpg(pid_t, int);
int sigaction(int, const struct sigaction *, struct sigaction *);
int sigaddset(sigset_t *, int);
int sigdelset(sigset_t *, int);
int sigismember(const sigset_t *, int);
int sigfillset(sigset_t *);
int sigemptyset(sigset_t *);
int sigpending(sigset_t *);
int sigsuspend(const sigset_t *);
int sigwait(const sigset_t *, int *);
int sigaltstack(const stack_t *__restrict, stack_t *__restrict);
int pthread_kill(pthread_t, int);
int sigwaitinfo(const sigset_t *, siginfo_t *);
int sigtimedwait(const sigset_t *, siginfo_t *, const struct timespec *);

#ifdef __cplusplus
}
#endif

#ifndef _SIGNAL_H_
/* <sys/signal.h> and <signal.h> are one header in Linux's C library; some programs rely on it. */
#include <signal.h>
#endif
#endif /* _SYS_SIGNAL_H */
