/* MSIs through the GICv3 ITS: the message writes the function's event ID to GITS_TRANSLATER;
 * the ITS looks up (DeviceID, event) and raises the LPI the vector names. The DeviceID is the
 * requester ID through the host bridge's msi-map (identity without one). Behind an IOMMU that
 * translates MSIs, the address is the doorbell's IOVA (the hook the IOMMU core registers). */
#include "arch/aarch64/gic.h"
#include "arch/aarch64/platform.h"
#include "arch/aarch64/msi.h"
#include "lib/errno.h"
#include "pci/pci.h"

static msi_address_fn address_hook;

void msi_set_address_hook(msi_address_fn fn)
{
    address_hook = fn;
}

static int device_id(const struct pci_dev *dev, uint32_t *devid)
{
    const struct dt_platform *dt = platform_dt();
    uint32_t rid = (uint32_t)dev->bus << 8 | dev->devfn, phandle;
    if (!dt->pcie.nr_msi_map) {
        *devid = rid;
        return 0;
    }
    if (!dt_map_id(dt->pcie.msi_map, dt->pcie.nr_msi_map, rid, &phandle, devid))
        return -ENODEV;         /* msi-map leaves this requester without MSIs */
    return phandle == dt->gic.its.phandle ? 0 : -ENODEV;
}

int msi_compose(struct pci_dev *dev, unsigned vector, struct msi_msg *m)
{
    uint32_t devid, event;
    uint64_t doorbell;
    int err = gic_its_doorbell(&doorbell);
    if (!err)
        err = device_id(dev, &devid);
    if (!err)
        err = gic_its_map_event(devid, vector, &event);
    if (err)
        return err;
    m->addr = address_hook ? address_hook(dev, doorbell) : doorbell;
    m->data = event;
    return 0;
}

void msi_free(struct pci_dev *dev, const struct msi_msg *m)
{
    uint32_t devid;
    if (m->addr && device_id(dev, &devid) == 0)
        gic_its_unmap_event(devid, m->data);
}
