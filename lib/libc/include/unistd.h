#ifndef MOAT_LIBC_UNISTD_H
#define MOAT_LIBC_UNISTD_H
#include "sys/types.h"
ssize_t read(int fd, void *buf, size_t len);
ssize_t write(int fd, const void *buf, size_t len);
ssize_t pread(int fd, void *buf, size_t len, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t len, off_t off);
int close(int fd);
ssize_t readlink(const char *path, char *buf, size_t size);
int usleep(unsigned long us);
unsigned sleep(unsigned s);
pid_t getpid(void);
long sysconf(int name);
#define _SC_PAGESIZE 30
#define _SC_PAGE_SIZE _SC_PAGESIZE
int getpagesize(void);
#endif
