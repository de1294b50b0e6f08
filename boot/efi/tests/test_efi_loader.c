/* The UEFI loader's checks of the runtime ELF and its memory-map conversion, on the host. The
 * ELF is built here, small and exact-size in a heap buffer, so ASan sees any read past it. */
#include <stdlib.h>

#include "boot/efi/loader/elf_check.h"
#include "boot/efi/loader/memmap.h"
#include "tests/host/harness.h"

#define TEXT_PA 0x200000ULL
#define ENTRY_PA (TEXT_PA + 0x40)
#define SYMTAB_OFF 0x1200
#define STRTAB_OFF 0x1240
#define SHDR_OFF 0x1300
#define ELF_SIZE (SHDR_OFF + 3 * 64)

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void put_phdr(uint8_t *p, uint64_t off, uint64_t pa, uint64_t filesz, uint64_t memsz)
{
    put32(p, 1);                /* PT_LOAD */
    put32(p + 4, 5);
    put64(p + 8, off);
    put64(p + 16, pa);
    put64(p + 24, pa);
    put64(p + 32, filesz);
    put64(p + 40, memsz);
    put64(p + 48, 0x1000);
}

static void put_shdr(uint8_t *p, uint32_t type, uint64_t off, uint64_t size, uint32_t link,
                     uint64_t entsize)
{
    put32(p + 4, type);
    put64(p + 24, off);
    put64(p + 32, size);
    put32(p + 40, link);
    put64(p + 56, entsize);
}

/* ehdr, two PT_LOADs (text 0x100 bytes, data 0x10 of 0x2000), .symtab with efi_entry64. */
static uint8_t *make_elf(void)
{
    uint8_t *e = calloc(1, ELF_SIZE);
    memcpy(e, "\177ELF\2\1\1", 7);
    put16(e + 16, 2);           /* ET_EXEC */
    put16(e + 18, 62);          /* EM_X86_64 */
    put32(e + 20, 1);
    put64(e + 24, TEXT_PA);
    put64(e + 32, 64);          /* e_phoff */
    put64(e + 40, SHDR_OFF);    /* e_shoff */
    put16(e + 52, 64);
    put16(e + 54, 56);
    put16(e + 56, 2);
    put16(e + 58, 64);
    put16(e + 60, 3);
    put_phdr(e + 64, 0x1000, TEXT_PA, 0x100, 0x100);
    put_phdr(e + 120, 0x1100, TEXT_PA + 0x1000, 0x10, 0x2000);
    memset(e + 0x1000, 0x90, 0x110);
    uint8_t *sym = e + SYMTAB_OFF + 24;
    put32(sym, 1);
    sym[4] = 0x12;              /* global function */
    put64(sym + 8, ENTRY_PA);
    memcpy(e + STRTAB_OFF, "\0efi_entry64", 13);
    put_shdr(e + SHDR_OFF + 64, 2, SYMTAB_OFF, 48, 2, 24);
    put_shdr(e + SHDR_OFF + 128, 3, STRTAB_OFF, 13, 0, 0);
    return e;
}

static int check(const uint8_t *e, size_t size, struct elf_error *err)
{
    /* An exact-size copy: ASan reports any read beyond `size`. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, e, size);
    struct elf_plan plan;
    int r = elf_check(copy, size, "efi_entry64", &plan, err);
    free(copy);
    return r;
}

static const char *refusal(uint8_t *e)
{
    struct elf_error err = { "", 0 };
    int r = check(e, ELF_SIZE, &err);
    free(e);
    return r == 0 ? "accepted" : err.what;
}

TEST(elf_good_image_is_planned)
{
    uint8_t *e = make_elf();
    struct elf_plan plan;
    struct elf_error err;
    REQUIRE(elf_check(e, ELF_SIZE, "efi_entry64", &plan, &err) == 0);
    CHECK_EQ(plan.entry, ENTRY_PA);
    CHECK_EQ(plan.nseg, 2);
    CHECK_EQ(plan.lo, TEXT_PA);
    CHECK_EQ(plan.hi, TEXT_PA + 0x3000);
    CHECK_EQ(plan.seg[1].memsz, 0x2000);
    free(e);
}

TEST(elf_every_truncation_is_refused)
{
    uint8_t *e = make_elf();
    struct elf_error err;
    for (size_t n = 0; n < ELF_SIZE; n++)
        if (check(e, n, &err) == 0)
            CHECK_EQ(n, -1);    /* report which length was accepted */
    free(e);
}

