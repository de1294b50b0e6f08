/*
 * threads.c - moat's POSIX threads (posix/thread.c), checked as a Linux program uses them: each
 * call's answers with glibc's errno values, errno per thread, join's values, detached threads,
 * mutexes of the three types, a producer and a consumer through a condition variable (every
 * item checked), timed waits, a barrier of eight threads, once, keys and their destructors,
 * rwlocks, spin locks, sleeps and yields handing the CPU over, a deadlock reported (EDEADLK)
 * rather than hung, a thread's stack taken for ioctl arguments but refused for DMA (like the
 * main stack), and fork (with pthread_atfork's handlers) and exit from a thread. Exits 0 when everything held.
 *
 *   ./moat run --topology tests/topologies/edu.txt --app tests/apps/threads.c
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void check(const char *what, int ok)
{
    printf("%s %s\n", ok ? "ok:  " : "FAIL:", what);
    failed += !ok;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ms from now on clk (CLOCK_REALTIME for mutexes and default condition variables, as on Linux) */
static struct timespec in_ms(clockid_t clk, long ms)
{
    struct timespec now;
    clock_gettime(clk, &now);
    uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec + (uint64_t)ms * 1000000u;
    return (struct timespec){ .tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u) };
}

/* ---- create, join, detach, exit */

static volatile int ran;

static void *doubler(void *arg)
{
    ran = 1;
    return (void *)((uintptr_t)arg * 2);
}

static void *exits_early(void *arg)
{
    pthread_exit((void *)0x5eed);
    return NULL;
}

static pthread_t self_seen;

static void *waits_a_bit(void *arg)
{
    self_seen = pthread_self();
    usleep(1000);
    return arg;
}

static void lifecycle_checks(void)
{
    pthread_t t, u;
    void *ret = NULL;
    check("pthread_create is 0 and the new thread ran before it returned",
          pthread_create(&t, NULL, doubler, (void *)21) == 0 && ran == 1);
    check("pthread_join gives the value the thread returned",
          pthread_join(t, &ret) == 0 && ret == (void *)42);
    check("pthread_join of a thread joined already is ESRCH", pthread_join(t, NULL) == ESRCH);
    check("pthread_join of itself is EDEADLK", pthread_join(pthread_self(), NULL) == EDEADLK);
    check("pthread_create with pthread_exit's value",
          pthread_create(&t, NULL, exits_early, NULL) == 0 && pthread_join(t, &ret) == 0 &&
          ret == (void *)0x5eed);

    pthread_attr_t attr;
    size_t size = 0;
    int state = -1;
    pthread_attr_init(&attr);
    check("pthread_attr_setstacksize below PTHREAD_STACK_MIN is EINVAL",
          pthread_attr_setstacksize(&attr, 100) == EINVAL);
    check("pthread_attr_setstacksize(64 KiB) is kept",
          pthread_attr_setstacksize(&attr, 65536) == 0 &&
          pthread_attr_getstacksize(&attr, &size) == 0 && size == 65536);
    check("pthread_attr_setdetachstate(42) is EINVAL", pthread_attr_setdetachstate(&attr, 42) == EINVAL);
    check("pthread_attr_setdetachstate(DETACHED) is kept",
          pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
          pthread_attr_getdetachstate(&attr, &state) == 0 && state == PTHREAD_CREATE_DETACHED);
    check("a detached thread (64 KiB stack) is created",
          pthread_create(&t, &attr, waits_a_bit, NULL) == 0);
    check("pthread_self in it is the id pthread_create gave", pthread_equal(self_seen, t));
    check("pthread_join of a detached thread is EINVAL", pthread_join(t, NULL) == EINVAL);
    pthread_attr_destroy(&attr);
    usleep(20000);          /* it ends meanwhile, and is reaped */
    check("pthread_join of a detached thread that ended is ESRCH", pthread_join(t, NULL) == ESRCH);

    check("pthread_detach of a running thread, then its join is EINVAL",
          pthread_create(&u, NULL, waits_a_bit, NULL) == 0 && pthread_detach(u) == 0 &&
          pthread_detach(u) == EINVAL && pthread_join(u, NULL) == EINVAL);
    check("pthread_join of an id never given is ESRCH", pthread_join((pthread_t)999999, NULL) == ESRCH);
    check("pthread_equal of two threads' ids is 0", !pthread_equal(pthread_self(), u));
}

/* ---- errno per thread */

