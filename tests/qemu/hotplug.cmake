# PCIe native hot-plug through the QMP harness (./moat run --qmp): the hotplug suite plugs and
# unplugs an edu into an empty pcie-root-port, a shortened count here (the cycle count is a
# command-line word), under each x86 IOMMU. The blink wait is cut from Linux's 5 s to 100 ms.
# Bound to the edu driver, every incarnation moves and checks 8 KiB by DMA and, from the second
# on, first aims a DMA at the IOVA the previous one had mapped: it must fault.
# pciehp_poll=0: nothing reads a slot unless its interrupt (the port's MSI-X or MSI) said so, so
# these pass only when the interrupts deliver the events; the suite counts them.
set(HP_TOPO ${PROJECT_SOURCE_DIR}/tests/topologies/10-hotplug.txt)
# The ctest name of a run under iommu: SMMUv3's are AArch64 runs, named arm64.<base>.
function(hp_name out base iommu)
  if(iommu STREQUAL smmuv3)
    set(${out} arm64.${base} PARENT_SCOPE)
  else()
    set(${out} ${base} PARENT_SCOPE)
  endif()
endfunction()
set(HP_WORDS "tests=hotplug pciehp_blink_ms=100 hp_cycles=10 pciehp_poll=0")
set(HP_IRQS "; [1-9][0-9]+ slot interrupts, ")
set(HP_LINES "^1 passed, 0 failed" "^pciehp: 0000:00:06.0: slot 1, empty.*; events by MSI-X$"
    "^pciehp: 0000:00:06.0: removed .attention button." ${HP_IRQS})
set(HP_EDU "^pciehp: 0000:00:06.0: added 0000:01:00.0 \\[1234:11e8\\]")
set(HP_BAD "EXCEPTION" "PANIC" "not ok" "cue .* failed" "-> error")
set(HP_DMA ${HP_EDU} "^hotplug: 10 cycles of edu,.* 81920 bytes verified, 9 DMAs to a previous device's IOVA blocked")
moat_qemu_test(hotplug_edu_intel TIMEOUT 240
  LINES ${HP_LINES} ${HP_DMA} ".9 fault records."
        "^dma fault: dev 0000:01:00.0 iova 0x1000000 write"
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --topology ${HP_TOPO} --cmdline ${HP_WORDS})
# QEMU 10.0's AMD-Vi writes no event log: the bytes alone show the old IOVA blocked.
moat_qemu_test(hotplug_edu_amd TIMEOUT 240
  LINES ${HP_LINES} ${HP_DMA}
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --iommu amd --topology ${HP_TOPO} --cmdline ${HP_WORDS})
# SMMUv3 on AArch64's virt: the same slot flow, the old IOVA blocked with an event record each.
moat_qemu_test(arm64.hotplug_edu_smmuv3 TIMEOUT 240
  LINES ${HP_LINES} ${HP_DMA} ".9 fault records."
        "^dma fault: dev 0000:01:00.0 iova 0x1000000 write reason 16 \\(F_TRANSLATION"
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --iommu smmuv3 --topology ${HP_TOPO} --cmdline ${HP_WORDS})
# The second attention-button press within the blink window cancels the removal (made at the
# slot's state machine: QEMU refuses device_del while the power indicator blinks); the edu
# stays and moves checked data, and a device_del 5 s later (QEMU's retry time) removes it.
foreach(iommu intel smmuv3)
  hp_name(name hotplug_cancel_${iommu} ${iommu})
  moat_qemu_test(${name} TIMEOUT 240
    LINES "^1 passed, 0 failed" "^pciehp: 0000:00:06.0: attention button pressed again: removal cancelled"
          "^hotplug: a second press within the blink window cancelled the removal .1 cancelled., the device stayed and moved 8192 bytes, a later press removed it"
    NO_LINES ${HP_BAD}
    ARGS --qmp --tests --iommu ${iommu} --topology ${HP_TOPO}
         --cmdline "tests=hotplug_cancel pciehp_blink_ms=100 pciehp_poll=0")
endforeach()
# An SR-IOV NIC: igb's 8 VFs enabled on every plug (sriov_numvfs=max), each in its own group and its unit's
# blocking domain, all gone on unplug. Under SMMUv3 the VFs' StreamIDs (RID through the
# iommu-map) are new stream table entries on every plug.
foreach(iommu intel amd smmuv3)
  hp_name(name hotplug_igb_${iommu} ${iommu})
  moat_qemu_test(${name} TIMEOUT 240
    LINES ${HP_LINES} "^pciehp: 0000:00:06.0: added 0000:01:11.6 \\[8086:10ca\\]"
          "^hotplug: 10 cycles of igb,.* 80 VFs"
    NO_LINES ${HP_BAD}
    ARGS --qmp --tests --iommu ${iommu} --topology ${HP_TOPO} --cmdline "${HP_WORDS} hp_add=igb sriov_numvfs=max")
