/* An appliance image: after boot, run the program's main() on a stack of its own; its return
 * value is the guest's exit status. Before main, the program's memory is declared to
 * kernel/uaccess (its static data, its stack; mmap and the heap register themselves) and the
 * table becomes strict: from then on every pointer the program hands the face is checked. */
#include "arch/arch.h"
#include "kernel/boot_info.h"
#include "kernel/driver.h"
#include "kernel/uaccess.h"
#include "kernel/vm.h"
#include "lib/log.h"

#define PROG_STACK_SIZE (2u << 20)
#define EXIT_STATUS_MASK 0x7f       /* isa-debug-exit keeps the low bits of a status */

extern char __prog_rodata_start[], __prog_rodata_end[], __prog_data_start[], __prog_data_end[];

bool moat_is_app_image(void)
{
    return true;
}

int main(void);

static int prog_memory_declare(void **stack)
{
    int err = vm_map_stack(PROG_STACK_SIZE, stack);
    if (!err && __prog_data_end > __prog_data_start)
        err = vm_prog_region(__prog_data_start, (size_t)(__prog_data_end - __prog_data_start),
                             VM_PROT_READ | VM_PROT_WRITE, VM_KIND_STATIC);
    if (!err && __prog_rodata_end > __prog_rodata_start)
        err = vm_prog_region(__prog_rodata_start,
                             (size_t)(__prog_rodata_end - __prog_rodata_start), VM_PROT_READ,
                             VM_KIND_STATIC);
    return err;
}

int moat_image_main(void)
{
    void *stack;
    int err = prog_memory_declare(&stack);
    if (err) {
        kprintf("app: cannot set up the program's memory: %d\n", err);
        return EXIT_STATUS_MASK;
    }
    vm_prog_strict(true);
    int status = arch_call_on_stack(main, (char *)stack + PROG_STACK_SIZE);
    vm_prog_strict(false);
    return status & EXIT_STATUS_MASK;
}
