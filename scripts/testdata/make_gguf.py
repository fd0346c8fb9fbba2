"""Write GGUF test inputs for crates/gguf with the reference writer (gguf-py's
GGUFWriter) and record what the reference reader (gguf.GGUFReader) sees in
each one. Deterministic: running it twice gives the same bytes.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_gguf.py

Layout of tests/data/gguf:
  ok/NAME.gguf + NAME.expected.json   files both readers accept; the JSON is
                                      GGUFReader's view (keys, value types,
                                      values, tensors, data offsets)
  ok/quant_sizes.json                 gguf-py's GGML_QUANT_SIZES table
  err/NAME.gguf + NAME.expected.json  malformed files: the error variant and
                                      the byte offset it must name
  malicious/NAME.gguf + NAME.expected.json
                                      parseable files a scanner must flag:
                                      overlapping tensors, duplicate names
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "gguf")
SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "seeds", "gguf")


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def field_value(field):
    """GGUFReader's decoded value, or None where it cannot decode it (nested arrays)."""
    if field.types[0] == V.ARRAY and len(field.types) > 2:
        return None
    value = field.contents()
    if isinstance(value, float) and value != value:
        return None
    return value


def expected(path):
    reader = gguf.GGUFReader(path)
    fields = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        fields[name] = {
            "offset": int(field.offset),
            "types": [t.name for t in field.types],
            "value": field_value(field),
        }
    tensors = [
        {
            "name": t.name,
            "dims": [int(d) for d in t.shape],
            "type": t.tensor_type.name,
            "n_elements": int(t.n_elements),
            "n_bytes": int(t.n_bytes),
            "data_offset": int(t.data_offset),
            "info_offset": int(t.field.offset),
        }
        for t in reader.tensors
    ]
    version = int(reader.fields["GGUF.version"].parts[0][0])
    return {
        "version": version,
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "file_size": os.path.getsize(path),
        "fields": fields,
        "tensors": tensors,
    }


def write(name, build, alignment=None, endianess=gguf.GGUFEndian.LITTLE, sub="ok", record=True):
    path = os.path.join(ROOT, sub, name + ".gguf")
    writer = gguf.GGUFWriter(path, "llama", endianess=endianess)
    if alignment:
        writer.add_custom_alignment(alignment)
    build(writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if record:
        dump(os.path.join(ROOT, sub, name + ".expected.json"), expected(path))
    return path


def all_value_types(w):
    w.add_uint8("t.u8", 7)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 700)
    w.add_int16("t.i16", -700)
    w.add_uint32("t.u32", 70000)
    w.add_int32("t.i32", -70000)
    w.add_float32("t.f32", 1.5)
    w.add_bool("t.bool", True)
    w.add_bool("t.bool_false", False)
    w.add_string("t.string", "héllo ✓")
    w.add_uint64("t.u64", 1 << 40)
    w.add_int64("t.i64", -(1 << 40))
    w.add_float64("t.f64", 2.25)
    w.add_key_value("t.array_u8", [1, 2, 255], V.ARRAY, V.UINT8)
    w.add_key_value("t.array_i8", [-1, 2], V.ARRAY, V.INT8)
    w.add_key_value("t.array_u16", [1, 65535], V.ARRAY, V.UINT16)
    w.add_key_value("t.array_i16", [-1, 2], V.ARRAY, V.INT16)
    w.add_key_value("t.array_u32", [1, 4294967295], V.ARRAY, V.UINT32)
    w.add_array("t.array_i32", [1, -2, 3])
    w.add_array("t.array_f32", [0.5, -1.25])
    w.add_array("t.array_bool", [True, False, True])
    w.add_array("t.array_str", ["a", "bc", "", "ü"])
    w.add_key_value("t.array_u64", [1 << 63], V.ARRAY, V.UINT64)
    w.add_key_value("t.array_i64", [-(1 << 63)], V.ARRAY, V.INT64)
    w.add_key_value("t.array_f64", [0.1, 1e300], V.ARRAY, V.FLOAT64)
    w.add_array("t.array_nested", [[1, 2], [3]])
    w.add_array("t.array_nested3", [[["x"]], [["y", "z"]]])
    w.add_context_length(2048)
    w.add_block_count(2)
    w.add_file_type(0)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    w.add_tensor("f32", np.arange(64, dtype=np.float32).reshape(8, 8))
    w.add_tensor("f16", np.ones((4, 16), dtype=np.float16))
    w.add_tensor("f64", np.ones((3,), dtype=np.float64))
    w.add_tensor("i8", np.ones((5,), dtype=np.int8))
    w.add_tensor("i16", np.ones((2, 3), dtype=np.int16))
    w.add_tensor("i32", np.ones((7,), dtype=np.int32))
    w.add_tensor("i64", np.ones((1, 1, 1, 2), dtype=np.int64))


