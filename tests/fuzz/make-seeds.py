#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the synthetic seeds of the binary fuzz targets into
tests/fuzz/corpus: bzImage headers (fuzz-bzimage), a minimal module
file (fuzz-module-file) and generator choices (fuzz-compat-diff). Each is
the smallest input that the target accepts all the way through, plus a few
that stop at one check each, so that the fuzzer starts from both sides of
it; the choices are the extremes and a few mixes. Run it again after a change
to either format; the output is the same on every run.

    tests/fuzz/make-seeds.py [CORPUS_DIR]
"""
import os
import struct
import sys

# ---- bzImage: the x86 boot protocol header (core/bzimage.c) ----


def bzimage(setup_sects=1, kernel=512, version=0x020F, loadflags=0x01,
            xloadflags=0x03, cmdline_size=2047, initrd_max=0x7FFFFFFF,
            init_size=0x10000, header_len=0x66, syssize=None):
    setup = ((setup_sects or 4) + 1) * 512
    d = bytearray(setup + kernel)
    if syssize is None:
        syssize = kernel // 16
    d[0x1F1] = setup_sects
    struct.pack_into("<I", d, 0x1F4, syssize)
    struct.pack_into("<H", d, 0x1FE, 0xAA55)
    d[0x200:0x202] = bytes([0xEB, header_len])  # jmp over the header
    d[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", d, 0x206, version)
    d[0x211] = loadflags
    struct.pack_into("<I", d, 0x22C, initrd_max)
    d[0x234] = 1  # relocatable
    struct.pack_into("<H", d, 0x236, xloadflags)
    struct.pack_into("<I", d, 0x238, cmdline_size)
    struct.pack_into("<I", d, 0x260, init_size)
    # Something to copy that is not all zeros.
    for i in range(setup, len(d), 64):
        d[i] = i // 64 & 0xFF
    return bytes(d)


BZIMAGE = {
    # Loads: header, kernel at 1 MiB, initrd, command line, zero page.
    "loads": bzimage(),
    # setup_sects 0 means 4.
    "setup-sects-0": bzimage(setup_sects=0),
    # The initrd does not fit below the kernel's limit.
    "initrd-limit": bzimage(initrd_max=0x100FFF),
    # The command line is longer than the kernel accepts.
    "cmdline-short": bzimage(cmdline_size=4),
    # Needs more memory while it decompresses than the guest has.
    "init-size-large": bzimage(init_size=0x7FFFFFFF),
    # The header announces more kernel than the file holds.
    "truncated": bzimage(syssize=0x1000),
}

# ---- module file: a minimal x86-64 ELF shared object (core/modinfo.c) ----

SHT_PROGBITS, SHT_STRTAB, SHT_DYNSYM = 1, 3, 11
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4


def strtab(names):
    data, offsets = bytearray(b"\0"), {}
    for n in names:
        offsets[n] = len(data)
        data += n.encode() + b"\0"
    return bytes(data), offsets


def elf_module(modinfo, entry="modvmm_module_init", machine=62):
    """Sections: .modvmm_modinfo, .text (one ret), .dynstr, .dynsym with
    the entry point as a global function, .shstrtab. No program headers:
    the loader reads the section table only, before any dlopen()."""
    dynstr, dynoff = strtab([entry])
    text = b"\xc3"
    # Elf64_Sym: name, info, other, shndx, value, size.
    dynsym = bytes(24) + struct.pack("<IBBHQQ", dynoff[entry], 0x12, 0,
                                     2, 0, len(text))
    names = [".modvmm_modinfo", ".text", ".dynstr", ".dynsym", ".shstrtab"]
    shstr, shoff = strtab(names)
    # (name, type, flags, data, link, align, entsize)
    sections = [
        (".modvmm_modinfo", SHT_PROGBITS, SHF_ALLOC, modinfo, 0, 1, 0),
        (".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, text, 0, 16, 0),
        (".dynstr", SHT_STRTAB, SHF_ALLOC, dynstr, 0, 1, 0),
        (".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsym, 3, 8, 24),
        (".shstrtab", SHT_STRTAB, 0, shstr, 0, 1, 0),
    ]
    body = bytearray(64)
    placed = []
    for s in sections:
        while len(body) % s[5]:
            body.append(0)
        placed.append(len(body))
        body += s[3]
    while len(body) % 8:
        body.append(0)
    shoff_at = len(body)
    body += bytes(64)  # the NULL section
    for (name, typ, flags, data, link, align, ent), off in zip(sections,
                                                               placed):
        # Elf64_Shdr: name, type, flags, addr, offset, size, link, info,
        # addralign, entsize (info 1: the first global symbol).
        body += struct.pack("<IIQQQQIIQQ", shoff[name], typ, flags, off,
                            off, len(data), link,
                            1 if typ == SHT_DYNSYM else 0, align, ent)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    struct.pack_into("<16sHHIQQQIHHHHHH", body, 0, ident, 3, machine, 1, 0,
                     0, shoff_at, 0, 64, 0, 0, 64, len(sections) + 1,
                     len(sections))
    return bytes(body)


MODINFO = (b"name=tiny\0version=1.0.0\0abi=1.0\0license=LGPL-2.1-or-later\0"
           b"author=modvmm\0description=smallest module\0device=tiny\0"
           b"vmstate=tiny@1\0known_bad=0.9.0: lost the FIFO count\0"
           b"intree=Y\0")

MODULE_FILE = {
    # Read through: every section, modinfo parsed, entry point found.
    "tiny.so": elf_module(MODINFO),
    # The dynamic symbol is not the entry point.
    "no-entry.so": elf_module(MODINFO, entry="modvmm_module_fini"),
    # Another machine's shared object.
    "aarch64.so": elf_module(MODINFO, machine=183),
}

# ---- compat-diff: the random choices of tests/unit/compat-random.c ----


def choices(seed, n=512):
    """n bytes from a fixed linear congruential generator: each byte is
    one choice of the generator (a kind, a change, a release, a value)."""
    out = bytearray()
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(x >> 16 & 0xFF)
    return bytes(out)


COMPAT_DIFF = {
    # Every choice 0: two releases of the smallest history, the same one.
    "zeros": bytes(64),
    # Every byte 0xff: each choice is 255 modulo its number of options,
    # the same one every time, another corner than zeros.
    "ones": bytes([0xFF] * 512),
}
COMPAT_DIFF.update(("mixed-%d" % i, choices(i)) for i in range(1, 7))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here,
                                                                "corpus")
    for target, seeds in (("bzimage", BZIMAGE),
                          ("module-file", MODULE_FILE),
                          ("compat-diff", COMPAT_DIFF)):
        d = os.path.join(corpus, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
