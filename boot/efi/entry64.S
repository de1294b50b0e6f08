/*
 * UEFI entry: BOOTX64.EFI (boot/efi/loader) jumps here after ExitBootServices, in long mode on
 * the firmware's page tables, with %rdi = struct efi_handoff (below 4 GiB), interrupts off.
 * The firmware's GDT, IDT, page tables and stack all sit in boot-services memory, which the
 * memory map now reports as usable RAM: before anything can allocate, switch to moat's own
 * GDT, an empty IDT (a fault now triple-faults instead of running firmware code that may be
 * gone), the same early 4 GiB identity map the PVH entry builds (boot/pvh/entry.S) and the
 * boot stack. Then efi_main64 copies the hand-off into boot_info and calls kmain.
 */
#define CR0_WP 0x00010000
#define CR4_PGE 0x00000080
#define CR4_LA57 0x00001000
#define MSR_EFER 0xc0000080
#define EFER_NXE 0x00000800
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

    /* "R" (SHF_GNU_RETAIN): nothing in the image refers to this entry, --gc-sections must keep it. */
    .section .text.efi_entry64, "axR"
    .code64
    .globl efi_entry64
efi_entry64:
    cli
    cld
    movq %rdi, %r12

    lgdt efi_gdt_ptr(%rip)
    lidt efi_idt_ptr(%rip)
    pushq $0x08
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs

    /* The loader refuses 5-level paging; a 4-level PML4 is all this entry knows. */
    movq %cr4, %rax
    testq $CR4_LA57, %rax
    jnz 9f

    /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; PDk[i] = 2 MiB page (k*512 + i). .bss was
     * zeroed by the loader, so every other entry is already not-present. */
    movq $early_pdpt + (PTE_P | PTE_W), %rax
    movq %rax, early_pml4
    xorl %ecx, %ecx
2:  movq %rcx, %rax
    shlq $12, %rax
    addq $early_pd + (PTE_P | PTE_W), %rax
    movq %rax, early_pdpt(, %rcx, 8)
    incl %ecx
    cmpl $4, %ecx
    jb 2b
    xorl %ecx, %ecx
3:  movq %rcx, %rax
    shlq $21, %rax
    orq $(PTE_P | PTE_W | PTE_PS), %rax
    movq %rax, early_pd(, %rcx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 3b

    /* NX as the runtime's page tables expect it; no global pages, so that loading CR3 drops
     * every firmware translation from the TLB. */
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_NXE, %eax
    wrmsr
    movq %cr4, %rax
    andq $~CR4_PGE, %rax
    movq %rax, %cr4
    movq %cr0, %rax
    orq $CR0_WP, %rax
    movq %rax, %cr0
    movq $early_pml4, %rax
    movq %rax, %cr3

    movq $boot_stack_top, %rsp
    xorq %rbp, %rbp         /* ends the frame-pointer chain for backtraces */
    movq %r12, %rdi
    call efi_main64
9:  cli
    hlt
    jmp 9b

    .section .rodata
    .p2align 3
efi_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code, DPL 0 (as the PVH entry's) */
    .quad 0x00cf92000000ffff    /* 0x10: data, DPL 0 */
efi_gdt_end:
    .p2align 3
efi_gdt_ptr:
    .word efi_gdt_end - efi_gdt - 1
    .quad efi_gdt
    .p2align 3
efi_idt_ptr:
    .word 0
    .quad 0

    .section .note.GNU-stack, "", @progbits
