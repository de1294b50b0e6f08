/* ACPI DMAR parsing (VT-d spec ch. 8). Each remapping structure is bounds-checked against the
 * table, each device scope against its structure, before anything is kept. */
#include "iommu/intel/dmar.h"
#include "iommu/intel/vtd_hw.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

static const char *const dmar_type_names[] = { "DRHD", "RMRR", "ATSR", "RHSA", "ANDD", "SATC",
                                               "SIDP" };

static const char *dmar_type_name(unsigned t)
{
    return t < ARRAY_SIZE(dmar_type_names) ? dmar_type_names[t] : "unknown structure";
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void dmar_reject(struct vtd_dmar *d, unsigned type, size_t off, const char *why)
{
    kprintf("dmar: %s at offset %#zx rejected: %s\n", dmar_type_name(type), off, why);
    d->nr_rejected++;
}

/* One device scope at p (avail bytes left in its structure); its length, or 0 when malformed. */
static size_t scope_parse(const uint8_t *p, size_t avail, struct vtd_dmar_scope *s,
                          const char **why)
{
    if (avail < SCOPE_HDR_LEN) {
        *why = "device scope header past the end of the structure";
        return 0;
    }
    size_t len = p[1];
    if (len < SCOPE_HDR_LEN || (len - SCOPE_HDR_LEN) % 2) {
        *why = "device scope length is not 6 + 2n";
        return 0;
    }
    if (len > avail) {
        *why = "device scope past the end of the structure";
        return 0;
    }
    size_t npath = (len - SCOPE_HDR_LEN) / 2;
    if (npath == 0 || npath > VTD_DMAR_MAX_PATH) {
        *why = "device scope path empty or too deep";
        return 0;
    }
    s->type = p[0];
    s->enum_id = p[SCOPE_OFF_ENUM_ID];
    s->start_bus = p[SCOPE_OFF_START_BUS];
    s->npath = (uint8_t)npath;
    for (size_t i = 0; i < npath; i++) {
        uint8_t dev = p[SCOPE_HDR_LEN + 2 * i], fn = p[SCOPE_HDR_LEN + 2 * i + 1];
        if (dev > 31 || fn > 7) {
            *why = "device scope path names device > 31 or function > 7";
            return 0;
        }
        s->path[i] = (uint8_t)(dev << 3 | fn);
    }
    return len;
}

/* All scopes from p to p + len; false (nothing kept) when any is malformed. */
static bool scopes_parse(const uint8_t *p, size_t len, struct vtd_dmar_scopes *sc,
                         const char **why)
{
    sc->n = 0;
    size_t off = 0;
    while (off < len) {
        struct vtd_dmar_scope s;
        size_t n = scope_parse(p + off, len - off, &s, why);
        if (!n)
            return false;
        off += n;
        if (s.type < SCOPE_PCI_ENDPOINT || s.type > SCOPE_ACPI_NAMESPACE_DEVICE)
            continue;       /* reserved scope types are skipped, as 8.3.1 asks */
        if (sc->n == VTD_DMAR_MAX_SCOPES) {
            *why = "too many device scopes";
            return false;
        }
        sc->s[sc->n++] = s;
    }
    return true;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

static const char *drhd_check(const struct vtd_dmar *d, const struct vtd_drhd *u)
{
    if (u->base == 0)
        return "register base address is zero";
    if (u->base & 0xfff)
        return "register base address is not 4 KiB aligned";
    if (u->base + u->size < u->base)
        return "register set wraps around";
    for (unsigned i = 0; i < d->nr_units; i++) {
        if (ranges_overlap(u->base, u->size, d->unit[i].base, d->unit[i].size))
            return "register set overlaps an earlier unit";
        if (u->include_all && d->unit[i].include_all && d->unit[i].seg == u->seg)
            return "a second INCLUDE_PCI_ALL unit on the same segment";
    }
    return NULL;
}

static bool scope_equal(const struct vtd_dmar_scope *a, const struct vtd_dmar_scope *b)
{
    return a->type == b->type && a->start_bus == b->start_bus && a->npath == b->npath &&
           memcmp(a->path, b->path, a->npath) == 0;
}

/* Two units claiming the same PCI scope: which one translates the device would depend on
 * table order, so the later unit is refused. */
static const char *drhd_check_claims(const struct vtd_dmar *d, const struct vtd_drhd *u)
{
    for (unsigned i = 0; i < d->nr_units; i++) {
        if (d->unit[i].seg != u->seg)
            continue;
        for (unsigned a = 0; a < u->scopes.n; a++) {
            const struct vtd_dmar_scope *s = &u->scopes.s[a];
            if (s->type != SCOPE_PCI_ENDPOINT && s->type != SCOPE_PCI_SUB_HIERARCHY)
                continue;
            for (unsigned b = 0; b < d->unit[i].scopes.n; b++)
                if (scope_equal(s, &d->unit[i].scopes.s[b]))
                    return "claims a device scope an earlier unit already claims";
        }
    }
    return NULL;
}

static void drhd_parse(struct vtd_dmar *d, const uint8_t *p, size_t len, size_t off)
{
    if (len < DRHD_LEN) {
        dmar_reject(d, DMAR_TYPE_DRHD, off, "shorter than its fixed fields");
        return;
    }
    if (d->nr_units == VTD_DMAR_MAX_UNITS) {
        dmar_reject(d, DMAR_TYPE_DRHD, off, "too many units");
        return;
    }
    struct vtd_drhd *u = &d->unit[d->nr_units];
    memset(u, 0, sizeof(*u));
    u->include_all = p[DRHD_OFF_FLAGS] & DRHD_FLAG_INCLUDE_PCI_ALL;
    unsigned size_pages = p[DRHD_OFF_SIZE] & 0xf;
    u->size = 4096ULL << size_pages;
    u->seg = rd16(p + DRHD_OFF_SEGMENT);
    u->base = rd64(p + DRHD_OFF_BASE);
    const char *why = drhd_check(d, u);
    if (!why)
        scopes_parse(p + DRHD_LEN, len - DRHD_LEN, &u->scopes, &why);
    if (!why && !u->include_all && u->scopes.n == 0)
        why = "no device scope and not INCLUDE_PCI_ALL";
    if (!why)
        why = drhd_check_claims(d, u);
    if (why) {
        dmar_reject(d, DMAR_TYPE_DRHD, off, why);
        return;
    }
    d->nr_units++;
}

static void rmrr_parse(struct vtd_dmar *d, const uint8_t *p, size_t len, size_t off)
{
    if (len < RMRR_LEN) {
        dmar_reject(d, DMAR_TYPE_RMRR, off, "shorter than its fixed fields");
        return;
    }
    if (d->nr_rmrr == VTD_DMAR_MAX_RMRR) {
        dmar_reject(d, DMAR_TYPE_RMRR, off, "too many RMRRs");
        return;
    }
    struct vtd_rmrr *r = &d->rmrr[d->nr_rmrr];
    r->seg = rd16(p + RMRR_OFF_SEGMENT);
    r->base = rd64(p + RMRR_OFF_BASE);
    r->limit = rd64(p + RMRR_OFF_LIMIT);
    const char *why = NULL;
    if ((r->base & 0xfff) || ((r->limit + 1) & 0xfff))
        why = "base or limit + 1 not 4 KiB aligned";
    else if (r->limit < r->base)
        why = "limit below base";
    else if (r->limit >= VTD_INTR_ADDR_FIRST && r->base <= VTD_INTR_ADDR_LAST)
        why = "overlaps the interrupt address range";
    else
        scopes_parse(p + RMRR_LEN, len - RMRR_LEN, &r->scopes, &why);
    if (!why && r->scopes.n == 0)
        why = "names no device";
    if (why) {
        dmar_reject(d, DMAR_TYPE_RMRR, off, why);
        return;
    }
    d->nr_rmrr++;
}

/* ATSR and SATC share a layout: flags byte, segment, scopes. */
static void atsr_parse(struct vtd_dmar *d, unsigned type, const uint8_t *p, size_t len,
                       size_t off)
{
    bool satc = type == DMAR_TYPE_SATC;
    unsigned *n = satc ? &d->nr_satc : &d->nr_atsr;
    unsigned max = satc ? VTD_DMAR_MAX_SATC : VTD_DMAR_MAX_ATSR;
    if (len < ATSR_LEN) {
        dmar_reject(d, type, off, "shorter than its fixed fields");
        return;
    }
    if (*n == max) {
        dmar_reject(d, type, off, "too many");
        return;
    }
    struct vtd_atsr *a = satc ? &d->satc[*n] : &d->atsr[*n];
    a->flag = p[ATSR_OFF_FLAGS] & 1;
    a->seg = rd16(p + ATSR_OFF_SEGMENT);
    const char *why = NULL;
    scopes_parse(p + ATSR_LEN, len - ATSR_LEN, &a->scopes, &why);
    if (why) {
        dmar_reject(d, type, off, why);
        return;
    }
    (*n)++;
}

/* RHSA names a unit by register base; it may come before or after its DRHD. */
static void rhsa_apply(struct vtd_dmar *d, const uint8_t *p, size_t len, size_t off)
{
    if (len < RHSA_LEN) {
        dmar_reject(d, DMAR_TYPE_RHSA, off, "shorter than its fixed fields");
        return;
    }
    uint64_t base = rd64(p + RHSA_OFF_BASE);
    for (unsigned i = 0; i < d->nr_units; i++) {
        if (d->unit[i].base == base) {
            d->unit[i].has_rhsa = true;
            d->unit[i].proximity = rd32(p + RHSA_OFF_PROXIMITY);
            return;
        }
    }
    dmar_reject(d, DMAR_TYPE_RHSA, off, "names no known unit");
}

/* Walks the structures; returns false when the walk itself cannot go on. */
static bool dmar_walk(struct vtd_dmar *d, const uint8_t *t, size_t len, bool rhsa_pass)
{
    size_t off = DMAR_HEADER_LEN;
    while (off < len) {
        if (len - off < 4) {
            if (!rhsa_pass)
                dmar_reject(d, 0xffff, off, "structure header past the end of the table");
            return false;
        }
        unsigned type = rd16(t + off), slen = rd16(t + off + 2);
        if (slen < 4 || slen > len - off) {
            if (!rhsa_pass)
                dmar_reject(d, type, off, slen < 4 ? "zero or too short length: walk stops"
                                                   : "length past the end of the table");
            return false;
        }
        if (rhsa_pass && type == DMAR_TYPE_RHSA)
            rhsa_apply(d, t + off, slen, off);
        else if (!rhsa_pass && type == DMAR_TYPE_DRHD)
            drhd_parse(d, t + off, slen, off);
        else if (!rhsa_pass && type == DMAR_TYPE_RMRR)
            rmrr_parse(d, t + off, slen, off);
        else if (!rhsa_pass && (type == DMAR_TYPE_ATSR || type == DMAR_TYPE_SATC))
            atsr_parse(d, type, t + off, slen, off);
        off += slen;
    }
    return true;
}

int vtd_dmar_parse(const void *table, size_t len, struct vtd_dmar *out)
{
    const uint8_t *t = table;
    memset(out, 0, sizeof(*out));
    if (!t || len < DMAR_HEADER_LEN || rd32(t + 4) < len) {
        kprintf("dmar: table shorter than its header\n");
        return -EINVAL;
    }
    out->haw = t[DMAR_OFF_HAW] + 1u;
    out->flags = t[DMAR_OFF_FLAGS];
    if (out->haw < 32) {
        kprintf("dmar: host address width %u is impossible\n", out->haw);
        return -EINVAL;
    }
    dmar_walk(out, t, len, false);
    dmar_walk(out, t, len, true);
    if (out->nr_units == 0) {
        kprintf("dmar: no usable DMA remapping unit\n");
        return -EINVAL;
    }
    return 0;
}

/* Follows s's path from its start bus to the (bus, devfn) it names. */
static bool scope_resolve(const struct vtd_dmar_scope *s, uint16_t seg, vtd_bridge_fn bridge,
                          void *ctx, uint8_t *bus, uint8_t *devfn)
{
    uint8_t b = s->start_bus;
    for (unsigned i = 0; i + 1 < s->npath; i++) {
        uint8_t sec, sub;
        if (!bridge || !bridge(ctx, seg, b, s->path[i], &sec, &sub))
            return false;
        b = sec;
    }
    *bus = b;
    *devfn = s->path[s->npath - 1];
    return true;
}

bool vtd_scopes_match(const struct vtd_dmar_scopes *sc, uint16_t seg, uint16_t scope_seg,
                      uint8_t bus, uint8_t devfn, vtd_bridge_fn bridge, void *ctx)
{
    if (seg != scope_seg)
        return false;
    for (unsigned i = 0; i < sc->n; i++) {
        const struct vtd_dmar_scope *s = &sc->s[i];
        uint8_t b, df, sec, sub;
        if (s->type != SCOPE_PCI_ENDPOINT && s->type != SCOPE_PCI_SUB_HIERARCHY)
            continue;
        if (!scope_resolve(s, seg, bridge, ctx, &b, &df))
            continue;
        if (b == bus && df == devfn)
            return true;
        if (s->type == SCOPE_PCI_SUB_HIERARCHY && bridge && bridge(ctx, seg, b, df, &sec, &sub) &&
            bus >= sec && bus <= sub)
            return true;
    }
    return false;
}

int vtd_dmar_unit_for(const struct vtd_dmar *d, uint16_t seg, uint8_t bus, uint8_t devfn,
                      vtd_bridge_fn bridge, void *ctx)
{
    int all = -ENODEV;
    for (unsigned i = 0; i < d->nr_units; i++) {
        const struct vtd_drhd *u = &d->unit[i];
        if (u->include_all) {
            if (u->seg == seg && all < 0)
                all = (int)i;
            continue;
        }
        if (vtd_scopes_match(&u->scopes, seg, u->seg, bus, devfn, bridge, ctx))
            return (int)i;
    }
    return all;
}

void vtd_dmar_print(const struct vtd_dmar *d)
{
    kprintf("dmar: host address width %u, flags %#x%s\n", d->haw, d->flags,
            d->flags & DMAR_FLAG_INTR_REMAP ? " (interrupt remapping)" : "");
    for (unsigned i = 0; i < d->nr_units; i++)
        kprintf("dmar:   DRHD %u: registers %#llx, segment %u, %s%u scopes\n", i,
                (unsigned long long)d->unit[i].base, d->unit[i].seg,
                d->unit[i].include_all ? "INCLUDE_PCI_ALL, " : "", d->unit[i].scopes.n);
    for (unsigned i = 0; i < d->nr_rmrr; i++)
        kprintf("dmar:   RMRR %#llx-%#llx, segment %u, %u scopes\n",
                (unsigned long long)d->rmrr[i].base, (unsigned long long)d->rmrr[i].limit,
                d->rmrr[i].seg, d->rmrr[i].scopes.n);
    if (d->nr_atsr || d->nr_satc || d->nr_rejected)
        kprintf("dmar:   %u ATSR, %u SATC, %u structures rejected\n", d->nr_atsr, d->nr_satc,
                d->nr_rejected);
}