static void *errno_thread(void *arg)
{
    int *seen = arg;
    close(-1);
    seen[0] = errno;
    sched_yield();          /* main fails differently meanwhile */
    seen[1] = errno;
    return NULL;
}

static void errno_checks(void)
{
    int seen[2] = { 0, 0 };
    pthread_t t;
    errno = 0;
    pthread_create(&t, NULL, errno_thread, seen);
    check("a thread's failing call leaves the creator's errno alone", errno == 0);
    check("open of a missing file is ENOENT here",
          open("/no/such/file", O_RDONLY) == -1 && errno == ENOENT);
    pthread_join(t, NULL);
    check("the thread's errno is EBADF before and after main's failure",
          seen[0] == EBADF && seen[1] == EBADF);
    check("main's errno is still ENOENT after the join", errno == ENOENT);
}

/* ---- mutexes */

struct lock_try {
    pthread_mutex_t *m;
    int trylock, unlock, lock;
};

static void *other_thread_tries(void *arg)
{
    struct lock_try *l = arg;
    l->trylock = pthread_mutex_trylock(l->m);
    l->unlock = pthread_mutex_unlock(l->m);
    return NULL;
}

static void *takes_the_lock(void *arg)
{
    struct lock_try *l = arg;
    l->lock = pthread_mutex_lock(l->m);     /* blocks while main holds it */
    l->trylock = 1;                         /* got it */
    pthread_mutex_unlock(l->m);
    return NULL;
}

static void *locks_for_10ms(void *arg)
{
    uint64_t t0 = now_ns();     /* before the deadline is set, so the deadline is >= t0 + 10 ms */
    struct timespec soon = in_ms(CLOCK_REALTIME, 10);
    int r = pthread_mutex_timedlock(arg, &soon);
    return (void *)(intptr_t)(now_ns() - t0 >= 10000000u ? r : -1);
}

static void mutex_checks(void)
{
    pthread_mutexattr_t ma;
    pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER, ec, rec;
    pthread_t t;
    pthread_mutexattr_init(&ma);
    check("pthread_mutexattr_settype(99) is EINVAL", pthread_mutexattr_settype(&ma, 99) == EINVAL);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&ec, &ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &ma);
    pthread_mutexattr_destroy(&ma);

    check("pthread_mutex_lock of a free mutex is 0", pthread_mutex_lock(&normal) == 0);
    check("pthread_mutex_trylock of a held mutex is EBUSY", pthread_mutex_trylock(&normal) == EBUSY);
    check("pthread_mutex_destroy of a held mutex is EBUSY", pthread_mutex_destroy(&normal) == EBUSY);
    pthread_mutex_unlock(&normal);

    check("errorcheck: lock is 0", pthread_mutex_lock(&ec) == 0);
    check("errorcheck: relock by its owner is EDEADLK", pthread_mutex_lock(&ec) == EDEADLK);
    struct lock_try l = { .m = &ec };
    pthread_create(&t, NULL, other_thread_tries, &l);
    pthread_join(t, NULL);
    check("errorcheck: another thread's trylock is EBUSY, its unlock EPERM",
          l.trylock == EBUSY && l.unlock == EPERM);
    check("errorcheck: unlock is 0, a second unlock EPERM",
          pthread_mutex_unlock(&ec) == 0 && pthread_mutex_unlock(&ec) == EPERM);

    check("recursive: lock, lock, trylock are 0",
          pthread_mutex_lock(&rec) == 0 && pthread_mutex_lock(&rec) == 0 &&
          pthread_mutex_trylock(&rec) == 0);
    l = (struct lock_try){ .m = &rec };
    pthread_create(&t, NULL, other_thread_tries, &l);
    pthread_join(t, NULL);
    check("recursive: another thread's trylock is EBUSY, its unlock EPERM",
          l.trylock == EBUSY && l.unlock == EPERM);
    pthread_mutex_unlock(&rec);
    pthread_mutex_unlock(&rec);
    check("recursive: held until the third unlock", pthread_mutex_destroy(&rec) == EBUSY &&
          pthread_mutex_unlock(&rec) == 0 && pthread_mutex_destroy(&rec) == 0);

    l = (struct lock_try){ .m = &normal };
    pthread_mutex_lock(&normal);
    pthread_create(&t, NULL, takes_the_lock, &l);
    check("a contended lock blocks the thread: pthread_create returns, the lock unowned by it",
          l.trylock == 0);
    pthread_mutex_unlock(&normal);
    pthread_join(t, NULL);
    check("it gets the mutex once unlocked", l.lock == 0 && l.trylock == 1);

    void *ret;
    pthread_mutex_lock(&normal);
    pthread_create(&t, NULL, locks_for_10ms, &normal);
    check("pthread_mutex_timedlock of a held mutex waits (main runs meanwhile)",
          pthread_mutex_trylock(&normal) == EBUSY);
    check("then is ETIMEDOUT, 10 ms later", pthread_join(t, &ret) == 0 && ret == (void *)ETIMEDOUT);
    pthread_mutex_unlock(&normal);
}

