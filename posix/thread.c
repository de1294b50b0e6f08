/* POSIX threads, cooperative: moat gives the program one CPU and never preempts it, so a thread
 * runs until it blocks or ends, and only then does another run. The blocking points are
 * pthread_join, pthread_barrier_wait, a held mutex, rwlock or spin lock, pthread_cond_wait,
 * pthread_once while another thread runs the routine, sched_yield/pthread_yield, and sleeps
 * (nanosleep, usleep, sleep: another thread runs meanwhile; poll with a timeout lets the others
 * run first). pthread_create runs the new thread at once, until it blocks or ends.
 *
 * A thread runs on a stack of its own, mapped as a stack (kernel/vm: copies reach it, devices
 * never do), with its own struct _reent (newlib's errno and per-thread state; the standard
 * streams and signal handlers stay the process's). A switch is setjmp/longjmp, and
 * arch_call_on_stack for a thread's first run.
 *
 * When every thread of the process waits for another and none has a deadline, the call that
 * would wait for ever returns EDEADLK (the running thread's, or else the first waiting one's),
 * with a line on stderr: no hang.
 *
 * fork (posix/proc.c) runs the child with the calling thread alone: the other threads stay
 * suspended in the parent's memory; those the child creates end with it. exit() ends every
 * thread; pthread_exit of the last thread ends the process with status 0. */
#include "posix/posix.h"
#include "arch/arch.h"
#include "kernel/time.h"
#include "kernel/vm.h"

#include <errno.h>
#include <pthread.h>
#include <reent.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_STACK_SIZE (1u << 20)

enum thread_state { THREAD_NEW, THREAD_LIVE, THREAD_DONE };

struct thread;
typedef bool (*ready_fn)(const struct thread *t);

struct thread {
    struct thread *next;            /* every thread, in creation order; the main one first */
    pthread_t id;
    enum thread_state state;
    bool detached, joined;
    int depth;                      /* the fork depth of the process that created it */
    jmp_buf ctx;                    /* where it resumes */
    char *stack;                    /* mapped for it (NULL: the main thread's is start.c's) */
    size_t stack_len;
    void *(*start)(void *);
    void *arg, *ret;
    struct _reent *reent;
    /* Blocked: until ready(self) holds, or the deadline (ns, 0: none) passes. */
    ready_fn ready;
    const void *wait_obj;
    unsigned long wait_arg;
    uint64_t deadline;
    const char *waits_in;           /* the call, for the deadlock report */
    bool deadlocked;                /* its call returns EDEADLK */
    bool signalled;                 /* a condition variable woke it */
    void *specific[PTHREAD_KEYS_MAX];
};

struct key {
    bool used;
    void (*destructor)(void *);
};

/* newlib's, undeclared here: the handler table, and the set-up of the standard streams */
int _init_signal_r(struct _reent *r);
void __sinit(struct _reent *r);

static struct thread main_thread = { .id = 1, .state = THREAD_LIVE };
static struct thread *threads = &main_thread, *current = &main_thread;
static pthread_t next_id = 2;
static unsigned long next_ticket = 1;  /* condition waiters, in arrival order */
static struct key keys[PTHREAD_KEYS_MAX];

void *posix_thread_current(void)
{
    return current;
}

char *posix_thread_stack_top(void)
{
    extern char *posix_stack_top;
    return current->stack ? current->stack + current->stack_len : posix_stack_top;
}

/* Whether t belongs to the running process: made by it, or the thread that forked it. */
static bool in_process(const struct thread *t)
{
    return t->depth == posix_fork_depth() || t == posix_forking_thread();
}

static struct thread *find(pthread_t id)
{
    for (struct thread *t = threads; t; t = t->next)
        if (t->id == id && in_process(t))
            return t;
    return NULL;
}

static bool waiting(const struct thread *t)
{
    return t->state == THREAD_LIVE && t->ready;
}

static bool eligible(const struct thread *t, uint64_t now)
{
    if (t->state == THREAD_DONE || !in_process(t))
        return false;
    return !waiting(t) || t->deadlocked || t->ready(t) || (t->deadline && now >= t->deadline);
}

/* The thread to run now that the current one stops: the next eligible one after it in turn,
 * the current one last. None eligible: wait for the earliest deadline; no deadline either: a
 * deadlock, whose victim's call returns EDEADLK. NULL when no thread of the process is left. */
