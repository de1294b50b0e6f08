/* What the vendors' in-image DMA suites (test_vtd.c, test_amdvi.c, test_smmu.c) share: one
 * fixture (struct dma_case_env), fault capture through a domain's fault_fn, the edu's
 * interrupt through a given MSI message, canary pages, byte patterns, and loading the edu's
 * buffer through a mapping. Vendor-neutral: iommu/iommu.h only. */
#ifndef MOAT_TESTS_IMAGE_DMA_FIXTURE_H
#define MOAT_TESTS_IMAGE_DMA_FIXTURE_H

#include "arch/msi.h"
#include "iommu/iommu.h"
#include "kernel/ktest.h"
#include "lib/compiler.h"

struct edu_dev;

#define DMA_CANARY 0xc5

/* The last fault record delivered to a domain armed with capture_on, and how many came. */
extern struct iommu_fault last_fault;
extern volatile unsigned nr_captured;
void capture_fault(struct iommu_domain *d, const struct iommu_fault *f, void *ctx);
void capture_on(struct iommu_domain *d);

/* Four static pages (canary, target, target, canary) below the edu's 28-bit DMA mask, filled
 * with DMA_CANARY; *pa is their physical address. */
uint8_t *dma_fixture_pages(uint64_t *pa);

bool all_bytes(const uint8_t *p, size_t n, uint8_t v);
void fill_pattern(uint8_t *p, size_t n, uint8_t seed);
void sort_u64(uint64_t *v, unsigned n);

/* Loads the edu's 4 KiB buffer with fill_pattern(seed) by a DMA read through a temporary
 * read-only mapping at iova in d. */
int dma_load_device_buffer(struct edu_dev *e, struct iommu_domain *d, uint64_t iova,
                           uint8_t seed);

/* The edu's interrupt: edu_irq is the handler to install (ctx: the edu), raise_with programs m
 * into the device's MSI capability, raises, and reports whether it arrived. */
extern volatile unsigned irq_hits;
void edu_irq(unsigned vector, void *ctx);
bool raise_with(struct edu_dev *e, const struct msi_msg *m);

#endif

/* ---- DMA isolation cases every vendor's suite runs ---- */

#define DMA_CASE_IOVA_BASE 0x100000ULL

/* A case's fixture, in the shared cases and the vendors' own: the edu, its domain and the
 * canary pages; the unit is env->d->unit. */
struct dma_case_env {
    struct edu_dev *e;
    struct iommu_domain *d;         /* the edu's paging domain */
    uint8_t *pages;                 /* canary, target, target, canary */
    uint64_t pa;
};

/* What differs between vendors: finding the device behind one of their units, and what a
 * blocked write must leave behind (a fault record where the unit writes one; canaries always). */
struct dma_vendor {
    bool (*get)(struct ktest *t, struct dma_case_env *env);
    void (*blocked_write)(struct ktest *t, const struct dma_case_env *env, uint64_t iova);
    /* Completion waits the unit has done so far; batch_waits: how many one gathered batch of
     * unmaps must cost (1), or 0 when the unit waits per invalidation (a register interface). */
    uint64_t (*nr_waits)(const struct dma_case_env *env);
    unsigned (*batch_waits)(const struct dma_case_env *env);
    /* The second domain of replace_no_stale_translation (NULL: a default paging domain). */
    const struct iommu_domain_cfg *replace_cfg;
    /* Makes the unit's n-th allocation from now fail (0: none); NULL: no fail-nth case. */
    void (*fail_nth)(unsigned n);
    /* The waits a map may cost (a unit that caches non-present entries invalidates after a
     * map); NULL: none. */
    unsigned (*map_waits)(const struct dma_case_env *env);
};

/* The edu numbered dev with its paging domain and the canary pages; skips the case (with
 * skip_reason) when there is no such device or no unit of the suite's vendor. */
bool dma_env_get(struct ktest *t, unsigned dev, bool have_unit, const char *skip_reason,
                 struct dma_case_env *env);
/* Disarms fault capture on the case's domain. */
void dma_env_put(struct dma_case_env *env);
/* Loads the edu's buffer with fill_pattern(seed) through a temporary mapping at
 * DMA_CASE_IOVA_BASE + 0x80000 (dma_load_device_buffer). */
int dma_env_load(const struct dma_case_env *env, uint8_t seed);

void dma_case_dma_both_directions(struct ktest *t, const struct dma_vendor *v);
void dma_case_unmapped_iova_blocked(struct ktest *t, const struct dma_vendor *v);
void dma_case_other_domain_iova_blocked(struct ktest *t, const struct dma_vendor *v);
void dma_case_just_unmapped_iova_blocked(struct ktest *t, const struct dma_vendor *v);
void dma_case_read_only_blocks_writes(struct ktest *t, const struct dma_vendor *v);
void dma_case_one_wait_per_batch(struct ktest *t, const struct dma_vendor *v);
void dma_case_replace_no_stale_translation(struct ktest *t, const struct dma_vendor *v);
void dma_case_one_wait_per_operation(struct ktest *t, const struct dma_vendor *v);
void dma_case_identity_domain_on_request(struct ktest *t, const struct dma_vendor *v);
void dma_case_fail_nth_allocation(struct ktest *t, const struct dma_vendor *v);

/* Defines the suite-local case `name` running the shared one with vendor v. */
#define DMA_VENDOR_CASE(name, v)                                                        \
    static void name(struct ktest *t)                                                   \
    {                                                                                   \
        dma_case_##name(t, v);                                                          \
    }

/* Defines the shared cases every vendor runs as suite-local cases with vendor v; a vendor that
 * also runs replace_no_stale_translation or fail_nth_allocation adds it with DMA_VENDOR_CASE. */
#define DMA_VENDOR_CASES(v)                                                             \
    DMA_VENDOR_CASE(dma_both_directions, v)                                             \
    DMA_VENDOR_CASE(identity_domain_on_request, v)                                      \
    DMA_VENDOR_CASE(unmapped_iova_blocked, v)                                           \
    DMA_VENDOR_CASE(other_domain_iova_blocked, v)                                       \
    DMA_VENDOR_CASE(just_unmapped_iova_blocked, v)                                      \
    DMA_VENDOR_CASE(read_only_blocks_writes, v)                                         \
    DMA_VENDOR_CASE(one_wait_per_batch, v)                                              \
    DMA_VENDOR_CASE(one_wait_per_operation, v)
