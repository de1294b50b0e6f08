/* moat's <sys/errno.h>, put in place of newlib's before newlib is built: the errno values are
 * Linux's, from Linux's own uapi header, because moat's kernel answers with Linux's numbers and a
 * program compares errno with the names it was written against. newlib's strerror() and perror()
 * are compiled against these values too, so their text matches the number. */
#ifndef _SYS_ERRNO_H_
#define _SYS_ERRNO_H_

#ifdef __cplusplus
extern "C" {
#endif

#include <sys/reent.h>

#ifndef _REENT_ONLY
#define errno (*__errno())
extern int *__errno(void);
#endif

extern __IMPORT const char *const _sys_errlist[];
extern __IMPORT int _sys_nerr;

#define __errno_r(ptr) ((ptr)->_errno)

#include <asm-generic/errno.h>

/* Names Linux's C libraries add on top of the kernel's list. */
#define ENOTSUP EOPNOTSUPP
/* newlib's own name for a database file of the wrong format (its hash tables, <db.h>); Linux has
 * no such value, so it is the one Linux's C library would give there. */
#define EFTYPE EINVAL

#define __ELASTERROR 2000   /* newlib: user-defined values start here */

#ifdef __cplusplus
}
#endif
#endif
