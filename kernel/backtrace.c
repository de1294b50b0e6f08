/* The frame-pointer walk behind every dump: panics and CPU exceptions. */
#include "kernel/backtrace.h"
#include "arch/arch.h"
#include "lib/log.h"

extern char __text_start[], __text_end[];

bool backtrace_frame_ok(uintptr_t fp)
{
    /* Only follow frame pointers that stay on mapped memory and are aligned. */
    return fp && IS_ALIGNED(fp, 8) && arch_virt_flags(fp) & ARCH_MAP_PRESENT &&
           arch_virt_flags(fp + 8) & ARCH_MAP_PRESENT;
}

void backtrace_print(uintptr_t fp)
{
    kprintf("backtrace:\n");
    for (int depth = 0; depth < 24 && backtrace_frame_ok(fp); depth++) {
        uintptr_t ret = ((uintptr_t *)fp)[1];
        if (ret < (uintptr_t)__text_start || ret >= (uintptr_t)__text_end)
            break;
        /* ARCH_CALL_SITE: the call instruction, where the architecture knows its size. */
        kprintf("  #%d %#lx\n", depth, (unsigned long)ARCH_CALL_SITE(ret));
        uintptr_t next = ((uintptr_t *)fp)[0];
        if (next <= fp)
            break;
        fp = next;
    }
}
