/* Capability lists, legacy (PCI 3.0 §6.7) and extended (PCIe 6.0 §7.6). Both are untrusted
 * linked lists: every walk is bounded by a visited set and an entry count, and a pointer into
 * the header or past the end stops it. */
#include "pci/pci_internal.h"
#include "lib/string.h"

typedef bool (*pci_cap_visit)(uint16_t id, uint16_t off, void *arg);

/* Walks the legacy list, calling visit until it returns true. warn_dev (may be NULL) receives
 * warnings about the list's shape. */
static void pci_walk_legacy(struct pci_system *sys, struct pci_dev *dev, struct pci_dev *warn_dev,
                            pci_cap_visit visit, void *arg)
{
    uint64_t seen[PCI_CFG_SPACE_SIZE / 4 / 64] = { 0 };

    if (!(pci_read16(sys, dev, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return;
    uint8_t ptr = pci_read8(sys, dev, PCI_CAPABILITY_LIST) & 0xfc;
    for (unsigned n = 0; ptr; n++) {
        if (ptr < PCI_STD_HEADER_SIZE) {
            if (warn_dev)
                pci_warn(sys, warn_dev, PCI_WARN_CAP_PTR, "capability pointer into the header");
            return;
        }
        unsigned slot = ptr / 4;
        if (seen[slot / 64] & BIT(slot % 64)) {
            if (warn_dev)
                pci_warn(sys, warn_dev, PCI_WARN_CAP_LOOP, "capability list loops");
            return;
        }
        if (n >= PCI_CAP_LIST_TTL) {
            if (warn_dev)
                pci_warn(sys, warn_dev, PCI_WARN_CAP_TTL, "capability list too long");
            return;
        }
        seen[slot / 64] |= BIT(slot % 64);
        uint16_t hdr = pci_read16(sys, dev, ptr);
        if ((hdr & 0xff) == 0xff)   /* the function vanished */
            return;
        if (visit(hdr & 0xff, ptr, arg))
            return;
        ptr = (hdr >> 8) & 0xfc;
    }
}

static void pci_walk_ext(struct pci_system *sys, struct pci_dev *dev, struct pci_dev *warn_dev,
                         pci_cap_visit visit, void *arg)
{
    uint64_t seen[PCI_CFG_SPACE_EXP_SIZE / 4 / 64] = { 0 };
    uint16_t off = PCI_CFG_SPACE_SIZE;

    if (dev->cfg_size < PCI_CFG_SPACE_EXP_SIZE)
        return;
    for (unsigned n = 0; n < PCI_EXT_CAP_LIST_TTL; n++) {
        unsigned slot = off / 4;
        if (seen[slot / 64] & BIT(slot % 64)) {
            if (warn_dev)
                pci_warn(sys, warn_dev, PCI_WARN_EXT_CAP_LOOP, "extended capability list loops");
            return;
        }
        seen[slot / 64] |= BIT(slot % 64);
        uint32_t hdr = pci_read32(sys, dev, off);
        if (hdr == 0 || hdr == 0xffffffffu)
            return;
        if (visit((uint16_t)FIELD_GET(PCI_EXT_CAP_HDR_ID, hdr), off, arg))
            return;
        uint16_t next = (uint16_t)(FIELD_GET(PCI_EXT_CAP_HDR_NEXT, hdr) & 0xffc);
        if (next == 0)
            return;
        if (next < PCI_CFG_SPACE_SIZE) {
            if (warn_dev)
                pci_warn(sys, warn_dev, PCI_WARN_EXT_CAP_PTR,
                         "extended capability pointer below 0x100");
            return;
        }
        off = next;
    }
    if (warn_dev)
        pci_warn(sys, warn_dev, PCI_WARN_EXT_CAP_LOOP, "extended capability list too long");
}

static bool pci_record_legacy(uint16_t id, uint16_t off, void *arg)
{
    struct pci_caps *c = arg;
    uint8_t o = (uint8_t)off;

    /* The first instance wins, as in Linux's pci_find_capability. */
    if (id == PCI_CAP_ID_PM && !c->pm)
        c->pm = o;
    else if (id == PCI_CAP_ID_MSI && !c->msi)
        c->msi = o;
    else if (id == PCI_CAP_ID_MSIX && !c->msix)
        c->msix = o;
    else if (id == PCI_CAP_ID_EXP && !c->exp)
        c->exp = o;
    return false;
}

static void pci_set_once(uint16_t *slot, uint16_t off)
{
    if (!*slot)
        *slot = off;
}

static bool pci_record_ext(uint16_t id, uint16_t off, void *arg)
{
    struct pci_caps *c = arg;

    switch (id) {
    case PCI_EXT_CAP_ID_ERR: pci_set_once(&c->aer, off); break;
    case PCI_EXT_CAP_ID_ACS: pci_set_once(&c->acs, off); break;
    case PCI_EXT_CAP_ID_ARI: pci_set_once(&c->ari, off); break;
    case PCI_EXT_CAP_ID_ATS: pci_set_once(&c->ats, off); break;
    case PCI_EXT_CAP_ID_PRI: pci_set_once(&c->pri, off); break;
    case PCI_EXT_CAP_ID_PASID: pci_set_once(&c->pasid, off); break;
    case PCI_EXT_CAP_ID_SRIOV: pci_set_once(&c->sriov, off); break;
    default: break;
    }
    return false;
}

/* Linux's pci_cfg_space_size: extended space exists only for PCIe functions whose offset 0x100
 * neither reads all ones nor aliases offset 0. */
static uint16_t pci_probe_cfg_size(struct pci_system *sys, struct pci_dev *dev)
{
    if (!dev->caps.exp)
        return PCI_CFG_SPACE_SIZE;
    uint32_t ext = pci_cfg_read(sys, dev->seg, dev->bus, dev->devfn, PCI_CFG_SPACE_SIZE, 4);
    if (ext == 0xffffffffu)
        return PCI_CFG_SPACE_SIZE;
    uint32_t id = pci_cfg_read(sys, dev->seg, dev->bus, dev->devfn, PCI_VENDOR_ID, 4);
    if (ext == id)
        return PCI_CFG_SPACE_SIZE;
    return PCI_CFG_SPACE_EXP_SIZE;
}

void pci_parse_caps(struct pci_system *sys, struct pci_dev *dev)
{
    memset(&dev->caps, 0, sizeof(dev->caps));
    dev->cfg_size = PCI_CFG_SPACE_SIZE;
    pci_walk_legacy(sys, dev, dev, pci_record_legacy, &dev->caps);
    if (dev->caps.exp) {
        uint16_t flags = pci_read16(sys, dev, dev->caps.exp + PCI_EXP_FLAGS);
        dev->pcie_type = (uint8_t)FIELD_GET(PCI_EXP_FLAGS_TYPE, flags);
        dev->flr = pci_read32(sys, dev, dev->caps.exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR;
        dev->hotplug_slot = (flags & PCI_EXP_FLAGS_SLOT) &&
                            (dev->pcie_type == PCI_EXP_TYPE_ROOT_PORT ||
                             dev->pcie_type == PCI_EXP_TYPE_DOWNSTREAM) &&
                            (pci_read32(sys, dev, dev->caps.exp + PCI_EXP_SLTCAP) &
                             PCI_EXP_SLTCAP_HPC);
    }
    dev->cfg_size = pci_probe_cfg_size(sys, dev);
    pci_walk_ext(sys, dev, dev, pci_record_ext, &dev->caps);
}

struct pci_find_arg {
    uint16_t id, off;
};

static bool pci_match_cap(uint16_t id, uint16_t off, void *arg)
{
    struct pci_find_arg *f = arg;
    if (id != f->id)
        return false;
    f->off = off;
    return true;
}

uint16_t pci_find_cap(struct pci_system *sys, const struct pci_dev *dev, uint8_t id)
{
    struct pci_find_arg f = { id, 0 };
    pci_walk_legacy(sys, (struct pci_dev *)dev, NULL, pci_match_cap, &f);
    return f.off;
}

uint16_t pci_find_ext_cap(struct pci_system *sys, const struct pci_dev *dev, uint16_t id)
{
    struct pci_find_arg f = { id, 0 };
    pci_walk_ext(sys, (struct pci_dev *)dev, NULL, pci_match_cap, &f);
    return f.off;
}

void pci_for_each_cap(struct pci_system *sys, const struct pci_dev *dev, bool ext,
                      pci_cap_visit visit, void *arg)
{
    if (ext)
        pci_walk_ext(sys, (struct pci_dev *)dev, NULL, visit, arg);
    else
        pci_walk_legacy(sys, (struct pci_dev *)dev, NULL, visit, arg);
}
