/* The strict mock IOMMU (mock_iommu.h). */
#include <stdio.h>
#include <stdlib.h>

#include "iommu/iommufd/iommufd_private.h"
#include "iommu/arm-smmu-v3/nested.h"
#include "iommu/intel/nested.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/log.h"
#include "lib/string.h"
#include "tests/host/mock_iommu.h"

#define ARENA_BYTES (64ULL << 20)

#include "tests/host/pgtable/pt_test_util.h"

struct mock_domain {
    struct iommu_domain d;
    bool live, dirty;
    uint64_t mapped;
    struct iommu_viommu *viommu;    /* NESTED on a vIOMMU: its checked STE words */
    uint64_t ste[2];
};

struct mock_viommu {
    struct iommu_viommu v;
    uint16_t vmid;
    bool live;
};

struct mock_link {
    const struct pci_dev *dev;
    struct iommu_domain *d;
};

unsigned mock_violations;
struct mock_stats mock_stats;
static struct iommu_unit units[MOCK_UNITS];
static struct mock_domain blocked[MOCK_UNITS];
static unsigned live_domains;
static long long pt_pages;
static uint64_t mapped_total;
static struct mock_link links[256];
static int attach_err;
static void *arena;

#define VIOLATION(...)                                                          \
    do {                                                                        \
        mock_violations++;                                                      \
        printf("    mock violation at %s:%d: ", __FILE__, __LINE__);            \
        printf(__VA_ARGS__);                                                    \
        printf("\n");                                                           \
    } while (0)

static struct mock_domain *md(struct iommu_domain *d)
{
    return container_of(d, struct mock_domain, d);
}

static void *pt_alloc(void *ctx, size_t size, uint64_t *pa)
{
    if (moat_iommufd_should_fail())
        return NULL;
    unsigned order = 0;
    while ((4096ULL << order) < size)
        order++;
    void *p = pmm_alloc_zeroed(order, pa);
    pt_pages += p ? 1 << order : 0;
    return p;
}

static void pt_free(void *ctx, void *va, uint64_t pa, size_t size)
{
    unsigned order = 0;
    while ((4096ULL << order) < size)
        order++;
    pmm_free(pa, order);
    pt_pages -= 1 << order;
}

static void *pt_p2v(void *ctx, uint64_t pa)
{
    return phys_to_virt(pa);
}

/* Ranges unmapped but not yet invalidated, per domain: as many as the object layer gathers
 * (the contract allows any number of unmap_gather calls before one gather_sync). */
struct pending_range {
    const struct mock_domain *m;
    uint64_t start, last;
};
static struct pending_range *pending;
static unsigned nr_pending, cap_pending;

unsigned mock_pending_invalidations(void)
{
    return nr_pending;
}

void mock_unmap_log_reset(void)
{
    mock_stats.nr_unmap_log = 0;
}

static void pending_add(const struct mock_domain *m, uint64_t iova, uint64_t size)
{
    if (nr_pending == cap_pending) {
        unsigned cap = cap_pending ? cap_pending * 2 : 64;
        struct pending_range *p = realloc(pending, cap * sizeof(*p));
        if (!p) {
            VIOLATION("no memory to record %u unmaps waiting for one invalidation", cap);
            return;
        }
        pending = p;
        cap_pending = cap;
    }
    pending[nr_pending].m = m;
    pending[nr_pending].start = iova;
    pending[nr_pending].last = iova + size - 1;
    nr_pending++;
}

static bool gather_covers(const struct pgtable_gather *g, uint64_t start, uint64_t last)
{
    for (unsigned i = 0; i < g->nr_ranges; i++)
        if (g->range[i].start <= start && g->range[i].last >= last)
            return true;
    return false;
}

/* The invalidation: every pending range of this domain that the gather covers is done. */
static void pt_flush(void *ctx, const struct pgtable_gather *g)
{
    const struct mock_domain *m = ctx;
    mock_stats.flushes++;
    for (unsigned i = 0; i < nr_pending;) {
        if (pending[i].m == m && gather_covers(g, pending[i].start, pending[i].last))
            pending[i] = pending[--nr_pending];
        else
            i++;
    }
}

