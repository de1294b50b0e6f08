/* BOOTX64.EFI's main line: read, check and place the runtime, gather the firmware's facts,
 * leave boot services and jump. Everything that can fail does so before ExitBootServices,
 * while the firmware console can still say why. */
#include "loader.h"
#include "elf_check.h"
#include "memmap.h"
#include "arch/x86_64/cpu.h"

#define DEBUG_EXIT_PORT 0xf4
#define CR4_LA57 (1ULL << 12)
#define PAGE_BYTES 4096ULL
#define MAX_ELF_BYTES (64ULL << 20)
#define EBS_TRIES 8

EFI_STATUS loader_fail(EFI_STATUS st, const CHAR16 *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    Print(L"moat-efi: error: ");
    VPrint(fmt, ap);
    va_end(ap);
    Print(L"\nmoat: power off, status %d\n", LOADER_EXIT_STATUS);
    /* QEMU's isa-debug-exit ends the run here, as the runtime's power-off does; on a real
     * machine nothing answers, and the boot manager gets the error (it tries the next option). */
    outl(DEBUG_EXIT_PORT, (UINT32)LOADER_EXIT_STATUS);
    BS->Stall(5 * 1000 * 1000);
    return st;
}

static BOOLEAN printable(UINT32 c)
{
    return c >= 0x20 && c < 0x7f;
}

/* Load options (e.g. arguments given in the UEFI shell, or a boot entry's text): used as the
 * command line when they are plain text. The shell passes the program's own name first. */
static BOOLEAN cmdline_from_options(EFI_HANDLE image, char *out, UINTN max)
{
    EFI_LOADED_IMAGE *li;
    if (EFI_ERROR(BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li)) ||
        !li->LoadOptions || li->LoadOptionsSize < 2)
        return FALSE;
    const CHAR16 *s = li->LoadOptions;
    UINTN n = li->LoadOptionsSize / 2;
    while (n > 0 && s[n - 1] == 0)
        n--;
    for (UINTN i = 0; i < n; i++)
        if (!printable(s[i]))
            return FALSE;
    UINTN w = 0;
    while (w < n && s[w] != ' ')
        w++;
    if (w >= 4 && (s[w - 4] == '.') && (s[w - 3] | 0x20) == 'e' && (s[w - 2] | 0x20) == 'f' &&
        (s[w - 1] | 0x20) == 'i') {
        s += w;
        n -= w;
    }
    while (n > 0 && *s == ' ')
        s++, n--;
    if (n == 0 || n >= max)
        return FALSE;
    for (UINTN i = 0; i < n; i++)
        out[i] = (char)s[i];
    out[n] = 0;
    return TRUE;
}

