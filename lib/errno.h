/* Error numbers: negative errno everywhere, with Linux's values so that the Linux-compatible
 * face returns exactly what Linux returns. */
#ifndef MOAT_LIB_ERRNO_H
#define MOAT_LIB_ERRNO_H

#if MOAT_HOSTED
#include <errno.h>
#else
#include <asm-generic/errno.h>      /* Linux's uapi list: every name, Linux's numbers */
#endif

/* The name of an errno value ("EINVAL"), or "E?" for one this table does not know. */
const char *errno_name(int err);

#endif
