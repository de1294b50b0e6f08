#include "kernel/driver.h"
#include "kernel/cmdline.h"
#include "lib/string.h"

__attribute__((weak)) bool moat_is_app_image(void)
{
    return false;
}

bool driver_may_bind(const char *driver_name)
{
    char list[128];
    if (!cmdline_get("drivers", list, sizeof(list)))
        return !moat_is_app_image();
    size_t n = strlen(driver_name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, driver_name, n) == 0)
            return true;
        p += len + (comma ? 1 : 0);
    }
    return false;
}
