/* Resetting one function with its configuration kept, as Linux's pci_reset_function: what the
 * runtime and the driver set up (command, BARs, interrupt line, PCIe device and link control,
 * and a PF's SR-IOV control and VF BARs) is saved, the function is reset by Function Level
 * Reset (PCIe 6.0 §6.6.2) or, when it has none and is the only function below its bridge, by a
 * secondary bus reset (§7.5.1.3.13), and then restored. Its IOMMU domain is not touched:
 * mappings stay, the device is still translated (and blocked outside them) while it resets and
 * afterwards. Only endpoints. */
#include "pci/pci_internal.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define PCI_FLR_WAIT_US 100000      /* §6.6.2: 100 ms before the first request after FLR */
#define PCI_SBR_HOLD_US 2000        /* Linux holds Secondary Bus Reset for 2 ms */
#define PCI_SBR_WAIT_US 100000      /* then, as after any conventional reset, 100 ms */
#define PCI_READY_TRIES 1000        /* then up to 1 s (1 ms steps) until the ID reads back */

struct pci_saved_state {
    uint32_t bar[PCI_STD_NUM_BARS];
    uint16_t command, devctl, devctl2, lnkctl;
    uint8_t intline;
    /* a PF: its SR-IOV control, as Linux's sriov_save_state (a reset clears VF Enable, and
     * every VF with it) */
    uint32_t vf_bar[PCI_SRIOV_NUM_BARS], sys_pgsize;
    uint16_t sriov_ctrl, num_vfs;
};

static void pci_wait_us(struct pci_system *sys, unsigned us)
{
    if (sys->ops->delay_us)
        sys->ops->delay_us(sys->ctx, us);
}

/* The bridge whose secondary bus reset reaches dev and nothing else. */
static struct pci_dev *pci_reset_bridge(struct pci_system *sys, struct pci_dev *dev)
{
    struct pci_dev *up = pci_parent(sys, dev);
    if (!up || dev->multifunction || dev->is_virtfn)
        return NULL;
    return up->first_child == pci_dev_index(sys, dev) && dev->next_sibling == PCI_NONE ? up : NULL;
}

bool pci_reset_supported(struct pci_system *sys, struct pci_dev *dev)
{
    return dev->hdr_type == PCI_HEADER_TYPE_NORMAL && !dev->gone &&
           ((dev->flr && dev->caps.exp) || pci_reset_bridge(sys, dev));
}

static void pci_save(struct pci_system *sys, struct pci_dev *dev, struct pci_saved_state *s)
{
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
        s->bar[i] = pci_read32(sys, dev, (uint16_t)(PCI_BASE_ADDRESS_0 + 4 * i));
    s->command = pci_read16(sys, dev, PCI_COMMAND);
    s->intline = pci_read8(sys, dev, PCI_INTERRUPT_LINE);
    if (dev->caps.exp) {
        s->devctl = pci_read16(sys, dev, dev->caps.exp + PCI_EXP_DEVCTL);
        s->devctl2 = pci_read16(sys, dev, dev->caps.exp + PCI_EXP_DEVCTL2);
        s->lnkctl = pci_read16(sys, dev, dev->caps.exp + PCI_EXP_LNKCTL);
    }
    uint16_t pos = dev->caps.sriov;
    if (pos && !dev->is_virtfn) {
        for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; i++)
            s->vf_bar[i] = pci_read32(sys, dev, (uint16_t)(pos + PCI_SRIOV_BAR + 4 * i));
        s->sys_pgsize = pci_read32(sys, dev, pos + PCI_SRIOV_SYS_PGSIZE);
        s->num_vfs = pci_read16(sys, dev, pos + PCI_SRIOV_NUM_VF);
        s->sriov_ctrl = pci_read16(sys, dev, pos + PCI_SRIOV_CTRL);
    }
}

/* Linux's sriov_restore_state: nothing when VF Enable survived; else the VF BARs, page size
 * and NumVFs before the control word, and 100 ms for the VFs to answer again. */
