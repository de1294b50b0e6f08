/* The portable parts of the VFIO face's interrupt work: the config-space virtualization of the
 * command and status registers, the BARs and the MSI capability (iommu/vfio/vfio_config.c,
 * vfio-pci's rules), and the eventfd
 * hooks that unmask INTx when an eventfd is written (kernel/fd.c, Linux's virqfd). */
#include "iommu/vfio/vfio_config.h"
#include <stdlib.h>

#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "lib/errno.h"
#include "tests/host/harness.h"

/* The descriptor table allocates from moat's heap: a small arena once. */
static void mem_setup(void)
{
    static void *arena;
    if (arena)
        return;
    arena = aligned_alloc(2u << 20, 4u << 20);
    pmm_reset();
    heap_reset();
    pmm_add_region((uint64_t)(uintptr_t)arena, 4u << 20);
}

TEST(config_read_overlays_the_virtual_interrupt_disable)
{
    struct vfio_vconfig v = { 0 };
    /* the function has Interrupt Disable set (moat masks), the program sees its own copy */
    CHECK_EQ(vfio_cfg_read(&v, 4, 2, 0x0406), 0x0006);
    CHECK_EQ(vfio_cfg_read(&v, 4, 4, 0x00180406), 0x00180006);
    CHECK_EQ(vfio_cfg_read(&v, 5, 1, 0x04), 0x00);
    CHECK_EQ(vfio_cfg_read(&v, 4, 1, 0x06), 0x06);
    v.command = VFIO_CFG_INTX_DISABLE;
    CHECK_EQ(vfio_cfg_read(&v, 4, 2, 0x0006), 0x0406);
    /* status passes through, Interrupt Status (bit 3) included */
    CHECK_EQ(vfio_cfg_read(&v, 6, 2, 0x0018), 0x0018);
    CHECK(vfio_cfg_virtualized(&v, 4, 2) && vfio_cfg_virtualized(&v, 4, 4) && vfio_cfg_virtualized(&v, 7, 1));
    CHECK(!vfio_cfg_virtualized(&v, 0, 2) && !vfio_cfg_virtualized(&v, 8, 4) && !vfio_cfg_virtualized(&v, 0x3c, 4));
}

TEST(config_write_keeps_the_real_bit_and_drops_status)
{
    struct vfio_vconfig v = { 0 };
    uint32_t hw;
    /* the program sets Interrupt Disable: only its copy changes, the function keeps its bit */
    CHECK_EQ(vfio_cfg_write(&v, 4, 2, 0x0406, 0x0000, &hw), 0x3);
    CHECK_EQ(hw, 0x0006);
    CHECK_EQ(v.command, VFIO_CFG_INTX_DISABLE);
    /* and clears it while moat has the real one set */
    CHECK_EQ(vfio_cfg_write(&v, 4, 2, 0x0002, 0x0406, &hw), 0x3);
    CHECK_EQ(hw, 0x0402);
    CHECK_EQ(v.command, 0);
    /* a dword write reaches the command register only: status is read-only (RW1C kept) */
    CHECK_EQ(vfio_cfg_write(&v, 4, 4, 0xffff0406, 0x40100006, &hw), 0x3);
    CHECK_EQ(hw & 0xffff, 0x0006);
    CHECK_EQ(v.command, VFIO_CFG_INTX_DISABLE);
    CHECK_EQ(vfio_cfg_write(&v, 6, 2, 0xffff, 0x4010, &hw), 0);
    CHECK_EQ(vfio_cfg_write(&v, 7, 1, 0xff, 0x40, &hw), 0);
    /* byte writes: the low command byte passes, the high one keeps the function's bit 10 */
    CHECK_EQ(vfio_cfg_write(&v, 4, 1, 0x07, 0x06, &hw), 0x1);
    CHECK_EQ(hw, 0x07);
    CHECK_EQ(vfio_cfg_write(&v, 5, 1, 0x01, 0x04, &hw), 0x1);
    CHECK_EQ(hw, 0x05);
    CHECK_EQ(v.command, 0);
    /* only Interrupt Disable is kept virtually */
    CHECK_EQ(vfio_cfg_write(&v, 4, 2, 0xffff, 0x0000, &hw), 0x3);
    CHECK_EQ(v.command, VFIO_CFG_INTX_DISABLE);
    CHECK_EQ(hw, 0xfbff);
}

