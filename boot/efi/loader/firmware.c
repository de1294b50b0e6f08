/* What the firmware knows and the runtime needs: the ACPI RSDP (configuration table), the GOP
 * framebuffer, and — recorded only — the state firmware leaves the VT-d units in. */
#include "loader.h"

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;
static EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;

static BOOLEAN guid_eq(const EFI_GUID *a, const EFI_GUID *b)
{
    const UINT8 *x = (const UINT8 *)a, *y = (const UINT8 *)b;
    for (UINTN i = 0; i < sizeof(EFI_GUID); i++)
        if (x[i] != y[i])
            return FALSE;
    return TRUE;
}

static UINT8 sum_bytes(const UINT8 *p, UINTN n)
{
    UINT8 s = 0;
    while (n--)
        s += *p++;
    return s;
}

/* ACPI 6.5, 5.2.5.3: "RSD PTR ", checksum over 20 bytes, extended checksum from revision 2. */
static BOOLEAN rsdp_valid(const UINT8 *p)
{
    static const char sig[8] = "RSD PTR ";
    for (int i = 0; i < 8; i++)
        if (p[i] != (UINT8)sig[i])
            return FALSE;
    if (sum_bytes(p, 20) != 0)
        return FALSE;
    if (p[15] >= 2) {
        UINT32 len = *(const UINT32 *)(p + 20);
        if (len < 36 || len > 4096 || sum_bytes(p, len) != 0)
            return FALSE;
    }
    return TRUE;
}

UINT64 fw_find_rsdp(void)
{
    UINT64 v1 = 0;
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];
        if (guid_eq(&t->VendorGuid, &acpi20_guid) && rsdp_valid(t->VendorTable))
            return (UINT64)(UINTN)t->VendorTable;
        if (guid_eq(&t->VendorGuid, &acpi10_guid) && rsdp_valid(t->VendorTable))
            v1 = (UINT64)(UINTN)t->VendorTable;
    }
    return v1;
}

#define VTD_CAP 0x08
#define VTD_GSTS 0x1c
#define VTD_PMEN 0x64
#define VTD_CAP_PLMR (1ULL << 5)
#define VTD_CAP_PHMR (1ULL << 6)
#define VTD_GSTS_TES (1U << 31)
#define VTD_GSTS_RTPS (1U << 30)
#define VTD_GSTS_QIES (1U << 26)
#define VTD_GSTS_IRES (1U << 25)
#define VTD_PMEN_EPM (1U << 31)
#define VTD_PMEN_PRS (1U << 0)

static void report_drhd(UINT64 base)
{
    volatile UINT8 *r = (volatile UINT8 *)(UINTN)base;
    UINT64 cap = *(volatile UINT64 *)(r + VTD_CAP);
    UINT32 gsts = *(volatile UINT32 *)(r + VTD_GSTS);
    UINT32 pmen = *(volatile UINT32 *)(r + VTD_PMEN);
    Print(L"moat-efi: VT-d unit %lx: GSTS %08x (translation %a, root table %a, QI %a, "
          L"IR %a), PMR %a (PMEN %08x)\n", base, gsts,
          (gsts & VTD_GSTS_TES) ? "on" : "off", (gsts & VTD_GSTS_RTPS) ? "set" : "unset",
          (gsts & VTD_GSTS_QIES) ? "on" : "off", (gsts & VTD_GSTS_IRES) ? "on" : "off",
          !(cap & (VTD_CAP_PLMR | VTD_CAP_PHMR)) ? "unsupported" :
          (pmen & (VTD_PMEN_EPM | VTD_PMEN_PRS)) ? "enabled" : "disabled", pmen);
}

/* DMAR (VT-d 4.1, 8.1): remapping structures from offset 48; DRHD is type 0 with the
 * register base at offset 8. Firmware tables, but still bounded by their own lengths. */
static void report_dmar(const UINT8 *dmar)
{
    UINT32 len = *(const UINT32 *)(dmar + 4);
    if (len > 65536)
        return;
    for (UINT32 off = 48; off + 16 <= len;) {
        UINT16 type = *(const UINT16 *)(dmar + off), slen = *(const UINT16 *)(dmar + off + 2);
        if (slen < 4 || off + slen > len)
            break;
        if (type == 0)
            report_drhd(*(const UINT64 *)(dmar + off + 8));
        off += slen;
    }
}

void fw_report_vtd(UINT64 rsdp_pa)
{
    const UINT8 *rsdp = (const UINT8 *)(UINTN)rsdp_pa;
    if (!rsdp || rsdp[15] < 2)
        return;
    const UINT8 *xsdt = (const UINT8 *)(UINTN)*(const UINT64 *)(rsdp + 24);
    if (!xsdt || xsdt[0] != 'X' || xsdt[1] != 'S' || xsdt[2] != 'D' || xsdt[3] != 'T')
        return;
    UINT32 len = *(const UINT32 *)(xsdt + 4);
    if (len < 36 || len > 65536)
        return;
    BOOLEAN seen = FALSE;
    for (UINT32 off = 36; off + 8 <= len; off += 8) {
        const UINT8 *t = (const UINT8 *)(UINTN)*(const UINT64 *)(xsdt + off);
        if (t && t[0] == 'D' && t[1] == 'M' && t[2] == 'A' && t[3] == 'R') {
            report_dmar(t);
            seen = TRUE;
        }
    }
    if (!seen)
        Print(L"moat-efi: no DMAR table (no VT-d)\n");
}

void fw_fill_framebuffer(struct boot_info *bi)
{
    EFI_GRAPHICS_OUTPUT_PROTOCOL *gop;
    if (EFI_ERROR(BS->LocateProtocol(&gop_guid, NULL, (void **)&gop)) || !gop->Mode ||
        !gop->Mode->Info)
        return;
    EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *mi = gop->Mode->Info;
    if (mi->PixelFormat != PixelRedGreenBlueReserved8BitPerColor &&
        mi->PixelFormat != PixelBlueGreenRedReserved8BitPerColor)
        return;     /* BLT-only or bit-mask formats: no plain framebuffer to hand over */
    bi->fb.base = gop->Mode->FrameBufferBase;
    bi->fb.width = mi->HorizontalResolution;
    bi->fb.height = mi->VerticalResolution;
    bi->fb.pitch = mi->PixelsPerScanLine * 4;
    bi->fb.bpp = 32;
    Print(L"moat-efi: framebuffer %lx, %dx%d\n", bi->fb.base, bi->fb.width, bi->fb.height);
}
