#ifndef MOAT_LIBC_SYS_EVENTFD_H
#define MOAT_LIBC_SYS_EVENTFD_H
#include <stdint.h>
typedef uint64_t eventfd_t;
#define EFD_SEMAPHORE 00000001
#define EFD_NONBLOCK 04000
#define EFD_CLOEXEC 02000000
int eventfd(unsigned int initval, int flags);
#endif
