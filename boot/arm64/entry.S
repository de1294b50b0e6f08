/*
 * AArch64 entry through QEMU's -kernel, as for a Linux arm64 Image (Documentation/arch/arm64/
 * booting.rst): the 64-byte Image header below, MMU off, x0 = physical address of the device
 * tree. QEMU loads an Image whose header gives a non-zero image_size at RAM base + 2 MiB +
 * text_offset; the image is linked there (linker/aarch64-virt.ld) and checks it.
 *
 * At EL2 (-machine virtualization=on) moat drops to EL1 and runs there: it needs no hypervisor
 * features, and everything after this file assumes EL1. Then: record the counter (boot time
 * starts here), a stack, BSS zeroed, early vectors, an early identity map (first GiB as
 * device memory, the second GiB — where virt's RAM starts and the image and DTB lie — as
 * normal memory), MMU and caches on, and arm64_main(dtb). arch/aarch64/paging.c replaces
 * these tables with the real map soon after.
 */
#define SCTLR_EL1_RES1 ((1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29))
#define SCTLR_M (1 << 0)
#define SCTLR_C (1 << 2)
#define SCTLR_SA (1 << 3)
#define SCTLR_I (1 << 12)
#define HCR_RW (1 << 31)
#define SPSR_EL1H_MASKED 0x3c5          /* D, A, I, F masked; EL1 with SP_EL1 */

/* Block descriptors: valid block, AttrIndx, AF, inner shareable (normal), never-execute. */
#define DESC_BLOCK 0x1
#define DESC_TABLE 0x3
#define DESC_AF (1 << 10)
#define DESC_SH_INNER (3 << 8)
#define DESC_ATTR(i) ((i) << 2)
#define DESC_XN (3 << 53)               /* PXN | UXN */
#include "arch/aarch64/mmu.h"
#define MAIR_DEVICE MAIR_IDX_DEVICE
#define MAIR_NORMAL MAIR_IDX_NORMAL

    .section .text.boot, "ax"
    .globl _start
_start:
    /* The Image header. code0 branches over it. */
    b entry
    .long 0
    .quad 0                             /* text_offset: loaded at a 2 MiB boundary + 0 */
    .quad __image_size                  /* image_size: includes BSS, non-zero */
    .quad 0xa                           /* flags: little endian, 4 KiB pages, anywhere */
    .quad 0, 0, 0
    .ascii "ARM\x64"                    /* magic */
    .long 0

entry:
    mov x19, x0                         /* the device tree */
    isb
    mrs x20, cntvct_el0                 /* boot time starts here */

    mrs x0, CurrentEL
    lsr x0, x0, #2
    cmp x0, #2
    b.eq from_el2
    cmp x0, #1
    b.ne .                              /* EL3: not a boot QEMU's -kernel makes */
    b at_el1

from_el2:
    /* EL1 is AArch64; the EL1 timer and counter are usable without trapping; no virtual
     * offset; then "return" to EL1 at at_el1 with everything masked. */
    mov x0, #HCR_RW
    msr hcr_el2, x0
    mov x0, #3                          /* EL1PCTEN | EL1PCEN */
    msr cnthctl_el2, x0
    msr cntvoff_el2, xzr
    mov x0, #0x33ff                     /* CPTR_EL2: no FP/SIMD traps (RES1 bits set) */
    msr cptr_el2, x0
    mrs x0, s3_4_c12_c9_5               /* ICC_SRE_EL2: EL1 may use the GIC's system */
    orr x0, x0, #0x1                    /* registers (SRE, and Enable: bit 3) */
    orr x0, x0, #0x8
    msr s3_4_c12_c9_5, x0
    isb
    ldr x0, =SCTLR_EL1_RES1
    msr sctlr_el1, x0
    mov x0, #SPSR_EL1H_MASKED
    msr spsr_el2, x0
    adr x0, at_el1
    msr elr_el2, x0
    eret

at_el1:
    msr daifset, #0xf
    ldr x0, =SCTLR_EL1_RES1             /* MMU and caches off, a known state */
    msr sctlr_el1, x0
    isb
    mov x0, #(3 << 20)                  /* CPACR_EL1.FPEN: FP/SIMD usable (libgcc may use it) */
    msr cpacr_el1, x0

    /* The image runs where it was linked: QEMU's load address for it. */
    adr x0, _start
    ldr x1, =_start
    cmp x0, x1
    b.ne .

    ldr x0, =boot_stack_top
    mov sp, x0
    ldr x0, =__bss_start
    ldr x1, =__bss_end
1:  cmp x0, x1
    b.hs 2f
    stp xzr, xzr, [x0], #16
    b 1b
2:
    ldr x0, =boot_tsc
    str x20, [x0]
    ldr x0, =exception_vectors
    msr vbar_el1, x0

    /* Early tables: L0[0] -> L1; L1[0] = 0..1 GiB device, L1[1] = 1..2 GiB normal. */
    ldr x0, =early_l0
    ldr x1, =early_l1
    orr x2, x1, #DESC_TABLE
    str x2, [x0]
    ldr x2, =(DESC_BLOCK | DESC_AF | DESC_ATTR(MAIR_DEVICE) | DESC_XN)
    str x2, [x1]
    ldr x2, =(0x40000000 | DESC_BLOCK | DESC_AF | DESC_SH_INNER | DESC_ATTR(MAIR_NORMAL))
    str x2, [x1, #8]
    /* The tables were written with the MMU off (non-cacheable): drop any stale cached lines
     * before the walker reads them cacheable. */
    dc civac, x0
    dc civac, x1
    dsb sy

    ldr x0, =MAIR_VALUE
    msr mair_el1, x0
    mrs x2, id_aa64mmfr0_el1
    and x2, x2, #7                      /* PARange */
    cmp x2, #5
    mov x3, #5
    csel x2, x2, x3, ls                 /* at most 48 bits */
    ldr x1, =TCR_VALUE_NO_IPS
    orr x1, x1, x2, lsl #TCR_IPS_SHIFT
    msr tcr_el1, x1
    ldr x0, =early_l0
    msr ttbr0_el1, x0
    tlbi vmalle1
    dsb nsh
    isb
    ldr x0, =(SCTLR_EL1_RES1 | SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_SA)
    msr sctlr_el1, x0
    isb

    mov x29, xzr                        /* the backtrace ends here */
    mov x30, xzr
    mov x0, x19
    bl arm64_main
    b .

    .section .bss
    .p2align 12
early_l0:
    .space 4096
early_l1:
    .space 4096
    .globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .space 65536
boot_stack_top:
    .p2align 3
    .globl boot_tsc
boot_tsc:
    .space 8
