/* moat's C library for appliances and Linux-style programs (one process, single-threaded). */
#ifndef MOAT_LIBC_ERRNO_H
#define MOAT_LIBC_ERRNO_H
#include "bits/errno_values.h"
#ifndef EWOULDBLOCK
#define EWOULDBLOCK EAGAIN
#endif
extern int errno;
#endif
