/* The device-tree reader and the platform facts: QEMU's own virt tree (with an SMMUv3, an edu and
 * a virtio-blk), every truncation of it, and hand-built hostile trees, each refused by name. All
 * blobs live in buffers of exactly their size, so ASan sees any read past them. */
#include <stdlib.h>
#include "kernel/fdt/dt_platform.h"
#include "lib/errno.h"
#include "tests/host/harness.h"

#ifndef FDT_FIXTURE
#error "FDT_FIXTURE names the dumped virt tree"
#endif

static uint8_t *load_fixture(size_t *len)
{
    FILE *fp = fopen(FDT_FIXTURE, "rb");
    if (!fp)
        return NULL;
    static uint8_t buf[65536];
    *len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    uint8_t *b = aligned_alloc(8, ALIGN_UP(*len, 8));
    memcpy(b, buf, *len);
    return b;
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)fdt_cells(p, 1); }
static void wr32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

TEST(qemu_virt_tree)
{
    size_t len;
    uint8_t *blob = load_fixture(&len);
    REQUIRE(blob);
    struct fdt f;
    REQUIRE(fdt_open(&f, blob, len) == 0);
    struct dt_platform p;
    const char *why;
    REQUIRE(dt_platform_parse(&f, &p, &why) == 0);
    CHECK_EQ(p.nr_mem, 1);
    CHECK_EQ(p.mem[0].base, 0x40000000);
    CHECK_EQ(p.mem[0].size, 512u << 20);
    CHECK(p.bootargs == NULL);
    CHECK(p.uart.present);
    CHECK_EQ(p.uart.base, 0x9000000);
    CHECK(p.rtc.present);                   /* QEMU virt's PL031 */
    CHECK_EQ(p.rtc.base, 0x9010000);
    CHECK_EQ(p.rtc.size, 0x1000);
    CHECK_EQ(p.uart.irq.intid, 33);
    REQUIRE(p.gic.present);
    CHECK_EQ(p.gic.dist_base, 0x8000000);
    CHECK_EQ(p.gic.nr_redist, 1);
    CHECK_EQ(p.gic.redist[0].base, 0x80a0000);
    CHECK_EQ(p.gic.redist[0].size, 0xf60000);
    CHECK(p.gic.its.present);
    CHECK_EQ(p.gic.its.base, 0x8080000);
    CHECK_EQ(p.gic.its.size, 0x20000);
    REQUIRE(p.timer.present);
    CHECK_EQ(p.timer.nr_irq, 4);
    CHECK_EQ(p.timer.irq[2].intid, 27);         /* the virtual timer: PPI 11, third */
    CHECK_EQ(p.timer.irq[2].kind, DT_IRQ_PPI);
    CHECK(p.psci.present && p.psci.hvc);
    REQUIRE(p.pcie.present);
    CHECK_EQ(p.pcie.ecam_base, 0x4010000000ULL);
    CHECK_EQ(p.pcie.ecam_size, 0x10000000);
    CHECK_EQ(p.pcie.bus_start, 0);
    CHECK_EQ(p.pcie.bus_end, 255);
    REQUIRE(p.pcie.nr_ranges == 3);
    CHECK_EQ(p.pcie.ranges[0].space, DT_PCI_IO);
    CHECK_EQ(p.pcie.ranges[0].cpu_addr, 0x3eff0000);
    CHECK_EQ(p.pcie.ranges[0].size, 0x10000);
    CHECK_EQ(p.pcie.ranges[1].space, DT_PCI_MEM32);
    CHECK_EQ(p.pcie.ranges[1].pci_addr, 0x10000000);
    CHECK_EQ(p.pcie.ranges[1].cpu_addr, 0x10000000);
    CHECK_EQ(p.pcie.ranges[1].size, 0x2eff0000);
    CHECK_EQ(p.pcie.ranges[2].space, DT_PCI_MEM64);
    CHECK_EQ(p.pcie.ranges[2].cpu_addr, 0x8000000000ULL);
    CHECK_EQ(p.pcie.ranges[2].size, 0x8000000000ULL);
    CHECK(p.pcie.coherent);
    REQUIRE(p.pcie.nr_msi_map == 1 && p.pcie.nr_iommu_map == 1);
    CHECK_EQ(p.pcie.msi_map[0].node, p.gic.its.node);
    CHECK_EQ(p.pcie.iommu_map[0].length, 0x10000);
    uint32_t ph, id;
    CHECK(dt_map_id(p.pcie.iommu_map, p.pcie.nr_iommu_map, 0x20, &ph, &id) && id == 0x20);
    CHECK_EQ(ph, p.smmu.phandle);
    REQUIRE(p.smmu.present);
    CHECK_EQ(p.smmu.base, 0x9050000);
    CHECK_EQ(p.smmu.size, 0x20000);
    CHECK(p.smmu.coherent);
    REQUIRE(p.smmu.nr_irq == 4);
    CHECK_STR(p.smmu.irq_name[0], "eventq");
    CHECK_STR(p.smmu.irq_name[3], "gerror");
    CHECK_EQ(p.smmu.irq[0].intid, 32 + 0x4a);
    CHECK_EQ(p.smmu.irq[0].flags, 1);
    /* virt's INTx wiring: slot s pin p (1-4) -> SPI 3 + (s + p - 1) % 4, level-high. */
    for (unsigned slot = 0; slot < 32; slot++)
        for (unsigned pin = 1; pin <= 4; pin++) {
            struct dt_irq irq;
            REQUIRE(dt_pci_intx(&f, p.pcie.node, 0, slot << 3, pin, &irq) == 0);
            CHECK_EQ(irq.intid, 32 + 3 + (slot + pin - 1) % 4);
            CHECK_EQ(irq.flags, 4);
        }
    struct dt_irq none;
    CHECK_EQ(dt_pci_intx(&f, p.pcie.node, 0, 3 << 3, 0, &none), -ENOENT);
    CHECK_EQ(dt_pci_intx(&f, p.gic.node, 0, 3 << 3, 1, &none), -EINVAL);  /* no map there */
    CHECK_EQ(fdt_path(&f, "/intc/its"), p.gic.its.node);
    CHECK_EQ(fdt_path(&f, "/intc@8000000/its@8080000"), p.gic.its.node);
    CHECK_EQ(fdt_path(&f, "/intc@8000001"), -1);
    CHECK_EQ(fdt_parent(&f, p.gic.its.node), p.gic.node);
    free(blob);
}

