/* SR-IOV at run time (pci_sriov_set_numvfs, what a write of sriov_numvfs does) on a real PF:
 * QEMU's igb on tests/topologies/igb.txt, booted without sriov_numvfs=max so that its VFs are
 * off as on Linux. VFs come up enumerated, answering, grouped and in their unit's blocking
 * domain; a held VF keeps them all (EBUSY); disabling takes them out of the tree; cycles give
 * back every heap byte and page; a reset of the PF keeps its VFs (Linux's sriov_restore_state). */
#include "iommu/iommu.h"
#include "kernel/ktest.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "pci/pci_platform.h"

#define IGB_VENDOR 0x8086
#define IGB_PF 0x10c9

static struct pci_dev *igb_pf(struct ktest *t)
{
    struct pci_dev *pf = pci_get_dev_by_id(platform_pci(), IGB_VENDOR, IGB_PF, NULL);
    if (!pf || !pf->caps.sriov || !pf->total_vfs) {
        ktest_skip(t, "no igb PF with SR-IOV (tests/topologies/igb.txt has one)");
        return NULL;
    }
    if (pf->num_vfs) {
        ktest_skip(t, "VFs enabled at boot (sriov_numvfs=max)");
        return NULL;
    }
    return pf;
}

/* Live VFs of pf, each answering, grouped and (no driver) in its unit's blocking domain. */
static unsigned check_vfs(struct ktest *t, struct pci_dev *pf)
{
    struct pci_system *sys = platform_pci();
    uint32_t idx = pci_dev_index(sys, pf);
    unsigned n = 0;
    for (uint32_t i = 0; i < sys->ndevs; i++) {
        struct pci_dev *vf = &sys->devs[i];
        if (vf->gone || !vf->is_virtfn || vf->physfn != idx)
            continue;
        n++;
        KEXPECT(t, pci_read16(sys, vf, PCI_COMMAND) != 0xffff);
        KEXPECT_EQ(t, pci_read32(sys, vf, PCI_CLASS_REVISION) >> 8, pf->class_rev >> 8);
        KEXPECT(t, vf->group != PCI_NO_GROUP);
        struct iommu_unit *u = iommu_unit_for(vf);
        KEXPECT(t, u != NULL);
        if (u && !vf->driver)
            KEXPECT(t, iommu_dev_domain(vf) == u->blocked);
    }
    return n;
}

static const struct pci_dev *held_vf;

static bool test_held(const struct pci_dev *dev)
{
    return dev == held_vf;
}

static void test_request(struct pci_dev *dev, unsigned count)
{
}

static void test_leaving(struct pci_dev *dev)
{
}

static const struct pci_hotplug_holder test_holder = { test_held, test_request, test_leaving };

static void numvfs_at_run_time(struct ktest *t)
{
    struct pci_system *sys = platform_pci();
    struct pci_dev *pf = igb_pf(t);
    if (!pf)
        return;
    const struct pci_hotplug_holder *saved = sys->holder;
    sys->holder = &test_holder;
    uint32_t ndevs = sys->ndevs;
    unsigned groups = sys->ngroups;
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, pf->total_vfs + 1u), -ERANGE);
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, 3), 3);
    KEXPECT_EQ(t, pf->num_vfs, 3);
    KEXPECT_EQ(t, check_vfs(t, pf), 3u);
    KEXPECT_EQ(t, sys->ndevs, ndevs + 3);
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, 2), -EBUSY);
    held_vf = &sys->devs[ndevs + 1];
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, 0), -EBUSY);
    KEXPECT_EQ(t, check_vfs(t, pf), 3u);
    held_vf = NULL;
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, 0), 0);
    KEXPECT_EQ(t, pf->num_vfs, 0);
    KEXPECT_EQ(t, check_vfs(t, pf), 0u);
    KEXPECT_EQ(t, sys->ndevs, ndevs);
    KEXPECT_EQ(t, pci_read16(sys, pf, pf->caps.sriov + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE, 0);

    /* a first cycle with every VF, then the counts that later cycles must give back */
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, pf->total_vfs), pf->total_vfs);
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, 0), 0);
    size_t heap0 = heap_live_bytes();
    uint64_t pmm0 = pmm_free_bytes();
    for (unsigned i = 0; i < 5; i++) {
        KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, pf->total_vfs), pf->total_vfs);
        KEXPECT_EQ(t, check_vfs(t, pf), pf->total_vfs);
        KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, 0), 0);
    }
    KEXPECT_EQ(t, heap_live_bytes(), heap0);
    KEXPECT_EQ(t, pmm_free_bytes(), pmm0);
    KEXPECT_EQ(t, sys->ndevs, ndevs);
    KEXPECT_EQ(t, sys->ngroups, groups + pf->total_vfs);   /* numbers handed out once, reused */
    sys->holder = saved;
    kprintf("sriov: %u VFs enabled and disabled at run time, heap and pages back\n",
            (unsigned)pf->total_vfs);
}

/* A Function Level Reset of the PF clears VF Enable; the reset restores it, so the VFs still
 * answer afterwards (as the first open of a PF through VFIO resets it). */
static void pf_reset_keeps_vfs(struct ktest *t)
{
    struct pci_system *sys = platform_pci();
    struct pci_dev *pf = igb_pf(t);
    if (!pf)
        return;
    if (!pci_reset_supported(sys, pf)) {
        ktest_skip(t, "this PF cannot be reset");
        return;
    }
    KASSERT(t, pci_sriov_set_numvfs(pf, 2) == 2);
    KEXPECT_EQ(t, pci_reset_function(sys, pf), 0);
    KEXPECT(t, pci_read16(sys, pf, pf->caps.sriov + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE);
    KEXPECT_EQ(t, pci_read16(sys, pf, pf->caps.sriov + PCI_SRIOV_NUM_VF), 2);
    KEXPECT_EQ(t, check_vfs(t, pf), 2u);
    KEXPECT_EQ(t, pci_sriov_set_numvfs(pf, 0), 0);
}

KTEST_SUITE_EXPLICIT(sriov, KTEST_CASE(numvfs_at_run_time), KTEST_CASE(pf_reset_keeps_vfs));
