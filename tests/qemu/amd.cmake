# AMD-Vi: the in-image suites under QEMU's amd-iommu, with interrupt remapping on (./moat run
# --iommu amd) and off, and the isolation groups of the reference topologies under AMD-Vi.
# QEMU 10.0's amd-iommu writes no IO_PAGE_FAULT event for a DMA its page walk refuses: blocked
# DMA is checked by canary pages, and the one "dma fault:" line demanded below is decoded from a
# record the amdvi suite puts into the event log by hand (event_record_reported). The blk suite
# runs on its own (blk_amd in blk.cmake), where its fault-record checks know the vendor.
moat_qemu_test(ktests_amd ARGS --tests --iommu amd --cmdline tests=amdvi,boot
  LINES "^ivrs:   IVHD 11h: IOMMU 0000:00:01.0" "^amdvi: amdvi0 at 0x[0-9a-f]+ .*4-level"
        "^ok [0-9]+ amdvi$" "^bench amdvi_map_unmap_4k [0-9]+ ns"
        "^bench amdvi_api_map_unmap_vs_inval [0-9.]+ x" "^[1-9][0-9]* passed, 0 failed"
        "^dma fault: dev 0000:00:03.0 iova 0x7654000 write reason 2 \\(IO_PAGE_FAULT\\)$"
        "^amdvi: amdvi0: interrupt remapping on"
  NO_LINES "^ivrs: .* rejected: " "bring-up failed" "EXCEPTION" "PANIC")
moat_qemu_test(ktests_amd_edu2 ARGS --tests --iommu amd --cmdline tests=amdvi
  -- -device edu,bus=pcie.0,addr=0x6
  LINES "^edu: 0000:00:06.0: .*own paging domain" "^ok [0-9]+ amdvi$" "^[1-9][0-9]* passed, 0 failed")

# intremap=off: the IOMMU comes from a topology file so that it is created before the devices
# (moat's --iommu amd always asks for intremap=on).
set(AMD_NOIR_TOPO ${CMAKE_CURRENT_BINARY_DIR}/amd-intremap-off.txt)
file(WRITE ${AMD_NOIR_TOPO} "# written by tests/qemu/amd.cmake\n"
  "-device amd-iommu,intremap=off,pt=off\n"
  "-blockdev driver=null-co,node-name=vblk0,size=67108864,read-zeroes=on\n"
  "-device edu,bus=pcie.0,addr=0x3\n"
  "-device virtio-blk-pci,bus=pcie.0,addr=0x4,drive=vblk0,disable-legacy=on,iommu_platform=on\n")
moat_qemu_test(ktests_amd_intremap_off ARGS --tests --iommu none --topology ${AMD_NOIR_TOPO}
  --cmdline tests=amdvi,boot
  LINES "^amdvi: amdvi0 at" "interrupt remapping off" "^ok [0-9]+ amdvi$" "^[1-9][0-9]* passed, 0 failed"
  NO_LINES "EXCEPTION" "PANIC")

# Bad AMD-Vi input on the command line: amdvi=off leaves DMA unisolated and says so.
moat_qemu_test(boot_amd_off ARGS --iommu amd --cmdline amdvi=off
  LINES "^amdvi: disabled on the command line: DMA is NOT isolated" "no IOMMU: DMA is not isolated")

if(COMMAND moat_groups_test)
  foreach(ref 01-rc-endpoints 02-multifunction 04-root-ports)
    moat_groups_test(linux-${ref}-amdvi ${LINUX_GROUPS}/${ref}.txt ${LINUX_GROUPS}/${ref}.groups
                     --iommu amd)
  endforeach()
  foreach(topo ${MOAT_TOPOLOGIES})
    get_filename_component(tname ${topo} NAME_WE)
    string(REGEX REPLACE "\\.txt$" ".groups" expected ${topo})
    moat_groups_test(${tname}-amdvi ${topo} ${expected} --iommu amd)
  endforeach()
endif()

