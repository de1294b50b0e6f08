/* BAR sizing (PCIe 6.0 §7.5.1.2.1) and bridge window decoding (PCI-to-PCI Bridge 1.2 §3.2.5). */
#include "pci/pci_internal.h"

/* Writes all ones, reads the mask back and restores the original. The size is the lowest
 * address bit the function lets us set, as Linux's pci_size() takes it: it tolerates devices
 * that return junk in the upper bits. Returns the size (0: no BAR); *is64 says that the next
 * register is this BAR's upper half. */
uint64_t pci_sizing_probe(struct pci_system *sys, struct pci_dev *dev, uint16_t off,
                          struct pci_bar *bar, bool *is64)
{
    uint32_t orig = pci_read32(sys, dev, off);
    pci_write32(sys, dev, off, 0xffffffffu);
    uint32_t mask = pci_read32(sys, dev, off);
    /* A register that reads 0 both ways is hardwired: nothing to put back. */
    if (orig != 0 || mask != 0)
        pci_write32(sys, dev, off, orig);

    *is64 = false;
    bar->flags = 0;
    bar->size = 0;
    bar->base = 0;
    if (mask == 0 || mask == 0xffffffffu)
        return 0;
    if (orig & PCI_BASE_ADDRESS_SPACE_IO) {
        uint32_t m = mask & PCI_BASE_ADDRESS_IO_MASK;
        bar->flags = PCI_BAR_IO;
        bar->base = orig & PCI_BASE_ADDRESS_IO_MASK;
        bar->size = m & -m;
        return bar->size;
    }
    uint64_t m = mask & PCI_BASE_ADDRESS_MEM_MASK;
    bar->base = orig & PCI_BASE_ADDRESS_MEM_MASK;
    if (orig & PCI_BASE_ADDRESS_MEM_PREFETCH)
        bar->flags |= PCI_BAR_PREFETCH;
    if (FIELD_GET(PCI_BASE_ADDRESS_MEM_TYPE, orig) == PCI_BASE_ADDRESS_MEM_TYPE_64) {
        uint32_t orig_hi = pci_read32(sys, dev, off + 4);
        pci_write32(sys, dev, off + 4, 0xffffffffu);
        uint32_t mask_hi = pci_read32(sys, dev, off + 4);
        pci_write32(sys, dev, off + 4, orig_hi);
        m |= (uint64_t)mask_hi << 32;
        bar->base |= (uint64_t)orig_hi << 32;
        bar->flags |= PCI_BAR_MEM64;
        *is64 = true;
    }
    bar->size = m & -m;
    return bar->size;
}

void pci_size_bars(struct pci_system *sys, struct pci_dev *dev)
{
    unsigned n = dev->hdr_type == PCI_HEADER_TYPE_NORMAL ? PCI_STD_NUM_BARS :
                 dev->hdr_type == PCI_HEADER_TYPE_BRIDGE ? PCI_BRIDGE_NUM_BARS : 0;
    bool defer = sys->flags & PCI_SYS_DEFER_DECODE;
    if (n == 0 || (sys->flags & PCI_SYS_NO_BAR_SIZING))
        return;
    /* A host bridge's registers belong to the platform: on q35 every write to them makes the
     * chipset rebuild its memory map, and the resource code places nothing there. */
    if (defer && (dev->class_rev >> 16) == PCI_CLASS_BRIDGE_HOST)
        return;
    /* Decode stays off while a BAR holds all ones, so the probe claims no address. */
    uint16_t cmd = pci_read16(sys, dev, PCI_COMMAND);
    uint16_t decode = cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    if (decode)
        pci_write16(sys, dev, PCI_COMMAND, cmd & ~decode);
    for (unsigned i = 0; i < n; i++) {
        bool is64;
        pci_sizing_probe(sys, dev, (uint16_t)(PCI_BASE_ADDRESS_0 + 4 * i), &dev->bar[i], &is64);
        if (is64 && i + 1 >= n) {
            pci_warn(sys, dev, PCI_WARN_BAR, "64-bit BAR in the last slot, ignored");
            dev->bar[i].size = 0;
        } else if (is64) {
            i++;   /* the upper half: dev->bar[i] stays empty */
        }
    }
    /* A bridge's decode also forwards to everything below it, which drivers reach before any
     * enable of the bridge: it is given back at once. */
    if (decode && defer && dev->hdr_type == PCI_HEADER_TYPE_NORMAL)
        dev->decode_restore = decode;       /* the enable's single write turns it on */
    else if (decode)
        pci_write16(sys, dev, PCI_COMMAND, cmd);
}

static void pci_set_window(struct pci_aperture *w, uint64_t base, uint64_t limit)
{
    w->base = base;
    w->size = base <= limit ? limit - base + 1 : 0;
}

void pci_read_bridge_windows(struct pci_system *sys, struct pci_dev *dev)
{
    uint8_t iob = pci_read8(sys, dev, PCI_IO_BASE), iol = pci_read8(sys, dev, PCI_IO_LIMIT);
    uint64_t io_base = (uint64_t)(iob & PCI_IO_RANGE_MASK) << 8;
    uint64_t io_limit = ((uint64_t)(iol & PCI_IO_RANGE_MASK) << 8) | 0xfff;
    if ((iob & PCI_IO_RANGE_TYPE) == PCI_IO_RANGE_TYPE_32) {
        io_base |= (uint64_t)pci_read16(sys, dev, PCI_IO_BASE_UPPER16) << 16;
        io_limit |= (uint64_t)pci_read16(sys, dev, PCI_IO_LIMIT_UPPER16) << 16;
    }
    pci_set_window(&dev->win_io, io_base, io_limit);

    uint16_t mb = pci_read16(sys, dev, PCI_MEMORY_BASE), ml = pci_read16(sys, dev, PCI_MEMORY_LIMIT);
    pci_set_window(&dev->win_mem, (uint64_t)(mb & PCI_MEMORY_RANGE_MASK) << 16,
                   ((uint64_t)(ml & PCI_MEMORY_RANGE_MASK) << 16) | 0xfffff);

    uint16_t pb = pci_read16(sys, dev, PCI_PREF_MEMORY_BASE);
    uint16_t pl = pci_read16(sys, dev, PCI_PREF_MEMORY_LIMIT);
    uint64_t p_base = (uint64_t)(pb & PCI_PREF_RANGE_MASK) << 16;
    uint64_t p_limit = ((uint64_t)(pl & PCI_PREF_RANGE_MASK) << 16) | 0xfffff;
    dev->pref64 = (pb & PCI_PREF_RANGE_TYPE) == PCI_PREF_RANGE_TYPE_64;
    if (dev->pref64) {
        p_base |= (uint64_t)pci_read32(sys, dev, PCI_PREF_BASE_UPPER32) << 32;
        p_limit |= (uint64_t)pci_read32(sys, dev, PCI_PREF_LIMIT_UPPER32) << 32;
    }
    pci_set_window(&dev->win_pref, p_base, p_limit);
}
