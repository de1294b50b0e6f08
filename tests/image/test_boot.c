/* In-image tests of the boot foundation: memory, CPU paging rights, clock, the CPU's timer, the
 * firmware's description of the machine (ACPI on x86_64, the device tree on aarch64). */
#include "arch/arch.h"
#include "kernel/acpi/platform.h"
#if defined(__aarch64__)
#include "arch/aarch64/platform.h"
#endif
#include "kernel/ktest.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/pmm.h"
#include "kernel/time.h"
#include "kernel/vm.h"
#include "lib/string.h"

extern char __text_start[], __rodata_start[], __data_start[];

static void pages_are_naturally_aligned(struct ktest *t)
{
    uint64_t before = pmm_free_bytes();
    uint64_t pa[BUDDY_MAX_ORDER + 1];
    for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
        KASSERT(t, pmm_alloc(o, &pa[o]) == 0);
        KEXPECT_EQ(t, pa[o] & ((PAGE_SIZE << o) - 1), 0);
        memset(phys_to_virt(pa[o]), 0xa5, PAGE_SIZE << o);
    }
    for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
        pmm_free(pa[o], o);
    KEXPECT_EQ(t, pmm_free_bytes(), before);
}

static void heap_roundtrip(struct ktest *t)
{
    size_t live = heap_live_bytes();
    static const size_t sizes[] = { 1, 16, 17, 100, 2000, 4000, 5000, 300000 };
    void *p[ARRAY_SIZE(sizes)];
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        p[i] = kmalloc(sizes[i]);
        KASSERT(t, p[i] != NULL);
        KEXPECT_EQ(t, (uintptr_t)p[i] & 15, 0);
        memset(p[i], (int)i, sizes[i]);
    }
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        const uint8_t *b = p[i];
        KEXPECT(t, b[0] == i && b[sizes[i] - 1] == i);
        kfree(p[i]);
    }
    KEXPECT_EQ(t, heap_live_bytes(), live);
    KEXPECT(t, kmalloc(HEAP_MAX_ALLOC + 1) == NULL);
}

/* The program's anonymous memory: a range of 2 MiB or more starts on a 2 MiB boundary, and
 * vm_phys_run (which reads the range's blocks) answers what the CPU page table says, page by page:
 * each run contiguous and maximal. */
static void anon_runs_match_page_table(struct ktest *t)
{
    const uint64_t len = 9 * 1024 * 1024 + 3 * PAGE_SIZE;
    void *p;
    KASSERT(t, vm_map_anon(len, &p) == 0);
    const uint8_t *base = p;
    KEXPECT_EQ(t, (uintptr_t)base & (2 * 1024 * 1024 - 1), 0);
    uint64_t runs = 0, large = 0;
    for (uint64_t off = 0, run; off < len; off += run, runs++) {
        uint64_t pa, page_pa = 0;
        run = vm_phys_run(base + off, len - off, &pa);
        KASSERT(t, run >= PAGE_SIZE && off + run <= len);
        for (uint64_t k = 0; k < run; k += PAGE_SIZE) {
            KASSERT(t, vm_virt_to_phys(base + off + k, &page_pa) == 0);
            KASSERT(t, page_pa == pa + k);
        }
        if (off + run < len)
            KEXPECT(t, vm_virt_to_phys(base + off + run, &page_pa) == 0 && page_pa != pa + run);
        large += IS_ALIGNED(((uintptr_t)base + off) ^ pa, 2 * 1024 * 1024) && run >= 2 * 1024 * 1024;
    }
    KEXPECT(t, large > 0);  /* a 2 MiB block at a virtual address aligned like its physical one */
    uint64_t pa, want;              /* from inside a page, and cut at len */
    KEXPECT_EQ(t, vm_phys_run(base + PAGE_SIZE + 100, 50, &pa), 50);
    KEXPECT(t, vm_virt_to_phys(base + PAGE_SIZE, &want) == 0 && pa == want + 100);
    KEXPECT_EQ(t, vm_phys_run(base + len, PAGE_SIZE, &pa), 0);     /* the guard page */
    KEXPECT(t, runs > 0);
    KEXPECT_EQ(t, vm_unmap(p, len), 0);
}

