"""Write joblib files around real scikit-learn estimators with the real joblib,
plain and with every compressor it offers, plus legacy files from joblib 0.11
and 0.9.4, into tests/data/joblib/, and beside each `<stem>.expected.json`:
which compression layers wrap it and the SHA-256 of what joblib itself reads
out of them.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_joblib.py

Writers (pinned in scripts/requirements.txt): joblib 1.6.0, scikit-learn 1.9.1,
lz4 4.4.5. Legacy writers are pip-installed (`--no-deps --target`) into
$MODELGATE_LEGACY_JOBLIB (default ~/.cache/modelgate/legacy-joblib/<version>)
and run in a child process (`--legacy VERSION DIR`) that builds the
estimators with the current scikit-learn first and only then swaps the
`joblib` package for the legacy one (scikit-learn imports the current joblib
and cannot start with 0.9.4 on the path):
  - joblib 0.11 (single file: the pickle with array bytes in the stream, no
    alignment padding; `compress=True` is a zlib stream). Patched minimally:
    `NumpyArrayWrapper.write_array` calls `ndarray.tostring`, removed in
    NumPy 2.3; the child recompiles that one method from joblib's own source
    with `.tostring('C')` replaced by `.tobytes('C')`, the identical bytes.
  - joblib 0.9.4 (runs unpatched): plain dump is a pickle plus one `.npy`
    side file per array (`NDArrayWrapper`); `compress=3` is the `ZF` format
    (b"ZF", the uncompressed length as `'0x…'` left-justified to 19 bytes,
    then a zlib stream), arrays inline; with `cache_size=0` every array goes
    to a `<name>_NN.npy.z` side file, itself a ZF file of raw array bytes
    (`ZNDArrayWrapper`).
Every file is loaded back with the current joblib (`joblib.load`, its compat
path for the legacy ones) and compared with the original object.

Expected JSON ("layers" uses modelgate's names: zlib, gzip, bzip2, lzma, xz,
lz4, joblib-zf):
  {"writer", "dump", "object", "layers": [...outermost first],
   "inner": "pickle" | "npy" | "raw", "inner_size", "inner_sha256",
   "arrays": [{"offset", "data_offset", "end", "pad", "dtype", "shape",
               "order", "allow_mmap", "alignment", "object"}]   (joblib >= 0.10:
               where each NumpyArrayWrapper's bytes sit in the inner stream,
               recorded by instrumenting joblib's own reader),
   "side_files": [names] (joblib 0.9.4), "joblib_load": "ok"}
  err/ and malicious/: {"layers", "error": modelgate Error variant,
   "python": what Python's decompressor does ("error: ..." or "ok"),
   optionally "inner_sha256" when Python reads the bytes anyway, and
   "tight_error" under a 1 MiB member limit with no ratio limit}.
"""
import bz2
import gzip
import hashlib
import importlib
import inspect
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "joblib")
JOBLIB_VERSION = "1.6.0"
SKLEARN_VERSION = "1.9.1"
LEGACY_VERSIONS = ("0.11", "0.9.4")
LEGACY_HOME = os.environ.get(
    "MODELGATE_LEGACY_JOBLIB", os.path.join(os.path.expanduser("~"), ".cache", "modelgate", "legacy-joblib"))
ZF_MAX_LEN = len("{0:#x}".format(2 ** 64))  # 19, as joblib's _MAX_LEN


