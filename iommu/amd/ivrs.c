/* ACPI IVRS parsing (AMD IOMMU spec ch. 5). Each block is bounds-checked against the table and
 * each device entry against its block before anything is kept. A block whose entries cannot be
 * walked (an entry past its end, an entry type of unknown length, a range start without its
 * end) is rejected whole: a half-understood device list could leave a device out. */
#include "iommu/amd/amdvi_hw.h"
#include "iommu/amd/ivrs.h"
#include "lib/errno.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/string.h"

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static const char *ivrs_block_name(unsigned type)
{
    switch (type) {
    case IVRS_TYPE_IVHD10: return "IVHD type 10h";
    case IVRS_TYPE_IVHD11: return "IVHD type 11h";
    case IVRS_TYPE_IVHD40: return "IVHD type 40h";
    case IVRS_TYPE_IVMD_ALL: return "IVMD type 20h";
    case IVRS_TYPE_IVMD_ONE: return "IVMD type 21h";
    case IVRS_TYPE_IVMD_RANGE: return "IVMD type 22h";
    default: return "unknown block";
    }
}

static void ivrs_reject(struct amdvi_ivrs *iv, unsigned type, size_t off, const char *why)
{
    kprintf("ivrs: %s (%#x) at offset %#zx rejected: %s\n", ivrs_block_name(type), type, off,
            why);
    iv->nr_rejected++;
}

/* ---- IVHD device entries ---- */

/* The length of the entry at p (avail bytes left in the block), 0 when it cannot be walked. */
static size_t ivhd_entry_len(const uint8_t *p, size_t avail, const char **why)
{
    size_t len;
    if (p[0] == IVHD_DEV_ACPI_HID) {
        if (avail < IVHD_HID_LEN) {
            *why = "ACPI HID entry past the end of the block";
            return 0;
        }
        len = IVHD_HID_LEN + (size_t)p[IVHD_HID_OFF_UIDLEN];
    } else if (p[0] < 0x80) {
        len = 4u << (p[0] >> 6);
    } else {
        *why = "device entry of a type whose length is unknown";
        return 0;
    }
    if (len > avail) {
        *why = "device entry past the end of the block";
        return 0;
    }
    return len;
}

struct ivhd_walk {
    struct amdvi_ivhd *h;
    const uint8_t *start;               /* a pending range start entry, or NULL */
    const char *why;
};

static void ivhd_note_devid(struct amdvi_ivhd *h, uint16_t last)
{
    if (last > h->last_devid)
        h->last_devid = last;
}

static bool ivhd_add_range(struct ivhd_walk *w, uint16_t first, uint16_t last, const uint8_t *e)
{
    struct amdvi_ivhd *h = w->h;
    bool ext = e[0] == IVHD_DEV_EXT_SELECT || e[0] == IVHD_DEV_EXT_RANGE;
    struct amdvi_ivrs_range r = { first, last, e[IVHD_ENT_OFF_SETTING], ext,
                                  ext ? rd32(e + IVHD_EXT_OFF_DATA) : 0 };
    ivhd_note_devid(h, last);
    /* Firmware (QEMU among them) lists one select entry per function: consecutive ones with
     * the same settings are kept as one range. */
    struct amdvi_ivrs_range *p = h->nr_ranges ? &h->range[h->nr_ranges - 1] : NULL;
    if (p && p->last != AMDVI_MAX_DEVID && p->last + 1 == first && p->setting == r.setting &&
        p->ext == r.ext && p->ext_data == r.ext_data) {
        p->last = last;
        return true;
    }
    if (h->nr_ranges == AMDVI_IVRS_MAX_RANGES) {
        w->why = "too many device entries";
        return false;
    }
    h->range[h->nr_ranges++] = r;
    return true;
}

static bool ivhd_add_alias(struct ivhd_walk *w, uint16_t first, uint16_t last, const uint8_t *e)
{
    struct amdvi_ivhd *h = w->h;
    if (h->nr_alias == AMDVI_IVRS_MAX_ALIAS) {
        w->why = "too many alias entries";
        return false;
    }
    uint16_t src = rd16(e + IVHD_ALIAS_OFF_SRC);
    h->alias[h->nr_alias++] = (struct amdvi_ivrs_alias){ first, last, src,
                                                         e[IVHD_ENT_OFF_SETTING] };
    ivhd_note_devid(h, MAX(last, src));
    return true;
}