/* Every prefix of the blob, presented as all there is: refused, never read past. */
TEST(every_truncation_refused)
{
    size_t len;
    uint8_t *full = load_fixture(&len);
    REQUIRE(full);
    for (size_t n = 0; n < len; n++) {
        uint8_t *b = aligned_alloc(8, n ? ALIGN_UP(n, 8) : 8);
        memcpy(b, full, n);
        struct fdt f;
        CHECK_EQ(fdt_open(&f, b, n), -EINVAL);
        free(b);
    }
    free(full);
}

/* Truncations that also shrink the header's sizes (a consistent-looking but cut tree): the
 * structure block cut at every 4 bytes, and the strings block cut at every byte. */
TEST(truncated_blocks_refused)
{
    size_t len;
    uint8_t *full = load_fixture(&len);
    REQUIRE(full);
    uint32_t size_struct = rd32(full + 36), size_strings = rd32(full + 32);
    for (uint32_t s = 0; s < size_struct; s += 4) {
        uint8_t *b = aligned_alloc(8, ALIGN_UP(len, 8));
        memcpy(b, full, len);
        wr32(b + 36, s);
        struct fdt f;
        CHECK_EQ(fdt_open(&f, b, len), -EINVAL);
        free(b);
    }
    unsigned strings_refused = 0;
    for (uint32_t s = 0; s < size_strings; s++) {
        uint8_t *b = aligned_alloc(8, ALIGN_UP(len, 8));
        memcpy(b, full, len);
        wr32(b + 32, s);
        struct fdt f;
        if (fdt_open(&f, b, len) == -EINVAL)
            strings_refused++;
        free(b);
    }
    /* dtc keeps only the names in use, the last one ending the block: every cut leaves some
     * property's name (or its NUL) outside it. */
    CHECK_EQ(strings_refused, size_strings);
    free(full);
}

