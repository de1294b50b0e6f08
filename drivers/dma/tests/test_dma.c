/* Host tests of the DMA helper (drivers/dma/dma.c, dma_pool.c, dma_window.c) over the strict mock IOMMU:
 * the IOVA bitmap against a model, exact map/unmap calls and permissions, scattered buffers,
 * quarantine, pools, and allocation failures at every step leaving nothing behind. */
#include <stdlib.h>
#include "arch/arch.h"
#include "drivers/dma/dma.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "iommu/iommufd/iommufd_private.h"    /* moat_iommufd_fail_nth */
#include "moat/iommufd.h"
#include "pci/pci.h"
#include "tests/host/harness.h"
#include "tests/host/mock_iommu.h"

/* The CPU's view: identity, except a window of pages remapped to chosen frames and one
 * address that is not mapped at all. */
#define REMAP_PAGES 4
#define UNMAPPED_VA 0x7000000ULL
static uintptr_t remap_va;
static uint64_t remap_pa[REMAP_PAGES];

int arch_virt_to_phys(uintptr_t va, uint64_t *pa)
{
    if (remap_va && va >= remap_va && va < remap_va + REMAP_PAGES * DMA_PAGE) {
        *pa = remap_pa[(va - remap_va) / DMA_PAGE] + (va & (DMA_PAGE - 1));
        return 0;
    }
    if (va >= UNMAPPED_VA && va < UNMAPPED_VA + DMA_PAGE)
        return -EFAULT;
    *pa = va;
    return 0;
}

/* Remaps the REMAP_PAGES pages at remap_va to frames[i] of a fresh 8-page block at *pa. */
static bool remap_setup(const unsigned frames[REMAP_PAGES], uint64_t *pa)
{
    if (!pmm_alloc_zeroed(3, pa))
        return false;
    for (unsigned i = 0; i < REMAP_PAGES; i++)
        remap_pa[i] = *pa + frames[i] * DMA_PAGE;
    remap_va = 0x50000000;
    return true;
}

static struct pci_dev dev;

static void setup(struct dma_space *ds)
{
    mock_iommu_setup();
    mock_pci_dev(&dev, 0, 0, 0x20, 0);
    REQUIRE(dma_space_init(ds, &dev, IOMMU_DOMAIN_PAGING) == 0);
}

static bool translates(struct dma_space *ds, uint64_t iova, uint64_t pa)
{
    uint64_t got;
    return iommu_iova_to_phys(ds->domain, iova, &got) == 0 && got == pa;
}

TEST(space_attaches_and_detaches)
{
    struct dma_space ds;
    setup(&ds);
    unsigned domains = mock_live_domains();
    CHECK(dma_space_isolated(&ds));
    CHECK_EQ(iommu_dev_domain(&dev), ds.domain);
    dma_space_fini(&ds);
    CHECK_EQ(mock_live_domains(), domains - 1);
    CHECK_EQ(iommu_dev_domain(&dev), mock_unit(0)->blocked);
    CHECK_EQ(mock_violations, 0);
}

TEST(no_unit_means_physical_addresses)
{
    mock_iommu_setup();
    struct pci_dev other;
    mock_pci_dev(&other, 7, 0, 0x8, 0);
    struct dma_space ds;
    REQUIRE(dma_space_init(&ds, &other, IOMMU_DOMAIN_PAGING) == 0);
    CHECK(!dma_space_isolated(&ds));
    struct dma_mem m;
    REQUIRE(dma_alloc(&ds, 4096, IOMMU_READ, &m) == 0);
    CHECK_EQ(m.iova, m.pa);
    dma_free(&ds, &m);
    dma_space_fini(&ds);
}

