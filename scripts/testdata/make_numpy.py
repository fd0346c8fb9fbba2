"""Write .npy and .npz files with numpy for crates/numpy tests, and beside
each `<stem>.expected.json`: numpy's own reading of every header
(np.lib.format.read_magic / read_array_header_*), or the Error variant the
Rust reader must return for the malformed ones this script builds.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_numpy.py

Expected JSON:
  npy: {"version", "shape", "fortran_order", "descr" (str of dtype_to_descr),
        "itemsize" (null for object dtypes), "object", "data_offset",
        "n_elements"}  or {"error": variant}
  npz: {"arrays": [{"name", ...npy fields...} or {"name", "error"}]}
"""
import io
import json
import os
import shutil
import struct
import sys
import warnings
import zipfile

import numpy as np

warnings.simplefilter("ignore", UserWarning)  # "Stored array in format 3.0"

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "numpy")
fmt = np.lib.format


def header_of(data):
    f = io.BytesIO(data)
    version = fmt.read_magic(f)
    read = {1: fmt.read_array_header_1_0, 2: fmt.read_array_header_2_0}.get(version[0], fmt.read_array_header_2_0)
    if version[0] == 3:
        # No public reader for 3.0 (UTF-8) headers; numpy's own private one.
        from numpy.lib import _format_impl
        shape, fortran, dtype = _format_impl._read_array_header(f, version)
    else:
        shape, fortran, dtype = read(f, max_header_size=1 << 20)
    n = 1
    for d in shape:
        n *= d
    return {"version": list(version), "shape": list(shape), "fortran_order": fortran,
            "descr": str(fmt.dtype_to_descr(dtype)), "itemsize": None if dtype.hasobject else dtype.itemsize,
            "object": dtype.hasobject, "data_offset": f.tell(), "n_elements": n}