# amdvi=poll,noir: the event log polled (no MSI) and interrupts not remapped; the DMA checks hold.
moat_qemu_test(ktests_amd_poll_noir ARGS --tests --iommu amd --cmdline "tests=amdvi amdvi=poll,noir"
  LINES "the event log is polled" "event polling" "msi_through_irte # SKIP interrupt remapping off"
        "^[1-9][0-9]* passed, 0 failed"
  NO_LINES "interrupt remapping on")

# The vendor-neutral runs of the rest of the suite, under AMD-Vi as well.
# More than 4 GiB of RAM: memory above 4 GiB reachable through AMD-Vi domains.
moat_qemu_test(ktests_amd_big_memory ARGS --tests --iommu amd --cmdline tests=amdvi -- -m 6G
  LINES "^[1-9][0-9]* passed, 0 failed" "usable in page allocator" NO_LINES "EXCEPTION" "PANIC")
# The UEFI path (OVMF leaves the machine to moat; the IVRS comes from its ACPI tables).
moat_qemu_test(uefi_ktests_amd TIMEOUT ${UEFI_TIMEOUT}
  ARGS --boot uefi --tests --iommu amd --cmdline tests=amdvi,boot
  LINES "^moat: booting \\(uefi\\)" "^amdvi: amdvi0 at" "^ok [0-9]+ amdvi$"
        "^[1-9][0-9]* passed, 0 failed" "^moat: power off, status 0"
  NO_LINES "EXCEPTION" "PANIC" "moat-efi: error")
# The VFIO example with its MSI delivered without interrupt remapping (QEMU intremap=off): the
# IOMMU comes from a topology file, as above.
set(AMD_NOIR_EDU_TOPO ${CMAKE_CURRENT_BINARY_DIR}/amd-intremap-off-edu.txt)
file(WRITE ${AMD_NOIR_EDU_TOPO} "# written by tests/qemu/amd.cmake\n"
  "-device amd-iommu,intremap=off,pt=off\n"
  "-device edu,bus=pcie.0,addr=0x3\n")
moat_qemu_test(app.edu_vfio_amd_intremap_off
  ARGS --iommu none --topology ${AMD_NOIR_EDU_TOPO} --app ${PROJECT_SOURCE_DIR}/apps/edu_vfio.c
  LINES "interrupt remapping off" "^edu_vfio: 0 failed" NO_LINES "^FAIL")
# The Linux VFIO program's transcript: the same answers as on Linux under VT-d.
add_test(NAME qemu.app.vfio_tour_linux_transcript_amd
         COMMAND ${PROJECT_SOURCE_DIR}/tools/check-transcript.sh ${LINUX_VFIO}/vfio_tour.c
                 ${LINUX_VFIO}/vfio_tour.expected ${EDU_TOPO} --no-build --iommu amd)
set_tests_properties(qemu.app.vfio_tour_linux_transcript_amd PROPERTIES TIMEOUT 300 LABELS qemu
                     SKIP_RETURN_CODE 77 ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
# Block I/O on real disk images: the blk_disk pattern pass (checked from the host) and the
# read-write-verify appliance.
blk_disk_test(blk_disk_amd 120 --suite blk_disk --size-mib 16 --iommu amd)
add_test(NAME qemu.app.blk_verify_amd
         COMMAND ${EXPECT} --status 0 --line "^blk_verify: 2 devices, 0 failed passes"
                 --line "^vblk0 strict: 16 MiB .* 0 bad sectors" --line "^nvme0n1 pooled: 16 MiB .* 0 bad sectors"
                 --line "^amdvi: amdvi0 at"
                 -- ${PROJECT_SOURCE_DIR}/tools/run-with-disks.sh --no-build --timeout 300 --iommu amd
                    --app ${PROJECT_SOURCE_DIR}/apps/blk_verify.c --cmdline drivers=virtio-blk,nvme)
set_tests_properties(qemu.app.blk_verify_amd PROPERTIES TIMEOUT 300 LABELS qemu
                     ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