TEST(window_clear_of_reserved_regions)
{
    mock_iommu_setup();
    struct iommu_resv_region r[2] = { { 0xfee00000ULL, 0xfeefffffULL, 0, IOMMU_RESV_MSI },
                                      { DMA_IOVA_BASE + 0x5000, DMA_IOVA_BASE + 0x5fff, 0,
                                        IOMMU_RESV_RESERVED } };
    mock_set_resv(0, r, 2);
    mock_pci_dev(&dev, 0, 0, 0x20, 0);
    struct dma_space ds;
    CHECK_EQ(dma_space_init(&ds, &dev, IOMMU_DOMAIN_PAGING), -ERANGE);
    mock_set_resv(0, r, 1);
    CHECK_EQ(mock_violations, 0);
}

/* Random allocations and frees against a model: inside the window, page aligned, never
 * overlapping, the count of used pages exact. */
TEST(iova_bitmap_against_model)
{
    struct dma_space ds;
    setup(&ds);
    enum { SLOTS = 64 };
    uint64_t iova[SLOTS] = { 0 }, size[SLOTS] = { 0 }, used = 0;
    srand(7);
    for (unsigned op = 0; op < 20000; op++) {
        unsigned i = (unsigned)rand() % SLOTS;
        if (size[i]) {
            dma_iova_free(&ds, iova[i], size[i]);
            used -= size[i] / DMA_PAGE;
            size[i] = 0;
            continue;
        }
        uint64_t want = (1 + (uint64_t)rand() % 300) * DMA_PAGE - (uint64_t)(rand() % 2);
        REQUIRE(dma_iova_alloc(&ds, want, &iova[i]) == 0);
        size[i] = (want + DMA_PAGE - 1) / DMA_PAGE * DMA_PAGE;
        used += size[i] / DMA_PAGE;
        CHECK(iova[i] % DMA_PAGE == 0 && iova[i] >= DMA_IOVA_BASE &&
              iova[i] + size[i] <= DMA_IOVA_BASE + DMA_IOVA_SIZE);
        for (unsigned j = 0; j < SLOTS; j++)
            if (j != i && size[j])
                CHECK(iova[i] + size[i] <= iova[j] || iova[j] + size[j] <= iova[i]);
        CHECK_EQ(ds.used_pages, used);
    }
    for (unsigned i = 0; i < SLOTS; i++)
        if (size[i])
            dma_iova_free(&ds, iova[i], size[i]);
    CHECK_EQ(ds.used_pages, 0);
    dma_space_fini(&ds);
}

TEST(iova_exhaustion)
{
    struct dma_space ds;
    setup(&ds);
    uint64_t all, one;
    CHECK_EQ(dma_iova_alloc(&ds, 0, &one), -EINVAL);
    CHECK_EQ(dma_iova_alloc(&ds, DMA_IOVA_SIZE + 1, &one), -EINVAL);
    REQUIRE(dma_iova_alloc(&ds, DMA_IOVA_SIZE, &all) == 0);
    CHECK_EQ(all, DMA_IOVA_BASE);
    CHECK_EQ(dma_iova_alloc(&ds, 4096, &one), -ENOSPC);
    dma_iova_free(&ds, all, DMA_IOVA_SIZE);
    CHECK_EQ(dma_iova_alloc(&ds, 4096, &one), 0);
    dma_iova_free(&ds, one, 4096);
    dma_space_fini(&ds);
}

