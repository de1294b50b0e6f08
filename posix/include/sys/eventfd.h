/* <sys/eventfd.h>, which newlib lacks: Linux's flags. */
#ifndef MOAT_POSIX_SYS_EVENTFD_H
#define MOAT_POSIX_SYS_EVENTFD_H

#include <sys/cdefs.h>
#include <stdint.h>

__BEGIN_DECLS

typedef uint64_t eventfd_t;

#define EFD_SEMAPHORE 00000001
#define EFD_NONBLOCK 00004000
#define EFD_CLOEXEC 02000000

int eventfd(unsigned int initval, int flags);
int eventfd_read(int fd, eventfd_t *value);
int eventfd_write(int fd, eventfd_t value);

__END_DECLS

#endif