/* \EFI\moat\cmdline.txt: printable ASCII; line breaks and tabs become spaces. */
static EFI_STATUS cmdline_from_file(EFI_HANDLE image, char *out, UINTN max)
{
    UINT8 *buf;
    UINTN size, n = 0;
    EFI_STATUS st = fs_read_file(image, MOAT_CMDLINE_PATH, 64 * 1024, &buf, &size);
    if (st == EFI_NOT_FOUND)
        return EFI_SUCCESS;
    if (EFI_ERROR(st))
        return loader_fail(st, L"cannot read %s: %r", MOAT_CMDLINE_PATH, st);
    for (UINTN i = 0; i < size; i++) {
        UINT8 c = buf[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        if (!printable(c)) {
            BS->FreePool(buf);
            return loader_fail(EFI_INVALID_PARAMETER, L"%s: byte %x at offset %d is not "
                               L"printable ASCII", MOAT_CMDLINE_PATH, c, i);
        }
        if (c == ' ' && (n == 0 || out[n - 1] == ' '))
            continue;
        if (n + 1 >= max) {
            BS->FreePool(buf);
            return loader_fail(EFI_BAD_BUFFER_SIZE, L"%s: longer than %d bytes",
                               MOAT_CMDLINE_PATH, max - 1);
        }
        out[n++] = (char)c;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = 0;
    BS->FreePool(buf);
    return EFI_SUCCESS;
}

static UINT32 parse_hex32(const UINT8 *s, UINTN n, BOOLEAN *ok)
{
    UINT32 v = 0;
    UINTN digits = 0;
    for (UINTN i = 0; i < n && digits <= 8; i++) {
        UINT8 c = s[i];
        if (c == '\n' || c == '\r' || c == ' ')
            break;
        UINT8 d = (c >= '0' && c <= '9') ? c - '0' : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                  ? (c | 0x20) - 'a' + 10 : 0xff;
        if (d == 0xff) {
            *ok = FALSE;
            return 0;
        }
        v = v << 4 | d;
        digits++;
    }
    *ok = digits == 8;
    return v;
}

/* The image records the ELF's CRC-32 beside it; without the record the ELF is still checked
 * structurally (a developer may drop a new ELF onto the ESP). */
static EFI_STATUS check_crc(EFI_HANDLE image, const UINT8 *elf, UINTN size)
{
    UINT8 *rec;
    UINTN rsize;
    UINT32 have = crc32_ieee(elf, size);
    EFI_STATUS st = fs_read_file(image, MOAT_CRC_PATH, 64, &rec, &rsize);
    if (st == EFI_NOT_FOUND) {
        Print(L"moat-efi: warning: no %s; checking the ELF's structure only\n", MOAT_CRC_PATH);
        return EFI_SUCCESS;
    }
    if (EFI_ERROR(st))
        return loader_fail(st, L"cannot read %s: %r", MOAT_CRC_PATH, st);
    BOOLEAN ok;
    UINT32 want = parse_hex32(rec, rsize, &ok);
    BS->FreePool(rec);
    if (!ok)
        return loader_fail(EFI_VOLUME_CORRUPTED, L"%s: not 8 hex digits", MOAT_CRC_PATH);
    if (have != want)
        return loader_fail(EFI_CRC_ERROR, L"%s is corrupted: its CRC-32 is %08x, the image "
                           L"recorded %08x (%d bytes read)", MOAT_ELF_PATH, have, want, size);
    return EFI_SUCCESS;
}

/* Every page of [lo, hi) must be free conventional memory: say which firmware region is in
 * the way rather than AllocatePages' bare "not found". */
static EFI_STATUS check_free(UINT64 lo, UINT64 hi)
{
    UINTN n, key, dsize;
    UINT32 dver;
    EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&n, &key, &dsize, &dver);
    if (!map)
        return loader_fail(EFI_OUT_OF_RESOURCES, L"cannot read the memory map");
    EFI_STATUS st = EFI_SUCCESS;
    for (UINTN i = 0; i < n && !EFI_ERROR(st); i++) {
        const EFI_MEMORY_DESCRIPTOR *d = (const void *)((UINT8 *)map + i * dsize);
        UINT64 b = d->PhysicalStart, e = b + d->NumberOfPages * PAGE_BYTES;
        if (d->Type != EfiConventionalMemory && b < hi && lo < e)
            st = loader_fail(EFI_NOT_FOUND, L"the runtime image %lx-%lx overlaps firmware "
                             L"memory %lx-%lx (UEFI memory type %d); it cannot be placed",
                             lo, hi - 1, b, e - 1, d->Type);
    }
    FreePool(map);
    return st;
}

static EFI_STATUS load_runtime(EFI_HANDLE image, struct elf_plan *plan)
{
    UINT8 *elf;
    UINTN size;
    EFI_STATUS st = fs_read_file(image, MOAT_ELF_PATH, MAX_ELF_BYTES, &elf, &size);
    if (EFI_ERROR(st))
        return loader_fail(st, L"cannot read %s: %r", MOAT_ELF_PATH, st);
    Print(L"moat-efi: %s: %d bytes\n", MOAT_ELF_PATH, size);
    st = check_crc(image, elf, size);
    struct elf_error err;
    if (!EFI_ERROR(st) && elf_check(elf, size, EFI_ENTRY_SYMBOL, plan, &err) != 0)
        st = loader_fail(EFI_LOAD_ERROR, L"%s refused: %a (0x%lx)", MOAT_ELF_PATH, err.what,
                         err.value);
    if (!EFI_ERROR(st))
        st = check_free(plan->lo, plan->hi);
    EFI_PHYSICAL_ADDRESS at = plan->lo;
    if (!EFI_ERROR(st)) {
        st = BS->AllocatePages(AllocateAddress, EfiLoaderData,
                               (plan->hi - plan->lo) / PAGE_BYTES, &at);
        if (EFI_ERROR(st))
            loader_fail(st, L"cannot allocate %lx-%lx for the runtime: %r", plan->lo,
                        plan->hi - 1, st);
    }
    if (!EFI_ERROR(st)) {
        elf_copy(elf, plan);
        Print(L"moat-efi: runtime at %lx-%lx, entry %lx\n", plan->lo, plan->hi - 1, plan->entry);
    }
    BS->FreePool(elf);
    return st;
}

static struct efi_handoff *alloc_handoff(void)
{
    EFI_PHYSICAL_ADDRESS at = 0xffffffffULL;    /* the runtime's early map stops at 4 GiB */
    UINTN pages = (sizeof(struct efi_handoff) + PAGE_BYTES - 1) / PAGE_BYTES;
    if (EFI_ERROR(BS->AllocatePages(AllocateMaxAddress, EfiLoaderData, pages, &at)))
        return NULL;
    struct efi_handoff *h = (void *)(UINTN)at;
    SetMem(h, pages * PAGE_BYTES, 0);
    h->magic = EFI_HANDOFF_MAGIC;
    h->version = EFI_HANDOFF_VERSION;
    h->size = sizeof(*h);
    return h;
}

/* GetMemoryMap + ExitBootServices, again while the map key is stale (UEFI 2.10, 7.4). Only
 * GetMemoryMap and memory allocation are allowed between a failed attempt and the next. */
static EFI_STATUS exit_boot_services(EFI_HANDLE image, EFI_MEMORY_DESCRIPTOR **map, UINTN *n,
                                     UINTN *dsize)
{
    UINTN cap = 0, key, size = 0;
    UINT32 dver;
    EFI_STATUS st = BS->GetMemoryMap(&size, NULL, &key, dsize, &dver);
    if (st != EFI_BUFFER_TOO_SMALL)
        return loader_fail(st, L"GetMemoryMap: %r", st);
    *map = NULL;
    for (int tries = 0; tries < EBS_TRIES; tries++) {
        if (size + 4 * *dsize > cap) {
            if (*map)
                BS->FreePool(*map);
            cap = size + 16 * *dsize;   /* room for the map to grow by this allocation */
            st = BS->AllocatePool(EfiLoaderData, cap, (void **)map);
            if (EFI_ERROR(st))
                return st;
        }
        size = cap;
        st = BS->GetMemoryMap(&size, *map, &key, dsize, &dver);
        if (st == EFI_BUFFER_TOO_SMALL)
            continue;
        if (EFI_ERROR(st))
            return st;
        loader_hook_before_exit(tries);
        st = BS->ExitBootServices(image, key);
        if (!EFI_ERROR(st)) {
            *n = size / *dsize;
            return EFI_SUCCESS;
        }
        if (st != EFI_INVALID_PARAMETER)
            return st;
    }
    return EFI_ABORTED;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    Print(L"moat-efi: loader started\n");
    if (read_cr4() & CR4_LA57)
        return loader_fail(EFI_UNSUPPORTED, L"the firmware runs with 5-level paging (CR4.LA57); "
                           L"moat's entry needs 4-level paging");

    struct efi_handoff *h = alloc_handoff();
    if (!h)
        return loader_fail(EFI_OUT_OF_RESOURCES, L"cannot allocate the hand-off below 4 GiB");
    struct boot_info *bi = &h->info;
    EFI_STATUS st = EFI_SUCCESS;
    if (!cmdline_from_options(image, bi->cmdline, sizeof(bi->cmdline)))
        st = cmdline_from_file(image, bi->cmdline, sizeof(bi->cmdline));
    if (EFI_ERROR(st))
        return st;
    Print(L"moat-efi: command line \"%a\"\n", bi->cmdline);

    struct elf_plan plan;
    st = load_runtime(image, &plan);
    if (EFI_ERROR(st))
        return st;
    bi->rsdp_pa = fw_find_rsdp();
    if (!bi->rsdp_pa)
        Print(L"moat-efi: warning: no ACPI RSDP in the configuration table\n");
    fw_report_vtd(bi->rsdp_pa);
    fw_fill_framebuffer(bi);
    Print(L"moat-efi: exiting boot services\n");

    EFI_MEMORY_DESCRIPTOR *map;
    UINTN n = 0, dsize = 0;
    st = exit_boot_services(image, &map, &n, &dsize);
    if (EFI_ERROR(st))
        return loader_fail(st, L"ExitBootServices failed: %r", st);
    /* From here on the machine is ours: no firmware calls, no console. */
    h->exit_tsc = rdtsc();
    efi_memmap_convert(map, n, dsize, bi);
    jump_with_arg(plan.entry, h);
}
