/* Intel VT-d hardware layouts, named as the Intel Virtualization Technology for Directed I/O
 * Architecture Specification names them (section numbers from revision 4.x/5.0):
 *   ACPI DMAR table (ch. 8), registers (ch. 11), root/context/PASID entries (9.1-9.6),
 *   invalidation descriptors (6.5.2), fault records (11.4.14), interrupt remapping (9.9, 5.1).
 * Fields are hi:lo masks; descriptors and entries are structs of raw uint64_t words. */
#ifndef MOAT_IOMMU_INTEL_VTD_HW_H
#define MOAT_IOMMU_INTEL_VTD_HW_H

#include "lib/compiler.h"

/* ---- ACPI DMAR (8.1-8.10); multi-byte fields are little-endian, read with memcpy ---- */
#define DMAR_HEADER_LEN 48              /* SDT header + Host Address Width, Flags, Reserved[10] */
#define DMAR_OFF_HAW 36                 /* Host Address Width: HAW - 1 */
#define DMAR_OFF_FLAGS 37
#define DMAR_FLAG_INTR_REMAP BIT(0)
#define DMAR_FLAG_X2APIC_OPT_OUT BIT(1)
#define DMAR_FLAG_DMA_CTRL_PLATFORM_OPT_IN BIT(2)

/* Remapping structure types */
#define DMAR_TYPE_DRHD 0                /* DMA Remapping Hardware Unit Definition */
#define DMAR_TYPE_RMRR 1                /* Reserved Memory Region Reporting */
#define DMAR_TYPE_ATSR 2                /* Root Port ATS Capability Reporting */
#define DMAR_TYPE_RHSA 3                /* Remapping Hardware Static Affinity */
#define DMAR_TYPE_ANDD 4                /* ACPI Name-space Device Declaration */
#define DMAR_TYPE_SATC 5                /* SoC Integrated Address Translation Cache */
#define DMAR_TYPE_SIDP 6                /* SoC Integrated Device Property */

/* Fixed part of each structure (offsets from its Type field) */
#define DRHD_LEN 16                     /* Type, Length, Flags, Size, Segment, Register Base */
#define DRHD_OFF_FLAGS 4
#define DRHD_FLAG_INCLUDE_PCI_ALL BIT(0)
#define DRHD_OFF_SIZE 5                 /* register set: 2^Size 4 KiB pages */
#define DRHD_OFF_SEGMENT 6
#define DRHD_OFF_BASE 8
#define RMRR_LEN 24                     /* Type, Length, Reserved, Segment, Base, Limit */
#define RMRR_OFF_SEGMENT 6
#define RMRR_OFF_BASE 8
#define RMRR_OFF_LIMIT 16
#define ATSR_LEN 8                      /* Type, Length, Flags, Reserved, Segment */
#define ATSR_OFF_FLAGS 4
#define ATSR_FLAG_ALL_PORTS BIT(0)
#define ATSR_OFF_SEGMENT 6
#define RHSA_LEN 20                     /* Type, Length, Reserved, Register Base, Proximity */
#define RHSA_OFF_BASE 8
#define RHSA_OFF_PROXIMITY 16
#define SATC_LEN 8                      /* Type, Length, Flags, Reserved, Segment */
#define SATC_OFF_FLAGS 4
#define SATC_FLAG_ATC_REQUIRED BIT(0)
#define SATC_OFF_SEGMENT 6
#define ANDD_LEN 8

/* Device Scope (8.3.1): Type, Length, Flags, Reserved, Enumeration ID, Start Bus, Path[] */
#define SCOPE_HDR_LEN 6
#define SCOPE_OFF_ENUM_ID 4
#define SCOPE_OFF_START_BUS 5
#define SCOPE_PCI_ENDPOINT 1
#define SCOPE_PCI_SUB_HIERARCHY 2
#define SCOPE_IOAPIC 3
#define SCOPE_MSI_CAPABLE_HPET 4
#define SCOPE_ACPI_NAMESPACE_DEVICE 5

