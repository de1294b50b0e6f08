#include "kernel/init.h"
#include "lib/errno.h"
#include "lib/log.h"

extern const struct moat_unit __init_units_start[], __init_units_end[];

void units_run(void)
{
    for (const struct moat_unit *u = __init_units_start; u < __init_units_end; u++) {
        int err = u->init();
        if (err == 0)
            continue;
        if (u->required)
            panic("unit %s failed: %s (%d)", u->name, errno_name(err), err);
        kprintf("moat: unit %s failed: %s (%d), continuing without it\n", u->name,
                errno_name(err), err);
    }
}
