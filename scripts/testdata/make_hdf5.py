"""Write HDF5 files for crates/hdf5 tests with h5py (the HDF5 library
itself): old-style groups (libver 'earliest': superblock 0, symbol tables),
new-style groups (libver 'v108' and 'latest': superblocks 2 and 3, version-2
object headers, compact and dense link and attribute storage), datasets of
many types, contiguous, compact and chunked layouts (B-tree v1, single
chunk, fixed and extensible arrays) with filters, attributes of several
types including variable-length strings in the global heap and a huge
attribute in a fractal heap, a user block, soft, external and cyclic hard
links, and committed datatypes. Then broken copies: truncated, checksum
mismatch, bad signatures, unknown versions, and groups nested deeper than
the reader's limit.

Beside each input, `<stem>.expected.json`, h5py's own view:
{"superblock", "groups": [path], "datasets": {path: {"shape", "dtype",
"layout", "chunks", "filters", "n_chunks", "stored_bytes"}},
"attributes": {"path@name": {"dtype", "shape", "value"}}, "links":
{path: [kind, target...]}} or {"error": variant}.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_hdf5.py
"""
import json
import os
import shutil

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "hdf5")
LAYOUTS = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked"}


def value_json(value, dtype):
    """An attribute value as the flat JSON list the Rust test compares
    (numbers longer than 64 as {"len", "sum"}), or None for types the
    reader keeps raw."""
    kind = dtype.kind
    if kind in "iubf" and np.asarray(value).size > 64:
        flat = np.asarray(value).ravel()
        return {"len": int(flat.size), "sum": float(flat.astype(np.float64).sum())}
    if h5py.check_string_dtype(dtype) is not None or kind == "S":
        flat = np.asarray(value, dtype=object).ravel().tolist()
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in flat]
    if kind in "iub":
        return [int(v) for v in np.asarray(value).ravel().tolist()]
    if kind == "f":
        return [float(v) for v in np.asarray(value).ravel().tolist()]
    return None


def describe(path):
    """h5py's answer for the file at `path`."""
    out = {"groups": [""], "datasets": {}, "attributes": {}, "links": {}}
    with h5py.File(path, "r") as f:
        out["superblock"] = f.id.get_create_plist().get_version()[0]

        def attributes(name, obj):
            for key in obj.attrs:
                aid = obj.attrs.get_id(key)
                out["attributes"][f"{name}@{key}"] = {
                    "dtype": aid.dtype.str,
                    "shape": list(aid.shape) if aid.shape is not None else None,
                    "value": value_json(obj.attrs[key], aid.dtype),
                }

        attributes("", f)

        def visit(name, obj):
            attributes(name, obj)
            if isinstance(obj, h5py.Group):
                out["groups"].append(name)
                return
            if not isinstance(obj, h5py.Dataset):
                return
            plist = obj.id.get_create_plist()
            entry = {
                "shape": list(obj.shape),
                "dtype": obj.dtype.str,
                "layout": LAYOUTS[plist.get_layout()],
                "chunks": list(obj.chunks) if obj.chunks else None,
                "filters": [plist.get_filter(i)[0] for i in range(plist.get_nfilters())],
                "n_chunks": None,
                "stored_bytes": None,
            }
            if obj.chunks:
                n = obj.id.get_num_chunks()
                entry["n_chunks"] = n
                entry["stored_bytes"] = sum(obj.id.get_chunk_info(i).size for i in range(n))
            out["datasets"][name] = entry

        f.visititems(visit)

        def links(name, link):
            if isinstance(link, h5py.SoftLink):
                out["links"][name] = ["soft", link.path]
            elif isinstance(link, h5py.ExternalLink):
                out["links"][name] = ["external", link.filename, link.path]

        f.visititems_links(links)
    out["groups"].sort()
    return out


