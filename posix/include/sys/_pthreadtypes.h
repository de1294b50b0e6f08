/* The POSIX threads types, in place of newlib's (which are 32-bit handles of an implementation
 * newlib does not have for this target): moat's threads (posix/thread.c) keep their state in
 * the objects, and an all-zero object is the default one, so every static initializer is
 * { 0 }. The constants have glibc's values, as a program written for Linux expects. */
#ifndef _SYS__PTHREADTYPES_H_
#define _SYS__PTHREADTYPES_H_

#include <sys/sched.h>

typedef unsigned long pthread_t;

#define PTHREAD_CREATE_JOINABLE 0
#define PTHREAD_CREATE_DETACHED 1
#define PTHREAD_INHERIT_SCHED 0
#define PTHREAD_EXPLICIT_SCHED 1
#define PTHREAD_SCOPE_SYSTEM 0
#define PTHREAD_SCOPE_PROCESS 1
#define PTHREAD_PROCESS_PRIVATE 0
#define PTHREAD_PROCESS_SHARED 1
#define PTHREAD_PRIO_NONE 0
#define PTHREAD_PRIO_INHERIT 1
#define PTHREAD_PRIO_PROTECT 2

#define PTHREAD_MUTEX_NORMAL 0
#define PTHREAD_MUTEX_RECURSIVE 1
#define PTHREAD_MUTEX_ERRORCHECK 2
#define PTHREAD_MUTEX_DEFAULT PTHREAD_MUTEX_NORMAL
#define PTHREAD_MUTEX_TIMED_NP PTHREAD_MUTEX_NORMAL
#define PTHREAD_MUTEX_RECURSIVE_NP PTHREAD_MUTEX_RECURSIVE
#define PTHREAD_MUTEX_ERRORCHECK_NP PTHREAD_MUTEX_ERRORCHECK

typedef struct {
    int detachstate;
    int inheritsched;
    int schedpolicy;
    int scope;
    unsigned long stacksize;        /* 0: the default */
    unsigned long guardsize;
    struct sched_param schedparam;
} pthread_attr_t;

typedef struct {
    int type;                       /* first: the initializers below set it */
    unsigned count;                 /* a recursive mutex's depth */
    pthread_t owner;                /* 0: unlocked */
} pthread_mutex_t;

typedef struct {
    int type;
    int pshared;
    int protocol;
} pthread_mutexattr_t;

typedef struct {
    int clock;                      /* 0 (as initialized): CLOCK_REALTIME */
} pthread_cond_t;

typedef struct {
    int clock;
    int pshared;
} pthread_condattr_t;

typedef unsigned pthread_key_t;
typedef int pthread_once_t;

typedef struct {
    unsigned count, waiting;
    unsigned long generation;
} pthread_barrier_t;

typedef struct {
    int pshared;
} pthread_barrierattr_t;

typedef volatile int pthread_spinlock_t;

typedef struct {
    unsigned readers;
    pthread_t writer;
} pthread_rwlock_t;

typedef struct {
    int pshared;
} pthread_rwlockattr_t;

#endif