static void pending_check(const struct mock_domain *m, const char *when)
{
    for (unsigned i = 0; i < nr_pending; i++)
        if (pending[i].m == m)
            VIOLATION("%s returned with %#llx..%#llx not invalidated", when,
                      (unsigned long long)pending[i].start, (unsigned long long)pending[i].last);
}

static const struct pgtable_mem_ops mem_ops = { pt_alloc, pt_free, pt_p2v, NULL };
static const struct pgtable_flush_ops flush_ops = { pt_flush, NULL };

static int paging_alloc(struct iommu_unit *u, const struct iommu_domain_cfg *cfg,
                        struct mock_domain *m)
{
    struct pgtable_cfg pc = { .fmt = PGTABLE_FMT_VTD_SS, .ias = MOCK_IAS };
    if (cfg->flags & ~(IOMMU_DOMAIN_NEST_PARENT | IOMMU_DOMAIN_DIRTY_TRACKING))
        VIOLATION("paging cfg flags %#x", cfg->flags);
    int err = pgtable_init(&m->d.pt, &pc, &mem_ops, m, &flush_ops, m);
    if (err)
        return err;
    m->d.iova_last = m->d.pt.ia_last;
    return 0;
}

static int nested_alloc(struct iommu_unit *u, const struct iommu_domain_cfg *cfg,
                        struct mock_domain *m)
{
    const struct iommu_domain *p = cfg->parent;
    if (!p || !md((struct iommu_domain *)p)->live || p->type != IOMMU_DOMAIN_PAGING ||
        !(p->flags & IOMMU_DOMAIN_NEST_PARENT) || p->unit != u)
        VIOLATION("nested over a bad parent");
    if (cfg->viommu) {
        struct mock_viommu *mv = container_of(cfg->viommu, struct mock_viommu, v);
        if (!mv->live || cfg->viommu->parent != p || !cfg->nested)
            VIOLATION("nested on a dead vIOMMU, off its stage 2, or unchecked");
        const uint64_t *w = cfg->nested ? smmu_vste_words(cfg->nested) : NULL;
        if (w && ((w[0] & ~smmu_vste_allowed[0]) || (w[1] & ~smmu_vste_allowed[1])))
            VIOLATION("nested STE with fields a program may not set");
        m->viommu = cfg->viommu;
        m->ste[0] = w ? w[0] : 0;
        m->ste[1] = w ? w[1] : 0;
        return 0;
    }
    const struct vtd_s1_cfg *s1 = cfg->nested ? vtd_s1_cfg(cfg->nested) : NULL;
    if (!s1 || (s1->addr_width != 48 && s1->addr_width != 57) || (s1->fl_ptr & 4095))
        VIOLATION("nested domain without a checked stage-1 config");
    return 0;
}

static int mock_domain_alloc(struct iommu_unit *u, enum iommu_domain_type type,
                             const struct iommu_domain_cfg *cfg, struct iommu_domain **out)
{
    if (type != IOMMU_DOMAIN_PAGING && type != IOMMU_DOMAIN_NESTED)
        VIOLATION("domain type %d", type);
    if (moat_iommufd_should_fail())
        return -ENOMEM;
    struct mock_domain *m = calloc(1, sizeof(*m));
    int err = type == IOMMU_DOMAIN_PAGING ? paging_alloc(u, cfg, m) : nested_alloc(u, cfg, m);
    if (err) {
        free(m);
        return err;
    }
    m->d.flags = cfg->flags;
    m->live = true;
    live_domains++;
    *out = &m->d;
    return 0;
}

