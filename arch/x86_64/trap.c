/* Exceptions end the run with a readable dump; other vectors go to their registered handler. */
#include "arch/x86_64/trap.h"
#include "kernel/backtrace.h"
#include "lib/errno.h"
#include "lib/log.h"

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection", "page fault",
    "reserved", "x87 floating point", "alignment check", "machine check", "SIMD floating point",
    "virtualization", "control protection", "reserved", "reserved", "reserved", "reserved",
    "reserved", "reserved", "hypervisor injection", "VMM communication", "security", "reserved",
};

static struct {
    irq_handler_fn fn;
    void *ctx;
} handlers[256];

int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
    for (unsigned v = VEC_FIRST_DYNAMIC; v <= VEC_LAST_DYNAMIC; v++) {
        if (!handlers[v].fn) {
            handlers[v].ctx = ctx;
            handlers[v].fn = fn;
            return (int)v;
        }
    }
    return -ENOSPC;
}

void irq_free_vector(unsigned vector)
{
    if (vector < 256)
        handlers[vector].fn = NULL;
}

static void page_fault_detail(const struct trap_frame *f)
{
    uint64_t e = f->error;
    kprintf("page fault at address %#lx: %s, %s, %s%s\n", (unsigned long)read_cr2(),
            e & 1 ? "protection violation" : "page not present",
            e & 2 ? "write" : "read", e & 4 ? "user" : "supervisor",
            e & 16 ? ", instruction fetch" : "");
}

static __noreturn void exception_dump(const struct trap_frame *f)
{
    static int depth;
    if (depth >= 2)     /* faulted again: printing itself faults (e.g. text a device wrote) */
        arch_power_off_quiet(MOAT_EXIT_EXCEPTION);
    if (depth++) {      /* faulted while dumping: say so and stop */
        serial_write("\nEXCEPTION while handling an exception\n", 40);
        arch_power_off(MOAT_EXIT_EXCEPTION);
    }
    kprintf("\nEXCEPTION: vector %lu (%s), error code %#lx\n", (unsigned long)f->vector,
            exception_names[f->vector & 31], (unsigned long)f->error);
    if (f->vector == VEC_PAGE_FAULT)
        page_fault_detail(f);
    kprintf("  rip %016lx  rsp %016lx  rflags %016lx  cs %lx ss %lx\n", f->rip, f->rsp,
            f->rflags, f->cs, f->ss);
    kprintf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    kprintf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
    kprintf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", f->r9, f->r10, f->r11, f->r12);
    kprintf("  r13 %016lx  r14 %016lx  r15 %016lx\n", f->r13, f->r14, f->r15);
    kprintf("  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx\n", read_cr0(), read_cr2(),
            read_cr3(), read_cr4());
    kprintf("  #0 %#lx (faulting instruction)\n", f->rip);
    backtrace_print(f->rbp);
    arch_power_off(MOAT_EXIT_EXCEPTION);
}

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector < 32)
        exception_dump(f);
    if (f->vector == VEC_SPURIOUS)
        return;
    if (handlers[f->vector].fn)
        handlers[f->vector].fn((unsigned)f->vector, handlers[f->vector].ctx);
    else
        kprintf("irq: unexpected vector %lu\n", (unsigned long)f->vector);
    apic_eoi();
}