/* A type 0 header: BAR0 32-bit memory 1 MiB, BAR1 I/O 32 bytes, BAR2/3 64-bit prefetchable
 * memory 8 GiB, BAR4 unimplemented, BAR5 32-bit prefetchable 4 KiB; no ROM. */
static void bars_setup(struct vfio_vconfig *v)
{
    static const uint32_t hw[VFIO_CFG_NBARS] = {
        0xfe000000, 0x0000c041, 0x0000000c, 0x00000008, 0, 0xfe100008, 0,
    };
    static const uint64_t size[VFIO_CFG_NBARS] = { 1u << 20, 32, 8ull << 30, 0, 0, 4096, 0 };
    *v = (struct vfio_vconfig){ 0 };
    vfio_cfg_init_bars(v, hw, size);
}

/* The classic sizing step on the dword at off: all ones, read back; returns what was read. */
static uint32_t size_bar(struct vfio_vconfig *v, unsigned off, uint32_t hw)
{
    uint32_t out;
    CHECK_EQ(vfio_cfg_write(v, off, 4, 0xffffffff, hw, &out), 0);   /* nothing reaches it */
    return vfio_cfg_read(v, off, 4, hw);
}

TEST(config_bars_read_the_virtual_copy)
{
    struct vfio_vconfig v;
    bars_setup(&v);
    CHECK(vfio_cfg_virtualized(&v, 0x10, 4) && vfio_cfg_virtualized(&v, 0x24, 4) &&
          vfio_cfg_virtualized(&v, 0x30, 4) && vfio_cfg_virtualized(&v, 0x33, 1));
    CHECK(!vfio_cfg_virtualized(&v, 0x0c, 4) && !vfio_cfg_virtualized(&v, 0x34, 4));
    /* initially the function's values, whatever it answers now */
    CHECK_EQ(vfio_cfg_read(&v, 0x10, 4, 0x12345678), 0xfe000000);
    CHECK_EQ(vfio_cfg_read(&v, 0x14, 4, 0), 0x0000c041);
    CHECK_EQ(vfio_cfg_read(&v, 0x18, 4, 0), 0x0000000c);
    CHECK_EQ(vfio_cfg_read(&v, 0x1c, 4, 0), 0x00000008);
    CHECK_EQ(vfio_cfg_read(&v, 0x24, 4, 0), 0xfe100008);
    CHECK_EQ(vfio_cfg_read(&v, 0x12, 2, 0), 0xfe00);
    CHECK_EQ(vfio_cfg_read(&v, 0x14, 1, 0), 0x41);
}

TEST(config_bar_sizing_32bit_memory)
{
    struct vfio_vconfig v;
    bars_setup(&v);
    CHECK_EQ(size_bar(&v, 0x10, 0xfe000000), 0xfff00000);           /* 1 MiB */
    uint32_t hw;
    CHECK_EQ(vfio_cfg_write(&v, 0x10, 4, 0xfe000000, 0xfe000000, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x10, 4, 0), 0xfe000000);             /* restored */
    /* the flags are read-only: writing them set changes nothing */
    CHECK_EQ(vfio_cfg_write(&v, 0x10, 4, 0xfe00000f, 0xfe000000, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x10, 4, 0), 0xfe000000);
    /* a program that moves the BAR: the copy moves, masked by the size */
    CHECK_EQ(vfio_cfg_write(&v, 0x10, 4, 0x80012345, 0xfe000000, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x10, 4, 0xfe000000), 0x80000000);
}

TEST(config_bar_sizing_prefetchable_keeps_its_flag)
{
    struct vfio_vconfig v;
    bars_setup(&v);
    CHECK_EQ(size_bar(&v, 0x24, 0xfe100008), 0xfffff008);            /* 4 KiB, prefetchable */
    uint32_t hw;
    vfio_cfg_write(&v, 0x24, 4, 0, 0xfe100008, &hw);
    CHECK_EQ(vfio_cfg_read(&v, 0x24, 4, 0), 0x00000008);
    vfio_cfg_write(&v, 0x24, 4, 0xfe100008, 0xfe100008, &hw);
    CHECK_EQ(vfio_cfg_read(&v, 0x24, 4, 0), 0xfe100008);
}

