/* Fuzzing moat_iommufd_ioctl over the strict mock. Each input is a fresh context with two bound
 * devices, then a sequence of records:
 *   byte 0   command: index into the IOMMU_* table (>= 0xf0: a raw _IO(';', byte 1))
 *   byte 1   n, the argument's length (<= 120)
 *   n bytes  the argument structure (its first __u32 is the size the "caller" claims)
 * "User memory" is a 64 KiB window at UBASE reached only through the uaccess hooks; pointers in
 * structures are checked against it, map addresses are translated without being touched. After
 * the input the context is closed and everything must be released — otherwise abort().
 *
 * Built as a libFuzzer target with clang; with other compilers tests/host/fuzz/fuzz_main.c
 * replays the committed corpus and then random and mutated inputs for a few seconds (ctest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/iommufd/iommufd_private.h"
#include "kernel/fd.h"
#include "kernel/mm/heap.h"
#include "kernel/time.h"
#include "lib/log.h"
#include "moat/iommufd.h"
#include "tests/host/mock_iommu.h"

#define UBASE 0x1000ULL
#define USIZE 0x10000ULL
#define ARG_MAX_LEN 120

static uint8_t umem[USIZE];
static struct pci_dev devs[3];

static bool uokay(uint64_t uptr, size_t len)
{
    return uptr >= UBASE && len <= USIZE && uptr - UBASE <= USIZE - len;
}

static int fz_from(void *arg, void *dst, uint64_t uptr, size_t len)
{
    if (!len)
        return 0;
    if (!uokay(uptr, len))
        return -EFAULT;
    memcpy(dst, umem + (uptr - UBASE), len);
    return 0;
}

static int fz_to(void *arg, uint64_t uptr, const void *src, size_t len)
{
    if (!len)
        return 0;
    if (!uokay(uptr, len))
        return -EFAULT;
    memcpy(umem + (uptr - UBASE), src, len);
    return 0;
}

/* Any address below 2^39 "is RAM" (the mock never touches the pages). The hook takes at most
 * 16 MiB at a time, so a longer map becomes runs of 16 MiB (ioas.c's map_runs), as memory that
 * is not one physical run does. */
static int fz_v2p(void *arg, const void *va, uint64_t len, uint32_t prot, uint64_t *pa)
{
    uint64_t v = (uint64_t)(uintptr_t)va;
    if (!v || v >= (1ULL << 39) || len > (16ULL << 20))
        return -EFAULT;
    *pa = v;
    return 0;
}

static const unsigned long cmds[] = {
    IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_ALLOW_IOVAS, IOMMU_IOAS_COPY,
    IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, IOMMU_OPTION,
    IOMMU_HWPT_ALLOC, IOMMU_GET_HW_INFO, IOMMU_HWPT_SET_DIRTY_TRACKING,
    IOMMU_HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_INVALIDATE, IOMMU_FAULT_QUEUE_ALLOC,
    IOMMU_VFIO_IOAS, IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC, IOMMU_VEVENTQ_ALLOC,
};

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t heap0;
    static bool init, trace;
    if (!init) {
        mock_iommu_setup();
        mock_pci_dev(&devs[0], 0, 0, 0x10, 2);
        mock_pci_dev(&devs[1], 1, 1, 0x00, 10);
        heap0 = heap_live_bytes();
        trace = getenv("FUZZ_TRACE") != NULL;
        init = true;
    }
    struct moat_iommufd *ctx;
    uint32_t id;
    struct moat_uaccess ua = { fz_from, fz_to, NULL };
    check(moat_iommufd_open(&ctx) == 0, "open");
    moat_iommufd_set_uaccess(ctx, &ua);
    moat_iommufd_set_virt_to_phys(ctx, fz_v2p, NULL);
    check(moat_device_bind(ctx, &devs[0], &id) == 0, "bind");
    check(moat_device_bind(ctx, &devs[1], &id) == 0, "bind");
    /* The data window repeats the input so that pointers find fuzzer bytes. */
    memset(umem, 0, sizeof(umem));
    for (size_t i = 0; size && i < USIZE; i += size)
        memcpy(umem + i, data, MIN(size, USIZE - i));
    size_t at = 0;
    int fault_fds[64], nr_fds = 0;
    for (int ops = 0; at + 2 <= size && ops < 64; ops++) {
        uint8_t c = data[at], n = MIN(data[at + 1], ARG_MAX_LEN);
        at += 2;
        n = (uint8_t)MIN((size_t)n, size - at);
        unsigned long cmd = c >= 0xf0 ? _IO(IOMMUFD_TYPE, data[at - 1])
                                      : cmds[c % ARRAY_SIZE(cmds)];
        memset(umem, 0, 128);
        memcpy(umem, data + at, n);
        at += n;
        int ret = moat_iommufd_ioctl(ctx, cmd, (void *)(uintptr_t)UBASE);
        if (trace)
            fprintf(stderr, "ioctl %#lx -> %d\n", cmd & 0xff, ret);
        if ((cmd == IOMMU_FAULT_QUEUE_ALLOC || cmd == IOMMU_VEVENTQ_ALLOC) && ret == 0)
            check(nr_fds < 64, "descriptors");
        if (cmd == IOMMU_FAULT_QUEUE_ALLOC && ret == 0) {
            struct iommu_fault_alloc fa;
            memcpy(&fa, umem, sizeof(fa));
            check((int)fa.out_fault_fd >= 3, "fault fd");
            fault_fds[nr_fds++] = (int)fa.out_fault_fd;
        }
        if (cmd == IOMMU_VEVENTQ_ALLOC && ret == 0) {
            struct iommu_veventq_alloc qa;
            memcpy(&qa, umem, sizeof(qa));
            check((int)qa.out_veventq_fd >= 3, "vEVENTQ fd");
            fault_fds[nr_fds++] = (int)qa.out_veventq_fd;
        }
        if (c % 7 == 3) {       /* let devices move too */
            uint32_t pt = umem[0] % 8;
            if (moat_device_attach(ctx, 1 + (c & 1), &pt))
                moat_device_replace(ctx, 1 + (c & 1), &pt);
        }
    }
    /* The descriptors hold the context: its teardown happens at the last close. */
    moat_iommufd_close(ctx);
    for (int i = 0; i < nr_fds; i++)
        check(sys_close(fault_fds[i]) == 0, "close fault fd");
    check(heap_live_bytes() == heap0, "heap leak");
    check(mock_live_domains() == 0 && mock_mapped_bytes() == 0 && mock_attached_devs() == 0,
          "mock not clean");
    check(mock_pt_pages() == 0, "page-table pages leaked");
    check(mock_live_viommus() == 0, "vIOMMU leaked");
    check(mock_violations == 0, "mock violation");
    return 0;
}
