"""Copies a checkpoint .npz with its meta.epoch entry replaced (or removed), for resume tests.

Usage: set_checkpoint_epoch.py SRC DST VALUE, VALUE a float ('nan', '1e300', '-1') or 'missing'.
Standard library only: an .npz is a zip of .npy files, and a float64 scalar's .npy is a fixed header
and 8 bytes.
"""
import struct
import sys
import zipfile


def npy_float64(value):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<d", value)


def main():
    src, dst, value = sys.argv[1:4]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename == "meta.epoch.npy":
                if value != "missing":
                    zout.writestr("meta.epoch.npy", npy_float64(float(value)))
            else:
                zout.writestr(item, zin.read(item.filename))


main()
