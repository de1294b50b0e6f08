/* Validating and planning the load of the runtime ELF (portable: built into BOOTX64.EFI and
 * into a host test). Everything in the file is untrusted: a truncated or corrupted ELF on the
 * ESP must be refused with a message that names what is wrong. */
#ifndef MOAT_BOOT_EFI_ELF_CHECK_H
#define MOAT_BOOT_EFI_ELF_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_LOAD_SEGS 16
/* The runtime runs on an early identity map of the first 4 GiB (boot/efi/entry64.S). */
#define ELF_LOAD_LIMIT 0x100000000ULL
#define ELF_MAX_IMAGE_BYTES (256ULL << 20)

struct elf_seg {
    uint64_t pa;        /* where it runs: p_paddr */
    uint64_t offset;    /* in the file */
    uint64_t filesz;
    uint64_t memsz;
};

struct elf_plan {
    uint64_t entry;                 /* address of the entry symbol */
    uint64_t lo, hi;                /* page-aligned span of every PT_LOAD segment */
    uint32_t nseg;
    struct elf_seg seg[ELF_MAX_LOAD_SEGS];
};

/* Why a file was refused: a fixed text and the offending value. */
struct elf_error {
    const char *what;
    uint64_t value;
};

/* Checks data[0..size) as an x86_64 executable and plans its load; finds the address of the
 * function symbol `entry_sym`. 0, or -1 with *err filled. */
int elf_check(const uint8_t *data, size_t size, const char *entry_sym, struct elf_plan *plan,
              struct elf_error *err);

/* Copies the segments to their physical addresses (already allocated) and zeroes the rest. */
void elf_copy(const uint8_t *data, const struct elf_plan *plan);

/* CRC-32 as zlib and IEEE 802.3 compute it: the image records the runtime ELF's, so that any
 * corruption, not only a structural one, is refused before the load. */
uint32_t crc32_ieee(const uint8_t *data, size_t size);

#endif
