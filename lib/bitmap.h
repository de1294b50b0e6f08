/* Bit arrays of uint64_t words: bit i is word i / 64, bit i % 64. */
#ifndef MOAT_LIB_BITMAP_H
#define MOAT_LIB_BITMAP_H

#include "lib/compiler.h"

static inline bool bitmap_test(const uint64_t *map, uint64_t i)
{
    return map[i / 64] & BIT(i % 64);
}

/* Sets (value true) or clears bits [first, first + n). */
static inline void bitmap_assign(uint64_t *map, uint64_t first, uint64_t n, bool value)
{
    for (uint64_t i = first; i < first + n; i++) {
        if (value)
            map[i / 64] |= BIT(i % 64);
        else
            map[i / 64] &= ~BIT(i % 64);
    }
}

/* Whether every bit of [first, first + n) is value. */
static inline bool bitmap_all(const uint64_t *map, uint64_t first, uint64_t n, bool value)
{
    for (uint64_t i = first; i < first + n; i++)
        if (bitmap_test(map, i) != value)
            return false;
    return true;
}

#endif
