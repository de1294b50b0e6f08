/* Stage-1 translation settings shared by the early boot tables (boot/arm64/entry.S) and the
 * real ones (paging.c): 4 KiB granule, 48-bit input addresses (four levels, L0..L3), TTBR0
 * only. Macros only: included from assembly too. */
#ifndef MOAT_ARCH_AARCH64_MMU_H
#define MOAT_ARCH_AARCH64_MMU_H

/* MAIR_EL1 attribute indexes: 0 Device-nGnRnE, 1 Device-nGnRE (MMIO), 2 Normal write-back
 * (RAM), 3 Normal non-cacheable. */
#define MAIR_IDX_DEVICE_NGNRNE 0
#define MAIR_IDX_DEVICE 1
#define MAIR_IDX_NORMAL 2
#define MAIR_IDX_NORMAL_NC 3
#define MAIR_VALUE 0x44ff0400

/* TCR_EL1: T0SZ 16, walks inner/outer write-back, inner shareable, 4 KiB granule, TTBR1 walks
 * disabled (EPD1); IPS is filled from ID_AA64MMFR0_EL1.PARange (at most 48 bits). */
#define TCR_T0SZ_48 16
#define TCR_IRGN0_WB (1 << 8)
#define TCR_ORGN0_WB (1 << 10)
#define TCR_SH0_INNER (3 << 12)
#define TCR_EPD1 (1 << 23)
#define TCR_IPS_SHIFT 32
#define TCR_VALUE_NO_IPS (TCR_T0SZ_48 | TCR_IRGN0_WB | TCR_ORGN0_WB | TCR_SH0_INNER | TCR_EPD1)

#endif
