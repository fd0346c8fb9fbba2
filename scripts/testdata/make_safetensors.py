"""Write safetensors test inputs with the reference writer (safetensors.numpy)
plus malformed variants, and what the reference reader sees, for
crates/safetensors tests.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_safetensors.py
"""
import json
import os
import shutil
import struct

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "safetensors")


def expected(path):
    out = {}
    with safe_open(path, "np") as f:
        out["metadata"] = f.metadata() or {}
        out["tensors"] = {}
        for name in f.keys():
            t = f.get_slice(name)
            out["tensors"][name] = {"dtype": t.get_dtype(), "shape": list(t.get_shape())}
    return out


def raw(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    ok = lambda n: os.path.join(ROOT, "ok", n)
    tensors = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f16": np.ones((2, 2), dtype=np.float16),
        "i64": np.array([1, 2, 3], dtype=np.int64),
        "u8": np.zeros((0, 5), dtype=np.uint8),
        "scalar": np.array(3.0, dtype=np.float64),
        "bool": np.array([True, False]),
    }
    # One metadata key: the writer orders several keys differently from run to run.
    save_file(tensors, ok("numpy.safetensors"), metadata={"format": "np"})
    # BF16 and F8 via the raw layout (numpy has no such dtypes).
    open(ok("bf16_f8.safetensors"), "wb").write(raw(
        {"__metadata__": {"format": "raw", "note": "test"},
         "a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
         "b": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [12, 16]}}, bytes(16)))
    # More sub-byte and 8-bit floats, and a 0-element tensor between two others.
    open(ok("subbyte.safetensors"), "wb").write(raw(
        {"__metadata__": {"quant": "mx"},
         "e5m2": {"dtype": "F8_E5M2", "shape": [2, 2], "data_offsets": [0, 4]},
         "none": {"dtype": "F32", "shape": [0, 7], "data_offsets": [4, 4]},
         "f4": {"dtype": "F4", "shape": [6], "data_offsets": [4, 7]},
         "f6": {"dtype": "F6_E2M3", "shape": [4], "data_offsets": [7, 10]}}, bytes(10)))
    # A sharded set with its index.
    save_file({"x": np.ones(4, dtype=np.float32)}, ok("model-00001-of-00002.safetensors"))
    save_file({"y": np.ones(2, dtype=np.float32)}, ok("model-00002-of-00002.safetensors"))
    json.dump({"metadata": {"total_size": 24},
               "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}},
              open(ok("model.safetensors.index.json"), "w"), indent=2)
    for name in os.listdir(os.path.join(ROOT, "ok")):
        if name.endswith(".safetensors"):
            json.dump(expected(ok(name)), open(ok(name[: -len(".safetensors")] + ".expected.json"), "w"), indent=1, sort_keys=True)

    good = open(ok("numpy.safetensors"), "rb").read()
    err = lambda n, b: open(os.path.join(ROOT, "err", n), "wb").write(b)
    err("header_too_large.safetensors", struct.pack("<Q", len(good)) + good[8:])
    err("not_json.safetensors", struct.pack("<Q", 6) + b"{oops}")
    err("too_short.safetensors", b"\x01\x00")
    bad = lambda n, b: open(os.path.join(ROOT, "malicious", n), "wb").write(b)
    bad("overlap.safetensors", raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)))
    bad("gap.safetensors", raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                "b": {"dtype": "F32", "shape": [1], "data_offsets": [68, 72]}}, bytes(4) + b"\x80hidden payload!" * 4 + bytes(4)))
    bad("size_mismatch.safetensors", raw({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)))
    bad("out_of_range.safetensors", raw({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8)))
    bad("trailing.safetensors", raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4) + b"PK\x03\x04 smuggled"))
    bad("unknown_dtype.safetensors", raw({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]},
                                          "b": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\0\0"))
    bad("empty_inside.safetensors", raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                         "b": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}}, bytes(8)))
    bad("reversed.safetensors", raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                     "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}, bytes(8)))
    bad("partial_byte.safetensors", raw({"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, bytes(2)))
    bad("bad_metadata.safetensors", raw({"__metadata__": {"n": 1},
                                         "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\0"))
    h = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}\0\0\0{"hidden":"x"}'
    bad("header_padding.safetensors", struct.pack("<Q", len(h)) + h + b"\0")
    h = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    bad("duplicate.safetensors", struct.pack("<Q", len(h)) + h + bytes(4))


if __name__ == "__main__":
    main()
