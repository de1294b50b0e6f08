/* The device-tree facts moat needs, parsed once from a validated tree. */
#include "kernel/fdt/dt_platform.h"
#include "lib/errno.h"
#include "lib/string.h"

/* The interrupt controller node for node: the nearest interrupt-parent up the tree. Chains
 * of phandles are bounded (a hostile tree may point a parent at itself). */
static int irq_parent(const struct fdt *f, int node)
{
    for (int hops = 0; node >= 0 && hops < FDT_MAX_DEPTH + FDT_MAX_PHANDLE_HOPS; hops++) {
        uint32_t ph;
        if (fdt_prop_u32(f, node, "interrupt-parent", &ph))
            return fdt_by_phandle(f, ph);
        node = fdt_parent(f, node);
    }
    return -1;
}

/* A three-cell GIC interrupt specifier (kind, number, flags) into *out: false, *out untouched
 * (a caller's "none" stays none), when it names no SPI or PPI the GIC has. */
static bool gic_cells_irq(const uint8_t *p, struct dt_irq *out)
{
    struct dt_irq v = {
        .kind = (uint32_t)fdt_cells(p, 1),
        .num = (uint32_t)fdt_cells(p + 4, 1),
        .flags = (uint32_t)fdt_cells(p + 8, 1),
    };
    if (v.kind == DT_IRQ_SPI && v.num < 988)
        v.intid = v.num + 32;
    else if (v.kind == DT_IRQ_PPI && v.num < 16)
        v.intid = v.num + 16;
    else
        return false;
    *out = v;
    return true;
}

bool dt_irq(const struct fdt *f, int node, unsigned i, struct dt_irq *out)
{
    int ic = irq_parent(f, node);
    uint32_t cells, len;
    if (ic < 0 || !fdt_prop_u32(f, ic, "#interrupt-cells", &cells) || cells != 3)
        return false;
    const uint8_t *p = fdt_prop(f, node, "interrupts", &len);
    if (!p || len / 12 <= i)
        return false;
    return gic_cells_irq(p + 12 * i, out);
}

static int parse_memory(const struct fdt *f, struct dt_platform *p, const char **why)
{
    for (int n = fdt_first_child(f, 0); n >= 0; n = fdt_next_sibling(f, n)) {
        const char *type = fdt_prop_str(f, n, "device_type");
        if (!type || strcmp(type, "memory") != 0)
            continue;
        uint64_t base, size;
        for (unsigned i = 0; fdt_reg(f, n, i, &base, &size); i++) {
            if (size == 0)
                continue;
            if (base + size < base) {
                *why = "memory range wraps";
                return -EINVAL;
            }
            if (p->nr_mem == DT_MAX_MEM) {
                *why = "too many memory ranges";
                return -EINVAL;
            }
            p->mem[p->nr_mem].base = base;
            p->mem[p->nr_mem++].size = size;
        }
    }
    if (p->nr_mem == 0) {
        *why = "no memory node";
        return -EINVAL;
    }
    return 0;
}

static int parse_gic(const struct fdt *f, struct dt_platform *p, const char **why)
{
    int n = fdt_next_compatible(f, -1, "arm,gic-v3");
    if (n < 0)
        return 0;
    p->gic.node = n;
    if (!fdt_reg(f, n, 0, &p->gic.dist_base, &p->gic.dist_size)) {
        *why = "GICv3 without a distributor reg";
        return -EINVAL;
    }
    uint32_t regions = 1;
    fdt_prop_u32(f, n, "#redistributor-regions", &regions);
    if (regions == 0 || regions > DT_MAX_REDIST) {
        *why = "GICv3 #redistributor-regions out of range";
        return -EINVAL;
    }
    for (uint32_t i = 0; i < regions; i++) {
        if (!fdt_reg(f, n, 1 + i, &p->gic.redist[i].base, &p->gic.redist[i].size)) {
            *why = "GICv3 redistributor reg missing";
            return -EINVAL;
        }
    }
    p->gic.nr_redist = regions;
    fdt_prop_u32(f, n, "phandle", &p->gic.phandle);
    p->gic.present = true;
    for (int c = fdt_first_child(f, n); c >= 0; c = fdt_next_sibling(f, c)) {
        if (!fdt_is_compatible(f, c, "arm,gic-v3-its"))
            continue;
        if (!fdt_reg(f, c, 0, &p->gic.its.base, &p->gic.its.size)) {
            *why = "ITS without a reg";
            return -EINVAL;
        }
        fdt_prop_u32(f, c, "phandle", &p->gic.its.phandle);
        p->gic.its.node = c;
        p->gic.its.present = true;
        break;
    }
    return 0;
}

