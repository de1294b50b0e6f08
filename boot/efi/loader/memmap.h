/* The UEFI memory map → boot_info.mem[] (portable: built into BOOTX64.EFI and a host test).
 * Runs after ExitBootServices: pure computation over the map the firmware returned. */
#ifndef MOAT_BOOT_EFI_MEMMAP_H
#define MOAT_BOOT_EFI_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/boot_info.h"

/* EFI_MEMORY_DESCRIPTOR (UEFI 2.10, 7.2 GetMemoryMap); the firmware's stride may be larger. */
struct efi_mem_desc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys;
    uint64_t virt;
    uint64_t pages;
    uint64_t attr;
};
_Static_assert(sizeof(struct efi_mem_desc) == 40, "EFI_MEMORY_DESCRIPTOR layout");

/* EFI_MEMORY_TYPE values used here. */
enum {
    EFI_RESERVED = 0, EFI_LOADER_CODE, EFI_LOADER_DATA, EFI_BS_CODE, EFI_BS_DATA,
    EFI_RT_CODE, EFI_RT_DATA, EFI_CONVENTIONAL, EFI_UNUSABLE, EFI_ACPI_RECLAIM, EFI_ACPI_NVS,
    EFI_MMIO, EFI_MMIO_PORT, EFI_PAL_CODE, EFI_PERSISTENT, EFI_UNACCEPTED,
};
#define EFI_ATTR_RUNTIME (1ULL << 63)
#define EFI_ATTR_SP (1ULL << 18)         /* specific-purpose memory: not general RAM */

uint32_t efi_mem_type_to_boot(uint32_t efi_type, uint64_t attr);

/* Converts n descriptors of `stride` bytes at map into bi->mem[] (sorted, adjacent regions of
 * one type merged). When more regions remain than boot_info holds, the smallest are dropped,
 * reserved-like ones first (an unlisted region is never touched), then usable ones (only lost).
 * Returns the number of regions dropped. */
uint32_t efi_memmap_convert(const void *map, size_t n, size_t stride, struct boot_info *bi);

#endif
