# Freestanding AArch64 image for QEMU's virt machine, booted by QEMU -kernel through the arm64
# Image header (boot/arm64/entry.S).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(MOAT_ARCH aarch64)
set(MOAT_BOOT arm64)
set(MOAT_LINKER_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/../linker/aarch64-virt.ld)

# -mgeneral-regs-only: no FP/SIMD state to save in exception handlers. -fno-omit-frame-pointer:
# the exception dump walks frame records. -mstrict-align: nothing unaligned reaches device
# memory (MMIO) by accident. -mno-outline-atomics: atomics inline (libgcc's out-of-line ones ask
# the C library's getauxval which CPU they run on).
set(CMAKE_C_FLAGS_INIT "-ffreestanding -fno-stack-protector -fno-pic -fno-pie \
-mgeneral-regs-only -fno-omit-frame-pointer -fno-common -fno-builtin-printf -mstrict-align \
-mno-outline-atomics \
-mcmodel=small")
set(CMAKE_ASM_FLAGS_INIT "-fno-pic")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--gc-sections")

# Programs (--app) and the C library under them: the AArch64 ABI with its FP/SIMD registers (the
# runtime never touches them, so exceptions need not save them), static and not
# position-independent like the runtime; atomics inline and no unaligned access, as the runtime.
# MISSING_SYSCALL_NAMES: newlib's reentrant wrappers call write, sbrk, ... (the system layer's
# names), not _write, _sbrk, ... (aarch64-elf's default; x86_64-elf's newlib already does).
set(MOAT_PROGRAM_CFLAGS "-fno-pic -fno-pie -fno-stack-protector -fno-omit-frame-pointer -mcmodel=small -mno-outline-atomics -mstrict-align -DMISSING_SYSCALL_NAMES")
# newlib's target name and the compiler that builds it (tools/newlib.sh).
set(MOAT_NEWLIB_TARGET aarch64-elf)
set(MOAT_NEWLIB_CC aarch64-linux-gnu-gcc)
