/* GDT (flat 64-bit code/data and a TSS whose IST stacks keep double faults, NMIs and machine
 * checks printable even when the kernel stack is gone) and the IDT. */
#include "arch/x86_64/trap.h"
#include "kernel/init.h"
#include "lib/string.h"

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __packed;
_Static_assert(sizeof(struct tss) == 104, "TSS layout");

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
} __packed;
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate layout");

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __packed;

#define IST_STACK_SIZE 16384
#define GDT_TSS 0x18

static uint64_t gdt[5] __aligned(16);
static struct tss tss __aligned(16);
static struct idt_gate idt[256] __aligned(16);
static uint8_t ist_stacks[3][IST_STACK_SIZE] __aligned(16);

extern char isr_stubs[];
void gdt_reload_segments(void);

static void gdt_init(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffULL;     /* 0x08: 64-bit code */
    gdt[2] = 0x00cf92000000ffffULL;     /* 0x10: data */
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;
    for (int i = 0; i < 3; i++)
        tss.ist[i] = (uint64_t)(uintptr_t)(ist_stacks[i] + IST_STACK_SIZE);
    tss.iomap_base = sizeof(tss);
    struct desc_ptr p = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ __volatile__("lgdt %0" :: "m"(p));
    gdt_reload_segments();
    __asm__ __volatile__("ltr %w0" :: "r"(GDT_TSS));
}

static void idt_set(unsigned vec, unsigned ist)
{
    uint64_t addr = (uint64_t)(uintptr_t)(isr_stubs + 16 * vec);
    idt[vec] = (struct idt_gate){
        .offset_lo = addr & 0xffff,
        .selector = 0x08,
        .ist = (uint8_t)ist,
        .type_attr = 0x8e,              /* present, DPL 0, 64-bit interrupt gate */
        .offset_mid = (addr >> 16) & 0xffff,
        .offset_hi = (uint32_t)(addr >> 32),
    };
}

/* x87 and SSE for programs (the C library and the program use floating point and SSE, the
 * x86_64 ABI's float registers). The runtime itself is built -mgeneral-regs-only and never
 * touches these registers, so interrupts need not save them; one thread of program code owns
 * them. PVH starts with SSE off; UEFI firmware usually turned it on already. */
static void fpu_init(void)
{
    uint64_t cr0 = read_cr0();
    cr0 &= ~(CR0_EM | CR0_TS);
    cr0 |= CR0_MP | CR0_NE;
    write_cr0(cr0);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    __asm__ __volatile__("fninit");
    uint32_t mxcsr = MXCSR_DEFAULT;
    __asm__ __volatile__("ldmxcsr %0" :: "m"(mxcsr));
}

static int cpu_tables_init(void)
{
    gdt_init();
    for (unsigned v = 0; v < 256; v++)
        idt_set(v, 0);
    idt_set(VEC_NMI, 1);
    idt_set(VEC_DOUBLE_FAULT, 2);
    idt_set(VEC_MACHINE_CHECK, 3);
    struct desc_ptr p = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ __volatile__("lidt %0" :: "m"(p));
    fpu_init();
    return 0;
}
MOAT_UNIT(10_cpu, cpu_tables, cpu_tables_init);

int arch_call_on_stack(int (*fn)(void), void *top)
{
    int ret;
    /* rbx is callee-saved: it keeps the old stack pointer across the call */
    __asm__ __volatile__("mov %%rsp, %%rbx\n\t"
                         "mov %[top], %%rsp\n\t"
                         "call *%[fn]\n\t"
                         "mov %%rbx, %%rsp"
                         : "=a"(ret)
                         : [top] "r"(top), [fn] "r"(fn)
                         : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory",
                           "cc");
    return ret;
}