/* ---- condition variables: a producer and a consumer through a queue of four */

#define ITEMS 1000
#define SLOTS 4

static struct {
    pthread_mutex_t m;
    pthread_cond_t not_full, not_empty;
    int q[SLOTS], head, n;
    long sum;
    int in_order, max_n;
} pc = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void *producer(void *arg)
{
    for (int i = 1; i <= ITEMS; i++) {
        pthread_mutex_lock(&pc.m);
        while (pc.n == SLOTS)
            pthread_cond_wait(&pc.not_full, &pc.m);
        pc.q[(pc.head + pc.n++) % SLOTS] = i;
        if (pc.n > pc.max_n)
            pc.max_n = pc.n;
        pthread_cond_signal(&pc.not_empty);
        pthread_mutex_unlock(&pc.m);
        if (i % 7 == 0)
            sched_yield();
    }
    return NULL;
}

static void *consumer(void *arg)
{
    int expect = 1;
    pc.in_order = 1;
    for (int got = 0; got < ITEMS; got++) {
        pthread_mutex_lock(&pc.m);
        while (pc.n == 0)
            pthread_cond_wait(&pc.not_empty, &pc.m);
        int v = pc.q[pc.head];
        pc.head = (pc.head + 1) % SLOTS;
        pc.n--;
        pthread_cond_signal(&pc.not_full);
        pthread_mutex_unlock(&pc.m);
        pc.in_order &= v == expect++;
        pc.sum += v;
    }
    return (void *)1;
}

static volatile int timed_out_returned;

static void *times_out(void *arg)
{
    pthread_mutex_t *m = arg;
    static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
    pthread_mutex_lock(m);
    struct timespec t = in_ms(CLOCK_REALTIME, 20);
    int r = pthread_cond_timedwait(&never, m, &t);
    timed_out_returned = 1;
    pthread_mutex_unlock(m);
    return (void *)(intptr_t)r;
}

static void cond_checks(void)
{
    pthread_t p, c;
    void *ret;
    pthread_create(&c, NULL, consumer, NULL);
    pthread_create(&p, NULL, producer, NULL);
    check("producer and consumer both joined", pthread_join(p, NULL) == 0 &&
          pthread_join(c, &ret) == 0 && ret == (void *)1);
    check("1000 items through the queue, in order, summing to 500500",
          pc.in_order && pc.sum == 500500L && pc.n == 0);
    check("the queue filled up (the producer waited on not_full)", pc.max_n == SLOTS);

    pthread_condattr_t ca;
    pthread_cond_t mono;
    clockid_t clk = 0;
    pthread_condattr_init(&ca);
    check("pthread_condattr_setclock(CLOCK_MONOTONIC) is kept",
          pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
          pthread_condattr_getclock(&ca, &clk) == 0 && clk == CLOCK_MONOTONIC);
    check("pthread_condattr_setclock(CLOCK_PROCESS_CPUTIME_ID) is EINVAL",
          pthread_condattr_setclock(&ca, CLOCK_PROCESS_CPUTIME_ID) == EINVAL);
    pthread_cond_init(&mono, &ca);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&m);
    uint64_t t0 = now_ns();
    struct timespec t = in_ms(CLOCK_MONOTONIC, 20), bad = { 0, 1000000000L };
    check("pthread_cond_timedwait (CLOCK_MONOTONIC) alone is ETIMEDOUT, 20 ms later",
          pthread_cond_timedwait(&mono, &m, &t) == ETIMEDOUT && now_ns() - t0 >= 20000000u);
    check("pthread_cond_timedwait holds the mutex again when it returns",
          pthread_mutex_trylock(&m) == EBUSY);
    check("pthread_cond_timedwait with tv_nsec 1e9 is EINVAL",
          pthread_cond_timedwait(&mono, &m, &bad) == EINVAL);
    pthread_mutex_unlock(&m);
    pthread_t w;
    pthread_create(&w, NULL, times_out, &m);
    check("a thread's timed wait lets main run meanwhile", !timed_out_returned);
    check("and times out: ETIMEDOUT", pthread_join(w, &ret) == 0 && ret == (void *)ETIMEDOUT);
    pthread_cond_destroy(&mono);
}

