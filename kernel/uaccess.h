/* The memory boundary of the Linux-compatible face. In one address space every address
 * translates, so "the program's memory" is a table: what it got from mmap (anonymous memory and
 * BAR mappings), its static data and its stack, each at the CPU protection it has. Every pointer
 * a program hands the face goes through the copy path below, and every range it asks a device to
 * reach through vm_dma_check; anything outside the table is -EFAULT, as Linux answers.
 *
 * The table is strict once vm_prog_strict(true) is called (an appliance image before main(), a
 * host test that wants bad pointers refused). Before that — the runtime's own drivers and
 * in-image tests — the copy path only refuses the zero page and wrapping ranges: those callers
 * are the runtime itself, trusted as the native API is. Portable: host tests drive it. */
#ifndef MOAT_KERNEL_UACCESS_H
#define MOAT_KERNEL_UACCESS_H

#include "lib/compiler.h"

/* Access bits (the CPU protection of a region, the access a copy or a device needs). */
#define VM_PROT_READ 0x1
#define VM_PROT_WRITE 0x2
#define VM_PROT_EXEC 0x4

/* What a region is: it decides whether a device may reach it. */
enum vm_kind {
    VM_KIND_ANON,       /* anonymous mmap (and the heap, which is made of it) */
    VM_KIND_BAR,        /* a BAR of a device the program opened, mapped by mmap */
    VM_KIND_STATIC,     /* the program's static data (.data/.bss, .rodata) */
    VM_KIND_STACK,      /* the program's stack: copies only (the runtime's frames share it) */
};

/* Adds [va, va + len) (page-rounded outwards) to the program's memory, replacing whatever part
 * of it was registered before: -EINVAL for len 0 or a wrapping range, -ENOMEM. */
int vm_prog_region(const void *va, size_t len, int prot, enum vm_kind kind);
/* Changes the protection of every registered page of [va, va + len): -ENOMEM when a page of it
 * is not the program's (Linux's mprotect answer), -EINVAL when va is not page-aligned. */
int vm_prog_protect(const void *va, size_t len, int prot);
/* Removes [va, va + len) from the program's memory (munmap). */
void vm_prog_forget(const void *va, size_t len);
/* The protection of the region holding va, or -EFAULT. */
int vm_prog_prot(const void *va);
void vm_prog_strict(bool on);
bool vm_prog_is_strict(void);
/* Forgets every region and leaves strict mode (host tests). */
void vm_prog_reset(void);

/* The program's frames on its stack begin at or above this address (the runtime's calls for a
 * system call run on the same stack, below it). Each system call sets it at its entry. */
void uaccess_enter(const void *frame);
#define UACCESS_ENTER() uaccess_enter(__builtin_frame_address(0))

/* 0 when every byte of [va, va + len) is program memory with at least prot, else -EFAULT. */
int uaccess_check(const void *va, size_t len, int prot);

/* The copy path of every face: -EFAULT (nothing copied) when the program's side is not its
 * memory with the access the copy needs. */
int uaccess_copy_from(void *dst, const void *usrc, size_t len);
int uaccess_copy_to(void *udst, const void *src, size_t len);
/* A NUL-terminated string of at most size - 1 bytes: its length, -EFAULT, or -ENAMETOOLONG. */
long uaccess_strncpy(char *dst, const char *usrc, size_t size);

/* May a device reach every page of [va, va + len) with access prot? Anonymous memory and static
 * data at the protection the program has (a device-writable mapping needs writable memory); a
 * BAR mapping only when allow_bar (type1 maps VM_PFNMAP ranges, IOMMUFD refuses them); never a
 * stack or anything not the program's. 0 or -EFAULT. Non-strict: 0 for any non-wrapping range. */
int vm_dma_check(const void *va, uint64_t len, int prot, bool allow_bar);

#endif
