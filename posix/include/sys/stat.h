/* newlib's <sys/stat.h> plus lstat, which it declares only for a few systems. */
#ifndef MOAT_POSIX_SYS_STAT_H
#define MOAT_POSIX_SYS_STAT_H

#include_next <sys/stat.h>

__BEGIN_DECLS
#if !(defined(__SPU__) || defined(__rtems__) || defined(__CYGWIN__))
int lstat(const char *__restrict path, struct stat *__restrict buf);
#endif
__END_DECLS

#endif
