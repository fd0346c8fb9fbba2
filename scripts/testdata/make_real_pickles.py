"""Write the pickles people actually load, with the libraries' own writers,
for crates/scan/tests/real_writers.rs: every file here must pass the default
gate (no finding at `high` or above).

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_real_pickles.py OUTDIR
    ... make_real_pickles.py --imports OUTDIR   print every (module, name) imported
    ... make_real_pickles.py --safe-list crates/scan/rules/pickle_safe.toml
        rewrite the generated families (scikit-learn, numpy, pandas, SciPy,
        transformers, tokenizers) between the BEGIN/END GENERATED markers

Writers: numpy (pickle of arrays, object arrays, structured dtypes, random
generators; np.save of an object array), scikit-learn estimators, pipelines
and transformers, XGBoost, LightGBM, CatBoost, pandas, SciPy sparse, joblib.dump
(plain and compressed), collections/datetime/decimal/uuid/fractions values,
transformers configs and a tokenizers.Tokenizer; across pickle protocols 0, 2,
4 and 5 where the library allows.

PyTorch: torch.save when torch is importable. PyPI's Linux torch wheel pulls
several GB of CUDA libraries, so the venv has none; then a stand-in writes
torch.save's layouts (zip and `_use_new_zipfile_serialization=False` legacy)
with classes named as torch names them, pickled by the same default protocol 2
reduce (NEWOBJ of the class, BUILD of its __dict__) and torch's persistent ids.
The manifest says which writer made each file.

OUTDIR/manifest.json lists every file with its writer, library versions and
the (module, name) pairs its pickles import. Idempotent: OUTDIR/.stamp holds
the hash of this script and the library versions; a second run with the same
stamp does nothing.
"""
import collections
import datetime
import decimal
import fractions
import hashlib
import importlib
import io
import json
import os
import pickle
import pickletools
import shutil
import sys
import types
import uuid
import warnings
import zipfile
import zlib

PROTOCOLS = (0, 2, 4, 5)
# Distributions whose versions go into the manifest and the stamp (read from
# their metadata, so a current stamp is checked without importing them).
DISTRIBUTIONS = ("numpy", "scipy", "pandas", "scikit-learn", "joblib", "xgboost", "xgboost-cpu",
                 "lightgbm", "catboost", "transformers", "tokenizers", "torch")


def versions():
    from importlib import metadata
    out = {"python": sys.version.split()[0]}
    for name in DISTRIBUTIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# ---------------------------------------------------------------------------
# What a pickle imports, read with pickletools (nothing is loaded).