endforeach()
# No driver may bind: the new function stays in its unit's blocking domain.
moat_qemu_test(hotplug_edu_unbound TIMEOUT 240
  LINES ${HP_LINES} ${HP_EDU} "^hotplug: 10 cycles of edu,.* 0 bytes verified"
  NO_LINES ${HP_BAD} "^edu: "
  ARGS --qmp --tests --topology ${HP_TOPO} --cmdline "${HP_WORDS} drivers=none")
# INTx where MSI is refused (pciehp_msi=0): QEMU's root ports lose their INTx level at every
# configuration write (pci_hotplug.c: slot_polled), so such a slot is polled as well.
moat_qemu_test(hotplug_edu_intx TIMEOUT 240
  LINES "^1 passed, 0 failed" "^pciehp: 0000:00:06.0: slot 1, empty.*; events by INTx, and polled$"
        ${HP_DMA}
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --topology ${HP_TOPO}
       --cmdline "tests=hotplug pciehp_blink_ms=100 hp_cycles=10 pciehp_msi=0")
# A function joining an existing group: plugged below a switch's downstream port without ACS
# (xio3130 downstream ports signal by MSI).
moat_qemu_test(hotplug_edu_switch TIMEOUT 240
  LINES "^1 passed, 0 failed" "^pciehp: 0000:02:00.0: slot 0, empty.*; events by MSI$" ${HP_IRQS}
        "^pciehp: 0000:02:00.0: added 0000:03:00.0 \\[1234:11e8\\] class 00ff00, group 4"
        "^iommu_group 4: 0000:02:00.0 0000:03:00.0" "^hotplug: 10 cycles of edu,.* 81920 bytes verified"
  NO_LINES ${HP_BAD}
  ARGS --qmp --tests --topology ${PROJECT_SOURCE_DIR}/tests/topologies/11-hotplug-switch.txt
       --cmdline "${HP_WORDS} hp_bus=dn1")

# Block devices: tools/hotplug-disks.sh gives the same topology two disks, hpd (a raw image:
# every plug writes the disk pattern and reads it back, alternating the pooled and strict DMA
# modes) and hpslow (a null disk whose I/Os take 1 s: unplugged with 8 reads in flight, which
# end with -ENODEV and whose buffers stay untouched afterwards).
set(HP_DISKS ${PROJECT_SOURCE_DIR}/tools/hotplug-disks.sh)
function(moat_hotplug_disk_test name)
  cmake_parse_arguments(H "" "" "LINES;ARGS" ${ARGN})
  moat_qemu_test(${name} TIMEOUT 240 RUNNER ${HP_DISKS} LINES ${HP_LINES} ${H_LINES}
                 NO_LINES ${HP_BAD} ARGS --tests ${H_ARGS})
endfunction()

# Completion interrupts are on (hp_irq=1): each I/O's arrives (through interrupt remapping, or
# the GICv3 ITS under SMMUv3), and every incarnation gets the first one's vector and message
# back, which the previous one must have given up.
set(HP_NVME "nvme,serial=hp,drive")
set(HP_VBLK "virtio-blk-pci,disable-legacy=on,iommu_platform=on,drive")
foreach(iommu intel amd smmuv3)
  hp_name(nvme hotplug_nvme_${iommu} ${iommu})
  hp_name(vblk hotplug_vblk_${iommu} ${iommu})
  moat_hotplug_disk_test(${nvme}
    LINES "^nvme: 0000:01:00.0: nvme0n1 " "^blk: nvme0n1: removed$"
          "^hotplug: 10 cycles of nvme,.* 20 I/Os .*, 20 completion interrupts.* 81920 bytes verified"
    ARGS --iommu ${iommu} --cmdline "${HP_WORDS} hp_irq=1 hp_add=${HP_NVME}=hpd")
  moat_hotplug_disk_test(${vblk}
    LINES "^virtio-blk: 0000:01:00.0: vblk0, " "^blk: vblk0: removed$"
          "^hotplug: 10 cycles of virtio-blk-pci,.* 20 I/Os .*, 20 completion interrupts.* 81920 bytes verified"
    ARGS --iommu ${iommu} --cmdline "${HP_WORDS} hp_irq=1 hp_add=${HP_VBLK}=hpd")
