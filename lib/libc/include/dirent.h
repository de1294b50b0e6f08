#ifndef MOAT_LIBC_DIRENT_H
#define MOAT_LIBC_DIRENT_H
struct dirent {
    unsigned long d_ino;
    unsigned char d_type;
    char d_name[256];
};
typedef struct moat_dir DIR;
DIR *opendir(const char *path);
struct dirent *readdir(DIR *d);
int closedir(DIR *d);
#endif
