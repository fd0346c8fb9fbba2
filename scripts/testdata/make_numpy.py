"""Write .npy and .npz files with numpy, and numpy's own reading of each
header, for crates/numpy tests.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_numpy.py
"""
import io
import json
import os
import shutil

import numpy as np

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "numpy")


def header_of(path):
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f)
        return {"version": list(version), "shape": list(shape), "fortran_order": fortran,
                "descr": np.lib.format.dtype_to_descr(dtype) if not isinstance(np.lib.format.dtype_to_descr(dtype), list) else str(np.lib.format.dtype_to_descr(dtype)),
                "itemsize": dtype.itemsize, "object": dtype.hasobject, "data_offset": f.tell()}


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    ok = lambda name: os.path.join(ROOT, "ok", name)
    arrays = {
        "f32_2d": np.arange(12, dtype="<f4").reshape(3, 4),
        "f64_scalar": np.array(1.5),
        "i8_empty": np.zeros((0, 3), dtype=np.int8),
        "u16_big_endian": np.arange(5, dtype=">u2"),
        "bool": np.array([True, False]),
        "complex": np.ones(2, dtype=np.complex64),
        "unicode": np.array(["ab", "cde"]),
        "bytes": np.array([b"x", b"yz"]),
        "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
        "fortran": np.asfortranarray(np.ones((2, 3), dtype=np.float32)),
        "structured": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8", (2,))]),
    }
    expected = {}
    for name, array in arrays.items():
        np.save(ok(name + ".npy"), array)
        expected[name] = header_of(ok(name + ".npy"))
    # Version 2.0 header.
    with open(ok("version2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.ones(3, dtype=np.float32), version=(2, 0))
    expected["version2"] = header_of(ok("version2.npy"))
    json.dump(expected, open(ok("headers.expected.json"), "w"), indent=1, sort_keys=True)
    np.savez(ok("stored.npz"), a=np.ones(3), b=np.arange(4, dtype=np.int16))
    np.savez_compressed(ok("compressed.npz"), weights=np.zeros((16, 16), dtype=np.float32))

    # Object arrays hold pickles.
    np.save(os.path.join(ROOT, "malicious", "object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.savez(os.path.join(ROOT, "malicious", "object.npz"), plain=np.ones(2), objects=np.array([1, "x"], dtype=object))

    good = open(ok("f32_2d.npy"), "rb").read()
    err = lambda name, data: open(os.path.join(ROOT, "err", name), "wb").write(data)
    err("bad_magic.npy", b"\x93NUMPX" + good[6:])
    err("truncated_data.npy", good[:-4])
    err("bad_header.npy", good[:10] + good[10:].replace(b"'descr'", b"'dtype'", 1))
    err("negative_shape.npy", good[:10] + good[10:].replace(b"(3, 4)", b"(3,-4)", 1))
    err("version9.npy", good[:6] + b"\x09\x00" + good[8:])


if __name__ == "__main__":
    main()
