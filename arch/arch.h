/* The architecture interface the portable runtime uses. */
#ifndef MOAT_ARCH_ARCH_H
#define MOAT_ARCH_ARCH_H

#if defined(__x86_64__)
#include "arch/x86_64/arch.h"
#elif defined(__aarch64__)
#include "arch/aarch64/arch.h"
#else
#error "unsupported architecture"
#endif

#endif
