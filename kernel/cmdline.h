/* The boot command line: space-separated key=value words. */
#ifndef MOAT_KERNEL_CMDLINE_H
#define MOAT_KERNEL_CMDLINE_H

#include <stddef.h>
#include <stdbool.h>

/* Copies the value of key into out (empty for a bare word); false when absent. */
bool cmdline_get(const char *key, char *out, size_t size);

#endif
