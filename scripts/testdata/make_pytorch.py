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
    for kind in (name, name.replace("Storage", "Tensor")):
        setattr(torch, kind, type(kind, (), {"__module__": "torch"}))


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
    """torch/serialization.py `_save`'s persistent_id (zip layout)."""

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
        return None


class LegacyPickler(pickle.Pickler):
    """`_legacy_save`'s persistent_id: 6-tuples keyed by str(storage._cdata)
    with view metadata, and ('module', cls, source_file, source) for each
    nn.Module class the first time it is seen."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen_classes = set()

    def persistent_id(self, obj):
        if isinstance(obj, type) and issubclass(obj, Module):
            if obj in self.seen_classes:
                return None
            self.seen_classes.add(obj)
            return ("module", obj, "model.py", "class %s(nn.Module): ...\n" % obj.__name__)
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), legacy_key(obj.key), "cpu", obj.numel, None)
        return None


def legacy_key(key):
    """A str(storage._cdata): a pointer-like decimal number."""
    return str(94_000_000_000_000 + 4096 * int(key))


class Module:
    """Stands in for torch.nn.Module: pickled by the default protocol 2
    reduce (copyreg.__newobj__, then BUILD with __dict__)."""

    def __init__(self):
        self.training = True
        self._parameters = collections.OrderedDict()
        self._buffers = collections.OrderedDict()
        self._modules = collections.OrderedDict()


class Linear(Module):
    pass


class Net(Module):
    pass


Linear.__module__ = Net.__module__ = "model"
sys.modules["model"] = types.ModuleType("model")
sys.modules["model"].Linear, sys.modules["model"].Net = Linear, Net


def model():
    """A whole pickled model (torch.save(model)), tensors in module state."""
    w = Storage("FloatStorage", "0", 6)
    b = Storage("FloatStorage", "1", 2)
    s = Storage("LongStorage", "2", 1)
    fc = Linear()
    fc._parameters["weight"] = Tensor(w, 0, [2, 3], parameter=True)
    fc._parameters["bias"] = Tensor(b, 0, [2], parameter=True)
    net = Net()
    net._modules["fc"] = fc
    net._buffers["steps"] = Tensor(s, 0, [])
    return net, {"0": (w, 6), "1": (b, 2), "2": (s, 1)}


# In model.state_dict() order: own parameters, own buffers, then children.
MODEL_EXPECTED = [
    {"name": "steps", "dtype": "I64", "shape": [], "storage_key": "2", "storage_offset": 0},
    {"name": "fc.weight", "dtype": "F32", "shape": [2, 3], "storage_key": "0", "storage_offset": 0},
    {"name": "fc.bias", "dtype": "F32", "shape": [2], "storage_key": "1", "storage_offset": 0},
]


def nested():
    """A training checkpoint: model state dict, optimizer state, epoch."""
    obj, storages = state_dict()
    m = Storage("FloatStorage", "3", 12)
    storages["3"] = (m, 12)
    return {
        "model": obj,
        "optimizer": {"state": {0: {"exp_avg": Tensor(m, 0, [3, 4]), "step": 5}}, "param_groups": [{"lr": 0.1, "params": [0]}]},
        "epoch": 3,
    }, storages


def nested_expected():
    return [dict(t, name="model." + t["name"]) for t in EXPECTED] + [
        {"name": "optimizer.state.0.exp_avg", "dtype": "F32", "shape": [3, 4], "storage_key": "3", "storage_offset": 0},
    ]


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


def zip_checkpoint(folder, make=state_dict, torchscript=False):
    """torch.save's zip: <folder>/data.pkl, byteorder, data/<key>, version
    (and, for torch.jit.save, code/ and constants.pkl)."""
    obj, storages = make()
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        def add(name, data):
            z.writestr(zipfile.ZipInfo(f"{folder}/{name}", (1980, 1, 1, 0, 0, 0)), data)
        add("data.pkl", buf.getvalue())
        if torchscript:
            add("code/__torch__/model.py", b"class Net(Module):\n  pass\n")
            add("constants.pkl", pickle.dumps((), protocol=2))
        add("byteorder", b"little")
        for key, (storage, numel) in sorted(storages.items()):
            add(f"data/{key}", bytes(numel * STORAGE_SIZES[storage.kind]))
        add("version", b"3\n")
        add(".data/serialization_id", b"1234")
    return out.getvalue()


SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 8}}


def legacy_checkpoint(make=state_dict):
    """_legacy_save: magic, protocol, sys_info, object, sorted keys, storages."""
    obj, storages = make()
    buf = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, SYS_INFO):
        pickle.dump(header, buf, protocol=2)
    LegacyPickler(buf, protocol=2).dump(obj)
    keys = sorted(legacy_key(k) for k in storages)
    pickle.dump(keys, buf, protocol=2)
    by_key = {legacy_key(k): v for k, v in storages.items()}
    for key in keys:
        storage, numel = by_key[key]
        buf.write(struct.pack("<q", numel) + bytes(numel * STORAGE_SIZES[storage.kind]))
    return buf.getvalue()


class TarPickler(pickle.Pickler):
    """torch < 0.4 `_save`: tensors are persistent ids str(tensor._cdata)."""

    def persistent_id(self, obj):
        if isinstance(obj, Tensor):
            return str(obj.cdata)
        return None


def tar_checkpoint():
    """The legacy tar: sys_info, pickle, tensors, storages (as torch < 0.4
    wrote them and torch.load's legacy_load still reads them)."""
    obj, storages = state_dict()
    members = {}
    b = io.BytesIO()
    pickle.dump(SYS_INFO, b, protocol=2)
    members["sys_info"] = b.getvalue()
    tensors = [v for v in obj.values() if isinstance(v, Tensor)]
    for index, tensor in enumerate(tensors):
        tensor.cdata = 140_000_000 + 64 * index
    b = io.BytesIO()
    TarPickler(b, protocol=2).dump(obj)
    members["pickle"] = b.getvalue()
    # storage ids are the storages' _cdata (ints).
    storage_ids = {key: 150_000_000 + 64 * int(key) for key in storages}
    b = io.BytesIO()
    pickle.dump(len(tensors), b, protocol=2)
    for tensor in tensors:
        tensor_type = getattr(torch, tensor.storage.kind.replace("Storage", "Tensor"))
        pickle.dump((tensor.cdata, storage_ids[tensor.storage.key], tensor_type), b, protocol=2)
        ndim = len(tensor.shape)
        stride = [1] * ndim
        for i in range(ndim - 2, -1, -1):
            stride[i] = stride[i + 1] * tensor.shape[i + 1]
        b.write(struct.pack("<i", ndim) + b"\0\0\0\0")
        b.write(struct.pack(f"<{ndim}q", *tensor.shape) + struct.pack(f"<{ndim}q", *stride))
        b.write(struct.pack("<q", tensor.offset))
    members["tensors"] = b.getvalue()
    b = io.BytesIO()
    pickle.dump(len(storages), b, protocol=2)
    for key, (storage, numel) in storages.items():
        pickle.dump((storage_ids[key], "cpu", getattr(torch, storage.kind)), b, protocol=2)
        b.write(struct.pack("<q", numel) + bytes(numel * STORAGE_SIZES[storage.kind]))
    pickle.dump([], b, protocol=2)  # storage views
    members["storages"] = b.getvalue()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def tar_with_payload():
    """A legacy tar whose storage views pickle calls os.system: torch.load
    unpickles it before the main pickle."""
    data = io.BytesIO(tar_checkpoint())
    members = {}
    with tarfile.open(fileobj=data) as t:
        for info in t.getmembers():
            members[info.name] = t.extractfile(info).read()
    members["storages"] = members["storages"][: -len(pickle.dumps([], protocol=2))] + b"cos\nsystem\n(S'id'\ntR."
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(payload), 0
            t.addfile(info, io.BytesIO(payload))
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
    # A training checkpoint (nested dicts) and whole pickled models.
    w("ok", "nested.pt", zip_checkpoint("nested", nested))
    json.dump(nested_expected(), open(os.path.join(ROOT, "ok", "nested.expected.json"), "w"), indent=1)
    w("ok", "model.pt", zip_checkpoint("model", model))
    w("ok", "model_legacy.pt", legacy_checkpoint(model))
    w("ok", "torchscript.pt", zip_checkpoint("net", model, torchscript=True))
    json.dump(MODEL_EXPECTED, open(os.path.join(ROOT, "ok", "model.expected.json"), "w"), indent=1)
    # Malicious: shared lists nested 60 deep (2^60 paths to walk), and a
    # payload hidden in a legacy tar's storages member.
    os.makedirs(os.path.join(ROOT, "malicious"))
    shared = [1]
    for _ in range(60):
        shared = [shared, shared]
    buf = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, SYS_INFO, shared, []):
        pickle.dump(header, buf, protocol=2)
    w("malicious", "shared_bomb.pt", buf.getvalue())
    w("malicious", "tar_storages_payload.tar", tar_with_payload())
    # A zip with no data.pkl, and a legacy file with a wrong magic number.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "not a checkpoint")
    w("err", "no_data_pkl.zip", out.getvalue())
    w("err", "bad_magic.pt", pickle.dumps(12345, protocol=2) + legacy_checkpoint())


if __name__ == "__main__":
    main()