def pickle_streams(data):
    """The pickle streams in a file's bytes: a bare pickle (several back to
    back for legacy torch), the data.pkl of a torch zip, the pickle after an
    .npy header, a zlib-compressed joblib file."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [z.read(n) for n in z.namelist() if n.endswith(".pkl")]
    if data[:6] == b"\x93NUMPY":
        header_len = int.from_bytes(data[8:10], "little") if data[6] == 1 else int.from_bytes(data[8:12], "little")
        start = (10 if data[6] == 1 else 12) + header_len
        return [data[start:]]
    if data[:1] == b"\x78":
        return [zlib.decompressobj().decompress(data)]
    return [data]


def imports_of(data):
    """Every (module, name) a file's pickles import with GLOBAL, INST or
    STACK_GLOBAL, found by following string pushes and the memo."""
    found = set()
    for stream in pickle_streams(data):
        pos = 0
        while pos < len(stream):
            strings, memo, last = [], {}, None
            end = None
            try:
                for op, arg, at in pickletools.genops(io.BytesIO(stream[pos:])):
                    if op.name in ("GLOBAL", "INST"):
                        module, name = arg.split(" ", 1)
                        found.add((module, name))
                        last = None
                    elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                        strings.append(arg)
                        last = arg
                    elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                        last = memo.get(arg)
                        strings.append(last)
                    elif op.name == "MEMOIZE":
                        memo[len(memo)] = last
                    elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
                        memo[arg] = last
                    elif op.name == "STACK_GLOBAL":
                        if len(strings) >= 2 and None not in strings[-2:]:
                            found.add((strings[-2], strings[-1]))
                        last = None
                    else:
                        last = None
                    if op.name == "STOP":
                        end = pos + at + 1
                        break
            except Exception:
                break
            if end is None:
                break
            pos = end
            # Legacy torch files and joblib files carry raw bytes after the
            # pickles; stop at the first byte that does not start a pickle.
            if pos < len(stream) and stream[pos] != 0x80:
                break
    return found


# ---------------------------------------------------------------------------
# Output bookkeeping.

class Out:
    def __init__(self, root):
        self.root = root
        self.files = []

    def write(self, rel, data, writer):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.record(rel, writer)

    def record(self, rel, writer):
        with open(os.path.join(self.root, rel), "rb") as f:
            data = f.read()
        self.files.append({"file": rel, "writer": writer,
                           "imports": sorted(f"{m}.{n}" for m, n in imports_of(data))})

    def path(self, rel):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def pickles(self, folder, name, obj, writer, protocols=PROTOCOLS):
        """pickle.dumps(obj) at each protocol the object allows."""
        for protocol in protocols:
            try:
                data = pickle.dumps(obj, protocol=protocol)
            except Exception as error:  # e.g. a C type without protocol 0/1 support
                print(f"  {folder}/{name}: protocol {protocol} refused: {error}", file=sys.stderr)
                continue
            self.write(f"{folder}/{name}.p{protocol}.pkl", data, f"{writer} (pickle protocol {protocol})")


# ---------------------------------------------------------------------------
# Writers.

def write_stdlib(out):
    values = {
        "ordered_dict": collections.OrderedDict([("a", 1), ("b", [1.5, None])]),
        "default_dict": collections.defaultdict(list, {"x": [1, 2]}),
        "counter": collections.Counter("abracadabra"),
        "deque": collections.deque([1, 2, 3], maxlen=5),
        "named_tuple_free_values": (1, "two", 3.0, b"four", None, True, {1, 2}, frozenset({3})),
        "datetime": [datetime.datetime(2024, 5, 17, 12, 30, 1, 5, tzinfo=datetime.timezone.utc),
                     datetime.date(2020, 2, 29), datetime.time(23, 59),
                     datetime.timedelta(days=3, seconds=7),
                     datetime.timezone(datetime.timedelta(hours=-5), "EST")],
        "decimal": [decimal.Decimal("3.14159"), decimal.Decimal("-Infinity")],
        "fraction": fractions.Fraction(22, 7),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "complex_range_slice": [complex(1, 2), range(0, 10, 3), slice(1, 5, 2), bytearray(b"ab")],
    }
    for name, value in values.items():
        out.pickles("stdlib", name, value, "pickle")


def write_numpy(out):
    import numpy as np
    values = {
        "float32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "int64_fortran": np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
        "bool_complex": [np.array([True, False]), np.array([1 + 2j], dtype=np.complex128)],
        "float16_scalar": [np.float16(1.5), np.int32(7), np.float64(2.5), np.bool_(True)],
        "object_plain": np.array([1, "two", 3.0, None, [4, 5], {"k": "v"}], dtype=object),
        "structured": np.array([(1, 2.0, b"ab"), (3, 4.0, b"cd")],
                               dtype=[("id", "<i4"), ("x", "<f8"), ("tag", "S2")]),
        "datetime64": np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"),
        "string_unicode": np.array(["alpha", "βeta"]),
        "random_state": np.random.RandomState(0),
        "generator_pcg64": np.random.default_rng(1),
        "generator_mt19937": np.random.Generator(np.random.MT19937(2)),
        "bit_generators": [np.random.PCG64DXSM(3), np.random.Philox(4), np.random.SFC64(5)],
        "seed_sequence": np.random.SeedSequence(6),
        "dtypes": [np.dtype("f4"), np.dtype(">i8"), np.dtype([("a", "u1"), ("b", "f2", (2,))])],
        "masked": np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
    }
    for name, value in values.items():
        out.pickles("numpy", name, value, f"numpy {np.__version__}")
    buf = io.BytesIO()
    np.save(buf, values["object_plain"], allow_pickle=True)
    out.write("numpy/object_plain.npy", buf.getvalue(), f"numpy {np.__version__} np.save")


def fitted_sklearn():
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import (GradientBoostingClassifier, HistGradientBoostingClassifier,
                                  RandomForestClassifier)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeRegressor
    import pandas as pd

    rng = np.random.RandomState(0)
    X = rng.rand(60, 4)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    frame = pd.DataFrame({"num": rng.rand(60), "cat": rng.choice(["a", "b", "c"], 60),
                          "num2": rng.rand(60)})
    texts = ["the cat sat", "the dog ran", "a cat and a dog", "nothing here"] * 5
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["cat"]),
                             ("num", StandardScaler(), ["num", "num2"])])
    models = {
        "logistic_regression": LogisticRegression().fit(X, y),
        "random_forest": RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=3).fit(X, y),
        "hist_gradient_boosting": HistGradientBoostingClassifier(max_iter=3).fit(X, y),
        "pipeline_column_transformer": Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(frame, y),
        "tfidf": TfidfVectorizer().fit(texts),
        "kmeans": KMeans(n_clusters=2, n_init=2, random_state=0).fit(X),
        "pca": PCA(n_components=2).fit(X),
        "svc": SVC(probability=True, random_state=0).fit(X, y),
        "knn": KNeighborsClassifier(n_neighbors=3).fit(X, y),
        "ridge_tree_pipeline": make_pipeline(SimpleImputer(), Ridge()).fit(X, X[:, 2]),
        "decision_tree": DecisionTreeRegressor(max_depth=3).fit(X, X[:, 3]),
        "label_encoder": LabelEncoder().fit(["x", "y", "z"]),
    }
    return models


def write_sklearn(out):
    import sklearn
    for name, model in fitted_sklearn().items():
        out.pickles("sklearn", name, model, f"scikit-learn {sklearn.__version__}")


def write_joblib(out):
    import joblib
    import sklearn
    models = fitted_sklearn()
    for name in ("random_forest", "pipeline_column_transformer", "pca"):
        for compress in (0, 3):
            rel = f"joblib/{name}.c{compress}.joblib"
            joblib.dump(models[name], out.path(rel), compress=compress)
            out.record(rel, f"joblib {joblib.__version__} dump(compress={compress}) of scikit-learn {sklearn.__version__}")


def write_boosters(out):
    import numpy as np
    rng = np.random.RandomState(0)
    X = rng.rand(80, 4)
    y = (X[:, 0] > 0.5).astype(int)
    try:
        import xgboost as xgb
        clf = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)
        out.pickles("xgboost", "xgb_classifier", clf, f"xgboost {xgb.__version__}")
        out.pickles("xgboost", "booster", clf.get_booster(), f"xgboost {xgb.__version__}")
    except ImportError:
        print("  xgboost not installed", file=sys.stderr)
    try:
        import lightgbm as lgb
        clf = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1).fit(X, y)
        out.pickles("lightgbm", "lgbm_classifier", clf, f"lightgbm {lgb.__version__}")
        out.pickles("lightgbm", "booster", clf.booster_, f"lightgbm {lgb.__version__}")
    except ImportError:
        print("  lightgbm not installed", file=sys.stderr)
    try:
        import catboost
        clf = catboost.CatBoostClassifier(iterations=3, depth=2, verbose=False,
                                          allow_writing_files=False).fit(X, y)
        out.pickles("catboost", "catboost_classifier", clf, f"catboost {catboost.__version__}")
    except ImportError:
        print("  catboost not installed", file=sys.stderr)


def write_pandas(out):
    import numpy as np
    import pandas as pd
    frame = pd.DataFrame({
        "i": np.arange(4, dtype=np.int64),
        "f": [0.5, 1.5, np.nan, 3.0],
        "s": ["a", "b", None, "d"],
        "when": pd.date_range("2024-01-01", periods=4, freq="D"),
        "when_tz": pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC"),
        "delta": pd.to_timedelta([1, 2, 3, 4], unit="s"),
        "cat": pd.Categorical(["x", "y", "x", "z"]),
        "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
        "flag": pd.array([True, False, None, True], dtype="boolean"),
        "period": pd.period_range("2024-01", periods=4, freq="M"),
    })
    values = {
        "dataframe": frame,
        "series": pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"], name="s"),
        "index": pd.Index(["p", "q", "r"]),
        "range_index": pd.RangeIndex(0, 10, 2),
        "multi_index": pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k", "n"]),
        "categorical": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True),
        "datetime_index": pd.DatetimeIndex(["2024-01-01", "2024-02-01"]),
        "interval_index": pd.interval_range(0, 3),
        "timestamp_values": [pd.Timestamp("2024-01-01T10:00"), pd.Timedelta("1h"), pd.NaT,
                             pd.Period("2024-03", freq="M"), pd.Interval(0, 1)],
        "sparse_series": pd.Series(pd.arrays.SparseArray([0, 0, 1, 0])),
    }
    for name, value in values.items():
        out.pickles("pandas", name, value, f"pandas {pd.__version__}")


def write_scipy(out):
    import numpy as np
    import scipy
    import scipy.sparse as sp
    dense = np.array([[1.0, 0, 2], [0, 0, 3], [4, 5, 0]])
    for kind in ("csr", "csc", "coo", "lil", "dok", "bsr", "dia"):
        for flavour in ("matrix", "array"):
            cls = getattr(sp, f"{kind}_{flavour}")
            out.pickles("scipy", f"{kind}_{flavour}", cls(dense), f"scipy {scipy.__version__}")


def write_hf(out):
    try:
        import transformers
        from transformers import BertConfig, GenerationConfig, GPT2Config, LlamaConfig
        for name, value in {"bert_config": BertConfig(), "generation_config": GenerationConfig(max_new_tokens=8),
                            "gpt2_config": GPT2Config(), "llama_config": LlamaConfig()}.items():
            out.pickles("transformers", name, value, f"transformers {transformers.__version__}")
    except ImportError:
        print("  transformers not installed", file=sys.stderr)
    try:
        import tokenizers
        from tokenizers import Tokenizer, models, pre_tokenizers
        tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        out.pickles("tokenizers", "tokenizer", tok, f"tokenizers {tokenizers.__version__}")
    except ImportError:
        print("  tokenizers not installed", file=sys.stderr)


# ---------------------------------------------------------------------------
# PyTorch.

def write_torch(out):
    try:
        import torch  # noqa: F401
    except ImportError:
        write_torch_stand_in(out)
        return
    write_torch_real(out)


def torch_objects(torch):
    """What people torch.save: a state dict, a whole module, optimizer and
    scheduler state."""
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 8), nn.ReLU(), nn.LayerNorm(8),
                          nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16),
                          nn.Linear(8, 2))
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randint(0, 10, (3, 4))
    model(x).sum().backward()
    adam.step()
    sgd.step()
    sched = torch.optim.lr_scheduler.StepLR(adam, step_size=10, gamma=0.5)
    sched.step()
    return {
        "state_dict": model.state_dict(),
        "whole_module": model,
        "adam_state": adam.state_dict(),
        "sgd_state": sgd.state_dict(),
        "scheduler_state": sched.state_dict(),
        "checkpoint": {"epoch": 3, "model": model.state_dict(), "optimizer": adam.state_dict(),
                       "scheduler": sched.state_dict()},
    }


def write_torch_real(out):
    import torch
    for name, obj in torch_objects(torch).items():
        for legacy in (False, True):
            buf = io.BytesIO()
            torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
            suffix = "legacy.pt" if legacy else "pt"
            out.write(f"torch/{name}.{suffix}", buf.getvalue(),
                      f"torch {torch.__version__} torch.save(_use_new_zipfile_serialization={not legacy})")


class _Storage:
    def __init__(self, kind, key, numel, itemsize):
        self.kind, self.key, self.numel, self.itemsize = kind, key, numel, itemsize


class _StandIn:
    """The names torch's pickles reference, as stand-in modules; tensors are
    pickled through torch's reduce shapes and persistent ids."""

    def __init__(self):
        self.modules = {}
        for name in ("torch", "torch._utils", "torch.nn", "torch.nn.modules", "torch.nn.functional",
                     "torch.nn.modules.container", "torch.nn.modules.linear", "torch.nn.modules.activation",
                     "torch.nn.modules.normalization", "torch.nn.modules.sparse",
                     "torch.nn.modules.dropout", "torch.nn.modules.transformer"):
            self.modules[name] = types.ModuleType(name)
        sys.modules.update(self.modules)
        torch = self.modules["torch"]
        for kind in ("FloatStorage", "LongStorage"):
            setattr(torch, kind, type(kind, (), {"__module__": "torch"}))

        def _rebuild_tensor_v2(*args):
            raise NotImplementedError

        def _rebuild_parameter(*args):
            raise NotImplementedError

        def relu(*args):
            raise NotImplementedError

        for func, module in ((_rebuild_tensor_v2, "torch._utils"), (_rebuild_parameter, "torch._utils"),
                             (relu, "torch.nn.functional")):
            func.__module__, func.__qualname__ = module, func.__name__
            setattr(self.modules[module], func.__name__, func)
        self.storages = []

    def module_class(self, module, name):
        cls = type(name, (_Module,), {"__module__": module})
        setattr(self.modules[module], name, cls)
        return cls

    def tensor(self, shape, dtype="FloatStorage", itemsize=4, parameter=False):
        numel = 1
        for d in shape:
            numel *= d
        storage = _Storage(dtype, str(len(self.storages)), numel, itemsize)
        self.storages.append(storage)
        return _Tensor(self, storage, tuple(shape), parameter)


