#include "kernel/init.h"
#include "arch/arch.h"
#include "lib/errno.h"
#include "lib/log.h"

extern const struct moat_unit __init_units_start[], __init_units_end[];

void units_run(void)
{
    for (const struct moat_unit *u = __init_units_start; u < __init_units_end; u++) {
        uint64_t c0 = arch_cycles();
        int err = u->init();
        uint64_t cycles = arch_cycles() - c0;
        /* Slow units are named so that boot time stays explainable. Cycles, not ns: the
         * clock itself is one of the units. */
        if (cycles >= 2000000)
            kprintf("moat: unit %s took %llu Mcycles\n", u->name,
                    (unsigned long long)(cycles / 1000000));
        if (err == 0)
            continue;
        if (u->required)
            panic("unit %s failed: %s (%d)", u->name, errno_name(err), err);
        kprintf("moat: unit %s failed: %s (%d), continuing without it\n", u->name,
                errno_name(err), err);
    }
}
