"""Write pickles with CPython's pickle module (every protocol, every opcode
family) and pickletools' listing of each, plus malicious pickles with the
imports and calls a loader would make, for crates/pickle tests.

    python3 scripts/testdata/make_pickle.py
"""
import collections
import copyreg
import io
import json
import os
import pickle
import pickletools
import shutil

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "pickle")


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Keyword:
    def __reduce_ex__(self, protocol):
        return (copyreg.__newobj_ex__, (Keyword, (1,), {"k": 2}))

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)




def sample():
    shared = ["shared"]
    big = 2 ** 70
    # Self-references go through the memo (PUT/GET and their binary forms).
    recursive = ["loop"]
    recursive.append(recursive)
    return {
        "none": None, "bools": [True, False], "recursive": recursive,
        "ints": [0, 1, 255, 65535, -1, 2 ** 31, -(2 ** 40), big, -big, 2 ** 300, -(2 ** 300) + 7, 2 ** 600],
        "floats": [1.5, -0.0], "text": "héllo", "long_text": "x" * 300, "bytes": b"\x00\x01" * 10,
        "long_bytes": b"z" * 300, "tuple": (1, 2, 3), "tuple1": (1,), "tuple2": (1, 2), "empty": (),
        "set": {1, 2}, "frozen": frozenset({3}), "shared": [shared, shared], "bytearray": bytearray(b"ab"),
        "od": collections.OrderedDict(a=1), "point": Point(1, 2),
    }