TEST(elf_every_byte_flip_is_safe)
{
    /* Accepted or refused, but never a read out of bounds (ASan) or a crash. */
    uint8_t *e = make_elf();
    struct elf_error err;
    static const size_t regions[][2] = { { 0, 176 }, { SYMTAB_OFF, STRTAB_OFF + 13 },
                                         { SHDR_OFF, ELF_SIZE } };
    for (size_t r = 0; r < 3; r++)
        for (size_t i = regions[r][0]; i < regions[r][1]; i++)
            for (int v = 0; v < 3; v++) {
                uint8_t old = e[i];
                e[i] = v == 0 ? 0xff : v == 1 ? 0x80 : (uint8_t)(old ^ 1);
                (void)check(e, ELF_SIZE, &err);
                e[i] = old;
            }
    free(e);
}

TEST(elf_header_refusals_name_the_field)
{
    uint8_t *e;
    e = make_elf(); e[1] = 'X';
    CHECK_STR(refusal(e), "not an ELF file (bad magic); first bytes");
    e = make_elf(); e[4] = 1;
    CHECK_STR(refusal(e), "not a 64-bit ELF (EI_CLASS)");
    e = make_elf(); put16(e + 18, 183);
    CHECK_STR(refusal(e), "ELF is not for x86_64 (e_machine)");
    e = make_elf(); put16(e + 16, 3);
    CHECK_STR(refusal(e), "ELF is not an executable (e_type)");
    e = make_elf(); put64(e + 32, UINT64_MAX - 8);
    CHECK_STR(refusal(e), "program headers lie outside the file (truncated?); e_phoff");
    e = make_elf(); put16(e + 54, 32);
    CHECK_STR(refusal(e), "bad program header size (e_phentsize)");
}

TEST(elf_segment_refusals)
{
    uint8_t *e;
    e = make_elf(); put_phdr(e + 120, 0x1100, TEXT_PA + 0x80, 0x10, 0x2000);
    CHECK_STR(refusal(e), "PT_LOAD segments overlap; p_paddr");
    e = make_elf(); put_phdr(e + 120, 0x1100, 0x9f000, 0x10, 0x100);
    CHECK_STR(refusal(e), "segment lies below 1 MiB; p_paddr");
    e = make_elf(); put_phdr(e + 120, 0x1100, 0xfffff000, 0x10, 0x2000);
    CHECK_STR(refusal(e), "segment does not fit below 4 GiB; p_paddr");
    e = make_elf(); put_phdr(e + 120, 0x1100, UINT64_MAX - 0xfff, 0x10, 0x2000);
    CHECK_STR(refusal(e), "segment does not fit below 4 GiB; p_paddr");
    e = make_elf(); put_phdr(e + 120, 0x1100, TEXT_PA + 0x1000, 0x20, 0x10);
    CHECK_STR(refusal(e), "segment file size exceeds its memory size; p_paddr");
    e = make_elf(); put_phdr(e + 120, UINT64_MAX - 4, TEXT_PA + 0x1000, 0x10, 0x10);
    CHECK_STR(refusal(e), "segment data lies outside the file (truncated?); p_offset");
}

TEST(elf_entry_symbol_must_exist_in_loaded_code)
{
    uint8_t *e;
    e = make_elf(); e[STRTAB_OFF + 1] = 'X';
    CHECK_STR(refusal(e), "the runtime's UEFI entry symbol (efi_entry64) is missing");
    e = make_elf(); put64(e + SYMTAB_OFF + 24 + 8, TEXT_PA + 0x1020);   /* in .bss */
    CHECK_STR(refusal(e), "entry symbol lies outside the loaded code; address");
    e = make_elf(); put16(e + 60, 0);
    CHECK_STR(refusal(e), "ELF has no section headers (stripped?); e_shnum");
    e = make_elf(); put32(e + SHDR_OFF + 64 + 40, 7);      /* sh_link past e_shnum */
    CHECK_STR(refusal(e), "corrupt symbol table; section");
}

TEST(elf_copy_zeroes_the_rest)
{
    uint8_t *e = make_elf();
    uint8_t *mem = malloc(0x3000);
    memset(mem, 0xaa, 0x3000);
    struct elf_plan plan = { .nseg = 2 };
    plan.seg[0] = (struct elf_seg){ (uintptr_t)mem, 0x1000, 0x100, 0x100 };
    plan.seg[1] = (struct elf_seg){ (uintptr_t)mem + 0x1000, 0x1100, 0x10, 0x2000 };
    elf_copy(e, &plan);
    CHECK_EQ(mem[0], 0x90);
    CHECK_EQ(mem[0xff], 0x90);
    CHECK_EQ(mem[0x100], 0xaa);         /* between segments: untouched */
    CHECK_EQ(mem[0x100f], 0x90);
    CHECK_EQ(mem[0x1010], 0);
    CHECK_EQ(mem[0x2fff], 0);
    free(mem);
    free(e);
}