TEST(config_bar_sizing_64bit_lower_and_upper)
{
    struct vfio_vconfig v;
    bars_setup(&v);
    /* 8 GiB: the lower half sizes to zero address bits, the upper to ~1 */
    CHECK_EQ(size_bar(&v, 0x18, 0x0000000c), 0x0000000c);
    CHECK_EQ(size_bar(&v, 0x1c, 0x00000008), 0xfffffffe);
    uint32_t hw;
    vfio_cfg_write(&v, 0x18, 4, 0x0000000c, 0, &hw);
    vfio_cfg_write(&v, 0x1c, 4, 0x00000008, 0, &hw);
    CHECK_EQ(vfio_cfg_read(&v, 0x18, 4, 0), 0x0000000c);
    CHECK_EQ(vfio_cfg_read(&v, 0x1c, 4, 0), 0x00000008);
    /* a 64-bit BAR of 16 KiB: all of the upper half is address */
    static const uint32_t hw2[VFIO_CFG_NBARS] = { 0xfe004004, 0x00000001 };
    static const uint64_t size2[VFIO_CFG_NBARS] = { 16384 };
    struct vfio_vconfig w = { 0 };
    vfio_cfg_init_bars(&w, hw2, size2);
    CHECK_EQ(vfio_cfg_read(&w, 0x10, 4, 0), 0xfe004004);
    CHECK_EQ(vfio_cfg_read(&w, 0x14, 4, 0), 0x00000001);
    CHECK_EQ(size_bar(&w, 0x10, 0), 0xffffc004);
    CHECK_EQ(size_bar(&w, 0x14, 0), 0xffffffff);
    vfio_cfg_write(&w, 0x10, 4, 0xfe004004, 0, &hw);
    vfio_cfg_write(&w, 0x14, 4, 0x00000001, 0, &hw);
    CHECK_EQ(vfio_cfg_read(&w, 0x10, 4, 0), 0xfe004004);
    CHECK_EQ(vfio_cfg_read(&w, 0x14, 4, 0), 0x00000001);
    CHECK_EQ(size_bar(&w, 0x18, 0x12345678), 0);                     /* nothing after it */
}

TEST(config_bar_sizing_io)
{
    struct vfio_vconfig v;
    bars_setup(&v);
    CHECK_EQ(size_bar(&v, 0x14, 0x0000c041), 0xffffffe1);            /* 32 bytes of I/O */
    uint32_t hw;
    vfio_cfg_write(&v, 0x14, 4, 0x0000c040, 0, &hw);
    CHECK_EQ(vfio_cfg_read(&v, 0x14, 4, 0), 0x0000c041);
}

TEST(config_bar_unimplemented_and_rom_read_zero)
{
    struct vfio_vconfig v;
    bars_setup(&v);
    CHECK_EQ(vfio_cfg_read(&v, 0x20, 4, 0xdeadbeef), 0);
    CHECK_EQ(size_bar(&v, 0x20, 0), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x30, 4, 0xfeb00000), 0);             /* no ROM sized */
    CHECK_EQ(size_bar(&v, 0x30, 0), 0);
    /* a 64 KiB ROM: address bits 31:16 and the enable bit */
    static const uint32_t hw2[VFIO_CFG_NBARS] = { [6] = 0xfeb00000 };
    static const uint64_t size2[VFIO_CFG_NBARS] = { [6] = 65536 };
    struct vfio_vconfig r = { 0 };
    vfio_cfg_init_bars(&r, hw2, size2);
    CHECK_EQ(vfio_cfg_read(&r, 0x30, 4, 0), 0xfeb00000);
    CHECK_EQ(size_bar(&r, 0x30, 0), 0xffff0001);
    uint32_t hw;
    vfio_cfg_write(&r, 0x30, 4, 0xfffff800, 0, &hw);                 /* Linux's ROM sizing */
    CHECK_EQ(vfio_cfg_read(&r, 0x30, 4, 0), 0xffff0000);
    vfio_cfg_write(&r, 0x30, 4, 0xfeb00000, 0, &hw);
    CHECK_EQ(vfio_cfg_read(&r, 0x30, 4, 0), 0xfeb00000);
}

