/* memcpy and memset for the image (the rest of the string functions: lib/string.c). Eight bytes
 * per iteration once the destination is aligned (the image is built with -mstrict-align, so a
 * misaligned source is copied bytewise). */
#include "lib/string.h"
#include "arch/arch.h"
#include "lib/compiler.h"

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((((uintptr_t)d ^ (uintptr_t)s) & 7) == 0) {
        while (n && ((uintptr_t)d & 7)) {
            *d++ = *s++;
            n--;
        }
        for (; n >= 8; n -= 8, d += 8, s += 8)
            *(uint64_t *)d = *(const uint64_t *)s;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

/* The block DC ZVA zeroes (DCZID_EL0.BS: 4 << BS bytes), 0 when it is prohibited (DZP). */
static size_t zva_block(void)
{
    uint64_t id;
    __asm__ __volatile__("mrs %0, dczid_el0" : "=r"(id));
    return (id & BIT(4)) ? 0 : (size_t)4 << (id & 0xf);
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t v = (uint8_t)c * 0x0101010101010101ULL;
    /* Zeroing whole blocks: DC ZVA clears one (64 bytes on most cores) per instruction, a few
     * hundred times fewer iterations than the loop below, under QEMU's TCG and on hardware.
     * Only on normal memory, which is all memset sees (device registers are never memset). */
    static size_t zva;
    if (c == 0 && n >= 256) {
        if (!zva)
            zva = zva_block() ? zva_block() : SIZE_MAX;
        if (zva != SIZE_MAX && zva <= 2048) {
            while (n && ((uintptr_t)d & (zva - 1))) {
                *d++ = 0;
                n--;
            }
            for (; n >= zva; n -= zva, d += zva)
                __asm__ __volatile__("dc zva, %0" :: "r"(d) : "memory");
        }
    }
    while (n && ((uintptr_t)d & 7)) {
        *d++ = (unsigned char)c;
        n--;
    }
    for (; n >= 8; n -= 8, d += 8)
        *(uint64_t *)d = v;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

/* No copy instructions of its own beyond what the compiler emits: drivers/dma's portable loop
 * is the only bulk copy (arch/common.h). */
const struct arch_copy arch_copies[1] = { { NULL, NULL } };
const unsigned arch_nr_copies = 0;