static void mock_domain_free(struct iommu_domain *d)
{
    struct mock_domain *m = md(d);
    if (!m->live || d == d->unit->blocked)
        VIOLATION("free of a dead or blocked domain");
    if (d->nr_devs)
        VIOLATION("free with %u devices attached", d->nr_devs);
    if (m->mapped)
        VIOLATION("free with %llu bytes still mapped", (unsigned long long)m->mapped);
    for (unsigned i = 0; i < ARRAY_SIZE(links); i++)
        if (links[i].dev && links[i].d == d)
            VIOLATION("free while a device is on it");
    if (d->type == IOMMU_DOMAIN_PAGING)
        pgtable_destroy(&d->pt);
    m->live = false;
    live_domains--;
    free(m);
}

static struct mock_link *link_of(const struct pci_dev *dev)
{
    for (unsigned i = 0; i < ARRAY_SIZE(links); i++)
        if (links[i].dev == dev)
            return &links[i];
    for (unsigned i = 0; i < ARRAY_SIZE(links); i++)
        if (!links[i].dev) {
            links[i].dev = dev;
            return &links[i];
        }
    abort();
}

static int mock_attach(struct iommu_domain *d, struct pci_dev *dev)
{
    mock_stats.attach_calls++;
    if (!md(d)->live)
        VIOLATION("attach to a dead domain");
    if (d->unit->serves != NULL && !d->unit->serves(d->unit, dev))
        VIOLATION("attach to a domain of another unit");
    struct mock_link *l = link_of(dev);
    if (d != d->unit->blocked && attach_err) {
        int e = attach_err;
        attach_err = 0;
        return e;
    }
    if (d != d->unit->blocked && moat_iommufd_should_fail())
        return -ENOMEM;
    l->d = d == d->unit->blocked ? NULL : d;
    if (!l->d)
        l->dev = NULL;
    return 0;
}

static bool range_ok(struct iommu_domain *d, uint64_t iova, uint64_t size)
{
    uint64_t last;
    if (!md(d)->live || d->type != IOMMU_DOMAIN_PAGING) {
        VIOLATION("map/unmap on a dead or non-paging domain");
        return false;
    }
    if (!size || !IS_ALIGNED(iova | size, 4096) || __builtin_add_overflow(iova, size - 1, &last) ||
        last > d->iova_last) {
        VIOLATION("bad range %#llx+%#llx", (unsigned long long)iova, (unsigned long long)size);
        return false;
    }
    return true;
}

static int mock_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size,
                    uint32_t prot)
{
    mock_stats.map_calls++;
    mock_stats.last_iova = iova;
    mock_stats.last_size = size;
    mock_stats.last_pa = pa;
    mock_stats.last_prot = prot;
    if (!range_ok(d, iova, size))
        return -EINVAL;
    if (!(prot & (IOMMU_READ | IOMMU_WRITE)) || (prot & ~(IOMMU_READ | IOMMU_WRITE | IOMMU_SMALL)))
        VIOLATION("prot %#x", prot);
    int err = pgtable_map(&d->pt, iova, pa, size, prot);
    if (err == -EEXIST)
        VIOLATION("map over a mapping at %#llx", (unsigned long long)iova);
    if (err)
        return err;
    md(d)->mapped += size;
    mapped_total += size;
    return 0;
}

static void unmap_logged(uint64_t iova, uint64_t size)
{
    mock_stats.unmap_calls++;
    mock_stats.last_iova = iova;
    mock_stats.last_size = size;
    if (mock_stats.nr_unmap_log < MOCK_UNMAP_LOG) {
        mock_stats.unmap_log[mock_stats.nr_unmap_log].iova = iova;
        mock_stats.unmap_log[mock_stats.nr_unmap_log].size = size;
        mock_stats.nr_unmap_log++;
    }
}

