# Block drivers (virtio-blk, NVMe) and their DMA through the IOMMU. Included from
# tests/qemu/CMakeLists.txt. The default machine's disks read zeros and drop writes: the blk
# suite runs there; round trips and the 64 MiB pattern pass run on raw image files that
# tools/disk-test.sh creates and, for blk_disk, checks from the host afterwards.
set(DISK_TEST ${PROJECT_SOURCE_DIR}/tools/disk-test.sh)

moat_qemu_test(blk TIMEOUT 120 ARGS --tests --cmdline tests=blk
  LINES "^virtio-blk: 0000:00:04.0: vblk0, .* own paging domain"
        "^nvme: 0000:00:05.0: nvme0n1 .* own paging domain"
        "^blk: nvme0n1: device wrote a completion with an unknown command ID"
        "^blk: vblk0: device wrote a used id out of range"
        "^dma fault: dev 0000:00:04.0 iova 0x[0-9a-f]+ write"
        "^dma fault: dev 0000:00:05.0 iova 0x[0-9a-f]+ write"
        "^blk: vblk0: I/O at lba 0 timed out" "^dma: quarantined iova"
        "^# nvme0n1: 16 completion interrupts on vector"
        "^19 passed, 0 failed"
  NO_LINES "SKIP" "EXCEPTION" "PANIC")
moat_qemu_test(blk_scalable TIMEOUT 120 ARGS --tests --iommu intel-scalable --cmdline tests=blk
  LINES "^19 passed, 0 failed" NO_LINES "SKIP")
moat_qemu_test(blk_amd TIMEOUT 120 ARGS --tests --iommu amd --cmdline tests=blk
  LINES "^nvme: 0000:00:05.0: nvme0n1 .* own paging domain" "^19 passed, 0 failed" NO_LINES "SKIP")
moat_qemu_test(blk_no_iommu TIMEOUT 120 ARGS --tests --iommu none --cmdline tests=blk
  LINES "no IOMMU: DMA is not isolated" "^14 passed, 0 failed" NO_LINES "dma fault:")
# The benchmark, short: it must produce its figures and ratios (values are not judged here).
moat_qemu_test(blk_bench TIMEOUT 120 ARGS --tests --cmdline "tests=blk_bench bench_ms=240"
  LINES "^bench nvme_randread_4k_qd32_identity [0-9]+ IOPS"
        "^bench nvme_randread_4k_qd1_strict [0-9]+ IOPS"
        "^bench nvme_randread_4k_qd32_premapped [0-9]+ IOPS"
        "^bench dma_ratio_premapped [0-9]+\\.[0-9]+ x" "^bench dma_ratio_strict [0-9]+\\.[0-9]+ x"
        "^bench dma_ratio_copy [0-9]+\\.[0-9]+ x" "^bench copy_4k_rep_movsb [0-9]+ ns"
        "^bench window_map_4k [0-9]+ ns"
        "^bench nvme_seqread_128k_qd32_premapped_mbps [0-9]+\\.[0-9] MB/s"
        "^bench virtio_randread_4k_qd32_ratio_strict [0-9]+\\.[0-9]+ x"
        "^bench virtio_seqread_128k_qd1_ratio_premapped [0-9]+\\.[0-9]+ x"
        "^1 passed, 0 failed"
  NO_LINES "dma fault:" "not ok")

# blk_disk_test(NAME TIMEOUT disk-test-args...): TIMEOUT bounds the guest; the host check
# after it gets another minute.
function(blk_disk_test name timeout)
  math(EXPR ctest_timeout "${timeout} + 60")
  add_test(NAME qemu.${name} COMMAND ${DISK_TEST} --timeout ${timeout} ${ARGN})
  set_tests_properties(qemu.${name} PROPERTIES TIMEOUT ${ctest_timeout} LABELS qemu
                       SKIP_RETURN_CODE 77
                       ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
endfunction()
blk_disk_test(blk_disk_64m 120 --suite blk_disk --size-mib 64)
blk_disk_test(blk_disk_no_iommu 120 --suite blk_disk --size-mib 16 --iommu none)
blk_disk_test(blk_rw 120 --suite blk_rw --size-mib 16)
blk_disk_test(blk_rw_scalable 120 --suite blk_rw --size-mib 16 --iommu intel-scalable)
blk_disk_test(blk_rw_amd 120 --suite blk_rw --size-mib 16 --iommu amd)