class _Tensor:
    def __init__(self, stand_in, storage, shape, parameter):
        self.stand_in, self.storage, self.shape, self.parameter = stand_in, storage, shape, parameter

    def __reduce_ex__(self, protocol):
        utils = self.stand_in.modules["torch._utils"]
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        if self.parameter:
            inner = _Tensor(self.stand_in, self.storage, self.shape, False)
            return (utils._rebuild_parameter, (inner, True, collections.OrderedDict()))
        return (utils._rebuild_tensor_v2,
                (self.storage, 0, self.shape, tuple(stride), False, collections.OrderedDict()))


class _Module:
    """torch.nn.Module's instance state (Module.__init__), pickled by the
    default protocol 2 reduce: NEWOBJ of the class, BUILD with __dict__."""

    def __init__(self, **attrs):
        od = collections.OrderedDict
        self.training = True
        self._parameters = {}
        self._buffers = {}
        self._non_persistent_buffers_set = set()
        self._backward_pre_hooks = od()
        self._backward_hooks = od()
        self._is_full_backward_hook = None
        self._forward_hooks = od()
        self._forward_hooks_with_kwargs = od()
        self._forward_hooks_always_called = od()
        self._forward_pre_hooks = od()
        self._forward_pre_hooks_with_kwargs = od()
        self._state_dict_hooks = od()
        self._state_dict_pre_hooks = od()
        self._load_state_dict_pre_hooks = od()
        self._load_state_dict_post_hooks = od()
        self._modules = {}
        self.__dict__.update(attrs)