TEST(crc32_matches_zlib)
{
    CHECK_EQ(crc32_ieee((const uint8_t *)"123456789", 9), 0xcbf43926u);
    CHECK_EQ(crc32_ieee((const uint8_t *)"", 0), 0);
}

/* Descriptors with the firmware's stride (48 here: larger than the structure, as OVMF's). */
struct wide_desc {
    struct efi_mem_desc d;
    uint64_t pad;
};

static struct boot_info bi;

TEST(memmap_types_and_merging)
{
    static const struct wide_desc map[] = {
        { { EFI_CONVENTIONAL, 0, 0x100000, 0, 0x100, 0xf }, 0 },
        { { EFI_BS_DATA, 0, 0x0, 0, 0xa0, 0xf }, 0 },                /* out of order */
        { { EFI_LOADER_DATA, 0, 0x200000, 0, 0x10, 0xf }, 0 },       /* merges */
        { { EFI_RT_DATA, 0, 0x210000, 0, 0x10, 0xf | EFI_ATTR_RUNTIME }, 0 },
        { { EFI_ACPI_RECLAIM, 0, 0x220000, 0, 0x4, 0xf }, 0 },
        { { EFI_ACPI_NVS, 0, 0x224000, 0, 0x4, 0xf }, 0 },
        { { EFI_MMIO, 0, 0xfec00000, 0, 0x1, EFI_ATTR_RUNTIME }, 0 },
        { { EFI_CONVENTIONAL, 0, 0x300000, 0, 0x10, 0xf | EFI_ATTR_RUNTIME }, 0 },
        { { EFI_CONVENTIONAL, 0, 0x400000, 0, 0x10, 0xf | EFI_ATTR_SP }, 0 },
        { { EFI_UNACCEPTED, 0, 0x500000, 0, 0x10, 0xf }, 0 },
        { { EFI_CONVENTIONAL, 0, 0x600000, 0, 0, 0xf }, 0 },         /* empty: dropped */
        { { 0x80000001, 0, 0x700000, 0, 0x10, 0 }, 0 },              /* OS-defined */
    };
    memset(&bi, 0, sizeof(bi));
    CHECK_EQ(efi_memmap_convert(map, ARRAY_SIZE(map), sizeof(map[0]), &bi), 0);
    REQUIRE(bi.nr_mem == 10);
    CHECK_EQ(bi.mem[0].base, 0);
    CHECK_EQ(bi.mem[0].type, MEM_USABLE);
    CHECK_EQ(bi.mem[1].base, 0x100000);
    CHECK_EQ(bi.mem[1].size, 0x110000);     /* conventional + loader data, merged */
    CHECK_EQ(bi.mem[2].type, MEM_FIRMWARE);
    CHECK_EQ(bi.mem[3].type, MEM_ACPI_RECLAIM);
    CHECK_EQ(bi.mem[4].type, MEM_ACPI_NVS);
    CHECK_EQ(bi.mem[5].type, MEM_FIRMWARE);  /* runtime attribute wins */
    CHECK_EQ(bi.mem[6].type, MEM_RESERVED);  /* specific-purpose memory */
    CHECK_EQ(bi.mem[7].type, MEM_UNUSABLE);
    CHECK_EQ(bi.mem[8].type, MEM_RESERVED);
    CHECK_EQ(bi.mem[9].base, 0xfec00000);
    CHECK_EQ(bi.mem[9].type, MEM_FIRMWARE);
}

TEST(memmap_overflow_drops_small_reserved_first)
{
    /* 200 regions alternating usable / reserved, none adjacent: the small reserved ones go. */
    static struct efi_mem_desc map[200];
    for (int i = 0; i < 200; i++) {
        bool usable = i % 2 == 0;
        map[i] = (struct efi_mem_desc){ usable ? EFI_CONVENTIONAL : EFI_RESERVED, 0,
                                        0x100000ULL * (uint64_t)(i + 1), 0, usable ? 16 : 1, 0 };
    }
    map[7].type = EFI_ACPI_RECLAIM;
    memset(&bi, 0, sizeof(bi));
    uint32_t dropped = efi_memmap_convert(map, 200, sizeof(map[0]), &bi);
    CHECK_EQ(bi.nr_mem, BOOT_MAX_MEM_REGIONS);
    CHECK_EQ(dropped, 200 - BOOT_MAX_MEM_REGIONS);
    uint32_t usable = 0, acpi = 0;
    for (uint32_t i = 0; i < bi.nr_mem; i++) {
        usable += bi.mem[i].type == MEM_USABLE;
        acpi += bi.mem[i].type == MEM_ACPI_RECLAIM;
        if (i > 0)
            CHECK(bi.mem[i - 1].base < bi.mem[i].base);
    }
    CHECK_EQ(usable, 100);
    CHECK_EQ(acpi, 1);
}
