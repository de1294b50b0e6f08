#!/usr/bin/env python3
"""Writes a GPT disk image holding one EFI system partition (UEFI 2.10, 5.2-5.3).

    tools/mkgpt.py --esp ESP.img -o DISK.img [--label NAME]

Reproducible: the disk and partition GUIDs are derived from the label, nothing depends on the
time, and the output is written whole (no sparse holes that differ between file systems).
Layout: protective MBR, primary header and 128 entries, the ESP at 1 MiB, 1 MiB of tail holding
the backup entries and header. The ESP image must be a whole number of 512-byte sectors.
"""
import argparse
import struct
import sys
import uuid
import zlib

SECTOR = 512
ENTRIES = 128
ENTRY_SIZE = 128
ENTRY_SECTORS = ENTRIES * ENTRY_SIZE // SECTOR      # 32
ALIGN_SECTORS = 2048                                # partitions start on 1 MiB boundaries
ESP_TYPE = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
NAMESPACE = uuid.UUID("6d6f6174-0000-4000-8000-6d6f61746573")   # moat's own namespace


def protective_mbr(total_sectors):
    mbr = bytearray(SECTOR)
    size = min(total_sectors - 1, 0xFFFFFFFF)
    # One partition of type 0xEE covering the disk from LBA 1 (UEFI 2.10, 5.2.3).
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff", 1, size)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def entry_array(first, last, part_guid, name):
    entry = struct.pack("<16s16sQQQ72s", ESP_TYPE.bytes_le, part_guid.bytes_le, first, last, 0,
                        name.encode("utf-16-le")[:72])
    return entry + bytes(ENTRY_SIZE * ENTRIES - len(entry))


def header(my_lba, alt_lba, first_usable, last_usable, disk_guid, entries_lba, entries_crc):
    fields = [b"EFI PART", 0x00010000, 92, 0, 0, my_lba, alt_lba, first_usable, last_usable,
              disk_guid.bytes_le, entries_lba, ENTRIES, ENTRY_SIZE, entries_crc]
    fmt = "<8sIIIIQQQQ16sQIII"
    crc = zlib.crc32(struct.pack(fmt, *fields))
    fields[3] = crc
    return struct.pack(fmt, *fields).ljust(SECTOR, b"\0")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--esp", required=True, help="FAT image of the EFI system partition")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--label", default="moat", help="seeds the GUIDs (default: moat)")
    args = ap.parse_args()

    with open(args.esp, "rb") as f:
        esp = f.read()
    if not esp or len(esp) % SECTOR:
        sys.exit(f"mkgpt: {args.esp}: size {len(esp)} is not a whole number of sectors")
    esp_sectors = len(esp) // SECTOR
    first = ALIGN_SECTORS
    last = first + esp_sectors - 1
    total = last + 1 + ALIGN_SECTORS
    backup_entries = total - 1 - ENTRY_SECTORS
    disk_guid = uuid.uuid5(NAMESPACE, args.label + "/disk")
    part_guid = uuid.uuid5(NAMESPACE, args.label + "/esp")

    entries = entry_array(first, last, part_guid, "EFI system partition")
    ecrc = zlib.crc32(entries)
    first_usable, last_usable = 2 + ENTRY_SECTORS, backup_entries - 1
    primary = header(1, total - 1, first_usable, last_usable, disk_guid, 2, ecrc)
    backup = header(total - 1, 1, first_usable, last_usable, disk_guid, backup_entries, ecrc)

    with open(args.output, "wb") as out:
        out.write(protective_mbr(total))
        out.write(primary)
        out.write(entries)
        out.write(bytes((first - 2 - ENTRY_SECTORS) * SECTOR))
        out.write(esp)
        out.write(bytes((backup_entries - last - 1) * SECTOR))
        out.write(entries)
        out.write(backup)
        if out.tell() != total * SECTOR:
            sys.exit("mkgpt: internal error: image size mismatch")


if __name__ == "__main__":
    main()
