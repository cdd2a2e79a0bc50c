#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes a flat guest image as a C array: embed.py IMAGE OUT.c"""
import sys

data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as f:
    f.write("/* Generated from the built-in guest image; do not edit. */\n")
    f.write("#include <stddef.h>\n#include <stdint.h>\n\n")
    f.write("const uint8_t guest_image[] = {\n")
    for i in range(0, len(data), 12):
        f.write("\t" + ", ".join(f"0x{b:02x}" for b in data[i:i + 12]) + ",\n")
    f.write("};\n")
    f.write(f"const size_t guest_image_size = {len(data)};\n")