def finish(sub, name, expected=None):
    path = os.path.join(ROOT, sub, name)
    assert os.path.getsize(path) < 200 * 1024, name
    if expected is None:
        expected = describe(path)
    stem = name.rsplit(".", 1)[0]
    with open(os.path.join(ROOT, sub, stem + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def fill(f):
    """Groups, datasets of many types, attributes of many types."""
    f.attrs["title"] = "a variable-length string"
    f.attrs["fixed"] = np.bytes_(b"fixed bytes")
    f.attrs["names"] = ["alpha", "beta", "gamma"]
    f.attrs["fixed_names"] = np.array([b"ab", b"cde"])
    f.attrs["count"] = np.int64(-42)
    f.attrs["small"] = np.int8(-3)
    f.attrs["unsigned"] = np.array([1, 2, 65535], dtype=np.uint16)
    f.attrs["big_endian"] = np.array([1, -2], dtype=">i4")
    f.attrs["ratio"] = 0.25
    f.attrs["halves"] = np.array([1.5, -2.0], dtype=np.float16)
    f.attrs["matrix"] = np.arange(6, dtype=np.float32).reshape(2, 3)
    f.attrs["flag"] = True
    f.attrs["pair"] = np.array((1, 2.5), dtype=[("a", "<i4"), ("b", "<f8")])
    weights = f.create_group("model/layers/dense")
    weights.attrs["name"] = "dense"
    weights.create_dataset("kernel", data=np.arange(12, dtype=np.float32).reshape(4, 3))
    weights.create_dataset("bias", data=np.zeros(3, dtype=np.float64))
    types = f.create_group("types")
    types.create_dataset("int8", data=np.array([-1, 2], dtype=np.int8))
    types.create_dataset("uint64", data=np.array([1, 2**63], dtype=np.uint64))
    types.create_dataset("big_endian", data=np.array([1, 2], dtype=">i4"))
    types.create_dataset("half", data=np.ones((2, 2), dtype=np.float16))
    types.create_dataset("bool", data=np.array([True, False]))
    types.create_dataset("complex", data=np.array([1 + 2j], dtype=np.complex64))
    types.create_dataset("fixed_string", data=np.array([b"abc", b"defghij"]))
    types.create_dataset("vlen_string", data=["one", "two", "three"], dtype=h5py.string_dtype())
    types.create_dataset("compound", data=np.zeros(2, dtype=[("x", "<i4"), ("y", "<f8")]))
    types.create_dataset("array", data=np.zeros(2, dtype=("<f4", (3,))))
    types.create_dataset("enum", data=np.array([0, 1], dtype=np.int8),
                         dtype=h5py.enum_dtype({"red": 0, "green": 1}, basetype="i1"))
    types.create_dataset("scalar", data=3.5)
    types.create_dataset("empty", shape=(0, 4), dtype=np.float32)
    types.create_dataset("unwritten", shape=(5,), dtype=np.int32)


def h5(sub, name, build, **kwargs):
    path = os.path.join(ROOT, sub, name)
    with h5py.File(path, "w", **kwargs) as f:
        build(f)
    if sub == "ok":
        finish(sub, name)
    return path


def chunked(f):
    data = np.arange(1000, dtype=np.float32).reshape(100, 10)
    f.create_dataset("gzip", data=data, chunks=(10, 10), compression="gzip", compression_opts=6)
    f.create_dataset("shuffle_fletcher", data=data, chunks=(25, 10), shuffle=True, fletcher32=True,
                     compression="gzip")
    f.create_dataset("lzf", data=data, chunks=(50, 5), compression="lzf")
    f.create_dataset("growable", data=np.arange(30, dtype=np.int64), chunks=(8,), maxshape=(None,))
    f.create_dataset("single", data=np.arange(16, dtype=np.int16).reshape(4, 4), chunks=(4, 4))
    sparse = f.create_dataset("sparse", shape=(1000,), chunks=(10,), dtype=np.int32)
    sparse[500:520] = 7


def compact(f):
    space = h5py.h5s.create_simple((4,))
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_layout(h5py.h5d.COMPACT)
    dset = h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT32, space, plist)
    dset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([1, 2, 3, 4], dtype=np.int32))
    f.create_dataset("contiguous", data=np.arange(4, dtype=np.int32))


