/* AMD-Vi hardware layouts, named as the AMD I/O Virtualization Technology (IOMMU) Specification
 * (#48882) names them:
 *   ACPI IVRS table (ch. 5: IVHD blocks and device entries, IVMD blocks), MMIO registers
 *   (3.4), the device table entry (2.2.2), commands (2.4), event log entries (2.5), interrupt
 *   remapping table entries (2.2.5).
 * Fields are hi:lo masks; entries and commands are structs of raw uint64_t words. */
#ifndef MOAT_IOMMU_AMD_AMDVI_HW_H
#define MOAT_IOMMU_AMD_AMDVI_HW_H

#include "lib/compiler.h"

/* ---- ACPI IVRS (5.2); multi-byte fields little-endian, read with memcpy ---- */
#define IVRS_HEADER_LEN 48              /* SDT header, IVinfo, Reserved[8] */
#define IVRS_OFF_IVINFO 36
#define IVINFO_EFRSUP BIT(0)            /* the IVHD 11h/40h EFR image is valid */
#define IVINFO_DMA_REMAP BIT(1)         /* firmware left DMA remapping on (pre-boot) */
#define IVINFO_GVASIZE GENMASK(7, 5)
#define IVINFO_PASIZE GENMASK(14, 8)    /* physical address bits */
#define IVINFO_VASIZE GENMASK(21, 15)   /* virtual (IOVA) address bits */
#define IVINFO_HATDIS BIT(22)           /* host address translation not supported */

/* Block types */
#define IVRS_TYPE_IVHD10 0x10           /* I/O Virtualization Hardware Definition, legacy */
#define IVRS_TYPE_IVHD11 0x11           /* ... with the EFR image */
#define IVRS_TYPE_IVHD40 0x40           /* ... with ACPI HID device entries */
#define IVRS_TYPE_IVMD_ALL 0x20         /* I/O Virtualization Memory Definition: all devices */
#define IVRS_TYPE_IVMD_ONE 0x21         /* ... one device */
#define IVRS_TYPE_IVMD_RANGE 0x22       /* ... a device ID range */

/* IVHD: Type, Flags, Length, IOMMU DeviceID, Capability Offset, Base, Segment, IOMMU Info,
 * then (10h) IOMMU Feature Reporting or (11h/40h) IOMMU Attributes, EFR image, EFR2 image. */
#define IVHD_OFF_FLAGS 1
#define IVHD_OFF_LEN 2
#define IVHD_OFF_DEVID 4
#define IVHD_OFF_CAP 6
#define IVHD_OFF_BASE 8
#define IVHD_OFF_SEG 16
#define IVHD_OFF_INFO 18
#define IVHD_OFF_FEAT 20
#define IVHD_OFF_EFR 24
#define IVHD10_LEN 24                   /* device entries start here (type 10h) */
#define IVHD11_LEN 40                   /* ... and here (types 11h, 40h) */
#define IVHD_INFO_MSINUM GENMASK(4, 0)
#define IVHD_INFO_UNITID GENMASK(12, 8)

/* IVHD device entries (5.2.2.2). Types below 80h are 4 << (type >> 6) bytes long; F0h is
 * variable; nothing else can be walked over. */
#define IVHD_DEV_ALL 0x01
#define IVHD_DEV_SELECT 0x02
#define IVHD_DEV_RANGE_START 0x03
#define IVHD_DEV_RANGE_END 0x04
#define IVHD_DEV_ALIAS_SELECT 0x42
#define IVHD_DEV_ALIAS_RANGE 0x43
#define IVHD_DEV_EXT_SELECT 0x46
#define IVHD_DEV_EXT_RANGE 0x47
#define IVHD_DEV_SPECIAL 0x48
#define IVHD_DEV_ACPI_HID 0xf0
#define IVHD_ENT_OFF_DEVID 1            /* every entry but ALL and SPECIAL */
#define IVHD_ENT_OFF_SETTING 3          /* DTE setting: INITPass, EIntPass, NMIPass, ... */
#define IVHD_ALIAS_OFF_SRC 5            /* 42h/43h: the requester ID used instead */
#define IVHD_EXT_OFF_DATA 4             /* 46h/47h: extended data (bit 31: ATS disabled) */
#define IVHD_SPECIAL_OFF_HANDLE 4       /* 48h: IOAPIC ID or HPET number */
#define IVHD_SPECIAL_OFF_DEVID 5        /* 48h: the requester ID it uses */
#define IVHD_SPECIAL_OFF_VARIETY 7      /* 48h: 1 IOAPIC, 2 HPET */
#define IVHD_SPECIAL_IOAPIC 1
#define IVHD_SPECIAL_HPET 2
#define IVHD_HID_OFF_HID 4              /* F0h: 8-byte _HID */
#define IVHD_HID_OFF_CID 12             /* 8-byte _CID */
#define IVHD_HID_OFF_UIDF 20            /* UID format: 0 none, 1 integer, 2 string */
#define IVHD_HID_OFF_UIDLEN 21
#define IVHD_HID_LEN 22                 /* + UID length */

