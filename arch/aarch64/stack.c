/* arch_call_on_stack: an appliance's main runs on a stack of its own (posix/start.c). */
#include "arch/aarch64/arch.h"

int arch_call_on_stack(int (*fn)(void), void *top)
{
    register uint64_t x0 __asm__("x0");
    /* x19 is callee-saved: it keeps the old stack pointer across the call. Everything a call
     * may clobber is declared (the image has no FP/SIMD state: -mgeneral-regs-only). */
    __asm__ __volatile__("mov x19, sp\n\t"
                         "mov sp, %[top]\n\t"
                         "blr %[fn]\n\t"
                         "mov sp, x19"
                         : "=r"(x0)
                         : [top] "r"(top), [fn] "r"(fn)
                         : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
                           "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x30",
                           "memory", "cc");
    return (int)x0;
}
