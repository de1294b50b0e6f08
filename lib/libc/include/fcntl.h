#ifndef MOAT_LIBC_FCNTL_H
#define MOAT_LIBC_FCNTL_H
#include "sys/types.h"
#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NONBLOCK 04000
#define O_CLOEXEC 02000000
int open(const char *path, int flags, ...);
#endif
