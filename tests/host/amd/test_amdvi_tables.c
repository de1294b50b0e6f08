/* AMD-Vi encodings: device table entries, commands (with a sweep of the INVALIDATE_IOMMU_PAGES
 * size encoding against its decoder) and event decoding in the specification's and QEMU's
 * flag encodings. Expected words are written out from the specification's field positions. */
#include "iommu/amd/amdvi.h"
#include "tests/host/harness.h"

TEST(dte_blocked_paging_identity)
{
    struct amdvi_dte e;
    amdvi_mk_dte_blocked(&e, 0x12345000);
    /* V, TV, Mode 1, root, IR = IW = 0, DomainID 0 */
    CHECK_EQ(e.w[0], 0x3ULL | (1ULL << 9) | 0x12345000ULL);
    CHECK_EQ(e.w[1], 0);
    CHECK_EQ(e.w[2], 0);
    CHECK_EQ(e.w[3], 0);
    amdvi_mk_dte_paging(&e, 0xabcdef000ULL, 4, 0x1234);
    CHECK_EQ(e.w[0], 0x3ULL | (4ULL << 9) | 0xabcdef000ULL | (1ULL << 61) | (1ULL << 62));
    CHECK_EQ(e.w[1], 0x1234);
    amdvi_mk_dte_paging(&e, 0xfff0000000000fffULL, 6, 7);  /* root bits outside 51:12 dropped */
    CHECK_EQ(e.w[0] & AMDVI_DTE0_PT_ROOT, 0x0000000000000000ULL);
    CHECK_EQ(FIELD_GET(AMDVI_DTE0_MODE, e.w[0]), 6);
    amdvi_mk_dte_identity(&e, 9);
    CHECK_EQ(e.w[0], 0x3ULL | (1ULL << 61) | (1ULL << 62));
    CHECK_EQ(e.w[1], 9);
    CHECK_EQ(amdvi_dte_intr_remap(0x7654321c0ULL, 9),
             1ULL | (9ULL << 1) | 0x7654321c0ULL | (2ULL << 60));
}

TEST(commands)
{
    struct amdvi_cmd c;
    amdvi_cmd_completion_wait(&c, 0x1ffc8008ULL, 0xdeadbeefcafeULL);
    CHECK_EQ(c.w[0], (1ULL << 60) | 0x1ffc8008ULL | 1);
    CHECK_EQ(c.w[1], 0xdeadbeefcafeULL);
    amdvi_cmd_inv_devtab_entry(&c, 0x0318);
    CHECK_EQ(c.w[0], (2ULL << 60) | 0x0318);
    CHECK_EQ(c.w[1], 0);
    amdvi_cmd_inv_intr_table(&c, 0x00a0);
    CHECK_EQ(c.w[0], (5ULL << 60) | 0x00a0);
    amdvi_cmd_inv_all(&c);
    CHECK_EQ(c.w[0], 8ULL << 60);
    CHECK_EQ(c.w[1], 0);
    amdvi_cmd_inv_pages_all(&c, 0x42);
    CHECK_EQ(c.w[0], (3ULL << 60) | (0x42ULL << 32));
    CHECK_EQ(c.w[1], 0x7ffffffffffff000ULL | 3);        /* S, PDE */
    amdvi_cmd_inv_pages(&c, 5, 0x200000, 0x200fff, false);
    CHECK_EQ(c.w[0], (3ULL << 60) | (5ULL << 32));
    CHECK_EQ(c.w[1], 0x200000);                         /* one page: S = 0 */
    amdvi_cmd_inv_pages(&c, 5, 0x200000, 0x201fff, true);
    CHECK_EQ(c.w[1], 0x200000 | 3);                     /* 8 KiB: bit 12 clear, S, PDE */
    amdvi_cmd_inv_pages(&c, 5, 0x200000, 0x3fffff, false);
    CHECK_EQ(c.w[1], 0x2ff000 | 1);                     /* 2 MiB: bits 12..19 set, 20 clear */
}

