/* x86_64 MSI composition (Intel SDM vol. 3 "Message Signalled Interrupts"): fixed delivery,
 * edge, physical destination this CPU's APIC ID. The interface is arch/msi.h. */
#ifndef MOAT_ARCH_X86_64_MSI_H
#define MOAT_ARCH_X86_64_MSI_H

#include "arch/msi.h"

#endif