static struct thread *next_to_run(void)
{
    for (;;) {
        uint64_t now = clock_ns(), wake = 0;
        struct thread *t = current;
        do {
            t = t->next ? t->next : threads;
            if (eligible(t, now))
                return t;
        } while (t != current);
        struct thread *victim = NULL;
        for (t = threads; t; t = t->next) {
            if (!in_process(t) || !waiting(t))
                continue;
            if (t->deadline && (!wake || t->deadline < wake))
                wake = t->deadline;
            if (!victim || t == current)
                victim = t;
        }
        if (wake) {
            udelay((wake - now + NSEC_PER_USEC - 1) / NSEC_PER_USEC);
            continue;
        }
        if (!victim)
            return NULL;
        fflush(stdout);
        fprintf(stderr, "pthread: deadlock: no thread can run or wake another; thread %lu's %s "
                "returns EDEADLK\n", victim->id, victim->waits_in);
        victim->deadlocked = true;
        return victim;
    }
}

static void reap(struct thread *t)
{
    struct thread **p = &threads;
    while (*p != t)
        p = &(*p)->next;
    *p = t->next;
    t->reent->__sdidinit = 0;      /* its streams are the process's: nothing to clean up */
    _reclaim_reent(t->reent);
    free(t->reent);
    vm_unmap_stack(t->stack, t->stack_len);
    free(t);
}

/* Detached threads that have ended: their stacks can go once another one runs. */
static void reap_detached(void)
{
    for (struct thread *t = threads, *n; t; t = n) {
        n = t->next;
        if (t != current && t->state == THREAD_DONE && t->detached && t->stack && in_process(t))
            reap(t);
    }
}

static void thread_end(void *ret) __attribute__((noreturn));

static int thread_main(void)
{
    thread_end(current->start(current->arg));
}

static void switch_to(struct thread *t)
{
    if (setjmp(current->ctx)) {
        reap_detached();
        return;
    }
    current = t;
    _impure_ptr = t->reent ? t->reent : _global_impure_ptr;
    if (t->state == THREAD_NEW) {
        t->state = THREAD_LIVE;
        arch_call_on_stack(thread_main, t->stack + t->stack_len);
        __builtin_unreachable();
    }
    longjmp(t->ctx, 1);
}

/* Waits until ready(current) holds: 0, ETIMEDOUT at the deadline (ns; 0: none), EDEADLK when
 * nothing else can ever make it hold. Other threads run meanwhile. */
static int block(ready_fn ready, const void *obj, unsigned long arg, uint64_t deadline,
                 const char *call)
{
    struct thread *self = current;
    self->ready = ready;
    self->wait_obj = obj;
    self->wait_arg = arg;
    self->deadline = deadline;
    self->waits_in = call;
    self->deadlocked = false;
    int r;
    for (;;) {
        if (ready(self)) {
            r = 0;
            break;
        }
        if (self->deadlocked) {
            r = EDEADLK;
            break;
        }
        if (deadline && clock_ns() >= deadline) {
            r = ETIMEDOUT;
            break;
        }
        struct thread *t = next_to_run();
        if (t && t != self)
            switch_to(t);
    }
    self->ready = NULL;
    self->deadlocked = false;
    return r;
}

static void thread_end(void *ret)
{
    struct thread *self = current;
    for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
        bool any = false;
        for (unsigned k = 0; k < PTHREAD_KEYS_MAX; k++) {
            void *v = self->specific[k];
            if (!keys[k].used || !keys[k].destructor || !v)
                continue;
            self->specific[k] = NULL;
            keys[k].destructor(v);
            any = true;
        }
        if (!any)
            break;
    }
    self->ret = ret;
    self->state = THREAD_DONE;
    struct thread *t = next_to_run();
    if (!t)
        exit(0);        /* the process's last thread ended */
    switch_to(t);
    __builtin_unreachable();
}

/* A time on clk as the calls take it (CLOCK_REALTIME: the wall clock, posix/time.c) into a
 * deadline on the runtime's clock in ns; EINVAL for a bad one. A deadline already past is 1
 * (not "none"). */
