/* Config-space virtualization of the VFIO face, with vfio-pci's rules for the registers moat
 * takes over (Linux's vfio_pci_config.c, basic header permissions):
 * - Command: every bit is writable, and Interrupt Disable (bit 10) is virtual. Reads return the
 *   program's copy; writes change only the copy, and the INTx code (vfio_intx.c) then masks or
 *   unmasks through the real bit, which it owns for its automasking.
 * - Status: no bit is writable (writes are dropped, so that the RW1C error bits stay for the
 *   host); reads pass through, Interrupt Status included (Capabilities List is virtual in Linux
 *   only so that capabilities can be hidden, and moat hides none: it passes through too).
 * - BARs (0x10-0x24) and the expansion ROM BAR (0x30), type 0 headers only: wholly virtual.
 *   Reads return the program's copy, which starts as the function's BAR; writes change only the
 *   copy, kept masked by the BAR's size with its flag bits (I/O; memory type and prefetchable)
 *   read-only, so that sizing (write all ones, read back, restore) answers as the hardware would.
 *   The upper half of a 64-bit BAR is masked by the size's upper bits; an unimplemented BAR, and
 *   a ROM moat has not sized, read 0. The function's BARs never change (moat assigned them).
 * - CardBus CIS pointer and subsystem IDs (0x28-0x2f): read-only, writes dropped.
 * In a header of another type, 0x10-0x33 passes reads through and drops writes.
 * - The MSI capability (init_pci_cap_msi_perm): the low byte of Message Control, the message
 *   address and data are wholly virtual. They start as the function's at open and programs
 *   write only the copy, so a read shows what the program wrote, never the message moat
 *   programmed for VFIO_DEVICE_SET_IRQS. Multiple Message Capable reads as the log2 of the
 *   vectors last enabled by that ioctl (Linux's msi_qmax: 0 until then). A write of Message
 *   Control also goes to the function, its Enable bit cleared unless MSI is the device's
 *   interrupt (MSI is enabled through the ioctl) and Multiple Message Enable held to that
 *   maximum, as vfio_msi_config_write does. The ID, next pointer and upper control byte read
 *   through with writes dropped; mask and pending bits pass through.
 * - The other capabilities, standard and extended, as vfio_pci_config.c's permission tables
 *   have them (vfio_cfg_add_cap records each with Linux's length): reads pass through; writes
 *   reach only the bits Linux lets through (PM control but its PME bits; PCIe Device Control
 *   but Phantom Functions, and Device Control 2 but ARI; AER's status, mask, severity and ECRC
 *   bits; the Power Budgeting data select; vendor-specific capabilities whole) and are dropped
 *   elsewhere (MSI-X, SR-IOV, ATS, ARI ... are read-only, as on Linux). Device Control's FLR,
 *   Max Payload and Max Read Request bits are the program's copy; an FLR written there, or in
 *   the Advanced Features capability, asks the caller for a function reset (reset_requested).
 *   Bytes outside every recorded capability pass through both ways, as Linux's unassigned
 *   bytes do. Capabilities of zero length in Linux's table are hidden by Linux; moat records
 *   none and hides none, so their bytes pass through.
 * Other registers are the caller's business. Portable: host-tested. */
#ifndef MOAT_IOMMU_VFIO_CONFIG_H
#define MOAT_IOMMU_VFIO_CONFIG_H

#include "lib/compiler.h"

#define VFIO_CFG_COMMAND 0x04
#define VFIO_CFG_STATUS 0x06
#define VFIO_CFG_BAR0 0x10
#define VFIO_CFG_ROM 0x30
#define VFIO_CFG_HEADER_END 0x34        /* the first byte after the virtualized registers */
#define VFIO_CFG_INTX_DISABLE BIT(10)   /* command: Interrupt Disable */
#define VFIO_CFG_NBARS 7                /* six BAR dwords, then the expansion ROM */
#define VFIO_CFG_ROM_INDEX 6
#define VFIO_MSI_FLAGS_ENABLE 0x01      /* Message Control, low byte */
#define VFIO_MSI_FLAGS_QMASK 0x0e       /* Multiple Message Capable */
#define VFIO_MSI_FLAGS_QSIZE 0x70       /* Multiple Message Enable */
#define VFIO_MSI_FLAGS_64BIT 0x80
#define VFIO_MSI_FLAGS_MASKBIT 0x100