/* ---- a barrier of eight, twice */

#define N 8
static pthread_barrier_t barrier;
static int arrived, serials, all_saw_all = 1;

static void *at_the_barrier(void *arg)
{
    for (int round = 1; round <= 2; round++) {
        arrived++;
        int r = pthread_barrier_wait(&barrier);
        serials += r == PTHREAD_BARRIER_SERIAL_THREAD;
        all_saw_all &= (r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD) && arrived >= round * N;
        sched_yield();
    }
    return NULL;
}

static void barrier_checks(void)
{
    pthread_t t[N];
    check("pthread_barrier_init with count 0 is EINVAL", pthread_barrier_init(&barrier, NULL, 0) == EINVAL);
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, at_the_barrier, NULL);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    check("8 threads passed the barrier twice, each after all 8 had arrived",
          arrived == 2 * N && all_saw_all);
    check("one thread per round got PTHREAD_BARRIER_SERIAL_THREAD", serials == 2);
    check("pthread_barrier_destroy is 0", pthread_barrier_destroy(&barrier) == 0);
}

/* ---- once, keys */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static pthread_key_t key;
static int destructed;
static void *destructed_with;

static void init_once(void)
{
    once_runs++;
    sched_yield();          /* the others call pthread_once meanwhile */
}

static void destructor(void *v)
{
    destructed++;
    destructed_with = v;
}

static void *uses_once_and_key(void *arg)
{
    pthread_once(&once, init_once);
    int fresh = pthread_getspecific(key) == NULL;
    pthread_setspecific(key, arg);
    sched_yield();
    return (void *)(intptr_t)(fresh && pthread_getspecific(key) == arg && once_runs == 1);
}

static void once_key_checks(void)
{
    static int mine, theirs[3];
    pthread_t t[3];
    void *ok[3];
    check("pthread_key_create is 0", pthread_key_create(&key, destructor) == 0);
    pthread_setspecific(key, &mine);
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, uses_once_and_key, &theirs[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], &ok[i]);
    check("pthread_once ran the routine once for three threads", once_runs == 1);
    check("each thread's key value is its own, NULL at first", ok[0] && ok[1] && ok[2]);
    check("main's value is unchanged", pthread_getspecific(key) == &mine);
    check("the destructor ran once per ending thread, with its value",
          destructed == 3 && destructed_with == &theirs[2]);
    check("pthread_key_delete is 0, then pthread_setspecific of it EINVAL",
          pthread_key_delete(key) == 0 && pthread_setspecific(key, &mine) == EINVAL);
}

/* ---- rwlocks, spin locks */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t spin;
static int writer_got_it;

static void *writer(void *arg)
{
    if (pthread_rwlock_wrlock(&rw) == 0)
        writer_got_it = 1;
    pthread_rwlock_unlock(&rw);
    return NULL;
}

static void *spinner(void *arg)
{
    int *got = arg;
    if (pthread_spin_lock(&spin) == 0)
        *got = 1;
    pthread_spin_unlock(&spin);
    return NULL;
}

static void rwlock_spin_checks(void)
{
    pthread_t t;
    check("two read locks at once", pthread_rwlock_rdlock(&rw) == 0 && pthread_rwlock_tryrdlock(&rw) == 0);
    check("pthread_rwlock_trywrlock while read-held is EBUSY", pthread_rwlock_trywrlock(&rw) == EBUSY);
    pthread_create(&t, NULL, writer, NULL);
    check("a writer waits for the readers", !writer_got_it);
    pthread_rwlock_unlock(&rw);
    sched_yield();
    check("still, while one reader is left", !writer_got_it);
    pthread_rwlock_unlock(&rw);
    pthread_join(t, NULL);
    check("then gets it", writer_got_it);
    check("pthread_rwlock_rdlock while write-held by the caller is EDEADLK",
          pthread_rwlock_wrlock(&rw) == 0 && pthread_rwlock_rdlock(&rw) == EDEADLK &&
          pthread_rwlock_unlock(&rw) == 0);
    check("pthread_rwlock_unlock of an unlocked rwlock is EPERM", pthread_rwlock_unlock(&rw) == EPERM);

    int got = 0;
    pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
    check("pthread_spin_trylock of a held lock is EBUSY",
          pthread_spin_lock(&spin) == 0 && pthread_spin_trylock(&spin) == EBUSY);
    pthread_create(&t, NULL, spinner, &got);
    check("a thread spinning on it lets the holder run", got == 0);
    pthread_spin_unlock(&spin);
    pthread_join(t, NULL);
    check("and gets it once released", got == 1);
}