/* A range end entry closes the pending start (03h, 43h or 47h). */
static bool ivhd_range_end(struct ivhd_walk *w, const uint8_t *e)
{
    if (!w->start) {
        w->why = "range end without a range start";
        return false;
    }
    const uint8_t *s = w->start;
    uint16_t first = rd16(s + IVHD_ENT_OFF_DEVID), last = rd16(e + IVHD_ENT_OFF_DEVID);
    w->start = NULL;
    if (last < first) {
        w->why = "range end below its start";
        return false;
    }
    if (s[0] == IVHD_DEV_ALIAS_RANGE)
        return ivhd_add_alias(w, first, last, s);
    return ivhd_add_range(w, first, last, s);
}

static bool ivhd_special(struct ivhd_walk *w, const uint8_t *e)
{
    struct amdvi_ivhd *h = w->h;
    uint8_t variety = e[IVHD_SPECIAL_OFF_VARIETY];
    if (variety != IVHD_SPECIAL_IOAPIC && variety != IVHD_SPECIAL_HPET) {
        w->why = "special device entry of unknown variety";
        return false;
    }
    if (h->nr_special == AMDVI_IVRS_MAX_SPECIAL) {
        w->why = "too many special device entries";
        return false;
    }
    uint16_t devid = rd16(e + IVHD_SPECIAL_OFF_DEVID);
    h->special[h->nr_special++] = (struct amdvi_ivrs_special){
        variety, e[IVHD_SPECIAL_OFF_HANDLE], devid, e[IVHD_ENT_OFF_SETTING] };
    ivhd_note_devid(h, devid);
    return true;
}

static void copy_id(char *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : (src[i] ? '?' : '\0');
    dst[n] = '\0';
}

static bool ivhd_acpi_hid(struct ivhd_walk *w, const uint8_t *e)
{
    struct amdvi_ivhd *h = w->h;
    if (h->nr_hid == AMDVI_IVRS_MAX_HID) {
        w->why = "too many ACPI HID entries";
        return false;
    }
    struct amdvi_ivrs_hid *d = &h->hid[h->nr_hid];
    memset(d, 0, sizeof(*d));
    copy_id(d->hid, e + IVHD_HID_OFF_HID, 8);
    copy_id(d->cid, e + IVHD_HID_OFF_CID, 8);
    d->uid_format = e[IVHD_HID_OFF_UIDF];
    copy_id(d->uid, e + IVHD_HID_LEN, MIN((size_t)e[IVHD_HID_OFF_UIDLEN], sizeof(d->uid) - 1));
    d->devid = rd16(e + IVHD_ENT_OFF_DEVID);
    d->setting = e[IVHD_ENT_OFF_SETTING];
    if (d->hid[0] == '\0') {
        w->why = "ACPI HID entry without a HID";
        return false;
    }
    ivhd_note_devid(h, d->devid);
    h->nr_hid++;
    return true;
}

/* One entry; false (with w->why) when the block must be rejected. */
static bool ivhd_entry(struct ivhd_walk *w, const uint8_t *e, size_t off, size_t blk_off)
{
    uint8_t t = e[0];
    uint16_t devid = rd16(e + IVHD_ENT_OFF_DEVID);
    if (w->start && t != IVHD_DEV_RANGE_END) {
        w->why = "range start without a range end";
        return false;
    }
    switch (t) {
    case 0x00:                          /* padding */
        return true;
    case IVHD_DEV_ALL:
        w->h->all = true;
        w->h->all_setting = e[IVHD_ENT_OFF_SETTING];
        w->h->last_devid = AMDVI_MAX_DEVID;
        return true;
    case IVHD_DEV_SELECT:
    case IVHD_DEV_EXT_SELECT:
        return ivhd_add_range(w, devid, devid, e);
    case IVHD_DEV_ALIAS_SELECT:
        return ivhd_add_alias(w, devid, devid, e);
    case IVHD_DEV_RANGE_START:
    case IVHD_DEV_ALIAS_RANGE:
    case IVHD_DEV_EXT_RANGE:
        w->start = e;
        return true;
    case IVHD_DEV_RANGE_END:
        return ivhd_range_end(w, e);
    case IVHD_DEV_SPECIAL:
        return ivhd_special(w, e);
    case IVHD_DEV_ACPI_HID:
        return ivhd_acpi_hid(w, e);
    default:                            /* reserved type of known length: skipped (5.2.2.2) */
        kprintf("ivrs: IVHD at offset %#zx: device entry type %#x at offset %#zx ignored\n",
                blk_off, t, off);
        return true;
    }
}

