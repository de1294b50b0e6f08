/* The parsing and formatting half of libuuid's interface (util-linux's <uuid/uuid.h>, which
 * Linux programs link with -luuid): VFIO's VF token is a UUID a program parses from text.
 * moat has no entropy source, so uuid_generate*() are absent: a program that needs one fails
 * to link rather than receive a UUID that is not unique. */
#ifndef MOAT_POSIX_UUID_H
#define MOAT_POSIX_UUID_H

#include <sys/cdefs.h>

typedef unsigned char uuid_t[16];

#define UUID_STR_LEN 37                 /* 36 characters and the terminating NUL */

__BEGIN_DECLS
void uuid_clear(uuid_t uu);
void uuid_copy(uuid_t dst, const uuid_t src);
int uuid_compare(const uuid_t a, const uuid_t b);
int uuid_is_null(const uuid_t uu);
int uuid_parse(const char *in, uuid_t uu);
void uuid_unparse(const uuid_t uu, char *out);
void uuid_unparse_lower(const uuid_t uu, char *out);
void uuid_unparse_upper(const uuid_t uu, char *out);
__END_DECLS

#endif