TEST(config_bar_byte_and_word_writes_and_neighbours)
{
    struct vfio_vconfig v;
    bars_setup(&v);
    uint32_t hw;
    /* sizing by halves reaches the same answer; the function gets nothing */
    CHECK_EQ(vfio_cfg_write(&v, 0x10, 2, 0xffff, 0, &hw), 0);
    CHECK_EQ(vfio_cfg_write(&v, 0x12, 2, 0xffff, 0, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x10, 4, 0), 0xfff00000);
    CHECK_EQ(vfio_cfg_write(&v, 0x13, 1, 0xfe, 0, &hw), 0);
    CHECK_EQ(vfio_cfg_write(&v, 0x12, 1, 0x00, 0, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x10, 4, 0), 0xfe000000);
    /* subsystem IDs and the CardBus pointer are read-only: dropped, reads pass through */
    CHECK_EQ(vfio_cfg_write(&v, 0x2c, 4, 0xffffffff, 0x11001af4, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x2c, 4, 0x11001af4), 0x11001af4);
    CHECK_EQ(vfio_cfg_write(&v, 0x28, 1, 0xff, 0, &hw), 0);
    /* the registers before and after pass through as before */
    CHECK_EQ(vfio_cfg_write(&v, 0x0c, 1, 0x10, 0, &hw), 0x1);
    CHECK_EQ(hw, 0x10);
    CHECK(!vfio_cfg_virtualized(&v, 0x3c, 1));
    /* another header type: reads pass through, writes are dropped */
    struct vfio_vconfig b = { 0 };
    CHECK_EQ(vfio_cfg_read(&b, 0x18, 4, 0x00020100), 0x00020100);
    CHECK_EQ(vfio_cfg_write(&b, 0x18, 4, 0xffffffff, 0x00020100, &hw), 0);
}

/* edu's MSI capability as QEMU builds it: at 0x40, 64-bit, one vector, no per-vector mask. */
#define EDU_MSI 0x40
#define EDU_MSI_FLAGS 0x0080

TEST(config_msi_address_and_data_are_the_programs_copy)
{
    struct vfio_vconfig v = { 0 };
    uint32_t hw;
    vfio_cfg_init_msi(&v, EDU_MSI, EDU_MSI_FLAGS, 0, 0, 0);
    CHECK(vfio_cfg_virtualized(&v, EDU_MSI + 4, 4) && vfio_cfg_virtualized(&v, EDU_MSI + 12, 2));
    CHECK(vfio_cfg_virtualized(&v, EDU_MSI + 2, 2));
    CHECK(!vfio_cfg_virtualized(&v, EDU_MSI + 14, 2) && !vfio_cfg_virtualized(&v, 0x3c, 4));
    /* moat programmed the function for SET_IRQS: the program still reads what it had */
    vfio_cfg_msi_irq(&v, 1);
    CHECK_EQ(vfio_cfg_read(&v, EDU_MSI + 4, 4, 0xfee00000), 0);
    CHECK_EQ(vfio_cfg_read(&v, EDU_MSI + 8, 4, 0x0), 0);
    CHECK_EQ(vfio_cfg_read(&v, EDU_MSI + 12, 2, 0x4021), 0);
    /* Enable is virtual: the function has it set, the program's copy does not */
    CHECK_EQ(vfio_cfg_read(&v, EDU_MSI + 2, 2, 0x0081), 0x0080);
    /* writes of the address and data stay in the copy, nothing reaches the function */
    CHECK_EQ(vfio_cfg_write(&v, EDU_MSI + 4, 4, 0xfeedf00c, 0xfee00000, &hw), 0);
    CHECK_EQ(vfio_cfg_write(&v, EDU_MSI + 12, 2, 0xbeef, 0x4021, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, EDU_MSI + 4, 4, 0xfee00000), 0xfeedf00c);
    CHECK_EQ(vfio_cfg_read(&v, EDU_MSI + 12, 2, 0x4021), 0xbeef);
    /* the ID and next pointer read through, writes dropped */
    CHECK_EQ(vfio_cfg_read(&v, EDU_MSI, 2, 0x0005), 0x0005);
    CHECK_EQ(vfio_cfg_write(&v, EDU_MSI, 2, 0xffff, 0x0005, &hw), 0);
}