static const char *ivhd_entries(struct amdvi_ivhd *h, const uint8_t *p, size_t len,
                                size_t blk_off, size_t hdr)
{
    struct ivhd_walk w = { h, NULL, NULL };
    size_t off = hdr;
    while (off < len) {
        size_t n = ivhd_entry_len(p + off, len - off, &w.why);
        if (!n || !ivhd_entry(&w, p + off, blk_off + off, blk_off))
            return w.why;
        off += n;
    }
    return w.start ? "range start without a range end" : NULL;
}

static const char *ivhd_check(const struct amdvi_ivhd *h)
{
    if (h->base == 0)
        return "register base address is zero";
    if (h->base & 0x3fff)
        return "register base address is not 16 KiB aligned";
    if (!h->all && !h->nr_ranges && !h->nr_alias)
        return "names no device";
    return NULL;
}

/* Keeps h, or lets it supersede a lower type describing the same IOMMU (5.2.2.1: software
 * uses the highest type it understands and ignores the others). */
static void ivhd_keep(struct amdvi_ivrs *iv, const struct amdvi_ivhd *h, size_t off)
{
    for (unsigned i = 0; i < iv->nr_units; i++) {
        struct amdvi_ivhd *o = &iv->unit[i];
        if (o->seg != h->seg || o->devid != h->devid)
            continue;
        if (o->base != h->base) {
            ivrs_reject(iv, h->type, off, "same IOMMU as an earlier block, other registers");
            return;
        }
        iv->nr_superseded++;
        if (h->type > o->type)
            *o = *h;
        return;
    }
    if (iv->nr_units == AMDVI_IVRS_MAX_UNITS) {
        ivrs_reject(iv, h->type, off, "too many IOMMUs");
        return;
    }
    iv->unit[iv->nr_units++] = *h;
}

static void ivhd_parse(struct amdvi_ivrs *iv, const uint8_t *p, size_t len, size_t off)
{
    static struct amdvi_ivhd h;         /* large: not on the early boot stack */
    size_t hdr = p[0] == IVRS_TYPE_IVHD10 ? IVHD10_LEN : IVHD11_LEN;
    if (len < hdr) {
        ivrs_reject(iv, p[0], off, "shorter than its fixed fields");
        return;
    }
    memset(&h, 0, sizeof(h));
    h.type = p[0];
    h.flags = p[IVHD_OFF_FLAGS];
    h.devid = rd16(p + IVHD_OFF_DEVID);
    h.cap_off = rd16(p + IVHD_OFF_CAP);
    h.base = rd64(p + IVHD_OFF_BASE);
    h.seg = rd16(p + IVHD_OFF_SEG);
    h.info = rd16(p + IVHD_OFF_INFO);
    h.feat = rd32(p + IVHD_OFF_FEAT);
    h.efr = hdr == IVHD11_LEN ? rd64(p + IVHD_OFF_EFR) : 0;
    const char *why = ivhd_entries(&h, p, len, off, hdr);
    if (!why)
        why = ivhd_check(&h);
    if (why) {
        ivrs_reject(iv, h.type, off, why);
        return;
    }
    ivhd_keep(iv, &h, off);
}

/* ---- IVMD ---- */

static const char *ivmd_check(const struct amdvi_ivmd *m, uint64_t length, uint32_t ivinfo)
{
    unsigned pasize = (unsigned)FIELD_GET(IVINFO_PASIZE, ivinfo);
    if (length == 0)
        return "memory block of length zero";
    if ((m->start & 0xfff) || (length & 0xfff))
        return "start or length not 4 KiB aligned";
    if (m->start + length - 1 < m->start)
        return "memory block wraps around";
    if (pasize && pasize < 64 && (m->last_addr >> pasize))
        return "memory block beyond the physical address size";
    if (m->last < m->first)
        return "device range end below its start";
    if (m->last_addr >= AMDVI_INTR_ADDR_FIRST && m->start <= AMDVI_INTR_ADDR_LAST)
        return "overlaps the interrupt address range";
    if (!(m->flags & (IVMD_FLAG_UNITY | IVMD_FLAG_EXCL)))
        return "neither a unity mapping nor an exclusion range";
    if (!(m->flags & IVMD_FLAG_EXCL) && !(m->flags & (IVMD_FLAG_IR | IVMD_FLAG_IW)))
        return "unity mapping with neither read nor write permission";
    return NULL;
}