/* IVMD (5.2.3): Type, Flags, Length (32), DeviceID, Auxiliary data (22h: end DeviceID),
 * Segment, Reserved, Start Address, Memory Block Length. */
#define IVMD_LEN 32
#define IVMD_OFF_FLAGS 1
#define IVMD_OFF_DEVID 4
#define IVMD_OFF_AUX 6
#define IVMD_OFF_SEG 8
#define IVMD_OFF_START 16
#define IVMD_OFF_LENGTH 24
#define IVMD_FLAG_UNITY BIT(0)          /* must stay identity-mapped */
#define IVMD_FLAG_IR BIT(1)
#define IVMD_FLAG_IW BIT(2)
#define IVMD_FLAG_EXCL BIT(3)           /* exclusion range: untranslated for these devices */

/* ---- MMIO registers (3.4) ---- */
#define AMDVI_DEV_TAB_BASE 0x0000       /* base 51:12, Size 8:0 = 4 KiB pages - 1 */
#define AMDVI_CMD_BUF_BASE 0x0008       /* base 51:12, ComLen 59:56 = log2 entries */
#define AMDVI_EVT_LOG_BASE 0x0010       /* base 51:12, EventLen 59:56 */
#define AMDVI_CONTROL 0x0018
#define AMDVI_EXCL_BASE 0x0020
#define AMDVI_EXCL_LIMIT 0x0028
#define AMDVI_EFR 0x0030                /* Extended Feature Register */
#define AMDVI_CMD_HEAD 0x2000
#define AMDVI_CMD_TAIL 0x2008
#define AMDVI_EVT_HEAD 0x2010
#define AMDVI_EVT_TAIL 0x2018
#define AMDVI_STATUS 0x2020
#define AMDVI_MMIO_SIZE 0x4000          /* what moat maps (performance counters lie beyond) */

#define AMDVI_BASE_ADDR GENMASK(51, 12)
#define AMDVI_DEV_TAB_SIZE GENMASK(8, 0)
#define AMDVI_LEN_FIELD GENMASK(59, 56) /* ComLen / EventLen */
#define AMDVI_RING_PTR GENMASK(18, 4)   /* head/tail: byte offset of a 16-byte entry */

/* Control (3.4.4) */
#define AMDVI_CTRL_IOMMU_EN BIT(0)
#define AMDVI_CTRL_HT_TUN_EN BIT(1)
#define AMDVI_CTRL_EVT_LOG_EN BIT(2)
#define AMDVI_CTRL_EVT_INT_EN BIT(3)
#define AMDVI_CTRL_COMWAIT_INT_EN BIT(4)
#define AMDVI_CTRL_INV_TIMEOUT GENMASK(7, 5)
#define AMDVI_CTRL_COHERENT BIT(10)
#define AMDVI_CTRL_CMD_BUF_EN BIT(12)
#define AMDVI_CTRL_PPR_LOG_EN BIT(13)
#define AMDVI_CTRL_GT_EN BIT(16)
#define AMDVI_CTRL_GA_EN BIT(17)
#define AMDVI_CTRL_XT_EN BIT(50)

/* Status (3.4.11); bits 0-2 are write-1-to-clear */
#define AMDVI_STS_EVT_OVERFLOW BIT(0)
#define AMDVI_STS_EVT_INT BIT(1)
#define AMDVI_STS_COMWAIT_INT BIT(2)
#define AMDVI_STS_EVT_RUN BIT(3)
#define AMDVI_STS_CMD_RUN BIT(4)

