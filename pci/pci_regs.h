/* PCI configuration-space layouts, named as the PCI Local Bus 3.0, PCI-to-PCI Bridge 1.2, PCI
 * Express Base 6.0 and SR-IOV specifications name them. Offsets first, then each field as a
 * hi:lo mask. Extended-capability offsets are relative to the capability's header. */
#ifndef MOAT_PCI_PCI_REGS_H
#define MOAT_PCI_PCI_REGS_H

#include "lib/compiler.h"

#define PCI_CFG_SPACE_SIZE      0x100   /* conventional */
#define PCI_CFG_SPACE_EXP_SIZE  0x1000  /* PCI Express extended */

/* Type 0/1 common header (PCIe 6.0 §7.5.1.1) */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define  PCI_COMMAND_IO         BIT(0)   /* I/O Space Enable */
#define  PCI_COMMAND_MEMORY     BIT(1)   /* Memory Space Enable */
#define  PCI_COMMAND_MASTER     BIT(2)   /* Bus Master Enable */
#define  PCI_COMMAND_INTX_DISABLE BIT(10)
#define PCI_STATUS              0x06
#define  PCI_STATUS_INTERRUPT   BIT(3)   /* INTx asserted */
#define  PCI_STATUS_CAP_LIST    BIT(4)   /* Capabilities List */
#define PCI_CLASS_REVISION      0x08     /* Revision ID 7:0, Class Code 31:8 */
#define PCI_HEADER_TYPE         0x0e
#define PCI_INTERRUPT_PIN       0x3d     /* 1..4: INTA..INTD, 0: none */
#define  PCI_HEADER_TYPE_LAYOUT GENMASK(6, 0)
#define  PCI_HEADER_TYPE_MFD    BIT(7)   /* Multi-Function Device */
#define  PCI_HEADER_TYPE_NORMAL 0
#define  PCI_HEADER_TYPE_BRIDGE 1
#define  PCI_HEADER_TYPE_CARDBUS 2
#define PCI_CAPABILITY_LIST     0x34
#define PCI_STD_HEADER_SIZE     0x40

/* Type 0 header */
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_STD_NUM_BARS        6
#define  PCI_BASE_ADDRESS_SPACE_IO     BIT(0)
#define  PCI_BASE_ADDRESS_MEM_TYPE     GENMASK(2, 1)
#define   PCI_BASE_ADDRESS_MEM_TYPE_64 2
#define  PCI_BASE_ADDRESS_MEM_PREFETCH BIT(3)
#define  PCI_BASE_ADDRESS_MEM_MASK     GENMASK(31, 4)
#define  PCI_BASE_ADDRESS_IO_MASK      GENMASK(31, 2)
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_INTERRUPT_PIN       0x3d     /* 0: none, 1-4: INTA#-INTD# */

/* Type 1 header (PCI-to-PCI Bridge 1.2 §3.2) */
#define PCI_BRIDGE_NUM_BARS     2
#define PCI_PRIMARY_BUS         0x18
#define PCI_SECONDARY_BUS       0x19
#define PCI_SUBORDINATE_BUS     0x1a
#define PCI_IO_BASE             0x1c
#define PCI_IO_LIMIT            0x1d
#define  PCI_IO_RANGE_TYPE      GENMASK(3, 0)
#define   PCI_IO_RANGE_TYPE_32  1
#define  PCI_IO_RANGE_MASK      GENMASK(7, 4)
#define PCI_MEMORY_BASE         0x20
#define PCI_MEMORY_LIMIT        0x22
#define  PCI_MEMORY_RANGE_MASK  GENMASK(15, 4)
#define PCI_PREF_MEMORY_BASE    0x24
#define PCI_PREF_MEMORY_LIMIT   0x26
#define  PCI_PREF_RANGE_TYPE    GENMASK(3, 0)
#define   PCI_PREF_RANGE_TYPE_64 1
#define  PCI_PREF_RANGE_MASK    GENMASK(15, 4)
#define PCI_PREF_BASE_UPPER32   0x28
#define PCI_PREF_LIMIT_UPPER32  0x2c
#define PCI_IO_BASE_UPPER16     0x30
#define PCI_IO_LIMIT_UPPER16    0x32
#define PCI_INTERRUPT_LINE      0x3c     /* type 0 and type 1 */
#define PCI_BRIDGE_CONTROL      0x3e
#define  PCI_BRIDGE_CTL_BUS_RESET BIT(6)  /* Secondary Bus Reset */