static void ivmd_parse(struct amdvi_ivrs *iv, const uint8_t *p, size_t len, size_t off)
{
    if (len < IVMD_LEN) {
        ivrs_reject(iv, p[0], off, "shorter than its fixed fields");
        return;
    }
    if (iv->nr_ivmd == AMDVI_IVRS_MAX_IVMD) {
        ivrs_reject(iv, p[0], off, "too many IVMD blocks");
        return;
    }
    struct amdvi_ivmd *m = &iv->ivmd[iv->nr_ivmd];
    uint64_t length = rd64(p + IVMD_OFF_LENGTH);
    m->type = p[0];
    m->flags = p[IVMD_OFF_FLAGS];
    m->seg = rd16(p + IVMD_OFF_SEG);
    m->first = p[0] == IVRS_TYPE_IVMD_ALL ? 0 : rd16(p + IVMD_OFF_DEVID);
    m->last = p[0] == IVRS_TYPE_IVMD_ALL ? AMDVI_MAX_DEVID
              : p[0] == IVRS_TYPE_IVMD_RANGE ? rd16(p + IVMD_OFF_AUX) : m->first;
    m->start = rd64(p + IVMD_OFF_START);
    m->last_addr = m->start + length - 1;
    m->off = (uint32_t)off;
    const char *why = ivmd_check(m, length, iv->ivinfo);
    if (why) {
        ivrs_reject(iv, p[0], off, why);
        return;
    }
    iv->nr_ivmd++;
}

/* Does any IVHD of seg translate a device ID in first..last? */
static bool ivmd_names_known_device(const struct amdvi_ivrs *iv, const struct amdvi_ivmd *m)
{
    for (unsigned u = 0; u < iv->nr_units; u++) {
        const struct amdvi_ivhd *h = &iv->unit[u];
        if (h->seg != m->seg)
            continue;
        if (m->first == m->last) {
            if (amdvi_ivhd_covers(h, m->first))
                return true;
            continue;
        }
        if (h->all)
            return true;
        for (unsigned i = 0; i < h->nr_ranges; i++)
            if (h->range[i].first <= m->last && h->range[i].last >= m->first)
                return true;
        for (unsigned i = 0; i < h->nr_alias; i++)
            if (h->alias[i].first <= m->last && h->alias[i].last >= m->first)
                return true;
    }
    return false;
}

static bool ivmd_overlap(const struct amdvi_ivmd *a, const struct amdvi_ivmd *b)
{
    return a->seg == b->seg && a->first <= b->last && b->first <= a->last &&
           a->start <= b->last_addr && b->start <= a->last_addr;
}

/* Once every IVHD is known (IVMD blocks may come before them): an IVMD must name a device an
 * IOMMU translates, and must not overlap an earlier one for a common device (their identity
 * mappings would collide, with permissions that may differ). In table order: a block is
 * compared only with those kept before it. */
static void ivmd_check_all(struct amdvi_ivrs *iv)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < iv->nr_ivmd; i++) {
        const struct amdvi_ivmd *m = &iv->ivmd[i];
        const char *why = NULL;
        char buf[96];
        if (!ivmd_names_known_device(iv, m)) {
            fmt_snprintf(buf, sizeof(buf), "names device IDs %04x:%04x-%04x, none of which an "
                         "IVHD translates", m->seg, m->first, m->last);
            why = buf;
        }
        for (unsigned k = 0; k < kept && !why; k++) {
            if (ivmd_overlap(m, &iv->ivmd[k])) {
                fmt_snprintf(buf, sizeof(buf), "overlaps the IVMD at offset %#x for a common "
                             "device", iv->ivmd[k].off);
                why = buf;
            }
        }
        if (why)
            ivrs_reject(iv, m->type, m->off, why);
        else
            iv->ivmd[kept++] = *m;
    }
    iv->nr_ivmd = kept;
}

/* ---- the table ---- */

static bool is_ivhd(unsigned t)
{
    return t == IVRS_TYPE_IVHD10 || t == IVRS_TYPE_IVHD11 || t == IVRS_TYPE_IVHD40;
}

static bool is_ivmd(unsigned t)
{
    return t == IVRS_TYPE_IVMD_ALL || t == IVRS_TYPE_IVMD_ONE || t == IVRS_TYPE_IVMD_RANGE;
}

