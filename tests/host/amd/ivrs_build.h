/* Builders of synthetic IVRS tables for the AMD-Vi host tests: a table in tbl, blocks and
 * entries appended at tlen, parse() into iv. */
#ifndef MOAT_TESTS_HOST_AMD_IVRS_BUILD_H
#define MOAT_TESTS_HOST_AMD_IVRS_BUILD_H

#include <string.h>

#include "iommu/amd/amdvi_hw.h"
#include "iommu/amd/ivrs.h"

static uint8_t tbl[4096];
static size_t tlen;
static struct amdvi_ivrs iv;

static inline void put(size_t off, uint64_t v, unsigned n) { memcpy(tbl + off, &v, n); }

static inline void begin(void)
{
    memset(tbl, 0, sizeof(tbl));
    memcpy(tbl, "IVRS", 4);
    put(IVRS_OFF_IVINFO, IVINFO_EFRSUP | FIELD_PREP(IVINFO_PASIZE, 40) |
                         FIELD_PREP(IVINFO_VASIZE, 48), 4);
    tlen = IVRS_HEADER_LEN;
}

static inline int parse(void)
{
    put(4, tlen, 4);
    return amdvi_ivrs_parse(tbl, tlen, &iv);
}

/* An IVHD header of the given type; returns its offset. Entries follow with the ent_* helpers;
 * ivhd_end() sets its length. */
static inline size_t ivhd(unsigned type, uint16_t devid, uint64_t base)
{
    size_t o = tlen;
    tbl[o] = (uint8_t)type;
    put(o + IVHD_OFF_DEVID, devid, 2);
    put(o + IVHD_OFF_CAP, 0x40, 2);
    put(o + IVHD_OFF_BASE, base, 8);
    put(o + IVHD_OFF_SEG, 0, 2);
    if (type != IVRS_TYPE_IVHD10)
        put(o + IVHD_OFF_EFR, 0x29d3, 8);
    tlen += type == IVRS_TYPE_IVHD10 ? IVHD10_LEN : IVHD11_LEN;
    return o;
}

static inline void ivhd_end(size_t o) { put(o + IVHD_OFF_LEN, tlen - o, 2); }

static inline void ent4(unsigned type, uint16_t devid, uint8_t setting)
{
    tbl[tlen] = (uint8_t)type;
    put(tlen + 1, devid, 2);
    tbl[tlen + 3] = setting;
    tlen += 4;
}

static inline void ent_alias(unsigned type, uint16_t devid, uint16_t src)
{
    tbl[tlen] = (uint8_t)type;
    put(tlen + 1, devid, 2);
    put(tlen + IVHD_ALIAS_OFF_SRC, src, 2);
    tlen += 8;
}

static inline void ent_ext(unsigned type, uint16_t devid, uint32_t data)
{
    tbl[tlen] = (uint8_t)type;
    put(tlen + 1, devid, 2);
    put(tlen + IVHD_EXT_OFF_DATA, data, 4);
    tlen += 8;
}

static inline void ent_special(uint8_t variety, uint8_t handle, uint16_t devid)
{
    tbl[tlen] = IVHD_DEV_SPECIAL;
    tbl[tlen + IVHD_SPECIAL_OFF_HANDLE] = handle;
    put(tlen + IVHD_SPECIAL_OFF_DEVID, devid, 2);
    tbl[tlen + IVHD_SPECIAL_OFF_VARIETY] = variety;
    tlen += 8;
}

static inline void ent_hid(uint16_t devid, const char *hid, const char *uid)
{
    size_t o = tlen;
    tbl[o] = IVHD_DEV_ACPI_HID;
    put(o + 1, devid, 2);
    memcpy(tbl + o + IVHD_HID_OFF_HID, hid, strlen(hid));
    memcpy(tbl + o + IVHD_HID_OFF_CID, "PNP0D40", 7);
    tbl[o + IVHD_HID_OFF_UIDF] = 2;
    tbl[o + IVHD_HID_OFF_UIDLEN] = (uint8_t)strlen(uid);
    memcpy(tbl + o + IVHD_HID_LEN, uid, strlen(uid));
    tlen += IVHD_HID_LEN + strlen(uid);
}

static inline size_t ivmd(unsigned type, uint8_t flags, uint16_t devid, uint16_t aux,
                          uint64_t start, uint64_t len)
{
    size_t o = tlen;
    tbl[o] = (uint8_t)type;
    tbl[o + IVMD_OFF_FLAGS] = flags;
    put(o + IVHD_OFF_LEN, IVMD_LEN, 2);
    put(o + IVMD_OFF_DEVID, devid, 2);
    put(o + IVMD_OFF_AUX, aux, 2);
    put(o + IVMD_OFF_START, start, 8);
    put(o + IVMD_OFF_LENGTH, len, 8);
    tlen += IVMD_LEN;
    return o;
}

#endif
