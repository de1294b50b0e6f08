/* Arm SMMUv3 hardware layouts, named as the Arm System Memory Management Unit Architecture
 * Specification, SMMU architecture version 3 (IHI 0070) names them:
 *   registers (6.3), the Stream Table Entry (5.2), the Context Descriptor (5.4), the Level 1
 *   Stream Table Descriptor (5.1), commands (4.1-4.7), event records (7.3), queue pointers
 *   (3.5.1) and global errors (7.5).
 * Fields are hi:lo masks; entries, commands and events are structs of raw uint64_t words with
 * small accessors. Only what moat programs or decodes is named. */
#ifndef MOAT_IOMMU_ARM_SMMU_V3_SMMU_HW_H
#define MOAT_IOMMU_ARM_SMMU_V3_SMMU_HW_H

#include "lib/compiler.h"

/* ---- registers (6.3): page 0, and page 1 at +64 KiB for the queue pointers software reads
 * from the SMMU's side ---- */
#define SMMU_IDR0 0x00
#define SMMU_IDR1 0x04
#define SMMU_IDR2 0x08
#define SMMU_IDR3 0x0c
#define SMMU_IDR4 0x10
#define SMMU_IDR5 0x14
#define SMMU_IIDR 0x18
#define SMMU_AIDR 0x1c
#define SMMU_CR0 0x20
#define SMMU_CR0ACK 0x24
#define SMMU_CR1 0x28
#define SMMU_CR2 0x2c
#define SMMU_STATUSR 0x40
#define SMMU_GBPA 0x44
#define SMMU_IRQ_CTRL 0x50
#define SMMU_IRQ_CTRLACK 0x54
#define SMMU_GERROR 0x60
#define SMMU_GERRORN 0x64
#define SMMU_GERROR_IRQ_CFG0 0x68          /* 64-bit: MSI address (wired: 0) */
#define SMMU_STRTAB_BASE 0x80              /* 64-bit */
#define SMMU_STRTAB_BASE_CFG 0x88
#define SMMU_CMDQ_BASE 0x90                /* 64-bit */
#define SMMU_CMDQ_PROD 0x98
#define SMMU_CMDQ_CONS 0x9c
#define SMMU_EVENTQ_BASE 0xa0              /* 64-bit */
#define SMMU_EVENTQ_PROD 0x100a8           /* page 1 */
#define SMMU_EVENTQ_CONS 0x100ac           /* page 1 */
#define SMMU_EVENTQ_IRQ_CFG0 0xb0          /* 64-bit: MSI address (wired: 0) */
#define SMMU_PRIQ_IRQ_CFG0 0xd0
#define SMMU_REG_SIZE 0x20000              /* two 64 KiB pages */

/* SMMU_IDR0 (6.3.1) */
#define IDR0_S2P BIT(0)                    /* stage 2 translation */
#define IDR0_S1P BIT(1)                    /* stage 1 translation */
#define IDR0_TTF GENMASK(3, 2)             /* translation table formats */
#define IDR0_TTF_AARCH64 2                 /*   AArch64 (2) or both (3) */
#define IDR0_COHACC BIT(4)                 /* coherent access to tables and queues */
#define IDR0_BTM BIT(5)
#define IDR0_HTTU GENMASK(7, 6)            /* hardware access flag / dirty update */
#define IDR0_ATS BIT(10)
#define IDR0_ASID16 BIT(12)
#define IDR0_MSI BIT(13)
#define IDR0_PRI BIT(16)
#define IDR0_VMID16 BIT(18)
#define IDR0_CD2L BIT(19)
#define IDR0_TTENDIAN GENMASK(22, 21)      /* 0 mixed, 2 little, 3 big */
#define IDR0_TTENDIAN_BE 3
#define IDR0_STALL_MODEL GENMASK(25, 24)   /* 2: stall forced */
#define IDR0_STALL_FORCE 2
#define IDR0_TERM_MODEL BIT(26)
#define IDR0_ST_LEVEL GENMASK(28, 27)      /* 0 linear only, 1 2-level too */