/* EFR (3.4.6) */
#define AMDVI_EFR_PREFSUP BIT(0)
#define AMDVI_EFR_PPRSUP BIT(1)
#define AMDVI_EFR_XTSUP BIT(2)
#define AMDVI_EFR_NXSUP BIT(3)
#define AMDVI_EFR_GTSUP BIT(4)
#define AMDVI_EFR_IASUP BIT(6)          /* INVALIDATE_IOMMU_ALL */
#define AMDVI_EFR_GASUP BIT(7)
#define AMDVI_EFR_HESUP BIT(8)
#define AMDVI_EFR_PCSUP BIT(9)
#define AMDVI_EFR_HATS GENMASK(11, 10)  /* host translation levels: 0: 4, 1: 5, 2: 6, 3: none */
#define AMDVI_EFR_GATS GENMASK(13, 12)

/* The x86 interrupt window: never translated as DMA (2.2.5). */
#define AMDVI_INTR_ADDR_FIRST 0xfee00000ULL
#define AMDVI_INTR_ADDR_LAST 0xfeefffffULL

/* ---- Device table entry (2.2.2.1): 256 bits ---- */
struct amdvi_dte {
    uint64_t w[4];
};
_Static_assert(sizeof(struct amdvi_dte) == 32, "DTE is 256 bits");
#define AMDVI_DTE_BYTES 32
#define AMDVI_MAX_DEVID 0xffff

#define AMDVI_DTE0_V BIT(0)             /* valid */
#define AMDVI_DTE0_TV BIT(1)            /* translation information valid */
#define AMDVI_DTE0_HAD GENMASK(8, 7)    /* host access/dirty update */
#define AMDVI_DTE0_MODE GENMASK(11, 9)  /* paging mode: levels, 0: translation disabled */
#define AMDVI_DTE0_PT_ROOT GENMASK(51, 12)
#define AMDVI_DTE0_PPR BIT(52)
#define AMDVI_DTE0_GV BIT(55)
#define AMDVI_DTE0_IR BIT(61)
#define AMDVI_DTE0_IW BIT(62)
#define AMDVI_DTE1_DOMAIN_ID GENMASK(15, 0)
#define AMDVI_DTE1_I BIT(32)            /* IOTLB enable (ATS) */
#define AMDVI_DTE1_SE BIT(33)           /* suppress events */
#define AMDVI_DTE1_SA BIT(34)           /* suppress all events */
#define AMDVI_DTE1_EX BIT(39)           /* exclusion range applies */
#define AMDVI_DTE2_IV BIT(0)            /* interrupt map valid */
#define AMDVI_DTE2_INT_TAB_LEN GENMASK(4, 1) /* log2 entries */
#define AMDVI_DTE2_IG BIT(5)            /* ignore unmapped interrupts */
#define AMDVI_DTE2_INT_TAB_ROOT GENMASK(51, 6)
#define AMDVI_DTE2_INIT_PASS BIT(56)
#define AMDVI_DTE2_EINT_PASS BIT(57)
#define AMDVI_DTE2_NMI_PASS BIT(58)
#define AMDVI_DTE2_INT_CTL GENMASK(61, 60)  /* 0 abort, 1 forward unmapped, 2 remap */
#define AMDVI_DTE2_LINT0_PASS BIT(62)
#define AMDVI_DTE2_LINT1_PASS BIT(63)
#define AMDVI_INTCTL_ABORT 0
#define AMDVI_INTCTL_REMAP 2

