/* INTx routing from the device tree (the interface: arch/intx.h): the host bridge's interrupt-map (devicetree spec 2.4.3),
 * matched under interrupt-map-mask with the child unit address (phys.hi: bus/device/function)
 * and the pin (1 = INTA); below a bridge, pin' = (pin + slot) % 4 at each hop up (the
 * PCI-to-PCI bridge swizzle), as on x86. The parent must be the GICv3 (three-cell SPIs). */
#include "arch/intx.h"
#include "arch/aarch64/platform.h"
#include "lib/errno.h"
#include "pci/pci.h"

#define MAP_CHILD_CELLS 4           /* 3 address cells + 1 interrupt cell */

static int route_root(unsigned devfn, unsigned pin, unsigned *gsi, unsigned *flags)
{
    const struct fdt *f = platform_fdt();
    const struct dt_platform *dt = platform_dt();
    if (!dt->pcie.present)
        return -ENODEV;
    uint32_t len, mlen;
    const uint8_t *map = fdt_prop(f, dt->pcie.node, "interrupt-map", &len);
    const uint8_t *mask = fdt_prop(f, dt->pcie.node, "interrupt-map-mask", &mlen);
    if (!map || !mask || mlen != 4 * MAP_CHILD_CELLS)
        return -ENODEV;
    uint32_t child[MAP_CHILD_CELLS] = { (uint32_t)(dt->pcie.bus_start << 16 | devfn << 8), 0, 0, pin };
    for (int i = 0; i < MAP_CHILD_CELLS; i++)
        child[i] &= (uint32_t)fdt_cells(mask + 4 * i, 1);
    for (uint32_t at = 0; at + 4 * (MAP_CHILD_CELLS + 1) <= len;) {
        const uint8_t *e = map + at;
        uint32_t phandle = (uint32_t)fdt_cells(e + 4 * MAP_CHILD_CELLS, 1);
        int parent = fdt_by_phandle(f, phandle);
        uint32_t pac = 0, pic = 0;
        if (parent < 0 || !fdt_prop_u32(f, parent, "#interrupt-cells", &pic))
            return -ENODEV;
        fdt_prop_u32(f, parent, "#address-cells", &pac);
        if (pac > 3 || pic != 3)
            return -ENODEV;     /* not a GICv3 parent: no route moat understands */
        uint32_t entry = 4 * (MAP_CHILD_CELLS + 1 + pac + pic);
        if (at + entry > len)
            return -ENODEV;
        bool match = true;
        for (int i = 0; i < MAP_CHILD_CELLS; i++)
            match &= (uint32_t)fdt_cells(e + 4 * i, 1) == child[i];
        if (match) {
            const uint8_t *spec = e + 4 * (MAP_CHILD_CELLS + 1 + pac);
            uint32_t kind = (uint32_t)fdt_cells(spec, 1), num = (uint32_t)fdt_cells(spec + 4, 1);
            uint32_t trig = (uint32_t)fdt_cells(spec + 8, 1) & 0xf;
            if (kind != 0 || num >= 988)
                return -ENODEV;
            *gsi = num + 32;
            *flags = (trig & 0xc) ? GSI_LEVEL : 0;   /* 4/8: level; 1/2: edge */
            return ioapic_gsi_check(*gsi) ? -ENODEV : 0;
        }
        at += entry;
    }
    return -ENOENT;
}

int pci_intx_route(struct pci_system *sys, const struct pci_dev *dev, unsigned *gsi,
                   unsigned *flags)
{
    unsigned p;
    const struct pci_dev *d = pci_intx_root(sys, dev, &p);
    if (!d)
        return -ENODEV;
    return route_root(d->devfn, p + 1, gsi, flags);
}
