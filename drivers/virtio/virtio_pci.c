/* The virtio PCI transport, modern interface only (virtio 1.2, 4.1): capabilities, status,
 * feature negotiation, device configuration. */
#include "arch/arch.h"
#include "drivers/virtio/virtio.h"
#include "kernel/time.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"
#include "pci/pci.h"

#define CAP_WALK_LIMIT 48

static uint8_t rd8(volatile uint8_t *b, unsigned off) { return *(volatile uint8_t *)(b + off); }
static uint32_t rd32(volatile uint8_t *b, unsigned off) { return *(volatile uint32_t *)(b + off); }
static void wr8(volatile uint8_t *b, unsigned off, uint8_t v) { *(volatile uint8_t *)(b + off) = v; }
static void wr32(volatile uint8_t *b, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(b + off) = v;
}

/* The structure a capability describes, mapped; NULL when it lies outside its BAR. */
static volatile uint8_t *map_cap(struct pci_system *sys, struct pci_dev *pd, uint8_t cap,
                                 uint32_t *len_out)
{
    uint8_t bar = pci_read8(sys, pd, cap + VIRTIO_PCI_CAP_BAR);
    uint32_t off = pci_read32(sys, pd, cap + VIRTIO_PCI_CAP_OFFSET);
    uint32_t len = pci_read32(sys, pd, cap + VIRTIO_PCI_CAP_LENGTH);
    uint64_t end;
    if (bar >= PCI_STD_NUM_BARS || !(pd->bar[bar].flags & PCI_BAR_ASSIGNED) ||
        (pd->bar[bar].flags & PCI_BAR_IO) || len == 0 ||
        __builtin_add_overflow((uint64_t)off, len, &end) || end > pd->bar[bar].size)
        return NULL;
    *len_out = len;
    return mmio_map(pd->bar[bar].base + off, len);
}

/* Takes the first capability of each type (4.1.4: the driver uses the first it can). */
static int take_cap(struct virtio_pci *vp, struct pci_system *sys, uint8_t cap, uint8_t type)
{
    volatile uint8_t **slot = type == VIRTIO_PCI_CAP_COMMON_CFG ? &vp->common
                            : type == VIRTIO_PCI_CAP_NOTIFY_CFG ? &vp->notify
                            : type == VIRTIO_PCI_CAP_ISR_CFG ? &vp->isr
                            : type == VIRTIO_PCI_CAP_DEVICE_CFG ? &vp->device : NULL;
    if (!slot || *slot)
        return 0;
    uint8_t caplen = pci_read8(sys, vp->pci, cap + VIRTIO_PCI_CAP_LEN);
    unsigned need = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? VIRTIO_PCI_NOTIFY_CAP_SIZE
                                                      : VIRTIO_PCI_CAP_SIZE;
    uint32_t len = 0;
    if (caplen < need || !(*slot = map_cap(sys, vp->pci, cap, &len)))
        return -EINVAL;
    if (type == VIRTIO_PCI_CAP_COMMON_CFG && len < VIRTIO_PCI_COMMON_CFG_SIZE)
        return -EINVAL;
    if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
        vp->notify_len = len;
        vp->notify_mult = pci_read32(sys, vp->pci, cap + VIRTIO_PCI_NOTIFY_CAP_MULT);
    }
    if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
        vp->device_len = len;
    return 0;
}

int virtio_pci_init(struct virtio_pci *vp, struct pci_system *sys, struct pci_dev *pd)
{
    memset(vp, 0, sizeof(*vp));
    vp->pci = pd;
    if (!(pci_read16(sys, pd, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return -ENODEV;
    uint8_t cap = pci_read8(sys, pd, PCI_CAPABILITY_LIST) & ~3u;
    for (unsigned n = 0; cap >= 0x40 && n < CAP_WALK_LIMIT; n++) {
        if (pci_read8(sys, pd, cap) == PCI_CAP_ID_VNDR) {
            int err = take_cap(vp, sys, cap, pci_read8(sys, pd, cap + VIRTIO_PCI_CAP_CFG_TYPE));
            if (err)
                return err;
        }
        cap = pci_read8(sys, pd, cap + VIRTIO_PCI_CAP_NEXT) & ~3u;
    }
    if (!vp->common || !vp->notify || !vp->isr || !vp->device)
        return -ENODEV;
    return 0;
}

uint8_t virtio_pci_status(struct virtio_pci *vp)
{
    return rd8(vp->common, VIRTIO_PCI_COMMON_STATUS);
}

void virtio_pci_add_status(struct virtio_pci *vp, uint8_t bits)
{
    wr8(vp->common, VIRTIO_PCI_COMMON_STATUS, virtio_pci_status(vp) | bits);
}

int virtio_pci_reset(struct virtio_pci *vp)
{
    wr8(vp->common, VIRTIO_PCI_COMMON_STATUS, 0);
    /* 4.1.4.3.2: the reset is complete when device_status reads 0. */
    return poll_until(virtio_pci_status(vp) == 0, VIRTIO_RESET_TIMEOUT_NS);
}

static uint64_t device_features(struct virtio_pci *vp)
{
    wr32(vp->common, VIRTIO_PCI_COMMON_DFSELECT, 0);
    uint64_t lo = rd32(vp->common, VIRTIO_PCI_COMMON_DF);
    wr32(vp->common, VIRTIO_PCI_COMMON_DFSELECT, 1);
    return lo | (uint64_t)rd32(vp->common, VIRTIO_PCI_COMMON_DF) << 32;
}

int virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted, uint64_t required)
{
    virtio_pci_add_status(vp, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    virtio_pci_add_status(vp, VIRTIO_CONFIG_S_DRIVER);
    uint64_t offered = device_features(vp);
    if ((offered & required) != required) {
        vp->features = required & ~offered;     /* what was missing, for the message */
        return -ENODEV;
    }
    vp->features = offered & (wanted | required);
    wr32(vp->common, VIRTIO_PCI_COMMON_GFSELECT, 0);
    wr32(vp->common, VIRTIO_PCI_COMMON_GF, (uint32_t)vp->features);
    wr32(vp->common, VIRTIO_PCI_COMMON_GFSELECT, 1);
    wr32(vp->common, VIRTIO_PCI_COMMON_GF, (uint32_t)(vp->features >> 32));
    virtio_pci_add_status(vp, VIRTIO_CONFIG_S_FEATURES_OK);
    /* 3.1.1: the device may refuse the subset; FEATURES_OK then reads back clear. */
    if (!(virtio_pci_status(vp) & VIRTIO_CONFIG_S_FEATURES_OK))
        return -ENODEV;
    return 0;
}

int virtio_pci_config(struct virtio_pci *vp, unsigned off, void *buf, unsigned len)
{
    if (off > vp->device_len || len > vp->device_len - off)
        return -EINVAL;
    for (unsigned tries = 0; tries < 16; tries++) {
        uint8_t gen = rd8(vp->common, VIRTIO_PCI_COMMON_CFGGENERATION);
        for (unsigned i = 0; i < len; i++)
            ((uint8_t *)buf)[i] = rd8(vp->device, off + i);
        if (rd8(vp->common, VIRTIO_PCI_COMMON_CFGGENERATION) == gen)
            return 0;
    }
    return -EAGAIN;     /* the device kept changing its configuration */
}
