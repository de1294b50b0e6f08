# Arm SMMUv3 on QEMU's virt machine (./moat run --iommu smmuv3: -machine virt,iommu=smmuv3, the
# aarch64-virt images). The default boot puts every function on its own translated domain (the
# host bridge stays blocked); the in-image suites: smmuv3 (the isolation cases with their fault
# records, the MSI window, replace, stage 2, the unit's own error paths and the bench lines)
# with blk (data checked, completions by MSI through the window) and boot; the same polled;
# smmuv3=off; and the example programs on the Linux-compatible face.
moat_qemu_test(arm64.boot_smmuv3 ARGS --iommu smmuv3
  LINES "^smmuv3: smmu0 at 0x9050000: .*stage 1 and 2, 2-level stream table \\(16 StreamID bits\\), 44-bit output"
        "MSI window 0x8000000 -> 0x8090040, events by interrupt"
        "^edu: 0000:00:03.0: .*own paging domain" "^nvme: 0000:00:05.0: .*own paging domain"
        "^virtio-blk: 0000:00:04.0: .*own paging domain" "^moat: ready in [0-9]+ us"
        "^moat: power off, status 0"
  NO_LINES "EXCEPTION" "PANIC" "bring-up failed" "not isolated" "^dma fault:" "global error")
moat_qemu_test(arm64.ktests_smmuv3 ARGS --tests --iommu smmuv3 --cmdline tests=smmuv3,blk,boot
  LINES "^ok [0-9]+ smmuv3$" "^ok [0-9]+ blk$" "^ok [0-9]+ boot$"
        "^dma fault: dev 0000:00:03.0 iova 0x6a3000 write reason 16 \\(F_TRANSLATION: no translation\\)$"
        "completion interrupts on vector [0-9]+ \\(message 0x8000040/"
        "^bench smmuv3_map_unmap_4k [0-9]+ ns" "^bench smmuv3_inval_4k [0-9]+ ns"
        "^bench smmuv3_api_map_unmap_vs_inval [0-9.]+ x" "^[1-9][0-9]* passed, 0 failed"
  NO_LINES "EXCEPTION" "PANIC" "bring-up failed")
moat_qemu_test(arm64.ktests_smmuv3_poll ARGS --tests --iommu smmuv3
  --cmdline "tests=smmuv3 smmuv3=poll"
  LINES "events by polling" "^ok [0-9]+ smmuv3$" "^[1-9][0-9]* passed, 0 failed")
moat_qemu_test(arm64.boot_smmuv3_off ARGS --iommu smmuv3 --cmdline smmuv3=off
  LINES "^smmuv3: disabled on the command line: DMA is NOT isolated" "no IOMMU: DMA is not isolated")
moat_qemu_test(arm64.app.edu_iommufd_smmuv3 ARGS --iommu smmuv3 --topology ${EDU_TOPO}
  --app ${PROJECT_SOURCE_DIR}/apps/edu_iommufd.c
  LINES "^edu_iommufd: 0 failed" "^dma fault: dev 0000:00:03.0 iova 0x[0-9a-f]+ write"
  NO_LINES "^FAIL" "^skip:")
add_test(NAME qemu.arm64.app.blk_verify_smmuv3
         COMMAND ${EXPECT} --status 0 --line "^blk_verify: 2 devices, 0 failed passes"
                 --line "^smmuv3: smmu0 at" --line "^vblk0 strict: 16 MiB .* 0 bad sectors"
                 --line "^nvme0n1 pooled: 16 MiB .* 0 bad sectors"
                 -- ${PROJECT_SOURCE_DIR}/tools/run-with-disks.sh --no-build --timeout 300
                    --iommu smmuv3 --app ${PROJECT_SOURCE_DIR}/apps/blk_verify.c
                    --cmdline drivers=virtio-blk,nvme)
