/* The shared map/unmap-versus-invalidation benchmark (dma_bench.h). */
#include "tests/image/dma_bench.h"

#include "drivers/edu/edu.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "moat/iommufd.h"
#include "tests/image/dma_fixture.h"

#define ROUNDS 1000
#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

static uint64_t t_drv[ROUNDS], t_inv[ROUNDS], t_api[ROUNDS];

/* The API's side: an IOAS of its own and a paging HWPT (not attached) on the unit that serves
 * e. The edu driver binds its device at probe in the runtime's context (e->dma), so the IOAS
 * and HWPT are made there, for that binding; a context of their own when e is not bound. */
struct api_env {
    struct moat_iommufd *ctx;
    uint32_t ioas, dev, hwpt;
    bool own_ctx;
};

static bool api_open(struct api_env *a, struct edu_dev *e)
{
    *a = (struct api_env){ 0 };
    if (e->dma.ictx) {
        a->ctx = e->dma.ictx;
        a->dev = e->dma.dev_id;
    } else {
        if (moat_iommufd_open(&a->ctx))
            return false;
        a->own_ctx = true;
        if (moat_device_bind(a->ctx, e->pci, &a->dev))
            return false;
    }
    struct moat_hwpt_alloc h = { .dev_id = a->dev };
    if (moat_ioas_alloc(a->ctx, 0, &a->ioas))
        return false;
    h.pt_id = a->ioas;
    return moat_hwpt_alloc(a->ctx, &h, &a->hwpt) == 0;
}

static void api_close(struct api_env *a)
{
    if (!a->ctx)
        return;
    if (a->hwpt)
        moat_iommufd_destroy(a->ctx, a->hwpt);
    if (a->ioas)
        moat_iommufd_destroy(a->ctx, a->ioas);
    if (!a->own_ctx)
        return;
    if (a->dev)
        moat_device_unbind(a->ctx, a->dev);
    moat_iommufd_close(a->ctx);
}

static uint64_t median(uint64_t *v)
{
    sort_u64(v, ROUNDS);
    return v[ROUNDS / 2];
}

static void report(const char *prefix, const char *what, uint64_t *v)
{
    kprintf("bench %s_%s %llu ns\n", prefix, what, (unsigned long long)median(v));
    kprintf("# %s_%s min %llu max %llu ns over %u rounds\n", prefix, what,
            (unsigned long long)v[0], (unsigned long long)v[ROUNDS - 1], ROUNDS);
}

static void ratio(const char *prefix, const char *what, uint64_t num, uint64_t den)
{
    uint64_t r = den ? num * 100 / den : 0;
    kprintf("bench %s_%s %llu.%02llu x\n", prefix, what, (unsigned long long)(r / 100),
            (unsigned long long)(r % 100));
}

static void per_op(const char *prefix, const char *what, uint64_t waits)
{
    kprintf("bench %s_%s %llu.%02llu waits\n", prefix, what,
            (unsigned long long)(waits / ROUNDS), (unsigned long long)(waits * 100 / ROUNDS % 100));
}

void dma_bench_vs_inval(struct ktest *t, const struct dma_bench_vendor *v, struct edu_dev *e,
                        struct iommu_domain *d, uint64_t pa, uint64_t iova)
{
    struct api_env a;
    bool api = api_open(&a, e);
    uint64_t w_inv = 0, w_api = 0, got;
    int err = 0;
    if (!api)
        kprintf("# %s_api_map_unmap_4k: skipped (the device could not be bound)\n", v->prefix);
    for (unsigned i = 0; i < ROUNDS && !err; i++) {
        uint64_t n0 = clock_ns();
        err = iommu_map(d, iova, pa, 4096, IOMMU_READ | IOMMU_WRITE);
        err |= iommu_unmap(d, iova, 4096);
        uint64_t n1 = clock_ns(), w0 = *v->nr_waits;
        err |= v->inval_page(d, iova);
        uint64_t n2 = clock_ns(), w1 = *v->nr_waits;
        w_inv += w1 - w0;
        if (api) {
            uint64_t va_iova = 0;
            err |= moat_ioas_map(a.ctx, a.ioas, RW, phys_to_virt(pa), 4096, &va_iova);
            err |= moat_ioas_unmap(a.ctx, a.ioas, va_iova, 4096, &got);
        }
        uint64_t n3 = clock_ns();
        w_api += *v->nr_waits - w1;
        t_drv[i] = n1 - n0;
        t_inv[i] = n2 - n1;
        t_api[i] = n3 - n2;
    }
    api_close(&a);
    KEXPECT_EQ(t, err, 0);
    if (err)
        return;
    uint64_t drv = median(t_drv), inv = median(t_inv), am = median(t_api);
    report(v->prefix, "inval_4k", t_inv);
    kprintf("# %s_map_unmap_vs_inval: map + unmap %llu ns in the same loop\n", v->prefix,
            (unsigned long long)drv);
    ratio(v->prefix, "map_unmap_vs_inval", drv, inv);
    per_op(v->prefix, "waits_per_inval", w_inv);
    if (!api)
        return;
    report(v->prefix, "api_map_unmap_4k", t_api);
    ratio(v->prefix, "api_map_unmap_vs_inval", am, inv);
    per_op(v->prefix, "waits_per_api_map_unmap", w_api);
}