static int deadline_of(const struct timespec *abstime, clockid_t clk, uint64_t *out)
{
    if (!abstime || abstime->tv_nsec < 0 || abstime->tv_nsec >= (long)NSEC_PER_SEC)
        return EINVAL;
    uint64_t base = clk == CLOCK_REALTIME ? clock_wall_base_ns() : 0;
    uint64_t at = abstime->tv_sec < 0 ? 0 : (uint64_t)abstime->tv_sec * NSEC_PER_SEC +
                                            (uint64_t)abstime->tv_nsec;
    *out = at > base ? at - base : 1;
    return 0;
}

static bool never(const struct thread *t)
{
    return false;
}

/* posix_thread_wait's condition: the caller's function and object, on the waiting thread's
 * stack for as long as it waits. */
struct caller_wait {
    bool (*ready)(const void *obj);
    const void *obj;
};

static bool caller_ready(const struct thread *t)
{
    const struct caller_wait *w = t->wait_obj;
    return w->ready(w->obj);
}

/* Waits until ready(obj) holds, for the rest of the system layer (posix/signal.c's sigwait). */
int posix_thread_wait(bool (*ready)(const void *obj), const void *obj, uint64_t deadline,
                      const char *call)
{
    struct caller_wait w = { ready, obj };
    return block(caller_ready, &w, 0, deadline, call);
}

/* Sleeps ns, letting the other threads run meanwhile (posix/time.c). */
void posix_thread_sleep(uint64_t ns)
{
    bool alone = true;
    for (struct thread *t = threads; t; t = t->next)
        if (t != current && t->state != THREAD_DONE && in_process(t))
            alone = false;
    if (alone)
        udelay((ns + NSEC_PER_USEC - 1) / NSEC_PER_USEC);
    else
        block(never, NULL, 0, clock_ns() + ns + 1, "sleep");
}

int sched_yield(void)
{
    struct thread *t = next_to_run();
    if (t && t != current)
        switch_to(t);
    return 0;
}

int pthread_yield(void)
{
    return sched_yield();
}

/* ---- threads */

static size_t stack_size(const pthread_attr_t *attr)
{
    size_t size = attr && attr->stacksize ? attr->stacksize : DEFAULT_STACK_SIZE;
    return (size + 4095) & ~(size_t)4095;
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                   void *arg)
{
    size_t len = stack_size(attr);
    struct thread *t = calloc(1, sizeof(*t));
    struct _reent *r = malloc(sizeof(*r));
    void *stack = NULL;
    if (!t || !r || vm_map_stack(len, &stack)) {
        free(t);
        free(r);
        return EAGAIN;
    }
    /* Its own errno and library state; the process's standard streams (and signal actions,
     * which posix/signal.c keeps for the process). */
    __sinit(_global_impure_ptr);
    _REENT_INIT_PTR(r);
    r->_stdin = _global_impure_ptr->_stdin;
    r->_stdout = _global_impure_ptr->_stdout;
    r->_stderr = _global_impure_ptr->_stderr;
    r->__sdidinit = 1;
    r->__cleanup = NULL;
    *t = (struct thread){ .id = next_id++, .state = THREAD_NEW, .depth = posix_fork_depth(),
                          .detached = attr && attr->detachstate == PTHREAD_CREATE_DETACHED,
                          .stack = stack, .stack_len = len, .start = start, .arg = arg,
                          .reent = r };
    struct thread **p = &threads;
    while (*p)
        p = &(*p)->next;
    *p = t;
    *thread = t->id;
    switch_to(t);
    return 0;
}

static bool has_ended(const struct thread *self)
{
    return ((const struct thread *)self->wait_obj)->state == THREAD_DONE;
}

int pthread_join(pthread_t thread, void **ret)
{
    struct thread *t = find(thread);
    if (!t)
        return ESRCH;
    if (t == current)
        return EDEADLK;
    if (t->detached || t->joined)
        return EINVAL;
    t->joined = true;
    int err = block(has_ended, t, 0, 0, "pthread_join");
    if (err) {
        t->joined = false;
        return err;
    }
    if (ret)
        *ret = t->ret;
    if (t->stack)
        reap(t);            /* (the main thread, having called pthread_exit, stays listed) */
    return 0;
}

