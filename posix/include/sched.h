/* newlib's <sched.h>, and sched_yield, which it declares only for targets with threads
 * (posix/thread.c: the running thread lets another runnable one run). */
#ifndef MOAT_SCHED_H
#define MOAT_SCHED_H

#include_next <sched.h>

int sched_yield(void);

#endif
