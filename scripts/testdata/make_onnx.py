"""Write ONNX test inputs with the reference writer (the `onnx` package) and
what the reference reader sees, for crates/onnx tests.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_onnx.py

(Named make_onnx.py, not onnx.py: a script called onnx.py would shadow the
`onnx` package it imports.)

ok/*.onnx          valid models, each with <name>.expected.json from onnx
malicious/*.onnx   parseable models a scanner must flag, with expected JSON
err/*.onnx         inputs the reader must reject (expected error in the Rust test)
"""
import json
import os
import shutil
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "onnx")
STANDARD = {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"}


def dtype_name(code):
    return TensorProto.DataType.Name(code)


def value_info(v):
    out = {"name": v.name, "elem_type": None, "shape": []}
    which = v.type.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        t = getattr(v.type, which)
        out["elem_type"] = dtype_name(t.elem_type)
        for d in t.shape.dim:
            kind = d.WhichOneof("value")
            out["shape"].append(d.dim_value if kind == "dim_value" else d.dim_param if kind == "dim_param" else None)
    return out


def tensor(t, base_dir):
    external = None
    if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
        info = {e.key: e.value for e in t.external_data}
        external = {
            "location": info.get("location", ""),
            "offset": int(info["offset"]) if "offset" in info else None,
            "length": int(info["length"]) if "length" in info else None,
        }
    n_elements = int(np.prod(t.dims, dtype=np.uint64)) if len(t.dims) else 1
    nbytes = None
    if t.HasField("raw_data"):
        nbytes = len(t.raw_data)
    elif external is None and t.data_type != TensorProto.STRING:
        nbytes = int(numpy_helper.to_array(t).nbytes)
    elif external is not None and not os.path.isabs(external["location"]) and ".." not in external["location"]:
        nbytes = int(numpy_helper.to_array(t, base_dir).nbytes)
    return {
        "name": t.name,
        "data_type": dtype_name(t.data_type),
        "dims": list(t.dims),
        "n_elements": n_elements,
        "nbytes": nbytes,
        "external": external,
    }


def walk_nodes(graph, ops):
    n = 0
    for node in graph.node:
        n += 1
        key = (node.domain, node.op_type)
        ops[key] = ops.get(key, 0) + 1
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                n += walk_nodes(g, ops)
    return n


def all_domains(model):
    domains = set(o.domain for o in model.opset_import)

    def graph_domains(g):
        for node in g.node:
            domains.add(node.domain)
            for a in node.attribute:
                for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    graph_domains(sub)

    graph_domains(model.graph)
    for f in model.functions:
        domains.update(o.domain for o in f.opset_import)
        for node in f.node:
            domains.add(node.domain)
    return sorted(domains - STANDARD)


def expected(path):
    # The raw protobuf, without loading external data.
    model = onnx.load(path, load_external_data=False)
    base_dir = os.path.dirname(path)
    ops = {}
    n_nodes = walk_nodes(model.graph, ops)
    inits = [tensor(t, base_dir) for t in model.graph.initializer]
    return {
        "ir_version": model.ir_version,
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": model.model_version,
        "doc_string": model.doc_string,
        "opset_imports": [[o.domain, o.version] for o in model.opset_import],
        "metadata_props": [[p.key, p.value] for p in model.metadata_props],
        "graph_name": model.graph.name,
        "inputs": [value_info(v) for v in model.graph.input],
        "outputs": [value_info(v) for v in model.graph.output],
        "initializers": inits,
        "n_parameters": sum(t["n_elements"] for t in inits),
        "n_nodes": n_nodes,
        "op_types": sorted([d, o, c] for (d, o), c in ops.items()),
        "custom_domains": all_domains(model),
        "functions": [[f.domain, f.name] for f in model.functions],
        "external_locations": sorted(
            {e.value for t in onnx.external_data_helper._get_all_tensors(model)
             for e in t.external_data if e.key == "location"}
        ),
    }


def rng_array(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def mlp():
    w1 = numpy_helper.from_array(rng_array((4, 8), np.float32, 1), "fc1.weight")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "fc1.bias")
    w2 = numpy_helper.from_array(rng_array((8, 2), np.float32, 2), "fc2.weight")
    b2 = numpy_helper.from_array(np.zeros(2, np.float32), "fc2.bias")
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["h_relu"], name="relu"),
        helper.make_node("Gemm", ["h_relu", "fc2.weight", "fc2.bias"], ["y"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        initializer=[w1, b1, w2, b2],
    )
    model = helper.make_model(graph, producer_name="modelgate-test", producer_version="1.0",
                              opset_imports=[helper.make_opsetid("", 17)], doc_string="a two-layer MLP")
    model.model_version = 3
    model.domain = "org.modelgate.test"
    helper.set_model_props(model, {"author": "modelgate", "license": "Apache-2.0"})
    onnx.checker.check_model(model)
    return model


def dtypes():
    inits = [
        numpy_helper.from_array(rng_array((3, 5), np.float16, 3), "half"),
        helper.make_tensor("bf16", TensorProto.BFLOAT16, [2, 3], bytes(12), raw=True),
        numpy_helper.from_array(np.arange(-4, 4, dtype=np.int8).reshape(2, 4), "int8"),
        helper.make_tensor("int64_typed", TensorProto.INT64, [3], [1, -2, 300]),
        helper.make_tensor("float_typed", TensorProto.FLOAT, [2], [0.5, 1.5]),
        helper.make_tensor("names", TensorProto.STRING, [2], [b"a", b"bc"]),
        numpy_helper.from_array(np.array([True, False, True]), "flags"),
        helper.make_tensor("u4", TensorProto.UINT4, [5], bytes(3), raw=True),
        helper.make_tensor("f8", TensorProto.FLOAT8E4M3FN, [4], bytes(4), raw=True),
        numpy_helper.from_array(np.array(2.5, dtype=np.float64), "scalar"),
        numpy_helper.from_array(np.zeros((0, 3), np.float32), "empty"),
    ]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["half"], ["out"])], "dtypes", [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT16, [3, 5])], initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def custom():
    # A model-local function in domain com.local, a custom op in com.example,
    # an If node whose branches hold an initializer and a Constant tensor.
    fn = helper.make_function(
        "com.local", "Double", ["a"], ["b"],
        [helper.make_node("Add", ["a", "a"], ["b"])],
        [helper.make_opsetid("", 18)],
    )
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["t_out"],
                          value=numpy_helper.from_array(np.ones(3, np.float32), "then_const"))],
        "then", [], [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [3])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Identity", ["else_init"], ["e_out"])],
        "else", [], [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [3])],
        initializer=[numpy_helper.from_array(np.zeros(3, np.float32), "else_init")],
    )
    nodes = [
        helper.make_node("Double", ["x"], ["d"], domain="com.local"),
        helper.make_node("FancyOp", ["d"], ["f"], domain="com.example", alpha=0.5),
        helper.make_node("ReduceSum", ["f"], ["s"], keepdims=0),
        helper.make_node("Cast", ["s"], ["cond"], to=TensorProto.BOOL),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=else_graph),
    ]
    graph = helper.make_graph(
        nodes, "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3]),
         helper.make_tensor_sequence_value_info("unused_seq", TensorProto.INT64, None)],
    )
    return helper.make_model(
        graph, functions=[fn], producer_name="modelgate-test",
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1),
                       helper.make_opsetid("com.local", 1)],
    )


