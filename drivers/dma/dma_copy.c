/* The copy of the copying (POOLED) mode: the fastest of a portable unrolled loop and the CPU's
 * own bulk copies (arch_copies), chosen by timing each once on 4 KiB, at the first copy. */
#include "arch/arch.h"
#include "drivers/dma/blk.h"
#include "kernel/time.h"
#include "lib/string.h"

#define COPY_PROBE 4096u
#define COPY_ROUNDS 8
#define COPY_MAX 8

/* Eight loads, then eight stores, per 64 bytes: plain moves, which an emulator translates
 * one for one. */
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

/* The candidates: the portable loop, then the CPU's own (arch_copies). */
static struct arch_copy copies[COPY_MAX] = { { "unrolled64", copy_unrolled64 } };
static unsigned nr_copies;

static const struct arch_copy *chosen;
static uint64_t probe_ns[COPY_MAX];
static uint8_t probe_src[COPY_PROBE] __aligned(64), probe_dst[COPY_PROBE] __aligned(64);

/* Best of a few rounds: a busy host only ever adds time. */
static uint64_t time_copy(const struct arch_copy *c)
{
    uint64_t best = UINT64_MAX;
    for (unsigned r = 0; r < COPY_ROUNDS; r++) {
        uint64_t t0 = clock_ns();
        c->fn(probe_dst, probe_src, COPY_PROBE);
        best = MIN(best, clock_ns() - t0);
    }
    return best;
}

static void choose(void)
{
    nr_copies = 1;
    for (unsigned i = 0; i < arch_nr_copies && nr_copies < COPY_MAX; i++)
        copies[nr_copies++] = arch_copies[i];
    unsigned best = 0;
    for (unsigned i = 0; i < nr_copies; i++) {
        probe_ns[i] = time_copy(&copies[i]);
        if (probe_ns[i] < probe_ns[best])
            best = i;
    }
    chosen = &copies[best];
}

void blk_copy(void *dst, const void *src, size_t n)
{
    if ((n | (uintptr_t)dst | (uintptr_t)src) & 63) {
        memcpy(dst, src, n);
        return;
    }
    if (!chosen)
        choose();
    chosen->fn(dst, src, n);
}

unsigned blk_copy_costs(const char **names, uint64_t *ns, unsigned max, const char **which)
{
    if (!chosen)
        choose();
    unsigned n = MIN(max, nr_copies);
    for (unsigned i = 0; i < n; i++) {
        names[i] = copies[i].name;
        ns[i] = probe_ns[i];
    }
    *which = chosen->name;
    return n;
}
