"""Write GGUF test inputs with the reference writer (gguf-py) and record what
the reference reader (gguf.GGUFReader) sees in each, for crates/gguf tests.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_gguf.py
"""
import json
import os
import shutil
import struct

import numpy as np
import gguf

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "gguf")


def expected(path):
    reader = gguf.GGUFReader(path)
    fields = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        fields[name] = [t.name for t in field.types]
    tensors = [
        {
            "name": t.name,
            "dims": [int(d) for d in t.shape],
            "type": t.tensor_type.name,
            "n_elements": int(t.n_elements),
            "n_bytes": int(t.n_bytes),
            "data_offset": int(t.data_offset),
        }
        for t in reader.tensors
    ]
    return {"version": 3, "fields": fields, "tensors": tensors}


def write(name, build, alignment=None):
    path = os.path.join(ROOT, "ok", name + ".gguf")
    writer = gguf.GGUFWriter(path, "llama")
    if alignment:
        writer.add_custom_alignment(alignment)
    build(writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with open(os.path.join(ROOT, "ok", name + ".expected.json"), "w") as f:
        json.dump(expected(path), f, indent=1, sort_keys=True)
    return path


def all_types(w):
    w.add_uint8("t.u8", 7)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 700)
    w.add_int16("t.i16", -700)
    w.add_uint32("t.u32", 70000)
    w.add_int32("t.i32", -70000)
    w.add_float32("t.f32", 1.5)
    w.add_bool("t.bool", True)
    w.add_string("t.string", "héllo")
    w.add_uint64("t.u64", 1 << 40)
    w.add_int64("t.i64", -(1 << 40))
    w.add_float64("t.f64", 2.25)
    w.add_array("t.array_str", ["a", "bc", ""])
    w.add_array("t.array_i32", [1, -2, 3])
    w.add_array("t.array_nested", [[1, 2], [3]])
    w.add_context_length(2048)
    w.add_block_count(2)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_embedding_length(64)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    w.add_tensor("f32", np.arange(64, dtype=np.float32).reshape(8, 8))
    w.add_tensor("f16", np.ones((4, 16), dtype=np.float16))


def quantized(w):
    # Raw quantized blocks: the writer takes bytes and the logical shape.
    rng = np.random.default_rng(0)
    for qtype in [gguf.GGMLQuantizationType.Q4_0, gguf.GGMLQuantizationType.Q4_1,
                  gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_K,
                  gguf.GGMLQuantizationType.Q6_K, gguf.GGMLQuantizationType.IQ4_XS,
                  gguf.GGMLQuantizationType.BF16, gguf.GGMLQuantizationType.TQ2_0]:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        cols, rows = 256, 2
        data = rng.integers(0, 255, size=(rows, cols // block * size), dtype=np.uint8)
        w.add_tensor(qtype.name.lower(), data, raw_dtype=qtype)


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err"):
        os.makedirs(os.path.join(ROOT, sub))
    write("all_value_types", all_types)
    write("quantized", quantized)
    base = write("alignment_64", lambda w: w.add_tensor("x", np.zeros((3, 5), dtype=np.float32)), alignment=64)

    with open(os.path.join(ROOT, "ok", "quant_sizes.json"), "w") as f:
        json.dump({t.name: list(v) for t, v in gguf.GGML_QUANT_SIZES.items()}, f, indent=1)

    good = open(base, "rb").read()
    err = lambda name, data: open(os.path.join(ROOT, "err", name), "wb").write(data)
    err("bad_magic.gguf", b"GGUG" + good[4:])
    err("version_1.gguf", good[:4] + struct.pack("<I", 1) + good[8:])
    err("big_endian.gguf", good[:4] + struct.pack(">I", 3) + good[8:])
    err("huge_tensor_count.gguf", good[:8] + struct.pack("<Q", 1 << 60) + good[16:])
    err("huge_kv_count.gguf", good[:16] + struct.pack("<Q", 1 << 60) + good[24:])
    # First key's length field follows the two counts.
    err("huge_string.gguf", good[:24] + struct.pack("<Q", 1 << 62) + good[32:])
    err("truncated_data.gguf", good[: len(good) - 8])
    # Unknown value type: the first key is general.architecture (20 chars).
    type_at = 24 + 8 + len("general.architecture")
    err("bad_value_type.gguf", good[:type_at] + struct.pack("<I", 99) + good[type_at + 4:])


if __name__ == "__main__":
    main()