/* SMMU_IDR1 (6.3.2) */
#define IDR1_SIDSIZE GENMASK(5, 0)         /* StreamID bits */
#define IDR1_SSIDSIZE GENMASK(10, 6)
#define IDR1_PRIQS GENMASK(15, 11)
#define IDR1_EVENTQS GENMASK(20, 16)       /* log2 of the largest event queue */
#define IDR1_CMDQS GENMASK(25, 21)         /* log2 of the largest command queue */
#define IDR1_REL BIT(28)                   /* base addresses relative to the unit (unsupported) */
#define IDR1_QUEUES_PRESET BIT(29)         /* fixed queue bases (unsupported) */
#define IDR1_TABLES_PRESET BIT(30)         /* fixed stream table base (unsupported) */

/* SMMU_IDR3 (6.3.4) */
#define IDR3_RIL BIT(10)                   /* range invalidation */

/* SMMU_IDR5 (6.3.6) */
#define IDR5_OAS GENMASK(2, 0)             /* output address size */
#define IDR5_GRAN4K BIT(4)
#define IDR5_GRAN16K BIT(5)
#define IDR5_GRAN64K BIT(6)

/* The 3-bit physical address size encodings of IDR5.OAS, CD.IPS and STE.S2PS. */
static inline unsigned smmu_pa_bits(unsigned enc)
{
    static const uint8_t bits[8] = { 32, 36, 40, 42, 44, 48, 52, 0 };
    return bits[enc & 7];
}

static inline unsigned smmu_pa_enc(unsigned bits)
{
    for (unsigned e = 0; e < 7; e++)
        if (smmu_pa_bits(e) >= bits)
            return e;
    return 6;
}

/* SMMU_CR0 / CR0ACK (6.3.9) */
#define CR0_SMMUEN BIT(0)
#define CR0_PRIQEN BIT(1)
#define CR0_EVENTQEN BIT(2)
#define CR0_CMDQEN BIT(3)

/* SMMU_CR1 (6.3.11): cacheability and shareability of table and queue accesses */
#define CR1_QUEUE_IC GENMASK(1, 0)
#define CR1_QUEUE_OC GENMASK(3, 2)
#define CR1_QUEUE_SH GENMASK(5, 4)
#define CR1_TABLE_IC GENMASK(7, 6)
#define CR1_TABLE_OC GENMASK(9, 8)
#define CR1_TABLE_SH GENMASK(11, 10)
#define CR1_CACHE_WB 1                     /* write-back cacheable */
#define CR1_SH_IS 3                        /* inner shareable */

/* SMMU_CR2 (6.3.12) */
#define CR2_RECINVSID BIT(1)               /* record C_BAD_STREAMID */
#define CR2_PTM BIT(2)                     /* private TLB maintenance */

/* SMMU_GBPA (6.3.14): what happens to traffic while SMMUEN is 0 */
#define GBPA_UPDATE BIT(31)
#define GBPA_ABORT BIT(20)

/* SMMU_IRQ_CTRL (6.3.21) */
#define IRQ_CTRL_GERROR_IRQEN BIT(0)
#define IRQ_CTRL_PRIQ_IRQEN BIT(1)
#define IRQ_CTRL_EVENTQ_IRQEN BIT(2)

/* SMMU_GERROR / GERRORN (6.3.22, 7.5): an error is active while the two bits differ */
#define GERROR_CMDQ_ERR BIT(0)
#define GERROR_EVENTQ_ABT_ERR BIT(2)
#define GERROR_PRIQ_ABT_ERR BIT(3)
#define GERROR_MSI_CMDQ_ABT_ERR BIT(4)
#define GERROR_MSI_EVENTQ_ABT_ERR BIT(5)
#define GERROR_MSI_PRIQ_ABT_ERR BIT(6)
#define GERROR_MSI_GERROR_ABT_ERR BIT(7)
#define GERROR_SFM_ERR BIT(8)              /* service failure mode: the unit stopped */
#define GERROR_ALL GENMASK(8, 0)

