#ifndef MOAT_ARCH_X86_64_TRAP_H
#define MOAT_ARCH_X86_64_TRAP_H

#include "arch/x86_64/arch.h"

#define VEC_NMI 2
#define VEC_DOUBLE_FAULT 8
#define VEC_PAGE_FAULT 14
#define VEC_MACHINE_CHECK 18
#define VEC_FIRST_DYNAMIC 0x30
#define VEC_LAST_DYNAMIC 0xef
#define VEC_SPURIOUS 0xff

/* Laid out by isr_common: general registers, then vector and error code, then the CPU's frame. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

void trap_dispatch(struct trap_frame *f);
void apic_eoi(void);

#endif