/* An msi-map or iommu-map: (rid-base, phandle, out-base, length) quadruples. */
static int parse_id_map(const struct fdt *f, int node, const char *name, struct dt_id_map *map,
                        uint32_t *nr, const char **why)
{
    uint32_t len;
    const uint8_t *v = fdt_prop(f, node, name, &len);
    *nr = 0;
    if (!v)
        return 0;
    if (len % 16 || len / 16 > DT_MAX_MAP) {
        *why = !strcmp(name, "msi-map") ? "msi-map malformed" : "iommu-map malformed";
        return -EINVAL;
    }
    for (uint32_t i = 0; i < len / 16; i++, v += 16) {
        struct dt_id_map *m = &map[i];
        m->rid_base = (uint32_t)fdt_cells(v, 1);
        m->phandle = (uint32_t)fdt_cells(v + 4, 1);
        m->out_base = (uint32_t)fdt_cells(v + 8, 1);
        m->length = (uint32_t)fdt_cells(v + 12, 1);
        m->node = fdt_by_phandle(f, m->phandle);
        if (m->length == 0 || m->rid_base + (uint64_t)m->length > 0x10000 || m->node < 0) {
            *why = !strcmp(name, "msi-map") ? "msi-map entry out of range or to no node"
                                           : "iommu-map entry out of range or to no node";
            return -EINVAL;
        }
    }
    *nr = len / 16;
    return 0;
}

#define INTX_CHILD_CELLS 4          /* 3 address cells + 1 interrupt cell */

int dt_pci_intx(const struct fdt *f, int host, unsigned bus, unsigned devfn, unsigned pin,
                struct dt_irq *out)
{
    uint32_t len, mlen;
    const uint8_t *map = fdt_prop(f, host, "interrupt-map", &len);
    const uint8_t *mask = fdt_prop(f, host, "interrupt-map-mask", &mlen);
    if (!map || !mask || mlen != 4 * INTX_CHILD_CELLS)
        return -EINVAL;
    uint32_t child[INTX_CHILD_CELLS] = { (uint32_t)((bus & 0xff) << 16 | (devfn & 0xff) << 8),
                                         0, 0, pin };
    for (int i = 0; i < INTX_CHILD_CELLS; i++)
        child[i] &= (uint32_t)fdt_cells(mask + 4 * i, 1);
    /* Entries name their parent by phandle, nearly always the same one: it is looked up (a
     * walk of the whole tree) only when it changes, not once per entry. */
    uint32_t pac = 0, pic = 0, last_ph = 0;
    for (uint32_t at = 0; at < len;) {
        if (len - at < 4 * (INTX_CHILD_CELLS + 1))
            return -EINVAL;
        const uint8_t *e = map + at;
        uint32_t ph = (uint32_t)fdt_cells(e + 4 * INTX_CHILD_CELLS, 1);
        if (!at || ph != last_ph) {
            int parent = fdt_by_phandle(f, ph);
            pac = pic = 0;
            if (parent < 0 || !fdt_prop_u32(f, parent, "#interrupt-cells", &pic) || pic != 3)
                return -EINVAL;     /* only a three-cell GIC parent is understood */
            fdt_prop_u32(f, parent, "#address-cells", &pac);
            if (pac > 3)
                return -EINVAL;
            last_ph = ph;
        }
        uint32_t entry = 4 * (INTX_CHILD_CELLS + 1 + pac + pic);
        if (len - at < entry)
            return -EINVAL;
        bool match = true;
        for (int i = 0; i < INTX_CHILD_CELLS; i++)
            match &= (uint32_t)fdt_cells(e + 4 * i, 1) == child[i];
        if (match) {
            const uint8_t *spec = e + 4 * (INTX_CHILD_CELLS + 1 + pac);
            struct dt_irq v;
            if (!gic_cells_irq(spec, &v) || v.kind != DT_IRQ_SPI)
                return -EINVAL;     /* INTx is a shared peripheral interrupt */
            *out = v;
            return 0;
        }
        at += entry;
    }
    return -ENOENT;
}

