/* The edu driver. Registers (QEMU hw/misc/edu.c): 0x00 identification (0x010000ed),
 * 0x04 liveness (reads back the inverse of what was written), 0x20 status, 0x24 interrupt
 * status, 0x60 raise, 0x64 acknowledge, 0x80 DMA source, 0x88 DMA destination, 0x90 count,
 * 0x98 command: bit 0 start (reads 1 while running), bit 1 direction (1: device buffer to
 * DMA space, 0: DMA space to device buffer), bit 2 interrupt on completion. */
#include "arch/arch.h"
#include "drivers/edu/edu.h"
#include "drivers/dma/dma.h"
#include "kernel/driver.h"
#include "kernel/init.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci_hotplug.h"
#include "pci/pci_platform.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_REG_IDENT 0x00
#define EDU_IDENT_MAGIC 0xed            /* low byte; major/minor above it */
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_CNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_CMD_START BIT(0)
#define EDU_CMD_TO_RAM BIT(1)

static struct edu_dev devs[EDU_MAX_DEVS];
static unsigned nr_devs;

unsigned edu_count(void)
{
    return nr_devs;
}

/* NULL for an index past the end, or one whose device was hot-unplugged. */
struct edu_dev *edu_get(unsigned i)
{
    return i < nr_devs && devs[i].pci ? &devs[i] : NULL;
}

static uint32_t edu_rd32(struct edu_dev *e, unsigned off)
{
    return *(volatile uint32_t *)(e->mmio + off);
}

static void edu_wr32(struct edu_dev *e, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(e->mmio + off) = v;
}

static uint64_t edu_rd64(struct edu_dev *e, unsigned off)
{
    return *(volatile uint64_t *)(e->mmio + off);
}

static void edu_wr64(struct edu_dev *e, unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(e->mmio + off) = v;
}

bool edu_alive(struct edu_dev *e)
{
    edu_wr32(e, EDU_REG_LIVENESS, 0x5a5a1234);
    return edu_rd32(e, EDU_REG_LIVENESS) == ~0x5a5a1234u;
}