/* Walks everything a caller could ask of an accepted tree (ASan/UBSan watch every read). */
static unsigned walk_all(const struct fdt *f, int node, unsigned depth)
{
    unsigned n = 1;
    uint32_t len;
    (void)fdt_node_name(f, node);
    (void)fdt_prop(f, node, "reg", &len);
    (void)fdt_prop_str(f, node, "compatible");
    (void)fdt_parent(f, node);
    uint64_t b, s;
    (void)fdt_reg(f, node, 0, &b, &s);
    struct dt_irq irq;
    (void)dt_irq(f, node, 0, &irq);
    for (int c = fdt_first_child(f, node); c >= 0 && depth < FDT_MAX_DEPTH + 1;
         c = fdt_next_sibling(f, c))
        n += walk_all(f, c, depth + 1);
    return n;
}

/* Every byte of the blob damaged (in turn: its low bit flipped, set to 0xff, set to 0x00): the
 * tree is refused by name or, when it still passes, parses and walks without reading out of
 * bounds. */
TEST(every_byte_corrupted)
{
    size_t len;
    uint8_t *full = load_fixture(&len);
    REQUIRE(full);
    unsigned refused = 0, accepted = 0;
    uint8_t *b = aligned_alloc(8, ALIGN_UP(len, 8));
    for (size_t i = 0; i < len; i++) {
        const uint8_t vals[3] = { (uint8_t)(full[i] ^ 1), 0xff, 0x00 };
        if (vals[i % 3] == full[i])
            continue;
        memcpy(b, full, len);
        b[i] = vals[i % 3];
        struct fdt f;
        if (fdt_open(&f, b, len)) {
            CHECK(f.error != NULL && f.error[0] != '\0');
            refused++;
            continue;
        }
        accepted++;
        struct dt_platform p;
        const char *why;
        if (dt_platform_parse(&f, &p, &why))
            CHECK(why != NULL && why[0] != '\0');
        else if (p.pcie.present)
            for (unsigned pin = 1; pin <= 4; pin++) {
                struct dt_irq irq;
                (void)dt_pci_intx(&f, p.pcie.node, 0, (pin + 2) << 3, pin, &irq);
            }
        CHECK(walk_all(&f, 0, 0) >= 1);
        (void)fdt_path(&f, "/intc/its");
        (void)fdt_by_phandle(&f, 0x8003);
        (void)fdt_next_compatible(&f, -1, "arm,pl011");
    }
    free(b);
    /* Both kinds must occur: header and token damage is refused, damage inside values is not
     * (it changes facts, which the parser checks where it can). */
    CHECK(refused > 0);
    CHECK(accepted > 0);
    free(full);
}

/* A tiny tree builder for hostile blobs. */
struct builder {
    uint8_t st[4096], str[1024];
    uint32_t nst, nstr;
};

static void put32(struct builder *b, uint32_t v) { wr32(b->st + b->nst, v); b->nst += 4; }
static void begin(struct builder *b, const char *name)
{
    put32(b, 1);
    size_t n = strlen(name) + 1;
    memcpy(b->st + b->nst, name, n);
    b->nst += ALIGN_UP((uint32_t)n, 4u);
}
static void end(struct builder *b) { put32(b, 2); }
static uint32_t str_off(struct builder *b, const char *s)
{
    uint32_t o = b->nstr;
    size_t n = strlen(s) + 1;
    memcpy(b->str + o, s, n);
    b->nstr += (uint32_t)n;
    return o;
}
static void prop(struct builder *b, const char *name, const void *v, uint32_t len)
{
    put32(b, 3);
    put32(b, len);
    put32(b, str_off(b, name));
    memcpy(b->st + b->nst, v, len);
    b->nst += ALIGN_UP(len, 4u);
}
static void prop_u32s(struct builder *b, const char *name, const uint32_t *v, unsigned n)
{
    uint8_t buf[256];
    for (unsigned i = 0; i < n; i++)
        wr32(buf + 4 * i, v[i]);
    prop(b, name, buf, 4 * n);
}