/* Capability IDs (PCI Code and ID Assignment) */
#define PCI_CAP_ID_PM           0x01
#define PCI_CAP_ID_MSI          0x05
#define PCI_CAP_ID_VNDR         0x09
#define PCI_CAP_ID_EXP          0x10
#define PCI_CAP_ID_MSIX         0x11
#define PCI_CAP_NEXT            1
#define PCI_CAP_LIST_TTL        48      /* at most this many entries fit in 0x40..0xff */

#define PCI_EXT_CAP_ID_ERR      0x0001  /* Advanced Error Reporting */
#define PCI_EXT_CAP_ID_ACS      0x000d
#define PCI_EXT_CAP_ID_ARI      0x000e
#define PCI_EXT_CAP_ID_ATS      0x000f
#define PCI_EXT_CAP_ID_SRIOV    0x0010
#define PCI_EXT_CAP_ID_PRI      0x0013
#define PCI_EXT_CAP_ID_PASID    0x001b
#define PCI_EXT_CAP_HDR_ID      GENMASK(15, 0)
#define PCI_EXT_CAP_HDR_VER     GENMASK(19, 16)
#define PCI_EXT_CAP_HDR_NEXT    GENMASK(31, 20)
#define PCI_EXT_CAP_LIST_TTL    ((PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8)

/* PCI Express Capability (PCIe 6.0 §7.5.3) */
#define PCI_EXP_FLAGS           0x02
#define  PCI_EXP_FLAGS_TYPE     GENMASK(7, 4)   /* Device/Port Type */
#define   PCI_EXP_TYPE_ENDPOINT     0x0
#define   PCI_EXP_TYPE_LEG_END      0x1
#define   PCI_EXP_TYPE_ROOT_PORT    0x4
#define   PCI_EXP_TYPE_UPSTREAM     0x5
#define   PCI_EXP_TYPE_DOWNSTREAM   0x6
#define   PCI_EXP_TYPE_PCI_BRIDGE   0x7   /* PCI Express to PCI/PCI-X Bridge */
#define   PCI_EXP_TYPE_PCIE_BRIDGE  0x8   /* PCI/PCI-X to PCI Express Bridge */
#define   PCI_EXP_TYPE_RC_END       0x9   /* Root Complex Integrated Endpoint */
#define   PCI_EXP_TYPE_RC_EC        0xa   /* Root Complex Event Collector */
#define  PCI_EXP_FLAGS_SLOT     BIT(8)   /* Slot Implemented */
#define  PCI_EXP_FLAGS_IRQ      GENMASK(13, 9)  /* Interrupt Message Number */
#define PCI_EXP_DEVCAP          0x04
#define  PCI_EXP_DEVCAP_FLR     BIT(28)  /* Function Level Reset Capability */
#define PCI_EXP_DEVCTL          0x08
#define  PCI_EXP_DEVCTL_BCR_FLR BIT(15)  /* Initiate Function Level Reset */
#define PCI_EXP_LNKCAP          0x0c
#define PCI_EXP_LNKCTL          0x10
#define  PCI_EXP_LNKCAP_DLLLARC BIT(20)  /* Data Link Layer Link Active Reporting Capable */
#define PCI_EXP_LNKSTA          0x12
#define  PCI_EXP_LNKSTA_DLLLA   BIT(13)  /* Data Link Layer Link Active */
#define PCI_EXP_SLTCAP          0x14     /* Slot Capabilities (§7.5.3.9) */
#define  PCI_EXP_SLTCAP_ABP     BIT(0)   /* Attention Button Present */
#define  PCI_EXP_SLTCAP_PCP     BIT(1)   /* Power Controller Present */
#define  PCI_EXP_SLTCAP_AIP     BIT(3)   /* Attention Indicator Present */
#define  PCI_EXP_SLTCAP_PIP     BIT(4)   /* Power Indicator Present */
#define  PCI_EXP_SLTCAP_HPC     BIT(6)   /* Hot-Plug Capable */
#define  PCI_EXP_SLTCAP_NCCS    BIT(18)  /* No Command Completed Support */
#define  PCI_EXP_SLTCAP_PSN     GENMASK(31, 19)  /* Physical Slot Number */
#define PCI_EXP_SLTCTL          0x18     /* Slot Control (§7.5.3.10) */
#define  PCI_EXP_SLTCTL_ABPE    BIT(0)   /* Attention Button Pressed Enable */
#define  PCI_EXP_SLTCTL_PDCE    BIT(3)   /* Presence Detect Changed Enable */
#define  PCI_EXP_SLTCTL_CCIE    BIT(4)   /* Command Completed Interrupt Enable */
#define  PCI_EXP_SLTCTL_HPIE    BIT(5)   /* Hot-Plug Interrupt Enable */
#define  PCI_EXP_SLTCTL_AIC     GENMASK(7, 6)    /* Attention Indicator Control */
#define  PCI_EXP_SLTCTL_PIC     GENMASK(9, 8)    /* Power Indicator Control */
#define   PCI_EXP_SLTCTL_IND_ON     1
#define   PCI_EXP_SLTCTL_IND_BLINK  2
#define   PCI_EXP_SLTCTL_IND_OFF    3
#define  PCI_EXP_SLTCTL_PCC     BIT(10)  /* Power Controller Control: 1 = off */
#define  PCI_EXP_SLTCTL_DLLSCE  BIT(12)  /* Data Link Layer State Changed Enable */
#define PCI_EXP_SLTSTA          0x1a     /* Slot Status (§7.5.3.11) */
#define  PCI_EXP_SLTSTA_ABP     BIT(0)   /* Attention Button Pressed */
#define  PCI_EXP_SLTSTA_PFD     BIT(1)   /* Power Fault Detected */
#define  PCI_EXP_SLTSTA_MRLSC   BIT(2)   /* MRL Sensor Changed */
#define  PCI_EXP_SLTSTA_PDC     BIT(3)   /* Presence Detect Changed */
#define  PCI_EXP_SLTSTA_CC      BIT(4)   /* Command Completed */
#define  PCI_EXP_SLTSTA_PDS     BIT(6)   /* Presence Detect State */
#define  PCI_EXP_SLTSTA_DLLSC   BIT(8)   /* Data Link Layer State Changed */
#define PCI_EXP_DEVCAP2         0x24
#define  PCI_EXP_DEVCAP2_ARI    BIT(5)   /* ARI Forwarding Supported */
#define PCI_EXP_DEVCTL2         0x28
#define  PCI_EXP_DEVCTL2_ARI    BIT(5)   /* ARI Forwarding Enable */

