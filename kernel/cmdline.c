#include "kernel/cmdline.h"
#include "kernel/boot_info.h"
#include "lib/string.h"

bool cmdline_get(const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    const char *p = boot_info.cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        size_t wlen = (size_t)(p - w);
        if (wlen >= klen && strncmp(w, key, klen) == 0 && (wlen == klen || w[klen] == '=')) {
            const char *v = wlen == klen ? w + wlen : w + klen + 1;
            size_t vlen = (size_t)(p - v);
            if (size) {
                size_t k = vlen < size - 1 ? vlen : size - 1;
                memcpy(out, v, k);
                out[k] = 0;
            }
            return true;
        }
    }
    return false;
}
