"""Write Keras models for crates/keras tests: Keras 3 `.keras` zips (with
zipfile, in the layout keras/src/saving/saving_lib.py writes: metadata.json,
config.json, model.weights.h5) and legacy HDF5 `.h5` files (with h5py, with
the root attributes legacy Keras writes: model_config, keras_version,
backend), including Lambda layers carrying marshaled bytecode (base64 as
keras' python_utils.func_dump writes it) and custom objects. Keras itself is
not needed: the configurations are written in its JSON layout.

Beside each input, `<stem>.expected.json`: {"format", "keras_version",
"backend", "model_class", "layers": [[class_name, name, module,
registered_name]], "members"} or {"error": variant}.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_keras.py
"""
import codecs
import io
import json
import marshal
import os
import shutil
import zipfile

import h5py
import numpy as np

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
        "layers": walk(config["config"], []), "members": ["metadata.json", "config.json", "model.weights.h5"]})


def legacy_h5(sub, name, config, as_bytes=False, userblock=0):
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
    data = buf.getvalue()
    if userblock:
        data = b"#!userblock".ljust(userblock, b"\0") + data[userblock:]
    write(sub, name, data, {
        "format": "Hdf5", "keras_version": "2.15.0", "backend": "tensorflow",
        "model_class": config["class_name"] if config else None,
        "layers": walk(config["config"], []) if config else [], "members": []})


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