int edu_dma_start(struct edu_dev *e, bool to_ram, uint64_t iova, uint32_t off, uint32_t len)
{
    /* The device does not refuse a range outside its buffer: it would copy out of bounds. */
    if (len == 0 || off > EDU_BUF_SIZE || len > EDU_BUF_SIZE - off)
        return -EINVAL;
    if (edu_rd64(e, EDU_REG_DMA_CMD) & EDU_CMD_START)
        return -EBUSY;
    uint64_t buf = EDU_BUF_ADDR + off;
    edu_wr64(e, EDU_REG_DMA_SRC, to_ram ? buf : iova);
    edu_wr64(e, EDU_REG_DMA_DST, to_ram ? iova : buf);
    edu_wr64(e, EDU_REG_DMA_CNT, len);
    mb();       /* the buffers the caller filled are visible before the engine starts */
    edu_wr64(e, EDU_REG_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
    return 0;
}

int edu_dma_wait(struct edu_dev *e)
{
    int err = poll_until(!(edu_rd64(e, EDU_REG_DMA_CMD) & EDU_CMD_START), EDU_DMA_TIMEOUT_NS);
    mb();
    return err;
}

int edu_dma(struct edu_dev *e, bool to_ram, uint64_t iova, uint32_t off, uint32_t len)
{
    int err = edu_dma_start(e, to_ram, iova, off, len);
    return err ? err : edu_dma_wait(e);
}

void edu_raise_irq(struct edu_dev *e, uint32_t bits)
{
    edu_wr32(e, EDU_REG_IRQ_RAISE, bits);
}

void edu_ack_irq(struct edu_dev *e, uint32_t bits)
{
    edu_wr32(e, EDU_REG_IRQ_ACK, bits);
}

uint32_t edu_irq_status(struct edu_dev *e)
{
    return edu_rd32(e, EDU_REG_IRQ_STATUS);
}

/* Its own IOAS in the runtime's IOMMUFD context (dma.h), attached before bus mastering is
 * turned on; the window stays below the device's 28-bit DMA mask. */
static int edu_attach_domain(struct edu_dev *e)
{
    int err = dma_space_init_window(&e->dma, e->pci, IOMMU_DOMAIN_PAGING, EDU_IOVA_BASE,
                                    EDU_IOVA_SIZE);
    e->domain = err ? NULL : e->dma.domain;
    return err;
}

static int edu_probe(struct pci_system *sys, struct pci_dev *pd)
{
    struct edu_dev *e = &devs[nr_devs];
    memset(e, 0, sizeof(*e));
    e->pci = pd;
    e->rid = (uint16_t)(pd->bus << 8 | pd->devfn);
    pci_format_bdf(pd, e->bdf, sizeof(e->bdf));
    if (!pd->bar[0].size || !(pd->bar[0].flags & PCI_BAR_ASSIGNED))
        return -ENODEV;
    e->mmio = mmio_map(pd->bar[0].base, pd->bar[0].size);
    if (!e->mmio)
        return -ENOMEM;
    int err = edu_attach_domain(e);
    if (err) {
        e->pci = NULL;
        return err;
    }
    err = pci_enable_device(sys, pd);
    if (!err && ((edu_rd32(e, EDU_REG_IDENT) & 0xff) != EDU_IDENT_MAGIC || !edu_alive(e)))
        err = -EIO;
    if (err) {
        dma_space_fini(&e->dma);
        e->pci = NULL;
        return err;
    }
    pci_set_driver(pd, "edu");
    nr_devs++;
    kprintf("edu: %s: ident %#x, %s\n", e->bdf, edu_rd32(e, EDU_REG_IDENT),
            dma_space_describe(&e->dma));
    return 0;
}

static int edu_init_boot(void)
{
    struct pci_system *sys = platform_pci();
    if (!sys || !driver_may_bind("edu"))
        return 0;
    for (struct pci_dev *pd = pci_get_dev_by_id(sys, EDU_VENDOR, EDU_DEVICE, NULL);
         pd && nr_devs < EDU_MAX_DEVS; pd = pci_get_dev_by_id(sys, EDU_VENDOR, EDU_DEVICE, pd)) {
        int err = edu_probe(sys, pd);
        if (err)
            kprintf("edu: %02x:%02x.%x: probe failed: %s\n", pd->bus, pd->devfn >> 3,
                    pd->devfn & 7, errno_name(err));
    }
    return 0;
}
static int edu_hotplug_probe(struct pci_system *sys, struct pci_dev *pd)
{
    if (pd->vendor != EDU_VENDOR || pd->device != EDU_DEVICE)
        return -ENODEV;
    if (nr_devs == EDU_MAX_DEVS)
        return -ENOSPC;
    return edu_probe(sys, pd);
}

/* Before its DMA space goes: a transfer still running is waited for (bounded; a device that is
 * already gone reads all ones and never finishes, and then has nothing left to write), then
 * bus mastering off and the space torn down, which blocks the device and invalidates. Users of
 * the space (tests) must have unmapped their buffers: their IOVAs are reused otherwise. */
static void edu_remove(struct pci_system *sys, struct pci_dev *pd)
{
    for (unsigned i = 0; i < nr_devs; i++) {
        struct edu_dev *e = &devs[i];
        if (e->pci != pd)
            continue;
        if (edu_dma_wait(e))
            kprintf("edu: %s: removed with a transfer that never finished\n", e->bdf);
        pci_clear_master(sys, pd);
        dma_space_fini(&e->dma);
        kprintf("edu: %s: removed\n", e->bdf);
        e->pci = NULL;
        e->domain = NULL;
        while (nr_devs > 0 && !devs[nr_devs - 1].pci)
            nr_devs--;
        return;
    }
}

static const struct pci_hotplug_driver edu_hotplug = { "edu", edu_hotplug_probe, edu_remove };

static int edu_init(void)
{
    int err = pci_hotplug_register_driver(&edu_hotplug);
    return err ? err : edu_init_boot();
}
MOAT_UNIT_OPTIONAL(70_driver, edu, edu_init);