#define VFIO_CFG_MAX_CAPS 32

/* A capability the config space has, with Linux's length for it. */
struct vfio_cfg_cap {
    uint16_t pos, len, id;
    bool ext;
};

/* The program's view of the virtual bits. */
struct vfio_vconfig {
    uint16_t command;                   /* only VFIO_CFG_INTX_DISABLE is kept */
    bool bars;                          /* BARs virtual: a type 0 header, set up by init_bars */
    uint32_t bar[VFIO_CFG_NBARS];       /* the program's copies */
    uint32_t bar_mask[VFIO_CFG_NBARS];  /* writable bits (0: unimplemented) */
    uint32_t bar_flags[VFIO_CFG_NBARS]; /* read-only bits, ORed in */
    struct {
        uint8_t pos;                    /* the capability's offset; 0: none */
        uint8_t len;                    /* its length: 10, 14, 20 or 24 bytes */
        bool is64;
        uint8_t flags;                  /* Message Control, low byte: the program's copy */
        uint32_t addr_lo, addr_hi;
        uint16_t data;
        uint8_t qmax;                   /* log2 of the vectors SET_IRQS enabled */
        bool irq_type;                  /* MSI is the device's interrupt type */
    } msi;
    unsigned ncaps;
    struct vfio_cfg_cap caps[VFIO_CFG_MAX_CAPS];
    uint16_t devctl;                    /* PCIe Device Control: the program's virtual bits */
    bool exp_flr, af_flr;               /* the function offers FLR (PCIe, Advanced Features) */
    bool reset_requested;               /* a write asked for FLR: the caller resets, clears */
};

/* Makes the BARs virtual: hw holds the function's BAR dwords (0x10-0x24, then 0x30), size the
 * sizes of the BARs (0 for unimplemented ones and the upper halves of 64-bit BARs; the ROM's
 * size, or 0 when not sized). The flags come from hw: bit 0 for I/O, bits 3:0 for memory. */
void vfio_cfg_init_bars(struct vfio_vconfig *v, const uint32_t hw[VFIO_CFG_NBARS],
                        const uint64_t size[VFIO_CFG_NBARS]);

/* Makes the MSI capability at pos virtual: flags is its Message Control word, addr_lo, addr_hi
 * and data the function's message registers, at open. */
void vfio_cfg_init_msi(struct vfio_vconfig *v, uint8_t pos, uint16_t flags, uint32_t addr_lo,
                       uint32_t addr_hi, uint16_t data);
/* Records the capability id at pos (ext: an extended one) with Linux's length, which some
 * capabilities give in their registers: d holds the function's dwords at pos, pos + 4 and
 * pos + 8 (the PCIe capability's flags, Device Capabilities and Device Control among them).
 * Zero-length ones are not recorded. */
void vfio_cfg_add_cap(struct vfio_vconfig *v, uint16_t id, uint16_t pos, bool ext,
                      const uint32_t d[3]);
/* Linux's length for a capability (0: Linux hides it), from the same dwords. */
unsigned vfio_cfg_cap_len(uint16_t id, bool ext, const uint32_t d[3]);

/* VFIO_DEVICE_SET_IRQS enabled MSI with nvec vectors (nvec 0: disabled it). */
void vfio_cfg_msi_irq(struct vfio_vconfig *v, unsigned nvec);

/* Accesses are naturally aligned, w = 1, 2 or 4 bytes at off; values little-endian. */

/* True when an access at off of w bytes needs the fix-ups below. */
bool vfio_cfg_virtualized(const struct vfio_vconfig *v, unsigned off, unsigned w);
/* What the program reads, given what the function answered (hw). */
uint32_t vfio_cfg_read(const struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t hw);
/* A program's write of val: updates the virtual bits and returns the mask of bytes that go to
 * the function (bit i: byte off + i), whose values are in *hw_val. hw is what the function holds
 * there now: its bits stand in for the virtual ones. */
unsigned vfio_cfg_write(struct vfio_vconfig *v, unsigned off, unsigned w, uint32_t val,
                        uint32_t hw, uint32_t *hw_val);

#endif
