/* NVMe over PCIe, as the NVM Express Base Specification 2.0 names it: controller registers
 * (3.1.4), submission and completion queue entries (4.2, 4.6), the admin commands this driver
 * issues (5), Identify data (5.17.2) and the NVM command set's read/write/flush. */
#ifndef MOAT_DRIVERS_NVME_NVME_HW_H
#define MOAT_DRIVERS_NVME_NVME_HW_H

#include "lib/compiler.h"

#define NVME_CLASS 0x010802             /* mass storage, NVM, NVMe I/O controller */

/* Controller registers (offsets in BAR0). */
#define NVME_REG_CAP 0x00               /* 64: Controller Capabilities */
#define NVME_REG_VS 0x08                /* 32: Version */
#define NVME_REG_INTMS 0x0c
#define NVME_REG_INTMC 0x10
#define NVME_REG_CC 0x14                /* 32: Controller Configuration */
#define NVME_REG_CSTS 0x1c              /* 32: Controller Status */
#define NVME_REG_AQA 0x24               /* 32: Admin Queue Attributes */
#define NVME_REG_ASQ 0x28               /* 64: Admin Submission Queue Base Address */
#define NVME_REG_ACQ 0x30               /* 64: Admin Completion Queue Base Address */
#define NVME_REG_DBS 0x1000             /* doorbells, stride 4 << CAP.DSTRD */

#define NVME_CAP_MQES GENMASK(15, 0)    /* Maximum Queue Entries Supported (0's based) */
#define NVME_CAP_CQR BIT(16)            /* Contiguous Queues Required */
#define NVME_CAP_TO GENMASK(31, 24)     /* Timeout, 500 ms units */
#define NVME_CAP_DSTRD GENMASK(35, 32)  /* Doorbell Stride: 2^(2 + DSTRD) bytes */
#define NVME_CAP_CSS GENMASK(44, 37)    /* Command Sets Supported; bit 0: NVM */
#define NVME_CAP_MPSMIN GENMASK(51, 48) /* Memory Page Size Minimum: 2^(12 + MPSMIN) */
#define NVME_CAP_MPSMAX GENMASK(55, 52)

#define NVME_CC_EN BIT(0)
#define NVME_CC_CSS GENMASK(6, 4)       /* 0: NVM command set */
#define NVME_CC_MPS GENMASK(10, 7)      /* 2^(12 + MPS) */
#define NVME_CC_AMS GENMASK(13, 11)
#define NVME_CC_SHN GENMASK(15, 14)
#define NVME_CC_IOSQES GENMASK(19, 16)  /* log2 of the I/O SQ entry size */
#define NVME_CC_IOCQES GENMASK(23, 20)

#define NVME_CSTS_RDY BIT(0)
#define NVME_CSTS_CFS BIT(1)            /* Controller Fatal Status */
#define NVME_CSTS_SHST GENMASK(3, 2)

#define NVME_AQA_ASQS GENMASK(11, 0)    /* 0's based */
#define NVME_AQA_ACQS GENMASK(27, 16)

/* Submission queue entry (4.2). */
struct nvme_sqe {
    uint32_t cdw0;              /* OPC 7:0, FUSE 9:8, PSDT 15:14, CID 31:16 */
    uint32_t nsid;
    uint32_t cdw2, cdw3;
    uint64_t mptr;
    uint64_t prp1;              /* DPTR: PRP entry 1 */
    uint64_t prp2;              /* DPTR: PRP entry 2 or a PRP list pointer */
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "nvme_sqe is 64 bytes");

#define NVME_SQE_OPC GENMASK(7, 0)
#define NVME_SQE_CID GENMASK(31, 16)
#define NVME_SQES_LOG2 6

/* Completion queue entry (4.6). */
struct nvme_cqe {
    uint32_t dw0;               /* command specific */
    uint32_t dw1;
    uint32_t dw2;               /* SQHD 15:0, SQID 31:16 */
    uint32_t dw3;               /* CID 15:0, P 16, Status Field 31:17 */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "nvme_cqe is 16 bytes");

