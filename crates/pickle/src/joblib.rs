//! joblib's `NumpyArrayWrapper`: the array data `joblib.dump` writes
//! into the pickle stream, located from the wrapper's state.

use crate::Error;
use crate::machine::*;
use crate::vm::{NodeId, Value};

/// A NumPy array whose raw bytes `joblib.dump` wrote into the pickle stream
/// after its `NumpyArrayWrapper`, stepped over by [`evaluate_stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBuffer {
    /// Offset of the `BUILD` that completed the wrapper.
    pub pos: u64,
    /// Offset of the first byte of the array data (after alignment padding).
    pub data_offset: u64,
    /// Bytes of array data stepped over.
    pub len: u64,
    /// The dtype, as NumPy spells it (`<f8`).
    pub dtype: String,
    /// The shape.
    pub shape: Vec<u64>,
    /// Whether the array holds Python objects: then a further pickle
    /// follows instead of raw bytes, evaluated as an embedded pickle.
    pub object: bool,
}

/// Step over one array's padding and data; the position after it.
pub(crate) fn skip_array(
    bytes: &[u8],
    pos: usize,
    mut buffer: RawBuffer,
    buffers: &mut Vec<RawBuffer>,
) -> Result<usize, Error> {
    let truncated = |needed: u64, at: usize| Error::Truncated {
        offset: to_u64(at),
        opcode: "joblib array data",
        needed,
        available: to_u64(bytes.len().saturating_sub(at)),
    };
    let mut at = pos;
    if buffer.data_offset == u64::MAX {
        // joblib ≥ 1.2 writes one byte giving the padding length, then that
        // many 0xff bytes, so the data starts aligned.
        let padding = *bytes.get(at).ok_or_else(|| truncated(1, at))?;
        let padding = usize::from(padding);
        let pad = bytes
            .get(at + 1..at + 1 + padding)
            .ok_or_else(|| truncated(to_u64(padding + 1), at))?;
        if pad.iter().any(|b| *b != 0xff) {
            return Err(Error::BadArgument {
                offset: to_u64(at),
                opcode: "joblib array data",
                message: "array padding is not 0xff bytes as joblib writes it".to_string(),
            });
        }
        at += 1 + padding;
    }
    buffer.data_offset = to_u64(at);
    let len = usize::try_from(buffer.len).map_err(|_| truncated(buffer.len, at))?;
    let end = at
        .checked_add(len)
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| truncated(buffer.len, at))?;
    buffers.push(buffer);
    Ok(end)
}

/// The numbers of a tuple of integers (a shape).
pub(crate) fn int_tuple(m: &Machine<'_>, id: NodeId) -> Option<Vec<u64>> {
    match m.value(id)? {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match m.value(*i) {
                Some(Value::Int(v)) => u64::try_from(*v).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `dict[key]` for a dict with string keys.
pub(crate) fn dict_get(m: &Machine<'_>, dict: NodeId, key: &str) -> Option<NodeId> {
    match m.value(dict)? {
        Value::Dict(pairs) => pairs
            .iter()
            .find(|(k, _)| m.str_of(*k) == Some(key))
            .map(|(_, v)| *v),
        _ => None,
    }
}

/// Item size and whether it holds objects, for a `numpy.dtype(...)` call
/// with its `BUILD` state, as NumPy pickles dtypes.
pub(crate) fn numpy_dtype(m: &Machine<'_>, id: NodeId) -> Option<(String, u64, bool)> {
    let Value::Call {
        callable,
        args,
        state,
        ..
    } = m.value(id)?
    else {
        return None;
    };
    match m.value(*callable)? {
        Value::Global { module, name, .. }
            if name == "dtype" && (module == "numpy" || module.starts_with("numpy.")) => {}
        _ => return None,
    }
    let Value::Tuple(args) = m.value(*args)? else {
        return None;
    };
    let code = m.str_of(*args.first()?)?.to_string();
    // State: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
    let state = state.and_then(|s| match m.value(s) {
        Some(Value::Tuple(items)) => Some(items.clone()),
        _ => None,
    });
    let int_at = |i: usize| -> Option<i64> {
        match m.value(*state.as_ref()?.get(i)?)? {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    };
    let byteorder = state
        .as_ref()
        .and_then(|s| s.get(1))
        .and_then(|b| m.str_of(*b))
        .unwrap_or("|");
    let flags = int_at(7).unwrap_or(0);
    let object = code.starts_with('O') || flags & 1 != 0;
    let size = match int_at(5).and_then(|e| u64::try_from(e).ok()) {
        Some(elsize) if elsize > 0 => elsize,
        _ => itemsize(&code)?,
    };
    Some((format!("{byteorder}{code}"), size, object))
}

/// The item size NumPy gives a dtype code (`f8`, `i4`, `c16`, `b1`, `M8`).
pub(crate) fn itemsize(code: &str) -> Option<u64> {
    let code = code.trim_start_matches(['<', '>', '|', '=']);
    let mut chars = code.chars();
    let kind = chars.next()?;
    let digits: String = chars.take_while(|c| c.is_ascii_digit()).collect();
    let n: Option<u64> = digits.parse().ok();
    match kind {
        'b' | '?' => Some(n.unwrap_or(1)),
        'i' | 'u' | 'f' | 'c' | 'M' | 'm' | 'S' | 'a' | 'V' => n,
        'U' => n.and_then(|chars| chars.checked_mul(4)),
        'O' => Some(8),
        _ => None,
    }
}

pub(crate) const JOBLIB_WRAPPERS: &[&str] = &[
    "joblib.numpy_pickle",
    "sklearn.externals.joblib.numpy_pickle",
];

/// When `target` is a joblib `NumpyArrayWrapper` given its state, the
/// array data that follows the `BUILD` in the stream.
pub(crate) fn joblib_array(
    m: &Machine<'_>,
    pos: u64,
    target: NodeId,
    state: NodeId,
) -> Option<Result<RawBuffer, Error>> {
    let Some(Value::Call { callable, .. }) = m.value(target) else {
        return None;
    };
    match m.value(*callable)? {
        Value::Global { module, name, .. }
            if name == "NumpyArrayWrapper" && JOBLIB_WRAPPERS.contains(&module.as_str()) => {}
        _ => return None,
    }
    let bad = |message: String| Error::BadStack {
        offset: pos,
        opcode: "BUILD",
        message,
    };
    let Some(shape) = dict_get(m, state, "shape").and_then(|s| int_tuple(m, s)) else {
        return Some(Err(bad("joblib NumpyArrayWrapper without a readable shape: its array data cannot be stepped over".to_string())));
    };
    let Some((dtype, size, object)) = dict_get(m, state, "dtype").and_then(|d| numpy_dtype(m, d))
    else {
        return Some(Err(bad("joblib NumpyArrayWrapper without a readable dtype: its array data cannot be stepped over".to_string())));
    };
    let count = shape.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d));
    let Some(len) = count.and_then(|c| c.checked_mul(size)) else {
        return Some(Err(bad(format!(
            "joblib array of shape {shape:?} and dtype {dtype} overflows"
        ))));
    };
    let aligned = dict_get(m, state, "numpy_array_alignment_bytes")
        .is_some_and(|a| !matches!(m.value(a), Some(Value::None)));
    Some(Ok(RawBuffer {
        pos,
        // Resolved by the driver: u64::MAX means "a padding byte comes first".
        data_offset: if aligned && !object { u64::MAX } else { 0 },
        len,
        dtype,
        shape,
        object,
    }))
}
