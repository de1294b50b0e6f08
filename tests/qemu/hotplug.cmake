# PCIe native hot-plug through the QMP harness (./moat run --qmp): the hotplug suite plugs and
# unplugs an edu into an empty pcie-root-port, a shortened count here (the cycle count is a
# command-line word), under each x86 IOMMU. The blink wait is cut from Linux's 5 s to 100 ms.
set(HP_TOPO ${PROJECT_SOURCE_DIR}/tests/topologies/10-hotplug.txt)
set(HP_CMDLINE "tests=hotplug pciehp_blink_ms=100 hp_cycles=10")
foreach(iommu intel amd)
  moat_qemu_test(hotplug_edu_${iommu} TIMEOUT 240
    LINES "^1 passed, 0 failed" "^pciehp: 0000:00:06.0: slot 1, empty"
          "^pciehp: 0000:00:06.0: added 0000:01:00.0 \\[1234:11e8\\]"
          "^pciehp: 0000:00:06.0: removed \\(attention button\\)" "^hotplug: 10 cycles"
    NO_LINES "EXCEPTION" "PANIC" "not ok" "cue .* failed" "-> error"
    ARGS --qmp --tests --iommu ${iommu} --topology ${HP_TOPO} --cmdline ${HP_CMDLINE})
endforeach()
