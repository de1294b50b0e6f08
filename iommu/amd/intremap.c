/* Interrupt remapping (AMD IOMMU spec 2.2.5): not enabled yet. Every DTE keeps IV = 0, so
 * interrupts pass unremapped; QEMU's intremap=on is accepted and unused. */
#include "iommu/amd/amdvi.h"

int amdvi_ir_init(struct amdvi_unit *au)
{
    au->ir = false;
    return 0;
}
