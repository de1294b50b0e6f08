/* BOOTX64.EFI proper: nothing happens between GetMemoryMap and ExitBootServices. */
#include "loader.h"

void loader_hook_before_exit(int attempt)
{
}