TEST(alloc_maps_with_the_permission_asked)
{
    struct dma_space ds;
    setup(&ds);
    struct dma_mem m;
    REQUIRE(dma_alloc(&ds, 5000, IOMMU_READ, &m) == 0);
    CHECK_EQ(m.size, 8192);
    CHECK_EQ(mock_stats.last_prot, IOMMU_READ);
    CHECK_EQ(mock_stats.last_size, 8192);
    CHECK(translates(&ds, m.iova + 4096, m.pa + 4096));
    CHECK_EQ(mock_mapped_bytes(), 8192);
    dma_free(&ds, &m);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(ds.used_pages, 0);
    CHECK_EQ(dma_alloc(&ds, (DMA_PAGE << BUDDY_MAX_ORDER) + 1, IOMMU_READ, &m), -EINVAL);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

TEST(map_keeps_the_offset)
{
    struct dma_space ds;
    setup(&ds);
    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(2, &pa);
    REQUIRE(buf);
    struct dma_map m;
    REQUIRE(dma_map(&ds, buf + 100, 5000, IOMMU_WRITE, &m) == 0);
    CHECK_EQ(m.size, 8192);
    CHECK_EQ(m.iova - m.iova_base, 100);
    CHECK(translates(&ds, m.iova, pa + 100));
    CHECK(translates(&ds, m.iova_base + 4096, pa + 4096));
    CHECK_EQ(mock_stats.last_prot, IOMMU_WRITE);
    CHECK_EQ(dma_unmap(&ds, &m), 0);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK(!translates(&ds, m.iova, pa + 100));
    CHECK_EQ(dma_map(&ds, buf, 0, IOMMU_WRITE, &m), -EINVAL);
    CHECK_EQ(dma_map(&ds, (void *)UINTPTR_MAX, 2, IOMMU_WRITE, &m), -EINVAL);
    pmm_free(pa, 2);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

/* Pages scattered in physical memory: one contiguous IOVA range, one map call per run. */
TEST(map_scattered_pages)
{
    struct dma_space ds;
    setup(&ds);
    const unsigned frames[REMAP_PAGES] = { 2, 3, 0, 7 };
    uint64_t pa;
    REQUIRE(remap_setup(frames, &pa));
    uint64_t calls = mock_stats.map_calls;
    struct dma_map m;
    REQUIRE(dma_map(&ds, (void *)(remap_va + 8), REMAP_PAGES * DMA_PAGE - 8, IOMMU_READ, &m) == 0);
    CHECK_EQ(mock_stats.map_calls - calls, 3);
    for (unsigned i = 0; i < REMAP_PAGES; i++)
        CHECK(translates(&ds, m.iova_base + i * DMA_PAGE, remap_pa[i]));
    /* One unmap call for the three runs: each run's mapping exactly, one invalidation. */
    uint64_t flushes = mock_stats.flushes, unmaps = ds.nr_unmaps;
    mock_unmap_log_reset();
    dma_unmap(&ds, &m);
    CHECK_EQ(ds.nr_unmaps - unmaps, 1);
    CHECK_EQ(mock_stats.flushes - flushes, 1);
    CHECK_EQ(mock_stats.nr_unmap_log, 3);
    CHECK_EQ(mock_stats.unmap_log[0].iova, m.iova_base);
    CHECK_EQ(mock_stats.unmap_log[0].size, 2 * DMA_PAGE);
    CHECK_EQ(mock_stats.unmap_log[1].iova, m.iova_base + 2 * DMA_PAGE);
    CHECK_EQ(mock_stats.unmap_log[1].size, DMA_PAGE);
    CHECK_EQ(mock_stats.unmap_log[2].iova, m.iova_base + 3 * DMA_PAGE);
    CHECK_EQ(mock_pending_invalidations(), 0);
    CHECK_EQ(mock_mapped_bytes(), 0);
    remap_va = 0;
    pmm_free(pa, 3);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

/* A page the CPU does not map in the middle: refused, nothing left mapped or allocated. */
TEST(map_unmapped_memory)
{
    struct dma_space ds;
    setup(&ds);
    struct dma_map m;
    CHECK_EQ(dma_map(&ds, (void *)(UNMAPPED_VA - DMA_PAGE), 3 * DMA_PAGE, IOMMU_READ, &m),
             -EFAULT);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(ds.used_pages, 0);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

TEST(quarantined_iova_is_never_reused)
{
    struct dma_space ds;
    setup(&ds);
    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(0, &pa);
    REQUIRE(buf);
    struct dma_map m;
    REQUIRE(dma_map(&ds, buf, 4096, IOMMU_WRITE, &m) == 0);
    dma_unmap_quarantine(&ds, &m);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(ds.quarantined_pages, 1);
    uint64_t rest;
    REQUIRE(dma_iova_alloc(&ds, DMA_IOVA_SIZE - DMA_PAGE, &rest) == 0);
    CHECK(rest > m.iova_base || rest + DMA_IOVA_SIZE - DMA_PAGE <= m.iova_base);
    uint64_t more;
    CHECK_EQ(dma_iova_alloc(&ds, DMA_PAGE, &more), -ENOSPC);
    dma_iova_free(&ds, rest, DMA_IOVA_SIZE - DMA_PAGE);
    pmm_free(pa, 0);
    dma_space_fini(&ds);
}

/* A window: a slot per request, scattered buffers stored run by run in the slot, clears
 * deferred to one sync (one invalidation) for the batch, slots handed out again only after
 * it, no IOVA allocation or table allocation per request, quarantine keeps the range. */
TEST(window_slots)
{
    struct dma_space ds;
    setup(&ds);
    struct dma_window win;
    REQUIRE(dma_window_init(&win, &ds, 4, 8192) == 0);
    CHECK_EQ(win.slot_size, 3 * DMA_PAGE);      /* 8 KiB at any offset spans three pages */
    uint64_t used = ds.used_pages;
    long long tables = mock_pt_pages();
    const unsigned frames[REMAP_PAGES] = { 5, 1, 2, 6 };
    uint64_t pa;
    REQUIRE(remap_setup(frames, &pa));
    struct dma_map m[4];
    uint16_t slot[4];
    uint64_t calls = mock_stats.map_calls;
    /* 8 KiB from offset 100 of a buffer whose pages are frames 5, 1, 2: runs {5}, {1, 2} */
    REQUIRE(dma_window_map(&win, (void *)(remap_va + 100), 8192, IOMMU_WRITE, &m[0],
                           &slot[0]) == 0);
    CHECK_EQ(mock_stats.map_calls - calls, 2);
    CHECK_EQ(m[0].iova, m[0].iova_base + 100);
    CHECK(m[0].iova_base >= win.iova && m[0].iova_base + m[0].size <= win.iova + win.size);
    for (unsigned i = 0; i < 3; i++)
        CHECK(translates(&ds, m[0].iova_base + i * DMA_PAGE, remap_pa[i]));
    CHECK(!translates(&ds, m[0].iova_base + 3 * DMA_PAGE, remap_pa[3]));
    CHECK_EQ(dma_window_map(&win, (void *)remap_va, 3 * DMA_PAGE + 1, IOMMU_READ, &m[1],
                            &slot[1]), -EINVAL);       /* beyond a slot */
    CHECK_EQ(dma_window_map(&win, (void *)(UNMAPPED_VA - DMA_PAGE), 8192, IOMMU_READ, &m[1],
                            &slot[1]), -EFAULT);
    CHECK_EQ(win.nfree, 3);
    for (unsigned i = 1; i < 4; i++)
        REQUIRE(dma_window_map(&win, (void *)(remap_va + DMA_PAGE * (i - 1)), 4096, IOMMU_READ,
                               &m[i], &slot[i]) == 0);
    struct dma_map extra;
    uint16_t xs;
    CHECK_EQ(dma_window_map(&win, (void *)remap_va, 4096, IOMMU_READ, &extra, &xs), -EAGAIN);
    CHECK_EQ(ds.used_pages, used);
    CHECK_EQ(mock_pt_pages(), tables);
    uint64_t flushes = mock_stats.flushes;
    for (unsigned i = 0; i < 3; i++)
        dma_window_clear(&win, &m[i]);
    CHECK_EQ(mock_stats.flushes, flushes);
    dma_window_sync(&win);
    CHECK_EQ(mock_stats.flushes - flushes, 1);
    CHECK_EQ(mock_pending_invalidations(), 0);
    for (unsigned i = 0; i < 3; i++) {
        uint64_t got;
        for (uint64_t off = 0; off < m[i].size; off += DMA_PAGE)
            CHECK(iommu_iova_to_phys(ds.domain, m[i].iova_base + off, &got) != 0);
        dma_window_put(&win, slot[i]);
    }
    CHECK_EQ(mock_mapped_bytes(), DMA_PAGE);            /* slot 3 still mapped */
    dma_window_quarantine(&win, &m[3]);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(win.nfree, 3);
    CHECK_EQ(mock_pt_pages(), tables);
    dma_window_fini(&win);
    CHECK_EQ(ds.used_pages, ds.quarantined_pages);      /* the range stays out of use */
    remap_va = 0;
    pmm_free(pa, 3);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

TEST(pool_maps_once)
{
    struct dma_space ds;
    setup(&ds);
    struct dma_pool p;
    uint64_t calls = mock_stats.map_calls, unmaps;
    REQUIRE(dma_pool_init(&p, &ds, 8, 65536) == 0);
    unmaps = mock_stats.unmap_calls;
    CHECK_EQ(mock_stats.map_calls - calls, 1);      /* one 512 KiB slab */
    CHECK_EQ(p.nslabs, 1);
    void *bufs[8];
    uint64_t iovas[8];
    for (unsigned i = 0; i < 8; i++) {
        bufs[i] = dma_pool_get(&p, &iovas[i]);
        REQUIRE(bufs[i]);
        CHECK(translates(&ds, iovas[i], virt_to_phys(bufs[i])));
        for (unsigned j = 0; j < i; j++)
            CHECK(bufs[i] != bufs[j] && iovas[i] != iovas[j]);
    }
    uint64_t none;
    CHECK(dma_pool_get(&p, &none) == NULL);
    for (unsigned i = 0; i < 8; i++)
        dma_pool_put(&p, bufs[i]);
    CHECK_EQ(mock_stats.map_calls - calls, 1);
    CHECK_EQ(mock_stats.unmap_calls, unmaps);
    /* A quarantined buffer is never handed out again; it keeps its own memory mapped until
     * the slab is taken down, whose IOVA range then stays out of use. */
    bufs[0] = dma_pool_get(&p, &iovas[0]);
    dma_pool_quarantine(&p, bufs[0]);
    CHECK(translates(&ds, iovas[0], virt_to_phys(bufs[0])));
    CHECK_EQ(p.nfree, 7);
    for (unsigned i = 0; i < 7; i++)
        CHECK(dma_pool_get(&p, &none) != bufs[0]);
    CHECK(dma_pool_get(&p, &none) == NULL);
    CHECK_EQ(ds.quarantined_pages, 0);
    dma_pool_fini(&p);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(ds.used_pages, ds.quarantined_pages);
    CHECK_EQ(ds.quarantined_pages, 128);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

/* A block driver's pool (32 x 128 KiB): two 2 MiB slabs, each at a 2 MiB-aligned IOVA and
 * mapped by one 2 MiB leaf; every buffer translates to its own memory. */
TEST(pool_slabs_are_large_leaves)
{
    struct dma_space ds;
    setup(&ds);
    struct dma_pool p;
    uint64_t calls = mock_stats.map_calls;
    REQUIRE(dma_pool_init(&p, &ds, 32, 128 * 1024) == 0);
    CHECK_EQ(p.nslabs, 2);
    CHECK_EQ(mock_stats.map_calls - calls, 2);
    for (unsigned s = 0; s < p.nslabs; s++) {
        struct pgtable_xlate x;
        CHECK_EQ(p.slabs[s].iova % DMA_SUPERPAGE, 0);
        REQUIRE(pgtable_translate(&ds.domain->pt, p.slabs[s].iova, &x) == 0);
        CHECK_EQ(x.pgsize, DMA_SUPERPAGE);
        CHECK_EQ(x.pa, p.slabs[s].pa);
    }
    for (unsigned i = 0; i < p.nbufs; i++) {
        CHECK(translates(&ds, p.bufs[i].iova, virt_to_phys(p.bufs[i].cpu)));
        CHECK(translates(&ds, p.bufs[i].iova + 128 * 1024 - 4096,
                         virt_to_phys(p.bufs[i].cpu) + 128 * 1024 - 4096));
    }
    dma_pool_fini(&p);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(ds.used_pages, 0);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

/* Every allocation of a pool failing in turn: -ENOMEM and, once the space is gone too (its
 * page tables live as long as the domain), not a page or heap byte left behind. */
TEST(pool_fail_nth)
{
    mock_iommu_setup();
    mock_pci_dev(&dev, 0, 0, 0x20, 0);
    uint64_t free0 = 0;
    size_t heap0 = heap_live_bytes();
    for (unsigned n = 4; n >= 1; n--) {     /* n = 4 succeeds: it warms the heap's caches */
        struct dma_space ds;
        struct dma_pool p;
        REQUIRE(dma_space_init(&ds, &dev, IOMMU_DOMAIN_PAGING) == 0);
        dma_fail_nth = n;
        int err = dma_pool_init(&p, &ds, 9, 512 * 1024);     /* slabs of 4, 4 and 1 */
        if (n <= 3) {
            CHECK_EQ(err, -ENOMEM);
            CHECK_EQ(dma_fail_nth, 0);
            CHECK_EQ(mock_mapped_bytes(), 0);
            CHECK_EQ(ds.used_pages, 0);
        } else {
            CHECK_EQ(err, 0);
            dma_pool_fini(&p);
        }
        dma_fail_nth = 0;
        dma_space_fini(&ds);
        free0 = n == 4 ? pmm_free_bytes() : free0;
        CHECK_EQ(pmm_free_bytes(), free0);
        CHECK_EQ(heap_live_bytes(), heap0);
    }
    CHECK_EQ(mock_violations, 0);
}

/* Completions reaped together: their buffers leave with one unmap call and one invalidation,
 * every range exactly, and their IOVAs are free afterwards. */
TEST(unmap_many_one_invalidation)
{
    struct dma_space ds;
    setup(&ds);
    enum { N = 20 };
    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(5, &pa);        /* 32 pages */
    REQUIRE(buf);
    struct dma_map m[N], *mp[N];
    for (unsigned i = 0; i < N; i++) {
        REQUIRE(dma_map(&ds, buf + i * DMA_PAGE + (i % 3) * 512, 1024, IOMMU_WRITE, &m[i]) == 0);
        mp[i] = &m[(i * 7) % N];                   /* completion order is not map order */
    }
    CHECK_EQ(ds.used_pages, N);
    uint64_t flushes = mock_stats.flushes, unmaps = ds.nr_unmaps;
    mock_unmap_log_reset();
    dma_unmap_many(&ds, mp, N);
    CHECK_EQ(ds.nr_unmaps - unmaps, 1);
    CHECK_EQ(mock_stats.flushes - flushes, 1);
    CHECK_EQ(mock_stats.nr_unmap_log, N);
    for (unsigned i = 0; i < N; i++) {
        CHECK_EQ(mock_stats.unmap_log[i].iova, mp[i]->iova_base);
        CHECK_EQ(mock_stats.unmap_log[i].size, DMA_PAGE);
        CHECK(!translates(&ds, m[i].iova_base, pa + i * DMA_PAGE));
    }
    CHECK_EQ(mock_pending_invalidations(), 0);
    CHECK_EQ(mock_mapped_bytes(), 0);
    CHECK_EQ(ds.used_pages, 0);
    CHECK(!moat_iommufd_is_pinned(buf, 32 * DMA_PAGE));
    pmm_free(pa, 5);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}

/* The device is bound in the runtime's context while its space lives: no other context (an
 * application's VFIO or IOMMUFD file) can take it, and it is free again afterwards. */
TEST(space_owns_the_binding)
{
    struct dma_space ds;
    setup(&ds);
    struct moat_iommufd *app;
    uint32_t id;
    REQUIRE(moat_iommufd_open(&app) == 0);
    CHECK_EQ(moat_device_bind(app, &dev, &id), -EPERM);     /* another owner (iommu_device_claim_dma_owner) */
    dma_space_block(&ds);
    CHECK_EQ(iommu_dev_domain(&dev), mock_unit(0)->blocked);
    CHECK(dma_space_isolated(&ds));
    dma_space_block(&ds);                           /* idempotent */
    dma_space_fini(&ds);
    CHECK_EQ(moat_device_bind(app, &dev, &id), 0);
    struct dma_space again;
    CHECK_EQ(dma_space_init(&again, &dev, IOMMU_DOMAIN_PAGING), -EPERM);
    moat_iommufd_close(app);
    CHECK_EQ(mock_violations, 0);
}

/* Every allocation of the IOMMUFD layer failing in turn inside dma_space_init: an error, the
 * device back on its blocked domain and unbound, nothing left behind. */
TEST(space_init_fail_nth)
{
    mock_iommu_setup();
    mock_pci_dev(&dev, 0, 0, 0x20, 0);
    struct dma_space ds;
    REQUIRE(dma_space_init(&ds, &dev, IOMMU_DOMAIN_PAGING) == 0);      /* warms the caches */
    dma_space_fini(&ds);
    uint64_t free0 = pmm_free_bytes();
    size_t heap0 = heap_live_bytes();
    unsigned failures = 0;
    for (unsigned n = 1; n < 64; n++) {
        moat_iommufd_fail_nth(n);
        int err = dma_space_init(&ds, &dev, IOMMU_DOMAIN_PAGING);
        moat_iommufd_fail_nth(0);
        if (!err) {
            dma_space_fini(&ds);
            break;
        }
        failures++;
        CHECK_EQ(err, -ENOMEM);
        CHECK_EQ(iommu_dev_domain(&dev), mock_unit(0)->blocked);
        CHECK_EQ(pmm_free_bytes(), free0);
        CHECK_EQ(heap_live_bytes(), heap0);
    }
    CHECK(failures >= 3);                           /* context, device, IOAS at least */
    CHECK_EQ(pmm_free_bytes(), free0);
    CHECK_EQ(heap_live_bytes(), heap0);
    CHECK_EQ(mock_live_domains(), 0);
    CHECK_EQ(mock_violations, 0);
}

/* A device whose firmware memory must stay mapped 1:1 (an RMRR or IVMD): the runtime's context
 * cannot bind it (Linux refuses such a device to a user domain with -EINVAL), and the failed
 * space leaves nothing behind. */
static int direct_for_dev(void *ctx, struct pci_dev *d, struct iommu_resv_region *out,
                          unsigned *n, unsigned max)
{
    if (d != ctx || *n == max)
        return 0;
    out[(*n)++] = (struct iommu_resv_region){ 0x7f000000, 0x7f0fffff, IOMMU_READ | IOMMU_WRITE,
                                              IOMMU_RESV_DIRECT };
    return 0;
}

TEST(device_needing_direct_memory_is_refused)
{
    mock_iommu_setup();
    mock_pci_dev(&dev, 0, 0, 0x20, 0);
    mock_set_dev_resv(direct_for_dev, &dev);
    uint64_t heap0 = heap_live_bytes();
    struct dma_space ds;
    CHECK_EQ(dma_space_init(&ds, &dev, IOMMU_DOMAIN_PAGING), -EINVAL);
    CHECK_EQ(heap_live_bytes(), heap0);
    CHECK_EQ(mock_live_domains(), 0);
    mock_set_dev_resv(NULL, NULL);
    /* Without the range, the same device gets its space. */
    CHECK_EQ(dma_space_init(&ds, &dev, IOMMU_DOMAIN_PAGING), 0);
    dma_space_fini(&ds);
    CHECK_EQ(mock_violations, 0);
}
