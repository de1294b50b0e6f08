/* Backtraces by frame pointers. Both architectures keep a frame record {caller's frame
 * pointer, return address} where the frame pointer (rbp, x29) points; the image is built with
 * frame pointers for this. Lines read "  #N 0x..." (./moat symbolizes them). */
#ifndef MOAT_KERNEL_BACKTRACE_H
#define MOAT_KERNEL_BACKTRACE_H

#include "lib/compiler.h"

/* Whether fp may be followed: aligned, and its record mapped. */
bool backtrace_frame_ok(uintptr_t fp);
void backtrace_print(uintptr_t fp);

#endif