/* header + empty reservation block + structure + strings, in a buffer of exactly its size. */
static uint8_t *finish(struct builder *b, size_t *len)
{
    uint32_t off_rsv = 40, off_st = 56, off_str = off_st + b->nst;
    *len = off_str + b->nstr;
    uint8_t *blob = aligned_alloc(8, ALIGN_UP(*len, 8));
    memset(blob, 0, ALIGN_UP(*len, 8));
    wr32(blob, FDT_MAGIC);
    wr32(blob + 4, (uint32_t)*len);
    wr32(blob + 8, off_st);
    wr32(blob + 12, off_str);
    wr32(blob + 16, off_rsv);
    wr32(blob + 20, 17);
    wr32(blob + 24, 16);
    wr32(blob + 32, b->nstr);
    wr32(blob + 36, b->nst);
    memcpy(blob + off_st, b->st, b->nst);
    memcpy(blob + off_str, b->str, b->nstr);
    return blob;
}

static void memory_node(struct builder *b)
{
    static const uint32_t two = 2, one = 1;
    prop_u32s(b, "#address-cells", &two, 1);
    prop_u32s(b, "#size-cells", &one, 1);
    begin(b, "memory@40000000");
    prop(b, "device_type", "memory", 7);
    static const uint32_t reg[] = { 0, 0x40000000, 0x10000000 };
    prop_u32s(b, "reg", reg, 3);
    end(b);
}

static const char *open_why(struct builder *b)
{
    size_t len;
    uint8_t *blob = finish(b, &len);
    struct fdt f;
    static char why[128];
    int err = fdt_open(&f, blob, len);
    snprintf(why, sizeof(why), "%s", err ? f.error : "accepted");
    free(blob);
    return why;
}

static const char *parse_why(struct builder *b)
{
    size_t len;
    uint8_t *blob = finish(b, &len);
    struct fdt f;
    static char why[128];
    if (fdt_open(&f, blob, len)) {
        snprintf(why, sizeof(why), "open: %s", f.error);
    } else {
        struct dt_platform p;
        const char *w;
        snprintf(why, sizeof(why), "%s", dt_platform_parse(&f, &p, &w) ? w : "accepted");
    }
    free(blob);
    return why;
}

TEST(minimal_tree_accepted)
{
    struct builder b = { 0 };
    begin(&b, "");
    memory_node(&b);
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "accepted");
    CHECK_STR(parse_why(&b), "accepted");
}

TEST(hostile_structure_refused_by_name)
{
    struct builder b = { 0 };
    begin(&b, "");                           /* never closed */
    put32(&b, 9);
    CHECK_STR(open_why(&b), "END token inside an open node");

    b = (struct builder){ 0 };
    for (int i = 0; i < FDT_MAX_DEPTH + 2; i++)
        begin(&b, "n");
    for (int i = 0; i < FDT_MAX_DEPTH + 2; i++)
        end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "nodes nested too deep");

    b = (struct builder){ 0 };
    begin(&b, "");
    end(&b);
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "END_NODE without a node");

    b = (struct builder){ 0 };
    begin(&b, "");
    end(&b);
    begin(&b, "");
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "second root node");

    b = (struct builder){ 0 };
    begin(&b, "");
    put32(&b, 7);
    CHECK_STR(open_why(&b), "unknown structure token");

    /* A NOP before the root (libFuzzer's fuzz_fdt): the tree would hide behind node 0. */
    b = (struct builder){ 0 };
    put32(&b, 4);
    begin(&b, "");
    memory_node(&b);
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "structure block does not begin with the root node");

    b = (struct builder){ 0 };
    begin(&b, "");
    end(&b);
    CHECK_STR(open_why(&b), "structure block ends without an END token");

    /* A property whose length runs past the structure block. */
    b = (struct builder){ 0 };
    begin(&b, "");
    put32(&b, 3);
    put32(&b, 0x7ffffff0);
    put32(&b, str_off(&b, "x"));
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "property past the structure block");

    /* A name offset past the strings block, and a name with no NUL in it. */
    b = (struct builder){ 0 };
    begin(&b, "");
    put32(&b, 3);
    put32(&b, 0);
    put32(&b, 5000);
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "property name offset past the strings block");

    b = (struct builder){ 0 };
    begin(&b, "");
    put32(&b, 3);
    put32(&b, 0);
    put32(&b, 0);
    memcpy(b.str, "abc", 3);
    b.nstr = 3;
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "property name past the strings block");

    /* An overlong node name (no NUL for 300 bytes) and one cut by the block's end. */
    b = (struct builder){ 0 };
    put32(&b, 1);
    memset(b.st + b.nst, 'a', 300);
    b.nst += 300;
    put32(&b, 0);
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "node name too long");

    b = (struct builder){ 0 };
    put32(&b, 1);
    memset(b.st + b.nst, 'a', 8);
    b.nst += 8;
    CHECK_STR(open_why(&b), "node name past the structure block");

    b = (struct builder){ 0 };
    memset(b.str, 'p', 400);
    b.nstr = 401;
    begin(&b, "");
    put32(&b, 3);
    put32(&b, 0);
    put32(&b, 0);
    end(&b);
    put32(&b, 9);
    CHECK_STR(open_why(&b), "property name too long");
}

