/* An appliance image: after boot, run the program's main(); its return value is the guest's
 * exit status. */
#include "kernel/boot_info.h"
#include "kernel/driver.h"

bool moat_is_app_image(void)
{
    return true;
}

int main(void);

int moat_image_main(void)
{
    return main() & 0x7f;
}
