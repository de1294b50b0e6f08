/* The DMA isolation cases the VT-d and AMD-Vi suites share: the edu copies through a mapping
 * both ways with the bytes checked, and every write it may not do (unmapped IOVA, another
 * domain's IOVA, a just-unmapped IOVA, a read-only mapping) is blocked with the canary pages
 * around its target unchanged. The vendor decides what else a blocked write must show. */
#include "drivers/edu/edu.h"
#include "kernel/ktest.h"
#include "kernel/mm/pmm.h"
#include "lib/string.h"
#include "tests/image/dma_fixture.h"

bool dma_env_get(struct ktest *t, unsigned dev, bool have_unit, const char *skip_reason,
                 struct dma_case_env *env)
{
    memset(env, 0, sizeof(*env));
    env->e = edu_get(dev);
    if (!env->e || !env->e->domain || !have_unit) {
        ktest_skip(t, skip_reason);
        return false;
    }
    env->d = env->e->domain;
    env->pages = dma_fixture_pages(&env->pa);
    return true;
}

void dma_env_put(struct dma_case_env *env)
{
    if (env->d)
        env->d->fault_fn = NULL;
}

void dma_case_dma_both_directions(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    uint64_t iova = DMA_CASE_IOVA_BASE;
    KASSERT(t, dma_load_device_buffer(env.e, env.d, iova + 0x80000, 0x31) == 0);
    KASSERT(t, iommu_map(env.d, iova, env.pa + 4096, 8192, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, edu_dma(env.e, true, iova + 4096, 0, 4096) == 0);     /* device -> memory */
    uint8_t want[4096];
    fill_pattern(want, sizeof(want), 0x31);
    KEXPECT(t, memcmp(env.pages + 8192, want, 4096) == 0);
    KEXPECT(t, all_bytes(env.pages, 8192, DMA_CANARY));
    KEXPECT(t, all_bytes(env.pages + 12288, 4096, DMA_CANARY));
    /* memory -> device -> memory at another offset: a partial, unaligned copy */
    fill_pattern(env.pages + 4096, 4096, 0x77);
    KASSERT(t, edu_dma(env.e, false, iova + 100, 200, 1000) == 0);
    KASSERT(t, edu_dma(env.e, true, iova + 4096 + 300, 200, 1000) == 0);
    KEXPECT(t, memcmp(env.pages + 8192 + 300, env.pages + 4096 + 100, 1000) == 0);
    KEXPECT(t, iommu_unmap(env.d, iova, 8192) == 0);
    dma_env_put(&env);
}

void dma_case_unmapped_iova_blocked(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    /* The canary page's physical address, used as an IOVA nothing maps. */
    if (env.pa + 4096 >= EDU_DMA_LIMIT)
        ktest_skip(t, "canary page above the device's DMA mask");
    else
        v->blocked_write(t, &env, env.pa + 4096);
    dma_env_put(&env);
}

void dma_case_other_domain_iova_blocked(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    struct iommu_domain *other;
    KASSERT(t, iommu_domain_alloc(env.d->unit, IOMMU_DOMAIN_PAGING, NULL, &other) == 0);
    uint64_t iova = DMA_CASE_IOVA_BASE + 0x200000;
    KASSERT(t, iommu_map(other, iova, env.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    v->blocked_write(t, &env, iova);
    KEXPECT(t, iommu_unmap(other, iova, 4096) == 0);
    iommu_domain_free(other);
    dma_env_put(&env);
}

void dma_case_just_unmapped_iova_blocked(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    uint64_t iova = DMA_CASE_IOVA_BASE + 0x300000;
    KASSERT(t, dma_load_device_buffer(env.e, env.d, DMA_CASE_IOVA_BASE + 0x80000, 0x42) == 0);
    KASSERT(t, iommu_map(env.d, iova, env.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, edu_dma(env.e, true, iova, 0, 4096) == 0);     /* the IOTLB holds it now */
    KEXPECT(t, !all_bytes(env.pages + 4096, 4096, DMA_CANARY));
    KASSERT(t, iommu_unmap(env.d, iova, 4096) == 0);
    memset(env.pages, DMA_CANARY, 4 * 4096);
    v->blocked_write(t, &env, iova);
    dma_env_put(&env);
}

void dma_case_read_only_blocks_writes(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    uint64_t iova = DMA_CASE_IOVA_BASE + 0x400000;
    KASSERT(t, dma_load_device_buffer(env.e, env.d, DMA_CASE_IOVA_BASE + 0x80000, 0x17) == 0);
    KASSERT(t, iommu_map(env.d, iova, env.pa + 4096, 4096, IOMMU_READ) == 0);
    /* The write first: once a read has cached the translation, QEMU's VT-d refuses the write
     * in its memory layer without a fault record. */
    v->blocked_write(t, &env, iova);
    KEXPECT(t, edu_dma(env.e, false, iova, 0, 4096) == 0);     /* reads work */
    KEXPECT(t, iommu_unmap(env.d, iova, 4096) == 0);
    dma_env_put(&env);
}

/* Twelve scattered unmaps gathered into one batch (more ranges than a gather lists): one
 * completion wait for them all where the unit batches, and afterwards none of them translates. */
void dma_case_one_wait_per_batch(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    enum { N = 12 };
    uint64_t pa;
    KASSERT(t, pmm_alloc(0, &pa) == 0);
    for (unsigned i = 0; i < N; i++)
        KASSERT(t, iommu_map(env.d, DMA_CASE_IOVA_BASE + i * 0x3000ULL, pa, 4096, IOMMU_READ) == 0);
    struct pgtable_gather g;
    uint64_t w0 = v->nr_waits(&env), x;
    iommu_gather_init(&g);
    for (unsigned i = 0; i < N; i++)
        KASSERT(t, iommu_unmap_gather(env.d, DMA_CASE_IOVA_BASE + ((i * 5) % N) * 0x3000ULL, 4096,
                                      &g) == 0);
    KEXPECT_EQ(t, v->nr_waits(&env), w0);
    iommu_gather_sync(env.d, &g);
    if (v->batch_waits(&env))
        KEXPECT_EQ(t, v->nr_waits(&env) - w0, v->batch_waits(&env));
    for (unsigned i = 0; i < N; i++)
        KEXPECT(t, iommu_iova_to_phys(env.d, DMA_CASE_IOVA_BASE + i * 0x3000ULL, &x) != 0);
    pmm_free(pa, 0);
    dma_env_put(&env);
}