int pthread_detach(pthread_t thread)
{
    struct thread *t = find(thread);
    if (!t)
        return ESRCH;
    if (t->detached)
        return EINVAL;
    t->detached = true;
    if (t->state == THREAD_DONE && t != current && t->stack)
        reap(t);
    return 0;
}

void pthread_exit(void *ret)
{
    thread_end(ret);
}

pthread_t pthread_self(void)
{
    return current->id;
}

int pthread_equal(pthread_t a, pthread_t b)
{
    return a == b;
}

/* Signals are the process's and delivered synchronously (posix/signal.c): one sent to a thread
 * runs its handler (or default action) in the sender, as raise() would. */
int pthread_kill(pthread_t thread, int sig)
{
    if (!find(thread))
        return ESRCH;
    if (sig < 0 || sig >= NSIG)
        return EINVAL;
    return sig && raise(sig) ? errno : 0;
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return sigprocmask(how, set, old) ? errno : 0;
}

static bool once_done(const struct thread *self)
{
    return *(const pthread_once_t *)self->wait_obj == 2;
}

int pthread_once(pthread_once_t *once, void (*fn)(void))
{
    if (*once == 0) {
        *once = 1;
        fn();
        *once = 2;
    }
    return *once == 2 ? 0 : block(once_done, once, 0, 0, "pthread_once");
}

/* ---- fork handlers */

#define ATFORK_MAX 32

static struct {
    void (*prepare)(void), (*parent)(void), (*child)(void);
} atfork[ATFORK_MAX];
static int nr_atfork;

int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    if (nr_atfork == ATFORK_MAX)
        return ENOMEM;
    atfork[nr_atfork].prepare = prepare;
    atfork[nr_atfork].parent = parent;
    atfork[nr_atfork++].child = child;
    return 0;
}

void posix_atfork_prepare(void)
{
    for (int i = nr_atfork - 1; i >= 0; i--)
        if (atfork[i].prepare)
            atfork[i].prepare();
}

void posix_atfork_parent(void)
{
    for (int i = 0; i < nr_atfork; i++)
        if (atfork[i].parent)
            atfork[i].parent();
}

void posix_atfork_child(void)
{
    for (int i = 0; i < nr_atfork; i++)
        if (atfork[i].child)
            atfork[i].child();
}

/* ---- attributes */

int pthread_attr_init(pthread_attr_t *attr)
{
    *attr = (pthread_attr_t){ .stacksize = DEFAULT_STACK_SIZE, .guardsize = 4096 };
    return 0;
}

int pthread_attr_destroy(pthread_attr_t *attr)
{
    return 0;
}

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    if (size < PTHREAD_STACK_MIN)
        return EINVAL;
    attr->stacksize = size;
    return 0;
}

int pthread_attr_getstacksize(const pthread_attr_t *attr, size_t *size)
{
    *size = attr->stacksize ? attr->stacksize : DEFAULT_STACK_SIZE;
    return 0;
}

int pthread_attr_setdetachstate(pthread_attr_t *attr, int state)
{
    if (state != PTHREAD_CREATE_JOINABLE && state != PTHREAD_CREATE_DETACHED)
        return EINVAL;
    attr->detachstate = state;
    return 0;
}

int pthread_attr_getdetachstate(const pthread_attr_t *attr, int *state)
{
    *state = attr->detachstate;
    return 0;
}

/* Every stack has one guard page below it, whatever is asked. */
int pthread_attr_setguardsize(pthread_attr_t *attr, size_t size)
{
    attr->guardsize = size;
    return 0;
}

int pthread_attr_getguardsize(const pthread_attr_t *attr, size_t *size)
{
    *size = attr->guardsize;
    return 0;
}

/* ---- mutexes */

static bool valid_type(int type)
{
    return type == PTHREAD_MUTEX_NORMAL || type == PTHREAD_MUTEX_RECURSIVE ||
           type == PTHREAD_MUTEX_ERRORCHECK;
}

static int set_pshared(int *field, int pshared)
{
    if (pshared != PTHREAD_PROCESS_PRIVATE && pshared != PTHREAD_PROCESS_SHARED)
        return EINVAL;
    *field = pshared;
    return 0;
}

int pthread_mutexattr_init(pthread_mutexattr_t *attr)
{
    *attr = (pthread_mutexattr_t){ .type = PTHREAD_MUTEX_DEFAULT };
    return 0;
}