/* ---- Registers (11.4) ---- */
#define VTD_VER_REG 0x00
#define VTD_CAP_REG 0x08
#define VTD_ECAP_REG 0x10
#define VTD_GCMD_REG 0x18
#define VTD_GSTS_REG 0x1c
#define VTD_RTADDR_REG 0x20
#define VTD_CCMD_REG 0x28
#define VTD_FSTS_REG 0x34
#define VTD_FECTL_REG 0x38
#define VTD_FEDATA_REG 0x3c
#define VTD_FEADDR_REG 0x40
#define VTD_FEUADDR_REG 0x44
#define VTD_PMEN_REG 0x64
#define VTD_IQH_REG 0x80
#define VTD_IQT_REG 0x88
#define VTD_IQA_REG 0x90
#define VTD_ICS_REG 0x9c
#define VTD_IECTL_REG 0xa0
#define VTD_IQERCD_REG 0xb0
#define VTD_IRTA_REG 0xb8
/* At ECAP.IRO * 16: */
#define VTD_IVA_REG_OFF 0x0
#define VTD_IOTLB_REG_OFF 0x8
/* FRCD registers at CAP.FRO * 16, 16 bytes each */
#define VTD_FRCD_SIZE 16

/* CAP_REG (11.4.2) */
#define VTD_CAP_ND GENMASK(2, 0)        /* Number of Domains: 2^(4 + 2*ND) */
#define VTD_CAP_AFL BIT(3)
#define VTD_CAP_RWBF BIT(4)             /* Required Write-Buffer Flushing */
#define VTD_CAP_PLMR BIT(5)
#define VTD_CAP_PHMR BIT(6)
#define VTD_CAP_CM BIT(7)               /* Caching Mode: non-present entries may be cached */
#define VTD_CAP_SAGAW GENMASK(12, 8)    /* Supported Adjusted Guest Address Widths */
#define VTD_SAGAW_39 BIT(1)             /* within the field: 3-level, 39-bit */
#define VTD_SAGAW_48 BIT(2)             /* 4-level, 48-bit */
#define VTD_SAGAW_57 BIT(3)             /* 5-level, 57-bit */
#define VTD_CAP_MGAW GENMASK(21, 16)    /* Maximum Guest Address Width - 1 */
#define VTD_CAP_ZLR BIT(22)
#define VTD_CAP_FRO GENMASK(33, 24)     /* Fault-recording Register Offset / 16 */
#define VTD_CAP_SLLPS GENMASK(37, 34)   /* Second Level Large Page Support: 2M, 1G */
#define VTD_CAP_PSI BIT(39)             /* Page Selective Invalidation */
#define VTD_CAP_NFR GENMASK(47, 40)     /* Number of Fault-recording Registers - 1 */
#define VTD_CAP_MAMV GENMASK(53, 48)    /* Maximum Address Mask Value */
#define VTD_CAP_DWD BIT(54)
#define VTD_CAP_DRD BIT(55)
#define VTD_CAP_FL1GP BIT(56)           /* First Level 1-GByte Page Support */
#define VTD_CAP_PI BIT(59)
#define VTD_CAP_FL5LP BIT(60)

/* ECAP_REG (11.4.3) */
#define VTD_ECAP_C BIT(0)               /* Page-walk Coherency */
#define VTD_ECAP_QI BIT(1)              /* Queued Invalidation */
#define VTD_ECAP_DT BIT(2)              /* Device-TLB */
#define VTD_ECAP_IR BIT(3)              /* Interrupt Remapping */
#define VTD_ECAP_EIM BIT(4)             /* Extended Interrupt Mode (x2APIC) */
#define VTD_ECAP_PT BIT(6)              /* Pass Through */
#define VTD_ECAP_SC BIT(7)              /* Snoop Control */
#define VTD_ECAP_IRO GENMASK(17, 8)     /* IOTLB Register Offset / 16 */
#define VTD_ECAP_NEST BIT(26)
#define VTD_ECAP_PRS BIT(29)
#define VTD_ECAP_SRS BIT(31)
#define VTD_ECAP_PSS GENMASK(39, 35)    /* PASID Size Supported - 1 */
#define VTD_ECAP_PASID BIT(40)
#define VTD_ECAP_SMTS BIT(43)           /* Scalable Mode Translation Support */
#define VTD_ECAP_SLADS BIT(45)
#define VTD_ECAP_SLTS BIT(46)           /* Second-stage Translation Support */
#define VTD_ECAP_FLTS BIT(47)           /* First-stage Translation Support */
#define VTD_ECAP_SMPWC BIT(48)          /* Scalable-Mode Page-walk Coherency */

