# AMD-Vi: the in-image suites under QEMU's amd-iommu, with interrupt remapping on (./moat run
# --iommu amd) and off, and the isolation groups of the reference topologies under AMD-Vi.
# (tests=amdvi,boot: the blk suite's stale_iova_blocked demands a fault record, which QEMU 10.0's
# amd-iommu never writes: its event log stays empty.)
moat_qemu_test(ktests_amd ARGS --tests --iommu amd --cmdline tests=amdvi,boot
  LINES "^ivrs:   IVHD 11h: IOMMU 0000:00:01.0" "^amdvi: amdvi0 at 0x[0-9a-f]+ .*4-level"
        "^ok [0-9]+ amdvi$" "^bench amdvi_map_unmap_4k [0-9]+ ns" "^[1-9][0-9]* passed, 0 failed"
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