endforeach()
set(HP_INFLIGHT "tests=hotplug pciehp_blink_ms=100 hp_cycles=4 hp_inflight=1 hp_nodata=1 pciehp_poll=0")
# Unplugged with I/Os in flight: NVMe under VT-d, virtio-blk under AMD-Vi, both under SMMUv3.
function(moat_hotplug_inflight_test name kind iommu)
  if(kind STREQUAL nvme)
    set(disk nvme0n1)
    set(dev ${HP_NVME})
  else()
    set(disk vblk0)
    set(dev ${HP_VBLK})
  endif()
  string(REGEX REPLACE ",.*" "" driver "${dev}")
  moat_hotplug_disk_test(${name}
    LINES "^blk: ${disk}: removed; [1-8] I/Os it held ended with -ENODEV"
          "^hotplug: 4 cycles of ${driver},.* .[1-9][0-9]* ended by removal with -ENODEV"
    ARGS --iommu ${iommu} --cmdline "${HP_INFLIGHT} hp_add=${dev}=hpslow")
endfunction()
moat_hotplug_inflight_test(hotplug_nvme_inflight nvme intel)
moat_hotplug_inflight_test(hotplug_vblk_inflight vblk amd)
moat_hotplug_inflight_test(arm64.hotplug_nvme_inflight_smmuv3 nvme smmuv3)
moat_hotplug_inflight_test(arm64.hotplug_vblk_inflight_smmuv3 vblk smmuv3)

# Hung devices: the 1 s disk at boot behind NVMe, deadlines of 300 ms (tests/image/test_blk_recover.c).
moat_qemu_test(blk_recover_hung TIMEOUT 240 RUNNER ${HP_DISKS}
  LINES "^2 passed, 0 failed" "^blk: nvme0n1: reset and brought up again .recovery 1 of 3."
        "^blk: nvme0n1: misbehaved again after 3 resets: given up, its DMA blocked"
  NO_LINES "EXCEPTION" "PANIC"
  ARGS --tests --cmdline tests=blk_recover -- -device nvme,bus=pcie.0,addr=0x9,drive=hpslow,serial=slow)

# A VFIO program holding the device when it is unplugged: the request eventfd, the device kept
# until the program closes it, then gone, and what referred to it refused (apps/hotplug_vfio.c).
foreach(iommu intel amd)
  moat_qemu_test(app.hotplug_vfio_${iommu} TIMEOUT 240
    LINES "^hotplug_vfio: all checks hold" "^vfio-pci 0000:01:00.0: requesting the device"
          "^pciehp: 0000:00:06.0: removed .attention button."
    NO_LINES "FAIL" "EXCEPTION" "PANIC" ${HP_BAD}
    ARGS --qmp --iommu ${iommu} --topology ${HP_TOPO} --app ${PROJECT_SOURCE_DIR}/apps/hotplug_vfio.c
         --cmdline "pciehp_blink_ms=100 pciehp_poll=0")
endforeach()

# Function reset with DMA mapped: SBR for the edu alone below rp2, FLR for an NVMe controller
# (tests/image/test_reset.c). VT-d only for now: under QEMU's AMD-Vi an edu enumerated at boot
# below a root port moves no data at all (the amdvi suite fails the same way on this topology).
moat_qemu_test(reset_intel TIMEOUT 240 RUNNER ${HP_DISKS}
  LINES "^2 passed, 0 failed" NO_LINES "# SKIP" "EXCEPTION" "PANIC"
  ARGS --tests --cmdline tests=reset -- -device nvme,bus=pcie.0,addr=0x9,drive=hpd,serial=r)

# SR-IOV at run time on igb with its VFs off at boot (tests/image/test_sriov.c): enabled,
# grouped and blocked, kept while held, disabled with every heap byte and page back, kept across
# a reset of the PF; under VT-d, AMD-Vi and SMMUv3.
foreach(iommu intel amd smmuv3)
  hp_name(name sriov_runtime_${iommu} ${iommu})
  moat_qemu_test(${name} TIMEOUT 240
    LINES "^2 passed, 0 failed" "^sriov: 8 VFs enabled and disabled at run time, heap and pages back"
    NO_LINES "# SKIP" "EXCEPTION" "PANIC"
    ARGS --tests --iommu ${iommu} --topology ${PROJECT_SOURCE_DIR}/tests/topologies/igb.txt
         --cmdline tests=sriov)
endforeach()
