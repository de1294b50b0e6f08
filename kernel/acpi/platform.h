/* The ACPI facts of the machine moat runs on (parsed once at boot). */
#ifndef MOAT_KERNEL_ACPI_PLATFORM_H
#define MOAT_KERNEL_ACPI_PLATFORM_H

#include "kernel/acpi/acpi.h"

/* NULL before the acpi unit ran or when the machine has no valid ACPI tables. */
const struct acpi_info *platform_acpi(void);

#endif
