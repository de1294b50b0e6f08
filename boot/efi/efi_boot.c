/* The runtime half of the UEFI boot: the hand-off from BOOTX64.EFI → boot_info → kmain.
 * Runs on moat's early page tables and boot stack (boot/efi/entry64.S). */
#include "boot/efi/handoff.h"

void efi_main64(const struct efi_handoff *h);
void early_panic(const char *msg);

void efi_main64(const struct efi_handoff *h)
{
    if (h->magic != EFI_HANDOFF_MAGIC || h->version != EFI_HANDOFF_VERSION ||
        h->size != sizeof(*h))
        early_panic("uefi: the loader's hand-off does not match this runtime "
                    "(BOOTX64.EFI and the runtime ELF come from different builds)");
    boot_info = h->info;
    boot_info.loader = "uefi";
    /* Boot time starts when the firmware handed the machine over. */
    boot_info.entry_tsc = h->exit_tsc;
    if (boot_info.nr_mem > BOOT_MAX_MEM_REGIONS)
        boot_info.nr_mem = BOOT_MAX_MEM_REGIONS;
    boot_info.cmdline[BOOT_CMDLINE_MAX - 1] = '\0';
    if (boot_info.nr_mem == 0)
        early_panic("uefi: the loader passed no memory map");
    kmain();
}
