/* The mmap area: virtual ranges above the direct map, backed by pages that need not be
 * physically contiguous (anonymous memory) or by device registers (BAR mappings). An anonymous
 * range still mapped for DMA when it is unmapped keeps its pages for good (quarantined): memory
 * a device can reach is never handed out again. */
#ifndef MOAT_KERNEL_VM_H
#define MOAT_KERNEL_VM_H

#include "lib/compiler.h"

#define VM_AREA_START 0x0000400000000000ULL
#define VM_AREA_END 0x0000700000000000ULL

/* Everything mapped here is the program's (kernel/uaccess.h's table, at the protection given).
 * Anonymous, zero-filled, read/write memory; -ENOMEM, -EINVAL (len 0 or too big). */
int vm_map_anon(size_t len, void **out);
/* The same at a protection (VM_PROT_*; read-only pages are mapped read-only). PROT_NONE
 * reserves the address space alone, as Linux's lazily backed memory costs nothing until touched:
 * its pages (zero-filled) come with the first mprotect that allows access, and a touch before
 * that faults. */
int vm_map_anon_prot(size_t len, int prot, void **out);
/* The program's stack: anonymous read/write memory that copies may reach (above the running
 * system call's frames) but devices never do, and that munmap and mprotect refuse (-EINVAL):
 * the runtime's own calls and interrupt frames share it. */
int vm_map_stack(size_t len, void **out);
/* Unmaps a whole stack that vm_map_stack made (a thread's, once it has ended); -EINVAL for
 * anything else. The caller must not be running on it. */
int vm_unmap_stack(void *va, size_t len);
/* Device registers at physical pa (uncached), a BAR the program mapped; -EINVAL when misaligned. */
int vm_map_mmio(uint64_t pa, size_t len, int prot, void **out);
/* Unmaps the range [va, va + len) that must be exactly one earlier mapping (-EINVAL otherwise). */
int vm_unmap(void *va, size_t len);
/* mprotect of mmap'd memory: -EINVAL (misaligned, unknown bits), -ENOMEM (a page of the range is
 * not mapped here). A page a device may write stays writable for the device, as on Linux, where
 * the pin outlives the CPU's protection; only the CPU and later map calls see the change. */
int vm_protect(void *va, size_t len, int prot);

/* The system calls of the program's memory, with Linux's answers for bad arguments. mmap takes
 * MAP_FIXED and MAP_FIXED_NOREPLACE inside the mmap area; munmap unmaps whatever is mapped in
 * the range (parts of mappings, holes allowed), as Linux does. */
int sys_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off, void **out);
int sys_munmap(void *addr, size_t len);
int sys_mprotect(void *addr, size_t len, int prot);

/* The bytes from va that are one physically contiguous run, at most len (0: va is unmapped). */
uint64_t vm_phys_run(const void *va, uint64_t len, uint64_t *pa);
/* The question the object layer asks for the Linux face: may a device reach [va, va + len) with
 * access prot (VM_PROT_*), and where is it? vm_dma_check (the program's memory at that
 * protection; BARs when allow_bar), then one contiguous run; -EFAULT otherwise. The pages stay
 * while a device can reach them (vm_unmap quarantines them). */
int vm_dma_pin(const void *va, uint64_t len, int prot, bool allow_bar, uint64_t *pa);
/* Asks whether any byte of [va, va + len) is mapped for DMA. The IOMMU object layer registers
 * it (kernel/vm sits below that layer); vm_unmap of such a range quarantines its pages. */
typedef bool (*vm_pinned_fn)(const void *va, uint64_t len);
void vm_set_pinned_query(vm_pinned_fn fn);
/* The physical address behind a CPU address of the runtime (direct map or mmap area). */
int vm_virt_to_phys(const void *va, uint64_t *pa);
/* fork with vfork's rule (posix/proc.c): the child runs in its parent's memory, and the parent's
 * private memory — its anonymous MAP_PRIVATE mappings (the heap among them) and its static data
 * [data, data + data_len) — is copied aside at the fork and put back when the child ends, as if
 * the child had had its own copy. MAP_SHARED memory, BARs and stacks are not copied (the
 * stack is fork's own business). vm_fork_restore also unmaps every mapping the child made (its
 * threads' stacks too: the caller must not be running on one), as a process exit does, and frees the image; vm_fork_discard frees one without restoring. */
struct vm_fork_image;
int vm_fork_save(void *data, size_t data_len, struct vm_fork_image **out);
void vm_fork_restore(struct vm_fork_image *img);
void vm_fork_discard(struct vm_fork_image *img);
/* Pages held back because a device could still reach them when their range was unmapped. */
uint64_t vm_quarantined_pages(void);

#endif