def listing(data):
    ops = []
    for opcode, arg, pos in pickletools.genops(data):
        if isinstance(arg, (bytes, bytearray)):
            arg = {"bytes": len(arg)}
        elif isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) >= 2 ** 63:
            # Binary integers longer than MAX_LONG_BYTES (64) are recorded by size.
            size = len(pickle.encode_long(arg))
            binary = opcode.name in ("LONG1", "LONG4")
            arg = {"bigint": f"<{size}-byte integer>" if binary and size > 64 else str(arg)}
        elif isinstance(arg, float) or arg is None or isinstance(arg, (str, bool, int)):
            pass
        else:
            arg = repr(arg)
        ops.append([pos, opcode.name, arg])
    return ops


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    out = lambda sub, name, data: open(os.path.join(ROOT, sub, name), "wb").write(data)
    for protocol in range(0, 6):
        data = pickle.dumps(sample(), protocol=protocol)
        out("ok", f"protocol{protocol}.pkl", data)
        json.dump(listing(data), open(os.path.join(ROOT, "ok", f"protocol{protocol}.ops.json"), "w"))
    # NEWOBJ_EX (protocol 4+), out-of-band buffers (protocol 5), the extension registry.
    data = pickle.dumps(Keyword(), protocol=4)
    out("ok", "newobj_ex.pkl", data)
    json.dump(listing(data), open(os.path.join(ROOT, "ok", "newobj_ex.ops.json"), "w"))
    buffers = []
    data = pickle.dumps([pickle.PickleBuffer(b"abc"), pickle.PickleBuffer(memoryview(b"readonly").toreadonly())], protocol=5, buffer_callback=buffers.append)
    out("ok", "buffers.pkl", data)
    json.dump(listing(data), open(os.path.join(ROOT, "ok", "buffers.ops.json"), "w"))
    copyreg.add_extension("__main__", "Point", 240)
    copyreg.add_extension("collections", "OrderedDict", 0x1234)
    copyreg.add_extension("__main__", "Keyword", 0x123456)
    data = pickle.dumps([Point, collections.OrderedDict, Keyword], protocol=2)
    out("ok", "extensions.pkl", data)
    json.dump(listing(data), open(os.path.join(ROOT, "ok", "extensions.ops.json"), "w"))
    # Two pickles back to back, as legacy torch.save writes them.
    data = pickle.dumps(1, protocol=2) + pickle.dumps({"a": [1]}, protocol=2)
    out("ok", "two.pkl", data)
    json.dump(listing(data[: len(pickle.dumps(1, protocol=2))]), open(os.path.join(ROOT, "ok", "two.first.ops.json"), "w"))

    # Opcodes CPython 3 no longer writes, assembled by hand.
    data = (b"(S'py2 \\x41'\nT\x03\x00\x00\x00abcU\x02hi\x8b\x02\x00\x00\x00\xff\x7f"
            b"\x8d\x02\x00\x00\x00\x00\x00\x00\x00ok\x8e\x01\x00\x00\x00\x00\x00\x00\x00z"
            b"20(N1P1\nK\x05QI01\nI00\nL12L\nV\\u00e9\n"
            b"(icollections\nOrderedDict\n(ccollections\nOrderedDict\nol"
            # Python 2 string escapes, as codecs.escape_decode reads them.
            b"S'a\\x41\\n\\a\\'q\\\\z\\q\\101'\n0.")
    out("ok", "handmade.pkl", data)
    json.dump(listing(data), open(os.path.join(ROOT, "ok", "handmade.ops.json"), "w"))
    # More than 256 memo entries: LONG_BINPUT and LONG_BINGET; persistent ids.
    class Persist(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", obj[3:]) if isinstance(obj, str) and obj.startswith("pid") else None
    for protocol in (0, 2):
        lists = [[i] for i in range(300)]
        buf = io.BytesIO()
        Persist(buf, protocol=protocol).dump([lists, lists[::-1], "pid-1"])
        out("ok", f"memo_persid_{protocol}.pkl", buf.getvalue())
        json.dump(listing(buf.getvalue()), open(os.path.join(ROOT, "ok", f"memo_persid_{protocol}.ops.json"), "w"))

    # joblib.dump interleaves each array's raw bytes with the pickle opcodes.
    # The expectation is where each array's data lies, found by content.
    import joblib
    import numpy as np

    def joblib_bytes(value, **kwargs):
        path = os.path.join(ROOT, "joblib.tmp")
        joblib.dump(value, path, **kwargs)
        data = open(path, "rb").read()
        os.remove(path)
        return data

    decoy = np.frombuffer(b"cos\nsystem\n(S'id'\ntR.", dtype=np.uint8)
    arrays = {
        "f8": np.arange(12, dtype="<f8").reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)),
        "scalar": np.array(7, dtype=np.int16),
        "empty": np.zeros((0, 5), dtype=np.float32),
        "text": np.array(["ab", "cde"], dtype="<U3"),
        "record": np.array([(1.5, b"ab"), (2.5, b"cd")], dtype=[("x", "<f4"), ("y", "S2")]),
        "decoy": decoy,
        "objects": np.array([1, "two", None], dtype=object),
        "datetime": np.array(["2024-01-01"], dtype="datetime64[D]"),
        "complex": np.ones(2, dtype=np.complex128),
    }
    data = joblib_bytes(arrays)
    out("ok", "joblib_arrays.pkl", data)
    buffers = []
    searched = 0
    for name, array in arrays.items():
        if array.dtype.hasobject:
            buffers.append({"array": name, "object": True})
            continue
        raw = np.ascontiguousarray(array).tobytes() if not array.flags.f_contiguous or array.flags.c_contiguous else array.T.tobytes()
        offset = data.find(raw, searched) if raw else None
        searched = offset + len(raw) if raw else searched
        buffers.append({"array": name, "object": False, "len": len(raw), "shape": list(array.shape),
                        "offset": offset})
    json.dump({"joblib": joblib.__version__, "buffers": buffers},
              open(os.path.join(ROOT, "ok", "joblib_arrays.buffers.json"), "w"), indent=1)
    # A stream joblib writes without seeking (no alignment padding).
    buf = io.BytesIO()
    joblib.dump({"a": np.arange(5)}, buf)
    out("ok", "joblib_unaligned.pkl", buf.getvalue())

    class Run:
        def __reduce__(self):
            return (os.system, ("id",))

    # A payload between two arrays, and one after the last pickle.
    out("malicious", "joblib_between.pkl", joblib_bytes([np.arange(4), Run(), np.ones(3)]))
    out("malicious", "joblib_after.pkl",
        joblib_bytes({"w": np.arange(8)}) + b"cos\nsystem\n(S'id'\ntR.")
    # A payload inside an object array's embedded pickle.
    out("malicious", "joblib_object_array.pkl", joblib_bytes(np.array([Run(), 1], dtype=object)))

    # Malformed.
    good = pickle.dumps(sample(), protocol=2)
    out("err", "unknown_opcode.pkl", good[:-1] + b"\xff")
    out("err", "truncated.pkl", good[: len(good) // 2])
    out("err", "huge_length.pkl", b"\x80\x02X\xff\xff\xff\x7f" + b"ab.")
    out("err", "stack_underflow.pkl", b"\x80\x02R.")
    out("err", "missing_memo.pkl", b"\x80\x02h\x07.")

    # Malicious: the families scanners must resolve.
    out("malicious", "global_reduce.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    out("malicious", "inst.pkl", b"(S'echo pwned'\nios\nsystem\n.")
    out("malicious", "obj.pkl", b"\x80\x02(cos\nsystem\nX\x0a\x00\x00\x00echo pwnedo.")
    # STACK_GLOBAL with operands fetched from the memo.
    out("malicious", "stack_global_memo.pkl",
        b"\x80\x04\x8c\x02os\x940\x8c\x06system\x940h\x00h\x01\x93\x8c\x02id\x85R.")
    # STACK_GLOBAL whose module is computed at load time (the result of a call).
    out("malicious", "stack_global_dynamic.pkl",
        b"\x80\x04cbuiltins\nstr\n\x8c\x02os\x85R\x8c\x06system\x93\x8c\x02id\x85R.")
    # BUILD setting an attribute on a module, then a dotted GLOBAL.
    out("malicious", "build_setattr.pkl",
        b"\x80\x02cbuiltins\nexec\n}\x8c\x01x\x8c\x02id\x73b0cbuiltins\nexec\n\x8c\x05print\x85R.")
    # Dangerous call hidden in the second pickle of a stream.
    out("malicious", "second_pickle.pkl", pickle.dumps(1, protocol=2) + b"cos\nsystem\n(S'id'\ntR.")
    # NEWOBJ_EX on a dangerous class.
    out("malicious", "newobj_ex.pkl", b"\x80\x04\x8c\nsubprocess\x8c\x05Popen\x93\x8c\x02id\x85}\x92.")


if __name__ == "__main__":
    main()
