/* Config-space virtualization of the VFIO face: byte by byte, each byte of the header has a mask
 * of virtual bits and a mask of writable bits (see vfio_config.h). */
#include "iommu/vfio/vfio_config.h"

#define BAR_IO 0x1u                     /* I/O space indicator */
#define BAR_MEM_TYPE_64 0x4u            /* memory type, bits 2:1 = 10b */
#define BAR_MEM_FLAGS 0xfu              /* memory: space, type, prefetchable */
#define ROM_ENABLE 0x1u

/* The BAR dword (index into v->bar) holding byte off, or -1. */
static int bar_index(unsigned off)
{
    if (off >= VFIO_CFG_BAR0 && off < VFIO_CFG_BAR0 + 24)
        return (int)((off - VFIO_CFG_BAR0) / 4);
    if (off >= VFIO_CFG_ROM && off < VFIO_CFG_ROM + 4)
        return VFIO_CFG_ROM_INDEX;
    return -1;
}

static bool header_tail(unsigned off)   /* BARs through the ROM: 0x10-0x33 */
{
    return off >= VFIO_CFG_BAR0 && off < VFIO_CFG_HEADER_END;
}

void vfio_cfg_init_bars(struct vfio_vconfig *v, const uint32_t hw[VFIO_CFG_NBARS],
                        const uint64_t size[VFIO_CFG_NBARS])
{
    for (unsigned i = 0; i < VFIO_CFG_NBARS; i++)
        v->bar[i] = v->bar_mask[i] = v->bar_flags[i] = 0;
    for (unsigned i = 0; i < 6; i++) {
        if (!size[i])
            continue;
        uint64_t mask = ~(size[i] - 1);
        if (hw[i] & BAR_IO) {
            v->bar_flags[i] = BAR_IO;
            v->bar_mask[i] = (uint32_t)mask & ~3u;
        } else {
            v->bar_flags[i] = hw[i] & BAR_MEM_FLAGS;
            v->bar_mask[i] = (uint32_t)mask & ~BAR_MEM_FLAGS;
            if ((hw[i] & 6) == BAR_MEM_TYPE_64 && i < 5) {
                v->bar_mask[i + 1] = (uint32_t)(mask >> 32);
                v->bar[i + 1] = hw[i + 1] & v->bar_mask[i + 1];
            }
        }
        v->bar[i] = (hw[i] & v->bar_mask[i]) | v->bar_flags[i];
        if (!(hw[i] & BAR_IO) && (hw[i] & 6) == BAR_MEM_TYPE_64)
            i++;                        /* its upper half is done */
    }
    if (size[VFIO_CFG_ROM_INDEX]) {
        /* address bits 31:11 by size, and the enable bit; bits 10:1 reserved */
        uint32_t m = ((uint32_t)~(size[VFIO_CFG_ROM_INDEX] - 1) & ~0x7ffu) | ROM_ENABLE;
        v->bar_mask[VFIO_CFG_ROM_INDEX] = m;
        v->bar[VFIO_CFG_ROM_INDEX] = hw[VFIO_CFG_ROM_INDEX] & m;
    }
    v->bars = true;
}

static uint8_t virt_bits(const struct vfio_vconfig *v, unsigned off)
{
    if (off == VFIO_CFG_COMMAND + 1)
        return (uint8_t)(VFIO_CFG_INTX_DISABLE >> 8);
    return v->bars && bar_index(off) >= 0 ? 0xff : 0;
}

static uint8_t write_bits(const struct vfio_vconfig *v, unsigned off)
{
    if (off == VFIO_CFG_STATUS || off == VFIO_CFG_STATUS + 1)
        return 0;
    if (header_tail(off))
        return v->bars && bar_index(off) >= 0 ? 0xff : 0;
    return 0xff;
}

static uint8_t virt_byte(const struct vfio_vconfig *v, unsigned off)
{
    if (off == VFIO_CFG_COMMAND + 1)
        return (uint8_t)(v->command >> 8);
    int b = bar_index(off);
    return b >= 0 ? (uint8_t)(v->bar[b] >> (8 * (off & 3))) : 0;
}

static void set_virt_byte(struct vfio_vconfig *v, unsigned off, uint8_t val)
{
    if (off == VFIO_CFG_COMMAND + 1) {
        v->command = (uint16_t)((v->command & 0xff) | val << 8) & VFIO_CFG_INTX_DISABLE;
        return;
    }
    int b = bar_index(off);
    if (b < 0)
        return;
    unsigned sh = 8 * (off & 3);
    uint32_t x = (v->bar[b] & ~(0xffu << sh)) | (uint32_t)val << sh;
    v->bar[b] = (x & v->bar_mask[b]) | v->bar_flags[b];
}

bool vfio_cfg_virtualized(unsigned off, unsigned w)
{
    return (off < VFIO_CFG_STATUS + 2 && off + w > VFIO_CFG_COMMAND) ||
           (off < VFIO_CFG_HEADER_END && off + w > VFIO_CFG_BAR0);
}

uint32_t vfio_cfg_read(const struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t hw)
{
    uint32_t out = 0;
    for (unsigned i = 0; i < w; i++) {
        uint8_t vm = virt_bits(v, off + i);
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
        uint8_t wm = write_bits(v, off + i), vm = virt_bits(v, off + i);
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