/* ACS Extended Capability (PCIe 6.0 §7.7.8) */
#define PCI_ACS_CAP             0x04
#define PCI_ACS_CTRL            0x06
#define  PCI_ACS_SV             BIT(0)   /* Source Validation */
#define  PCI_ACS_TB             BIT(1)   /* Translation Blocking */
#define  PCI_ACS_RR             BIT(2)   /* P2P Request Redirect */
#define  PCI_ACS_CR             BIT(3)   /* P2P Completion Redirect */
#define  PCI_ACS_UF             BIT(4)   /* Upstream Forwarding */
#define  PCI_ACS_EC             BIT(5)   /* P2P Egress Control */
#define  PCI_ACS_DT             BIT(6)   /* Direct Translated P2P */

/* ARI Extended Capability (PCIe 6.0 §7.8.7) */
#define PCI_ARI_CAP             0x04
#define  PCI_ARI_CAP_NFN        GENMASK(15, 8)  /* Next Function Number */

/* SR-IOV Extended Capability (PCIe 6.0 §9.3.3) */
#define PCI_SRIOV_CAP           0x04
#define PCI_SRIOV_CTRL          0x08
#define  PCI_SRIOV_CTRL_VFE     BIT(0)   /* VF Enable */
#define  PCI_SRIOV_CTRL_MSE     BIT(3)   /* VF Memory Space Enable */
#define  PCI_SRIOV_CTRL_ARI     BIT(4)   /* ARI Capable Hierarchy */
#define PCI_SRIOV_INITIAL_VF    0x0c
#define PCI_SRIOV_TOTAL_VF      0x0e
#define PCI_SRIOV_NUM_VF        0x10
#define PCI_SRIOV_VF_OFFSET     0x14     /* First VF Offset */
#define PCI_SRIOV_VF_STRIDE     0x16
#define PCI_SRIOV_VF_DID        0x1a
#define PCI_SRIOV_SUP_PGSIZE    0x1c
#define PCI_SRIOV_SYS_PGSIZE    0x20
#define PCI_SRIOV_BAR           0x24
#define PCI_SRIOV_NUM_BARS      6

/* Devfn and requester-ID helpers */
#define PCI_DEVFN(slot, fn)     ((uint8_t)((((slot) & 0x1f) << 3) | ((fn) & 0x07)))
#define PCI_SLOT(devfn)         (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn)         ((devfn) & 0x07)
#define PCI_RID(bus, devfn)     ((uint16_t)(((bus) << 8) | (devfn)))

#define PCI_CLASS_BRIDGE_HOST   0x0600
#define PCI_CLASS_BRIDGE_PCI    0x0604
#define PCI_CLASS_SYSTEM_IOMMU  0x0806

#endif
