/* <sys/utsname.h>, which newlib lacks. uname() names moat, and the Linux release whose
 * interfaces its Linux-compatible face follows. */
#ifndef MOAT_POSIX_SYS_UTSNAME_H
#define MOAT_POSIX_SYS_UTSNAME_H

#include <sys/cdefs.h>

__BEGIN_DECLS

#define _UTSNAME_LENGTH 65

struct utsname {
    char sysname[_UTSNAME_LENGTH];
    char nodename[_UTSNAME_LENGTH];
    char release[_UTSNAME_LENGTH];
    char version[_UTSNAME_LENGTH];
    char machine[_UTSNAME_LENGTH];
    char domainname[_UTSNAME_LENGTH];
};

int uname(struct utsname *buf);

__END_DECLS

#endif
