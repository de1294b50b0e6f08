/* The device tree moat booted with, validated and parsed once by boot/arm64 (image only). The
 * blob stays in RAM (reserved), so later code (the SMMUv3 driver) can read more from it. */
#ifndef MOAT_ARCH_AARCH64_PLATFORM_H
#define MOAT_ARCH_AARCH64_PLATFORM_H

#include "kernel/fdt/dt_platform.h"

const struct fdt *platform_fdt(void);
const struct dt_platform *platform_dt(void);

#endif