def torch_stand_in_objects(t):
    c = t.module_class
    Sequential = c("torch.nn.modules.container", "Sequential")
    Linear = c("torch.nn.modules.linear", "Linear")
    NDQLinear = c("torch.nn.modules.linear", "NonDynamicallyQuantizableLinear")
    ReLU = c("torch.nn.modules.activation", "ReLU")
    MultiheadAttention = c("torch.nn.modules.activation", "MultiheadAttention")
    LayerNorm = c("torch.nn.modules.normalization", "LayerNorm")
    Embedding = c("torch.nn.modules.sparse", "Embedding")
    Dropout = c("torch.nn.modules.dropout", "Dropout")
    EncoderLayer = c("torch.nn.modules.transformer", "TransformerEncoderLayer")

    def linear(cls, i, o):
        m = cls(in_features=i, out_features=o)
        m._parameters = {"weight": t.tensor([o, i], parameter=True), "bias": t.tensor([o], parameter=True)}
        return m

    def norm(d):
        m = LayerNorm(normalized_shape=(d,), eps=1e-5, elementwise_affine=True)
        m._parameters = {"weight": t.tensor([d], parameter=True), "bias": t.tensor([d], parameter=True)}
        return m

    def dropout():
        return Dropout(p=0.1, inplace=False)

    emb = Embedding(num_embeddings=10, embedding_dim=8, padding_idx=None, max_norm=None, norm_type=2.0,
                    scale_grad_by_freq=False, sparse=False)
    emb._parameters = {"weight": t.tensor([10, 8], parameter=True)}
    attn = MultiheadAttention(embed_dim=8, kdim=8, vdim=8, _qkv_same_embed_dim=True, num_heads=2,
                              dropout=0.0, batch_first=False, head_dim=4, bias_k=None, bias_v=None,
                              add_zero_attn=False)
    attn._parameters = {"in_proj_weight": t.tensor([24, 8], parameter=True), "q_proj_weight": None,
                        "k_proj_weight": None, "v_proj_weight": None,
                        "in_proj_bias": t.tensor([24], parameter=True)}
    attn._modules = {"out_proj": linear(NDQLinear, 8, 8)}
    layer = EncoderLayer(norm_first=False, activation_relu_or_gelu=1,
                         activation=t.modules["torch.nn.functional"].relu)
    layer._modules = {"self_attn": attn, "linear1": linear(Linear, 8, 16), "dropout": dropout(),
                      "linear2": linear(Linear, 16, 8), "norm1": norm(8), "norm2": norm(8),
                      "dropout1": dropout(), "dropout2": dropout()}
    model = Sequential()
    model._modules = {"0": emb, "1": linear(Linear, 8, 8), "2": ReLU(inplace=False), "3": norm(8),
                      "4": layer, "5": linear(Linear, 8, 2)}

    def state_dict(module, prefix="", into=None):
        into = collections.OrderedDict() if into is None else into
        for key, p in module._parameters.items():
            if p is not None:
                into[prefix + key] = _Tensor(t, p.storage, p.shape, False)
        for key, child in module._modules.items():
            state_dict(child, f"{prefix}{key}.", into)
        into._metadata = collections.OrderedDict()  # what Module.state_dict attaches
        return into

    params = [v for v in state_dict(model).values()]
    adam = {"state": {i: {"step": t.tensor([]), "exp_avg": t.tensor(p.shape), "exp_avg_sq": t.tensor(p.shape)}
                      for i, p in enumerate(params)},
            "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
                              "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                              "differentiable": False, "fused": None, "decoupled_weight_decay": False,
                              "params": list(range(len(params)))}]}
    sgd = {"state": {i: {"momentum_buffer": t.tensor(p.shape)} for i, p in enumerate(params)},
           "param_groups": [{"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0, "nesterov": False,
                             "maximize": False, "foreach": None, "differentiable": False, "fused": None,
                             "params": list(range(len(params)))}]}
    sched = {"step_size": 10, "gamma": 0.5, "base_lrs": [0.001], "last_epoch": 1, "_step_count": 2,
             "_get_lr_called_within_step": False, "_last_lr": [0.001], "_is_initial": False}
    return {
        "state_dict": state_dict(model),
        "whole_module": model,
        "adam_state": adam,
        "sgd_state": sgd,
        "scheduler_state": sched,
        "checkpoint": {"epoch": 3, "model": state_dict(model), "optimizer": adam, "scheduler": sched},
    }


