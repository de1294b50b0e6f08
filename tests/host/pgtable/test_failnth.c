/* Fail the Nth table-page allocation of a good sequence, for every N: the failing operation
 * returns -ENOMEM, leaves the table byte-for-byte as it was, flushes nothing, and once the
 * table is destroyed no page is left allocated. */
#include <stdio.h>

#include "iommu/pgtable/pgtable.h"
#include "tests/host/harness.h"
#include "tests/host/pgtable/pt_test_util.h"

#define K4 PGTABLE_SZ_4K
#define M2 PGTABLE_SZ_2M
#define G1 PGTABLE_SZ_1G
#define RW (PGTABLE_PROT_READ | PGTABLE_PROT_WRITE)

static struct flush_log fl;
static struct tmem tm;

struct step {
    bool unmap;
    uint64_t iova, pa, size;
    uint32_t arg;
};

/* Maps that need new tables at several levels, a split that needs many, unmaps that free. */
static const struct step seq[] = {
    { false, 0, K4, 3 * M2 + 5 * K4, RW },
    { false, G1, G1, G1, RW },
    { false, 5 * G1 + K4, 0x10000000 + K4, M2, PGTABLE_PROT_READ },
    { true, G1 + M2 + K4, 0, K4, PGTABLE_UNMAP_SPLIT },
    { false, 7 * G1 + 3 * M2, 3 * M2, 4 * M2, RW },
    { true, 0, 0, M2, 0 },
    { false, 0, 0x20000000, M2, RW },
    { true, 7 * G1 + 4 * M2 + 8 * K4, 0, 2 * M2, PGTABLE_UNMAP_SPLIT },
    { false, 9 * G1 + 5 * K4, 0x30000000, 600 * K4, RW },
};

static int run_step(struct pgtable *pt, const struct step *s)
{
    if (s->unmap)
        return pgtable_unmap(pt, s->iova, s->size, s->arg);
    return pgtable_map(pt, s->iova, s->pa, s->size, s->arg);
}

/* Returns true once N is past the sequence's last allocation. */
static bool run_fail_nth(const struct pgtable_cfg *cfg, uint64_t n)
{
    struct pgtable pt;
    bool failed = false;

    tmem_reset(&tm);
    fl.tm = &tm;
    tm.fail_at = n;
    int ret = pgtable_init(&pt, cfg, &tmem_ops, &tm, &flush_log_ops, &fl);
    if (ret) {
        CHECK_EQ(ret, -ENOMEM);
        CHECK_EQ(tm.live, 0);
        return false;
    }
    for (unsigned int i = 0; i < ARRAY_SIZE(seq) && !failed; i++) {
        struct tmem_snap snap;
        tmem_snap_take(&tm, &snap);
        flush_log_reset(&fl);
        ret = run_step(&pt, &seq[i]);
        if (ret == -ENOMEM) {
            failed = true;
            CHECK(tmem_snap_same(&tm, &snap));
            CHECK_EQ(fl.calls + fl.map_syncs, 0);
        } else {
            if (ret)
                printf("    %s step %u: %d\n", pt_fmt_name(cfg->fmt), i, ret);
            CHECK_EQ(ret, 0);
        }
        tmem_snap_free(&snap);
    }
    pgtable_destroy(&pt);
    CHECK_EQ(tm.live, 0);
    return !failed;
}

static void fail_nth_sweep(const struct pgtable_cfg *cfg)
{
    uint64_t n;
    for (n = 1; n < 10000; n++) {
        if (run_fail_nth(cfg, n))
            break;
    }
    printf("    %s pgsizes 0x%llx: %llu allocation points\n", pt_fmt_name(cfg->fmt),
           (unsigned long long)cfg->pgsize_bitmap, (unsigned long long)n - 1);
    CHECK(n > 5 && n < 10000);
}

TEST(fail_nth)
{
    tmem_init(&tm, 2048);
    for (int f = 0; f <= PGTABLE_FMT_ARM_S2; f++) { /* the 4 KiB-granule formats */
        struct pgtable_cfg all = { .fmt = f };
        struct pgtable_cfg small = { .fmt = f, .pgsize_bitmap = PGTABLE_SZ_4K | PGTABLE_SZ_1G };
        fail_nth_sweep(&all);
        fail_nth_sweep(&small);
    }
    tmem_fini(&tm);
}