static int unmap_common(struct iommu_domain *d, uint64_t iova, uint64_t size,
                        struct pgtable_gather *g)
{
    unmap_logged(iova, size);
    if (!range_ok(d, iova, size))
        return -EINVAL;
    pending_add(md(d), iova, size);
    int err = g ? pgtable_unmap_gather(&d->pt, iova, size, 0, g)
                : pgtable_unmap(&d->pt, iova, size, 0);
    if (err) {
        nr_pending--;
        VIOLATION("unmap of %#llx+%#llx: %d", (unsigned long long)iova,
                  (unsigned long long)size, err);
        return err;
    }
    md(d)->mapped -= size;
    mapped_total -= size;
    return 0;
}

static int mock_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size)
{
    int err = unmap_common(d, iova, size, NULL);
    pending_check(md(d), "unmap");
    return err;
}

static int mock_unmap_gather(struct iommu_domain *d, uint64_t iova, uint64_t size,
                             struct pgtable_gather *g)
{
    mock_stats.gather_unmaps++;
    return unmap_common(d, iova, size, g);
}

static void mock_gather_sync(struct iommu_domain *d, struct pgtable_gather *g)
{
    mock_stats.gather_syncs++;
    if (!md(d)->live || d->type != IOMMU_DOMAIN_PAGING)
        VIOLATION("gather_sync on a dead or non-paging domain");
    pgtable_gather_sync(&d->pt, g);
    pending_check(md(d), "gather_sync");
}

static int mock_hw_info(struct iommu_unit *u, void *buf, size_t len, uint32_t *type)
{
    struct iommu_hw_info_vtd v = { .cap_reg = 0xd2008c40660462ULL, .ecap_reg = 0xf050da };
    if (len < sizeof(v))
        return -ENOSPC;
    memcpy(buf, &v, sizeof(v));
    *type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    return sizeof(v);
}

static int mock_set_dirty(struct iommu_domain *d, bool enable)
{
    if (!md(d)->live || !(d->flags & IOMMU_DOMAIN_DIRTY_TRACKING))
        VIOLATION("dirty tracking on a domain without it");
    md(d)->dirty = enable;
    return 0;
}

/* The hardware half of a stage-1 invalidation: only checked entries may arrive. */
static int mock_s1_flush(struct iommu_domain *d, const struct vtd_s1_inv *inv)
{
    mock_stats.inv_calls++;
    if ((inv->addr & 4095) || (inv->npages == UINT64_MAX && inv->addr))
        VIOLATION("unchecked invalidation entry");
    return 0;
}

/* The mock takes VT-d stage-1 data: the VT-d driver's own parser and entry checks. */
static int mock_cache_inv(struct iommu_domain *d, struct iommu_user_array *a)
{
    if (!md(d)->live || d->type != IOMMU_DOMAIN_NESTED)
        VIOLATION("user invalidation on a bad domain");
    return vtd_nested_invalidate_user(d, a, mock_s1_flush);
}

/* ---- the vIOMMU: an Arm SMMUv3 one, through the SMMUv3 driver's nesting code ---- */

static unsigned live_viommus;
static uint16_t next_vmid = 1;
static int issue_err;

static uint32_t mock_sid_of(void *ctx, const struct pci_dev *dev)
{
    return (uint32_t)dev->bus << 8 | dev->devfn;
}

static int mock_issue(void *ctx, const uint64_t (*cmds)[2], uint32_t n)
{
    mock_stats.issue_calls++;
    if (issue_err) {
        int e = issue_err;
        issue_err = 0;
        return e;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (mock_stats.nr_cmds < MOCK_CMD_LOG) {
            mock_stats.cmds[mock_stats.nr_cmds][0] = cmds[i][0];
            mock_stats.cmds[mock_stats.nr_cmds][1] = cmds[i][1];
        }
        mock_stats.nr_cmds++;
    }
    return 0;
}

static struct mock_viommu *mvi(struct iommu_viommu *v)
{
    return container_of(v, struct mock_viommu, v);
}

static void mock_viommu_free(struct iommu_viommu *v)
{
    if (!mvi(v)->live || v->vdevs)
        VIOLATION("free of a dead vIOMMU or one with vDEVICEs");
    mvi(v)->live = false;
    live_viommus--;
    free(mvi(v));
}

