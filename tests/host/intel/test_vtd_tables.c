/* VT-d entry and descriptor builders against the specification's bit positions: context
 * entries (legacy, scalable), PASID entries of every PGTT including nested (built and checked
 * here only), invalidation descriptors, IRTEs, remappable MSI addresses, and the page-selective
 * invalidation splitter. */
#include "iommu/intel/vtd.h"
#include "tests/host/harness.h"

TEST(legacy_context_entry)
{
    struct vtd_context_entry ce;
    vtd_mk_context(&ce, VTD_TT_SLT, 0x12345000, 4, 0x2a, false);
    CHECK_EQ(ce.lo, 0x12345000 | 1);
    CHECK_EQ(ce.hi, (0x2aULL << 8) | 2);         /* DID 23:8, AW 2 = 48-bit */
    vtd_mk_context(&ce, VTD_TT_PT, 0, 3, 7, true);
    CHECK_EQ(ce.lo, 1 | 2 | (2 << 2));           /* P, FPD, TT = pass-through */
    CHECK_EQ(ce.hi, (7ULL << 8) | 1);
}

TEST(scalable_context_entry)
{
    struct vtd_sm_context_entry ce;
    vtd_mk_sm_context(&ce, 0xabc000, 0);
    CHECK_EQ(ce.w[0], 0xabc000 | 1);
    CHECK_EQ(ce.w[1], 0);
    CHECK_EQ(ce.w[2] | ce.w[3], 0);
    vtd_mk_sm_context(&ce, 0xabc000, 0x12345);
    CHECK_EQ(ce.w[1], 0x12345);
}

TEST(pasid_entries_every_pgtt)
{
    struct vtd_pasid_entry pe;
    vtd_mk_pasid_ss(&pe, 0x5000, 4, 9);
    CHECK_EQ(pe.w[0], 0x5000 | (2 << 6) | (2 << 2) | 1);
    CHECK_EQ(pe.w[1], 9);
    CHECK_EQ(pe.w[2], 0);
    vtd_mk_pasid_fs(&pe, 0x6000, 4, 10);
    CHECK_EQ(pe.w[0], (1 << 6) | (2 << 2) | 1);
    CHECK_EQ(pe.w[2], 0x6000);                   /* FLPM 0 = 4-level */
    vtd_mk_pasid_fs(&pe, 0x6000, 5, 10);
    CHECK_EQ(pe.w[2], 0x6000 | (1 << 2));
    vtd_mk_pasid_pt(&pe, 11);
    CHECK_EQ(pe.w[0], (4 << 6) | 1);
    CHECK_EQ(pe.w[1], 11);
    /* Nested: first-stage pointer (an IPA) in word 2, second-stage pointer and AW in word 0. */
    vtd_mk_pasid_nested(&pe, 0x7000, 4, 0x8000, 3, 12);
    CHECK_EQ(pe.w[0], 0x8000 | (3 << 6) | (1 << 2) | 1);
    CHECK_EQ(pe.w[1], 12);
    CHECK_EQ(pe.w[2], 0x7000);
    for (unsigned i = 3; i < 8; i++)
        CHECK_EQ(pe.w[i], 0);
    CHECK_EQ(FIELD_GET(VTD_PE0_PGTT, pe.w[0]), VTD_PGTT_NESTED);
}

TEST(invalidation_descriptors)
{
    struct vtd_inv_desc d;
    vtd_desc_cc(&d, VTD_GRAN_DEVICE, 5, 0x0018);
    CHECK_EQ(d.w[0], 0x1 | (3 << 4) | (5ULL << 16) | (0x18ULL << 32));
    vtd_desc_iotlb(&d, VTD_GRAN_DEVICE, 3, 0x200000, 9, true);
    CHECK_EQ(d.w[0], 0x2 | (3 << 4) | (1 << 6) | (1 << 7) | (3ULL << 16));
    CHECK_EQ(d.w[1], 0x200000 | 9 | (1 << 6));
    vtd_desc_iotlb(&d, VTD_GRAN_DOMAIN, 3, 0x200000, 9, true);
    CHECK_EQ(d.w[1], 0);
    vtd_desc_piotlb(&d, VTD_PIOTLB_G_PAGE, 4, 0, 0x1000, 0, false);
    CHECK_EQ(d.w[0], 0x6 | (3 << 4) | (4ULL << 16));
    CHECK_EQ(d.w[1], 0x1000);
    vtd_desc_pc(&d, 1, 4, 0x55);
    CHECK_EQ(d.w[0], 0x7 | (1 << 4) | (4ULL << 16) | (0x55ULL << 32));
    vtd_desc_iec(&d, false, 17, 0);
    CHECK_EQ(d.w[0], 0x4 | (1 << 4) | (17ULL << 32));
    vtd_desc_wait(&d, 0xdeadbeef, 0x1234560);
    CHECK_EQ(d.w[0], 0x5 | (1 << 5) | (1 << 6) | (0xdeadbeefULL << 32));
    CHECK_EQ(d.w[1], 0x1234560);
    vtd_desc_devtlb(&d, 0x0100, 0x0100, 0x400000, 2);   /* 4 pages: S, bit 12 set, 13 clear */
    CHECK_EQ(d.w[1], 0x400000 | 0x1000 | 1);
    CHECK_EQ(FIELD_GET(VTD_DEVTLB_SID, d.w[0]), 0x100);
    CHECK_EQ(d.w[2] | d.w[3], 0);
}

