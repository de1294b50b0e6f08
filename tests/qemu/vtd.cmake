# The Intel VT-d matrix: every in-image suite under each QEMU intel-iommu configuration, with
# a second edu device. Each cell checks the unit came up in the expected mode, that every suite
# passed, and that blocked DMA was reported on the boot log's "dma fault:" line.
set(VTD_OK "^[1-9][0-9]* passed, 0 failed" "^moat: power off, status 0")
set(VTD_BAD "EXCEPTION" "PANIC" "not ok")
set(VTD_FAULT_LINE "^dma fault: dev 0000:00:0[0-9a-f]\\.0 iova 0x300000 write reason [0-9]+ \\(")

# moat_vtd_cell(NAME IOMMU MODE_REGEX QEMU-ARGS...)
function(moat_vtd_cell name iommu mode)
  moat_qemu_test(vtd_${name}
    LINES ${VTD_OK} "^vtd: dmar0 at 0x[0-9a-f]+: .*${mode}" ${VTD_FAULT_LINE}
          "^bench vtd_map_unmap_4k [0-9]+ ns" "^bench vtd_api_map_unmap_vs_inval [0-9.]+ x"
    NO_LINES ${VTD_BAD}
    ARGS --tests --iommu ${iommu} -- -device edu ${ARGN})
endfunction()

moat_vtd_cell(legacy intel "legacy mode, 4-level \\(48-bit\\)")
moat_vtd_cell(caching_mode_on intel "caching mode" -global intel-iommu.caching-mode=on)
moat_vtd_cell(caching_mode_off intel "legacy mode" -global intel-iommu.caching-mode=off)
moat_vtd_cell(aw39 intel "3-level \\(39-bit\\)" -global intel-iommu.aw-bits=39)
moat_vtd_cell(aw48 intel "4-level \\(48-bit\\)" -global intel-iommu.aw-bits=48)
# Interrupt remapping on and off (a property of the IOMMU's -device line: a -global cannot
# override moat's explicit intremap=on).
foreach(ir on off)
  set(ir_lines "^vtd: dmar0: interrupt remapping on")
  set(ir_no "")
  if(ir STREQUAL off)
    set(ir_lines "^dmar: host address width [0-9]+, flags 0$")
    set(ir_no "interrupt remapping on")
  endif()
  moat_qemu_test(vtd_intremap_${ir}
    LINES ${VTD_OK} "^vtd: dmar0 at 0x[0-9a-f]+: .*legacy mode" ${VTD_FAULT_LINE} ${ir_lines}
    NO_LINES ${VTD_BAD} ${ir_no}
    ARGS --tests --iommu intel,intremap=${ir} -- -device edu)
endforeach()
moat_vtd_cell(scalable_ss intel-scalable "scalable mode, 4-level")
moat_vtd_cell(scalable_fs intel-scalable "scalable mode.*first stage" -global intel-iommu.x-flts=on)
moat_vtd_cell(scalable_cm intel-scalable "scalable mode.*caching mode"
              -global intel-iommu.caching-mode=on)

# Interrupt remapping on: an IRTE per MSI, and DMA into the interrupt window (the edu device
# reaching above 28 bits) faults instead of becoming an interrupt.
foreach(mode intel intel-scalable)
  moat_qemu_test(vtd_intremap_window_${mode}
    LINES ${VTD_OK} "^vtd: dmar0: interrupt remapping on" "ok [0-9]+ msi_through_irte # [0-9]"
          "ok [0-9]+ interrupt_window_blocked # [0-9]"
          "reason 34 \\(interrupt entry not present\\)"
          "reason 38 \\(interrupt source-id check failed\\)"
    NO_LINES ${VTD_BAD}
    ARGS --tests --cmdline tests=vtd --iommu ${mode} -- -global edu.dma_mask=0xffffffffffffffff)
endforeach()

# Register-based invalidation (QEMU always offers QI: vtd=noqi declines it).
moat_qemu_test(vtd_register_invalidation
  LINES ${VTD_OK} "register invalidation" ${VTD_FAULT_LINE}
  NO_LINES ${VTD_BAD}
  ARGS --tests --cmdline "tests=vtd vtd=noqi" --iommu intel -- -device edu)

# A fault storm: 10 devices x 200 bad DMAs while an 11th keeps copying correctly.
moat_qemu_test(vtd_fault_storm TIMEOUT 200
  LINES ${VTD_OK} "^vtd_storm: 2000 bad DMAs from 10 devices .* good device 200/200 rounds"
        "faults from this device, the rest not printed|primary fault overflow"
  NO_LINES ${VTD_BAD}
  ARGS --tests --cmdline "tests=vtd_storm storm=200" --iommu intel --
       -device edu -device edu -device edu -device edu -device edu
       -device edu -device edu -device edu -device edu -device edu)

# x2APIC destinations in IRTEs (EIM).
moat_vtd_cell(eim intel "legacy mode" -global intel-iommu.eim=on)

# Device-TLB: a virtio-blk with ATS behind a root port; its invalidations ride in the same wait.
set(VTD_ATS_ARGS -global intel-iommu.device-iotlb=on
    -device pcie-root-port,id=rp9,bus=pcie.0,chassis=9
    -blockdev driver=null-co,node-name=nb9,size=67108864
    -device virtio-blk-pci,bus=rp9,drive=nb9,ats=on,iommu_platform=on,disable-legacy=on)
foreach(mode intel intel-scalable)
  moat_qemu_test(vtd_device_tlb_${mode}
    LINES ${VTD_OK} "^vtd: dmar0: ATS on for 01:00\\.0" "ok [0-9]+ device_tlb_with_domain # [0-9]"
    NO_LINES ${VTD_BAD}
    ARGS --tests --iommu ${mode} -- -device edu ${VTD_ATS_ARGS})
endforeach()

# A function behind a PCIe-to-PCI bridge (DMA and MSI arrive with the bridge's requester ID).
foreach(mode intel intel-scalable)
  moat_qemu_test(vtd_bridge_alias_${mode}
    LINES ${VTD_OK} "ok [0-9]+ aliased_function # [0-9]"
    NO_LINES ${VTD_BAD}
    ARGS --tests --cmdline tests=vtd --iommu ${mode} --
         -device pcie-pci-bridge,id=br1,bus=pcie.0,addr=0x9 -device edu,bus=br1,addr=0x1)
endforeach()

# The block drivers' data tests (write, read back, verify, across strict and pooled modes) on
# real image files under the rest of the VT-d matrix (blk.cmake covers legacy, scalable and AMD).
foreach(cell "caching_mode;intel;;-global;intel-iommu.caching-mode=on"
             "aw39;intel;;-global;intel-iommu.aw-bits=39"
             "intremap_off;intel,intremap=off;"
             "register_invalidation;intel;vtd=noqi"
             "scalable_fs;intel-scalable;;-global;intel-iommu.x-flts=on"
             "scalable_cm;intel-scalable;;-global;intel-iommu.caching-mode=on")
  list(GET cell 0 cname)
  list(GET cell 1 ciommu)
  list(GET cell 2 ccmdline)
  set(cqemu "")
  list(LENGTH cell clen)
  if(clen GREATER 3)
    list(SUBLIST cell 3 -1 cqemu)
  endif()
  set(cargs --suite blk_rw --size-mib 8 --iommu ${ciommu})
  if(ccmdline)
    list(APPEND cargs --cmdline ${ccmdline})
  endif()
  if(cqemu)
    list(APPEND cargs -- ${cqemu})
  endif()
  blk_disk_test(blk_rw_vtd_${cname} 120 ${cargs})
endforeach()
