/* <sys/sysmacros.h>, which newlib lacks: device numbers as Linux encodes them. */
#ifndef MOAT_POSIX_SYS_SYSMACROS_H
#define MOAT_POSIX_SYS_SYSMACROS_H

#define major(dev) ((unsigned)((((dev) >> 32) & 0xfffff000) | (((dev) >> 8) & 0xfff)))
#define minor(dev) ((unsigned)((((dev) >> 12) & 0xffffff00) | ((dev) & 0xff)))
#define makedev(ma, mi)                                                                  \\
    ((((unsigned long long)(ma) & 0xfffff000ULL) << 32) | (((ma) & 0xfffULL) << 8) |      \\
     (((unsigned long long)(mi) & 0xffffff00ULL) << 12) | ((mi) & 0xffULL))

#endif
