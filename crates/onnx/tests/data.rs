//! The reader against models written by the Python `onnx` package
//! (scripts/testdata/make_onnx.py), compared with what `onnx` itself reads.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use modelgate_onnx::{Dim, Error, OnnxModel, TensorOrigin, looks_like_onnx};
use serde_json::{Value as Json, json};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/onnx")
        .join(sub)
}

fn read(sub: &str, name: &str) -> Vec<u8> {
    std::fs::read(dir(sub).join(name)).unwrap()
}

fn models(sub: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".onnx"))
        .collect();
    names.sort();
    names
}

fn dim_json(dim: &Dim) -> Json {
    match dim {
        Dim::Value(v) => json!(v),
        Dim::Param(p) => json!(p),
        Dim::Unknown => Json::Null,
    }
}

/// Parse `sub/name` and compare every reported fact with the JSON the
/// `onnx` package produced for the same file.
fn check(sub: &str, name: &str) -> OnnxModel {
    let bytes = read(sub, name);
    assert!(looks_like_onnx(&bytes), "{name}: sniff");
    let model = OnnxModel::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected: Json =
        serde_json::from_slice(&read(sub, &name.replace(".onnx", ".expected.json"))).unwrap();
    let mut locations: Vec<&str> = model
        .external_tensors()
        .map(|t| t.external.as_ref().unwrap().location.as_str())
        .collect();
    locations.sort();
    locations.dedup();
    let ours = json!({
        "ir_version": model.ir_version,
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": model.model_version,
        "doc_string": model.doc_string,
        "opset_imports": model.opset_imports.iter().map(|o| json!([o.domain, o.version])).collect::<Vec<_>>(),
        "metadata_props": model.metadata_props.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "graph_name": model.graph_name,
        "inputs": model.inputs.iter().map(|v| json!({
            "name": v.name, "elem_type": v.elem_type,
            "shape": v.shape.iter().map(dim_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "outputs": model.outputs.iter().map(|v| json!({
            "name": v.name, "elem_type": v.elem_type,
            "shape": v.shape.iter().map(dim_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "initializers": model.initializers.iter().map(|t| json!({
            "name": t.name,
            "data_type": t.data_type,
            "dims": t.dims,
            "n_elements": t.n_elements,
            // onnx's answer is the stored size (raw_data or numpy array).
            "nbytes": expected_nbytes(t),
            "external": t.external.as_ref().map(|e| json!({
                "location": e.location, "offset": e.offset, "length": e.length,
            })),
        })).collect::<Vec<_>>(),
        "n_parameters": model.n_parameters(),
        "n_nodes": model.n_nodes,
        "op_types": model.op_types.iter().map(|(d, o, c)| json!([d, o, c])).collect::<Vec<_>>(),
        "custom_domains": model.custom_domains,
        "functions": model.functions.iter().map(|(d, n)| json!([d, n])).collect::<Vec<_>>(),
        "external_locations": locations,
    });
    assert_eq!(
        ours, expected,
        "{name}\nours:     {}\nexpected: {}",
        ours, expected
    );
    model
}

/// What the Python side reports as `nbytes`: the raw_data length when the
/// tensor has one, else numpy's size (1 byte per sub-byte element), None
/// for strings and unsafe external paths.
fn expected_nbytes(t: &modelgate_onnx::Initializer) -> Option<u64> {
    if let Some(external) = &t.external {
        return (!external.is_unsafe_location()).then(|| t.n_bytes.unwrap());
    }
    if t.data_type == "STRING" {
        return None;
    }
    match t.data_type.as_str() {
        // numpy holds 4-bit values one per byte.
        "UINT4" | "INT4" | "FLOAT4E2M1" if t.stored_bytes == t.n_bytes.unwrap() => {
            Some(t.stored_bytes)
        }
        _ => t.n_bytes,
    }
}

#[test]
fn ok_models_match_the_onnx_package() {
    let names = models("ok");
    assert_eq!(
        names,
        ["custom.onnx", "dtypes.onnx", "external.onnx", "mlp.onnx"]
    );
    for name in names {
        check("ok", &name);
    }
}

#[test]
fn mlp_facts() {
    let model = check("ok", "mlp.onnx");
    assert_eq!(model.n_parameters(), 32 + 8 + 16 + 2);
    assert_eq!(
        model.inputs[0].shape,
        [Dim::Param("batch".into()), Dim::Value(4)]
    );
    assert_eq!(model.inputs[0].type_kind, "tensor");
    let w1 = &model.initializers[0];
    assert_eq!((w1.n_bytes, w1.stored_bytes), (Some(128), 128));
    assert_eq!(w1.origin, TensorOrigin::Initializer);
    assert!(model.custom_domains.is_empty());
    assert!(model.unsafe_external_paths().is_empty());
}

#[test]
fn dtypes_and_sizes() {
    let model = check("ok", "dtypes.onnx");
    let get = |name: &str| model.initializers.iter().find(|t| t.name == name).unwrap();
    assert_eq!(get("bf16").n_bytes, Some(12));
    assert_eq!(get("u4").n_bytes, Some(3)); // 5 × 4 bits, rounded up
    assert_eq!(get("f8").data_type, "FLOAT8E4M3FN");
    assert_eq!(get("names").n_bytes, None);
    assert_eq!(get("names").stored_bytes, 3);
    // Typed int64_data: the values 1, -2 (10-byte varint), 300 (2 bytes), packed.
    assert_eq!(get("int64_typed").stored_bytes, 1 + 10 + 2);
    assert_eq!(get("float_typed").stored_bytes, 8);
    assert_eq!((get("scalar").dims.len(), get("scalar").n_elements), (0, 1));
    assert_eq!(
        (get("empty").n_elements, get("empty").n_bytes),
        (0, Some(0))
    );
}

#[test]
fn custom_domains_functions_and_subgraphs() {
    let model = check("ok", "custom.onnx");
    assert_eq!(model.custom_domains, ["com.example", "com.local"]);
    assert_eq!(model.outputs[1].type_kind, "sequence");
    assert_eq!(model.outputs[1].elem_type, None);
    let others: Vec<(&str, TensorOrigin)> = model
        .other_tensors
        .iter()
        .map(|t| (t.name.as_str(), t.origin))
        .collect();
    // onnx.helper writes attributes sorted by name: else_branch first.
    assert_eq!(
        others,
        [
            ("else_init", TensorOrigin::SubgraphInitializer),
            ("then_const", TensorOrigin::Attribute),
        ]
    );
}

#[test]
fn external_data() {
    let model = check("ok", "external.onnx");
    let data_len = read("ok", "external.onnx.data").len() as u64;
    let mut end = 0;
    for t in &model.initializers {
        let external = t.external.as_ref().unwrap();
        assert_eq!(external.location, "external.onnx.data");
        assert_eq!(t.stored_bytes, 0);
        assert_eq!(external.length, t.n_bytes);
        end = end.max(external.offset.unwrap() + external.length.unwrap());
    }
    assert!(end <= data_len);
    assert!(model.unsafe_external_paths().is_empty());
}

#[test]
fn external_data_escaping_the_directory() {
    let model = check("malicious", "external_traversal.onnx");
    assert_eq!(
        model.unsafe_external_paths(),
        [
            "../../etc/passwd",
            "/etc/passwd",
            "..\\..\\windows\\win.ini"
        ]
    );
    assert_eq!(model.other_tensors[0].origin, TensorOrigin::Attribute);
}

#[test]
fn malformed_models_are_errors() {
    for name in models("err") {
        let bytes = read("err", &name);
        let err = OnnxModel::parse(&bytes).unwrap_err();
        let expected = match name.as_str() {
            "bad_varint.onnx" => matches!(err, Error::BadVarint { offset: 1, .. }),
            "bad_wire_type.onnx" => matches!(
                err,
                Error::BadTag {
                    offset: 2,
                    tag: 0x3f,
                    ..
                }
            ),
            "dims_overflow.onnx" => {
                matches!(&err, Error::InvalidTensor { name, .. } if name == "fc1.bias")
            }
            "length_past_end.onnx" => {
                matches!(
                    err,
                    Error::Truncated {
                        offset: 2,
                        field: "ModelProto"
                    }
                )
            }
            "missing_graph.onnx" => matches!(err, Error::MissingField { field: "graph" }),
            "negative_dim.onnx" => {
                matches!(&err, Error::InvalidTensor { name, message, .. } if name == "fc1.weight" && message == "negative dim -4")
            }
            "too_deep.onnx" => matches!(err, Error::TooDeep { limit: 32, .. }),
            "truncated.onnx" => matches!(err, Error::Truncated { .. }),
            other => panic!("no expectation for {other}"),
        };
        assert!(expected, "{name}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
}

/// Every prefix that cuts into the graph is an error; a prefix that ends
/// on a field boundary after it is a smaller valid model, never the full one.
#[test]
fn every_truncation_is_an_error_or_a_smaller_model() {
    for name in ["mlp.onnx", "custom.onnx", "dtypes.onnx"] {
        let bytes = read("ok", name);
        let full = OnnxModel::parse(&bytes).unwrap();
        let graph_end = graph_end(&bytes);
        for len in 0..bytes.len() {
            match OnnxModel::parse(&bytes[..len]) {
                Err(_) => {}
                Ok(model) => {
                    assert!(len >= graph_end, "{name}: prefix {len} parsed");
                    assert_ne!(model, full, "{name}: prefix {len}");
                }
            }
        }
    }
}

/// End of the top-level graph field (7), by walking the top-level tags.
fn graph_end(bytes: &[u8]) -> usize {
    let mut pos = 0;
    let varint = |pos: &mut usize| {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = bytes[*pos];
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                return v;
            }
        }
    };
    loop {
        let tag = varint(&mut pos);
        match tag & 7 {
            0 => {
                varint(&mut pos);
            }
            2 => {
                let len = varint(&mut pos) as usize;
                pos += len;
                if tag >> 3 == 7 {
                    return pos;
                }
            }
            _ => panic!("unexpected wire type"),
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    // Deterministic single-byte corruptions of every position.
    let bytes = read("ok", "custom.onnx");
    for pos in 0..bytes.len() {
        for value in [0x00, 0x7f, 0x80, 0xff, 0x3f, 0x0b, 0x0c] {
            let mut corrupted = bytes.clone();
            corrupted[pos] = value;
            let _ = OnnxModel::parse(&corrupted);
            let _ = looks_like_onnx(&corrupted);
        }
    }
}

#[test]
fn sniffing() {
    for name in models("ok") {
        let bytes = read("ok", &name);
        assert!(looks_like_onnx(&bytes[..bytes.len().min(64)]), "{name}");
    }
    assert!(!looks_like_onnx(b""));
    assert!(!looks_like_onnx(b"\x08"));
    assert!(!looks_like_onnx(b"GGUF\x03\x00\x00\x00"));
    assert!(!looks_like_onnx(b"\x08\x08\x10\x01")); // field 2 as a varint
    assert!(!looks_like_onnx(&read("err", "missing_graph.onnx")));
    assert!(!looks_like_onnx(b"PK\x03\x04\x08\x08"));
}