def training_data():
    import numpy as np
    rng = np.random.RandomState(0)
    x = rng.normal(size=(24, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return x, y


def estimators():
    """The objects dumped: tiny, fitted, deterministic."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    x, y = training_data()
    lr = LogisticRegression().fit(x, y)
    pipeline = Pipeline([
        ("scale", StandardScaler()),
        ("forest", RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)),
    ]).fit(x, y)
    arrays = {
        "c_float64": np.arange(6, dtype="<f8").reshape(2, 3),
        "f_int32": np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3)),
        "scalar": np.array(7, dtype="<i8"),
        "empty": np.zeros((0, 4), dtype="<f4"),
        "big_endian": np.arange(3, dtype=">f4"),
        "structured": np.array([(1, 2.0)], dtype=[("a", "<i2"), ("b", "<f8")]),
        "objects": np.array(["text", 1, None], dtype=object),
    }
    return {"lr": lr, "pipeline": pipeline, "arrays": arrays}


def same(a, b):
    """Whether a loaded object equals the original."""
    import numpy as np
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        # joblib.load swaps big-endian arrays to the native order by default.
        return (a.dtype.newbyteorder("=") == b.dtype.newbyteorder("=") and a.shape == b.shape
                and a.tolist() == b.tolist())
    x, _ = training_data()
    return (type(a) is type(b) and np.array_equal(a.predict(x), b.predict(x))
            and np.array_equal(a.predict_proba(x), b.predict_proba(x)))


# --- legacy writers (child process) -----------------------------------------

def legacy_dir(version):
    target = os.path.join(LEGACY_HOME, version)
    if not os.path.isfile(os.path.join(target, "joblib", "__init__.py")):
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--target", target, "joblib==" + version], check=True)
    return target


def legacy_child(version, out):
    objects = estimators()  # with the current joblib, before the swap
    for name in [m for m in sys.modules if m == "joblib" or m.startswith("joblib.")]:
        del sys.modules[name]
    sys.path.insert(0, legacy_dir(version))
    joblib = importlib.import_module("joblib")
    assert joblib.__version__ == version, joblib.__version__
    lr = objects["lr"]
    if version == "0.11":
        pickle_module = importlib.import_module("joblib.numpy_pickle")
        wrapper = pickle_module.NumpyArrayWrapper
        source = textwrap.dedent(inspect.getsource(wrapper.write_array))
        assert source.count(".tostring('C')") == 1
        namespace = {}
        exec(source.replace(".tostring('C')", ".tobytes('C')"), pickle_module.__dict__, namespace)
        wrapper.write_array = namespace["write_array"]
        joblib.dump(lr, os.path.join(out, "lr_joblib011.pkl"))
        joblib.dump(lr, os.path.join(out, "lr_joblib011_zlib.pkl"), compress=True)
        joblib.dump(objects["arrays"], os.path.join(out, "arrays_joblib011.pkl"))
    else:
        joblib.dump(lr, os.path.join(out, "lr_joblib094.pkl"))
        joblib.dump(lr, os.path.join(out, "lr_joblib094_zf.pkl"), compress=3)
        joblib.dump(lr, os.path.join(out, "lr_joblib094_zf_side.pkl"), compress=3, cache_size=0)


# --- reading as joblib reads -------------------------------------------------

def joblib_inner(path):
    """The bytes joblib's own reader gets out of a file (decompressed)."""
    from joblib import numpy_pickle_utils
    with open(path, "rb") as f:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with numpy_pickle_utils._validate_fileobject_and_memmap(f, path) as (fobj, _):
                if fobj is path:  # ZF: joblib hands the name to its compat reader
                    from joblib import numpy_pickle_compat
                    with open(path, "rb") as g:
                        return numpy_pickle_compat.read_zfile(g)
                return fobj.read()


def stdlib_decompress(kind, data):
    """The same bytes from the standard decompressors (a second opinion)."""
    import lz4.frame
    if kind == "joblib-zf":
        length = int(data[2:2 + ZF_MAX_LEN], 16)
        start = 2 + ZF_MAX_LEN + (data[2 + ZF_MAX_LEN:3 + ZF_MAX_LEN] == b" ")
        out = zlib.decompress(data[start:], 15, length)
        assert len(out) == length
        return out
    return {
        "zlib": zlib.decompress,
        "gzip": gzip.decompress,
        "bzip2": bz2.decompress,
        "lzma": lambda b: lzma.decompress(b, format=lzma.FORMAT_ALONE),
        "xz": lambda b: lzma.decompress(b, format=lzma.FORMAT_XZ),
        "lz4": lz4.frame.decompress,
    }[kind](data)


def kind_of(data):
    """joblib's _detect_compressor, in modelgate's names."""
    from joblib import numpy_pickle_utils
    name = numpy_pickle_utils._detect_compressor(io.BufferedReader(io.BytesIO(data)))
    return {"compat": "joblib-zf", "bz2": "bzip2", "not-compressed": None}.get(name, name)


def load_recording_arrays(path):
    """joblib.load, recording where each NumpyArrayWrapper's bytes lie."""
    import joblib
    from joblib.numpy_pickle import NumpyArrayWrapper
    records = []
    original = NumpyArrayWrapper.read

    def read(self, unpickler, ensure_native_byte_order):
        offset = unpickler.file_handle.tell()
        array = original(self, unpickler, ensure_native_byte_order)
        records.append({
            "offset": offset,
            "end": unpickler.file_handle.tell(),
            "dtype": self.dtype.str if self.dtype.fields is None else str(self.dtype.descr),
            "shape": list(self.shape),
            "order": self.order,
            "allow_mmap": self.allow_mmap,
            "alignment": self.safe_get_numpy_array_alignment_bytes(),
            "object": bool(self.dtype.hasobject),
        })
        return array

    NumpyArrayWrapper.read = read
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return joblib.load(path), records
    finally:
        NumpyArrayWrapper.read = original


def write_expected(path, expected):
    directory, name = os.path.split(path)
    stem = name.rsplit(".", 1)[0]
    target = os.path.join(directory, stem + ".expected.json")
    assert not os.path.exists(target), target
    with open(target, "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def describe(path, writer, dump, obj_name, original):
    """Expected JSON of a file joblib wrote, checked by loading it back."""
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) < 200 * 1024, (path, len(data))
    kind = kind_of(data)
    inner = joblib_inner(path) if kind else data
    if kind:
        assert stdlib_decompress(kind, data) == inner, path
    expected = {
        "writer": writer,
        "dump": dump,
        "object": obj_name,
        "layers": [kind] if kind else [],
        "inner": "pickle",
        "inner_size": len(inner),
        "inner_sha256": hashlib.sha256(inner).hexdigest(),
    }
    if original is not None:
        loaded, records = load_recording_arrays(path)
        assert same(original, loaded), path
        expected["joblib_load"] = "ok"
        for record in records:
            offset = record["offset"]
            if record["alignment"] is not None and not record["object"]:
                record["pad"] = inner[offset]
                record["data_offset"] = offset + 1 + inner[offset]
                assert inner[offset + 1:record["data_offset"]] == b"\xff" * inner[offset], path
                assert record["data_offset"] % record["alignment"] == 0, path
            else:
                record["pad"] = None
                record["data_offset"] = offset
        if records:
            expected["arrays"] = records
    write_expected(path, expected)
    return expected


def describe_side(path, writer, main):
    """A joblib 0.9.4 side file: `.npy`, or `.npy.z` (ZF of raw array bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    kind = kind_of(data)
    inner = joblib_inner(path) if kind == "joblib-zf" else data
    if kind:
        assert stdlib_decompress(kind, data) == inner
    write_expected(path, {
        "writer": writer,
        "dump": "side file of " + main,
        "object": "numpy array",
        "layers": [kind] if kind else [],
        "inner": "raw" if kind else "npy",
        "inner_size": len(inner),
        "inner_sha256": hashlib.sha256(inner).hexdigest(),
    })


# --- the corpus ---------------------------------------------------------------

CURRENT = [
    # (file, object, compress argument as the user writes it)
    ("lr.joblib", "lr", 0),
    ("lr_compress3.joblib", "lr", 3),
    ("lr_gzip.joblib", "lr", "gzip"),
    ("lr_bz2.joblib", "lr", "bz2"),
    ("lr_lzma.joblib", "lr", "lzma"),
    ("lr_xz.joblib", "lr", "xz"),
    ("lr_lz4.joblib", "lr", "lz4"),
    ("pipeline.joblib", "pipeline", 0),
    ("pipeline_zlib1.joblib", "pipeline", ("zlib", 1)),
    ("pipeline_zlib9.joblib", "pipeline", ("zlib", 9)),
    ("pipeline_gzip1.joblib", "pipeline", ("gzip", 1)),
    ("pipeline_bz2_9.joblib", "pipeline", ("bz2", 9)),
    ("pipeline_lzma9.joblib", "pipeline", ("lzma", 9)),
    ("pipeline_xz1.joblib", "pipeline", ("xz", 1)),
    ("pipeline_lz4_9.joblib", "pipeline", ("lz4", 9)),
    ("arrays.joblib", "arrays", 0),
    ("arrays_zlib.joblib", "arrays", 3),
]
NAMES = {"lr": "LogisticRegression", "pipeline": "Pipeline(StandardScaler, RandomForestClassifier)",
         "arrays": "dict of numpy arrays (C, F, 0-d, empty, big-endian, structured, object)"}


def current(objects):
    import joblib
    assert joblib.__version__ == JOBLIB_VERSION, joblib.__version__
    for name, obj_key, compress in CURRENT:
        path = os.path.join(ROOT, "ok", name)
        joblib.dump(objects[obj_key], path, compress=compress)
        describe(path, "joblib " + JOBLIB_VERSION, "compress=" + repr(compress), NAMES[obj_key], objects[obj_key])
    path = os.path.join(ROOT, "ok", "arrays_protocol2.joblib")
    joblib.dump(objects["arrays"], path, protocol=2)
    describe(path, "joblib " + JOBLIB_VERSION, "compress=0, protocol=2", NAMES["arrays"], objects["arrays"])


def legacy(objects):
    ok = os.path.join(ROOT, "ok")
    for version in LEGACY_VERSIONS:
        before = set(os.listdir(ok))
        subprocess.run([sys.executable, os.path.abspath(__file__), "--legacy", version, ok], check=True)
        written = sorted(set(os.listdir(ok)) - before)
        writer = "joblib " + version
        for name in written:
            path = os.path.join(ok, name)
            if "_0" in name:  # side files: <main>_NN.npy[.z]
                describe_side(path, writer, name.split("_0")[0])
            else:
                obj_key = "arrays" if name.startswith("arrays") else "lr"
                dump = {"lr_joblib011.pkl": "compress=0", "lr_joblib011_zlib.pkl": "compress=True",
                        "arrays_joblib011.pkl": "compress=0", "lr_joblib094.pkl": "compress=0",
                        "lr_joblib094_zf.pkl": "compress=3",
                        "lr_joblib094_zf_side.pkl": "compress=3, cache_size=0"}[name]
                expected = describe(path, writer, dump, NAMES[obj_key], objects[obj_key])
                if version == "0.9.4" and dump == "compress=0":
                    expected["side_files"] = [n for n in written if n.startswith(name + "_")]
                    os.remove(os.path.join(ok, name.rsplit(".", 1)[0] + ".expected.json"))
                    write_expected(path, expected)
                elif version == "0.9.4" and "cache_size" in dump:
                    expected["side_files"] = [n for n in written if n.startswith(name + "_")]
                    os.remove(os.path.join(ok, name.rsplit(".", 1)[0] + ".expected.json"))
                    write_expected(path, expected)


def python_verdict(kind, data):
    try:
        out = stdlib_decompress(kind, data)
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return "error: " + type(error).__name__, None
    return "ok", hashlib.sha256(out).hexdigest()


def broken():
    """Truncated and corrupted copies of each compressed LogisticRegression."""
    sources = {
        "zlib": "lr_compress3.joblib", "gzip": "lr_gzip.joblib", "bzip2": "lr_bz2.joblib",
        "lzma": "lr_lzma.joblib", "xz": "lr_xz.joblib", "lz4": "lr_lz4.joblib",
        "joblib-zf": "lr_joblib094_zf.pkl",
    }
    for kind, source in sources.items():
        with open(os.path.join(ROOT, "ok", source), "rb") as f:
            data = f.read()
        label = kind.replace("joblib-", "")
        cut = data[:len(data) * 3 // 5]
        verdict, digest = python_verdict(kind, cut)
        assert verdict != "ok", (kind, "truncated")
        case("err", "truncated_" + label + ".joblib", {"layers": [kind], "error": "BadData", "python": verdict},
             cut)
        # Flip one byte in the middle of the compressed body.
        middle = len(data) // 2
        corrupt = data[:middle] + bytes([data[middle] ^ 0x55]) + data[middle + 1:]
        verdict, digest = python_verdict(kind, corrupt)
        expected = {"layers": [kind], "python": verdict}
        if verdict == "ok":
            # No checksum caught it (lz4 frames carry none by default): the
            # bytes must still be the ones Python reads.
            expected["inner_sha256"] = digest
        else:
            expected["error"] = "BadData"
        case("err", "corrupt_" + label + ".joblib", expected, corrupt)
    with open(os.path.join(ROOT, "ok", "lr_joblib094_zf.pkl"), "rb") as f:
        zf = f.read()
    # joblib 0.9's reader asserts the declared length equals what zlib yields.
    declared = int(zf[2:2 + ZF_MAX_LEN], 16)
    wrong = b"ZF" + ("{0:#x}".format(declared + 1)).ljust(ZF_MAX_LEN).encode() + zf[2 + ZF_MAX_LEN:]
    case("err", "zf_wrong_length.joblib", {"layers": ["joblib-zf"], "error": "BadData",
                                          "python": python_verdict("joblib-zf", wrong)[0]}, wrong)


def case(sub, name, expected, data=None):
    path = os.path.join(ROOT, sub, name)
    if data is not None:
        with open(path, "wb") as f:
            f.write(data)
    write_expected(path, expected)


def zf(payload, declared=None, level=9):
    length = len(payload) if declared is None else declared
    return b"ZF" + ("{0:#x}".format(length)).ljust(ZF_MAX_LEN).encode() + zlib.compress(payload, level)


def malicious():
    import lz4.frame
    zeros = bytes(8 << 20)
    # Bombs: past the ratio limit (200) by default, past 1 MiB when tight.
    bomb = zf(zeros)
    case("malicious", "zf_bomb.joblib", {"layers": ["joblib-zf"], "error": "LimitExceeded",
                                         "tight_error": "LimitExceeded", "python": "not run (8 MiB of zeros)"},
         bomb)
    lz4_bomb = lz4.frame.compress(zeros, compression_level=9)
    assert len(zeros) / len(lz4_bomb) > 200
    case("malicious", "lz4_bomb.joblib", {"layers": ["lz4"], "error": "LimitExceeded",
                                          "tight_error": "LimitExceeded", "python": "not run (8 MiB of zeros)"},
         lz4_bomb)
    # A ZF header declaring 16 GiB: joblib passes it to zlib as the initial
    # buffer size; modelgate refuses it before inflating.
    small = zlib.decompress(zf(b"x")[2 + ZF_MAX_LEN:])
    assert small == b"x"
    case("malicious", "zf_declares_16g.joblib", {"layers": ["joblib-zf"], "error": "LimitExceeded",
                                                 "python": "not run (joblib allocates the declared 16 GiB)"},
         zf(b"x", declared=16 << 30))
    # An lz4 frame whose header declares 2^40 bytes of content: nothing may be
    # allocated from it, and the short content is an error.
    payload = b"joblib " * 64
    frame = bytearray(lz4.frame.compress(payload, store_size=True, content_checksum=False))
    assert frame[4] & 0x08  # FLG content-size bit
    assert frame[14] == (xxh32(bytes(frame[4:14])) >> 8) & 0xFF  # our xxh32 agrees with lz4's
    frame[6:14] = (1 << 40).to_bytes(8, "little")
    frame[14] = (xxh32(bytes(frame[4:14])) >> 8) & 0xFF  # header checksum
    verdict, _ = python_verdict("lz4", bytes(frame))
    case("malicious", "lz4_declares_1t.joblib", {"layers": ["lz4"], "error": "BadData", "python": verdict},
         bytes(frame))
    # LZMA-alone declaring a 2 GiB dictionary: decoders must not reserve it up front.
    alone = bytearray(lzma.compress(payload, format=lzma.FORMAT_ALONE))
    alone[1:5] = (1 << 31).to_bytes(4, "little")
    verdict, digest = python_verdict("lzma", bytes(alone))
    assert verdict == "ok" and digest == hashlib.sha256(payload).hexdigest()
    case("malicious", "lzma_2g_dictionary.joblib", {"layers": ["lzma"], "inner": "raw", "python": verdict,
                                                    "inner_size": len(payload), "inner_sha256": digest},
         bytes(alone))


def xxh32(data, seed=0):
    """xxHash32 (the lz4 frame header checksum), from its specification."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    mask = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & mask

    def round_(acc, lane):
        return (rotl((acc + lane * p2) & mask, 13) * p1) & mask

    n, i = len(data), 0
    if n >= 16:
        v = [(seed + p1 + p2) & mask, (seed + p2) & mask, seed & mask, (seed - p1) & mask]
        while i + 16 <= n:
            for j in range(4):
                v[j] = round_(v[j], int.from_bytes(data[i + 4 * j:i + 4 * j + 4], "little"))
            i += 16
        acc = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & mask
    else:
        acc = (seed + p5) & mask
    acc = (acc + n) & mask
    while i + 4 <= n:
        acc = (rotl((acc + int.from_bytes(data[i:i + 4], "little") * p3) & mask, 17) * p4) & mask
        i += 4
    while i < n:
        acc = (rotl((acc + data[i] * p5) & mask, 11) * p1) & mask
        i += 1
    acc ^= acc >> 15
    acc = (acc * p2) & mask
    acc ^= acc >> 13
    acc = (acc * p3) & mask
    acc ^= acc >> 16
    return acc


def main():
    if sys.argv[1:2] == ["--legacy"]:
        legacy_child(sys.argv[2], sys.argv[3])
        return
    import sklearn
    assert sklearn.__version__ == SKLEARN_VERSION, sklearn.__version__
    import lz4.frame
    assert lz4.frame.decompress(lz4.frame.compress(b"")) == b""
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    objects = estimators()
    current(objects)
    legacy(objects)
    broken()
    malicious()


if __name__ == "__main__":
    main()
