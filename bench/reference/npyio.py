"""Minimal .npy reading and writing (float32 and uint8, C order) without numpy, so the torch
run needs nothing but torch."""

import ast
import struct

DTYPES = {"<f4": ("f4", 4), "|u1": ("u1", 1), "<u1": ("u1", 1)}


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        start = 10
    else:
        (hlen,) = struct.unpack("<I", data[8:12])
        start = 12
    header = ast.literal_eval(data[start : start + hlen].decode("latin1"))
    if header.get("fortran_order"):
        raise ValueError(f"{path}: Fortran order is not supported")
    if header["descr"] not in DTYPES:
        raise ValueError(f"{path}: dtype {header['descr']} is not supported")
    dtype, size = DTYPES[header["descr"]]
    shape = tuple(header["shape"])
    count = 1
    for d in shape:
        count *= d
    body = data[start + hlen : start + hlen + count * size]
    if len(body) != count * size:
        raise ValueError(f"{path}: truncated data")
    return body, shape, dtype


def write(path, buf, shape, dtype):
    descr = {"f4": "<f4", "u1": "|u1"}[dtype]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr,
        "".join(f"{d}, " for d in shape) if len(shape) != 1 else f"{shape[0]},",
    )
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + buf)
