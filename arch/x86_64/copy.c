/* The x86 string instructions that copy memory in bulk (arch.h: arch_copies). Which is fastest
 * depends on the CPU, and under an emulator on the emulator: with ERMS/FSRM `rep movsb` is the
 * fastest on hardware, while QEMU's TCG emulates it one byte per iteration (about 7x slower
 * than `rep movsq` for 4 KiB, and a plain unrolled loop of 64-bit moves is faster still). So
 * the caller times them beside its portable loop (drivers/dma/dma_copy.c) instead of trusting
 * CPUID. */
#include "arch/arch.h"

static void copy_rep_movsb(void *dst, const void *src, size_t n)
{
    __asm__ __volatile__("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static void copy_rep_movsq(void *dst, const void *src, size_t n)
{
    size_t q = n / 8;
    __asm__ __volatile__("rep movsq" : "+D"(dst), "+S"(src), "+c"(q) : : "memory");
}

const struct arch_copy arch_copies[] = {
    { "rep_movsb", copy_rep_movsb },
    { "rep_movsq", copy_rep_movsq },
};
const unsigned arch_nr_copies = ARRAY_SIZE(arch_copies);