/* ---- yields and sleeps hand the CPU over */

static char order[32];
static int norder;

static void *yielder(void *arg)
{
    for (int i = 0; i < 3; i++) {
        order[norder++] = *(const char *)arg;
        sched_yield();
    }
    return NULL;
}

static volatile int sleeper_woke;

static void *sleeper(void *arg)
{
    usleep(30000);
    sleeper_woke = 1;
    return (void *)(intptr_t)*(volatile int *)arg;
}

static void yield_sleep_checks(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, yielder, "a");
    pthread_create(&b, NULL, yielder, "b");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    order[norder] = 0;
    check("two threads' sched_yield alternate: abab ab", strcmp(order, "ababab") == 0);

    static volatile int flag;
    void *ret;
    uint64_t t0 = now_ns();
    pthread_create(&a, NULL, sleeper, (void *)&flag);
    check("a sleeping thread lets main run at once", !sleeper_woke);
    flag = 1;
    check("and sees what main did meanwhile", pthread_join(a, &ret) == 0 && ret == (void *)1 &&
          now_ns() - t0 >= 30000000u);
}

/* ---- a deadlock is reported, not hung */

static void *sends_usr2_later(void *arg)
{
    usleep(5000);
    return (void *)(intptr_t)pthread_kill(*(pthread_t *)arg, SIGUSR2);
}

/* The signal-handling thread pattern: the signal blocked, one thread waits for it in sigwait,
 * another sends it. */
