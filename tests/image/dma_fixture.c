#include "tests/image/dma_fixture.h"
#include "drivers/edu/edu.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/string.h"
#include "pci/pci_platform.h"

struct iommu_fault last_fault;
volatile unsigned nr_captured;
volatile unsigned irq_hits;

void capture_fault(struct iommu_domain *d, const struct iommu_fault *f, void *ctx)
{
    last_fault = *f;
    nr_captured++;
}

void capture_on(struct iommu_domain *d)
{
    nr_captured = 0;
    memset(&last_fault, 0, sizeof(last_fault));
    d->fault_fn = capture_fault;
    d->fault_ctx = NULL;
}

/* Static: the image sits low in RAM, so these pages are below the edu's 28-bit DMA mask and
 * their physical address can double as an IOVA that must not reach them. */
static uint8_t fixture_pages[4 * 4096] __aligned(4096);

uint8_t *dma_fixture_pages(uint64_t *pa)
{
    *pa = virt_to_phys(fixture_pages);
    memset(fixture_pages, DMA_CANARY, sizeof(fixture_pages));
    return fixture_pages;
}

bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

void sort_u64(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
}

int dma_load_device_buffer(struct edu_dev *e, struct iommu_domain *d, uint64_t iova,
                           uint8_t seed)
{
    uint64_t src_pa;
    uint8_t *src = pmm_alloc_zeroed(0, &src_pa);
    if (!src)
        return -ENOMEM;
    fill_pattern(src, 4096, seed);
    int err = iommu_map(d, iova, src_pa, 4096, IOMMU_READ);
    if (!err) {
        err = edu_dma(e, false, iova, 0, 4096);
        iommu_unmap(d, iova, 4096);
    }
    pmm_free(src_pa, 0);
    return err;
}

void edu_irq(unsigned vector, void *ctx)
{
    struct edu_dev *e = ctx;
    irq_hits++;
    edu_ack_irq(e, edu_irq_status(e));
}

bool raise_with(struct edu_dev *e, const struct msi_msg *m)
{
    irq_hits = 0;
    if (msi_enable(platform_pci(), e->pci, m))
        return false;
    edu_raise_irq(e, 1);
    bool got = poll_until(irq_hits > 0, 300 * NSEC_PER_MSEC) == 0;
    edu_ack_irq(e, 1);
    return got;
}
