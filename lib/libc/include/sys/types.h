#ifndef MOAT_LIBC_SYS_TYPES_H
#define MOAT_LIBC_SYS_TYPES_H
#include <stddef.h>
#include <stdint.h>
typedef long ssize_t;
typedef long off_t;
typedef int pid_t;
typedef long time_t;
typedef unsigned int mode_t;
#endif
