/* Device tree -> boot_info, then kmain. Runs on the early identity map (boot/arm64/entry.S),
 * which covers the first 2 GiB: virt's devices and the first GiB of its RAM, where QEMU puts
 * the image and the tree. */
#include "arch/aarch64/arch.h"
#include "arch/aarch64/platform.h"
#include "kernel/boot_info.h"
#include "lib/string.h"

#define EARLY_MAP_END 0x80000000ULL
#define DTB_MAX_SIZE (2u << 20)

extern uint64_t boot_tsc;
extern char __image_start[], __image_end[];
void arm64_main(uint64_t dtb_pa);
void serial_early(uint64_t base);

static struct fdt fdt;
static struct dt_platform dt;

const struct fdt *platform_fdt(void)
{
    return &fdt;
}

const struct dt_platform *platform_dt(void)
{
    return &dt;
}

static __noreturn void early_panic(const char *what, const char *why)
{
    /* The console may not be known yet: virt's PL011 is the fallback. */
    serial_write("moat: boot failed: ", 19);
    serial_write(what, strlen(what));
    if (why) {
        serial_write(": ", 2);
        serial_write(why, strlen(why));
    }
    serial_write("\n", 1);
    arch_power_off(MOAT_EXIT_PANIC);
}

static void add_region(uint64_t base, uint64_t size, uint32_t type)
{
    if (size == 0 || boot_info.nr_mem == BOOT_MAX_MEM_REGIONS)
        return;
    boot_info.mem[boot_info.nr_mem++] = (struct mem_region){ base, size, type };
}

/* Takes [base, base+size) out of the usable regions and records it as reserved. */
static void carve(uint64_t base, uint64_t size)
{
    uint64_t end = base + size;
    if (size == 0 || end < base)
        return;
    for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
        struct mem_region *r = &boot_info.mem[i];
        uint64_t rend = r->base + r->size;
        if (r->type != MEM_USABLE || end <= r->base || base >= rend)
            continue;
        uint64_t rbase = r->base;
        /* The part before stays in place; the part after is appended. */
        r->size = base > rbase ? base - rbase : 0;
        if (end < rend)
            add_region(end, rend - end, MEM_USABLE);
        if (r->size == 0)
            r->type = MEM_RESERVED;   /* an empty entry: dropped below */
    }
    add_region(base, size, MEM_RESERVED);
}

static void drop_empty_and_sort(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < boot_info.nr_mem; i++)
        if (boot_info.mem[i].size)
            boot_info.mem[n++] = boot_info.mem[i];
    boot_info.nr_mem = n;
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && boot_info.mem[j].base < boot_info.mem[j - 1].base; j--) {
            struct mem_region t = boot_info.mem[j];
            boot_info.mem[j] = boot_info.mem[j - 1];
            boot_info.mem[j - 1] = t;
        }
}

void arm64_main(uint64_t dtb_pa)
{
    boot_info.loader = "dtb";
    boot_info.entry_tsc = boot_tsc;
    if (dtb_pa < 0x40000000ULL || dtb_pa >= EARLY_MAP_END - 64)
        early_panic("device tree address outside the first GiB of RAM", NULL);
    /* Read at most what is mapped; fdt_open checks totalsize against it. */
    uint64_t avail = MIN((uint64_t)DTB_MAX_SIZE, EARLY_MAP_END - dtb_pa);
    if (fdt_open(&fdt, (const void *)(uintptr_t)dtb_pa, avail))
        early_panic("device tree refused", fdt.error);
    const char *why;
    if (dt_platform_parse(&fdt, &dt, &why))
        early_panic("device tree facts refused", why);
    if (dt.uart.present)
        serial_early(dt.uart.base);

    for (uint32_t i = 0; i < dt.nr_mem; i++)
        add_region(dt.mem[i].base, dt.mem[i].size, MEM_USABLE);
    uint64_t b, s;
    for (unsigned i = 0; fdt_rsv(&fdt, i, &b, &s); i++)
        carve(b, s);
    carve(dtb_pa, fdt.size);
    drop_empty_and_sort();
    if (dt.bootargs)
        str_copy(boot_info.cmdline, dt.bootargs, sizeof(boot_info.cmdline));
    kmain();
}
