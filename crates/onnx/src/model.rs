//! Decoding the subset of `onnx.proto` that [`OnnxModel`] reports.
//!
//! Field numbers are those of `onnx.proto` (onnx 1.23). Unknown fields and
//! known fields with an unexpected wire type are skipped, as protobuf does.

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::{Field, Reader, repeated_int64};
use crate::{
    Dim, Error, ExternalData, Initializer, MAX_DIMS, MAX_ENTRIES, MAX_GRAPH_DEPTH, MAX_MODEL_BYTES,
    MAX_NODES, MAX_TENSORS, OnnxModel, OpsetImport, TensorOrigin, ValueInfo,
};

/// Domains whose operators ship with every ONNX runtime.
const STANDARD_DOMAINS: [&str; 5] = [
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
];

/// `TensorProto.DataType` code → (name, bits per element; 0 = variable).
pub(crate) fn data_type(code: i32) -> Option<(&'static str, u64)> {
    Some(match code {
        0 => ("UNDEFINED", 0),
        1 => ("FLOAT", 32),
        2 => ("UINT8", 8),
        3 => ("INT8", 8),
        4 => ("UINT16", 16),
        5 => ("INT16", 16),
        6 => ("INT32", 32),
        7 => ("INT64", 64),
        8 => ("STRING", 0),
        9 => ("BOOL", 8),
        10 => ("FLOAT16", 16),
        11 => ("DOUBLE", 64),
        12 => ("UINT32", 32),
        13 => ("UINT64", 64),
        14 => ("COMPLEX64", 64),
        15 => ("COMPLEX128", 128),
        16 => ("BFLOAT16", 16),
        17 => ("FLOAT8E4M3FN", 8),
        18 => ("FLOAT8E4M3FNUZ", 8),
        19 => ("FLOAT8E5M2", 8),
        20 => ("FLOAT8E5M2FNUZ", 8),
        21 => ("UINT4", 4),
        22 => ("INT4", 4),
        23 => ("FLOAT4E2M1", 4),
        24 => ("FLOAT8E8M0", 8),
        25 => ("UINT2", 2),
        26 => ("INT2", 2),
        27 => ("FLOAT6E2M3", 6),
        28 => ("FLOAT6E3M2", 6),
        _ => return None,
    })
}

fn data_type_string(code: i32) -> String {
    data_type(code).map_or_else(|| format!("DATA_TYPE_{code}"), |(name, _)| name.to_string())
}

fn too_many(what: impl Into<String>, offset: u64, limit: usize) -> Error {
    Error::TooMany {
        what: what.into(),
        offset,
        limit: u64::try_from(limit).unwrap_or(u64::MAX),
    }
}

/// Push onto a capped list.
fn push_capped<T>(
    list: &mut Vec<T>,
    item: T,
    what: &'static str,
    offset: u64,
    limit: usize,
) -> Result<(), Error> {
    if list.len() >= limit {
        return Err(too_many(what, offset, limit));
    }
    list.push(item);
    Ok(())
}

/// State shared by the walk over graphs, subgraphs and functions.
#[derive(Default)]
struct Walk {
    n_tensors: usize,
    n_nodes_total: u64,
    n_graph_nodes: u64,
    op_types: BTreeMap<(String, String), u64>,
    domains: BTreeSet<String>,
    other_tensors: Vec<Initializer>,
}

impl Walk {
    fn count_tensor(&mut self, offset: u64) -> Result<(), Error> {
        if self.n_tensors >= MAX_TENSORS {
            return Err(too_many("tensors", offset, MAX_TENSORS));
        }
        self.n_tensors += 1;
        Ok(())
    }

