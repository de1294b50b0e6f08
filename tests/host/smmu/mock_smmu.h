/* A small model of an SMMUv3 for the driver's host tests: its register file, the command queue
 * (consumed when PROD is written: every command checked, refused ones stop the queue with
 * CMDQ_CONS.ERR and GERROR.CMDQ_ERR as 7.1 says), a configuration cache and a TLB that only the
 * right CFGI/TLBI commands empty, the stream table and table walks (4 KiB granule) written here
 * from the specification, and the event queue with its overflow flag. DMA through the model
 * copies real bytes to and from the translated addresses, or records the fault the STE/CD asks
 * to be recorded. Violations of the programming rules are counted and printed. */
#ifndef MOAT_TESTS_HOST_SMMU_MOCK_SMMU_H
#define MOAT_TESTS_HOST_SMMU_MOCK_SMMU_H

#include "iommu/arm-smmu-v3/smmu.h"

#define MOCK_SMMU_LOG 512
#define MOCK_SMMU_TLB 64
#define MOCK_SMMU_CFG 16

struct mock_smmu_tlb {
    bool valid;
    bool s2;
    uint16_t tag;               /* ASID (stage 1) or VMID (stage 2) */
    uint64_t page, pa;          /* 4 KiB frames */
    bool readable, writable;
};

struct mock_smmu {
    uint32_t idr[6], iidr, aidr;
    uint32_t cr0, cr0ack, cr1, cr2, gbpa, irq_ctrl, irq_ctrlack, gerror, gerrorn;
    uint64_t strtab_base, cmdq_base, evtq_base, gerror_irq_cfg0, evtq_irq_cfg0;
    uint32_t strtab_cfg, cmdq_prod, cmdq_cons, evtq_prod, evtq_cons;
    /* behaviour the tests switch on */
    bool stall;                 /* consume no command (a hung unit) */
    bool cr0_stuck;             /* CR0ACK never follows CR0 */
    int refuse_op;              /* refuse the next command with this opcode (0: none) */
    /* what happened */
    unsigned violations;
    unsigned nr_cmds, nr_syncs, nr_refused;
    unsigned op_count[256];
    struct smmu_cmd log[MOCK_SMMU_LOG];
    unsigned nr_log;
    unsigned nr_events, nr_dropped;
    /* caches */
    struct { bool valid; uint32_t sid; struct smmu_ste ste; struct smmu_cd cd; } cfg[MOCK_SMMU_CFG];
    struct mock_smmu_tlb tlb[MOCK_SMMU_TLB];
    unsigned tlb_next, cfg_next;
};

extern const struct smmu_io mock_smmu_io;

/* Resets m to QEMU 10's virt SMMUv3: both stages, AArch64 tables, 2-level stream tables of
 * 16-bit StreamIDs, range invalidation, 4K/16K/64K granules, 44-bit output, coherent. */
void mock_smmu_init(struct mock_smmu *m);
/* A page arena for the page allocator and heap (each test may call it again). */
void mock_smmu_memory(void);
/* All of it for one test: fresh memory, m as QEMU's unit, u (named smmu0) reaching m, with
 * 20 ms waits. The test may change m's ID registers before smmu_unit_init(u). */
void mock_smmu_prepare(struct mock_smmu *m, struct smmu_unit *u);
/* The STE the unit would fetch for sid: 0, or -1 when the table has none (beyond it, invalid
 * level-1 descriptor). */
int mock_smmu_read_ste(struct mock_smmu *m, uint32_t sid, struct smmu_ste *out);
/* A DMA of len bytes at iova by sid (within one 4 KiB page): copies to/from buf and returns 0,
 * or returns the event ID of the fault (recorded in the event queue when the entry asks for
 * it), or -1 when the transaction was aborted without a record. */
int mock_smmu_dma(struct mock_smmu *m, uint32_t sid, uint64_t iova, void *buf, size_t len,
                  bool write);
/* Appends a record to the event queue (dropping it and toggling OVFLG when full). */
void mock_smmu_event(struct mock_smmu *m, const struct smmu_event *e);
/* For nesting tests, what a program would write in its own memory: a CD at cd (ASID asid,
 * 39-bit input, 4 KiB granule, faults recorded, TTB0 = l1_ipa) and the table descriptors on the
 * path of IOVA MOCK_SMMU_NEST_IOVA (l1[0] -> l2_ipa, l2[0x80] -> l3_ipa); l3 is left to the
 * test (MOCK_SMMU_S1_LEAF entries). */
#define MOCK_SMMU_NEST_IOVA 0x10000000ULL
#define MOCK_SMMU_S1_LEAF(ipa) ((ipa) | 3 | BIT(10))     /* page, read-write, AF */
void mock_smmu_s1_program(void *cd, void *l1, void *l2, uint64_t l1_ipa, uint64_t l2_ipa,
                          uint64_t l3_ipa, uint16_t asid);
/* How many logged commands had opcode op since the log was last cleared. */
unsigned mock_smmu_count(const struct mock_smmu *m, unsigned op);
void mock_smmu_clear_log(struct mock_smmu *m);

#endif