/* GCMD_REG / GSTS_REG (11.4.4, 11.4.5): each command bit has its status bit at the same place */
#define VTD_GCMD_TE BIT(31)             /* Translation Enable / TES */
#define VTD_GCMD_SRTP BIT(30)           /* Set Root Table Pointer / RTPS */
#define VTD_GCMD_SFL BIT(29)
#define VTD_GCMD_EAFL BIT(28)
#define VTD_GCMD_WBF BIT(27)            /* Write Buffer Flush / WBFS */
#define VTD_GCMD_QIE BIT(26)            /* Queued Invalidation Enable / QIES */
#define VTD_GCMD_IRE BIT(25)            /* Interrupt Remapping Enable / IRES */
#define VTD_GCMD_SIRTP BIT(24)          /* Set Interrupt Remap Table Pointer / IRTPS */
#define VTD_GCMD_CFI BIT(23)            /* Compatibility Format Interrupt / CFIS */
/* GSTS bits that are one-shot commands, never written back into GCMD */
#define VTD_GSTS_ONESHOT (VTD_GCMD_SRTP | VTD_GCMD_SFL | VTD_GCMD_WBF | VTD_GCMD_SIRTP)

/* RTADDR_REG (11.4.6) */
#define VTD_RTADDR_RTA GENMASK(63, 12)
#define VTD_RTADDR_TTM GENMASK(11, 10)  /* Translation Table Mode */
#define VTD_TTM_LEGACY 0
#define VTD_TTM_SCALABLE 1

/* CCMD_REG (11.4.7) */
#define VTD_CCMD_ICC BIT(63)            /* Invalidate Context-Cache (busy) */
#define VTD_CCMD_CIRG GENMASK(62, 61)   /* request granularity: 1 global, 2 domain, 3 device */
#define VTD_CCMD_CAIG GENMASK(60, 59)
#define VTD_CCMD_FM GENMASK(33, 32)
#define VTD_CCMD_SID GENMASK(31, 16)
#define VTD_CCMD_DID GENMASK(15, 0)
#define VTD_GRAN_GLOBAL 1
#define VTD_GRAN_DOMAIN 2
#define VTD_GRAN_DEVICE 3               /* CCMD device / IOTLB page-selective */

/* IOTLB_REG and IVA_REG (11.4.8) */
#define VTD_IOTLB_IVT BIT(63)           /* Invalidate IOTLB (busy) */
#define VTD_IOTLB_IIRG GENMASK(61, 60)  /* 1 global, 2 domain, 3 page */
#define VTD_IOTLB_IAIG GENMASK(58, 57)
#define VTD_IOTLB_DR BIT(49)
#define VTD_IOTLB_DW BIT(48)
#define VTD_IOTLB_DID GENMASK(47, 32)
#define VTD_IVA_ADDR GENMASK(63, 12)
#define VTD_IVA_IH BIT(6)               /* Invalidation Hint: only leaves changed */
#define VTD_IVA_AM GENMASK(5, 0)        /* Address Mask: 2^AM pages */

/* FSTS_REG (11.4.9.1) */
#define VTD_FSTS_PFO BIT(0)             /* Primary Fault Overflow (RW1C) */
#define VTD_FSTS_PPF BIT(1)             /* Primary Pending Fault (RO) */
#define VTD_FSTS_AFO BIT(2)
#define VTD_FSTS_APF BIT(3)
#define VTD_FSTS_IQE BIT(4)             /* Invalidation Queue Error (RW1C) */
#define VTD_FSTS_ICE BIT(5)             /* Invalidation Completion Error (RW1C) */
#define VTD_FSTS_ITE BIT(6)             /* Invalidation Time-out Error (RW1C) */
#define VTD_FSTS_FRI GENMASK(15, 8)     /* Fault Record Index */
#define VTD_FSTS_RW1C (VTD_FSTS_PFO | VTD_FSTS_AFO | VTD_FSTS_APF | VTD_FSTS_IQE | \
                       VTD_FSTS_ICE | VTD_FSTS_ITE)

/* FECTL_REG (11.4.9.2) */
#define VTD_FECTL_IM BIT(31)            /* Interrupt Mask */
#define VTD_FECTL_IP BIT(30)            /* Interrupt Pending */

/* IQA_REG, IQH/IQT, ICS, IQERCD (11.4.9) */
#define VTD_IQA_IQA GENMASK(63, 12)
#define VTD_IQA_DW BIT(11)              /* Descriptor Width: 256-bit */
#define VTD_IQA_QS GENMASK(2, 0)        /* Queue Size: 2^QS 4 KiB pages */
#define VTD_IQ_QT GENMASK(18, 4)        /* IQH.QH / IQT.QT: index of a 128-bit slot */
#define VTD_ICS_IWC BIT(0)
#define VTD_IQERCD_ICESID GENMASK(63, 48)
#define VTD_IQERCD_ITESID GENMASK(47, 32)
#define VTD_IQERCD_IQEI GENMASK(3, 0)   /* Invalidation Queue Error Info */

