/* UUIDs as text and bytes (see <uuid/uuid.h>): "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", the
 * bytes in the order they are written, as libuuid and Linux's uuid_t keep them. */
#include <string.h>
#include <uuid/uuid.h>

#include "lib/string.h"

#define UUID_TEXT_LEN 36

static int is_dash_at(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

void uuid_clear(uuid_t uu)
{
    memset(uu, 0, sizeof(uuid_t));
}

void uuid_copy(uuid_t dst, const uuid_t src)
{
    memmove(dst, src, sizeof(uuid_t));
}

int uuid_compare(const uuid_t a, const uuid_t b)
{
    return memcmp(a, b, sizeof(uuid_t));
}

int uuid_is_null(const uuid_t uu)
{
    static const uuid_t null;
    return uuid_compare(uu, null) == 0;
}

/* 0, or -1 (uu untouched) unless `in` is exactly 36 characters with dashes where they belong
 * and hex digits everywhere else, as libuuid answers. */
int uuid_parse(const char *in, uuid_t uu)
{
    if (!in || strlen(in) != UUID_TEXT_LEN)
        return -1;
    return uuid_from_text(in, uu);
}

static void unparse(const uuid_t uu, char *out, const char *digits)
{
    size_t n = 0;
    for (size_t i = 0; i < UUID_TEXT_LEN; i++) {
        if (is_dash_at(i)) {
            out[i] = '-';
            continue;
        }
        out[i++] = digits[uu[n] >> 4];
        out[i] = digits[uu[n++] & 0xf];
    }
    out[UUID_TEXT_LEN] = '\0';
}

void uuid_unparse_lower(const uuid_t uu, char *out)
{
    unparse(uu, out, "0123456789abcdef");
}

void uuid_unparse_upper(const uuid_t uu, char *out)
{
    unparse(uu, out, "0123456789ABCDEF");
}

/* libuuid's default case is lower. */
void uuid_unparse(const uuid_t uu, char *out)
{
    uuid_unparse_lower(uu, out);
}
