/* The VFIO face (iommu/vfio/) on the host: the image services it stands on, modelled — the PCI
 * system is api_devs with a configuration-space array each, CPU addresses translate to
 * themselves, BARs are host buffers, interrupt vectors and MSI messages are only counted. */
#ifndef MOAT_TESTS_HOST_API_VFIO_HOST_H
#define MOAT_TESTS_HOST_API_VFIO_HOST_H

#include "tests/host/api/api_util.h"

/* api_devs[VH_EDU] is conventional PCI like QEMU's edu: a 1 MiB BAR0, INTx pin A, one MSI
 * vector. api_devs[VH_NVME] is PCIe like QEMU's nvme: BAR0 16 KiB holding the MSI-X table
 * (64 entries), FLR. Both are alone in their groups. */
#define VH_EDU 2
#define VH_NVME 3
#define VH_EDU_GROUP 2
#define VH_NVME_GROUP 3
#define VH_EDU_BDF "0000:00:02.0"
#define VH_NVME_BDF "0000:00:03.0"
#define VH_EDU_CDEV "/dev/vfio/devices/vfio2"
#define VH_NVME_CDEV "/dev/vfio/devices/vfio3"

/* SR-IOV (vh_sriov_setup): api_devs[VH_PF] (0001:01:00.0, group 10, TotalVFs 2) is a PF and
 * api_devs[VH_VF] (0001:01:02.0, group 20) the one VF the model makes: enabling N VFs (the
 * runtime's pci_sriov_set_numvfs, modelled) brings it, disabling takes it away. */
#define VH_PF 4
#define VH_VF 5
#define VH_PF_GROUP 10
#define VH_VF_GROUP 20
#define VH_PF_BDF "0001:01:00.0"
#define VH_VF_BDF "0001:01:02.0"
#define VH_PF_CDEV "/dev/vfio/devices/vfio4"
#define VH_VF_CDEV "/dev/vfio/devices/vfio5"
extern unsigned vh_sriov_calls;         /* pci_sriov_set_numvfs calls that changed something */

extern uint8_t vh_cfg[NDEVS][4096];
extern int vh_live_vectors;

/* api_setup plus the devices above and the face's device nodes; the baseline for API_CLEAN is
 * taken after the face's once-only allocations. */
void vh_setup(struct api_base *b);
/* After vh_setup: the PF and its (not yet enabled) VF, the face's token state for the PF gone
 * (as when a PF leaves). */
void vh_sriov_setup(void);

#endif