set_tests_properties(qemu.arm64.app.blk_verify_smmuv3 PROPERTIES TIMEOUT 300 LABELS qemu
                     ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
moat_nvme_vfio_test(arm64.nvme_vfio_smmuv3 ARGS --iommu smmuv3
  LINES "^smmuv3: smmu0 at" "^dma fault: dev 0000:00:05.0 iova 0x40100000 write reason 16"
        "^dma fault: dev 0000:00:05.0 iova 0x3ffff000 write reason 16")
# The isolation groups of every topology and reference machine are the same with the SMMUv3 on
# (functions behind PCIe-to-PCI bridges share the bridge's StreamID, hence one group).
foreach(topo ${MOAT_TOPOLOGIES})
  get_filename_component(tname ${topo} NAME_WE)
  string(REGEX REPLACE "\\.txt$" ".groups" expected ${topo})
  moat_groups_test(arm64.smmuv3.${tname} ${topo} ${expected} --arch aarch64 --iommu smmuv3)
endforeach()
foreach(ref 01-rc-endpoints 02-multifunction 04-root-ports)
  moat_groups_test(arm64.smmuv3.linux-${ref} ${LINUX_GROUPS}/${ref}.txt ${LINUX_GROUPS}/${ref}.groups
                   --arch aarch64 --iommu smmuv3)
endforeach()
# Nesting (issue 17): a Linux-style program's own stage 1 over moat's stage 2, through both
# stages byte for byte, a stage-1 move invalidated through the vIOMMU, a stage-1 fault from its
# vEVENTQ, a stage-2 fault on moat's fault path with the canaries intact; the cost lines.
moat_qemu_test(arm64.app.edu_nested_smmuv3 ARGS --iommu smmuv3 --topology ${EDU_TOPO}
  --app ${PROJECT_SOURCE_DIR}/apps/edu_nested.c
  LINES "^edu_nested: 0 failed" "^ok:   it went to page B, page A kept its bytes"
        "^ok:   a stage-1 F_TRANSLATION at the IOVA, with the virtual StreamID"
        "^dma fault: dev 0000:00:03.0 iova 0x201000 write reason 16"
        "^bench nested_s1_update_inval_4k [0-9]+ ns" "^bench nested_s2_map_unmap_4k [0-9]+ ns"
  NO_LINES "^FAIL" "^skip:")
# The face's memory boundary (issue 20) on SMMUv3: the same attack suite as on x86's units. A
# second edu is the other device whose DMA buffer (made by the runtime) must stay untouched.
set(SMMU_EDU2_TOPO ${CMAKE_CURRENT_BINARY_DIR}/smmu-face-edu2.txt)
file(WRITE ${SMMU_EDU2_TOPO} "# written by tests/qemu/smmu.cmake\n"
     "-device edu,bus=pcie.0,addr=0x3\n-device edu,bus=pcie.0,addr=0x4\n")
moat_qemu_test(arm64.app.face_boundary_smmuv3 ARGS --iommu smmuv3 --topology ${SMMU_EDU2_TOPO}
               --app ${PROJECT_SOURCE_DIR}/tests/apps/face_boundary.c
  LINES "^face_boundary: [0-9]+ cases, 0 failed" "^moat: power off, status 0"
  NO_LINES "^FAIL" "^skip:" "EXCEPTION" "PANIC")
# The VFIO example and Linux's transcript of vfio_tour on SMMUv3: the first open of a device
# turns its decode on (no firmware runs before moat on virt), as vfio-pci does.
moat_qemu_test(arm64.app.edu_vfio_smmuv3 ARGS --iommu smmuv3 --topology ${EDU_TOPO}
  --app ${PROJECT_SOURCE_DIR}/apps/edu_vfio.c
  LINES "^edu_vfio: 0 failed" NO_LINES "^FAIL")
add_test(NAME qemu.arm64.app.vfio_tour_linux_transcript_smmuv3
         COMMAND ${PROJECT_SOURCE_DIR}/tools/check-transcript.sh ${LINUX_VFIO}/vfio_tour.c
                 ${LINUX_VFIO}/vfio_tour.expected ${EDU_TOPO} --no-build --iommu smmuv3)
set_tests_properties(qemu.arm64.app.vfio_tour_linux_transcript_smmuv3 PROPERTIES TIMEOUT 300
                     LABELS qemu SKIP_RETURN_CODE 77
                     ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
