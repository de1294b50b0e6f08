#ifndef MOAT_LIBC_SYS_IOCTL_H
#define MOAT_LIBC_SYS_IOCTL_H
int ioctl(int fd, unsigned long cmd, ...);
#endif