bool dt_map_id(const struct dt_id_map *map, uint32_t n, uint32_t rid, uint32_t *phandle,
               uint32_t *out)
{
    for (uint32_t i = 0; i < n; i++) {
        if (rid >= map[i].rid_base && rid - map[i].rid_base < map[i].length) {
            *phandle = map[i].phandle;
            *out = map[i].out_base + (rid - map[i].rid_base);
            return true;
        }
    }
    return false;
}

static int parse_pcie(const struct fdt *f, struct dt_platform *p, const char **why)
{
    int n = fdt_next_compatible(f, -1, "pci-host-ecam-generic");
    if (n < 0)
        return 0;
    p->pcie.node = n;
    if (!fdt_reg(f, n, 0, &p->pcie.ecam_base, &p->pcie.ecam_size) || p->pcie.ecam_size < (1u << 20)) {
        *why = "PCIe host without an ECAM reg of at least one bus";
        return -EINVAL;
    }
    uint32_t len;
    const uint8_t *br = fdt_prop(f, n, "bus-range", &len);
    p->pcie.bus_start = 0;
    p->pcie.bus_end = 255;
    if (br) {
        if (len != 8) {
            *why = "bus-range malformed";
            return -EINVAL;
        }
        p->pcie.bus_start = (uint32_t)fdt_cells(br, 1);
        p->pcie.bus_end = (uint32_t)fdt_cells(br + 4, 1);
    }
    if (p->pcie.bus_end > 255 || p->pcie.bus_start > p->pcie.bus_end ||
        ((uint64_t)(p->pcie.bus_end - p->pcie.bus_start) + 1) << 20 > p->pcie.ecam_size) {
        *why = "bus-range outside the ECAM window";
        return -EINVAL;
    }
    p->pcie.domain = 0;
    fdt_prop_u32(f, n, "linux,pci-domain", &p->pcie.domain);
    uint32_t ac = 3, sc = 2, pac, psc;
    fdt_prop_u32(f, n, "#address-cells", &ac);
    fdt_prop_u32(f, n, "#size-cells", &sc);
    fdt_reg_cells(f, n, &pac, &psc);
    if (ac != 3 || sc < 1 || sc > 2 || pac < 1 || pac > 2) {
        *why = "PCIe host ranges cells not 3/1-2 with a 1-2 cell parent";
        return -EINVAL;
    }
    const uint8_t *r = fdt_prop(f, n, "ranges", &len);
    uint32_t entry = 4 * (ac + pac + sc);
    if (r && (len % entry || len / entry > DT_MAX_RANGES)) {
        *why = "PCIe host ranges malformed";
        return -EINVAL;
    }
    for (uint32_t i = 0; r && i < len / entry; i++, r += entry) {
        uint32_t hi = (uint32_t)fdt_cells(r, 1);
        struct dt_pci_range *x = &p->pcie.ranges[p->pcie.nr_ranges++];
        x->space = (hi >> 24) & 3;
        x->prefetchable = hi & BIT(30);
        x->pci_addr = fdt_cells(r + 4, 2);
        x->cpu_addr = fdt_cells(r + 12, pac);
        x->size = fdt_cells(r + 12 + 4 * pac, sc);
        if (x->size == 0 || x->cpu_addr + x->size < x->cpu_addr || x->pci_addr + x->size < x->pci_addr) {
            *why = "PCIe host range empty or wrapping";
            return -EINVAL;
        }
    }
    p->pcie.coherent = fdt_prop(f, n, "dma-coherent", NULL) != NULL;
    int err = parse_id_map(f, n, "msi-map", p->pcie.msi_map, &p->pcie.nr_msi_map, why);
    if (!err)
        err = parse_id_map(f, n, "iommu-map", p->pcie.iommu_map, &p->pcie.nr_iommu_map, why);
    if (err)
        return err;
    p->pcie.present = true;
    return 0;
}