static int mock_viommu_parse(struct iommu_viommu *v, const struct iommu_user_data *data,
                             struct iommu_nested_cfg *out)
{
    if (!mvi(v)->live)
        VIOLATION("parse on a dead vIOMMU");
    return smmu_vste_parse(data, out);
}

static int mock_viommu_inv(struct iommu_viommu *v, struct iommu_user_array *a)
{
    static const struct smmu_vcmd_sink sink = { mock_sid_of, mock_issue, NULL };
    if (!mvi(v)->live)
        VIOLATION("invalidation on a dead vIOMMU");
    return smmu_viommu_invalidate(v, mvi(v)->vmid, &sink, a);
}

static const struct iommu_viommu_ops mock_viommu_ops = {
    .free = mock_viommu_free,
    .nested_parse = mock_viommu_parse,
    .cache_invalidate = mock_viommu_inv,
};

static int mock_viommu_alloc(struct iommu_unit *u, struct iommu_domain *parent, uint32_t type,
                             struct iommu_viommu **out)
{
    if (type != IOMMU_VIOMMU_TYPE_ARM_SMMUV3)
        return -EOPNOTSUPP;
    if (parent->unit != u)
        return -EINVAL;
    if (!md(parent)->live || parent->type != IOMMU_DOMAIN_PAGING ||
        !(parent->flags & IOMMU_DOMAIN_NEST_PARENT))
        VIOLATION("vIOMMU over a bad parent");
    if (moat_iommufd_should_fail())
        return -ENOMEM;
    struct mock_viommu *mv = calloc(1, sizeof(*mv));
    mv->v.ops = &mock_viommu_ops;
    mv->vmid = next_vmid++;
    mv->live = true;
    live_viommus++;
    *out = &mv->v;
    return 0;
}

unsigned mock_live_viommus(void)
{
    return live_viommus;
}

uint16_t mock_viommu_vmid(const struct iommu_viommu *v)
{
    return container_of(v, struct mock_viommu, v)->vmid;
}

void mock_fail_issue(int err)
{
    issue_err = err;
}

void mock_cmd_log_reset(void)
{
    mock_stats.nr_cmds = 0;
    mock_stats.issue_calls = 0;
}

const uint64_t *mock_nested_ste(struct iommu_domain *d)
{
    return d && d->type == IOMMU_DOMAIN_NESTED && md(d)->viommu ? md(d)->ste : NULL;
}

int mock_smmu_event(struct pci_dev *dev, const uint64_t evt[4])
{
    for (unsigned i = 0; i < ARRAY_SIZE(links); i++) {
        struct iommu_domain *d = links[i].d;
        if (links[i].dev == dev && d && d->type == IOMMU_DOMAIN_NESTED && md(d)->viommu)
            return smmu_vevent_forward(md(d)->viommu, dev, evt);
    }
    return -EOPNOTSUPP;
}

/* Reserved regions: the unit's list (every device), then the test's per-device hook. */
static struct iommu_resv_region unit_resv[MOCK_UNITS][IOMMU_MAX_RESV];
static unsigned nr_unit_resv[MOCK_UNITS];
static mock_dev_resv_fn dev_resv_fn;
static void *dev_resv_ctx;

static int mock_resv_regions(struct iommu_unit *u, struct pci_dev *dev,
                             struct iommu_resv_region *out, unsigned max)
{
    int i = u->seg;
    if (!u->serves(u, dev))
        VIOLATION("resv_regions for a device the unit does not serve");
    unsigned n = 0;
    for (; n < nr_unit_resv[i]; n++) {
        if (n == max)
            return -ENOSPC;
        out[n] = unit_resv[i][n];
    }
    int err = dev_resv_fn ? dev_resv_fn(dev_resv_ctx, dev, out, &n, max) : 0;
    return err ? err : (int)n;
}