def write(sub, name, data, expected):
    stem = name.rsplit(".", 1)[0]
    assert not os.path.exists(os.path.join(ROOT, sub, stem + ".expected.json")), name
    with open(os.path.join(ROOT, sub, name), "wb") as f:
        f.write(data)
    with open(os.path.join(ROOT, sub, stem + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def npy_bytes(array, version=None, allow_pickle=False):
    buf = io.BytesIO()
    fmt.write_array(buf, array, version=version, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy(sub, name, array, **kwargs):
    data = npy_bytes(array, **kwargs)
    write(sub, name, data, header_of(data))
    return data


def npz(sub, name, data):
    arrays = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            entry = {"name": info.filename[:-4] if info.filename.endswith(".npy") else info.filename}
            entry.update(header_of(z.read(info)))
            arrays.append(entry)
    write(sub, name, data, {"arrays": arrays})


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    arrays = {
        "f32_2d": np.arange(12, dtype="<f4").reshape(3, 4),
        "f64_scalar": np.array(1.5),
        "f16_3d": np.zeros((2, 3, 4), dtype=np.float16),
        "i8_empty": np.zeros((0, 3), dtype=np.int8),
        "i64_empty_1d": np.zeros(0, dtype=np.int64),
        "u16_big_endian": np.arange(5, dtype=">u2"),
        "i32_big_endian_2d": np.arange(6, dtype=">i4").reshape(2, 3),
        "bool": np.array([True, False]),
        "complex64": np.ones(2, dtype=np.complex64),
        "complex128": np.ones((1, 2), dtype=np.complex128),
        "unicode": np.array(["ab", "cde"]),
        "bytes": np.array([b"x", b"yz"]),
        "void": np.zeros(3, dtype="V5"),
        "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
        "timedelta": np.array([1, 2], dtype="timedelta64[ms]"),
        "fortran": np.asfortranarray(np.ones((2, 3), dtype=np.float32)),
        "fortran_3d": np.asfortranarray(np.ones((2, 3, 4), dtype=np.uint8)),
        "structured": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8", (2,))]),
        "structured_nested": np.zeros(2, dtype=[("pos", [("x", "<f8"), ("y", "<f8")]), ("id", "<u4"),
                                               ("m", "<f4", (2, 2))]),
        "many_dims": np.zeros((1,) * 20, dtype=np.float32),
    }
    for name, array in arrays.items():
        npy("ok", name + ".npy", array)
    npy("ok", "version2.npy", np.ones(3, dtype=np.float32), version=(2, 0))
    # Non-latin-1 field names make numpy write a 3.0 (UTF-8) header.
    # Latin-1 field names stay in a 1.0 header, encoded as Latin-1; quotes
    # and backslashes in names are escaped by repr().
    npy("ok", "latin1_field.npy", np.zeros(2, dtype=[("caf\u00e9", "<i2")]))
    npy("ok", "quoted_field.npy", np.zeros(1, dtype=[("it's", "<i2"), ("a\\b'\"", "<u1")]))
    npy("ok", "version3.npy", np.zeros(2, dtype=[("\u00e9t\u00e9\u2603", "<i4")]))
    buf = io.BytesIO()
    np.savez(buf, a=np.ones(3), b=np.arange(4, dtype=np.int16))
    npz("ok", "stored.npz", buf.getvalue())
    buf = io.BytesIO()
    np.savez_compressed(buf, weights=np.zeros((16, 16), dtype=np.float32), bias=np.ones(16, dtype=np.float32))
    npz("ok", "compressed.npz", buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf)
    npz("ok", "empty.npz", buf.getvalue())

    # Object arrays hold pickles, run by np.load(allow_pickle=True).
    npy("malicious", "object.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    npy("malicious", "object_scalar.npy", np.array(None, dtype=object), allow_pickle=True)
    npy("malicious", "object_field.npy", np.zeros(1, dtype=[("x", "<f4"), ("o", "O")]), allow_pickle=True)
    buf = io.BytesIO()
    np.savez(buf, plain=np.ones(2), objects=np.array([1, "x"], dtype=object))
    npz("malicious", "object_stored.npz", buf.getvalue())
    buf = io.BytesIO()
    np.savez_compressed(buf, objects=np.array([None], dtype=object))
    npz("malicious", "object_compressed.npz", buf.getvalue())

    good = npy_bytes(arrays["f32_2d"])
    header_len = struct.unpack("<H", good[8:10])[0]

    def err(name, data, error):
        write("err", name, data, {"error": error})

    def with_header(text, version=1):
        text = text.encode() if isinstance(text, str) else text
        pad = (64 - (10 + len(text) + 1) % 64) % 64
        text = text + b" " * pad + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + bytes(48)

    err("bad_magic.npy", b"\x93NUMPX" + good[6:], "BadMagic")
    err("empty.npy", b"", "BadMagic")
    err("magic_only.npy", good[:6], "Truncated")
    err("truncated_header.npy", good[:40], "Truncated")
    err("truncated_data.npy", good[:-4], "Truncated")
    err("bad_header.npy", good.replace(b"'descr'", b"'dtype'", 1), "BadHeader")
    err("negative_shape.npy", good.replace(b"(3, 4)", b"(3,-4)", 1), "BadHeader")
    err("version9.npy", good[:6] + b"\x09\x00" + good[8:], "UnsupportedVersion")
    err("huge_header_len.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + good[10:], "BadHeader")
    err("shape_overflow.npy", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }"), "BadHeader")
    err("data_size_overflow.npy", with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }"), "BadHeader")
    err("huge_shape.npy", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }"), "Truncated")
    err("not_a_dict.npy", with_header("['descr', '<f4']"), "BadHeader")
    err("call_in_header.npy", with_header("{'descr': __import__('os').system('id'), 'fortran_order': False, 'shape': (1,), }"), "BadHeader")
    err("unterminated_string.npy", with_header("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }"), "BadHeader")
    err("unknown_dtype.npy", with_header("{'descr': '<q9', 'fortran_order': False, 'shape': (1,), }"), "BadHeader")
    err("deep_nesting.npy", with_header("{'descr': " + "[('a', " * 40 + "'<f4'" + ")]" * 40 + ", 'fortran_order': False, 'shape': (1,), }"), "BadHeader")
    err("too_many_dims.npy", with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, " * 100 + "), }"), "BadHeader")
    err("not_a_zip.npz", good, "Archive")
    assert header_len > 0


if __name__ == "__main__":
    main()