/* SMMU_STRTAB_BASE (6.3.23), SMMU_STRTAB_BASE_CFG (6.3.24) */
#define STRTAB_BASE_RA BIT(62)
#define STRTAB_BASE_ADDR GENMASK(51, 6)
#define STRTAB_BASE_CFG_LOG2SIZE GENMASK(5, 0)
#define STRTAB_BASE_CFG_SPLIT GENMASK(10, 6)
#define STRTAB_BASE_CFG_FMT GENMASK(17, 16)
#define STRTAB_FMT_LINEAR 0
#define STRTAB_FMT_2LVL 1

/* SMMU_CMDQ_BASE / SMMU_EVENTQ_BASE (6.3.25, 6.3.28) */
#define Q_BASE_RWA BIT(62)                 /* read (cmdq) / write (eventq) allocate */
#define Q_BASE_ADDR GENMASK(51, 5)
#define Q_BASE_LOG2SIZE GENMASK(4, 0)

/* Queue PROD/CONS (3.5.1, 6.3.26-27, 6.3.29-30): the index in log2size bits, the wrap bit just
 * above; the queue is full when the indices match and the wrap bits differ. */
#define CMDQ_CONS_ERR GENMASK(30, 24)
#define CMDQ_ERR_NONE 0
#define CMDQ_ERR_ILL 1                     /* CERROR_ILL: illegal command */
#define CMDQ_ERR_ABT 2                     /* CERROR_ABT: abort on the command fetch */
#define CMDQ_ERR_ATC_INV_SYNC 3
#define EVENTQ_PROD_OVFLG BIT(31)          /* toggled by the unit when records were lost */
#define EVENTQ_CONS_OVACKFLG BIT(31)       /* software's copy: overflow acknowledged */

/* ---- Level 1 Stream Table Descriptor (5.1) ---- */
#define L1STD_SPAN GENMASK(4, 0)           /* 0 invalid; else the L2 table has 2^(SPAN-1) STEs */
#define L1STD_L2PTR GENMASK(51, 6)

/* ---- Stream Table Entry (5.2): 64 bytes ---- */
struct smmu_ste {
    uint64_t w[8];
};
_Static_assert(sizeof(struct smmu_ste) == 64, "STE is 64 bytes");
#define SMMU_STE_WORDS 8

/* word 0 */
#define STE0_V BIT(0)
#define STE0_CONFIG GENMASK(3, 1)
#define STE_CFG_ABORT 0                    /* 0b000: every transaction aborted */
#define STE_CFG_BYPASS 4                   /* 0b100: stage 1 and 2 bypassed */
#define STE_CFG_S1 5                       /* 0b101: stage 1 translates, stage 2 bypassed */
#define STE_CFG_S2 6                       /* 0b110: stage 1 bypassed, stage 2 translates */
#define STE_CFG_NESTED 7                   /* 0b111: both stages */
#define STE0_S1FMT GENMASK(5, 4)           /* 0: linear CD table (or a single CD) */
#define STE0_S1CTXPTR GENMASK(51, 6)
#define STE0_S1CDMAX GENMASK(63, 59)       /* 0: one CD, no substreams */
/* word 1 */
#define STE1_S1DSS GENMASK(1, 0)
#define STE1_S1CIR GENMASK(3, 2)           /* CD fetch: inner cacheability */
#define STE1_S1COR GENMASK(5, 4)
#define STE1_S1CSH GENMASK(7, 6)
#define STE1_S1STALLD BIT(27)
#define STE1_EATS GENMASK(29, 28)
#define STE1_STRW GENMASK(31, 30)          /* 0: NS-EL1 translation regime */
#define STE1_SHCFG GENMASK(45, 44)
#define STE_SHCFG_INCOMING 1
/* MEMATTR, MTCFG, ALLOCCFG, SHCFG, NSCFG, PRIVCFG, INSTCFG: the attributes that replace stage
 * 1's when stage 1 is bypassed (bypass and stage-2-only STEs) */
