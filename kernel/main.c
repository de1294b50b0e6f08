/* The runtime's common entry: every boot path fills boot_info and calls kmain. */
#include "arch/arch.h"
#include "kernel/boot_info.h"
#include "kernel/cmdline.h"
#include "kernel/init.h"
#include "kernel/ktest.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "pci/pci_platform.h"

struct boot_info boot_info;

/* The image's role, chosen at link time: the default image reports and powers off, the tests
 * image runs the in-image suites, an appliance image runs its main(). */
__attribute__((weak)) int moat_image_main(void)
{
    kprintf("moat: default image: nothing more to do\n");
    return 0;
}

static const char *mem_type_name(uint32_t t)
{
    static const char *const names[] = { "?", "usable", "reserved", "ACPI", "ACPI NVS",
                                         "unusable", "firmware" };
    return t < ARRAY_SIZE(names) ? names[t] : "?";
}

static void report_memory(void)
{
    uint64_t usable = 0;
    for (uint32_t i = 0; i < boot_info.nr_mem; i++) {
        const struct mem_region *r = &boot_info.mem[i];
        kprintf("mem:   %#014llx-%#014llx %s\n", (unsigned long long)r->base,
                (unsigned long long)(r->base + r->size - 1), mem_type_name(r->type));
        if (r->type == MEM_USABLE)
            usable += r->size;
    }
    kprintf("mem: %u regions from the %s loader, %llu MiB usable, %llu MiB free now\n",
            boot_info.nr_mem, boot_info.loader, (unsigned long long)(usable >> 20),
            (unsigned long long)(pmm_free_bytes() >> 20));
}

/* The operations that make a boot slow under a hypervisor (each config access and console port
 * access is an exit, a command-register write can rebuild the memory map), counted up to
 * ready: boot time stays explainable by more than a stopwatch. */
static void report_boot_work(void)
{
    const struct pci_cfg_stats *pci = platform_pci_cfg_stats();
    struct serial_stats con = *serial_stats();
    kprintf("moat: boot work: %llu config reads, %llu config writes (%llu to command registers), "
            "%llu console bytes in %llu %s, %llu KiB zeroed\n",
            (unsigned long long)pci->reads, (unsigned long long)pci->writes,
            (unsigned long long)pci->command_writes, (unsigned long long)con.bytes,
            (unsigned long long)con.port_io, ARCH_CONSOLE_ACCESS,
            (unsigned long long)(pmm_zeroed_bytes() >> 10));
}

void kmain(void)
{
    serial_init();
    kprintf("moat: booting (%s), command line \"%s\"\n", boot_info.loader, boot_info.cmdline);
    units_run();
    kprintf("moat: ready in %llu us\n", (unsigned long long)(clock_ns() / NSEC_PER_USEC));
    report_boot_work();
    report_memory();
    int status = moat_image_main();
    arch_power_off(status);
}