TEST(config_msi_control_follows_the_ioctl)
{
    struct vfio_vconfig v = { 0 };
    uint32_t hw;
    /* four vectors offered (Multiple Message Capable 2), 32-bit, per-vector masking */
    vfio_cfg_init_msi(&v, 0x50, 0x0104, 0, 0, 0);
    CHECK_EQ(v.msi.len, 20);
    /* Multiple Message Capable reads 0 until SET_IRQS enabled some (Linux's msi_qmax) */
    CHECK_EQ(vfio_cfg_read(&v, 0x52, 1, 0x04), 0x00);
    /* Enable written while MSI is not the interrupt: cleared, also at the function */
    CHECK_EQ(vfio_cfg_write(&v, 0x52, 1, 0x01, 0x04, &hw), 0x1);
    CHECK_EQ(hw & 0x01, 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x52, 1, 0x04), 0x00);
    /* three vectors enabled by the ioctl: qmax 2 */
    vfio_cfg_msi_irq(&v, 3);
    CHECK_EQ(vfio_cfg_read(&v, 0x52, 1, 0x25), 0x04);
    /* now Enable sticks; Multiple Message Enable 7 is held to 2 */
    CHECK_EQ(vfio_cfg_write(&v, 0x52, 1, 0x71, 0x25, &hw), 0x1);
    CHECK_EQ(hw & 0x71, 0x21);
    CHECK_EQ(vfio_cfg_read(&v, 0x52, 1, 0x25) & 0x71, 0x21);
    /* the mask bits (0x5c for a 32-bit capability) pass through both ways */
    CHECK_EQ(vfio_cfg_write(&v, 0x5c, 4, 0x5, 0, &hw), 0xf);
    CHECK_EQ(hw, 0x5);
    CHECK_EQ(vfio_cfg_read(&v, 0x5c, 4, 0x7), 0x7);
    /* disabled again: Enable no longer sticks, the maximum stays (as Linux's msi_qmax) */
    vfio_cfg_msi_irq(&v, 0);
    CHECK_EQ(vfio_cfg_write(&v, 0x52, 1, 0x01, 0x04, &hw), 0x1);
    CHECK_EQ(hw & 0x01, 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x52, 1, 0x04), 0x04);
}

TEST(config_capability_lengths_are_linuxs)
{
    uint32_t d[3] = { 0 };
    d[0] = 0x0002u << 16;                               /* PCIe v2 endpoint */
    CHECK_EQ(vfio_cfg_cap_len(0x10, false, d), 0x34);
    d[0] = 0x0092u << 16;                               /* v2 root-complex integrated */
    CHECK_EQ(vfio_cfg_cap_len(0x10, false, d), 0x2c);
    d[0] = 0x0001u << 16;                               /* v1 endpoint */
    CHECK_EQ(vfio_cfg_cap_len(0x10, false, d), 20);
    d[0] = 0x0014u << 16;                               /* vendor-specific, 20 bytes */
    CHECK_EQ(vfio_cfg_cap_len(0x09, false, d), 20);
    CHECK_EQ(vfio_cfg_cap_len(0x01, false, d), 8);      /* PM */
    CHECK_EQ(vfio_cfg_cap_len(0x11, false, d), 12);     /* MSI-X */
    CHECK_EQ(vfio_cfg_cap_len(0x13, false, d), 6);      /* Advanced Features */
    CHECK_EQ(vfio_cfg_cap_len(0x0c, false, d), 0);      /* hot-swap: Linux hides it */
    CHECK_EQ(vfio_cfg_cap_len(0x01, true, d), 0x2c);    /* AER */
    CHECK_EQ(vfio_cfg_cap_len(0x10, true, d), 0x40);    /* SR-IOV */
    CHECK_EQ(vfio_cfg_cap_len(0x1b, true, d), 0);       /* PASID: Linux hides it */
    d[1] = 0x040u << 20;                                /* vendor-specific, 0x40 bytes */
    CHECK_EQ(vfio_cfg_cap_len(0x0b, true, d), 0x40);
    d[1] = 0x0020 | 40u << 8;                           /* ACS with 40 egress bits */
    CHECK_EQ(vfio_cfg_cap_len(0x0d, true, d), 8 + 8);
    d[2] = 3u << 5;                                     /* resizable BAR, three of them */
    CHECK_EQ(vfio_cfg_cap_len(0x15, true, d), 4 + 24);
}

/* An igb-like function: PM at 0x40, PCIe (v2 endpoint, FLR) at 0x50, MSI-X at 0x90, a
 * vendor-specific capability at 0xa0, AER at 0x100 and SR-IOV at 0x140. */
