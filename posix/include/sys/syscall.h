/* <sys/syscall.h>: Linux's system call numbers (from its uapi <asm/unistd.h>) and the SYS_ names
 * of the ones moat's syscall() answers. */
#ifndef MOAT_POSIX_SYS_SYSCALL_H
#define MOAT_POSIX_SYS_SYSCALL_H

#include <asm/unistd.h>

#define SYS_getpid __NR_getpid
#define SYS_gettid __NR_gettid
#define SYS_pidfd_open __NR_pidfd_open

#endif