int pthread_mutexattr_destroy(pthread_mutexattr_t *attr)
{
    return 0;
}

int pthread_mutexattr_settype(pthread_mutexattr_t *attr, int type)
{
    if (!valid_type(type))
        return EINVAL;
    attr->type = type;
    return 0;
}

int pthread_mutexattr_gettype(const pthread_mutexattr_t *attr, int *type)
{
    *type = attr->type;
    return 0;
}

int pthread_mutexattr_setpshared(pthread_mutexattr_t *attr, int pshared)
{
    return set_pshared(&attr->pshared, pshared);
}

int pthread_mutexattr_getpshared(const pthread_mutexattr_t *attr, int *pshared)
{
    *pshared = attr->pshared;
    return 0;
}

int pthread_mutex_init(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr)
{
    if (attr && !valid_type(attr->type))
        return EINVAL;
    *mutex = (pthread_mutex_t){ .type = attr ? attr->type : PTHREAD_MUTEX_DEFAULT };
    return 0;
}

int pthread_mutex_destroy(pthread_mutex_t *mutex)
{
    return mutex->owner ? EBUSY : 0;
}

static bool mutex_free(const struct thread *self)
{
    return !((const pthread_mutex_t *)self->wait_obj)->owner;
}

/* Takes the mutex: 0, or (trylock) EBUSY, or the wait's error. */
static int mutex_take(pthread_mutex_t *m, bool try, uint64_t deadline, const char *call)
{
    if (m->owner == current->id) {
        if (m->type == PTHREAD_MUTEX_RECURSIVE) {
            if (m->count == ~0u)
                return EAGAIN;
            m->count++;
            return 0;
        }
        if (m->type == PTHREAD_MUTEX_ERRORCHECK && !try)
            return EDEADLK;
    }
    if (m->owner) {
        if (try)
            return EBUSY;
        int err = block(mutex_free, m, 0, deadline, call);
        if (err)
            return err;
    }
    m->owner = current->id;
    m->count = 1;
    return 0;
}

int pthread_mutex_lock(pthread_mutex_t *mutex)
{
    return mutex_take(mutex, false, 0, "pthread_mutex_lock");
}

int pthread_mutex_trylock(pthread_mutex_t *mutex)
{
    return mutex_take(mutex, true, 0, "pthread_mutex_trylock");
}

int pthread_mutex_timedlock(pthread_mutex_t *mutex, const struct timespec *abstime)
{
    uint64_t deadline = 0;
    if (mutex->owner && deadline_of(abstime, CLOCK_REALTIME, &deadline))
        return EINVAL;
    return mutex_take(mutex, false, mutex->owner ? deadline : 0, "pthread_mutex_timedlock");
}

int pthread_mutex_unlock(pthread_mutex_t *mutex)
{
    if (mutex->type != PTHREAD_MUTEX_NORMAL && mutex->owner != current->id)
        return EPERM;
    if (mutex->type == PTHREAD_MUTEX_RECURSIVE && --mutex->count)
        return 0;
    mutex->owner = 0;
    mutex->count = 0;
    return 0;
}

/* ---- condition variables */

int pthread_condattr_init(pthread_condattr_t *attr)
{
    *attr = (pthread_condattr_t){ .clock = CLOCK_REALTIME };
    return 0;
}

int pthread_condattr_destroy(pthread_condattr_t *attr)
{
    return 0;
}

int pthread_condattr_setclock(pthread_condattr_t *attr, clockid_t clock)
{
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    attr->clock = clock;
    return 0;
}

int pthread_condattr_getclock(const pthread_condattr_t *attr, clockid_t *clock)
{
    *clock = attr->clock;
    return 0;
}

int pthread_condattr_setpshared(pthread_condattr_t *attr, int pshared)
{
    return set_pshared(&attr->pshared, pshared);
}

int pthread_condattr_getpshared(const pthread_condattr_t *attr, int *pshared)
{
    *pshared = attr->pshared;
    return 0;
}

int pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr)
{
    *cond = (pthread_cond_t){ .clock = attr ? attr->clock : (int)CLOCK_REALTIME };
    return 0;
}

static bool waits_on(const struct thread *t, const pthread_cond_t *cond)
{
    return waiting(t) && in_process(t) && t->wait_obj == cond && !t->signalled;
}

