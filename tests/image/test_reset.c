/* Resetting a function while its DMA is mapped (pci_reset_function): the edu below its own
 * root port has no FLR and is reset by a secondary bus reset; an NVMe controller by FLR. The
 * configuration comes back (BARs, decode, bus mastering), the domain's mappings are untouched
 * and still work, nothing outside them is written, and an unmapped IOVA still faults.
 * Topology: tests/topologies/10-hotplug.txt (edu at 02:00.0); the NVMe case needs an NVMe
 * controller on a disk that keeps data (tools/hotplug-disks.sh with
 * "-- -device nvme,bus=pcie.0,addr=0x9,drive=hpd,serial=r"). */
#include "arch/arch.h"
#include "drivers/dma/blk.h"
#include "drivers/edu/edu.h"
#include "iommu/iommu.h"
#include "kernel/ktest.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/string.h"
#include "pci/pci_platform.h"
#include "tests/image/test_blk.h"

#define RS_PAGE 4096u
#define RS_CANARY 0xa7

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static struct edu_dev *edu_alone_below_a_port(struct pci_system *sys)
{
    for (unsigned i = 0; i < edu_count(); i++) {
        struct edu_dev *e = edu_get(i);
        if (e && e->domain && !e->pci->flr && pci_reset_supported(sys, e->pci))
            return e;
    }
    return NULL;
}

/* Memory -> device -> memory through m, the bytes checked. */
static void edu_roundtrip(struct ktest *t, struct edu_dev *e, uint8_t *page, uint64_t iova,
                          uint8_t seed)
{
    for (unsigned i = 0; i < RS_PAGE; i++)
        page[i] = (uint8_t)(i * 3 + seed);
    KEXPECT_EQ(t, edu_dma(e, false, iova, 0, RS_PAGE), 0);
    memset(page, 0, RS_PAGE);
    KEXPECT_EQ(t, edu_dma(e, true, iova, 0, RS_PAGE), 0);
    bool same = true;
    for (unsigned i = 0; i < RS_PAGE; i++)
        same &= page[i] == (uint8_t)(i * 3 + seed);
    KEXPECT(t, same);
}

static void sbr_with_dma_mapped(struct ktest *t)
{
    struct pci_system *sys = platform_pci();
    struct edu_dev *e = sys ? edu_alone_below_a_port(sys) : NULL;
    if (!e) {
        ktest_skip(t, "no edu alone below a bridge (tests/topologies/10-hotplug.txt has one)");
        return;
    }
    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(2, &pa);
    KASSERT(t, buf);
    memset(buf, RS_CANARY, 4 * RS_PAGE);
    struct dma_map m;
    KASSERT(t, dma_map(&e->dma, buf + RS_PAGE, RS_PAGE, IOMMU_READ | IOMMU_WRITE, &m) == 0);
    edu_roundtrip(t, e, buf + RS_PAGE, m.iova, 1);
    uint32_t bar0 = pci_read32(sys, e->pci, PCI_BASE_ADDRESS_0);
    uint16_t cmd = pci_read16(sys, e->pci, PCI_COMMAND);

    KEXPECT_EQ(t, pci_reset_function(sys, e->pci), 0);
    KEXPECT_EQ(t, pci_read32(sys, e->pci, PCI_BASE_ADDRESS_0), bar0);
    KEXPECT_EQ(t, pci_read16(sys, e->pci, PCI_COMMAND), cmd);
    KEXPECT(t, edu_alive(e));
    edu_roundtrip(t, e, buf + RS_PAGE, m.iova, 2);      /* the mapping outlived the reset */
    uint64_t faults = iommu_fault_count();
    KEXPECT_EQ(t, edu_dma(e, true, m.iova + 16 * RS_PAGE, 0, RS_PAGE), 0);   /* unmapped */
    bool recorded = poll_until(iommu_fault_count() > faults,
                               e->domain->unit->silent_aborts ? 200 * NSEC_PER_MSEC :
                                                                 5 * NSEC_PER_SEC) == 0;
    if (!e->domain->unit->silent_aborts)
        KEXPECT(t, recorded);
    KEXPECT(t, all(buf, RS_PAGE, RS_CANARY) && all(buf + 2 * RS_PAGE, 2 * RS_PAGE, RS_CANARY));
    KEXPECT_EQ(t, dma_unmap(&e->dma, &m), 0);
    pmm_free(pa, 2);
}

/* FLR of a controller whose queues and pool are mapped; brought up again, data checked. */
static void flr_nvme_with_io_mapped(struct ktest *t)
{
    struct pci_system *sys = platform_pci();
    struct blk_dev *b = test_blk_dev(t, TEST_NVME);
    if (!b)
        return;
    if (!b->pci->flr) {
        ktest_skip(t, "this NVMe controller has no FLR");
        return;
    }
    uint64_t pa;
    uint8_t *buf = pmm_alloc_zeroed(0, &pa);
    KASSERT(t, buf);
    uint32_t nlb = RS_PAGE / b->lba_size, spl = b->lba_size / 512;
    test_blk_pattern(buf, 8 * spl, nlb * spl, 77);
    KEXPECT_EQ(t, blk_write(b, 8, nlb, buf), 0);
    uint32_t bar0 = pci_read32(sys, b->pci, PCI_BASE_ADDRESS_0);
    KEXPECT_EQ(t, pci_reset_function(sys, b->pci), 0);
    KEXPECT_EQ(t, pci_read32(sys, b->pci, PCI_BASE_ADDRESS_0), bar0);
    KASSERT(t, blk_dev_rebind(b, IOMMU_DOMAIN_PAGING) == 0);
    memset(buf, 0, RS_PAGE);
    KEXPECT_EQ(t, blk_read(b, 8, nlb, buf), 0);
    KEXPECT_EQ(t, test_blk_pattern_check(buf, 8 * spl, nlb * spl, 77), UINT64_MAX);
    pmm_free(pa, 0);
}

KTEST_SUITE_EXPLICIT(reset, KTEST_CASE(sbr_with_dma_mapped), KTEST_CASE(flr_nvme_with_io_mapped));
