/* <sys/ioctl.h>, which newlib lacks. The request numbers come from Linux's uapi headers
 * (<linux/vfio.h>, <linux/iommufd.h>, <linux/ioctl.h>). */
#ifndef MOAT_POSIX_SYS_IOCTL_H
#define MOAT_POSIX_SYS_IOCTL_H

#include <sys/cdefs.h>
#include <linux/ioctl.h>

__BEGIN_DECLS
int ioctl(int fd, unsigned long request, ...);
__END_DECLS

#endif