static int parse_smmu(const struct fdt *f, struct dt_platform *p, const char **why)
{
    int n = fdt_next_compatible(f, -1, "arm,smmu-v3");
    if (n < 0)
        return 0;
    p->smmu.node = n;
    if (!fdt_reg(f, n, 0, &p->smmu.base, &p->smmu.size)) {
        *why = "SMMUv3 without a reg";
        return -EINVAL;
    }
    fdt_prop_u32(f, n, "phandle", &p->smmu.phandle);
    uint32_t names_len = 0;
    const char *names = fdt_prop(f, n, "interrupt-names", &names_len);
    uint32_t at = 0;
    for (unsigned i = 0; i < DT_MAX_IRQS && dt_irq(f, n, i, &p->smmu.irq[i]); i++) {
        p->smmu.nr_irq = i + 1;
        p->smmu.irq_name[i] = NULL;
        if (names && at < names_len) {
            const char *s = names + at;
            const char *z = memchr(s, 0, names_len - at);
            if (z) {
                p->smmu.irq_name[i] = s;
                at += (uint32_t)(z - s) + 1;
            } else {
                at = names_len;
            }
        }
    }
    p->smmu.coherent = fdt_prop(f, n, "dma-coherent", NULL) != NULL;
    p->smmu.present = true;
    return 0;
}

int dt_platform_parse(const struct fdt *f, struct dt_platform *p, const char **why)
{
    static const char *unknown = "?";
    memset(p, 0, sizeof(*p));
    *why = unknown;
    p->gic.node = p->gic.its.node = p->pcie.node = p->smmu.node = -1;
    int err = parse_memory(f, p, why);
    if (err)
        return err;
    int chosen = fdt_path(f, "/chosen");
    if (chosen >= 0)
        p->bootargs = fdt_prop_str(f, chosen, "bootargs");

    int n = fdt_next_compatible(f, -1, "arm,pl011");
    if (n >= 0 && fdt_reg(f, n, 0, &p->uart.base, &p->uart.size)) {
        p->uart.present = true;
        dt_irq(f, n, 0, &p->uart.irq);
    }
    n = fdt_next_compatible(f, -1, "arm,pl031");
    if (n >= 0 && fdt_reg(f, n, 0, &p->rtc.base, &p->rtc.size))
        p->rtc.present = true;
    err = parse_gic(f, p, why);
    if (err)
        return err;

    n = fdt_next_compatible(f, -1, "arm,armv8-timer");
    if (n >= 0) {
        p->timer.present = true;
        while (p->timer.nr_irq < 4 && dt_irq(f, n, p->timer.nr_irq, &p->timer.irq[p->timer.nr_irq]))
            p->timer.nr_irq++;
    }
    n = fdt_next_compatible(f, -1, "arm,psci-0.2");
    if (n < 0)
        n = fdt_next_compatible(f, -1, "arm,psci-1.0");
    if (n >= 0) {
        const char *m = fdt_prop_str(f, n, "method");
        if (!m || (strcmp(m, "hvc") && strcmp(m, "smc"))) {
            *why = "PSCI method neither hvc nor smc";
            return -EINVAL;
        }
        p->psci.present = true;
        p->psci.hvc = !strcmp(m, "hvc");
    }
    err = parse_pcie(f, p, why);
    if (!err)
        err = parse_smmu(f, p, why);
    return err;
}