    fn note_domain(&mut self, domain: &str, offset: u64) -> Result<(), Error> {
        if !STANDARD_DOMAINS.contains(&domain) && !self.domains.contains(domain) {
            if self.domains.len() >= MAX_ENTRIES {
                return Err(too_many("operator domains", offset, MAX_ENTRIES));
            }
            self.domains.insert(domain.to_string());
        }
        Ok(())
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<OnnxModel, Error> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > MAX_MODEL_BYTES {
        return Err(Error::TooLarge {
            size,
            limit: MAX_MODEL_BYTES,
        });
    }
    let mut model = OnnxModel::default();
    let mut walk = Walk::default();
    let mut seen_ir_version = false;
    let mut seen_graph = false;
    let mut reader = Reader::new(bytes, 0);
    const CONTEXT: &str = "ModelProto";
    while let Some(field) = reader.next(CONTEXT)? {
        match field.number {
            1 => {
                if let Some(v) = field.int64() {
                    model.ir_version = v;
                    seen_ir_version = true;
                }
            }
            2 => set_string(&mut model.producer_name, &field),
            3 => set_string(&mut model.producer_version, &field),
            4 => set_string(&mut model.domain, &field),
            5 => {
                if let Some(v) = field.int64() {
                    model.model_version = v;
                }
            }
            6 => set_string(&mut model.doc_string, &field),
            7 => {
                if let Some(graph) = field.message() {
                    seen_graph = true;
                    parse_graph(graph, 0, Some(&mut model), &mut walk)?;
                }
            }
            8 => {
                if let Some(opset) = field.message() {
                    let opset = parse_opset(opset)?;
                    walk.note_domain(&opset.domain, field.offset)?;
                    push_capped(
                        &mut model.opset_imports,
                        opset,
                        "opset imports",
                        field.offset,
                        MAX_ENTRIES,
                    )?;
                }
            }
            14 => {
                if let Some(entry) = field.message() {
                    let entry = parse_string_entry(entry)?;
                    push_capped(
                        &mut model.metadata_props,
                        entry,
                        "metadata_props",
                        field.offset,
                        MAX_ENTRIES,
                    )?;
                }
            }
            20 => model.has_training_info = true,
            25 => {
                if let Some(function) = field.message() {
                    let function = parse_function(function, &mut walk)?;
                    push_capped(
                        &mut model.functions,
                        function,
                        "functions",
                        field.offset,
                        MAX_ENTRIES,
                    )?;
                }
            }
            _ => {}
        }
    }
    if !seen_ir_version {
        return Err(Error::MissingField {
            field: "ir_version",
        });
    }
    if !seen_graph {
        return Err(Error::MissingField { field: "graph" });
    }
    model.n_nodes = walk.n_graph_nodes;
    model.op_types = walk
        .op_types
        .into_iter()
        .map(|((domain, op_type), count)| (domain, op_type, count))
        .collect();
    model.custom_domains = walk.domains.into_iter().collect();
    model.other_tensors = walk.other_tensors;
    Ok(model)
}

fn set_string(target: &mut String, field: &Field<'_>) {
    if let Some(s) = field.string() {
        *target = s;
    }
}

fn parse_opset(mut reader: Reader<'_>) -> Result<OpsetImport, Error> {
    let mut opset = OpsetImport {
        domain: String::new(),
        version: 0,
    };
    while let Some(field) = reader.next("OperatorSetIdProto")? {
        match field.number {
            1 => set_string(&mut opset.domain, &field),
            2 => {
                if let Some(v) = field.int64() {
                    opset.version = v;
                }
            }
            _ => {}
        }
    }
    Ok(opset)
}

fn parse_string_entry(mut reader: Reader<'_>) -> Result<(String, String), Error> {
    let (mut key, mut value) = (String::new(), String::new());
    while let Some(field) = reader.next("StringStringEntryProto")? {
        match field.number {
            1 => set_string(&mut key, &field),
            2 => set_string(&mut value, &field),
            _ => {}
        }
    }
    Ok((key, value))
}

/// Read a graph. `top` is the model to fill for the main graph; subgraphs
/// (`top == None`) only contribute nodes and tensors to `walk`.
fn parse_graph(
    mut reader: Reader<'_>,
    depth: usize,
    mut top: Option<&mut OnnxModel>,
    walk: &mut Walk,
) -> Result<(), Error> {
    const CONTEXT: &str = "GraphProto";
    while let Some(field) = reader.next(CONTEXT)? {
        match (field.number, top.as_deref_mut()) {
            (1, _) => {
                if let Some(node) = field.message() {
                    parse_node(node, field.offset, depth, walk, true)?;
                }
            }
            (2, Some(model)) => set_string(&mut model.graph_name, &field),
            (5, top) => {
                if let Some(tensor) = field.message() {
                    walk.count_tensor(field.offset)?;
                    match top {
                        Some(model) => {
                            let tensor =
                                parse_tensor(tensor, field.offset, TensorOrigin::Initializer)?;
                            model.initializers.push(tensor);
                        }
                        None => {
                            let tensor = parse_tensor(
                                tensor,
                                field.offset,
                                TensorOrigin::SubgraphInitializer,
                            )?;
                            walk.other_tensors.push(tensor);
                        }
                    }
                }
            }
            (15, _) => {
                if let Some(sparse) = field.message() {
                    parse_sparse_tensor(sparse, TensorOrigin::SparseInitializer, walk)?;
                }
            }
            (11, Some(model)) => {
                if let Some(value) = field.message() {
                    let value = parse_value_info(value)?;
                    push_capped(
                        &mut model.inputs,
                        value,
                        "graph inputs",
                        field.offset,
                        MAX_ENTRIES,
                    )?;
                }
            }
            (12, Some(model)) => {
                if let Some(value) = field.message() {
                    let value = parse_value_info(value)?;
                    push_capped(
                        &mut model.outputs,
                        value,
                        "graph outputs",
                        field.offset,
                        MAX_ENTRIES,
                    )?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Read a node; `in_graph` is false for function bodies, whose nodes only
/// contribute domains.
fn parse_node(
    mut reader: Reader<'_>,
    offset: u64,
    depth: usize,
    walk: &mut Walk,
    in_graph: bool,
) -> Result<(), Error> {
    if walk.n_nodes_total >= MAX_NODES {
        return Err(too_many(
            "nodes",
            offset,
            usize::try_from(MAX_NODES).unwrap_or(usize::MAX),
        ));
    }
    walk.n_nodes_total += 1;
    let mut op_type: &[u8] = b"";
    let mut domain: &[u8] = b"";
    while let Some(field) = reader.next("NodeProto")? {
        match field.number {
            4 => {
                if let Some((b, _)) = field.bytes() {
                    op_type = b;
                }
            }
            7 => {
                if let Some((b, _)) = field.bytes() {
                    domain = b;
                }
            }
            5 => {
                if let Some(attribute) = field.message() {
                    parse_attribute(attribute, depth, walk)?;
                }
            }
            _ => {}
        }
    }
    let domain = String::from_utf8_lossy(domain);
    walk.note_domain(&domain, offset)?;
    if in_graph {
        walk.n_graph_nodes += 1;
        let key = (
            domain.into_owned(),
            String::from_utf8_lossy(op_type).into_owned(),
        );
        match walk.op_types.get_mut(&key) {
            Some(count) => *count += 1,
            None => {
                if walk.op_types.len() >= MAX_ENTRIES {
                    return Err(too_many("distinct operators", offset, MAX_ENTRIES));
                }
                walk.op_types.insert(key, 1);
            }
        }
    }
    Ok(())
}

fn parse_attribute(mut reader: Reader<'_>, depth: usize, walk: &mut Walk) -> Result<(), Error> {
    while let Some(field) = reader.next("AttributeProto")? {
        match field.number {
            // t, tensors
            5 | 10 => {
                if let Some(tensor) = field.message() {
                    walk.count_tensor(field.offset)?;
                    let tensor = parse_tensor(tensor, field.offset, TensorOrigin::Attribute)?;
                    walk.other_tensors.push(tensor);
                }
            }
            // g, graphs
            6 | 11 => {
                if let Some(graph) = field.message() {
                    if depth + 1 > MAX_GRAPH_DEPTH {
                        return Err(Error::TooDeep {
                            offset: field.offset,
                            limit: MAX_GRAPH_DEPTH,
                        });
                    }
                    parse_graph(graph, depth + 1, None, walk)?;
                }
            }
            // sparse_tensor, sparse_tensors
            22 | 23 => {
                if let Some(sparse) = field.message() {
                    parse_sparse_tensor(sparse, TensorOrigin::Attribute, walk)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_sparse_tensor(
    mut reader: Reader<'_>,
    origin: TensorOrigin,
    walk: &mut Walk,
) -> Result<(), Error> {
    while let Some(field) = reader.next("SparseTensorProto")? {
        if let (1 | 2, Some(tensor)) = (field.number, field.message()) {
            walk.count_tensor(field.offset)?;
            let tensor = parse_tensor(tensor, field.offset, origin)?;
            walk.other_tensors.push(tensor);
        }
    }
    Ok(())
}

fn parse_function(mut reader: Reader<'_>, walk: &mut Walk) -> Result<(String, String), Error> {
    let (mut name, mut domain) = (String::new(), String::new());
    while let Some(field) = reader.next("FunctionProto")? {
        match field.number {
            1 => set_string(&mut name, &field),
            10 => set_string(&mut domain, &field),
            7 => {
                if let Some(node) = field.message() {
                    parse_node(node, field.offset, 0, walk, false)?;
                }
            }
            9 => {
                if let Some(opset) = field.message() {
                    let opset = parse_opset(opset)?;
                    walk.note_domain(&opset.domain, field.offset)?;
                }
            }
            _ => {}
        }
    }
    Ok((domain, name))
}

fn parse_tensor(
    mut reader: Reader<'_>,
    offset: u64,
    origin: TensorOrigin,
) -> Result<Initializer, Error> {
    const CONTEXT: &str = "TensorProto";
    let mut name = String::new();
    let mut dims: Vec<i64> = Vec::new();
    let mut too_many_dims = false;
    let mut data_type_id = 0i32;
    let mut stored_bytes = 0u64;
    let mut data_location_external = false;
    let mut entries: Vec<(String, String)> = Vec::new();
    while let Some(field) = reader.next(CONTEXT)? {
        match field.number {
            1 => repeated_int64(&field, CONTEXT, |d| {
                if dims.len() >= MAX_DIMS {
                    too_many_dims = true;
                } else {
                    dims.push(d);
                }
                Ok(())
            })?,
            2 => {
                if let Some(v) = field.int32() {
                    data_type_id = v;
                }
            }
            // float_data, int32_data, string_data, int64_data, raw_data, double_data, uint64_data
            4 | 5 | 6 | 7 | 9 | 10 | 11 => {
                stored_bytes = stored_bytes.saturating_add(field.value_len());
            }
            8 => set_string(&mut name, &field),
            13 => {
                if let Some(entry) = field.message() {
                    let entry = parse_string_entry(entry)?;
                    push_capped(
                        &mut entries,
                        entry,
                        "external_data entries",
                        field.offset,
                        MAX_ENTRIES,
                    )?;
                }
            }
            14 => data_location_external = field.int32() == Some(1),
            _ => {}
        }
    }
    let invalid = |message: String| Error::InvalidTensor {
        name: name.clone(),
        offset,
        message,
    };
    if too_many_dims {
        return Err(invalid(format!("more than {MAX_DIMS} dims")));
    }
    let dims: Vec<u64> = dims
        .iter()
        .map(|&d| u64::try_from(d).map_err(|_| invalid(format!("negative dim {d}"))))
        .collect::<Result<_, _>>()?;
    let n_elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| invalid(format!("element count of dims {dims:?} overflows 64 bits")))?;
    let n_bytes = match data_type(data_type_id) {
        Some((_, bits)) if bits > 0 => Some(
            n_elements
                .checked_mul(bits)
                .map(|b| b.div_ceil(8))
                .ok_or_else(|| invalid(format!("byte size of dims {dims:?} overflows 64 bits")))?,
        ),
        _ => None,
    };
    let external = (data_location_external || !entries.is_empty()).then(|| {
        let get = |key: &str| {
            entries
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        ExternalData {
            location: get("location").unwrap_or_default(),
            offset: get("offset").and_then(|v| v.trim().parse().ok()),
            length: get("length").and_then(|v| v.trim().parse().ok()),
            checksum: get("checksum"),
            entries: entries.clone(),
        }
    });
    Ok(Initializer {
        data_type: data_type_string(data_type_id),
        data_type_id,
        dims,
        n_elements,
        n_bytes,
        stored_bytes,
        external,
        origin,
        name,
    })
}

fn parse_value_info(mut reader: Reader<'_>) -> Result<ValueInfo, Error> {
    let mut value = ValueInfo {
        name: String::new(),
        type_kind: "",
        elem_type: None,
        shape: Vec::new(),
    };
    while let Some(field) = reader.next("ValueInfoProto")? {
        match field.number {
            1 => set_string(&mut value.name, &field),
            2 => {
                if let Some(type_proto) = field.message() {
                    parse_type(type_proto, &mut value)?;
                }
            }
            _ => {}
        }
    }
    Ok(value)
}

fn parse_type(mut reader: Reader<'_>, value: &mut ValueInfo) -> Result<(), Error> {
    while let Some(field) = reader.next("TypeProto")? {
        let (kind, tensor_like) = match field.number {
            1 => ("tensor", true),
            8 => ("sparse_tensor", true),
            4 => ("sequence", false),
            5 => ("map", false),
            9 => ("optional", false),
            7 => ("opaque", false),
            _ => continue,
        };
        let Some(mut inner) = field.message() else {
            continue;
        };
        value.type_kind = kind;
        if !tensor_like {
            continue;
        }
        while let Some(field) = inner.next("TypeProto.Tensor")? {
            match field.number {
                1 => {
                    if let Some(code) = field.int32() {
                        value.elem_type = Some(data_type_string(code));
                    }
                }
                2 => {
                    if let Some(shape) = field.message() {
                        value.shape.clear();
                        parse_shape(shape, &mut value.shape)?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn parse_shape(mut reader: Reader<'_>, shape: &mut Vec<Dim>) -> Result<(), Error> {
    while let Some(field) = reader.next("TensorShapeProto")? {
        if field.number != 1 {
            continue;
        }
        let Some(mut dim_reader) = field.message() else {
            continue;
        };
        let mut dim = Dim::Unknown;
        while let Some(field) = dim_reader.next("TensorShapeProto.Dimension")? {
            match field.number {
                1 => {
                    if let Some(v) = field.int64() {
                        dim = Dim::Value(v);
                    }
                }
                2 => {
                    if let Some(s) = field.string() {
                        dim = Dim::Param(s);
                    }
                }
                _ => {}
            }
        }
        push_capped(
            shape,
            dim,
            "dims of a value's shape",
            field.offset,
            MAX_DIMS,
        )?;
    }
    Ok(())
}

/// Whether `bytes` starts like a serialized ONNX `ModelProto`: field 1
/// (`ir_version`, a small varint) first, then only `ModelProto` fields with
/// their proper wire types until the `graph` (7) or `opset_import` (8) field
/// is seen within the first 64 fields. Cheap: payloads are skipped, nothing
/// is decoded.
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    const MAX_FIELDS: usize = 64;
    let mut reader = Reader::new(bytes, 0);
    // ir_version first; versions are 1..=13 today.
    match reader.next("ModelProto") {
        Ok(Some(field)) if field.number == 1 => {
            if !field.varint().is_some_and(|v| (1..=100).contains(&v)) {
                return false;
            }
        }
        _ => return false,
    }
    for _ in 0..MAX_FIELDS {
        // graph or opset_import as a length-delimited field: enough, even
        // when `bytes` is only the start of the file.
        let mut peek = reader.clone();
        if matches!(peek.varint("ModelProto"), Ok(0x3a | 0x42)) {
            return true;
        }
        let Ok(Some(field)) = reader.next("ModelProto") else {
            return false;
        };
        let varint = field.varint().is_some();
        let bytes = field.bytes().is_some();
        match field.number {
            5 if varint => {}
            2 | 3 | 4 | 6 | 14 | 20 | 25 | 26 if bytes => {}
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn delimited(field: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(field << 3 | 2, &mut out);
        varint(payload.len() as u64, &mut out);
        out.extend_from_slice(payload);
        out
    }

    /// ir_version 9 and a graph holding `graph_fields`.
    fn model(graph_fields: &[u8]) -> Vec<u8> {
        let mut out = vec![0x08, 0x09];
        out.extend(delimited(7, graph_fields));
        out
    }

    #[test]
    fn tensor_caps_and_codes() {
        // 300 packed dims of 1 → more than MAX_DIMS.
        let mut tensor = delimited(1, &[1u8; 300]);
        tensor.extend(delimited(8, b"wide"));
        let err = parse(&model(&delimited(5, &tensor))).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidTensor { name, message, .. } if name == "wide" && message == "more than 256 dims"),
            "{err:?}"
        );
        // Unpacked dims, an unknown data type, raw_data counted not copied.
        let mut tensor = vec![0x08, 0x02, 0x08, 0x03, 0x10, 0x63];
        tensor.extend(delimited(9, &[7u8; 40]));
        let parsed = parse(&model(&delimited(5, &tensor))).unwrap();
        let t = &parsed.initializers[0];
        assert_eq!(t.dims, [2, 3]);
        assert_eq!(t.data_type, "DATA_TYPE_99");
        assert_eq!((t.n_bytes, t.stored_bytes), (None, 40));
    }

    #[test]
    fn unknown_fields_groups_and_wire_type_mismatches_are_skipped() {
        let mut bytes = model(&delimited(2, b"g"));
        // Field 99 as a group holding a varint; field 2 (producer_name) as a
        // varint instead of a string; field 5 as fixed32 and fixed64.
        bytes.extend([0x9b, 0x06, 0x08, 0x01, 0x9c, 0x06]);
        bytes.extend([0x10, 0x05]);
        bytes.extend([0x2d, 1, 2, 3, 4, 0x29, 1, 2, 3, 4, 5, 6, 7, 8]);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.graph_name, "g");
        assert_eq!(parsed.producer_name, "");
        assert_eq!(parsed.model_version, 0);
    }

    #[test]
    fn value_shape_cap() {
        let mut shape = Vec::new();
        for _ in 0..=MAX_DIMS {
            shape.extend(delimited(1, &[0x08, 0x01]));
        }
        let tensor_type = [delimited(2, &shape), vec![0x08, 0x01]].concat();
        let value = delimited(2, &delimited(1, &tensor_type));
        let err = parse(&model(&delimited(11, &value))).unwrap_err();
        assert!(matches!(err, Error::TooMany { limit: 256, .. }), "{err:?}");
    }

    #[test]
    fn size_cap_and_missing_fields() {
        assert!(matches!(
            parse(&[]),
            Err(Error::MissingField {
                field: "ir_version"
            })
        ));
        assert!(matches!(
            parse(&delimited(7, b"")),
            Err(Error::MissingField {
                field: "ir_version"
            })
        ));
        // Zeroed pages are never touched: the size is checked first.
        let huge = vec![0u8; usize::try_from(MAX_MODEL_BYTES + 1).unwrap()];
        assert!(matches!(
            parse(&huge),
            Err(Error::TooLarge {
                size: 2_147_483_648,
                ..
            })
        ));
        assert_eq!(data_type_string(16), "BFLOAT16");
        assert_eq!(crate::data_type_name(28), Some("FLOAT6E3M2"));
    }
}
