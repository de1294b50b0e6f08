/* The DMA isolation cases the VT-d and AMD-Vi suites share: the edu copies through a mapping
 * both ways with the bytes checked, and every write it may not do (unmapped IOVA, another
 * domain's IOVA, a just-unmapped IOVA, a read-only mapping) is blocked with the canary pages
 * around its target unchanged. The vendor decides what else a blocked write must show. */
#include "drivers/edu/edu.h"
#include "kernel/ktest.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
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

int dma_env_load(const struct dma_case_env *env, uint8_t seed)
{
    return dma_load_device_buffer(env->e, env->d, DMA_CASE_IOVA_BASE + 0x80000, seed);
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
    KASSERT(t, dma_env_load(&env, 0x42) == 0);
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
    KASSERT(t, dma_env_load(&env, 0x17) == 0);
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

/* Identity (pass-through) only on request: DMA address = physical address; back in its paging
 * domain that physical address is an unmapped IOVA again. Needs the page below the edu's DMA
 * mask (not on AArch64's virt, whose RAM starts at 1 GiB). */
void dma_case_identity_domain_on_request(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    struct iommu_domain *id;
    int err = iommu_domain_alloc(env.d->unit, IOMMU_DOMAIN_IDENTITY, NULL, &id);
    if (err == -EOPNOTSUPP || env.pa + 8192 >= EDU_DMA_LIMIT) {
        if (!err)
            iommu_domain_free(id);
        dma_env_put(&env);
        ktest_skip(t, "no pass-through, or the page is above the DMA mask");
        return;
    }
    KASSERT(t, err == 0);
    KASSERT(t, dma_env_load(&env, 0x66) == 0);
    KASSERT(t, iommu_attach(id, env.e->pci) == 0);
    KEXPECT(t, edu_dma(env.e, true, env.pa + 4096, 0, 4096) == 0);
    KEXPECT(t, env.pages[4096] == 0x66 && env.pages[4096 + 4095] == (uint8_t)(0x66 + 4095 * 7));
    KEXPECT(t, all_bytes(env.pages, 4096, DMA_CANARY));
    KASSERT(t, iommu_attach(env.d, env.e->pci) == 0);
    iommu_domain_free(id);
    memset(env.pages, DMA_CANARY, 4 * 4096);
    v->blocked_write(t, &env, env.pa + 4096);
    dma_env_put(&env);
}

/* One wait per map and unmap call, however many pages it covers: the unmap of 1 MiB costs
 * exactly batch_waits (where the unit batches), the map at most map_waits. */
void dma_case_one_wait_per_operation(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    uint64_t pa;
    KASSERT(t, pmm_alloc(8, &pa) == 0);     /* 1 MiB */
    uint64_t w0 = v->nr_waits(&env);
    KASSERT(t, iommu_map(env.d, DMA_CASE_IOVA_BASE, pa, 1 << 20, IOMMU_READ) == 0);
    uint64_t w1 = v->nr_waits(&env);
    KASSERT(t, iommu_unmap(env.d, DMA_CASE_IOVA_BASE, 1 << 20) == 0);
    uint64_t w2 = v->nr_waits(&env);
    KEXPECT(t, w1 - w0 <= (v->map_waits ? v->map_waits(&env) : 0));
    if (v->batch_waits(&env))
        KEXPECT_EQ(t, w2 - w1, v->batch_waits(&env));
    pmm_free(pa, 8);
    dma_env_put(&env);
}

/* Replace (attach while attached): after a DMA cached A's translation, the device moves to B
 * with the same IOVA mapped elsewhere; the next DMA must land in B's page, with no fault. */
void dma_case_replace_no_stale_translation(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    struct iommu_domain *b;
    KASSERT(t, iommu_domain_alloc(env.d->unit, IOMMU_DOMAIN_PAGING, v->replace_cfg, &b) == 0);
    uint64_t iova = DMA_CASE_IOVA_BASE + 0x900000;
    KASSERT(t, iommu_map(env.d, iova, env.pa + 4096, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, iommu_map(b, iova, env.pa + 8192, 4096, IOMMU_READ | IOMMU_WRITE) == 0);
    KASSERT(t, dma_env_load(&env, 0x7a) == 0);
    KASSERT(t, edu_dma(env.e, true, iova, 0, 4096) == 0);
    KEXPECT(t, env.pages[4096] == 0x7a && env.pages[8192] == DMA_CANARY);
    memset(env.pages, DMA_CANARY, 4 * 4096);
    uint64_t faults = iommu_fault_count();
    KASSERT(t, iommu_attach(b, env.e->pci) == 0);
    KASSERT(t, edu_dma(env.e, true, iova, 0, 4096) == 0);
    KEXPECT(t, env.pages[8192] == 0x7a);
    KEXPECT(t, all_bytes(env.pages + 4096, 4096, DMA_CANARY));
    KEXPECT_EQ(t, iommu_fault_count(), faults);
    KASSERT(t, iommu_attach(env.d, env.e->pci) == 0);
    KEXPECT(t, iommu_unmap(b, iova, 4096) == 0);
    KEXPECT(t, iommu_unmap(env.d, iova, 4096) == 0);
    iommu_domain_free(b);
    dma_env_put(&env);
}

/* Error paths: fail the Nth allocation of the unit's driver in "allocate a domain, attach, map
 * 2 MiB" for every N until the sequence succeeds. Each time nothing leaks and the device stays
 * where the core says it is (still working in its own domain). */
void dma_case_fail_nth_allocation(struct ktest *t, const struct dma_vendor *v)
{
    struct dma_case_env env;
    if (!v->get(t, &env))
        return;
    uint64_t pa;
    KASSERT(t, pmm_alloc(9, &pa) == 0);                 /* 2 MiB, mapped unaligned: 4 KiB leaves */
    unsigned n;
    for (n = 1; n < 64; n++) {
        uint64_t pmm0 = pmm_free_bytes();
        size_t heap0 = heap_live_bytes();
        struct iommu_domain *d = NULL;
        bool attached = false, mapped = false;
        v->fail_nth(n);
        int err = iommu_domain_alloc(env.d->unit, IOMMU_DOMAIN_PAGING, NULL, &d);
        if (!err)
            attached = (err = iommu_attach(d, env.e->pci)) == 0;
        if (!err)
            mapped = (err = iommu_map(d, DMA_CASE_IOVA_BASE, pa, 2 << 20, IOMMU_READ)) == 0;
        v->fail_nth(0);
        KEXPECT(t, err == 0 || err == -ENOMEM);
        KEXPECT(t, iommu_dev_domain(env.e->pci) == (attached ? d : env.d));
        if (mapped)
            KEXPECT(t, iommu_unmap(d, DMA_CASE_IOVA_BASE, 2 << 20) == 0);
        if (attached)
            KEXPECT(t, iommu_attach(env.d, env.e->pci) == 0);
        if (d)
            iommu_domain_free(d);
        KEXPECT_EQ(t, pmm_free_bytes(), pmm0);
        KEXPECT_EQ(t, heap_live_bytes(), heap0);
        if (!err)
            break;
    }
    KEXPECT(t, n > 2 && n < 64);                        /* some failed, then it succeeded */
    pmm_free(pa, 9);
    /* the device still works */
    KASSERT(t, dma_env_load(&env, 0x5e) == 0);
    dma_env_put(&env);
}