/* IRTA_REG (11.4.10) */
#define VTD_IRTA_IRTA GENMASK(63, 12)
#define VTD_IRTA_EIME BIT(11)           /* Extended Interrupt Mode Enable: x2APIC IDs */
#define VTD_IRTA_S GENMASK(3, 0)        /* table size: 2^(S+1) entries */

/* Fault Recording Register (11.4.14): two 64-bit halves */
#define VTD_FRCD_LO_FI GENMASK(63, 12)  /* Fault Info: page address of the request */
#define VTD_FRCD_HI_SID GENMASK(15, 0)  /* Source Identifier (bits 79:64) */
#define VTD_FRCD_HI_PP BIT(31)          /* PASID Present (bit 95) */
#define VTD_FRCD_HI_FR GENMASK(39, 32)  /* Fault Reason (bits 103:96) */
#define VTD_FRCD_HI_PV GENMASK(59, 40)  /* PASID Value (bits 123:104) */
#define VTD_FRCD_HI_AT GENMASK(61, 60)  /* Address Type */
#define VTD_FRCD_HI_T1 BIT(62)          /* Type: 0 write, 1 read (T2 = 0) */
#define VTD_FRCD_HI_F BIT(63)           /* Fault (RW1C) */

/* ---- Root and context entries (9.1-9.4) ---- */
struct vtd_root_entry {
    uint64_t lo, hi;
};
_Static_assert(sizeof(struct vtd_root_entry) == 16, "root entry");
#define VTD_RE_P BIT(0)                 /* legacy: Present; scalable: LP (devfn 0-127) */
#define VTD_RE_CTP GENMASK(63, 12)      /* legacy CTP; scalable LCTP (lo) / UCTP (hi) */
#define VTD_RE_UP BIT(0)                /* scalable hi: UP (devfn 128-255) */

struct vtd_root_table {
    struct vtd_root_entry e[256];
};
_Static_assert(sizeof(struct vtd_root_table) == 4096, "root table");

/* Legacy context entry (9.3) */
struct vtd_context_entry {
    uint64_t lo, hi;
};
_Static_assert(sizeof(struct vtd_context_entry) == 16, "context entry");
#define VTD_CE_P BIT(0)
#define VTD_CE_FPD BIT(1)               /* Fault Processing Disable */
#define VTD_CE_TT GENMASK(3, 2)         /* Translation Type */
#define VTD_TT_SLT 0                    /* untranslated requests through second-level tables */
#define VTD_TT_SLT_DEVTLB 1             /* ... and translation requests (ATS) */
#define VTD_TT_PT 2                     /* pass-through */
#define VTD_CE_SLPTPTR GENMASK(63, 12)
#define VTD_CE_HI_AW GENMASK(2, 0)      /* Address Width: 1 = 39-bit, 2 = 48-bit, 3 = 57-bit */
#define VTD_CE_HI_DID GENMASK(23, 8)    /* Domain Identifier */

struct vtd_context_table {
    struct vtd_context_entry e[256];
};
_Static_assert(sizeof(struct vtd_context_table) == 4096, "context table");

/* Scalable-mode context entry (9.4): 256 bits, a table covers 128 devfns */
struct vtd_sm_context_entry {
    uint64_t w[4];
};
_Static_assert(sizeof(struct vtd_sm_context_entry) == 32, "scalable context entry");
#define VTD_SMCE_P BIT(0)
#define VTD_SMCE_FPD BIT(1)
#define VTD_SMCE_DTE BIT(2)             /* Device-TLB Enable */
#define VTD_SMCE_PASIDE BIT(3)
#define VTD_SMCE_PRE BIT(4)             /* Page Request Enable */
#define VTD_SMCE_PDTS GENMASK(11, 9)    /* PASID Directory Size: 2^(PDTS + 7) entries */
#define VTD_SMCE_PASIDDIRPTR GENMASK(63, 12)
#define VTD_SMCE_W1_RID_PASID GENMASK(19, 0)
#define VTD_SMCE_W1_RID_PRIV BIT(20)

struct vtd_sm_context_table {
    struct vtd_sm_context_entry e[128];
};
_Static_assert(sizeof(struct vtd_sm_context_table) == 4096, "scalable context table");

