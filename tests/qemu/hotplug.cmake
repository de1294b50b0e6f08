# PCIe native hot-plug through the QMP harness (./moat run --qmp): the hotplug suite plugs and
# unplugs an edu into an empty pcie-root-port, a shortened count here (the cycle count is a
# command-line word), under each x86 IOMMU. The blink wait is cut from Linux's 5 s to 100 ms.
# Bound to the edu driver, every incarnation moves and checks 8 KiB by DMA and, from the second
# on, first aims a DMA at the IOVA the previous one had mapped: it must fault.
set(HP_TOPO ${PROJECT_SOURCE_DIR}/tests/topologies/10-hotplug.txt)
set(HP_WORDS "tests=hotplug pciehp_blink_ms=100 hp_cycles=10")
set(HP_LINES "^1 passed, 0 failed" "^pciehp: 0000:00:06.0: slot 1, empty"
    "^pciehp: 0000:00:06.0: added 0000:01:00.0 \\[1234:11e8\\]"
    "^pciehp: 0000:00:06.0: removed \\(attention button\\)")
set(HP_BAD "EXCEPTION" "PANIC" "not ok" "cue .* failed" "-> error")
set(HP_DMA "^hotplug: 10 cycles, .* 81920 bytes verified, 9 DMAs to a previous device's IOVA blocked")
moat_qemu_test(hotplug_edu_intel TIMEOUT 240
  LINES ${HP_LINES} ${HP_DMA} "\\(9 fault records\\)"
        "^dma fault: dev 0000:01:00.0 iova 0x1000000 write"
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --topology ${HP_TOPO} --cmdline ${HP_WORDS})
# QEMU 10.0's AMD-Vi writes no event log: the bytes alone show the old IOVA blocked.
moat_qemu_test(hotplug_edu_amd TIMEOUT 240
  LINES ${HP_LINES} ${HP_DMA}
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --iommu amd --topology ${HP_TOPO} --cmdline ${HP_WORDS})
# No driver may bind: the new function stays in its unit's blocking domain.
moat_qemu_test(hotplug_edu_unbound TIMEOUT 240
  LINES ${HP_LINES} "^hotplug: 10 cycles, .* 0 bytes verified"
  NO_LINES ${HP_BAD} "^edu: "
  ARGS --qmp --tests --topology ${HP_TOPO} --cmdline "${HP_WORDS} drivers=none")
# A function joining an existing group: plugged below a switch's downstream port without ACS.
moat_qemu_test(hotplug_edu_switch TIMEOUT 240
  LINES "^1 passed, 0 failed" "^pciehp: 0000:02:00.0: slot 0, empty"
        "^pciehp: 0000:02:00.0: added 0000:03:00.0 \\[1234:11e8\\] class 00ff00, group 4"
        "^iommu_group 4: 0000:02:00.0 0000:03:00.0" "^hotplug: 10 cycles, .* 81920 bytes verified"
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --topology ${PROJECT_SOURCE_DIR}/tests/topologies/11-hotplug-switch.txt
       --cmdline "${HP_WORDS} hp_bus=dn1")
