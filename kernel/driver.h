/* Which devices the runtime's own drivers may claim. An appliance image (--app) leaves every
 * device unclaimed so that its program can take them through VFIO, as a Linux program does
 * after binding them to vfio-pci; "drivers=edu,nvme" on the command line names the drivers that
 * may bind anyway, and "drivers=none" keeps all of them off in any image. */
#ifndef MOAT_KERNEL_DRIVER_H
#define MOAT_KERNEL_DRIVER_H

#include <stdbool.h>

bool driver_may_bind(const char *driver_name);

/* True in an appliance image: its startup code overrides the runtime's weak definition. */
bool moat_is_app_image(void);

#endif
