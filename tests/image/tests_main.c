/* The tests image: after boot, run the suites named by "tests=" on the command line (all the
 * regular ones by default). The exit status is theirs. */
#include "arch/arch.h"
#include "kernel/boot_info.h"
#include "kernel/cmdline.h"
#include "kernel/ktest.h"

int moat_image_main(void)
{
    char filter[256] = "";
    cmdline_get("tests", filter, sizeof(filter));
    return ktest_run(filter) ? MOAT_EXIT_TESTS_FAILED : MOAT_EXIT_OK;
}
