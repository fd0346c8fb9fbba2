"""Write Keras models in the Keras 3 `.keras` layout (zipfile, as
keras/src/saving/saving_lib.py writes it) and the legacy HDF5 layout (h5py,
with the model_config attribute legacy Keras writes), including a Lambda
layer with a marshaled function, for crates/keras tests.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_keras.py
"""
import base64
import io
import json
import marshal
import os
import shutil
import zipfile

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "keras")


def layer(class_name, name, **config):
    return {"module": "keras.layers", "class_name": class_name, "config": {"name": name, "trainable": True, **config}, "registered_name": None}


def lambda_layer():
    code = marshal.dumps((lambda x: __import__("os").system("id")).__code__)
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {"code": base64.b64encode(code).decode(), "defaults": None, "closure": None}}}}


def model(layers):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "trainable": True, "layers": layers}, "build_config": {"input_shape": [None, 4]}}


def keras_zip(path, config):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2024-10-01@00:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))


def legacy_h5(path, config):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        f.create_dataset("model_weights/dense/kernel", data=np.zeros((4, 2), dtype=np.float32))


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    plain = model([layer("InputLayer", "input", batch_shape=[None, 4]), layer("Dense", "dense", units=2),
                   {"module": "keras", "class_name": "Functional", "registered_name": None,
                    "config": {"name": "inner", "layers": [layer("Dropout", "drop", rate=0.1)]}}])
    keras_zip(os.path.join(ROOT, "ok", "sequential.keras"), plain)
    legacy_h5(os.path.join(ROOT, "ok", "sequential.h5"), plain)
    evil = model([layer("Dense", "dense", units=2), lambda_layer(),
                  {"module": "my_package.layers", "class_name": "Custom", "registered_name": "my_package>Custom", "config": {"name": "custom"}}])
    keras_zip(os.path.join(ROOT, "malicious", "lambda.keras"), evil)
    legacy_h5(os.path.join(ROOT, "malicious", "lambda.h5"), evil)
    with zipfile.ZipFile(os.path.join(ROOT, "err", "no_config.keras"), "w") as z:
        z.writestr("metadata.json", "{}")
    with zipfile.ZipFile(os.path.join(ROOT, "err", "bad_json.keras"), "w") as z:
        z.writestr("config.json", "{\"class_name\": ")


if __name__ == "__main__":
    main()
