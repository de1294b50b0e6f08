/* The copy of the copying (POOLED) mode: the fastest of the CPU's bulk copies (arch_copies),
 * chosen by timing each once on 4 KiB, at the first copy. */
#include "arch/arch.h"
#include "drivers/dma/blk.h"
#include "kernel/time.h"
#include "lib/string.h"

#define COPY_PROBE 4096u
#define COPY_ROUNDS 8

static const struct arch_copy *chosen;
static uint64_t probe_ns[8];
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
    const struct arch_copy *best = &arch_copies[0];
    for (unsigned i = 0; i < arch_nr_copies && i < ARRAY_SIZE(probe_ns); i++) {
        probe_ns[i] = time_copy(&arch_copies[i]);
        if (probe_ns[i] < probe_ns[best - arch_copies])
            best = &arch_copies[i];
    }
    chosen = best;
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

const char *blk_copy_costs(uint64_t *ns, unsigned max)
{
    if (!chosen)
        choose();
    for (unsigned i = 0; i < max && i < arch_nr_copies && i < ARRAY_SIZE(probe_ns); i++)
        ns[i] = probe_ns[i];
    return chosen->name;
}