static void pci_restore_sriov(struct pci_system *sys, struct pci_dev *dev,
                              const struct pci_saved_state *s)
{
    uint16_t pos = dev->caps.sriov;
    if (!pos || dev->is_virtfn || (pci_read16(sys, dev, pos + PCI_SRIOV_CTRL) & PCI_SRIOV_CTRL_VFE))
        return;
    for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; i++)
        pci_write32(sys, dev, (uint16_t)(pos + PCI_SRIOV_BAR + 4 * i), s->vf_bar[i]);
    pci_write32(sys, dev, pos + PCI_SRIOV_SYS_PGSIZE, s->sys_pgsize);
    pci_write16(sys, dev, pos + PCI_SRIOV_NUM_VF, s->num_vfs);
    pci_write16(sys, dev, pos + PCI_SRIOV_CTRL, s->sriov_ctrl);
    if (s->sriov_ctrl & PCI_SRIOV_CTRL_VFE)
        pci_wait_us(sys, PCI_FLR_WAIT_US);
}

/* The command register last: decode and bus mastering return once the BARs are back. */
static void pci_restore(struct pci_system *sys, struct pci_dev *dev, const struct pci_saved_state *s)
{
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
        pci_write32(sys, dev, (uint16_t)(PCI_BASE_ADDRESS_0 + 4 * i), s->bar[i]);
    pci_write8(sys, dev, PCI_INTERRUPT_LINE, s->intline);
    if (dev->caps.exp) {
        pci_write16(sys, dev, dev->caps.exp + PCI_EXP_DEVCTL, s->devctl & ~PCI_EXP_DEVCTL_BCR_FLR);
        pci_write16(sys, dev, dev->caps.exp + PCI_EXP_DEVCTL2, s->devctl2);
        pci_write16(sys, dev, dev->caps.exp + PCI_EXP_LNKCTL, s->lnkctl);
    }
    pci_write16(sys, dev, PCI_COMMAND, s->command);
    pci_restore_sriov(sys, dev, s);
}

/* Configuration Request Retry Status reads as vendor 0x0001 (§2.3.1); absent, all ones. */
static int pci_wait_ready(struct pci_system *sys, struct pci_dev *dev)
{
    for (unsigned i = 0; i < PCI_READY_TRIES; i++) {
        uint16_t v = pci_read16(sys, dev, PCI_VENDOR_ID);
        if (v == dev->vendor)
            return 0;
        pci_wait_us(sys, 1000);
    }
    return ERR(-ETIMEDOUT);
}

int pci_reset_function(struct pci_system *sys, struct pci_dev *dev)
{
    if (!pci_reset_supported(sys, dev))
        return ERR(-ENOTTY);
    struct pci_saved_state s;
    memset(&s, 0, sizeof(s));
    pci_save(sys, dev, &s);
    if (dev->flr && dev->caps.exp) {
        pci_write16(sys, dev, dev->caps.exp + PCI_EXP_DEVCTL, s.devctl | PCI_EXP_DEVCTL_BCR_FLR);
        pci_wait_us(sys, PCI_FLR_WAIT_US);
    } else {
        struct pci_dev *br = pci_reset_bridge(sys, dev);
        uint16_t ctl = pci_read16(sys, br, PCI_BRIDGE_CONTROL);
        pci_write16(sys, br, PCI_BRIDGE_CONTROL, ctl | PCI_BRIDGE_CTL_BUS_RESET);
        pci_wait_us(sys, PCI_SBR_HOLD_US);
        pci_write16(sys, br, PCI_BRIDGE_CONTROL, ctl & ~PCI_BRIDGE_CTL_BUS_RESET);
        pci_wait_us(sys, PCI_SBR_WAIT_US);
    }
    int err = pci_wait_ready(sys, dev);
    pci_restore(sys, dev, &s);
    return err;
}
