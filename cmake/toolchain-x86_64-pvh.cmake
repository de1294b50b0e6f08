# Freestanding x86_64 image, booted by QEMU -kernel through the PVH entry note.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER gcc)
set(CMAKE_ASM_COMPILER gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(MOAT_ARCH x86_64)
set(MOAT_BOOT pvh)
set(MOAT_LINKER_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/../linker/x86_64-pvh.ld)

# -mno-red-zone: interrupts push onto the current stack. -mgeneral-regs-only: no SSE state
# to save in handlers. -fno-omit-frame-pointer: the exception dump walks frame pointers.
set(CMAKE_C_FLAGS_INIT "-ffreestanding -fno-stack-protector -fno-pic -fno-pie -mno-red-zone \
-mgeneral-regs-only -fno-omit-frame-pointer -fno-common -fno-builtin-printf \
-mno-80387 -mno-mmx -mno-sse -mno-sse2 -mcmodel=small")
set(CMAKE_ASM_FLAGS_INIT "-fno-pic")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--gc-sections")

# Programs (--app) and the C library under them: the x86_64 ABI with its float registers (the
# runtime never touches them, so interrupts need not save them), no red zone (interrupts push
# onto the program's stack), static and not position-independent like the runtime.
set(MOAT_PROGRAM_CFLAGS "-mno-red-zone -fno-pic -fno-pie -fno-stack-protector -fno-omit-frame-pointer -mcmodel=small")
# newlib's target name and the compiler that builds it (tools/newlib.sh).
set(MOAT_NEWLIB_TARGET x86_64-elf)
set(MOAT_NEWLIB_CC gcc)
