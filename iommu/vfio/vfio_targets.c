/* /sys/kernel/moat/targets/<name>: where the runtime keeps what a program must never hand a
 * device, as readlink answers ("0x..."), for the face's attack suite (tests/apps/). Read-only,
 * and it tells a program nothing it could not name already: in one address space every runtime
 * symbol is an address the program can take. Every target is refused by the same rule
 * (kernel/uaccess: not the program's memory); the suite checks each stays byte for byte. */
#include "iommu/vfio/vfio_private.h"
#include "arch/arch.h"
#include "drivers/dma/dma.h"
#include "kernel/init.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/fmt.h"

#define TARGETS_DIR "/sys/kernel/moat/targets/"
#define DRIVER_PAGE_FILL 0xd5       /* what the stand-in for another driver's buffer holds */
#define OTHER_DMA_FILL 0xd6         /* what another device's DMA buffer holds */

extern char __text_start[], __rodata_start[], __data_start[], __bss_start[];

static uint64_t runtime_stack;      /* a page of the stack the runtime booted and initialised on */
static void *heap_object;           /* a runtime heap object: its page holds the heap's metadata */
static void *driver_page;           /* a page of the runtime's, as another driver's buffer is */
static struct dma_space other_space;
static struct dma_mem other_buf;    /* mapped for another device, in the runtime's context */

/* A DMA buffer of another device (the last PCI function, through drivers/dma as the runtime's
 * drivers map theirs), made the first time a program asks for it; 0 when that device is the
 * program's or has no IOMMU. */
static uint64_t other_dma(void)
{
    struct pci_system *sys = vfio_pci();
    if (other_buf.cpu || !sys || !sys->ndevs)
        return (uintptr_t)other_buf.cpu;
    if (dma_space_init(&other_space, &sys->devs[sys->ndevs - 1], IOMMU_DOMAIN_PAGING))
        return 0;
    if (!other_space.ictx || dma_alloc(&other_space, PAGE_SIZE, IOMMU_READ | IOMMU_WRITE,
                                       &other_buf)) {
        dma_space_fini(&other_space);
        other_buf.cpu = NULL;
        return 0;
    }
    memset(other_buf.cpu, OTHER_DMA_FILL, PAGE_SIZE);
    return (uintptr_t)other_buf.cpu;
}

static uint64_t target(const char *name)
{
    struct iommu_unit *u = iommu_first_unit();
    if (!strcmp(name, "text"))
        return (uintptr_t)__text_start;
    if (!strcmp(name, "rodata"))
        return (uintptr_t)__rodata_start;
    if (!strcmp(name, "data"))
        return (uintptr_t)__data_start;
    if (!strcmp(name, "bss"))
        return (uintptr_t)__bss_start;
    if (!strcmp(name, "heap"))
        return (uintptr_t)heap_object;
    if (!strcmp(name, "page_table"))
        return (uintptr_t)phys_to_virt(arch_page_table_root());
    if (!strcmp(name, "iommu_root"))
        return u && u->root_pa ? (uintptr_t)phys_to_virt(u->root_pa) : 0;
    if (!strcmp(name, "kernel_stack"))
        return runtime_stack;
    if (!strcmp(name, "driver_page"))
        return (uintptr_t)driver_page;
    if (!strcmp(name, "other_dma"))
        return other_dma();
    return 0;
}

static int targets_readlink(const char *path, char *buf, size_t size)
{
    size_t plen = strlen(TARGETS_DIR);
    if (strncmp(path, TARGETS_DIR, plen) != 0)
        return -ENOENT;
    uint64_t a = target(path + plen);
    if (!a)
        return -ENOENT;
    char link[24];
    int n = fmt_snprintf(link, sizeof(link), "%#llx", (unsigned long long)a);
    size_t k = MIN((size_t)n, size);
    memcpy(buf, link, k);
    return (int)k;
}

static struct sysfs_provider targets_sysfs = { .readlink = targets_readlink };

static int vfio_targets_init(void)
{
    uint64_t pa;
    runtime_stack = ALIGN_DOWN((uintptr_t)__builtin_frame_address(0), PAGE_SIZE);
    heap_object = kzalloc(64);
    driver_page = pmm_alloc_zeroed(0, &pa);
    if (!heap_object || !driver_page)
        return -ENOMEM;
    memset(driver_page, DRIVER_PAGE_FILL, PAGE_SIZE);
    sysfs_register(&targets_sysfs);
    return 0;
}
MOAT_UNIT_OPTIONAL(80_late, vfio_targets, vfio_targets_init);
