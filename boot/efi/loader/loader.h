/* BOOTX64.EFI: loads moat's runtime ELF from the ESP it was started from, gathers what the
 * firmware knows (memory map, ACPI RSDP, framebuffer, command line), leaves boot services and
 * jumps to the runtime's efi_entry64 with a filled struct efi_handoff. */
#ifndef MOAT_BOOT_EFI_LOADER_H
#define MOAT_BOOT_EFI_LOADER_H

#include <efi.h>
#include <efilib.h>

#include "boot/efi/handoff.h"

/* Files on the ESP, next to \EFI\BOOT\BOOTX64.EFI. */
#define MOAT_ELF_PATH L"\\EFI\\moat\\moat.elf"
#define MOAT_CRC_PATH L"\\EFI\\moat\\moat.elf.crc32"
#define MOAT_CMDLINE_PATH L"\\EFI\\moat\\cmdline.txt"

/* Status the loader powers off with when it refuses to start (README: exit statuses). */
#define LOADER_EXIT_STATUS 4

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);

/* Prints "moat-efi: error: ...", ends the run like the runtime does, and only when that does
 * not stop the machine (real hardware) returns the error to the boot manager. */
EFI_STATUS loader_fail(EFI_STATUS st, const CHAR16 *fmt, ...);

/* Called between GetMemoryMap and ExitBootServices, attempt 0, 1, ...: a no-op in BOOTX64.EFI
 * (hook_none.c); the test loader's (hook_stale_key.c) makes the first map key stale. */
void loader_hook_before_exit(int attempt);

/* fs.c: reads a whole file of the volume the loader came from; *buf from AllocatePool. */
EFI_STATUS fs_read_file(EFI_HANDLE image, const CHAR16 *path, UINT64 max, UINT8 **buf,
                        UINTN *size);

/* firmware.c */
UINT64 fw_find_rsdp(void);
void fw_report_vtd(UINT64 rsdp_pa);
void fw_fill_framebuffer(struct boot_info *bi);

#endif
