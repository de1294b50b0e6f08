/* newlib's <unistd.h> plus syscall(), which Linux's C libraries declare there (moat's answers
 * the few calls programs make by number: pidfd_open, getpid, gettid; ENOSYS otherwise). */
#ifndef MOAT_POSIX_UNISTD_H
#define MOAT_POSIX_UNISTD_H

#include_next <unistd.h>

__BEGIN_DECLS
long syscall(long number, ...);
__END_DECLS

#endif
