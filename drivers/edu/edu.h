/* Driver for QEMU's edu device (hw/misc/edu.c): an MMIO register file with a DMA engine that
 * copies between its 4 KiB internal buffer and DMA space. Each device is bound at probe in the
 * runtime's IOMMUFD context with an IOAS of its own (a dma_space, drivers/dma/dma.h); callers
 * map buffers through e->dma (dma_alloc, dma_map) and program the device with IOVAs only.
 * The device masks DMA addresses to 28 bits, so its window is [EDU_IOVA_BASE, 2^27). */
#ifndef MOAT_DRIVERS_EDU_EDU_H
#define MOAT_DRIVERS_EDU_EDU_H

#include "drivers/dma/dma.h"
#include "lib/compiler.h"

struct pci_dev;
struct iommu_domain;

#define EDU_MAX_DEVS 16
#define EDU_BUF_SIZE 4096               /* the device's internal buffer */
#define EDU_BUF_ADDR 0x40000            /* ... at this device-side address */
#define EDU_DMA_LIMIT (1ULL << 28)      /* default DMA mask: IOVAs below this */
#define EDU_IOVA_BASE 0x1000000ULL      /* e->dma's window: 16 MiB .. 128 MiB, clear of the */
#define EDU_IOVA_SIZE 0x7000000ULL      /* fixed IOVAs the in-image DMA suites use below it */
#define EDU_DMA_TIMEOUT_NS (3ULL * 1000 * 1000 * 1000)   /* a transfer takes 100 ms of
                                                           * virtual time in QEMU */

struct edu_dev {
    struct pci_dev *pci;
    volatile uint8_t *mmio;
    struct dma_space dma;
    /* The domain of its HWPT (NULL when no IOMMU covers the device). The in-image DMA
     * suites test the hardware drivers through it with the driver contract (iommu.h), at
     * IOVAs below EDU_IOVA_BASE; drivers map through dma. */
    struct iommu_domain *domain;
    uint16_t rid;
    char bdf[16];
};

unsigned edu_count(void);
struct edu_dev *edu_get(unsigned i);

/* Starts a transfer of len bytes between the device buffer at offset off and DMA address
 * iova: to_ram = device -> memory. -EINVAL when the buffer range is out of bounds, -EBUSY when
 * a transfer is running. */
int edu_dma_start(struct edu_dev *e, bool to_ram, uint64_t iova, uint32_t off, uint32_t len);
/* Waits (bounded) for the running transfer: 0 or -ETIMEDOUT. */
int edu_dma_wait(struct edu_dev *e);
/* Both. */
int edu_dma(struct edu_dev *e, bool to_ram, uint64_t iova, uint32_t off, uint32_t len);
/* Liveness check through register 0x04 (inverts what is written). */
bool edu_alive(struct edu_dev *e);
/* Raises the device's interrupt (register 0x60) and acknowledges it (0x64). */
void edu_raise_irq(struct edu_dev *e, uint32_t bits);
void edu_ack_irq(struct edu_dev *e, uint32_t bits);
uint32_t edu_irq_status(struct edu_dev *e);

#endif
