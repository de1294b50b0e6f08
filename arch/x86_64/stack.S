/* arch_call_on_stack(fn, arg, top): calls fn(arg) with the stack pointer at top (16-byte
 * aligned, the stack grows down from it) and comes back to the caller's stack when fn returns.
 * The frame-pointer chain links the new stack to the old one, so a backtrace walks through. */
    .text
    .globl arch_call_on_stack
    .type arch_call_on_stack, @function
arch_call_on_stack:
    pushq %rbp
    movq %rsp, %rbp
    andq $-16, %rdx
    movq %rdx, %rsp
    movq %rdi, %rax
    movq %rsi, %rdi
    callq *%rax
    movq %rbp, %rsp
    popq %rbp
    retq
    .size arch_call_on_stack, . - arch_call_on_stack
    .section .note.GNU-stack, "", @progbits
