/* ELF64 checks for the runtime image. Layouts: System V ABI, ELF-64 Object File Format 1.5. */
#include "elf_check.h"

#define PAGE 4096ULL
#define EM_X86_64 62
#define ET_EXEC 2
#define PT_LOAD 1
#define SHT_SYMTAB 2
#define STT_FUNC 2
#define STT_NOTYPE 0

struct elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header layout");

struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 program header layout");

struct elf64_shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t addralign, entsize;
};
_Static_assert(sizeof(struct elf64_shdr) == 64, "ELF64 section header layout");

struct elf64_sym {
    uint32_t name;
    uint8_t info, other;
    uint16_t shndx;
    uint64_t value, size;
};
_Static_assert(sizeof(struct elf64_sym) == 24, "ELF64 symbol layout");

static int fail(struct elf_error *err, const char *what, uint64_t value)
{
    err->what = what;
    err->value = value;
    return -1;
}

/* [off, off + n * esz) lies inside the file (no overflow). */
static int in_file(size_t size, uint64_t off, uint64_t n, uint64_t esz)
{
    uint64_t len, end;
    if (__builtin_mul_overflow(n, esz, &len) || __builtin_add_overflow(off, len, &end))
        return 0;
    return end <= size;
}

static void copy_bytes(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

static int check_header(const uint8_t *data, size_t size, struct elf64_ehdr *eh,
                        struct elf_error *err)
{
    if (size < sizeof(*eh))
        return fail(err, "file too short for an ELF header; bytes", size);
    copy_bytes(eh, data, sizeof(*eh));
    if (eh->ident[0] != 0x7f || eh->ident[1] != 'E' || eh->ident[2] != 'L' || eh->ident[3] != 'F')
        return fail(err, "not an ELF file (bad magic); first bytes",
                    eh->ident[0] | eh->ident[1] << 8 | eh->ident[2] << 16 | (uint32_t)eh->ident[3] << 24);
    if (eh->ident[4] != 2)
        return fail(err, "not a 64-bit ELF (EI_CLASS)", eh->ident[4]);
    if (eh->ident[5] != 1)
        return fail(err, "not a little-endian ELF (EI_DATA)", eh->ident[5]);
    if (eh->ident[6] != 1 || eh->version != 1)
        return fail(err, "unknown ELF version", eh->version);
    if (eh->machine != EM_X86_64)
        return fail(err, "ELF is not for x86_64 (e_machine)", eh->machine);
    if (eh->type != ET_EXEC)
        return fail(err, "ELF is not an executable (e_type)", eh->type);
    if (eh->phentsize != sizeof(struct elf64_phdr))
        return fail(err, "bad program header size (e_phentsize)", eh->phentsize);
    if (eh->phnum == 0)
        return fail(err, "ELF has no program headers", 0);
    if (!in_file(size, eh->phoff, eh->phnum, sizeof(struct elf64_phdr)))
        return fail(err, "program headers lie outside the file (truncated?); e_phoff", eh->phoff);
    return 0;
}

static int check_segment(const struct elf64_phdr *ph, size_t size, struct elf_error *err)
{
    uint64_t end;
    if (ph->filesz > ph->memsz)
        return fail(err, "segment file size exceeds its memory size; p_paddr", ph->paddr);
    if (!in_file(size, ph->offset, ph->filesz, 1))
        return fail(err, "segment data lies outside the file (truncated?); p_offset", ph->offset);
    if (__builtin_add_overflow(ph->paddr, ph->memsz, &end) || end > ELF_LOAD_LIMIT)
        return fail(err, "segment does not fit below 4 GiB; p_paddr", ph->paddr);
    if (ph->paddr < 0x100000)
        return fail(err, "segment lies below 1 MiB; p_paddr", ph->paddr);
    if (ph->memsz == 0)
        return fail(err, "empty PT_LOAD segment; p_paddr", ph->paddr);
    return 0;
}

static int plan_segments(const uint8_t *data, size_t size, const struct elf64_ehdr *eh,
                         struct elf_plan *plan, struct elf_error *err)
{
    plan->nseg = 0;
    plan->lo = UINT64_MAX;
    plan->hi = 0;
    for (uint32_t i = 0; i < eh->phnum; i++) {
        struct elf64_phdr ph;
        copy_bytes(&ph, data + eh->phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.type != PT_LOAD)
            continue;
        if (check_segment(&ph, size, err))
            return -1;
        if (plan->nseg == ELF_MAX_LOAD_SEGS)
            return fail(err, "too many PT_LOAD segments", eh->phnum);
        for (uint32_t j = 0; j < plan->nseg; j++) {
            const struct elf_seg *o = &plan->seg[j];
            if (ph.paddr < o->pa + o->memsz && o->pa < ph.paddr + ph.memsz)
                return fail(err, "PT_LOAD segments overlap; p_paddr", ph.paddr);
        }
        plan->seg[plan->nseg++] = (struct elf_seg){ ph.paddr, ph.offset, ph.filesz, ph.memsz };
        if (ph.paddr < plan->lo)
            plan->lo = ph.paddr;
        if (ph.paddr + ph.memsz > plan->hi)
            plan->hi = ph.paddr + ph.memsz;
    }
    if (plan->nseg == 0)
        return fail(err, "ELF has no PT_LOAD segment", 0);
    plan->lo &= ~(PAGE - 1);
    plan->hi = (plan->hi + PAGE - 1) & ~(PAGE - 1);
    if (plan->hi - plan->lo > ELF_MAX_IMAGE_BYTES)
        return fail(err, "image spans too much memory; bytes", plan->hi - plan->lo);
    return 0;
}

static int str_eq(const uint8_t *s, const uint8_t *end, const char *want)
{
    for (; s < end && *want; s++, want++)
        if (*s != (uint8_t)*want)
            return 0;
    return s < end && *s == 0 && *want == 0;
}

/* The entry symbol comes from .symtab: found through the section headers, each bounds-checked. */
static int find_entry(const uint8_t *data, size_t size, const struct elf64_ehdr *eh,
                      const char *name, const struct elf_plan *plan, uint64_t *addr,
                      struct elf_error *err)
{
    if (eh->shentsize != sizeof(struct elf64_shdr) || eh->shnum == 0)
        return fail(err, "ELF has no section headers (stripped?); e_shnum", eh->shnum);
    if (!in_file(size, eh->shoff, eh->shnum, sizeof(struct elf64_shdr)))
        return fail(err, "section headers lie outside the file (truncated?); e_shoff", eh->shoff);
    for (uint32_t i = 0; i < eh->shnum; i++) {
        struct elf64_shdr sh, st;
        copy_bytes(&sh, data + eh->shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
        if (sh.type != SHT_SYMTAB)
            continue;
        if (sh.entsize != sizeof(struct elf64_sym) || sh.link >= eh->shnum ||
            !in_file(size, sh.offset, sh.size, 1))
            return fail(err, "corrupt symbol table; section", i);
        copy_bytes(&st, data + eh->shoff + (uint64_t)sh.link * sizeof(st), sizeof(st));
        if (!in_file(size, st.offset, st.size, 1))
            return fail(err, "symbol names lie outside the file (truncated?); offset", st.offset);
        const uint8_t *names = data + st.offset, *names_end = names + st.size;
        for (uint64_t k = 0; k < sh.size / sizeof(struct elf64_sym); k++) {
            struct elf64_sym sym;
            copy_bytes(&sym, data + sh.offset + k * sizeof(sym), sizeof(sym));
            uint8_t t = sym.info & 0xf;
            if ((t != STT_FUNC && t != STT_NOTYPE) || sym.name >= st.size ||
                !str_eq(names + sym.name, names_end, name))
                continue;
            for (uint32_t j = 0; j < plan->nseg; j++) {
                const struct elf_seg *s = &plan->seg[j];
                if (sym.value >= s->pa && sym.value < s->pa + s->filesz) {
                    *addr = sym.value;
                    return 0;
                }
            }
            return fail(err, "entry symbol lies outside the loaded code; address", sym.value);
        }
    }
    return fail(err, "the runtime's UEFI entry symbol (efi_entry64) is missing", 0);
}

int elf_check(const uint8_t *data, size_t size, const char *entry_sym, struct elf_plan *plan,
              struct elf_error *err)
{
    struct elf64_ehdr eh;
    if (check_header(data, size, &eh, err) || plan_segments(data, size, &eh, plan, err))
        return -1;
    return find_entry(data, size, &eh, entry_sym, plan, &plan->entry, err);
}

uint32_t crc32_ieee(const uint8_t *data, size_t size)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < size; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

void elf_copy(const uint8_t *data, const struct elf_plan *plan)
{
    for (uint32_t i = 0; i < plan->nseg; i++) {
        const struct elf_seg *s = &plan->seg[i];
        uint8_t *dst = (uint8_t *)(uintptr_t)s->pa;
        copy_bytes(dst, data + s->offset, s->filesz);
        for (uint64_t k = s->filesz; k < s->memsz; k++)
            dst[k] = 0;
    }
}