/* PASID directory entry (9.5) and PASID table entry (9.6) */
struct vtd_pasid_dir_entry {
    uint64_t w;
};
_Static_assert(sizeof(struct vtd_pasid_dir_entry) == 8, "PASID directory entry");
#define VTD_PDE_P BIT(0)
#define VTD_PDE_FPD BIT(1)
#define VTD_PDE_SMPTBLPTR GENMASK(63, 12)
#define VTD_PASID_DIR_SHIFT 6           /* PASID[19:6] indexes the directory */
#define VTD_PASID_TABLE_MASK GENMASK(5, 0)

struct vtd_pasid_dir {
    struct vtd_pasid_dir_entry e[512];
};
_Static_assert(sizeof(struct vtd_pasid_dir) == 4096, "PASID directory page");

struct vtd_pasid_entry {
    uint64_t w[8];
};
_Static_assert(sizeof(struct vtd_pasid_entry) == 64, "PASID entry");
/* word 0 */
#define VTD_PE0_P BIT(0)
#define VTD_PE0_FPD BIT(1)
#define VTD_PE0_AW GENMASK(4, 2)        /* second-stage Address Width (as context AW) */
#define VTD_PE0_PGTT GENMASK(8, 6)      /* PASID Granular Translation Type */
#define VTD_PGTT_FL 1                   /* first-stage only */
#define VTD_PGTT_SL 2                   /* second-stage only */
#define VTD_PGTT_NESTED 3
#define VTD_PGTT_PT 4                   /* pass-through */
#define VTD_PE0_SSADE BIT(9)            /* Second Stage A/D Enable */
#define VTD_PE0_SSPTPTR GENMASK(63, 12)
/* word 1 */
#define VTD_PE1_DID GENMASK(15, 0)
#define VTD_PE1_PWSNP BIT(23)           /* Page-Walk Snoop */
#define VTD_PE1_PGSNP BIT(24)           /* Page Snoop */
/* word 2 */
#define VTD_PE2_SRE BIT(0)              /* Supervisor Requests Enable */
#define VTD_PE2_FLPM GENMASK(3, 2)      /* First Level Paging Mode: 0 4-level, 1 5-level */
#define VTD_PE2_WPE BIT(4)
#define VTD_PE2_NXE BIT(5)
#define VTD_PE2_FLPTPTR GENMASK(63, 12)

struct vtd_pasid_table {
    struct vtd_pasid_entry e[64];
};
_Static_assert(sizeof(struct vtd_pasid_table) == 4096, "PASID table");

/* ---- Invalidation descriptors (6.5.2): 128-bit, or 256-bit when IQA.DW (upper half zero) ---- */
struct vtd_inv_desc {
    uint64_t w[4];
};
_Static_assert(sizeof(struct vtd_inv_desc) == 32, "invalidation descriptor");
#define VTD_DESC_TYPE_LO GENMASK(3, 0)
#define VTD_DESC_TYPE_HI GENMASK(11, 9)
#define VTD_DESC_CC 0x1                 /* Context-cache Invalidate */
#define VTD_DESC_IOTLB 0x2
#define VTD_DESC_DEVTLB 0x3             /* Device-TLB Invalidate */
#define VTD_DESC_IEC 0x4                /* Interrupt Entry Cache Invalidate */
#define VTD_DESC_WAIT 0x5               /* Invalidation Wait */
#define VTD_DESC_PIOTLB 0x6             /* PASID-based IOTLB Invalidate */
#define VTD_DESC_PC 0x7                 /* PASID-cache Invalidate */
#define VTD_DESC_PDEVTLB 0x8            /* PASID-based Device-TLB Invalidate */
/* context-cache: word 0 */
#define VTD_CC_G GENMASK(5, 4)          /* 1 global, 2 domain, 3 device */
#define VTD_CC_DID GENMASK(31, 16)
#define VTD_CC_SID GENMASK(47, 32)
#define VTD_CC_FM GENMASK(49, 48)
/* IOTLB: word 0 then word 1 */
#define VTD_IOTLBD_G GENMASK(5, 4)      /* 1 global, 2 domain, 3 page */
#define VTD_IOTLBD_DW BIT(6)
#define VTD_IOTLBD_DR BIT(7)
#define VTD_IOTLBD_DID GENMASK(31, 16)
#define VTD_IOTLB1_AM GENMASK(5, 0)
#define VTD_IOTLB1_IH BIT(6)
#define VTD_IOTLB1_ADDR GENMASK(63, 12)
/* device-TLB */
#define VTD_DEVTLB_PFSID_LO GENMASK(15, 12)
#define VTD_DEVTLB_MIP GENMASK(20, 16)  /* Max Invs Pending */
#define VTD_DEVTLB_SID GENMASK(47, 32)
#define VTD_DEVTLB_PFSID_HI GENMASK(63, 52)
#define VTD_DEVTLB1_S BIT(0)            /* Size: ADDR encodes a range */
#define VTD_DEVTLB1_ADDR GENMASK(63, 12)
/* interrupt entry cache */
#define VTD_IEC_G BIT(4)                /* 0 global, 1 index-selective */
#define VTD_IEC_IM GENMASK(31, 27)      /* Index Mask */
#define VTD_IEC_IIDX GENMASK(47, 32)    /* Interrupt Index */
/* invalidation wait */
#define VTD_WAIT_IF BIT(4)
#define VTD_WAIT_SW BIT(5)              /* Status Write */
#define VTD_WAIT_FN BIT(6)              /* Fence */
#define VTD_WAIT_PD BIT(7)              /* Page-request Drain */
#define VTD_WAIT_SDATA GENMASK(63, 32)
#define VTD_WAIT1_SADDR GENMASK(63, 2)
/* PASID-based IOTLB */
#define VTD_PIOTLB_G GENMASK(5, 4)      /* granularity (6.5.2.4) */
#define VTD_PIOTLB_G_PASID 2            /* all non-global entries of the PASID */
#define VTD_PIOTLB_G_PAGE 3             /* page-selective-within-PASID */
#define VTD_PIOTLB_DID GENMASK(31, 16)
#define VTD_PIOTLB_PASID GENMASK(51, 32)
#define VTD_PIOTLB1_AM GENMASK(5, 0)
#define VTD_PIOTLB1_IH BIT(6)
#define VTD_PIOTLB1_ADDR GENMASK(63, 12)
/* PASID cache */
#define VTD_PC_G GENMASK(5, 4)          /* 0 domain, 1 PASID, 3 global */
#define VTD_PC_DID GENMASK(31, 16)
#define VTD_PC_PASID GENMASK(51, 32)

