"""Write Keras models for crates/keras tests. Keras 3 itself (numpy
backend) saves real models: Sequential and functional, compiled with
optimizer state, with a Lambda layer, each as `.keras` and as legacy `.h5`
(`model.save('x.h5')`). Beside them, files Keras 3 cannot write, in the
layouts Keras writes: `.keras` zips (metadata.json, config.json,
model.weights.h5, as keras/src/saving/saving_lib.py) and legacy HDF5 files
as Keras 2 wrote them (h5py; root attributes model_config, keras_version,
backend, as bytes or str, behind a user block), custom objects, Lambda
bytecode (base64 as keras' python_utils.func_dump writes it) in a layer or
hidden in other attributes, and broken zips.

Beside each input, `<stem>.expected.json`: {"format", "keras_version",
"backend", "model_class", "layers": [[class_name, name, module,
registered_name]], "members", "weights": [[path, shape, dtype,
optimizer]], "n_parameters", "code_attributes": [[object, attribute,
pointer]]} or {"error": variant}. Weights are h5py's view of the HDF5 file
(the zip's model.weights.h5); code attributes are the values that
Python's own marshal loads as code objects.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_keras.py
"""
import base64
import codecs
import io
import json
import marshal
import os
import shutil
import types
import zipfile

os.environ["KERAS_BACKEND"] = "numpy"  # no TensorFlow, JAX or torch runtime needed

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "keras")
DTYPE = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def layer(class_name, name, module="keras.layers", registered_name=None, **config):
    return {"module": module, "class_name": class_name,
            "config": {"name": name, "trainable": True, "dtype": DTYPE, **config},
            "registered_name": registered_name, "build_config": {"input_shape": [None, 4]}}


def func_dump(fn):
    """keras.src.utils.python_utils.func_dump: base64 of the marshaled code."""
    return codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")


def keras3_lambda(name):
    fn = lambda x: __import__("os").system("id")  # noqa: E731
    return layer("Lambda", name, function={"class_name": "__lambda__", "config": {
        "code": func_dump(fn), "defaults": None, "closure": None}}, output_shape=None, arguments={})


def sequential(name, layers, module="keras"):
    return {"module": module, "class_name": "Sequential", "registered_name": None,
            "config": {"name": name, "trainable": True, "dtype": DTYPE, "layers": layers},
            "build_config": {"input_shape": [None, 4]}, "compile_config": None}


def walk(config, out):
    """The layers, depth first, by the rule the reader documents."""
    for key in ("layers", "layer", "forward_layer", "backward_layer", "cell", "cells"):
        value = config.get(key)
        for item in value if isinstance(value, list) else [value] if isinstance(value, dict) else []:
            if isinstance(item.get("class_name"), str) and "config" in item:
                cfg = item["config"]
                out.append([item["class_name"], cfg.get("name") if isinstance(cfg, dict) else None,
                            item.get("module"), item.get("registered_name")])
                if isinstance(cfg, dict):
                    walk(cfg, out)
    return out


