/* Exceptions end the run with a readable dump (registers, the fault's syndrome decoded, a
 * backtrace ./moat symbolizes); IRQs go to the GIC. */
#include "arch/aarch64/trap.h"
#include "kernel/backtrace.h"
#include "lib/errno.h"
#include "lib/log.h"

extern char __text_start[], __text_end[];
extern bool arch_powering_off;
__noreturn void arch_psci_off(void);

#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define EC_UNKNOWN 0x00
#define EC_INSN_ABORT_SAME 0x21
#define EC_DATA_ABORT_SAME 0x25
#define ESR_WNR BIT(6)

static const char *ec_name(uint64_t ec)
{
    switch (ec) {
    case 0x00: return "undefined instruction";
    case 0x01: return "WFI/WFE trapped";
    case 0x07: return "FP/SIMD access trapped";
    case 0x0e: return "illegal execution state";
    case 0x15: return "SVC";
    case 0x16: return "HVC";
    case 0x17: return "SMC";
    case 0x18: return "system register access trapped";
    case 0x20: return "instruction abort from a lower level";
    case EC_INSN_ABORT_SAME: return "instruction abort";
    case 0x22: return "PC alignment fault";
    case 0x24: return "data abort from a lower level";
    case EC_DATA_ABORT_SAME: return "data abort";
    case 0x26: return "SP alignment fault";
    case 0x2f: return "SError";
    case 0x3c: return "BRK";
    default: return "other";
    }
}

/* The fault status code of an abort (DFSC/IFSC), in words. */
static const char *fsc_name(uint64_t fsc)
{
    switch (fsc & 0x3c) {
    case 0x04: return "translation fault (page not present)";
    case 0x08: return "access flag fault";
    case 0x0c: return "permission fault (protection violation)";
    default: break;
    }
    switch (fsc) {
    case 0x00: case 0x01: case 0x02: case 0x03: return "address size fault";
    case 0x10: return "synchronous external abort";
    case 0x21: return "alignment fault";
    default: return "other fault";
    }
}

static __noreturn void exception_dump(const struct trap_frame *f, uint64_t vector)
{
    static int depth;
    if (depth >= 2)     /* faulted again: printing itself faults (e.g. text a device wrote) */
        arch_power_off_quiet(MOAT_EXIT_EXCEPTION);
    if (depth++) {      /* faulted while dumping: say so and stop */
        serial_write("\nEXCEPTION while handling an exception\n", 40);
        arch_psci_off();
    }
    static const char *const kinds[] = { "synchronous", "IRQ", "FIQ", "SError" };
    static const char *const origins[] = { "EL1 (SP_EL0)", "EL1", "EL0 (AArch64)", "EL0 (AArch32)" };
    uint64_t ec = ESR_EC(f->esr);
    kprintf("\nEXCEPTION: %s from %s: %s, ESR %#lx\n", kinds[vector & 3], origins[(vector >> 2) & 3],
            (vector & 3) == TRAP_SYNC ? ec_name(ec) : "unexpected", (unsigned long)f->esr);
    if (ec == EC_DATA_ABORT_SAME || ec == EC_INSN_ABORT_SAME || ec == 0x20 || ec == 0x24) {
        bool insn = ec == EC_INSN_ABORT_SAME || ec == 0x20;
        kprintf("page fault at address %#lx: %s, %s\n", (unsigned long)f->far,
                fsc_name(f->esr & 0x3f),
                insn ? "instruction fetch" : (f->esr & ESR_WNR) ? "write" : "read");
    }
    kprintf("  pc  %016lx  sp  %016lx  spsr %08lx  far %016lx\n", f->elr, f->sp, f->spsr, f->far);
    for (int i = 0; i < 30; i += 4) {
        kprintf("  x%-2d %016lx  x%-2d %016lx", i, f->x[i], i + 1, f->x[i + 1]);
        if (i + 2 < 31)
            kprintf("  x%-2d %016lx", i + 2, f->x[i + 2]);
        if (i + 3 < 31)
            kprintf("  x%-2d %016lx", i + 3, f->x[i + 3]);
        kprintf("\n");
    }
    kprintf("  sctlr %016lx  ttbr0 %016lx  tcr %016lx\n", read_sysreg(sctlr_el1),
            read_sysreg(ttbr0_el1), read_sysreg(tcr_el1));
    kprintf("  #0 %#lx (faulting instruction)\n", f->elr);
    /* A leaf function keeps its return address in x30 and builds no frame record: x29 is then
     * its caller's, whose saved return address differs from x30. Name the caller first. */
    uint64_t lr = f->x[30];
    if (lr >= (uintptr_t)__text_start && lr < (uintptr_t)__text_end && backtrace_frame_ok(f->x[29]) &&
        ((uintptr_t *)f->x[29])[1] != lr)
        kprintf("  #1 %#lx (link register)\n", (unsigned long)(lr - 4));
    backtrace_print(f->x[29]);
    arch_power_off(MOAT_EXIT_EXCEPTION);
}

void trap_entry(struct trap_frame *f, uint64_t vector)
{
    /* The semihosting call that carries a failure status is undefined where nobody listens
     * (hardware, QEMU without -semihosting): power off without the status. */
    if (arch_powering_off && ESR_EC(f->esr) == EC_UNKNOWN && (vector & 3) == TRAP_SYNC)
        arch_psci_off();
    if ((vector & 3) == TRAP_IRQ && (vector >> 2) == TRAP_CUR_SPX) {
        gic_handle_irq();
        return;
    }
    exception_dump(f, vector);
}
