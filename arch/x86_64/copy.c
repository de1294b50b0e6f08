/* The ways this CPU can copy memory in bulk (arch.h: arch_copies). Which is fastest depends on
 * the CPU, and under an emulator on the emulator: with ERMS/FSRM `rep movsb` is the fastest on
 * hardware, while QEMU's TCG emulates it one byte per iteration (about 7x slower than
 * `rep movsq` for 4 KiB) and runs a plain unrolled loop of 64-bit moves faster still. So the
 * caller times them (drivers/dma/dma_copy.c) instead of trusting CPUID. */
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

/* Eight loads, then eight stores, per 64 bytes: no string-instruction microcode. */
static void copy_unrolled64(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i += 8) {
        uint64_t a0 = s[i], a1 = s[i + 1], a2 = s[i + 2], a3 = s[i + 3];
        uint64_t a4 = s[i + 4], a5 = s[i + 5], a6 = s[i + 6], a7 = s[i + 7];
        d[i] = a0;
        d[i + 1] = a1;
        d[i + 2] = a2;
        d[i + 3] = a3;
        d[i + 4] = a4;
        d[i + 5] = a5;
        d[i + 6] = a6;
        d[i + 7] = a7;
    }
}

const struct arch_copy arch_copies[] = {
    { "rep_movsb", copy_rep_movsb },
    { "rep_movsq", copy_rep_movsq },
    { "unrolled64", copy_unrolled64 },
};
const unsigned arch_nr_copies = ARRAY_SIZE(arch_copies);