#define STE1_ATTR_OVERRIDES GENMASK(51, 32)
/* word 2 */
#define STE2_S2VMID GENMASK(15, 0)
#define STE2_S2T0SZ GENMASK(37, 32)
#define STE2_S2SL0 GENMASK(39, 38)
#define STE2_S2IR0 GENMASK(41, 40)
#define STE2_S2OR0 GENMASK(43, 42)
#define STE2_S2SH0 GENMASK(45, 44)
#define STE2_S2TG GENMASK(47, 46)          /* 0 4K, 1 64K, 2 16K */
#define STE2_S2PS GENMASK(50, 48)
#define STE2_S2AA64 BIT(51)                /* must be 1: QEMU aborts on 0 */
#define STE2_S2ENDI BIT(52)
#define STE2_S2AFFD BIT(53)                /* access flag faults disabled */
#define STE2_S2PTW BIT(54)
#define STE2_S2S BIT(57)                   /* stall */
#define STE2_S2R BIT(58)                   /* record faults */
/* word 3 */
#define STE3_S2TTB GENMASK(51, 4)

static inline unsigned smmu_ste_config(const struct smmu_ste *e)
{
    return (e->w[0] & STE0_V) ? (unsigned)FIELD_GET(STE0_CONFIG, e->w[0]) : STE_CFG_ABORT;
}

/* ---- Context Descriptor (5.4): 64 bytes ---- */
struct smmu_cd {
    uint64_t w[8];
};
_Static_assert(sizeof(struct smmu_cd) == 64, "CD is 64 bytes");
#define SMMU_CD_WORDS 8

/* word 0: the TCR fields for TTB0, then the CD's own */
#define CD0_T0SZ GENMASK(5, 0)
#define CD0_TG0 GENMASK(7, 6)              /* 0 4K, 1 64K, 2 16K */
#define CD0_IR0 GENMASK(9, 8)
#define CD0_OR0 GENMASK(11, 10)
#define CD0_SH0 GENMASK(13, 12)
#define CD0_EPD0 BIT(14)
#define CD0_ENDI BIT(15)
#define CD0_EPD1 BIT(30)                   /* TTB1 walks disabled */
#define CD0_V BIT(31)
#define CD0_IPS GENMASK(34, 32)
#define CD0_AFFD BIT(35)
#define CD0_TBI0 BIT(38)
#define CD0_AA64 BIT(41)
#define CD0_HD BIT(42)
#define CD0_HA BIT(43)
#define CD0_S BIT(44)                      /* stall */
#define CD0_R BIT(45)                      /* record faults */
#define CD0_A BIT(46)                      /* abort (terminate) faulting transactions */
#define CD0_ASET BIT(47)
#define CD0_ASID GENMASK(63, 48)
/* word 1 */
#define CD1_TTB0 GENMASK(51, 4)
/* word 3 */
#define CD3_MAIR GENMASK(63, 0)

/* The translation granule encodings: CD.TG0 and STE.S2TG share them. */
#define SMMU_TG_4K 0
#define SMMU_TG_64K 1
#define SMMU_TG_16K 2

/* ---- commands (4.1): 16 bytes ---- */
struct smmu_cmd {
    uint64_t w[2];
};
_Static_assert(sizeof(struct smmu_cmd) == 16, "a command is 16 bytes");