TEST(irte_and_msi)
{
    struct vtd_irte e;
    vtd_mk_irte(&e, 0x41, 3, false, 0x18);
    CHECK_EQ(e.lo, 1 | (0x41ULL << 16) | (3ULL << 40));
    CHECK_EQ(e.hi, 0x18 | (1ULL << 18));
    vtd_mk_irte(&e, 0x41, 0x1234, true, 0x18);
    CHECK_EQ(e.lo >> 32, 0x1234);
    CHECK_EQ(vtd_msi_addr_remappable(5), 0xfee00000 | (5 << 5) | (1 << 4));
    CHECK_EQ(vtd_msi_addr_remappable(0x8001), 0xfee00000 | (1 << 5) | (1 << 4) | (1 << 2));
}

TEST(psi_split)
{
    uint64_t a[64];
    unsigned am[64];
    CHECK_EQ(vtd_psi_split(0x1000, 0x1fff, 9, a, am, 64), 1);
    CHECK_EQ(a[0], 0x1000);
    CHECK_EQ(am[0], 0);
    CHECK_EQ(vtd_psi_split(0x200000, 0x3fffff, 9, a, am, 64), 1);
    CHECK_EQ(am[0], 9);
    /* 3 pages from pfn 1: 1 page at 1, 2 pages at 2 */
    CHECK_EQ(vtd_psi_split(0x1000, 0x3fff, 9, a, am, 64), 2);
    CHECK(a[0] == 0x1000 && am[0] == 0 && a[1] == 0x2000 && am[1] == 1);
    /* MAMV 0: one descriptor per page */
    CHECK_EQ(vtd_psi_split(0, 0xffff, 0, a, am, 64), 16);
    /* every block is aligned to its size and the union is exactly the range */
    for (uint64_t s = 0; s < 40; s++)
        for (uint64_t n = 1; n < 40; n++) {
            unsigned k = vtd_psi_split(s << 12, ((s + n) << 12) - 1, 3, a, am, 64);
            uint64_t next = s << 12;
            for (unsigned i = 0; i < k; i++) {
                CHECK_EQ(a[i], next);
                CHECK_EQ(a[i] & ((4096ULL << am[i]) - 1), 0);
                CHECK(am[i] <= 3);
                next += 4096ULL << am[i];
            }
            CHECK_EQ(next, (s + n) << 12);
        }
}

TEST(fault_reason_names)
{
    CHECK_STR(vtd_fault_reason_name(2), "context entry not present");
    CHECK_STR(vtd_fault_reason_name(5), "write access not permitted");
    CHECK_STR(vtd_fault_reason_name(0x26), "interrupt source-id check failed");
    CHECK_STR(vtd_fault_reason_name(0xff), "unknown fault reason");
    CHECK_STR(vtd_fault_reason_name(100000), "unknown fault reason");
}

TEST(fault_record_decode)
{
    struct iommu_fault f;
    /* write to 0x1234000 by 00:03.0, reason 5, no PASID */
    vtd_fault_decode(0, 0x1234abcULL, (1ULL << 63) | (5ULL << 32) | 0x18, &f);
    CHECK_EQ(f.rid, 0x18);
    CHECK_EQ(f.addr, 0x1234000);
    CHECK(f.write);
    CHECK(!f.has_pasid);
    CHECK_EQ(f.reason, 5);
    CHECK_STR(f.text, "write access not permitted");
    /* read (T1 set) with PASID 0x12345 */
    vtd_fault_decode(1, 0x5000, (1ULL << 63) | (1ULL << 62) | (0x71ULL << 32) | (1ULL << 31) |
                                    (0x12345ULL << 40) | 0x100, &f);
    CHECK_EQ(f.seg, 1);
    CHECK(!f.write);
    CHECK(f.has_pasid);
    CHECK_EQ(f.pasid, 0x12345);
    CHECK_EQ(f.rid, 0x100);
    /* interrupt-remapping fault: FI[63:48] is the index */
    vtd_fault_decode(0, 0x00ff000000000000ULL, (0x22ULL << 32) | 0x18, &f);
    CHECK_EQ(f.addr, 0xff);
    CHECK_STR(f.text, "interrupt entry not present");
    /* a reason no specification defines keeps its number */
    vtd_fault_decode(0, 0, 0xffULL << 32, &f);
    CHECK_EQ(f.reason, 0xff);
    CHECK_STR(f.text, "unknown fault reason");
}
