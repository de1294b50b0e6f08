/* Fuzzing the DMAR (VT-d) and IVRS (AMD-Vi) parsers and their lookups. One input is one
 * table body: the target writes a 36-byte SDT header (signature, the length of what follows,
 * as the caller of the parser has checked it) and the bytes after it come from the input, so
 * that every input reaches the structure walk. Byte 0 picks the table. After a successful parse
 * every unit lookup, alias and reserved-region query runs over a spread of requester IDs; the
 * result must stay inside the parser's own arrays (ASan/UBSan watch). */
#include <stdint.h>
#include <string.h>

#include "iommu/amd/ivrs.h"
#include "iommu/intel/dmar.h"
#include "iommu/iommu.h"

#define SDT_HEADER 36
#define TABLE_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t make_table(uint8_t *t, const char *sig, const uint8_t *body, size_t len)
{
    if (len > TABLE_MAX - SDT_HEADER)
        len = TABLE_MAX - SDT_HEADER;
    memset(t, 0, SDT_HEADER);
    memcpy(t, sig, 4);
    uint32_t total = (uint32_t)(SDT_HEADER + len);
    memcpy(t + 4, &total, 4);
    memcpy(t + SDT_HEADER, body, len);
    return total;
}

/* A bridge below bus 0 at every even devfn, so that sub-hierarchy scopes have paths to walk. */
static bool fake_bridge(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn, uint8_t *secondary,
                        uint8_t *subordinate)
{
    if (devfn & 1 || bus == 0xff)
        return false;
    *secondary = (uint8_t)(bus + 1);
    *subordinate = (uint8_t)(bus + 1 + (devfn >> 5));
    return true;
}

static void fuzz_dmar(const uint8_t *t, size_t len)
{
    static struct vtd_dmar d;
    if (vtd_dmar_parse(t, len, &d) != 0)
        return;
    for (unsigned rid = 0; rid < 0x10000; rid += 0x101) {
        int u = vtd_dmar_unit_for(&d, 0, (uint8_t)(rid >> 8), (uint8_t)rid, fake_bridge, NULL);
        if (u >= VTD_DMAR_MAX_UNITS)
            __builtin_trap();
    }
    vtd_dmar_print(&d);
}

static void fuzz_ivrs(const uint8_t *t, size_t len)
{
    static struct amdvi_ivrs iv;
    if (amdvi_ivrs_parse(t, len, &iv) != 0)
        return;
    struct iommu_resv_region r[16];
    for (unsigned devid = 0; devid < 0x10000; devid += 0x0fb) {
        int u = amdvi_ivrs_unit_for(&iv, 0, (uint16_t)devid);
        if (u >= (int)iv.nr_units)
            __builtin_trap();
        if (u >= 0)
            amdvi_ivhd_alias_of(&iv.unit[u], (uint16_t)devid);
        unsigned n = 0;
        amdvi_ivmd_regions(&iv, 0, (uint16_t)devid, r, &n, 16);
    }
    amdvi_ivrs_print(&iv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t table[TABLE_MAX];
    if (size < 1)
        return 0;
    bool ivrs = data[0] & 1;
    size_t len = make_table(table, ivrs ? "IVRS" : "DMAR", data + 1, size - 1);
    if (ivrs)
        fuzz_ivrs(table, len);
    else
        fuzz_dmar(table, len);
    return 0;
}
