/* Config-space virtualization of the VFIO face: byte by byte, each byte of the header has a mask
 * of virtual bits and a mask of writable bits (see vfio_config.h). */
#include "iommu/vfio/vfio_config.h"

static uint8_t virt_bits(unsigned off)
{
    return off == VFIO_CFG_COMMAND + 1 ? (uint8_t)(VFIO_CFG_INTX_DISABLE >> 8) : 0;
}

static uint8_t write_bits(unsigned off)
{
    return off == VFIO_CFG_STATUS || off == VFIO_CFG_STATUS + 1 ? 0 : 0xff;
}

static uint8_t virt_byte(const struct vfio_vconfig *v, unsigned off)
{
    return off == VFIO_CFG_COMMAND + 1 ? (uint8_t)(v->command >> 8) : 0;
}

static void set_virt_byte(struct vfio_vconfig *v, unsigned off, uint8_t b)
{
    if (off == VFIO_CFG_COMMAND + 1)
        v->command = (uint16_t)((v->command & 0xff) | b << 8) & VFIO_CFG_INTX_DISABLE;
}

bool vfio_cfg_virtualized(unsigned off, unsigned w)
{
    return off < VFIO_CFG_STATUS + 2 && off + w > VFIO_CFG_COMMAND;
}

uint32_t vfio_cfg_read(const struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t hw)
{
    uint32_t out = 0;
    for (unsigned i = 0; i < w; i++) {
        uint8_t vm = virt_bits(off + i);
        uint8_t b = (uint8_t)(hw >> (8 * i));
        b = (uint8_t)((b & ~vm) | (virt_byte(v, off + i) & vm));
        out |= (uint32_t)b << (8 * i);
    }
    return out;
}

unsigned vfio_cfg_write(struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t val,
                        uint32_t hw, uint32_t *hw_val)
{
    unsigned mask = 0;
    uint32_t out = 0;
    for (unsigned i = 0; i < w; i++) {
        uint8_t wm = write_bits(off + i), vm = virt_bits(off + i);
        uint8_t nb = (uint8_t)(val >> (8 * i)), hb = (uint8_t)(hw >> (8 * i));
        if (wm & vm)
            set_virt_byte(v, off + i, (uint8_t)((virt_byte(v, off + i) & ~(wm & vm)) |
                                                (nb & wm & vm)));
        if (wm & ~vm) {
            hb = (uint8_t)((hb & ~(wm & ~vm)) | (nb & wm & ~vm));
            mask |= 1u << i;
        }
        out |= (uint32_t)hb << (8 * i);
    }
    *hw_val = out;
    return mask;
}