def links(f):
    f.create_dataset("data/values", data=np.arange(3))
    f["alias"] = h5py.SoftLink("/data/values")
    f["dangling"] = h5py.SoftLink("/nowhere")
    f["elsewhere"] = h5py.ExternalLink("other.h5", "/weights")
    f["data/loop"] = f["/"]  # a hard link back to the root: a cycle


def named_type(f):
    f["vector_t"] = np.dtype([("x", "<f4"), ("y", "<f4")])
    f.create_dataset("points", shape=(3,), dtype=f["vector_t"])
    f.create_dataset("plain", data=np.zeros(2))


def dense(f):
    group = f.create_group("many")
    for i in range(40):
        group.create_dataset(f"w{i:02d}", data=np.full(2, i, dtype=np.float32))
    for i in range(20):
        group.attrs[f"attr{i:02d}"] = i * 10
    group.attrs["config"] = json.dumps({"class_name": "Dense", "config": {"units": 2}})
    f.attrs["huge"] = np.arange(9000, dtype=np.float64)  # > 64 KiB: a huge heap object


def track_order(f):
    group = f.create_group("ordered", track_order=True)
    for i in range(12):
        group.create_dataset(f"z{11 - i}", data=[i])


def userblock(f):
    f.create_dataset("x", data=np.arange(4, dtype=np.float32))
    f.attrs["note"] = "behind a user block"


def corrupt(source, sub, name, patch, error):
    with open(source, "rb") as f:
        data = bytearray(f.read())
    data = patch(data)
    with open(os.path.join(ROOT, sub, name), "wb") as f:
        f.write(bytes(data))
    finish(sub, name, {"error": error})


def flip_at(marker, delta, occurrence=0):
    def patch(data):
        at = -1
        for _ in range(occurrence + 1):
            at = data.index(marker, at + 1)
        data[at + delta] ^= 0xFF
        return data
    return patch


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err"):
        os.makedirs(os.path.join(ROOT, sub))
    earliest = h5("ok", "earliest.h5", fill, libver="earliest")
    h5("ok", "v108.h5", fill, libver=("v108", "v108"))
    latest = h5("ok", "latest.h5", fill, libver="latest")
    h5("ok", "chunked_earliest.h5", chunked, libver="earliest")
    h5("ok", "chunked_latest.h5", chunked, libver="latest")
    h5("ok", "compact.h5", compact)
    h5("ok", "links.h5", links)
    h5("ok", "named_type.h5", named_type)
    dense_file = h5("ok", "dense.h5", dense, libver="latest")
    h5("ok", "track_order.h5", track_order)
    h5("ok", "userblock.h5", userblock, userblock_size=1024)

    corrupt(earliest, "err", "truncated.h5", lambda d: d[: len(d) // 2], "Truncated")
    corrupt(latest, "err", "header_checksum.h5", flip_at(b"OHDR", 12, occurrence=1), "Checksum")
    corrupt(latest, "err", "superblock_checksum.h5", flip_at(b"\x89HDF", 20), "Checksum")
    corrupt(earliest, "err", "snod_signature.h5", flip_at(b"SNOD", 0), "BadSignature")
    corrupt(earliest, "err", "tree_signature.h5", flip_at(b"TREE", 1, occurrence=1), "BadSignature")
    corrupt(earliest, "err", "superblock_version.h5", lambda d: d[:8] + b"\x07" + d[9:], "UnsupportedVersion")
    corrupt(dense_file, "err", "heap_signature.h5", flip_at(b"FRHP", 2), "BadSignature")
    corrupt(earliest, "err", "gcol_signature.h5", flip_at(b"GCOL", 3), "BadSignature")
    # Deeper than the reader's default max_depth (256): stops at the limit.
    h5("err", "deep.h5", lambda f: f.create_group("/".join(["g"] * 300)), libver="latest")
    finish("err", "deep.h5", {"error": "LimitExceeded"})
    with open(os.path.join(ROOT, "err", "not_hdf5.h5"), "wb") as f:
        f.write(b"\x89HDX\r\n\x1a\n" + bytes(600))
    finish("err", "not_hdf5.h5", {"error": "NoSignature"})


if __name__ == "__main__":
    main()