int pthread_cond_destroy(pthread_cond_t *cond)
{
    for (struct thread *t = threads; t; t = t->next)
        if (waits_on(t, cond))
            return EBUSY;
    return 0;
}

static bool was_signalled(const struct thread *self)
{
    return self->signalled;
}

static int cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex, uint64_t deadline,
                     const char *call)
{
    if (mutex->type != PTHREAD_MUTEX_NORMAL && mutex->owner != current->id)
        return EPERM;
    unsigned count = mutex->count;
    mutex->owner = 0;
    mutex->count = 0;
    current->signalled = false;
    int err = block(was_signalled, cond, next_ticket++, deadline, call);
    current->signalled = false;
    /* The mutex again, whatever ended the wait (a deadlock reports EDEADLK after it). */
    int relock = block(mutex_free, mutex, 0, 0, call);
    if (!relock) {
        mutex->owner = current->id;
        mutex->count = count;
    }
    return err ? err : relock;
}

int pthread_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex)
{
    return cond_wait(cond, mutex, 0, "pthread_cond_wait");
}

int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                           const struct timespec *abstime)
{
    uint64_t deadline;
    if (deadline_of(abstime, cond->clock, &deadline))
        return EINVAL;
    return cond_wait(cond, mutex, deadline, "pthread_cond_timedwait");
}

/* Wakes the waiter that came first (all of them: broadcast). */
static int cond_wake(pthread_cond_t *cond, bool all)
{
    for (;;) {
        struct thread *first = NULL;
        for (struct thread *t = threads; t; t = t->next)
            if (waits_on(t, cond) && (!first || t->wait_arg < first->wait_arg))
                first = t;
        if (!first)
            return 0;
        first->signalled = true;
        if (!all)
            return 0;
    }
}

int pthread_cond_signal(pthread_cond_t *cond)
{
    return cond_wake(cond, false);
}

int pthread_cond_broadcast(pthread_cond_t *cond)
{
    return cond_wake(cond, true);
}

/* ---- barriers */

int pthread_barrierattr_init(pthread_barrierattr_t *attr)
{
    *attr = (pthread_barrierattr_t){ 0 };
    return 0;
}

int pthread_barrierattr_destroy(pthread_barrierattr_t *attr)
{
    return 0;
}

int pthread_barrierattr_setpshared(pthread_barrierattr_t *attr, int pshared)
{
    return set_pshared(&attr->pshared, pshared);
}

int pthread_barrier_init(pthread_barrier_t *barrier, const pthread_barrierattr_t *attr,
                         unsigned count)
{
    if (count == 0)
        return EINVAL;
    *barrier = (pthread_barrier_t){ .count = count };
    return 0;
}

int pthread_barrier_destroy(pthread_barrier_t *barrier)
{
    return barrier->waiting ? EBUSY : 0;
}

static bool barrier_passed(const struct thread *self)
{
    return ((const pthread_barrier_t *)self->wait_obj)->generation != self->wait_arg;
}