def write_torch_stand_in(out):
    t = _StandIn()
    torch = t.modules["torch"]
    writer = "stand-in for torch.save (torch not installed; classes and reduce shapes as torch 2.x writes them)"

    class ZipPickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
            return None

    class LegacyPickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel, None)
            return None

    for name, obj in torch_stand_in_objects(t).items():
        used = {}

        def collect(pickler_cls):
            buf = io.BytesIO()
            p = pickler_cls(buf, protocol=2)
            original = p.persistent_id

            def pid(o):
                if isinstance(o, _Storage):
                    used[o.key] = o
                return original(o)
            p.persistent_id = pid
            p.dump(obj)
            return buf.getvalue()

        data = collect(ZipPickler)
        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_STORED) as z:
            def add(member, payload):
                z.writestr(zipfile.ZipInfo(f"{name}/{member}", (1980, 1, 1, 0, 0, 0)), payload)
            add("data.pkl", data)
            add(".format_version", b"1")
            add(".storage_alignment", b"64")
            add("byteorder", b"little")
            for key, storage in used.items():
                add(f"data/{key}", b"\0" * (storage.numel * storage.itemsize))
            add("version", b"3\n")
            add(".data/serialization_id", b"0123456789012345678901234567890123456789")
        out.write(f"torch/{name}.pt", zbuf.getvalue(), writer + " zip layout")

        used.clear()
        body = collect(LegacyPickler)
        legacy = io.BytesIO()
        for header in (0x1950A86A20F9469CFC6C, 1001,
                       {"protocol_version": 1001, "little_endian": True,
                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, legacy, protocol=2)
        legacy.write(body)
        pickle.dump(sorted(used), legacy, protocol=2)
        for key in sorted(used):
            legacy.write(used[key].numel.to_bytes(8, "little"))
            legacy.write(b"\0" * (used[key].numel * used[key].itemsize))
        out.write(f"torch/{name}.legacy.pt", legacy.getvalue(),
                  writer + " legacy layout (_use_new_zipfile_serialization=False)")
    for name in list(t.modules):
        sys.modules.pop(name, None)


# ---------------------------------------------------------------------------
# The generated part of crates/scan/rules/pickle_safe.toml: families whose
# data classes are too many to list by hand, enumerated from the installed
# libraries. Reviewed by family (see the comment block written with each).

BEGIN = "# BEGIN GENERATED by scripts/testdata/make_real_pickles.py --safe-list; do not edit by hand"
END = "# END GENERATED"


def classes_in(module, keep=lambda name, obj: True):
    module = importlib.import_module(module) if isinstance(module, str) else module
    return sorted(name for name, obj in vars(module).items()
                  if isinstance(obj, type) and obj.__module__ == module.__name__ and keep(name, obj))


def generated_families():
    """(family, comment, [(module, [names], why)])."""
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    import sklearn
    from sklearn.utils import all_estimators
    families = []

    by_module = collections.defaultdict(set)
    for _, cls in all_estimators():
        by_module[cls.__module__].add(cls.__name__)
    entries = [(m, sorted(n), "estimator: BaseEstimator.__setstate__ checks the version and updates __dict__")
               for m, n in sorted(by_module.items())]
    cython = [
        ("sklearn.tree._tree", ["Tree"], "fitted tree arrays; __setstate__ copies node and value arrays"),
        ("sklearn.neighbors._kd_tree", classes_in("sklearn.neighbors._kd_tree") + ["newObj"],
         "KD tree arrays; newObj(cls) is cls.__new__(cls) (the class argument is instantiated)"),
        ("sklearn.neighbors._ball_tree", classes_in("sklearn.neighbors._ball_tree") + ["newObj"],
         "ball tree arrays; newObj(cls) is cls.__new__(cls) (the class argument is instantiated)"),
        ("sklearn.metrics._dist_metrics", classes_in("sklearn.metrics._dist_metrics") + ["newObj"],
         "distance metric parameters; newObj(cls) is cls.__new__(cls) (the class argument is instantiated)"),
        ("sklearn._loss._loss", classes_in("sklearn._loss._loss"), "Cython loss objects: parameters only"),
        ("sklearn._loss.loss", classes_in("sklearn._loss.loss"), "loss objects inside fitted estimators"),
        ("sklearn._loss.link", classes_in("sklearn._loss.link"), "link functions and intervals inside fitted estimators"),
        ("sklearn.ensemble._hist_gradient_boosting.binning", ["_BinMapper"], "bin thresholds of a fitted model"),
        ("sklearn.ensemble._hist_gradient_boosting.predictor", ["TreePredictor"], "node arrays of a fitted model"),
        ("sklearn.utils._bunch", ["Bunch"], "dict with attribute access"),
    ]
    entries += cython
    families.append(("scikit-learn", f"scikit-learn {sklearn.__version__}: every class of "
                     "sklearn.utils.all_estimators() at its defining module (their __setstate__ is "
                     "BaseEstimator's: version check, __dict__ update; IsotonicRegression also rebuilds "
                     "its interpolation from its arrays), and the Cython and helper classes fitted "
                     "estimators hold. Callables an estimator stores (FunctionTransformer's func, custom "
                     "scorers) are separate imports, judged on their own; none is called at load.", entries))

    # Scalar types under every name numpy exports them (np.bool_ and np.bool,
    # np.intc and np.int32...), abstract ones (np.number) included.
    numeric = sorted({t.__name__ for t in np.sctypeDict.values()}
                     | {n for n in dir(np) if isinstance(getattr(np, n), type) and issubclass(getattr(np, n), np.generic)})
    numpy_entries = [
        ("numpy", ["ndarray", "dtype", "matrix", "recarray", "record"] + numeric,
         "arrays, dtypes and scalar types: constructors build values"),
        ("numpy.dtypes", classes_in("numpy.dtypes"), "dtype classes: constructors build dtypes"),
        ("numpy.ma.core", ["MaskedArray", "mvoid", "MaskedConstant", "_mareconstruct"],
         "masked arrays; _mareconstruct(subtype, baseclass, shape, dtype) instantiates subtype "
         "(the class argument is instantiated)"),
        ("numpy.ma", ["MaskedArray"], "masked array class as numpy.ma names it"),
        ("numpy.random._pickle", ["__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"],
         "random state reconstruction; a class argument (the bit generator) is instantiated with no "
         "arguments (the class argument is instantiated)"),
        ("numpy.random.bit_generator", ["SeedSequence", "__pyx_unpickle_SeedSequence"], "seed state"),
        ("numpy.random._mt19937", ["MT19937"], "bit generator state"),
        ("numpy.random._pcg64", ["PCG64", "PCG64DXSM"], "bit generator state"),
        ("numpy.random._philox", ["Philox"], "bit generator state"),
        ("numpy.random._sfc64", ["SFC64"], "bit generator state"),
        ("numpy.random.mtrand", ["RandomState"], "legacy random state"),
        ("numpy.random._generator", ["Generator"], "random generator"),
    ]
    families.append(("numpy", f"NumPy {np.__version__}: arrays, scalar types and dtypes, masked arrays, "
                     "random generators. Excludes numpy.load, numpy.fromfile, numpy.memmap, numpy.loadtxt "
                     "(files) and numpy.frompyfunc/vectorize (wrap callables).", numpy_entries))

    offsets = classes_in("pandas._libs.tslibs.offsets",
                         lambda n, o: issubclass(o, pd._libs.tslibs.offsets.BaseOffset))
    pd_public = sorted(n for n in ("DataFrame", "Series", "Index", "RangeIndex", "MultiIndex", "CategoricalIndex",
                                   "DatetimeIndex", "TimedeltaIndex", "PeriodIndex", "IntervalIndex", "Categorical",
                                   "Timestamp", "Timedelta", "Period", "Interval", "DateOffset", "CategoricalDtype",
                                   "DatetimeTZDtype", "PeriodDtype", "IntervalDtype", "SparseDtype", "StringDtype",
                                   "BooleanDtype", "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype",
                                   "UInt8Dtype", "UInt16Dtype", "UInt32Dtype", "UInt64Dtype", "Float32Dtype",
                                   "Float64Dtype", "NamedAgg", "Flags") if hasattr(pd, n))
    arrays = sorted(n for n in dir(pd.arrays) if isinstance(getattr(pd.arrays, n), type) and "Arrow" not in n)
    pandas_entries = [
        ("pandas", pd_public, "frames, series, indexes, scalars and dtypes (their public names)"),
        ("pandas.arrays", arrays, "extension arrays (their public names)"),
        ("pandas.core.frame", ["DataFrame"], "frame"),
        ("pandas.core.series", ["Series"], "series"),
        ("pandas.core.arrays.categorical", ["Categorical"], "categorical"),
        ("pandas.core.internals.managers", ["BlockManager", "SingleBlockManager"],
         "block managers: __setstate__ rebuilds blocks from arrays"),
        ("pandas.core.internals.blocks", classes_in("pandas.core.internals.blocks") + ["new_block"],
         "block constructors: wrap arrays with their placement"),
        ("pandas._libs.internals", ["_unpickle_block", "BlockPlacement"], "block reconstruction from arrays"),
        ("pandas._libs.arrays", ["NDArrayBacked", "__pyx_unpickle_NDArrayBacked"],
         "array-backed extension array state (Cython checks the type)"),
        ("pandas._libs.sparse", ["IntIndex", "BlockIndex"], "sparse index arrays"),
        ("pandas._libs.tslibs.nattype", ["_nat_unpickle"], "NaT"),
        ("pandas._libs.tslibs.timestamps", ["_unpickle_timestamp", "Timestamp"], "timestamps"),
        ("pandas._libs.tslibs.timedeltas", ["_timedelta_unpickle", "Timedelta"], "timedeltas"),
        ("pandas._libs.tslibs.period", ["Period"], "periods"),
        ("pandas._libs.interval", ["Interval"], "intervals"),
        ("pandas._libs.tslibs.offsets", offsets, "date offsets: frequency parameters"),
        ("pandas.core.indexes.base", ["_new_Index"],
         "index reconstruction: _new_Index(cls, d) instantiates cls (the class argument is instantiated)"),
        ("pandas.core.indexes.datetimes", ["_new_DatetimeIndex"],
         "index reconstruction (the class argument is instantiated)"),
        ("pandas.core.indexes.interval", ["_new_IntervalIndex"],
         "index reconstruction (the class argument is instantiated)"),
        ("pandas.core.indexes.period", ["_new_PeriodIndex"],
         "index reconstruction (the class argument is instantiated)"),
    ]
    families.append(("pandas", f"pandas {pd.__version__}: containers, extension arrays and dtypes, and the "
                     "internals their pickles name. Excludes every pandas.read_* and pandas.eval/query "
                     "(files, code), pandas.core.internals.api.make_block (calls its klass argument) and "
                     "zoneinfo.ZoneInfo._unpickle (reads time-zone files).", pandas_entries))

    sparse = []
    for kind in ("bsr", "coo", "csc", "csr", "dia", "dok", "lil"):
        sparse.append((f"scipy.sparse._{kind}", [f"{kind}_array", f"{kind}_matrix"], "sparse matrix: index and value arrays"))
    import scipy
    families.append(("scipy", f"SciPy {scipy.__version__} sparse matrices and arrays (every format).", sparse))

    try:
        import transformers
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        cfg = collections.defaultdict(set)
        for model_type in list(CONFIG_MAPPING.keys()):
            try:
                cls = CONFIG_MAPPING[model_type]
            except Exception:
                continue
            cfg[cls.__module__].add(cls.__name__)
        cfg["transformers.generation.configuration_utils"] |= set(classes_in(
            "transformers.generation.configuration_utils", lambda n, o: n.endswith("Config")))
        cfg["transformers.configuration_utils"].add("PretrainedConfig")
        families.append(("transformers", f"transformers {transformers.__version__}: configuration classes "
                         "(PretrainedConfig subclasses of the auto mapping, GenerationConfig and its helpers). "
                         "No custom __setstate__: unpickling restores __dict__; __init__ stores parameters and "
                         "builds nested configs of transformers' own classes. Models, pipelines, tokenizer "
                         "classes with from_pretrained and anything with trust_remote_code are not listed.",
                         [(m, sorted(n), "configuration") for m, n in sorted(cfg.items())]))
    except ImportError:
        pass
    try:
        import tokenizers
        tok = [("tokenizers", classes_in(tokenizers, lambda n, o: n in ("Tokenizer", "AddedToken", "Encoding")) or
                ["Tokenizer", "AddedToken"], "tokenizer: __setstate__ parses the tokenizer JSON")]
        for sub in ("models", "normalizers", "pre_tokenizers", "decoders", "processors"):
            module = getattr(tokenizers, sub)
            names = sorted(n for n in dir(module) if isinstance(getattr(module, n), type))
            tok.append((f"tokenizers.{sub}", names, "tokenizer component: state is its JSON"))
        families.append(("tokenizers", f"tokenizers {tokenizers.__version__} (Rust): every class restores from "
                         "its JSON serialisation; none reads files when unpickled (Tokenizer.from_file is not a "
                         "pickle path).", tok))
    except ImportError:
        pass
    return families


def write_safe_list(path):
    with open(path) as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1) if BEGIN in text else (text.rstrip("\n") + "\n\n", END)
    tail = rest.split(END, 1)[1]
    lines = [BEGIN, ""]
    n_names = 0
    for family, comment, entries in generated_families():
        lines.append("# " + "-" * 74)
        words, line = comment.split(), "#"
        for word in words:
            if len(line) + len(word) > 78:
                lines.append(line)
                line = "#"
            line += " " + word
        lines.append(line)
        lines.append("")
        for module, names, why in entries:
            names = sorted(set(names))
            n_names += len(names)
            lines.append("[[module]]")
            lines.append(f"name = {json.dumps(module)}")
            lines.append(f"family = {json.dumps(family)}")
            lines.append("names = [" + ", ".join(json.dumps(n) for n in names) + "]")
            lines.append(f"why = {json.dumps(why)}")
            lines.append("")
    lines.append(END)
    with open(path, "w") as f:
        f.write(head + "\n".join(lines) + tail)
    return n_names


