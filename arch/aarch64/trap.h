#ifndef MOAT_ARCH_AARCH64_TRAP_H
#define MOAT_ARCH_AARCH64_TRAP_H

#include "arch/aarch64/arch.h"

/* Laid out by vectors.S: x0..x30, then the exception's registers. */
struct trap_frame {
    uint64_t x[31];
    uint64_t elr, spsr, sp, esr, far;
};
_Static_assert(sizeof(struct trap_frame) == 36 * 8, "vectors.S frame layout");

/* Which of the sixteen vectors was taken: (origin << 2) | kind. */
enum { TRAP_SYNC = 0, TRAP_IRQ = 1, TRAP_FIQ = 2, TRAP_SERROR = 3 };
enum { TRAP_CUR_SP0 = 0, TRAP_CUR_SPX = 1, TRAP_LOWER_A64 = 2, TRAP_LOWER_A32 = 3 };

void trap_entry(struct trap_frame *f, uint64_t vector);
/* The interrupt controller's part of an IRQ (gic.c): acknowledge, run the handler, end it. */
void gic_handle_irq(void);

#endif