static const struct iommu_unit_ops mock_ops = {
    .vendor = "mock",
    .domain_alloc = mock_domain_alloc,
    .domain_free = mock_domain_free,
    .attach_dev = mock_attach,
    .map = mock_map,
    .unmap = mock_unmap,
    .unmap_gather = mock_unmap_gather,
    .gather_sync = mock_gather_sync,
    .hw_info = mock_hw_info,
    .set_dirty_tracking = mock_set_dirty,
    .nested_parse = vtd_nested_parse,
    .cache_invalidate_user = mock_cache_inv,
    .viommu_alloc = mock_viommu_alloc,
    .resv_regions = mock_resv_regions,
};

/* Unit 1: the same without nested support (no nested_parse, no user invalidation). */
static const struct iommu_unit_ops mock_plain_ops = {
    .vendor = "mock",
    .domain_alloc = mock_domain_alloc,
    .domain_free = mock_domain_free,
    .attach_dev = mock_attach,
    .map = mock_map,
    .unmap = mock_unmap,
    .hw_info = mock_hw_info,
    .set_dirty_tracking = mock_set_dirty,
    .resv_regions = mock_resv_regions,
};

static bool mock_serves(struct iommu_unit *u, const struct pci_dev *dev)
{
    return dev->seg == u->seg;
}

void mock_iommu_setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    arena = aligned_alloc(2u << 20, ARENA_BYTES);
    pmm_reset();
    heap_reset();
    MOAT_ASSERT(pmm_add_region((uint64_t)(uintptr_t)arena, ARENA_BYTES) == 0);
    for (int i = 0; i < MOCK_UNITS; i++) {
        struct iommu_unit *u = &units[i];
        u->ops = i ? &mock_plain_ops : &mock_ops;
        u->name = i ? "mock1" : "mock0";
        u->seg = (uint16_t)i;
        u->pgsize_bitmap = PGTABLE_SZ_4K | PGTABLE_SZ_2M | PGTABLE_SZ_1G;
        u->ias = MOCK_IAS;
        blocked[i].d.unit = u;
        blocked[i].d.type = IOMMU_DOMAIN_BLOCKED;
        blocked[i].live = true;
        u->blocked = &blocked[i].d;
        u->serves = mock_serves;
        iommu_register_unit(u);
    }
    struct iommu_resv_region msi = { MOCK_MSI_START, MOCK_MSI_LAST, 0, IOMMU_RESV_MSI };
    mock_set_resv(0, &msi, 1);
}

struct iommu_unit *mock_unit(int i)
{
    return &units[i];
}

void mock_set_resv(int i, const struct iommu_resv_region *r, unsigned n)
{
    MOAT_ASSERT(n <= IOMMU_MAX_RESV);
    nr_unit_resv[i] = n;
    for (unsigned k = 0; k < n; k++)
        unit_resv[i][k] = r[k];
}

void mock_set_dev_resv(mock_dev_resv_fn fn, void *ctx)
{
    dev_resv_fn = fn;
    dev_resv_ctx = ctx;
}

unsigned mock_live_domains(void)
{
    return live_domains;
}

long long mock_pt_pages(void)
{
    return pt_pages;
}

uint64_t mock_mapped_bytes(void)
{
    return mapped_total;
}

unsigned mock_attached_devs(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < ARRAY_SIZE(links); i++)
        n += links[i].dev && links[i].d;
    return n;
}

void mock_fail_attach(int err)
{
    attach_err = err;
}

bool mock_dirty_enabled(const struct iommu_domain *d)
{
    return container_of(d, struct mock_domain, d)->dirty;
}

void mock_dma_write(struct iommu_domain *d, uint64_t iova)
{
    pt_test_set_dirty(&d->pt, iova);
}

void mock_pci_dev(struct pci_dev *p, uint16_t seg, uint8_t bus, uint8_t devfn, int group)
{
    memset(p, 0, sizeof(*p));
    p->seg = seg;
    p->bus = bus;
    p->devfn = devfn;
    p->group = group;
}
