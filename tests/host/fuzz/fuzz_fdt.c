/* Fuzzing the device-tree reader (kernel/fdt): each input is a blob handed to fdt_open exactly as
 * the arm64 boot does (its size is what is readable). A tree it accepts is then read through
 * every accessor the runtime uses at boot and after: the reservation block, dt_platform_parse
 * (memory, chosen/bootargs, PL011, GIC and ITS, timer, PSCI, the ECAM host bridge with its
 * ranges, msi-map and iommu-map, the SMMU), the INTx interrupt-map of every root-bus slot and
 * pin, requester IDs through both ID maps, and the generic walks (children, siblings, parents,
 * paths, phandles, compatible strings, reg, interrupts). Strings the reader hands out are read
 * to their NUL, so an unterminated one is an ASan report. Invariants the API promises are
 * checked: a failure is abort(), which libFuzzer reports as a crash.
 *
 * Seeds: tests/host/fuzz/fdt_corpus (QEMU virt trees: GICv2/v3, SMMUv3, PCIe devices). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fdt/dt_platform.h"
#include "kernel/fdt/fdt.h"
#include "lib/errno.h"

static volatile size_t sink;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_fdt: %s\n", what);
        abort();
    }
}

static void touch(const char *s)
{
    if (s)
        sink += strlen(s);
}

/* A resolved interrupt, or none (all zero: intid 0 is never a device's). */
static void read_irq(const struct dt_irq *irq)
{
    if (!irq->intid) {
        check(!irq->kind && !irq->num && !irq->flags, "an unresolved irq with fields set");
        return;
    }
    check(irq->kind == DT_IRQ_SPI || irq->kind == DT_IRQ_PPI, "irq kind");
    check(irq->intid == irq->num + (irq->kind == DT_IRQ_SPI ? 32 : 16), "irq intid");
}

/* The accessors a driver would use on one node: reg, interrupts, its phandle. Each walks the
 * tree from the root (fdt_parent, fdt_by_phandle), so they are asked of a bounded number of
 * nodes per input, keeping an input's time linear in the blob. */
static void read_node(const struct fdt *f, int node)
{
    uint32_t v, ac, sc;
    if (fdt_prop_u32(f, node, "phandle", &v) && v != 0 && v != 0xffffffffu)
        check(fdt_by_phandle(f, v) >= 0, "a node's own phandle not found");
    fdt_reg_cells(f, node, &ac, &sc);
    uint64_t base, size;
    for (unsigned i = 0; i < 2 && fdt_reg(f, node, i, &base, &size); i++)
        sink += base + size;
    struct dt_irq irq;
    for (unsigned i = 0; i < 2 && dt_irq(f, node, i, &irq); i++)
        read_irq(&irq);
    int parent = fdt_parent(f, node);
    check(node == 0 ? parent == -1 : parent >= 0, "a node without its parent");
}

#define READ_NODES 8

/* Every node by the tree's own links, its name and strings read; the first READ_NODES also
 * through read_node. */
static unsigned walk(const struct fdt *f, int node, unsigned depth, unsigned *seen)
{
    unsigned n = 1;
    check(depth <= FDT_MAX_DEPTH, "walk deeper than the reader allows");
    touch(fdt_node_name(f, node));
    touch(fdt_prop_str(f, node, "compatible"));
    touch(fdt_prop_str(f, node, "status"));
    touch(fdt_prop_str(f, node, "device_type"));
    uint32_t len;
    const uint8_t *p = fdt_prop(f, node, "compatible", &len);
    if (p && len)
        sink += p[len - 1];     /* the whole value is readable */
    if ((*seen)++ < READ_NODES)
        read_node(f, node);
    for (int c = fdt_first_child(f, node); c >= 0; c = fdt_next_sibling(f, c))
        n += walk(f, c, depth + 1, seen);
    return n;
}