static inline uint64_t vtd_desc_type(unsigned type)
{
    return FIELD_PREP(VTD_DESC_TYPE_LO, type & 0xf) | FIELD_PREP(VTD_DESC_TYPE_HI, type >> 4);
}

/* ---- Interrupt remapping (9.9, 5.1.4) ---- */
struct vtd_irte {
    uint64_t lo, hi;
};
_Static_assert(sizeof(struct vtd_irte) == 16, "IRTE");
#define VTD_IRTE_P BIT(0)
#define VTD_IRTE_FPD BIT(1)
#define VTD_IRTE_DM BIT(2)              /* Destination Mode: logical */
#define VTD_IRTE_RH BIT(3)
#define VTD_IRTE_TM BIT(4)              /* Trigger Mode: level */
#define VTD_IRTE_DLM GENMASK(7, 5)      /* Delivery Mode */
#define VTD_IRTE_IM BIT(15)             /* IRTE Mode: posted */
#define VTD_IRTE_V GENMASK(23, 16)      /* Vector */
#define VTD_IRTE_DST GENMASK(63, 32)    /* Destination ID: x2APIC id, or xAPIC id in 47:40 */
#define VTD_IRTE_HI_SID GENMASK(15, 0)
#define VTD_IRTE_HI_SQ GENMASK(17, 16)  /* Source-id Qualifier */
#define VTD_IRTE_HI_SVT GENMASK(19, 18) /* Source Validation Type: 1 = verify SID */
#define VTD_SVT_VERIFY_SID 1

struct vtd_irt_page {
    struct vtd_irte e[256];
};
_Static_assert(sizeof(struct vtd_irt_page) == 4096, "IRT page");

/* Remappable-format MSI address (5.1.5.2) */
#define VTD_MSI_ADDR_BASE 0xfee00000ULL
#define VTD_MSI_ADDR_HANDLE_LO GENMASK(19, 5)   /* HANDLE[14:0] */
#define VTD_MSI_ADDR_IF BIT(4)                  /* Interrupt Format: remappable */
#define VTD_MSI_ADDR_SHV BIT(3)                 /* SubHandle Valid */
#define VTD_MSI_ADDR_HANDLE_HI BIT(2)           /* HANDLE[15] */

/* The interrupt address range every unit reserves (3.15) */
#define VTD_INTR_ADDR_FIRST 0xfee00000ULL
#define VTD_INTR_ADDR_LAST 0xfeefffffULL

#endif
