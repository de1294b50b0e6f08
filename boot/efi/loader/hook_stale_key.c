/* The test loader (BOOTX64-stale-key.EFI): changes the memory map after the first GetMemoryMap,
 * as firmware events can on real machines, so that the first ExitBootServices gets a stale map
 * key and the retry loop in main.c has to work. */
#include "loader.h"

void loader_hook_before_exit(int attempt)
{
    EFI_PHYSICAL_ADDRESS pa;
    if (attempt != 0)
        return;
    Print(L"moat-efi: test: changing the memory map before ExitBootServices\n");
    BS->AllocatePages(AllocateAnyPages, EfiLoaderData, 1, &pa);
}