static void read_platform(const struct fdt *f, const struct dt_platform *p)
{
    check(p->nr_mem >= 1 && p->nr_mem <= DT_MAX_MEM, "memory count");
    touch(p->bootargs);
    if (p->uart.present)
        read_irq(&p->uart.irq);
    if (p->gic.present)
        check(p->gic.nr_redist <= DT_MAX_REDIST, "redistributor count");
    if (p->timer.present) {
        check(p->timer.nr_irq <= 4, "timer interrupt count");
        for (unsigned i = 0; i < p->timer.nr_irq; i++)
            read_irq(&p->timer.irq[i]);
    }
    if (p->smmu.present) {
        check(p->smmu.nr_irq <= DT_MAX_IRQS, "SMMU interrupt count");
        for (unsigned i = 0; i < p->smmu.nr_irq; i++) {
            read_irq(&p->smmu.irq[i]);
            touch(p->smmu.irq_name[i]);
        }
    }
    if (!p->pcie.present)
        return;
    check(p->pcie.nr_ranges <= DT_MAX_RANGES && p->pcie.nr_msi_map <= DT_MAX_MAP &&
          p->pcie.nr_iommu_map <= DT_MAX_MAP, "host bridge table counts");
    check(p->pcie.bus_start <= p->pcie.bus_end, "bus range");
    /* INTx as arch/aarch64/intx.c asks for a root-bus function: slots 0-3 (virt's mask repeats
     * every 4) with every pin, a function 7 and a pin 5. Each call looks the GIC up by
     * phandle (a walk of the tree), so not every slot of the bus. */
    static const uint8_t asks[][2] = {
        { 0, 1 }, { 0, 2 }, { 0, 3 }, { 0, 4 }, { 8, 1 }, { 8, 2 }, { 8, 3 }, { 8, 4 },
        { 16, 1 }, { 16, 2 }, { 16, 3 }, { 16, 4 }, { 24, 1 }, { 24, 2 }, { 24, 3 }, { 24, 4 },
        { 0x3f, 2 }, { 0x20, 5 },
    };
    for (unsigned a = 0; a < ARRAY_SIZE(asks); a++) {
        struct dt_irq irq;
        int err = dt_pci_intx(f, p->pcie.node, p->pcie.bus_start, asks[a][0], asks[a][1], &irq);
        check(err == 0 || err == -ENOENT || err == -EINVAL, "interrupt-map errno");
        if (!err)
            read_irq(&irq);
    }
    /* Requester IDs through both maps (msi.c, the SMMU's platform.c): each map entry's ends
     * and its neighbours, and a spread of IDs. */
    const struct { const struct dt_id_map *m; uint32_t n; } maps[] = {
        { p->pcie.msi_map, p->pcie.nr_msi_map }, { p->pcie.iommu_map, p->pcie.nr_iommu_map },
    };
    for (unsigned k = 0; k < 2; k++) {
        uint32_t ph, out;
        for (uint32_t rid = 0; rid < 0x10000; rid += 0x101)
            if (dt_map_id(maps[k].m, maps[k].n, rid, &ph, &out))
                sink += ph + out;
        for (uint32_t i = 0; i < maps[k].n; i++) {
            const struct dt_id_map *e = &maps[k].m[i];
            uint32_t probe[] = { e->rid_base, e->rid_base - 1, e->rid_base + e->length - 1,
                                 e->rid_base + e->length };
            for (unsigned j = 0; j < ARRAY_SIZE(probe); j++)
                if (dt_map_id(maps[k].m, maps[k].n, probe[j], &ph, &out))
                    sink += ph + out;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {
        "/", "/chosen", "/memory", "/psci", "/timer", "/pcie", "/intc", "/intc/its",
        "/smmuv3", "/pl011", "/cpus/cpu@0", "/flash@0", "//", "/chosen/", "chosen", "",
    };
    static const char *const compats[] = {
        "arm,pl011", "arm,gic-v3", "arm,gic-v3-its", "arm,armv8-timer", "arm,psci-0.2",
        "pci-host-ecam-generic", "arm,smmu-v3", "arm,cortex-a15-gic", "",
    };
    static int trace = -1;     /* FUZZ_TRACE=1: what the reader said, on stderr */
    if (trace < 0)
        trace = getenv("FUZZ_TRACE") != NULL;
    struct fdt f;
    int err = fdt_open(&f, data, size);
    if (trace)
        fprintf(stderr, "fdt_open: %d %s\n", err, err ? f.error : "");
    if (err) {
        check(f.error != NULL, "refusal without a reason");
        touch(f.error);
        return 0;
    }
    check(f.size <= size, "totalsize beyond the input");
    uint64_t base, sz;
    for (unsigned i = 0; i < 4096 && fdt_rsv(&f, i, &base, &sz); i++)
        sink += base + sz;
    unsigned seen = 0;
    walk(&f, 0, 0, &seen);
    for (unsigned i = 0; i < ARRAY_SIZE(paths); i++) {
        int n = fdt_path(&f, paths[i]);
        if (n >= 0)
            touch(fdt_node_name(&f, n));
    }
    for (unsigned i = 0; i < ARRAY_SIZE(compats); i++) {
        unsigned n = 0;
        for (int node = fdt_next_compatible(&f, -1, compats[i]); node >= 0 && n < 4096;
             node = fdt_next_compatible(&f, node, compats[i]), n++) {
            check(fdt_is_compatible(&f, node, compats[i]), "next_compatible's node");
            if (n < 2)
                read_node(&f, node);
        }
    }
    struct dt_platform p;
    const char *why = NULL;
    err = dt_platform_parse(&f, &p, &why);
    if (trace)
        fprintf(stderr, "dt_platform_parse: %d %s (pcie %d smmu %d gic %d its %d uart %d)\n", err,
                err ? why : "", p.pcie.present, p.smmu.present, p.gic.present, p.gic.its.present,
                p.uart.present);
    if (err) {
        check(why != NULL, "platform refused without a reason");
        touch(why);
        return 0;
    }
    read_platform(&f, &p);
    return 0;
}