def external_model(path):
    model = mlp()
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(path) + ".data", size_threshold=0)


def traversal():
    """Initializers whose external data points outside the model directory."""
    inits = []
    for name, location in [("relative", "../../etc/passwd"), ("absolute", "/etc/passwd")]:
        t = TensorProto()
        t.name = name
        t.data_type = TensorProto.FLOAT
        t.dims.extend([4])
        t.data_location = TensorProto.EXTERNAL
        for key, value in [("location", location), ("offset", "0"), ("length", "16")]:
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        inits.append(t)
    # A Constant node whose tensor attribute also points outside.
    hidden = TensorProto()
    hidden.name = "hidden"
    hidden.data_type = TensorProto.FLOAT
    hidden.dims.extend([1])
    hidden.data_location = TensorProto.EXTERNAL
    entry = hidden.external_data.add()
    entry.key, entry.value = "location", "..\\..\\windows\\win.ini"
    graph = helper.make_graph(
        [helper.make_node("Add", ["relative", "absolute"], ["y"]),
         helper.make_node("Constant", [], ["c"], value=hidden)],
        "traversal", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("ok", "err", "malicious"):
        os.makedirs(os.path.join(ROOT, sub))
    path = lambda sub, name: os.path.join(ROOT, sub, name)

    onnx.save_model(mlp(), path("ok", "mlp.onnx"))
    onnx.save_model(dtypes(), path("ok", "dtypes.onnx"))
    onnx.save_model(custom(), path("ok", "custom.onnx"))
    external_model(path("ok", "external.onnx"))
    onnx.save_model(traversal(), path("malicious", "external_traversal.onnx"))
    for sub in ("ok", "malicious"):
        for name in sorted(os.listdir(os.path.join(ROOT, sub))):
            if name.endswith(".onnx"):
                with open(path(sub, name[: -len(".onnx")] + ".expected.json"), "w") as f:
                    json.dump(expected(path(sub, name)), f, indent=1, sort_keys=True)
                    f.write("\n")

    good = open(path("ok", "mlp.onnx"), "rb").read()
    err = lambda name, data: open(path("err", name), "wb").write(data)
    # Cut inside the graph field.
    err("truncated.onnx", good[: len(good) // 2])
    # ir_version whose varint never ends.
    err("bad_varint.onnx", b"\x08" + b"\xff" * 11)
    # A tag with wire type 7, which does not exist.
    err("bad_wire_type.onnx", b"\x08\x08\x3f\x00")
    # Valid protobuf with no graph.
    m = onnx.ModelProto()
    m.ir_version = 9
    err("missing_graph.onnx", m.SerializeToString())
    # An initializer with a negative dimension.
    bad = mlp()
    bad.graph.initializer[0].dims[0] = -4
    err("negative_dim.onnx", bad.SerializeToString())
    # dims whose product overflows 64 bits.
    bad = mlp()
    bad.graph.initializer[1].dims[:] = [2**40, 2**40]
    err("dims_overflow.onnx", bad.SerializeToString())
    # Subgraphs nested deeper than the reader follows (If inside If, 40
    # levels), encoded by hand: the protobuf library refuses such depth.
    ld = lambda field, payload: varint(field << 3 | 2) + varint(len(payload)) + payload
    g = ld(2, b"leaf")
    for i in range(40):
        attribute = ld(1, b"then_branch") + ld(6, g) + varint(20 << 3) + varint(5)
        node = ld(4, b"If") + ld(5, attribute)
        g = ld(1, node) + ld(2, b"level%d" % i)
    err("too_deep.onnx", b"\x08\x08" + ld(7, g) + ld(8, varint(2 << 3) + varint(17)))
    # A graph field whose length claims more bytes than the file holds.
    err("length_past_end.onnx", b"\x08\x08" + b"\x3a" + varint(1 << 40) + b"\x12\x01g")


if __name__ == "__main__":
    main()