/* The last thread to arrive gets PTHREAD_BARRIER_SERIAL_THREAD, the others 0. */
int pthread_barrier_wait(pthread_barrier_t *barrier)
{
    if (++barrier->waiting == barrier->count) {
        barrier->waiting = 0;
        barrier->generation++;
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    int err = block(barrier_passed, barrier, barrier->generation, 0, "pthread_barrier_wait");
    if (err)
        barrier->waiting--;
    return err;
}

/* ---- thread-specific data */

int pthread_key_create(pthread_key_t *key, void (*destructor)(void *))
{
    for (unsigned k = 0; k < PTHREAD_KEYS_MAX; k++) {
        if (keys[k].used)
            continue;
        keys[k] = (struct key){ true, destructor };
        for (struct thread *t = threads; t; t = t->next)
            t->specific[k] = NULL;
        *key = k;
        return 0;
    }
    return EAGAIN;
}

int pthread_key_delete(pthread_key_t key)
{
    if (key >= PTHREAD_KEYS_MAX || !keys[key].used)
        return EINVAL;
    keys[key].used = false;
    return 0;
}

void *pthread_getspecific(pthread_key_t key)
{
    return key < PTHREAD_KEYS_MAX && keys[key].used ? current->specific[key] : NULL;
}

int pthread_setspecific(pthread_key_t key, const void *value)
{
    if (key >= PTHREAD_KEYS_MAX || !keys[key].used)
        return EINVAL;
    current->specific[key] = (void *)value;
    return 0;
}

/* ---- read-write locks (readers first, as glibc's default) */

int pthread_rwlockattr_init(pthread_rwlockattr_t *attr)
{
    *attr = (pthread_rwlockattr_t){ 0 };
    return 0;
}

int pthread_rwlockattr_destroy(pthread_rwlockattr_t *attr)
{
    return 0;
}

int pthread_rwlock_init(pthread_rwlock_t *rwlock, const pthread_rwlockattr_t *attr)
{
    *rwlock = (pthread_rwlock_t){ 0 };
    return 0;
}

int pthread_rwlock_destroy(pthread_rwlock_t *rwlock)
{
    return rwlock->readers != 0 || rwlock->writer != 0 ? EBUSY : 0;
}

static bool no_writer(const struct thread *self)
{
    return !((const pthread_rwlock_t *)self->wait_obj)->writer;
}

static bool unlocked(const struct thread *self)
{
    const pthread_rwlock_t *l = self->wait_obj;
    return !l->writer && !l->readers;
}

static int rwlock_take(pthread_rwlock_t *l, bool write, bool try, const struct timespec *abstime,
                       const char *call)
{
    if (l->writer == current->id)
        return EDEADLK;
    uint64_t deadline = 0;
    if (abstime && deadline_of(abstime, CLOCK_REALTIME, &deadline))
        return EINVAL;
    bool free = write ? !l->writer && !l->readers : !l->writer;
    if (!free) {
        if (try)
            return EBUSY;
        int err = block(write ? unlocked : no_writer, l, 0, deadline, call);
        if (err)
            return err;
    }
    if (write)
        l->writer = current->id;
    else
        l->readers++;
    return 0;
}

int pthread_rwlock_rdlock(pthread_rwlock_t *rwlock)
{
    return rwlock_take(rwlock, false, false, NULL, "pthread_rwlock_rdlock");
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t *rwlock)
{
    return rwlock_take(rwlock, false, true, NULL, "pthread_rwlock_tryrdlock");
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *rwlock, const struct timespec *abstime)
{
    if (!abstime)
        return EINVAL;
    return rwlock_take(rwlock, false, false, abstime, "pthread_rwlock_timedrdlock");
}

int pthread_rwlock_wrlock(pthread_rwlock_t *rwlock)
{
    return rwlock_take(rwlock, true, false, NULL, "pthread_rwlock_wrlock");
}

int pthread_rwlock_trywrlock(pthread_rwlock_t *rwlock)
{
    return rwlock_take(rwlock, true, true, NULL, "pthread_rwlock_trywrlock");
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *rwlock, const struct timespec *abstime)
{
    if (!abstime)
        return EINVAL;
    return rwlock_take(rwlock, true, false, abstime, "pthread_rwlock_timedwrlock");
}

int pthread_rwlock_unlock(pthread_rwlock_t *rwlock)
{
    if (rwlock->writer == current->id)
        rwlock->writer = 0;
    else if (rwlock->readers && !rwlock->writer)
        rwlock->readers--;
    else
        return EPERM;
    return 0;
}

/* ---- spin locks: a held one lets the other threads run (spinning would starve its holder) */

int pthread_spin_init(pthread_spinlock_t *lock, int pshared)
{
    *lock = 0;
    return 0;
}

int pthread_spin_destroy(pthread_spinlock_t *lock)
{
    return 0;
}

static bool spin_free(const struct thread *self)
{
    return !*(const pthread_spinlock_t *)self->wait_obj;
}

int pthread_spin_lock(pthread_spinlock_t *lock)
{
    if (*lock) {
        int err = block(spin_free, (const void *)lock, 0, 0, "pthread_spin_lock");
        if (err)
            return err;
    }
    *lock = 1;
    return 0;
}

int pthread_spin_trylock(pthread_spinlock_t *lock)
{
    if (*lock)
        return EBUSY;
    *lock = 1;
    return 0;
}

int pthread_spin_unlock(pthread_spinlock_t *lock)
{
    *lock = 0;
    return 0;
}