# ---------------------------------------------------------------------------

WRITERS = (write_stdlib, write_numpy, write_sklearn, write_joblib, write_boosters, write_pandas,
           write_scipy, write_hf, write_torch)


def stamp_text():
    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return json.dumps({"script": digest, "versions": versions()}, sort_keys=True)


def main(argv):
    if len(argv) == 3 and argv[1] == "--imports":
        with open(os.path.join(argv[2], "manifest.json")) as f:
            manifest = json.load(f)
        by_name = collections.defaultdict(list)
        for entry in manifest["files"]:
            for name in entry["imports"]:
                by_name[name].append(entry["file"])
        for name in sorted(by_name):
            print(f"{name}\t{len(by_name[name])}")
        return 0
    if len(argv) == 3 and argv[1] == "--safe-list":
        warnings.simplefilter("ignore")
        print(f"{write_safe_list(argv[2])} generated names in {argv[2]}", file=sys.stderr)
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    stamp = os.path.join(root, ".stamp")
    text = stamp_text()
    if os.path.exists(stamp) and open(stamp).read() == text:
        return 0
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    out = Out(root)
    warnings.simplefilter("ignore")
    for writer in WRITERS:
        writer(out)
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump({"versions": versions(), "files": out.files}, f, indent=1)
    with open(stamp, "w") as f:
        f.write(text)
    print(f"real pickles: {len(out.files)} files in {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