#define NVME_CQE_SQHD GENMASK(15, 0)
#define NVME_CQE_SQID GENMASK(31, 16)
#define NVME_CQE_CID GENMASK(15, 0)
#define NVME_CQE_P BIT(16)
#define NVME_CQE_SF GENMASK(31, 17)
#define NVME_CQES_LOG2 4

/* Status Field (4.6.1): SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14. */
#define NVME_SF_SC GENMASK(7, 0)
#define NVME_SF_SCT GENMASK(10, 8)
#define NVME_SCT_GENERIC 0
#define NVME_SC_SUCCESS 0x00
#define NVME_SC_INVALID_OPCODE 0x01
#define NVME_SC_INVALID_FIELD 0x02
#define NVME_SC_LBA_RANGE 0x80         /* LBA Out of Range */

/* Admin command set opcodes (5). */
#define NVME_ADMIN_DELETE_SQ 0x00
#define NVME_ADMIN_CREATE_SQ 0x01
#define NVME_ADMIN_DELETE_CQ 0x04
#define NVME_ADMIN_CREATE_CQ 0x05
#define NVME_ADMIN_IDENTIFY 0x06
#define NVME_ADMIN_SET_FEATURES 0x09

/* Create I/O CQ/SQ: CDW10 QSIZE 31:16 (0's based), QID 15:0; CDW11 as below. */
#define NVME_CREATE_QSIZE GENMASK(31, 16)
#define NVME_CREATE_QID GENMASK(15, 0)
#define NVME_CREATE_CQ_PC BIT(0)        /* Physically Contiguous */
#define NVME_CREATE_CQ_IEN BIT(1)       /* Interrupts Enabled */
#define NVME_CREATE_SQ_PC BIT(0)
#define NVME_CREATE_SQ_CQID GENMASK(31, 16)

/* Identify: CDW10 CNS 7:0. */
#define NVME_CNS_NS 0x00
#define NVME_CNS_CTRL 0x01
#define NVME_CNS_NS_ACTIVE_LIST 0x02
#define NVME_IDENTIFY_SIZE 4096

/* Identify Controller data structure (offsets). */
#define NVME_ID_CTRL_VID 0              /* 2 bytes */
#define NVME_ID_CTRL_SN 4               /* 20 bytes, ASCII */
#define NVME_ID_CTRL_MN 24              /* 40 bytes, ASCII */
#define NVME_ID_CTRL_MDTS 77            /* Maximum Data Transfer Size: 2^n min pages, 0: none */
#define NVME_ID_CTRL_SQES 512           /* 3:0 required (minimum) log2 size */
#define NVME_ID_CTRL_CQES 513
#define NVME_ID_CTRL_NN 516             /* 4 bytes: Number of Namespaces */
#define NVME_ID_CTRL_VWC 525            /* bit 0: volatile write cache present */

/* Identify Namespace data structure (offsets). */
#define NVME_ID_NS_NSZE 0               /* 8 bytes: size in logical blocks */
#define NVME_ID_NS_NLBAF 25             /* number of LBA formats (0's based) */
#define NVME_ID_NS_FLBAS 26             /* 3:0 format index (6:5 its upper bits) */
#define NVME_ID_NS_LBAF 128             /* 4 bytes each: MS 15:0, LBADS 23:16, RP 25:24 */
#define NVME_LBAF_LBADS GENMASK(23, 16)

/* Set Features, Number of Queues (FID 07h): CDW11 / result DW0: NSQR 15:0, NCQR 31:16. */
#define NVME_FEAT_NUM_QUEUES 0x07

/* NVM command set opcodes; CDW10/11 SLBA, CDW12 NLB 15:0 (0's based). */
#define NVME_CMD_FLUSH 0x00
#define NVME_CMD_WRITE 0x01
#define NVME_CMD_READ 0x02

#define NVME_PAGE 4096ULL
#define NVME_PRPS_PER_PAGE (NVME_PAGE / 8)

#endif
