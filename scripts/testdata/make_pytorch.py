"""Write PyTorch checkpoints in torch.save's layouts without torch: a stand-in
`torch` module supplies the names torch pickles reference
(torch._utils._rebuild_tensor_v2, torch.FloatStorage, ...), and a Pickler
with torch's persistent_id scheme writes the object, as torch/serialization.py
does. Used by crates/pytorch tests.

    python3 scripts/testdata/make_pytorch.py
"""
import collections
import io
import json
import os
import pickle
import shutil
import struct
import sys
import tarfile
import types
import zipfile

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "pytorch")

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, torch_utils
torch._utils = torch_utils


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
    raise NotImplementedError


def _rebuild_parameter(data, requires_grad, hooks):
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = "torch._utils"
_rebuild_parameter.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
torch_utils._rebuild_parameter = _rebuild_parameter

STORAGE_SIZES = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8}
for name in STORAGE_SIZES:
    cls = type(name, (), {"__module__": "torch"})
    setattr(torch, name, cls)


class Storage:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class Tensor:
    def __init__(self, storage, offset, shape, parameter=False):
        self.storage, self.offset, self.shape, self.parameter = storage, offset, shape, parameter

    def __reduce_ex__(self, protocol):
        stride = []
        acc = 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        rebuilt = (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))
        if self.parameter:
            inner = Tensor(self.storage, self.offset, self.shape)
            return (_rebuild_parameter, (inner, True, collections.OrderedDict()))
        return rebuilt


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
        return None


def state_dict():
    w = Storage("FloatStorage", "0", 12)
    h = Storage("HalfStorage", "1", 4)
    b = Storage("BFloat16Storage", "2", 6)
    return collections.OrderedDict([
        ("encoder.weight", Tensor(w, 0, [3, 4])),
        ("encoder.bias", Tensor(h, 0, [4])),
        ("head.weight", Tensor(b, 0, [2, 3], parameter=True)),
        ("shared_view", Tensor(w, 4, [2, 4])),
        ("step", 10),
    ]), {"0": (w, 12), "1": (h, 4), "2": (b, 6)}


EXPECTED = [
    {"name": "encoder.weight", "dtype": "F32", "shape": [3, 4], "storage_key": "0", "storage_offset": 0},
    {"name": "encoder.bias", "dtype": "F16", "shape": [4], "storage_key": "1", "storage_offset": 0},
    {"name": "head.weight", "dtype": "BF16", "shape": [2, 3], "storage_key": "2", "storage_offset": 0},
    {"name": "shared_view", "dtype": "F32", "shape": [2, 4], "storage_key": "0", "storage_offset": 4},
]


def zip_checkpoint(folder):
    obj, storages = state_dict()
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        def add(name, data):
            z.writestr(zipfile.ZipInfo(f"{folder}/{name}", (1980, 1, 1, 0, 0, 0)), data)
        add("data.pkl", buf.getvalue())
        add("byteorder", b"little")
        for key, (storage, numel) in storages.items():
            add(f"data/{key}", bytes(numel * STORAGE_SIZES[storage.kind]))
        add("version", b"3\n")
        add(".data/serialization_id", b"1234")
    return out.getvalue()


def legacy_checkpoint():
    obj, storages = state_dict()
    buf = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, buf, protocol=2)
    TorchPickler(buf, protocol=2).dump(obj)
    pickle.dump(list(storages), buf, protocol=2)
    for key, (storage, numel) in storages.items():
        buf.write(struct.pack("<q", numel) + bytes(numel * STORAGE_SIZES[storage.kind]))
    return buf.getvalue()


def tar_checkpoint():
    obj, _ = state_dict()
    members = {}
    b = io.BytesIO()
    pickle.dump({"protocol_version": 1000}, b, protocol=2)
    members["sys_info"] = b.getvalue()
    b = io.BytesIO()
    TorchPickler(b, protocol=2).dump(obj)
    members["pickle"] = b.getvalue()
    b = io.BytesIO()
    pickle.dump(0, b, protocol=2)
    members["tensors"] = b.getvalue()
    members["storages"] = b.getvalue()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(os.path.join(ROOT, "ok"))
    os.makedirs(os.path.join(ROOT, "err"))
    w = lambda sub, name, data: open(os.path.join(ROOT, sub, name), "wb").write(data)
    w("ok", "archive.pt", zip_checkpoint("archive"))
    w("ok", "renamed_folder.bin", zip_checkpoint("my_model-v2"))
    w("ok", "legacy.pt", legacy_checkpoint())
    w("ok", "legacy.tar", tar_checkpoint())
    json.dump(EXPECTED, open(os.path.join(ROOT, "ok", "tensors.expected.json"), "w"), indent=1)
    # A zip with no data.pkl, and a legacy file with a wrong magic number.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "not a checkpoint")
    w("err", "no_data_pkl.zip", out.getvalue())
    w("err", "bad_magic.pt", pickle.dumps(12345, protocol=2) + legacy_checkpoint())


if __name__ == "__main__":
    main()
