# UEFI boot: OVMF boots the appliance disk image (tools/image.sh) alone, under the emulated Intel
# IOMMU, and runs what the PVH path runs. Included from tests/qemu/CMakeLists.txt.
set(UEFI_TOOL ${PROJECT_SOURCE_DIR}/tools/uefi-test.sh)
set(UEFI_TIMEOUT 120)

moat_qemu_test(uefi_ktests_intel TIMEOUT ${UEFI_TIMEOUT} ARGS --boot uefi --tests
  LINES "^moat-efi: exiting boot services" "^moat: booting \\(uefi\\)" "^KTAP version 1"
        "^[1-9][0-9]* passed, 0 failed" "regions from the uefi loader" "^moat: power off, status 0"
  NO_LINES "EXCEPTION" "PANIC" "moat-efi: error")
moat_qemu_test(uefi_boot_default TIMEOUT ${UEFI_TIMEOUT} ARGS --boot uefi
  LINES "^moat: ready in [0-9]+ us" "^acpi:   DMAR at" "^acpi: RSDP at" "^iommu_group [0-9]+: "
        "^moat: power off, status 0"
  NO_LINES "EXCEPTION" "PANIC")
moat_qemu_test(uefi_no_iommu TIMEOUT ${UEFI_TIMEOUT} ARGS --boot uefi --tests --iommu none
  LINES "^moat-efi: no DMAR table" "^[1-9][0-9]* passed, 0 failed" NO_LINES "acpi:   DMAR")
# RAM above 4 GiB: the hand-off and the early map stay below it, the memory map goes beyond.
moat_qemu_test(uefi_ktests_big_memory TIMEOUT ${UEFI_TIMEOUT} ARGS --boot uefi --tests -- -m 6G
  LINES "^[1-9][0-9]* passed, 0 failed" "^mem:   0x000100000000-0x0001[0-9a-f]+ usable")
# The command line travels in the image (EFI/moat/cmdline.txt).
moat_qemu_test(uefi_cmdline STATUS 1 TIMEOUT ${UEFI_TIMEOUT}
  ARGS --boot uefi --tests --cmdline tests=no_such_suite
  LINES "^moat-efi: command line \"tests=no_such_suite\"" "no test suite matched")
# A CPU exception after a UEFI boot dumps and symbolizes as after PVH.
moat_qemu_test(uefi_crash_null_dereference STATUS 3 TIMEOUT ${UEFI_TIMEOUT}
  ARGS --boot uefi --tests --cmdline tests=crash_null
  LINES "EXCEPTION: vector 14 \\(page fault\\)" "null_dereference" "moat: power off, status 3")

add_test(NAME uefi.image_reproducible
         COMMAND ${UEFI_TOOL} reproducible ${MOAT_IMAGE_BUILD_DIR})
set_tests_properties(uefi.image_reproducible PROPERTIES TIMEOUT 60 LABELS qemu)

# Damaged images end with a message naming the damage and a non-zero status, never a hang.
# uefi_damaged(NAME MODE STATUS LINES...)
function(uefi_damaged name mode status)
  set(checks --status ${status})
  foreach(re ${ARGN})
    list(APPEND checks --line ${re})
  endforeach()
  add_test(NAME qemu.${name}
           COMMAND ${EXPECT} ${checks} --no-line "moat: booting"
                   -- ${UEFI_TOOL} damaged ${mode} ${MOAT_IMAGE_BUILD_DIR} --timeout ${UEFI_TIMEOUT})
  set_tests_properties(qemu.${name} PROPERTIES TIMEOUT ${UEFI_TIMEOUT} LABELS qemu
                       ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
endfunction()
uefi_damaged(uefi_damaged_elf_crc elf-crc 4
  "moat-efi: error: .*moat.elf is corrupted: its CRC-32 is [0-9A-F]+, the image recorded"
  "^moat: power off, status 4")
uefi_damaged(uefi_damaged_elf_truncated elf-truncated 4
  "moat-efi: error: .*moat.elf refused: segment data lies outside the file \\(truncated\\?\\)")
uefi_damaged(uefi_damaged_not_elf elf-not-elf 4
  "moat-efi: error: .*moat.elf refused: not an ELF file \\(bad magic\\)")
# The first ExitBootServices fails on a stale map key (the test loader changes the map after
# GetMemoryMap): the loader must take a fresh map and try again.
add_test(NAME qemu.uefi_stale_map_key
         COMMAND ${EXPECT} --status 0 --line "^moat-efi: test: changing the memory map"
                 --line "^[1-9][0-9]* passed, 0 failed"
                 -- ${UEFI_TOOL} damaged stale-key ${MOAT_IMAGE_BUILD_DIR} --timeout ${UEFI_TIMEOUT})
set_tests_properties(qemu.uefi_stale_map_key PROPERTIES TIMEOUT ${UEFI_TIMEOUT} LABELS qemu
                     ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
# The backup GPT header at the end of the disk is valid too: the firmware boots from it.
add_test(NAME qemu.uefi_damaged_primary_gpt
         COMMAND ${EXPECT} --status 0 --line "^[1-9][0-9]* passed, 0 failed"
                 -- ${UEFI_TOOL} damaged gpt-primary ${MOAT_IMAGE_BUILD_DIR} --timeout ${UEFI_TIMEOUT})
set_tests_properties(qemu.uefi_damaged_primary_gpt PROPERTIES TIMEOUT ${UEFI_TIMEOUT} LABELS qemu
                     ENVIRONMENT "MOAT_BUILD_DIR=${MOAT_IMAGE_BUILD_DIR}/..")
uefi_damaged(uefi_damaged_bootx64 efi-truncated 125
  "BdsDxe: failed to load Boot0001"
  "moat: the firmware did not start moat from this disk")

# The loader's ELF checks and memory-map conversion, on the host (ASan/UBSan).
moat_host_test(test_efi_loader
  SOURCES ${PROJECT_SOURCE_DIR}/boot/efi/tests/test_efi_loader.c
          ${PROJECT_SOURCE_DIR}/boot/efi/loader/elf_check.c
          ${PROJECT_SOURCE_DIR}/boot/efi/loader/memmap.c
  LIBS moat_lib)
