/* What every boot path (PVH, UEFI) hands the runtime. Nothing after kmain() knows how moat
 * was started. */
#ifndef MOAT_KERNEL_BOOT_INFO_H
#define MOAT_KERNEL_BOOT_INFO_H

#include "lib/compiler.h"

enum mem_type {
    MEM_USABLE = 1,         /* free RAM */
    MEM_RESERVED = 2,       /* never touched */
    MEM_ACPI_RECLAIM = 3,   /* ACPI tables: kept (moat reads them later) */
    MEM_ACPI_NVS = 4,
    MEM_UNUSABLE = 5,
    MEM_FIRMWARE = 6,       /* UEFI runtime services code/data: never touched */
};

struct mem_region {
    uint64_t base;
    uint64_t size;
    uint32_t type;          /* enum mem_type */
};

#define BOOT_MAX_MEM_REGIONS 128
#define BOOT_CMDLINE_MAX 512

struct boot_info {
    const char *loader;                 /* "pvh", "uefi" */
    uint64_t entry_tsc;                 /* TSC at the first instruction moat ran */
    uint64_t rsdp_pa;                   /* 0: search the BIOS areas */
    uint32_t nr_mem;
    struct mem_region mem[BOOT_MAX_MEM_REGIONS];
    char cmdline[BOOT_CMDLINE_MAX];
    struct {
        uint64_t base;                  /* 0: no framebuffer */
        uint32_t width, height, pitch, bpp;
    } fb;
};

extern struct boot_info boot_info;

/* The common entry every boot path calls once it has filled boot_info. */
__noreturn void kmain(void);

/* What the image does once ready; its return value is the guest's exit status. The default
 * image's version reports and returns 0; the tests image and appliances provide their own. */
int moat_image_main(void);

#endif
