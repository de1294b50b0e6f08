/* UEFI memory types → moat's: everything the OS may reuse after ExitBootServices (loader,
 * boot-services, conventional) is usable — the runtime image inside it is carved out by the
 * runtime itself, as on the PVH path; runtime-services memory is firmware's for good; ACPI
 * memory is kept; anything else is never touched. */
#include "memmap.h"

uint32_t efi_mem_type_to_boot(uint32_t efi_type, uint64_t attr)
{
    if (attr & EFI_ATTR_RUNTIME)
        return MEM_FIRMWARE;
    switch (efi_type) {
    case EFI_LOADER_CODE:
    case EFI_LOADER_DATA:
    case EFI_BS_CODE:
    case EFI_BS_DATA:
    case EFI_CONVENTIONAL:
        return (attr & EFI_ATTR_SP) ? MEM_RESERVED : MEM_USABLE;
    case EFI_RT_CODE:
    case EFI_RT_DATA:
        return MEM_FIRMWARE;
    case EFI_UNUSABLE:
    case EFI_UNACCEPTED:
        return MEM_UNUSABLE;
    case EFI_ACPI_RECLAIM:
        return MEM_ACPI_RECLAIM;
    case EFI_ACPI_NVS:
        return MEM_ACPI_NVS;
    default:    /* reserved, MMIO, PAL code, persistent memory, OEM and OS types */
        return MEM_RESERVED;
    }
}

static void insert_sorted(struct mem_region *r, uint32_t *n, struct mem_region x)
{
    uint32_t i = *n;
    while (i > 0 && r[i - 1].base > x.base) {
        r[i] = r[i - 1];
        i--;
    }
    r[i] = x;
    (*n)++;
}

/* Index of the region to drop when full: the smallest non-usable one that is not ACPI (moat
 * reads the ACPI tables), else the smallest usable one. */
static uint32_t victim(const struct mem_region *r, uint32_t n)
{
    uint32_t best = n;
    for (int pass = 0; pass < 2 && best == n; pass++) {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t t = r[i].type;
            bool usable = t == MEM_USABLE, acpi = t == MEM_ACPI_RECLAIM || t == MEM_ACPI_NVS;
            if (acpi || (pass == 0 ? usable : !usable))
                continue;
            if (best == n || r[i].size < r[best].size)
                best = i;
        }
    }
    return best == n ? 0 : best;
}

static void drop(struct mem_region *r, uint32_t *n, uint32_t i)
{
    for (; i + 1 < *n; i++)
        r[i] = r[i + 1];
    (*n)--;
}

/* Merges r[i] into its predecessor when they touch and share a type. */
static void merge_sorted(struct mem_region *r, uint32_t *n)
{
    uint32_t out = 0;
    for (uint32_t i = 0; i < *n; i++) {
        if (out > 0 && r[out - 1].type == r[i].type &&
            r[out - 1].base + r[out - 1].size == r[i].base) {
            r[out - 1].size += r[i].size;
            continue;
        }
        r[out++] = r[i];
    }
    *n = out;
}

uint32_t efi_memmap_convert(const void *map, size_t n, size_t stride, struct boot_info *bi)
{
    uint32_t count = 0, dropped = 0;
    for (size_t k = 0; k < n; k++) {
        const struct efi_mem_desc *d = (const void *)((const uint8_t *)map + k * stride);
        uint64_t size;
        if (d->pages == 0 || __builtin_mul_overflow(d->pages, 4096ULL, &size) ||
            d->phys + size < d->phys)
            continue;
        struct mem_region x = { d->phys, size, efi_mem_type_to_boot(d->type, d->attr) };
        if (count == BOOT_MAX_MEM_REGIONS) {
            merge_sorted(bi->mem, &count);
            if (count == BOOT_MAX_MEM_REGIONS) {
                drop(bi->mem, &count, victim(bi->mem, count));
                dropped++;
            }
        }
        insert_sorted(bi->mem, &count, x);
    }
    merge_sorted(bi->mem, &count);
    bi->nr_mem = count;
    return dropped;
}
