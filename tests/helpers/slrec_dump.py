#!/usr/bin/env python3
"""Print the decompressed content of every chunk of the recordings given
(files or folders, searched recursively), without checking MACs: what a
reader of the disk would find, for tests that grep for values that must
never be there (docs/recording-format.md)."""
import os
import struct
import sys
import zlib


def chunks(data):
    off = 0
    while off + 20 <= len(data):
        if data[off:off + 4] != b"SLRC":
            raise ValueError("not a chunk at offset %d" % off)
        raw_len, data_len = struct.unpack(">II", data[off + 12:off + 20])
        body = data[off + 20:off + 20 + data_len]
        yield chr(data[off + 4]), zlib.decompress(body)
        off += 20 + data_len + 32


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    if n.endswith(".slrec"):
                        yield os.path.join(root, n)
        else:
            yield p


for path in files(sys.argv[1:]):
    with open(path, "rb") as f:
        for kind, raw in chunks(f.read()):
            sys.stdout.write(raw.decode("utf-8", "replace"))
            sys.stdout.write("\n")
