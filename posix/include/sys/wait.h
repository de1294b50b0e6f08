/* newlib's <sys/wait.h>, plus <signal.h> as Linux's C library's brings it (POSIX allows it, and
 * programs rely on it: kselftest's harness uses SIGKILL, SIGABRT and kill() with only
 * <sys/wait.h> included). */
#ifndef MOAT_POSIX_SYS_WAIT_H
#define MOAT_POSIX_SYS_WAIT_H

#include_next <sys/wait.h>
#include <signal.h>

#endif
