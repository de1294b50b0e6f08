/* Files from the loader's own volume (EFI_SIMPLE_FILE_SYSTEM_PROTOCOL, UEFI 2.10 13.4). */
#include "loader.h"

static EFI_FILE_HANDLE open_root(EFI_HANDLE image, EFI_STATUS *st)
{
    EFI_LOADED_IMAGE *li;
    EFI_FILE_IO_INTERFACE *fs;
    EFI_FILE_HANDLE root;
    *st = BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li);
    if (EFI_ERROR(*st))
        return NULL;
    *st = BS->HandleProtocol(li->DeviceHandle, &FileSystemProtocol, (void **)&fs);
    if (EFI_ERROR(*st))
        return NULL;
    *st = fs->OpenVolume(fs, &root);
    return EFI_ERROR(*st) ? NULL : root;
}

EFI_STATUS fs_read_file(EFI_HANDLE image, const CHAR16 *path, UINT64 max, UINT8 **buf,
                        UINTN *size)
{
    EFI_STATUS st;
    EFI_FILE_HANDLE root = open_root(image, &st), f;
    if (!root)
        return st;
    st = root->Open(root, &f, (CHAR16 *)path, EFI_FILE_MODE_READ, 0);
    root->Close(root);
    if (EFI_ERROR(st))
        return st;
    EFI_FILE_INFO *info = LibFileInfo(f);
    if (!info) {
        f->Close(f);
        return EFI_DEVICE_ERROR;
    }
    UINT64 len = info->FileSize;
    FreePool(info);
    if (len > max) {
        f->Close(f);
        return EFI_BAD_BUFFER_SIZE;
    }
    st = BS->AllocatePool(EfiLoaderData, len + 1, (void **)buf);
    if (!EFI_ERROR(st)) {
        UINTN got = len;
        st = f->Read(f, &got, *buf);
        if (!EFI_ERROR(st) && got != len)
            st = EFI_END_OF_FILE;
        if (EFI_ERROR(st))
            BS->FreePool(*buf);
        else
            *size = got;
    }
    f->Close(f);
    return st;
}
