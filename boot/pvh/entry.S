/*
 * PVH entry (Xen PVH boot ABI, as QEMU's -kernel implements it for ELF images):
 * 32-bit protected mode, paging off, flat segments, %ebx = physical address of the
 * hvm_start_info structure. We record the TSC (boot time starts here), build an early
 * identity map of the first 4 GiB with 2 MiB pages, enter long mode and call pvh_main.
 * arch/x86_64/paging.c replaces these tables with the real direct map soon after.
 */
#define CR0_PE 0x00000001
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100
#define EFER_NXE 0x00000800
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

    .section .note.Xen, "a"
    .p2align 2
    .long 4                 /* name size: "Xen\0" */
    .long 4                 /* descriptor size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start32

    .section .text.boot32, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    rdtsc
    movl %eax, boot_tsc
    movl %edx, boot_tsc + 4
    movl %ebx, pvh_start_info_pa
    movl $boot_stack_top, %esp

    /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; PDk[i] = 2 MiB page (k*512 + i). */
    movl $early_pdpt, %eax
    orl $(PTE_P | PTE_W), %eax
    movl %eax, early_pml4
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $early_pd, %eax
    orl $(PTE_P | PTE_W), %eax
    movl %eax, early_pdpt(, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jb 1b
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_P | PTE_W | PTE_PS), %eax
    movl %eax, early_pd(, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax          /* high half of (index << 21) */
    movl %eax, early_pd + 4(, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $early_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $(EFER_LME | EFER_NXE), %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl %eax, %cr0

    lgdt early_gdt_ptr
    ljmpl $0x08, $long_mode_entry

    .code64
long_mode_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    xorq %rbp, %rbp         /* ends the frame-pointer chain for backtraces */
    movl pvh_start_info_pa, %edi
    call pvh_main
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .p2align 3
early_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff    /* 0x10: data, DPL 0 */
early_gdt_end:
early_gdt_ptr:
    .word early_gdt_end - early_gdt - 1
    .long early_gdt

    .section .data
    .p2align 3
    .globl boot_tsc
boot_tsc:
    .quad 0
pvh_start_info_pa:
    .long 0

    .section .bss
    .p2align 12
    /* Shared with the UEFI entry (boot/efi/entry64.S), which fills them the same way. */
    .globl early_pml4, early_pdpt, early_pd
early_pml4:
    .skip 4096
early_pdpt:
    .skip 4096
early_pd:
    .skip 4 * 4096
    .globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip 64 * 1024
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