static void paging_rights(struct ktest *t)
{
    unsigned text = arch_virt_flags((uintptr_t)__text_start);
    unsigned ro = arch_virt_flags((uintptr_t)__rodata_start);
    unsigned data = arch_virt_flags((uintptr_t)__data_start);
    KEXPECT(t, (text & ARCH_MAP_PRESENT) && (text & ARCH_MAP_EXEC) && !(text & ARCH_MAP_WRITE));
    KEXPECT(t, (ro & ARCH_MAP_PRESENT) && !(ro & ARCH_MAP_EXEC) && !(ro & ARCH_MAP_WRITE));
    KEXPECT(t, (data & ARCH_MAP_PRESENT) && !(data & ARCH_MAP_EXEC) && (data & ARCH_MAP_WRITE));
    KEXPECT_EQ(t, arch_virt_flags(0), 0);
    uint64_t pa;
    KASSERT(t, pmm_alloc(0, &pa) == 0);
    unsigned heap = arch_virt_flags((uintptr_t)phys_to_virt(pa));
    KEXPECT(t, (heap & ARCH_MAP_WRITE) && !(heap & ARCH_MAP_EXEC));
    pmm_free(pa, 0);
    KEXPECT(t, arch_read_only_enforced());  /* the kernel itself honours read-only pages */
}

static void clock_is_monotonic(struct ktest *t)
{
    uint64_t a = clock_ns();
    udelay(2000);
    uint64_t b = clock_ns();
    KEXPECT(t, b > a);
    KEXPECT(t, b - a >= 2 * NSEC_PER_MSEC);
    KEXPECT(t, clock_tsc_hz() > 0);
}

static volatile unsigned timer_fired;

static void on_timer(unsigned vector, void *ctx)
{
    timer_fired++;
}

static void timer_fires(struct ktest *t)
{
    int vec = irq_alloc_vector(on_timer, NULL);
    KASSERT(t, vec > 0);
    timer_fired = 0;
    uint64_t t0 = clock_ns();
    arch_timer_oneshot((unsigned)vec, 1 * NSEC_PER_MSEC);
    int err = poll_until(timer_fired > 0, 2 * NSEC_PER_SEC);
    KEXPECT_EQ(t, err, 0);
    KEXPECT_EQ(t, timer_fired, 1);
    KEXPECT(t, clock_ns() - t0 >= NSEC_PER_MSEC / 2);
    irq_free_vector((unsigned)vec);
}

#if defined(__aarch64__)
/* virt's tree as moat parsed it at boot: RAM where virt puts it, the devices moat drives. */
static void firmware_facts_found(struct ktest *t)
{
    const struct dt_platform *dt = platform_dt();
    KASSERT(t, dt->nr_mem >= 1);
    KEXPECT_EQ(t, dt->mem[0].base, 0x40000000ULL);
    KEXPECT(t, dt->uart.present);
    KEXPECT(t, dt->gic.present && dt->gic.its.present);
    KEXPECT(t, dt->timer.present && dt->timer.nr_irq == 4);
    KEXPECT(t, dt->psci.present);
    KEXPECT(t, dt->pcie.present && dt->pcie.nr_ranges >= 2);
    KEXPECT(t, platform_acpi() == NULL);        /* booted from the tree: no ACPI */
}
#else
static void firmware_facts_found(struct ktest *t)
{
    const struct acpi_info *ai = platform_acpi();
    KASSERT(t, ai != NULL);
    KEXPECT(t, acpi_find_table(ai, "FACP", 0) != NULL);
    KEXPECT(t, acpi_find_table(ai, "APIC", 0) != NULL);
    KEXPECT(t, ai->nr_cpus >= 1);
    KEXPECT(t, ai->nr_mcfg >= 1);           /* q35 always has ECAM */
    KEXPECT(t, ai->pm_timer_port != 0);
}
#endif

KTEST_SUITE(boot,
            KTEST_CASE(pages_are_naturally_aligned),
            KTEST_CASE(heap_roundtrip),
            KTEST_CASE(anon_runs_match_page_table),
            KTEST_CASE(paging_rights),
            KTEST_CASE(clock_is_monotonic),
            KTEST_CASE(timer_fires),
            KTEST_CASE(firmware_facts_found));

/* Deliberate faults: each ends the run through the exception or panic path, so they run only
 * when named (tests=crash_null etc.); the ctest entries check the dump and the status. */
static void null_dereference(struct ktest *t)
{
    static volatile uintptr_t target = 0x18;    /* hidden from the compiler's bounds checks */
    *(volatile uint64_t *)target = 1;
    ktest_fail(t, __FILE__, __LINE__, "a write to an unmapped page did not fault");
}
KTEST_SUITE_EXPLICIT(crash_null, KTEST_CASE(null_dereference));

static void write_to_text(struct ktest *t)
{
    volatile uint8_t *p = (volatile uint8_t *)__text_start;
    *p = 0xcc;
    ktest_fail(t, __FILE__, __LINE__, "a write to kernel text did not fault");
}
KTEST_SUITE_EXPLICIT(crash_wp, KTEST_CASE(write_to_text));

static void double_free(struct ktest *t)
{
    void *p = kmalloc(64);
    kfree(p);
    kfree(p);
    ktest_fail(t, __FILE__, __LINE__, "a double free was not caught");
}
KTEST_SUITE_EXPLICIT(crash_double_free, KTEST_CASE(double_free));
