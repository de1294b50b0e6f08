/* What the files of the system layer share. The system layer sits between newlib and the
 * kernel: it includes the kernel's headers first (lib/compiler.h), then the C library's, whose
 * definitions of the same attribute macros are equivalent and, being system headers, replace
 * moat's without a warning. */
#ifndef MOAT_POSIX_POSIX_H
#define MOAT_POSIX_POSIX_H

#include "lib/compiler.h"

/* A kernel call's result as a system call returns it: a negative errno becomes -1 and errno. */
long posix_ret(long r);

/* Ends the running program (the main program, or the child of a fork) with a wait status. */
__noreturn void posix_process_end(int wait_status);
/* Ends the main program: back to the runtime, which powers off with status. */
__noreturn void posix_program_end(int status);

/* kill(getpid(), sig) (posix/signal.c): delivers sig now, or when it is unblocked; 0. */
int posix_signal_self(int sig);

/* The console descriptors 0-2 (the kernel's table leaves them to this layer). */
bool posix_is_console(int fd);

/* fork's nesting (posix/proc.c): 0 in the main program, 1 in a child, ...; and the thread that
 * forked the running child (NULL in the main program). */
int posix_fork_depth(void);
void *posix_forking_thread(void);

/* Threads (posix/thread.c): the running one, the top of its stack, and a sleep that lets the
 * other threads run meanwhile. */
void *posix_thread_current(void);
char *posix_thread_stack_top(void);
void posix_thread_sleep(uint64_t ns);
/* Waits until ready(obj) holds, the other threads running meanwhile: 0, ETIMEDOUT at the
 * deadline (clock ns; 0: none), or EDEADLK (said on stderr) when no thread could make it hold. */
int posix_thread_wait(bool (*ready)(const void *obj), const void *obj, uint64_t deadline,
                      const char *call);
/* pthread_atfork's handlers: prepare (last registered first) before a fork, parent or child
 * (first registered first) after it. */
void posix_atfork_prepare(void);
void posix_atfork_parent(void);
void posix_atfork_child(void);

#endif
