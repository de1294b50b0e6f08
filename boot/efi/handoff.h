/* What the UEFI loader (BOOTX64.EFI) hands the runtime's 64-bit UEFI entry, efi_entry64.
 * The loader and the runtime are separate binaries built from one tree; the magic, version
 * and size catch a loader and a runtime ELF from different trees on one ESP. */
#ifndef MOAT_BOOT_EFI_HANDOFF_H
#define MOAT_BOOT_EFI_HANDOFF_H

#include "kernel/boot_info.h"

#define EFI_HANDOFF_MAGIC 0x66666f646e61686dULL     /* "mhandoff" */
#define EFI_HANDOFF_VERSION 1

/* The runtime symbol the loader jumps to, with %rdi = the hand-off (SysV ABI), interrupts off,
 * on the firmware's identity-mapped page tables. The hand-off lies below 4 GiB. */
#define EFI_ENTRY_SYMBOL "efi_entry64"

struct efi_handoff {
    uint64_t magic;
    uint32_t version;
    uint32_t size;              /* sizeof(struct efi_handoff) as the loader was built */
    uint64_t exit_tsc;          /* TSC just after ExitBootServices succeeded */
    struct boot_info info;      /* filled but for loader and entry_tsc */
};

#endif