/* ---- Commands (2.4): 128 bits, opcode in 63:60 of the first word ---- */
struct amdvi_cmd {
    uint64_t w[2];
};
_Static_assert(sizeof(struct amdvi_cmd) == 16, "command is 128 bits");
#define AMDVI_CMD_OPCODE GENMASK(63, 60)
#define AMDVI_CMD_COMPLETION_WAIT 0x1
#define AMDVI_CMD_INV_DEVTAB_ENTRY 0x2
#define AMDVI_CMD_INV_IOMMU_PAGES 0x3
#define AMDVI_CMD_INV_IOTLB_PAGES 0x4
#define AMDVI_CMD_INV_INTR_TABLE 0x5
#define AMDVI_CMD_INV_IOMMU_ALL 0x8
#define AMDVI_CW0_S BIT(0)              /* store the data word at the address */
#define AMDVI_CW0_I BIT(1)              /* interrupt */
#define AMDVI_CW0_F BIT(2)              /* flush queue */
#define AMDVI_CW0_ADDR GENMASK(51, 3)   /* store address, 8-byte aligned */
#define AMDVI_CMD0_DEVID GENMASK(15, 0)
#define AMDVI_IP0_PASID GENMASK(19, 0)
#define AMDVI_IP0_DOMAIN_ID GENMASK(47, 32)
#define AMDVI_IP1_S BIT(0)              /* size: first zero bit of Address from bit 12 */
#define AMDVI_IP1_PDE BIT(1)            /* page directory entries too */
#define AMDVI_IP1_GN BIT(2)             /* guest (PASID) address */
#define AMDVI_IP1_ADDR GENMASK(63, 12)
#define AMDVI_INV_ALL_ADDR 0x7ffffffffffff000ULL    /* with S: the whole address space */

/* ---- Event log entries (2.5): 128 bits ---- */
struct amdvi_event {
    uint64_t w[2];
};
_Static_assert(sizeof(struct amdvi_event) == 16, "event is 128 bits");
#define AMDVI_EV0_DEVID GENMASK(15, 0)
#define AMDVI_EV0_PASID_LO GENMASK(31, 16)  /* IO_PAGE_FAULT: PASID[15:0] */
#define AMDVI_EV0_FLAGS GENMASK(59, 48)
#define AMDVI_EV0_CODE GENMASK(63, 60)
/* IO_PAGE_FAULT flags, within AMDVI_EV0_FLAGS */
#define AMDVI_EVF_GN BIT(0)
#define AMDVI_EVF_NX BIT(1)
#define AMDVI_EVF_US BIT(2)
#define AMDVI_EVF_I BIT(3)              /* interrupt request */
#define AMDVI_EVF_PR BIT(4)             /* the page was present */
#define AMDVI_EVF_RW BIT(5)             /* write */
#define AMDVI_EVF_PE BIT(6)             /* permission error */
#define AMDVI_EVF_RZ BIT(7)             /* reserved bit not zero */
#define AMDVI_EVF_TR BIT(8)             /* translation request */
#define AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY 0x1
#define AMDVI_EV_IO_PAGE_FAULT 0x2
#define AMDVI_EV_DEV_TAB_HARDWARE_ERROR 0x3
#define AMDVI_EV_PAGE_TAB_HARDWARE_ERROR 0x4
#define AMDVI_EV_ILLEGAL_COMMAND_ERROR 0x5
#define AMDVI_EV_COMMAND_HARDWARE_ERROR 0x6
#define AMDVI_EV_IOTLB_INV_TIMEOUT 0x7
#define AMDVI_EV_INVALID_DEVICE_REQUEST 0x8
#define AMDVI_EV_INVALID_PPR_REQUEST 0x9
#define AMDVI_EV_EVENT_COUNTER_ZERO 0xa

/* ---- Interrupt remapping table entry, 32-bit format (2.2.5.1) ---- */
#define AMDVI_IRTE_REMAP_EN BIT(0)
#define AMDVI_IRTE_SUP_IOPF BIT(1)
#define AMDVI_IRTE_INT_TYPE GENMASK(4, 2)   /* 0 fixed, 1 arbitrated */
#define AMDVI_IRTE_RQ_EOI BIT(5)
#define AMDVI_IRTE_DM BIT(6)                /* destination mode: 1 logical */
#define AMDVI_IRTE_GUEST_MODE BIT(7)
#define AMDVI_IRTE_DEST GENMASK(15, 8)
#define AMDVI_IRTE_VECTOR GENMASK(23, 16)
#define AMDVI_MSI_DATA_INDEX GENMASK(10, 0) /* a remapped MSI's data: the IRTE index */

/* ---- the IOMMU's PCI function (3.2): the IOMMU capability block at IVHD's offset ---- */
#define AMDVI_CAP_HDR 0x00
#define AMDVI_CAP_IOTLB_SUP BIT(24)
#define AMDVI_CAP_NP_CACHE BIT(26)      /* non-present table entries may be cached */
#define AMDVI_CAP_EFR_SUP BIT(27)

#endif