def every_ggml_type(w):
    # Raw blocks of every type gguf-py knows: the writer takes bytes and
    # derives the logical shape from the block size.
    rng = np.random.default_rng(0)
    for qtype in Q:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        cols, rows = 256, 2
        data = rng.integers(0, 255, size=(rows, cols // block * size), dtype=np.uint8)
        w.add_tensor(qtype.name.lower(), data, raw_dtype=qtype)


def vocabulary(w):
    # Metadata only, like a tokenizer-only file.
    tokens = [f"tok{i}" for i in range(300)]
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([1] * len(tokens))
    w.add_token_scores([float(-i) for i in range(len(tokens))])


def one_f32(w):
    w.add_tensor("x", np.zeros((3, 5), dtype=np.float32))


def two_f32(w):
    w.add_tensor("a", np.zeros((8,), dtype=np.float32))
    w.add_tensor("b", np.ones((8,), dtype=np.float32))


def tensor_info_offsets(path, index):
    """Byte offsets of the fields of tensor info `index`, as GGUFReader sees them."""
    t = gguf.GGUFReader(path).tensors[index]
    n_dims_at = int(t.field.offset) + 8 + len(t.name.encode())
    n_dims = len(t.shape)
    type_at = n_dims_at + 4 + 8 * n_dims
    return {"info": int(t.field.offset), "n_dims": n_dims_at, "dims": n_dims_at + 4,
            "type": type_at, "offset": type_at + 4}


def key_offset(path, key):
    """Offset of a key's length field (found in the bytes: GGUFReader refuses some of these files)."""
    data = open(path, "rb").read()
    at = data.find(struct.pack("<Q", len(key)) + key.encode())
    assert at >= 0 and data.find(struct.pack("<Q", len(key)) + key.encode(), at + 1) < 0
    return at


def patch(data, at, fmt, value):
    size = struct.calcsize(fmt)
    return data[:at] + struct.pack(fmt, value) + data[at + size:]


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))

    write("all_value_types", all_value_types)
    write("quantized", every_ggml_type)  # name used by the scan corpus
    write("vocabulary", vocabulary)
    base = write("alignment_64", one_f32, alignment=64)
    write("alignment_1", two_f32, alignment=1)
    # v2 differs from v3 only in the version number (v3 added big-endian files).
    v3 = open(base, "rb").read()
    v2_path = os.path.join(ROOT, "ok", "version_2.gguf")
    open(v2_path, "wb").write(patch(v3, 4, "<I", 2))
    dump(os.path.join(ROOT, "ok", "version_2.expected.json"), expected(v2_path))

    dump(os.path.join(ROOT, "ok", "quant_sizes.json"),
         {t.name: {"id": int(t), "block_size": v[0], "type_size": v[1]}
          for t, v in gguf.GGML_QUANT_SIZES.items()})

    # Malformed files: each records the error variant and the offset it names.
    good = v3
    a_tensor = tensor_info_offsets(base, 0)
    arch_at = key_offset(base, "general.architecture")
    arch_type_at = arch_at + 8 + len("general.architecture")

    def err(name, data, variant, offset=None):
        open(os.path.join(ROOT, "err", name + ".gguf"), "wb").write(data)
        dump(os.path.join(ROOT, "err", name + ".expected.json"), {"error": variant, "offset": offset})

    err("bad_magic", b"GGUG" + good[4:], "BadMagic", 0)
    err("empty", b"", "BadMagic", 0)
    err("version_1", patch(good, 4, "<I", 1), "UnsupportedVersion", 4)
    err("version_4", patch(good, 4, "<I", 4), "UnsupportedVersion", 4)
    big = write("big_endian", one_f32, endianess=gguf.GGUFEndian.BIG, sub="err", record=False)
    dump(os.path.join(ROOT, "err", "big_endian.expected.json"), {"error": "UnsupportedVersion", "offset": 4})
    err("truncated_in_counts", good[:20], "Truncated", 16)
    err("truncated_in_metadata", good[:arch_type_at + 2], "Truncated", arch_type_at)
    err("huge_tensor_count", patch(good, 8, "<Q", 1 << 60), "CountTooLarge", 8)
    err("huge_kv_count", patch(good, 16, "<Q", 1 << 60), "CountTooLarge", 16)
    err("huge_string_length", patch(good, arch_at, "<Q", 1 << 62), "StringTooLong", arch_at)
    # A key of 9 bytes declared as 2**20: longer than the file.
    err("string_past_end", patch(good, arch_at, "<Q", 1 << 20), "StringTooLong", arch_at)
    err("bad_value_type", patch(good, arch_type_at, "<I", 99), "UnknownValueType", arch_type_at)
    bad_utf8 = bytearray(good)
    bad_utf8[arch_at + 8] = 0xFF
    err("bad_utf8_key", bytes(bad_utf8), "InvalidUtf8", arch_at + 8)
    err("too_many_dims", patch(good, a_tensor["n_dims"], "<I", 5), "BadShape", a_tensor["n_dims"])
    err("dims_overflow", patch(patch(good, a_tensor["dims"], "<Q", 1 << 40), a_tensor["dims"] + 8, "<Q", 1 << 40),
        "BadShape", a_tensor["info"])
    err("dim_over_i64", patch(good, a_tensor["dims"], "<Q", 1 << 63), "BadShape", a_tensor["info"])
    err("removed_type_q4_2", patch(good, a_tensor["type"], "<I", 4), "RemovedTensorType", a_tensor["type"])
    err("unknown_type", patch(good, a_tensor["type"], "<I", 99), "UnknownTensorType", a_tensor["type"])
    # Q8_0 blocks hold 32 elements; the tensor's first dimension is 5.
    err("not_whole_blocks", patch(good, a_tensor["type"], "<I", int(Q.Q8_0)), "BadShape", a_tensor["info"])
    err("misaligned_tensor", patch(good, a_tensor["offset"], "<Q", 4), "MisalignedTensor", a_tensor["info"])
    err("truncated_data", good[: len(good) - 8], "TensorOutOfBounds", a_tensor["info"])  # name used by the scan corpus
    err("tensor_offset_overflow", patch(good, a_tensor["offset"], "<Q", (1 << 64) - 64), "TensorOutOfBounds",
        a_tensor["info"])

    # Alignment must be a non-zero power-of-two u32.
    def alignment_err(name, build, variant="BadAlignment"):
        path = write(name, build, sub="err", record=False)
        at = key_offset(path, "general.alignment") + 8 + len("general.alignment") + 4
        dump(os.path.join(ROOT, "err", name + ".expected.json"), {"error": variant, "offset": at})

    alignment_err("alignment_zero", lambda w: (w.add_uint32("general.alignment", 0), one_f32(w)))
    alignment_err("alignment_48", lambda w: (w.add_uint32("general.alignment", 48), w.add_tensor("x", np.zeros((12,), dtype=np.float32))))
    alignment_err("alignment_u64", lambda w: (w.add_uint64("general.alignment", 64), one_f32(w)))

    # Arrays: huge declared length; nesting deeper than the reader allows.
    def array_file(name, build):
        return write(name, build, sub="err", record=False)

    arr = array_file("huge_array_length", lambda w: w.add_key_value("t.arr", [1, 2], V.ARRAY, V.UINT32))
    arr_len_at = key_offset(arr, "t.arr") + 8 + len("t.arr") + 4 + 4
    data = patch(open(arr, "rb").read(), arr_len_at, "<Q", 1 << 61)
    open(arr, "wb").write(data)
    dump(os.path.join(ROOT, "err", "huge_array_length.expected.json"), {"error": "CountTooLarge", "offset": arr_len_at})
    arr = array_file("bad_array_element_type", lambda w: w.add_key_value("t.arr", [1, 2], V.ARRAY, V.UINT32))
    elem_type_at = key_offset(arr, "t.arr") + 8 + len("t.arr") + 4
    data = patch(open(arr, "rb").read(), elem_type_at, "<I", 13)
    open(arr, "wb").write(data)
    dump(os.path.join(ROOT, "err", "bad_array_element_type.expected.json"),
         {"error": "UnknownValueType", "offset": elem_type_at})
    nested = [1]
    for _ in range(9):
        nested = [nested]
    deep = array_file("deep_nested_array", lambda w: w.add_array("t.deep", nested))
    # The ninth array header (depth 8) is where the reader gives up.
    deep_at = key_offset(deep, "t.deep") + 8 + len("t.deep") + 4 + 8 * 12
    dump(os.path.join(ROOT, "err", "deep_nested_array.expected.json"), {"error": "ArrayTooDeep", "offset": deep_at})

    # Parseable but suspicious: what scanners flag.
    def malicious(name, data, facts):
        open(os.path.join(ROOT, "malicious", name + ".gguf"), "wb").write(data)
        dump(os.path.join(ROOT, "malicious", name + ".expected.json"), facts)

    two = write("two_tensors", two_f32, sub="malicious", record=False)
    two_bytes = open(two, "rb").read()
    b = tensor_info_offsets(two, 1)
    os.remove(two)
    malicious("overlapping_tensors", patch(two_bytes, b["offset"], "<Q", 0),
              {"overlapping_tensors": [[0, 1]], "duplicate_keys": [], "duplicate_tensor_names": []})
    dup_tensor = bytearray(two_bytes)
    dup_tensor[b["info"] + 8] = ord("a")
    malicious("duplicate_tensor_name", bytes(dup_tensor),
              {"overlapping_tensors": [], "duplicate_keys": [], "duplicate_tensor_names": ["a"]})

    dup = write("dup", lambda w: (w.add_string("t.k1", "first"), w.add_string("t.k2", "second"), one_f32(w)),
                sub="malicious", record=False)
    dup_bytes = bytearray(open(dup, "rb").read())
    k2 = key_offset(dup, "t.k2")
    os.remove(dup)
    dup_bytes[k2 + 8 + 3] = ord("1")
    malicious("duplicate_key", bytes(dup_bytes),
              {"overlapping_tensors": [], "duplicate_keys": ["t.k1"], "duplicate_tensor_names": []})

    # Fuzz seeds: the small valid files.
    shutil.rmtree(SEEDS, ignore_errors=True)
    os.makedirs(SEEDS)
    for name in ("all_value_types", "alignment_64", "alignment_1", "vocabulary", "version_2"):
        shutil.copy(os.path.join(ROOT, "ok", name + ".gguf"), SEEDS)
    shutil.copy(os.path.join(ROOT, "malicious", "overlapping_tensors.gguf"), SEEDS)


if __name__ == "__main__":
    main()