static void sigwait_checks(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t self = pthread_self(), t;
    void *ret;
    int sig = 0;
    pthread_create(&t, NULL, sends_usr2_later, &self);
    check("sigwait in main gets the SIGUSR2 another thread sent 5 ms later",
          sigwait(&set, &sig) == 0 && sig == SIGUSR2);
    check("the sender's pthread_kill was 0", pthread_join(t, &ret) == 0 && ret == NULL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void *locks_forever(void *arg)
{
    return (void *)(intptr_t)pthread_mutex_lock(arg);
}

static void deadlock_checks(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_t t;
    void *ret;
    pthread_mutex_lock(&m);
    check("relocking a normal mutex alone is EDEADLK (Linux waits for ever)",
          pthread_mutex_lock(&m) == EDEADLK);
    pthread_create(&t, NULL, locks_forever, &m);
    check("joining a thread that waits for a mutex main holds is EDEADLK",
          pthread_join(t, NULL) == EDEADLK);
    pthread_mutex_unlock(&m);
    check("after the unlock the join goes through, the lock taken",
          pthread_join(t, &ret) == 0 && ret == NULL);
    pthread_mutex_unlock(&m);
}

/* ---- a thread's stack: ioctl arguments yes, DMA no */

static int iommufd = -1;

struct stack_result {
    int alloc, map_own_stack, map_anon, arg_on_main_stack;
    struct iommu_ioas_alloc *main_arg;
    pthread_barrier_t *b;
    struct iommu_ioas_alloc *thread_arg;
};

static void *ioctls_from_a_thread(void *arg)
{
    struct stack_result *r = arg;
    struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
    static char anon_page[4096] __attribute__((aligned(4096)));
    char on_stack[8192] __attribute__((aligned(4096)));
    memset(on_stack, 1, sizeof(on_stack));
    r->alloc = ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) == 0 && alloc.out_ioas_id != 0;
    struct iommu_ioas_map map = { .size = sizeof(map), .ioas_id = alloc.out_ioas_id,
                                  .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                                           IOMMU_IOAS_MAP_WRITEABLE,
                                  .user_va = (uintptr_t)on_stack, .length = 4096, .iova = 0x100000 };
    r->map_own_stack = ioctl(iommufd, IOMMU_IOAS_MAP, &map) == -1 ? errno : 0;
    map.user_va = (uintptr_t)anon_page;
    r->map_anon = ioctl(iommufd, IOMMU_IOAS_MAP, &map);
    r->arg_on_main_stack = ioctl(iommufd, IOMMU_IOAS_ALLOC, r->main_arg);
    struct iommu_ioas_alloc mine = { .size = sizeof(mine) };
    r->thread_arg = &mine;
    pthread_barrier_wait(r->b);             /* main uses `mine` while this thread waits */
    pthread_barrier_wait(r->b);
    r->thread_arg = NULL;
    return NULL;
}

static void stack_checks(void)
{
    iommufd = open("/dev/iommu", O_RDWR);
    check("/dev/iommu opens", iommufd >= 0);
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    struct iommu_ioas_alloc main_arg = { .size = sizeof(main_arg) };
    struct stack_result r = { .main_arg = &main_arg, .b = &b };
    pthread_t t;
    pthread_create(&t, NULL, ioctls_from_a_thread, &r);
    check("a thread's ioctl with its argument on its own stack works", r.alloc);
    check("IOMMU_IOAS_MAP of the thread's own stack is EFAULT, as of the main stack",
          r.map_own_stack == EFAULT);
    check("IOMMU_IOAS_MAP of static data from the thread works", r.map_anon == 0);
    check("a thread's ioctl with its argument on main's stack works",
          r.arg_on_main_stack == 0 && main_arg.out_ioas_id != 0);
    pthread_barrier_wait(&b);
    check("main's ioctl with its argument on a waiting thread's stack works",
          r.thread_arg && ioctl(iommufd, IOMMU_IOAS_ALLOC, r.thread_arg) == 0 &&
          r.thread_arg->out_ioas_id != 0);
    char here[4096 * 2] __attribute__((aligned(4096)));
    memset(here, 0, sizeof(here));
    struct iommu_ioas_map map = { .size = sizeof(map), .ioas_id = main_arg.out_ioas_id,
                                  .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
                                  .user_va = (uintptr_t)here, .length = 4096, .iova = 0x200000 };
    check("IOMMU_IOAS_MAP of the main stack is EFAULT",
          ioctl(iommufd, IOMMU_IOAS_MAP, &map) == -1 && errno == EFAULT);
    pthread_barrier_wait(&b);
    pthread_join(t, NULL);
    close(iommufd);
}

/* ---- fork and exit from a thread */

static void *child_thread(void *arg)
{
    return (void *)(intptr_t)(getpid() * 10);
}

static void *ends_the_process(void *arg)
{
    exit(5);
}

static int prepared, in_parent, in_child;

static void at_prepare(void) { prepared++; }
static void at_parent(void) { in_parent++; }
static void at_child(void) { in_child++; }

static void *forks(void *arg)
{
    pthread_t *parent_side = arg, c;
    int st = -1;
    pid_t pid = fork();
    if (pid == 0) {
        void *ret = NULL;
        /* The child: this thread alone; one it makes runs and ends with it. */
        if (pthread_join(parent_side[0], NULL) != ESRCH)
            _exit(20);
        if (prepared != 1 || in_child != 1 || in_parent != 0)
            _exit(23);
        if (pthread_create(&c, NULL, child_thread, NULL) || pthread_join(c, &ret) ||
            ret != (void *)(intptr_t)(getpid() * 10))
            _exit(21);
        pthread_create(&c, NULL, ends_the_process, NULL);
        _exit(22);          /* not reached: the thread's exit(5) ends the child */
    }
    return (void *)(intptr_t)(waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void *parked(void *arg)
{
    pthread_barrier_wait(arg);
    return (void *)7;
}

static void fork_checks(void)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    pthread_t t[2];
    void *ret;
    check("pthread_atfork is 0", pthread_atfork(at_prepare, at_parent, at_child) == 0);
    pthread_create(&t[0], NULL, parked, &b);      /* waits in the parent */
    pthread_create(&t[1], NULL, forks, t);
    check("fork from a thread: the child had that thread alone, its own threads ran, and a "
          "thread's exit(5) ended it", pthread_join(t[1], &ret) == 0 && ret == (void *)5);
    check("pthread_atfork's prepare ran once, then child in the child, parent in the parent",
          prepared == 1 && in_parent == 1 && in_child == 0);
    pthread_barrier_wait(&b);
    check("the parent's other thread is as it was", pthread_join(t[0], &ret) == 0 && ret == (void *)7);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    lifecycle_checks();
    errno_checks();
    mutex_checks();
    cond_checks();
    barrier_checks();
    once_key_checks();
    rwlock_spin_checks();
    yield_sleep_checks();
    deadlock_checks();
    sigwait_checks();
    stack_checks();
    fork_checks();
    printf("threads: %d failed\n", failed);
    return failed ? 1 : 0;
}
