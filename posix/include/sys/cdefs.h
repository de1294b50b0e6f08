/* newlib's <sys/cdefs.h>, less the two lock annotations glibc does not define: Linux's own
 * tools headers (tools/include/linux/compiler-context-analysis.h, which the VFIO selftests
 * include) define __guarded_by and __pt_guarded_by themselves, and a program built for Linux
 * must not meet a second definition. No newlib header uses them. */
#ifndef MOAT_POSIX_SYS_CDEFS_H
#define MOAT_POSIX_SYS_CDEFS_H

#include_next <sys/cdefs.h>

#undef __guarded_by
#undef __pt_guarded_by

#endif