static void ivrs_walk(struct amdvi_ivrs *iv, const uint8_t *t, size_t len)
{
    size_t off = IVRS_HEADER_LEN;
    while (off < len) {
        if (len - off < 4) {
            ivrs_reject(iv, t[off], off, "block header past the end of the table");
            return;
        }
        unsigned type = t[off];
        size_t blen = rd16(t + off + IVHD_OFF_LEN);
        if (blen < 4 || blen > len - off) {
            ivrs_reject(iv, type, off, blen < 4 ? "zero or too short length: walk stops"
                                                : "length past the end of the table");
            return;
        }
        if (is_ivhd(type))
            ivhd_parse(iv, t + off, blen, off);
        else if (is_ivmd(type))
            ivmd_parse(iv, t + off, blen, off);
        else
            ivrs_reject(iv, type, off, "unknown block type: skipped");
        off += blen;
    }
}

int amdvi_ivrs_parse(const void *table, size_t len, struct amdvi_ivrs *out)
{
    const uint8_t *t = table;
    memset(out, 0, sizeof(*out));
    if (!t || len < IVRS_HEADER_LEN || rd32(t + 4) < len) {
        kprintf("ivrs: table shorter than its header\n");
        return -EINVAL;
    }
    out->ivinfo = rd32(t + IVRS_OFF_IVINFO);
    ivrs_walk(out, t, len);
    ivmd_check_all(out);
    if (out->nr_units == 0) {
        kprintf("ivrs: no usable IOMMU (IVHD) block\n");
        return -EINVAL;
    }
    return 0;
}

/* ---- lookups ---- */

bool amdvi_ivhd_covers(const struct amdvi_ivhd *h, uint16_t devid)
{
    if (devid == h->devid)
        return false;               /* the IOMMU's own function is never translated */
    if (h->all)
        return true;
    for (unsigned i = 0; i < h->nr_ranges; i++)
        if (devid >= h->range[i].first && devid <= h->range[i].last)
            return true;
    for (unsigned i = 0; i < h->nr_alias; i++)
        if (devid >= h->alias[i].first && devid <= h->alias[i].last)
            return true;
    return false;
}

uint16_t amdvi_ivhd_alias_of(const struct amdvi_ivhd *h, uint16_t devid)
{
    for (unsigned i = 0; i < h->nr_alias; i++)
        if (devid >= h->alias[i].first && devid <= h->alias[i].last)
            return h->alias[i].alias;
    return devid;
}

int amdvi_ivrs_unit_for(const struct amdvi_ivrs *iv, uint16_t seg, uint16_t devid)
{
    for (unsigned i = 0; i < iv->nr_units; i++)
        if (iv->unit[i].seg == seg && amdvi_ivhd_covers(&iv->unit[i], devid))
            return (int)i;
    return -ENODEV;
}

bool amdvi_ivmd_covers(const struct amdvi_ivmd *m, uint16_t seg, uint16_t devid)
{
    return m->seg == seg && devid >= m->first && devid <= m->last;
}

void amdvi_ivrs_print(const struct amdvi_ivrs *iv)
{
    kprintf("ivrs: IVinfo %#x: %u-bit physical, %u-bit virtual addresses%s\n", iv->ivinfo,
            (unsigned)FIELD_GET(IVINFO_PASIZE, iv->ivinfo),
            (unsigned)FIELD_GET(IVINFO_VASIZE, iv->ivinfo),
            (iv->ivinfo & IVINFO_DMA_REMAP) ? ", pre-boot DMA remapping" : "");
    for (unsigned i = 0; i < iv->nr_units; i++) {
        const struct amdvi_ivhd *h = &iv->unit[i];
        kprintf("ivrs:   IVHD %02xh: IOMMU %04x:%02x:%02x.%x, registers %#llx, %s%u ranges, "
                "%u aliases, %u special, %u ACPI devices\n", h->type, h->seg, h->devid >> 8,
                (h->devid >> 3) & 0x1f, h->devid & 7, (unsigned long long)h->base,
                h->all ? "all devices, " : "", h->nr_ranges, h->nr_alias, h->nr_special,
                h->nr_hid);
    }
    for (unsigned i = 0; i < iv->nr_ivmd; i++) {
        const struct amdvi_ivmd *m = &iv->ivmd[i];
        kprintf("ivrs:   IVMD %02xh: %#llx-%#llx for devices %04x-%04x%s%s\n", m->type,
                (unsigned long long)m->start, (unsigned long long)m->last_addr, m->first,
                m->last, (m->flags & IVMD_FLAG_UNITY) ? ", unity" : "",
                (m->flags & IVMD_FLAG_EXCL) ? ", exclusion" : "");
    }
    if (iv->nr_rejected || iv->nr_superseded)
        kprintf("ivrs:   %u blocks or entries rejected, %u IVHD blocks superseded\n",
                iv->nr_rejected, iv->nr_superseded);
}
