#!/usr/bin/env python3
"""Makes the small files that tests/io/ reads to cross-check qnn's readers against the reference
writers: NumPy for .npy, Python's zlib/gzip (zlib 1.2.x) and GNU gzip for DEFLATE.

    .venv/bin/python tests/data/io/make_io_cases.py   # rewrites the files next to this script

The files are committed; rerun this script only to change them, then paste the table it prints
into tests/io/test_inflate.cpp (uncompressed size and CRC-32 of each compressed case). The block
types each DEFLATE case is meant to cover are asserted here, so the C++ test really covers stored,
fixed and dynamic blocks as it claims.
"""
import os
import random
import struct
import subprocess
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def first_block_type(deflate_data):
    """BTYPE of the first block: bits 1-2 of the first byte (LSB first)."""
    return (deflate_data[0] >> 1) & 3


def gzip_member(data, level=9, header_extra=b"", flags=0, fhcrc=False):
    """A gzip member built by hand (mtime 0, OS 255), so that FEXTRA/FNAME/FCOMMENT/FHCRC can be
    set; Python's gzip module writes only FNAME."""
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = co.compress(data) + co.flush()
    if fhcrc:
        flags |= 0x02
    header = bytes([0x1F, 0x8B, 8, flags]) + struct.pack("<I", 0) + bytes([2, 255]) + header_extra
    if fhcrc:
        header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF), body


def words(n, seed):
    rng = random.Random(seed)
    vocab = ["quantized", "tensor", "scale", "zero", "point", "int8", "accumulator", "kernel",
             "fashion", "mnist", "sneaker", "ankle", "boot", "the", "of", "and", "a", "to"]
    return " ".join(rng.choice(vocab) for _ in range(n)).encode()


def deflate_cases():
    cases = {}
    text = words(1500, 1)  # ~10 KB of English-like text: zlib -9 uses a dynamic block

    cases["empty.gz"] = gzip_member(b"")[0]

    data = words(40, 2)
    member, body = gzip_member(data, level=0)
    assert first_block_type(body) == 0, "level 0 must give a stored block"
    cases["stored.gz"] = member

    data = b"hello, hello, hello qnn! " * 4
    member, body = gzip_member(data, level=9)
    assert first_block_type(body) == 1, "a short repetitive input must give a fixed block"
    cases["fixed.gz"] = member

    member, body = gzip_member(text, level=9)
    assert first_block_type(body) == 2, "10 KB of text must give a dynamic block"
    cases["dynamic.gz"] = member

    # Distances up to the full 32 KiB window: a 2-bit-entropy block repeated once.
    rng = random.Random(3)
    block = bytes(rng.choice(b"ACGT") for _ in range(32768))
    cases["far_window.gz"] = gzip_member(block + block, level=9)[0]

    # All optional header fields, and the header CRC.
    extra = struct.pack("<H", 6) + b"qn\x02\x00hi"  # FEXTRA: XLEN, one subfield 'qn' of 2 bytes
    extra += b"cases.txt\x00" + b"a comment\x00"
    cases["header_fields.gz"] = gzip_member(words(30, 4), 6, extra, flags=0x04 | 0x08 | 0x10,
                                            fhcrc=True)[0]

    cases["multi_member.gz"] = gzip_member(b"first member\n")[0] + gzip_member(words(20, 5))[0]

    # GNU gzip: an implementation independent of zlib (stores the file name, FNAME).
    src = os.path.join(HERE, "gnu_source.txt")
    with open(src, "wb") as f:
        f.write(words(800, 6))
    cases["gnu_gzip.gz"] = subprocess.run(["gzip", "-9", "-c", src], check=True,
                                          capture_output=True).stdout
    with open(src, "rb") as f:
        gnu_plain = f.read()
    os.remove(src)

    # zlib wrapper (RFC 1950) for inflate_zlib.
    cases["text.zz"] = zlib.compress(text, 6)

    # Raw DEFLATE with several blocks: text, a sync flush (an empty stored block), incompressible
    # bytes (zlib stores them), then text again.
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    noise = bytes(random.Random(7).randrange(256) for _ in range(3000))
    raw = co.compress(text[:4000]) + co.flush(zlib.Z_SYNC_FLUSH)
    raw += co.compress(noise) + co.flush(zlib.Z_FULL_FLUSH)
    raw += co.compress(text[4000:]) + co.flush()
    assert b"\x00\x00\xff\xff" in raw, "a sync flush writes an empty stored block"
    cases["blocks.deflate"] = raw
    raw_plain = text[:4000] + noise + text[4000:]

    plain = {
        "empty.gz": b"", "stored.gz": words(40, 2), "fixed.gz": b"hello, hello, hello qnn! " * 4,
        "dynamic.gz": text, "far_window.gz": block + block, "header_fields.gz": words(30, 4),
        "multi_member.gz": b"first member\n" + words(20, 5), "gnu_gzip.gz": gnu_plain,
        "text.zz": text, "blocks.deflate": raw_plain,
    }
    import gzip
    for name, data in cases.items():
        if name.endswith(".gz"):
            assert gzip.decompress(data) == plain[name], name
        elif name.endswith(".zz"):
            assert zlib.decompress(data) == plain[name], name
        else:
            assert zlib.decompress(data, -15) == plain[name], name
        write(name, data)
    print("// name, uncompressed bytes, CRC-32 of the uncompressed bytes")
    for name in cases:
        print(f'{{"{name}", {len(plain[name])}, 0x{zlib.crc32(plain[name]):08X}u}},')


def npy_cases():
    def save(name, arr, version=None):
        path = os.path.join(HERE, name)
        if version is None:
            np.save(path, arr)
        else:
            with open(path, "wb") as f:
                np.lib.format.write_array(f, arr, version=version)

    save("f32_2x3.npy", (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1))
    save("u8_5.npy", np.array([0, 1, 127, 128, 255], np.uint8))
    save("i8_scalar.npy", np.array(-7, np.int8))
    save("i16_2x2.npy", np.array([[-32768, -1], [0, 32767]], np.int16))
    save("u16_3.npy", np.array([0, 1, 65535], np.uint16))
    save("i32_2x2x2.npy", np.arange(-4, 4, dtype=np.int32).reshape(2, 2, 2) * 1000000)
    save("i64_3.npy", np.array([-(2**62), 0, 2**62 + 5], np.int64))
    save("bool_4.npy", np.array([True, False, False, True]))
    save("f64_4.npy", np.array([0.1, -1e-50, 1e300, np.nan], np.float64))
    save("f32_empty.npy", np.zeros((0, 3), np.float32))
    save("f32_v2.npy", np.array([1.5, -2.5], np.float32), version=(2, 0))
    save("f32_v3.npy", np.array([1.5, -2.5], np.float32), version=(3, 0))
    save("f32_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    save("f32_big_endian.npy", np.array([1.0, 2.0], ">f4"))
    save("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))


if __name__ == "__main__":
    deflate_cases()
    npy_cases()