/* Every range maps to one naturally aligned block that holds it and is the smallest such. */
TEST(inv_pages_size_encoding_sweep)
{
    static const uint64_t starts[] = { 0, 0x1000, 0x3000, 0x200000, 0x1ff000, 0x7ffff000,
                                       0xfffff000000ULL, 0x0007fffffffff000ULL };
    static const uint64_t lens[] = { 0x1000, 0x2000, 0x3000, 0x10000, 0x1fe000, 0x200000,
                                     0x40000000, 0x100000000000ULL };
    for (unsigned i = 0; i < ARRAY_SIZE(starts); i++) {
        for (unsigned j = 0; j < ARRAY_SIZE(lens); j++) {
            uint64_t s = starts[i], l = s + lens[j] - 1;
            struct amdvi_cmd c;
            amdvi_cmd_inv_pages(&c, 1, s, l, false);
            uint64_t ds, dl;
            amdvi_inv_pages_range(&c, &ds, &dl);
            CHECK(ds <= s && dl >= l);
            uint64_t size = dl - ds + 1;
            if (dl != ~0ULL) {
                CHECK((size & (size - 1)) == 0 && (ds & (size - 1)) == 0);
                /* the half-size block holding s does not hold l */
                if (size > 0x1000)
                    CHECK((s & ~(size / 2 - 1)) + size / 2 - 1 < l);
            }
            CHECK_EQ(c.w[1] & 0xff8, 0);                /* reserved bits 11:3 */
        }
    }
    struct amdvi_cmd c;
    uint64_t ds, dl;
    amdvi_cmd_inv_pages(&c, 1, 0, 0x000fffffffffffffULL, false);
    amdvi_inv_pages_range(&c, &ds, &dl);
    CHECK_EQ(ds, 0);
    CHECK_EQ(dl, ~0ULL);
}

static struct amdvi_event ev(uint16_t devid, unsigned code, unsigned flags, uint64_t addr)
{
    struct amdvi_event e = { { devid | ((uint64_t)flags << 48) | ((uint64_t)code << 60), addr } };
    return e;
}

TEST(event_decoding)
{
    struct iommu_fault f;
    /* specification: IO_PAGE_FAULT, write (RW), present, permission error */
    struct amdvi_event e = ev(0x0318, AMDVI_EV_IO_PAGE_FAULT,
                              AMDVI_EVF_RW | AMDVI_EVF_PR | AMDVI_EVF_PE, 0x12345678);
    CHECK_EQ(amdvi_event_decode(&e, 3, false, &f), AMDVI_EV_IO_PAGE_FAULT);
    CHECK_EQ(f.seg, 3);
    CHECK_EQ(f.rid, 0x0318);
    CHECK_EQ(f.addr, 0x12345678);
    CHECK(f.write);
    CHECK_EQ(f.reason, 2);
    CHECK_STR(f.text, "IO_PAGE_FAULT");
    CHECK(!f.has_pasid);
    e = ev(0x0318, AMDVI_EV_IO_PAGE_FAULT, 0, 0x1000);
    amdvi_event_decode(&e, 0, false, &f);
    CHECK(!f.write);
    /* QEMU: the access as 1 read / 2 write in flag bits 0-1, with I */
    e = ev(0x0018, AMDVI_EV_IO_PAGE_FAULT, AMDVI_EVF_I | 2, 0x600000);
    amdvi_event_decode(&e, 0, true, &f);
    CHECK(f.write);
    CHECK(!f.has_pasid);
    e = ev(0x0018, AMDVI_EV_IO_PAGE_FAULT, AMDVI_EVF_I | 1, 0x600000);
    amdvi_event_decode(&e, 0, true, &f);
    CHECK(!f.write);
    /* the same flags read the specification's way: GN set, so a PASID */
    e = ev(0x0018, AMDVI_EV_IO_PAGE_FAULT, AMDVI_EVF_GN, 0x600000);
    e.w[0] |= 0x2aULL << 16;
    amdvi_event_decode(&e, 0, false, &f);
    CHECK(f.has_pasid && f.pasid == 0x2a);
    /* illegal DTE, command errors carry no device */
    e = ev(0x00a0, AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, AMDVI_EVF_RW, 0xfee00000);
    CHECK_EQ(amdvi_event_decode(&e, 0, false, &f), 1);
    CHECK(f.write && f.rid == 0x00a0);
    CHECK_STR(f.text, "ILLEGAL_DEV_TABLE_ENTRY");
    e = ev(0x1234, AMDVI_EV_ILLEGAL_COMMAND_ERROR, 0, 0x1ffc7010);
    amdvi_event_decode(&e, 0, false, &f);
    CHECK_EQ(f.rid, 0);
    CHECK_EQ(f.addr, 0x1ffc7010);
    CHECK_STR(f.text, "ILLEGAL_COMMAND_ERROR");
    CHECK_STR(amdvi_event_name(0xf), "reserved event code");
    CHECK_STR(amdvi_event_name(0), "reserved event code");
    CHECK_STR(amdvi_event_name(AMDVI_EV_PAGE_TAB_HARDWARE_ERROR), "PAGE_TAB_HARDWARE_ERROR");
}

TEST(irte)
{
    CHECK_EQ(amdvi_mk_irte(0x41, 3), 1u | (3u << 8) | (0x41u << 16));
}
