# Build helpers shared by every component's CMakeLists.txt.
#
# moat_portable(NAME SRC...)   code that needs no hardware: built into the image, and for the host
#                              as the static library moat_NAME so host tests can link it.
# moat_image(SRC...)           image-only code (CPU, boot, drivers).
# moat_image_tests(SRC...)     in-image test suites: only in moat-tests.elf.
# moat_host_test(NAME SOURCES ... [LIBS ...] [TIMEOUT s])   a host test run by ctest.
# moat_bench(NAME SOURCES ... [LIBS ...])                    a host benchmark program.
# moat_fuzz_target(NAME SOURCES ... LIBS ... [COVER lib...] [CORPUS dir] [MAX_LEN n])
#                               a fuzz target (tests/host/fuzz/fuzz_main.c): libFuzzer with
#                               clang, COVER instrumented; a replay driver otherwise. ctest
#                               runs it for 5 s either way.

set(MOAT_WARNINGS -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wno-unused-parameter)
set(MOAT_INCLUDES ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)

if(MOAT_TARGET STREQUAL "host")
  set(MOAT_HOSTED 1)
  if(MOAT_SANITIZE)
    set(MOAT_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  endif()
else()
  set(MOAT_HOSTED 0)
endif()

function(moat_portable name)
  if(MOAT_HOSTED)
    add_library(moat_${name} STATIC ${ARGN})
    target_include_directories(moat_${name} PUBLIC ${MOAT_INCLUDES})
    target_compile_definitions(moat_${name} PUBLIC MOAT_HOSTED=1
        $<$<BOOL:${MOAT_DEBUG_ERRORS}>:MOAT_DEBUG_ERRORS=1>)
    target_compile_options(moat_${name} PRIVATE ${MOAT_WARNINGS} ${MOAT_SAN_FLAGS})
    target_link_options(moat_${name} PUBLIC ${MOAT_SAN_FLAGS})
  else()
    moat_image(${ARGN})
  endif()
endfunction()

function(moat_image)
  foreach(s ${ARGN})
    get_filename_component(abs ${s} ABSOLUTE)
    set_property(GLOBAL APPEND PROPERTY MOAT_IMAGE_SOURCES ${abs})
  endforeach()
endfunction()

function(moat_image_tests)
  foreach(s ${ARGN})
    get_filename_component(abs ${s} ABSOLUTE)
    set_property(GLOBAL APPEND PROPERTY MOAT_IMAGE_TEST_SOURCES ${abs})
  endforeach()
endfunction()

function(moat_host_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/host/host_shim.c)
  target_include_directories(${name} PRIVATE ${MOAT_INCLUDES})
  target_compile_definitions(${name} PRIVATE MOAT_HOSTED=1)
  target_compile_options(${name} PRIVATE ${MOAT_WARNINGS} ${MOAT_SAN_FLAGS})
  target_link_options(${name} PRIVATE ${MOAT_SAN_FLAGS})
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  add_test(NAME host.${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(host.${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS host)
endfunction()

function(moat_fuzz_target name)
  cmake_parse_arguments(F "" "CORPUS;MAX_LEN" "SOURCES;LIBS;COVER" ${ARGN})
  if(NOT F_MAX_LEN)
    set(F_MAX_LEN 4096)
  endif()
  add_executable(${name} ${F_SOURCES} ${PROJECT_SOURCE_DIR}/tests/host/fuzz/fuzz_main.c)
  target_include_directories(${name} PRIVATE ${MOAT_INCLUDES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    set(flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
    foreach(lib ${F_COVER})
      target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link)
    endforeach()
    target_compile_definitions(${name} PRIVATE MOAT_HOSTED=1 MOAT_LIBFUZZER=1)
    target_compile_options(${name} PRIVATE ${MOAT_WARNINGS} ${flags})
    target_link_options(${name} PRIVATE ${flags})
    set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}_work)
    file(MAKE_DIRECTORY ${work})
    add_test(NAME host.${name} COMMAND ${name} ${work} ${F_CORPUS} -max_total_time=5
                                       -max_len=${F_MAX_LEN})
  else()
    target_compile_definitions(${name} PRIVATE MOAT_HOSTED=1)
    target_compile_options(${name} PRIVATE ${MOAT_WARNINGS} ${MOAT_SAN_FLAGS})
    target_link_options(${name} PRIVATE ${MOAT_SAN_FLAGS})
    if(NOT F_CORPUS)
      set(F_CORPUS none)
    endif()
    add_test(NAME host.${name} COMMAND ${name} ${F_CORPUS} 5 ${F_MAX_LEN})
  endif()
  set_tests_properties(host.${name} PROPERTIES TIMEOUT 60 LABELS host)
endfunction()

function(moat_bench name)
  cmake_parse_arguments(B "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${B_SOURCES} ${PROJECT_SOURCE_DIR}/tests/host/host_shim.c)
  target_include_directories(${name} PRIVATE ${MOAT_INCLUDES})
  target_compile_definitions(${name} PRIVATE MOAT_HOSTED=1)
  target_compile_options(${name} PRIVATE ${MOAT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${B_LIBS})
endfunction()

# What QEMU boots, next to the ELF (which keeps the symbols): an arm64 Image is the ELF's loaded
# bytes, flat (its header is the first instruction's page, boot/arm64/entry.S).
function(moat_boot_image img)
  if(MOAT_BOOT STREQUAL "arm64")
    add_custom_command(TARGET ${img}.elf POST_BUILD
                       COMMAND ${CMAKE_OBJCOPY} -O binary ${img}.elf ${img}.img
                       COMMENT "Writing the arm64 Image ${img}.img")
  endif()
endfunction()

# The images of a target build: moat.elf (default: boots, reports, powers off) and
# moat-tests.elf (the same runtime plus the in-image test suites).
function(moat_link_images)
  get_property(srcs GLOBAL PROPERTY MOAT_IMAGE_SOURCES)
  get_property(tsrcs GLOBAL PROPERTY MOAT_IMAGE_TEST_SOURCES)
  add_library(moat_runtime OBJECT ${srcs})
  target_include_directories(moat_runtime PUBLIC ${MOAT_INCLUDES})
  target_compile_definitions(moat_runtime PUBLIC MOAT_HOSTED=0
      $<$<BOOL:${MOAT_DEBUG_ERRORS}>:MOAT_DEBUG_ERRORS=1>)
  target_compile_options(moat_runtime PUBLIC $<$<COMPILE_LANGUAGE:C>:${MOAT_WARNINGS}>)
  foreach(img moat moat-tests)
    add_executable(${img}.elf $<TARGET_OBJECTS:moat_runtime>)
    target_link_options(${img}.elf PRIVATE -T ${MOAT_LINKER_SCRIPT} -Wl,-Map,${img}.map)
    set_target_properties(${img}.elf PROPERTIES LINK_DEPENDS ${MOAT_LINKER_SCRIPT})
    target_link_libraries(${img}.elf PRIVATE gcc)
    moat_boot_image(${img})
  endforeach()
  add_library(moat_image_tests OBJECT ${tsrcs})
  target_link_libraries(moat_image_tests PRIVATE moat_runtime)
  target_sources(moat-tests.elf PRIVATE $<TARGET_OBJECTS:moat_image_tests>)
endfunction()
