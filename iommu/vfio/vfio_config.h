/* Config-space virtualization of the VFIO face, with vfio-pci's rules for the registers moat
 * takes over (Linux's vfio_pci_config.c, basic header permissions):
 * - Command: every bit is writable, and Interrupt Disable (bit 10) is virtual. Reads return the
 *   program's copy; writes change only the copy, and the INTx code (vfio_intx.c) then masks or
 *   unmasks through the real bit, which it owns for its automasking.
 * - Status: no bit is writable (writes are dropped, so that the RW1C error bits stay for the
 *   host); reads pass through, Interrupt Status included (Capabilities List is virtual in Linux
 *   only so that capabilities can be hidden, and moat hides none: it passes through too).
 * Other registers are the caller's business. Portable: host-tested. */
#ifndef MOAT_IOMMU_VFIO_CONFIG_H
#define MOAT_IOMMU_VFIO_CONFIG_H

#include "lib/compiler.h"

#define VFIO_CFG_COMMAND 0x04
#define VFIO_CFG_STATUS 0x06
#define VFIO_CFG_INTX_DISABLE BIT(10)   /* command: Interrupt Disable */

/* The program's view of the virtual bits. */
struct vfio_vconfig {
    uint16_t command;                   /* only VFIO_CFG_INTX_DISABLE is kept */
};

/* Accesses are naturally aligned, w = 1, 2 or 4 bytes at off; values little-endian. */

/* True when an access at off of w bytes needs the fix-ups below. */
bool vfio_cfg_virtualized(unsigned off, unsigned w);
/* What the program reads, given what the function answered (hw). */
uint32_t vfio_cfg_read(const struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t hw);
/* A program's write of val: updates the virtual bits and returns the mask of bytes that go to
 * the function (bit i: byte off + i), whose values are in *hw_val. hw is what the function holds
 * there now: its bits stand in for the virtual ones. */
unsigned vfio_cfg_write(struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t val,
                        uint32_t hw, uint32_t *hw_val);

#endif