#define CMD0_OP GENMASK(7, 0)
#define CMD_PREFETCH_CONFIG 0x01
#define CMD_CFGI_STE 0x03                  /* 4.3.2 */
#define CMD_CFGI_STE_RANGE 0x04            /* 4.3.3; Range 31: CFGI_ALL */
#define CMD_CFGI_CD 0x05                   /* 4.3.4 */
#define CMD_CFGI_CD_ALL 0x06
#define CMD_TLBI_NH_ALL 0x10               /* 4.4.2 */
#define CMD_TLBI_NH_ASID 0x11
#define CMD_TLBI_NH_VA 0x12
#define CMD_TLBI_NH_VAA 0x13
#define CMD_TLBI_EL2_ALL 0x20
#define CMD_TLBI_S12_VMALL 0x28
#define CMD_TLBI_S2_IPA 0x2a
#define CMD_TLBI_NSNH_ALL 0x30
#define CMD_SYNC 0x46                      /* 4.7.3 */

/* CFGI_* */
#define CMD0_SSID GENMASK(31, 12)
#define CMD0_SID GENMASK(63, 32)
#define CMD1_LEAF BIT(0)
#define CMD1_RANGE GENMASK(4, 0)           /* CFGI_STE_RANGE: 2^(Range+1) StreamIDs */
/* TLBI_* (4.4): NUM and SCALE give a range of (NUM + 1) << SCALE granules when TG != 0 */
#define CMD0_NUM GENMASK(16, 12)
#define CMD0_SCALE GENMASK(24, 20)
#define CMD0_VMID GENMASK(47, 32)
#define CMD0_ASID GENMASK(63, 48)
#define CMD1_TTL GENMASK(9, 8)
#define CMD1_TG GENMASK(11, 10)            /* 0: no range; 1 4K, 2 16K, 3 64K */
#define CMD1_VA GENMASK(63, 12)
#define CMD1_IPA GENMASK(51, 12)
#define CMD_RANGE_NUM_MAX 31
#define CMD_RANGE_SCALE_MAX 31
/* CMD_SYNC */
#define CMD0_SYNC_CS GENMASK(13, 12)
#define CMD_SYNC_CS_NONE 0                 /* completion seen as CONS passing the sync */
#define CMD_SYNC_CS_IRQ 1

static inline unsigned smmu_cmd_op(const struct smmu_cmd *c)
{
    return (unsigned)FIELD_GET(CMD0_OP, c->w[0]);
}

/* ---- event records (7.3): 32 bytes ---- */
struct smmu_event {
    uint64_t w[4];
};
_Static_assert(sizeof(struct smmu_event) == 32, "an event record is 32 bytes");

#define EVT0_ID GENMASK(7, 0)
#define EVT0_SSV BIT(11)
#define EVT0_SSID GENMASK(31, 12)
#define EVT0_SID GENMASK(63, 32)
#define EVT1_STAG GENMASK(15, 0)
#define EVT1_STALL BIT(31)
#define EVT1_PNU BIT(32)
#define EVT1_IND BIT(33)
#define EVT1_RNW BIT(35)                   /* 1: read */
#define EVT1_S2 BIT(39)                    /* the fault came from stage 2 */
#define EVT1_CLASS GENMASK(41, 40)         /* 0 CD fetch, 1 table walk, 2 input address */
#define EVT3_IPA GENMASK(51, 3)

#define EVT_F_UUT 0x01
#define EVT_C_BAD_STREAMID 0x02
#define EVT_F_STE_FETCH 0x03
#define EVT_C_BAD_STE 0x04
#define EVT_F_BAD_ATS_TREQ 0x05
#define EVT_F_STREAM_DISABLED 0x06
#define EVT_F_TRANSL_FORBIDDEN 0x07
#define EVT_C_BAD_SUBSTREAMID 0x08
#define EVT_F_CD_FETCH 0x09
#define EVT_C_BAD_CD 0x0a
#define EVT_F_WALK_EABT 0x0b
#define EVT_F_TRANSLATION 0x10
#define EVT_F_ADDR_SIZE 0x11
#define EVT_F_ACCESS 0x12
#define EVT_F_PERMISSION 0x13
#define EVT_F_TLB_CONFLICT 0x20
#define EVT_F_CFG_CONFLICT 0x21
#define EVT_E_PAGE_REQUEST 0x24
#define EVT_F_VMS_FETCH 0x25

#endif