static void caps_setup(struct vfio_vconfig *v)
{
    *v = (struct vfio_vconfig){ 0 };
    const uint32_t pm[3] = { 0x00035001, 0x00000008, 0 };
    const uint32_t exp[3] = { 0x00029010, 0x10008000, 0x00002810 };
    const uint32_t msix[3] = { 0x0004a011, 0x3, 0x2003 };
    const uint32_t vndr[3] = { 0x00100009, 0, 0 };
    const uint32_t err[3] = { 0x14010001, 0, 0 };
    const uint32_t sriov[3] = { 0x00010010, 0, 0 };
    vfio_cfg_add_cap(v, 0x01, 0x40, false, pm);
    vfio_cfg_add_cap(v, 0x10, 0x50, false, exp);
    vfio_cfg_add_cap(v, 0x11, 0x90, false, msix);
    vfio_cfg_add_cap(v, 0x09, 0xa0, false, vndr);
    vfio_cfg_add_cap(v, 0x01, 0x100, true, err);
    vfio_cfg_add_cap(v, 0x10, 0x140, true, sriov);
}

TEST(config_capabilities_take_the_writes_linux_lets_through)
{
    struct vfio_vconfig v;
    uint32_t hw;
    caps_setup(&v);
    CHECK_EQ(v.ncaps, 6);
    /* MSI-X control and SR-IOV control are read-only: the program cannot enable either
     * behind the runtime's back */
    CHECK(vfio_cfg_virtualized(&v, 0x92, 2));
    CHECK_EQ(vfio_cfg_write(&v, 0x92, 2, 0xc000, 0x0003, &hw), 0);
    CHECK_EQ(vfio_cfg_read(&v, 0x92, 2, 0x0003), 0x0003);
    CHECK_EQ(vfio_cfg_write(&v, 0x148, 2, 0x0009, 0, &hw), 0);
    /* PM control: the power state goes to the function, PME Enable and Status do not */
    CHECK_EQ(vfio_cfg_write(&v, 0x44, 2, 0x8103, 0x0008, &hw), 0x3);
    CHECK_EQ(hw, 0x0003);
    /* PCIe Device Control: Phantom Functions dropped; FLR, MPS, MRRS the program's copy */
    CHECK_EQ(vfio_cfg_write(&v, 0x58, 2, 0x52f0 | 0x0200, 0x2810, &hw), 0x3);
    CHECK_EQ(hw & 0x0200, 0);
    CHECK_EQ(hw & 0x0010, 0x0010);      /* Relaxed Ordering: written through (it was set) */
    CHECK_EQ(hw & 0x0f1f & ~0x0200, 0x0010 & 0x0f1f);
    CHECK_EQ(vfio_cfg_read(&v, 0x58, 2, 0x2810) & 0x70e0, 0x50e0);
    CHECK(!v.reset_requested);
    /* an FLR written there asks for a reset, and reads 0 afterwards */
    vfio_cfg_write(&v, 0x58, 2, 0x8000 | 0x50e0, 0x2810, &hw);
    CHECK(v.reset_requested);
    CHECK_EQ(vfio_cfg_read(&v, 0x58, 2, 0x2810) & 0x8000, 0);
    /* Device Control 2: ARI Forwarding is not the program's */
    CHECK_EQ(vfio_cfg_write(&v, 0x78, 2, 0xffff, 0, &hw), 0x3);
    CHECK_EQ(hw, 0xffdf);
    /* Link Control and the other PCIe registers: dropped */
    CHECK_EQ(vfio_cfg_write(&v, 0x60, 2, 0x0020, 0, &hw), 0);
    /* vendor-specific: written whole, past its header */
    CHECK_EQ(vfio_cfg_write(&v, 0xa4, 4, 0x12345678, 0, &hw), 0xf);
    CHECK_EQ(hw, 0x12345678);
    /* AER: only the error bits Linux names */
    CHECK_EQ(vfio_cfg_write(&v, 0x108, 4, 0xffffffff, 0, &hw), 0xf);
    CHECK_EQ(hw, 0x03fff031);
    CHECK_EQ(vfio_cfg_write(&v, 0x118, 4, 0xffffffff, 0, &hw), 0x3);
    CHECK_EQ(hw, 0x140);
    CHECK_EQ(vfio_cfg_write(&v, 0x100, 4, 0xffffffff, 0x14010001, &hw), 0);
    /* bytes in no capability pass through both ways */
    CHECK(!vfio_cfg_virtualized(&v, 0xf0, 4));
    CHECK(!vfio_cfg_virtualized(&v, 0x200, 4));
}

