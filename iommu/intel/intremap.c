/* Interrupt remapping (VT-d spec 5.1, 9.9): not enabled yet. Units report ECAP.IR; until the
 * IRTE table and remappable MSI programming land, interrupts stay in compatibility format. */
#include "iommu/intel/vtd.h"
#include "lib/errno.h"

int vtd_ir_init(struct vtd_unit *vu)
{
    return 0;
}

int vtd_ir_alloc(struct vtd_unit *vu, uint16_t sid, uint8_t vector)
{
    return -EOPNOTSUPP;
}

struct vtd_unit *vtd_ir_unit(void)
{
    return NULL;
}