TEST(hostile_header_refused_by_name)
{
    struct builder b = { 0 };
    begin(&b, "");
    end(&b);
    put32(&b, 9);
    size_t len;
    uint8_t *good = finish(&b, &len);
    struct {
        unsigned field;
        uint32_t value;
        const char *why;
    } cases[] = {
        { 0, 0xfeedd00d, "bad magic" },
        { 4, 0xffffffff, "totalsize past the blob" },
        { 8, 0xfffffff0, "structure block past totalsize" },
        { 36, 0xfffffff0, "structure block past totalsize" },
        { 12, 0xfffffff0, "strings block past totalsize" },
        { 32, 0x10000, "strings block past totalsize" },
        { 16, 0xfffffff0, "reservation block past totalsize" },
        { 16, 44, "reservation block not 8-byte aligned" },
        { 8, 58, "structure block not 4-byte aligned" },
        { 20, 16, "unsupported version (moat reads 17)" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t *b2 = aligned_alloc(8, ALIGN_UP(len, 8));
        memcpy(b2, good, len);
        wr32(b2 + cases[i].field, cases[i].value);
        struct fdt f;
        CHECK_EQ(fdt_open(&f, b2, len), -EINVAL);
        CHECK_STR(f.error ? f.error : "accepted", cases[i].why);
        free(b2);
    }
    /* Misaligned in memory, and smaller than a header. */
    uint8_t *odd = malloc(len + 1);
    memcpy(odd + 1, good, len);
    struct fdt f;
    CHECK_EQ(fdt_open(&f, odd + 1, len), -EINVAL);
    CHECK_STR(f.error, "blob not 8-byte aligned");
    CHECK_EQ(fdt_open(&f, good, 39), -EINVAL);
    CHECK_STR(f.error, "blob smaller than the header");
    free(odd);
    free(good);
}

/* interrupt-parent pointing at itself, and a chain of parents: bounded, the IRQ unresolved. */
/* A tree of memory, a three-cell interrupt controller (phandle 9) when gic, and a PL011 whose
 * interrupt-parent is parent (its own phandle 7 when 7) and interrupts irq[0..2]; parsed into
 * *p, which must succeed. */
static void console_tree(struct dt_platform *p, bool gic, uint32_t parent, const uint32_t *irq)
{
    static const uint32_t gic_ph = 9, three = 3, self = 7;
    static const uint32_t reg[] = { 0, 0x9000000, 0x1000 };
    static const char compat[] = "arm,pl011";
    struct builder b = { 0 };
    begin(&b, "");
    memory_node(&b);
    if (gic) {
        begin(&b, "intc@8000000");
        prop_u32s(&b, "phandle", &gic_ph, 1);
        prop_u32s(&b, "#interrupt-cells", &three, 1);
        prop(&b, "interrupt-controller", "", 0);
        end(&b);
    }
    begin(&b, "pl011@9000000");
    prop(&b, "compatible", compat, sizeof(compat));
    prop_u32s(&b, "reg", reg, 3);
    if (parent == self)
        prop_u32s(&b, "phandle", &self, 1);
    prop_u32s(&b, "interrupt-parent", &parent, 1);
    prop_u32s(&b, "interrupts", irq, 3);
    end(&b);
    end(&b);
    put32(&b, 9);
    size_t len;
    uint8_t *blob = finish(&b, &len);
    struct fdt f;
    const char *why;
    REQUIRE(fdt_open(&f, blob, len) == 0);
    REQUIRE(dt_platform_parse(&f, p, &why) == 0);
    CHECK(p->uart.present);
    free(blob);
}

TEST(interrupt_parent_loop_bounded)
{
    static const uint32_t irq[] = { 0, 1, 4 };
    struct dt_platform p;
    console_tree(&p, false, 7, irq);            /* the console is its own interrupt parent */
    CHECK_EQ(p.uart.irq.intid, 0);              /* not a 3-cell controller: unresolved */
}

/* A console whose interrupt is out of range (found by fuzz_fdt: the cells were stored, intid
 * left 0): the device is kept, its interrupt is none, every field zero. */
TEST(uart_bad_interrupt_left_none)
{
    static const uint32_t spi_bad[] = { 0, 5000, 4 }, ppi_bad[] = { 1, 16, 4 };
    static const uint32_t good[] = { 0, 1, 4 };
    const uint32_t *bad[] = { spi_bad, ppi_bad };
    struct dt_platform p;
    for (unsigned c = 0; c < 2; c++) {
        console_tree(&p, true, 9, bad[c]);
        CHECK_EQ(p.uart.irq.intid, 0);
        CHECK_EQ(p.uart.irq.kind, 0);
        CHECK_EQ(p.uart.irq.num, 0);
        CHECK_EQ(p.uart.irq.flags, 0);
    }
    console_tree(&p, true, 9, good);            /* the same tree, SPI 1: intid 33 */
    CHECK_EQ(p.uart.irq.intid, 33);
    CHECK_EQ(p.uart.irq.num, 1);
    CHECK_EQ(p.uart.irq.flags, 4);
}

TEST(hostile_facts_refused_by_name)
{
    /* No memory. */
    struct builder b = { 0 };
    begin(&b, "");
    end(&b);
    put32(&b, 9);
    CHECK_STR(parse_why(&b), "no memory node");

    /* A PCIe host whose bus range needs more ECAM than its reg gives. */
    b = (struct builder){ 0 };
    begin(&b, "");
    memory_node(&b);
    begin(&b, "pcie@10000000");
    static const char compat[] = "pci-host-ecam-generic";
    prop(&b, "compatible", compat, sizeof(compat));
    static const uint32_t reg[] = { 0x40, 0x10000000, 0x100000 }, bus[] = { 0, 255 };
    prop_u32s(&b, "reg", reg, 3);
    prop_u32s(&b, "bus-range", bus, 2);
    end(&b);
    end(&b);
    put32(&b, 9);
    CHECK_STR(parse_why(&b), "bus-range outside the ECAM window");

    /* ranges with a length that is not a whole number of entries; msi-map to no node. */
    b = (struct builder){ 0 };
    begin(&b, "");
    memory_node(&b);
    begin(&b, "pcie@10000000");
    prop(&b, "compatible", compat, sizeof(compat));
    static const uint32_t reg2[] = { 0x40, 0x10000000, 0x10000000 }, three = 3, two = 2;
    prop_u32s(&b, "reg", reg2, 3);
    prop_u32s(&b, "#address-cells", &three, 1);
    prop_u32s(&b, "#size-cells", &two, 1);
    static const uint32_t ranges[] = { 0x2000000, 0, 0x10000000, 0, 0x10000000 };
    prop_u32s(&b, "ranges", ranges, 5);
    end(&b);
    end(&b);
    put32(&b, 9);
    CHECK_STR(parse_why(&b), "PCIe host ranges malformed");

    b = (struct builder){ 0 };
    begin(&b, "");
    memory_node(&b);
    begin(&b, "pcie@10000000");
    prop(&b, "compatible", compat, sizeof(compat));
    prop_u32s(&b, "reg", reg2, 3);
    static const uint32_t msi[] = { 0, 0x99, 0, 0x10000 };
    prop_u32s(&b, "msi-map", msi, 4);
    end(&b);
    end(&b);
    put32(&b, 9);
    CHECK_STR(parse_why(&b), "msi-map entry out of range or to no node");

    /* PSCI with an unknown conduit. */
    b = (struct builder){ 0 };
    begin(&b, "");
    memory_node(&b);
    begin(&b, "psci");
    static const char psci[] = "arm,psci-0.2", method[] = "svc";
    prop(&b, "compatible", psci, sizeof(psci));
    prop(&b, "method", method, sizeof(method));
    end(&b);
    end(&b);
    put32(&b, 9);
    CHECK_STR(parse_why(&b), "PSCI method neither hvc nor smc");
}