struct hook_log {
    int fires, hups;
    int efd;                /* to signal from inside the hook, or -1 */
    struct file *f;
};

static void hook_fn(void *ctx)
{
    struct hook_log *l = ctx;
    l->fires++;
    if (l->f)
        eventfd_signal(l->f);   /* re-raising from inside: stays in the counter */
}

static void hook_hup(void *ctx)
{
    ((struct hook_log *)ctx)->hups++;
}

static long efd_put(int fd, uint64_t v)
{
    return sys_write(fd, &v, 8);
}

static long efd_get(int fd, uint64_t *v)
{
    return sys_read(fd, v, 8);
}

TEST(eventfd_hook_fires_inside_the_write_and_takes_the_count)
{
    mem_setup();
    int fd = sys_eventfd(0, 04000);
    REQUIRE(fd >= 0);
    struct file *f = fd_get(fd);
    REQUIRE(f && file_is_eventfd(f));
    struct hook_log l = { 0 };
    struct eventfd_hook h = { .fn = hook_fn, .hup = hook_hup, .ctx = &l };
    eventfd_hook_add(f, &h);
    CHECK_EQ(l.fires, 0);
    uint64_t v;
    CHECK_EQ(efd_put(fd, 3), 8);
    CHECK_EQ(l.fires, 1);
    CHECK_EQ(efd_get(fd, &v), -EAGAIN);          /* taken, as virqfd reads it */
    CHECK_EQ(efd_put(fd, 0), 8);                 /* Linux wakes waiters for 0 too */
    CHECK_EQ(l.fires, 2);
    eventfd_signal(f);
    CHECK_EQ(l.fires, 3);
    CHECK_EQ(efd_get(fd, &v), -EAGAIN);
    eventfd_hook_del(f, &h);
    CHECK_EQ(efd_put(fd, 2), 8);
    CHECK_EQ(l.fires, 3);
    CHECK_EQ(efd_get(fd, &v), 8);
    CHECK_EQ(v, 2);
    file_put(f);
    CHECK_EQ(sys_close(fd), 0);
    CHECK_EQ(l.hups, 0);                         /* removed before the close */
}

TEST(eventfd_hook_sees_an_earlier_raise_without_taking_it)
{
    mem_setup();
    int fd = sys_eventfd(5, 04000);
    struct file *f = fd_get(fd);
    REQUIRE(f);
    struct hook_log l = { 0 };
    struct eventfd_hook h = { .fn = hook_fn, .hup = hook_hup, .ctx = &l };
    eventfd_hook_add(f, &h);
    CHECK_EQ(l.fires, 1);
    uint64_t v;
    CHECK_EQ(efd_get(fd, &v), 8);
    CHECK_EQ(v, 5);
    eventfd_hook_del(f, &h);
    file_put(f);
    sys_close(fd);
}

TEST(eventfd_hook_no_recursion_and_hup_on_last_close)
{
    mem_setup();
    int fd = sys_eventfd(0, 04000);
    struct file *f = fd_get(fd);
    REQUIRE(f);
    struct hook_log a = { 0 }, b = { 0 };
    a.f = f;                                     /* a re-raises from inside */
    struct eventfd_hook ha = { .fn = hook_fn, .hup = hook_hup, .ctx = &a };
    struct eventfd_hook hb = { .fn = hook_fn, .hup = hook_hup, .ctx = &b };
    eventfd_hook_add(f, &ha);
    eventfd_hook_add(f, &hb);
    CHECK_EQ(efd_put(fd, 1), 8);
    CHECK_EQ(a.fires, 1);                        /* once each, no recursion */
    CHECK_EQ(b.fires, 1);
    uint64_t v;
    CHECK_EQ(efd_get(fd, &v), 8);                /* the inner raise stayed for a reader */
    CHECK_EQ(v, 1);
    a.f = NULL;
    file_put(f);                                 /* the hooks hold no reference */
    CHECK_EQ(a.hups + b.hups, 0);
    CHECK_EQ(sys_close(fd), 0);
    CHECK_EQ(a.hups, 1);
    CHECK_EQ(b.hups, 1);
}
