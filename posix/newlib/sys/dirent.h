/* moat's <sys/dirent.h>, put in place of newlib's (which refuses <dirent.h> on targets without
 * directories): the directory entry as Linux's C library lays it out. The directories are the
 * ones the kernel lists (/sys/bus/pci/devices/<BDF>/vfio-dev, ...). */
#ifndef _SYS_DIRENT_H
#define _SYS_DIRENT_H

#include <sys/types.h>

#define DT_UNKNOWN 0
#define DT_FIFO 1
#define DT_CHR 2
#define DT_DIR 4
#define DT_BLK 6
#define DT_REG 8
#define DT_LNK 10
#define DT_SOCK 12

struct dirent {
    ino_t d_ino;
    off_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[256];
};

typedef struct __moat_dir DIR;

#endif