def is_code(value):
    """Whether Python's marshal loads the value (raw or base64) as code."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    for candidate in (value, None):
        try:
            raw = candidate if candidate is not None else base64.b64decode(value, validate=False)
            if isinstance(marshal.loads(raw), types.CodeType):
                return True
        except Exception:  # noqa: BLE001 - anything marshal refuses is not code
            pass
    return False


def h5_view(h5bytes):
    """Weights and code-carrying attributes of an HDF5 file, from h5py."""
    weights, code = [], []
    with h5py.File(io.BytesIO(h5bytes), "r") as f:
        objects = [("", f)]
        f.visititems(lambda name, obj: objects.append((name, obj)))
        for name, obj in objects:
            if isinstance(obj, h5py.Dataset):
                optimizer = name.startswith(("optimizer/", "optimizer_weights/"))
                weights.append([name, list(obj.shape), obj.dtype.str, optimizer])
            for key in obj.attrs:
                value = obj.attrs[key]
                values = np.asarray(value, dtype=object).ravel().tolist() if not isinstance(value, (str, bytes)) else [value]
                for item in values:
                    if not isinstance(item, (str, bytes)):
                        continue
                    if is_code(item):
                        code.append([name, key, ""])
                        continue
                    text = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
                    if not text.lstrip().startswith(("{", "[")):
                        continue
                    try:
                        tree = json.loads(text)
                    except ValueError:
                        continue
                    skip_lambdas = name == "" and key == "model_config"
                    stack = [(tree, "")]
                    while stack:
                        node, pointer = stack.pop()
                        if isinstance(node, str) and is_code(node):
                            code.append([name, key, pointer])
                        elif isinstance(node, list):
                            stack.extend((v, f"{pointer}/{i}") for i, v in enumerate(node))
                        elif isinstance(node, dict):
                            if skip_lambdas and node.get("class_name") in ("Lambda", "TFOpLambda"):
                                continue
                            stack.extend((v, f"{pointer}/{k}") for k, v in node.items())
    weights.sort()
    n_parameters = sum(int(np.prod(w[1])) for w in weights if not w[3]) if weights else None
    return {"weights": weights, "n_parameters": n_parameters, "code_attributes": sorted(code)}


def write(sub, name, data, expected):
    stem = name.rsplit(".", 1)[0]
    assert not os.path.exists(os.path.join(ROOT, sub, stem + ".expected.json")), name
    with open(os.path.join(ROOT, sub, name), "wb") as f:
        f.write(data)
    with open(os.path.join(ROOT, sub, stem + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def weights_h5():
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.zeros((4, 2), dtype=np.float32))
    return buf.getvalue()


def keras_zip(sub, name, config, version="3.6.0"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": version, "date_saved": "2024-10-01@00:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights_h5())
    write(sub, name, buf.getvalue(), {
        "format": "KerasV3", "keras_version": version, "backend": None, "model_class": config["class_name"],
        "layers": walk(config["config"], []), "members": ["metadata.json", "config.json", "model.weights.h5"],
        **h5_view(weights_h5())})


def legacy_h5(sub, name, config, as_bytes=False, userblock=0, extra=None):
    """As keras 2 `model.save('x.h5')`: JSON attributes on the root group.
    Keras 2 stored them as bytes (fixed-length strings, inline); h5py stores
    str as variable-length strings (in the global heap)."""
    buf = io.BytesIO()
    kwargs = {"userblock_size": userblock} if userblock else {}
    with h5py.File(buf, "w", **kwargs) as f:
        encode = (lambda s: s.encode("utf8")) if as_bytes else (lambda s: s)
        f.attrs["keras_version"] = encode("2.15.0")
        f.attrs["backend"] = encode("tensorflow")
        if config is not None:
            f.attrs["model_config"] = encode(json.dumps(config))
        f.create_dataset("model_weights/dense/dense/kernel:0", data=np.zeros((4, 2), dtype=np.float32))
        if extra:
            extra(f)
    data = buf.getvalue()
    if userblock:
        data = b"user block".ljust(userblock, b"\0") + data[userblock:]
    write(sub, name, data, {
        "format": "Hdf5", "keras_version": "2.15.0", "backend": "tensorflow",
        "model_class": config["class_name"] if config else None,
        "layers": walk(config["config"], []) if config else [], "members": [], **h5_view(data)})


def real(sub, stem, model):
    """Save a model built by Keras as `<stem>.keras` and as legacy
    `<stem>_h5.h5` (distinct stems: each input has its own expectation);
    the expectation is read back from the files with zipfile, json and
    h5py."""
    for name in (f"{stem}.keras", f"{stem}_h5.h5"):
        path = os.path.join(ROOT, sub, name)
        model.save(path)
        with open(path, "rb") as f:
            data = f.read()
        assert len(data) < 200 * 1024, path
        if name.endswith(".keras"):
            with zipfile.ZipFile(path) as z:
                config = json.loads(z.read("config.json"))
                metadata = json.loads(z.read("metadata.json"))
                expected = {"format": "KerasV3", "keras_version": metadata.get("keras_version"),
                            "backend": None, "members": z.namelist(), **h5_view(z.read("model.weights.h5"))}
        else:
            with h5py.File(path, "r") as f:
                config = json.loads(f.attrs["model_config"])
                expected = {"format": "Hdf5", "keras_version": f.attrs["keras_version"],
                            "backend": f.attrs["backend"], "members": [], **h5_view(data)}
        expected.update(model_class=config["class_name"], layers=walk(config["config"], []))
        with open(os.path.join(ROOT, sub, name.rsplit(".", 1)[0] + ".expected.json"), "w") as f:
            json.dump(expected, f, indent=1, sort_keys=True)
            f.write("\n")


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    plain = sequential("sequential", [
        layer("InputLayer", "input_layer", batch_shape=[None, 4], sparse=False),
        layer("Dense", "dense", units=2, activation="linear"),
        sequential("inner", [layer("Dropout", "drop", rate=0.1)]),
    ])
    keras_zip("ok", "sequential.keras", plain)
    functional = {"module": "keras", "class_name": "Functional", "registered_name": "Functional",
                  "config": {"name": "functional", "trainable": True, "layers": [
                      dict(layer("InputLayer", "tokens", batch_shape=[None, 8]), inbound_nodes=[]),
                      dict(layer("Bidirectional", "bidi", merge_mode="concat",
                                 layer=layer("LSTM", "forward_lstm", units=4),
                                 backward_layer=layer("LSTM", "backward_lstm", units=4, go_backwards=True)),
                           inbound_nodes=[]),
                      dict(layer("TimeDistributed", "td", layer=layer("Dense", "td_dense", units=1)), inbound_nodes=[]),
                  ], "input_layers": [["tokens", 0, 0]], "output_layers": [["td", 0, 0]]},
                  "build_config": {"input_shape": None}, "compile_config": None}
    keras_zip("ok", "functional.keras", functional)
    legacy = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "input_1"}},
        {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "units": 2}}]}}
    legacy_h5("ok", "legacy_sequential.h5", legacy)
    legacy_h5("ok", "bytes_attributes.h5", legacy, as_bytes=True)
    legacy_h5("ok", "userblock.h5", legacy, userblock=512)
    legacy_h5("ok", "weights_only.h5", None)

    keras_zip("malicious", "lambda.keras", sequential("sequential", [
        layer("Dense", "dense", units=2), keras3_lambda("evil")]))
    keras_zip("malicious", "custom_object.keras", sequential("sequential", [
        layer("Custom", "custom", module="my_package.layers", registered_name="my_package>Custom")]))
    fn = lambda x: __import__("os").system("id")  # noqa: E731
    legacy_lambda = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "Dense", "config": {"name": "dense", "units": 2}},
        {"class_name": "Lambda", "config": {"name": "evil", "function": [func_dump(fn), None, None],
                                            "function_type": "lambda", "module": "__main__",
                                            "output_shape": None, "arguments": {}}}]}}
    legacy_h5("malicious", "legacy_lambda.h5", legacy_lambda, as_bytes=True)

    def hide_code(f):
        """Bytecode where no layer walk looks: a dataset attribute and a
        compiled loss in training_config."""
        f["model_weights/dense/dense/kernel:0"].attrs["note"] = func_dump(fn)
        f.attrs["training_config"] = json.dumps({"loss": {"class_name": "__lambda__", "config": {
            "code": func_dump(fn), "defaults": None, "closure": None}}})
    legacy_h5("malicious", "hidden_code.h5", legacy, extra=hide_code)

    # Real models, saved by Keras 3.
    keras.utils.set_random_seed(0)
    sequential_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                                         keras.layers.Dropout(0.1), keras.layers.Dense(2)], name="sequential")
    sequential_model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    sequential_model.optimizer.build(sequential_model.trainable_variables)
    real("ok", "keras3_sequential", sequential_model)
    tokens = keras.Input((6,), name="tokens")
    embedded = keras.layers.Embedding(10, 4, name="embed")(tokens)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(embedded)
    branch = keras.layers.Dense(3, name="branch")(pooled)
    merged = keras.layers.Concatenate(name="merge")([pooled, branch])
    real("ok", "keras3_functional", keras.Model(tokens, keras.layers.Dense(1, name="out")(merged), name="functional"))
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="dense")(inputs)
    real("malicious", "keras3_lambda", keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2.0, name="double")(hidden)))

    def err_zip(name, members, error):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for member, text in members:
                z.writestr(member, text)
        write("err", name, buf.getvalue(), {"error": error})

    err_zip("no_config.keras", [("metadata.json", "{}")], "NotKeras")
    err_zip("bad_json.keras", [("config.json", '{"class_name": ')], "Json")
    err_zip("bad_metadata.keras", [("config.json", json.dumps(plain)), ("metadata.json", "{")], "Json")
    write("err", "not_a_zip.keras", b"not a keras file", {"error": "Archive"})


if __name__ == "__main__":
    main()
