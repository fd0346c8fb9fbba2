//! Quantizing a GGUF model with llama.cpp's own quantizer.
//!
//! llama-cpp-2 has no safe binding for `llama_model_quantize`, so this is
//! the one module of the engine that calls the raw binding: the `unsafe`
//! blocks below hand llama.cpp two NUL-terminated paths and a parameter
//! struct that it only reads, and borrow its log callback for the length of
//! the call to report progress per tensor. Everything else in modelgate
//! stays safe (see `scripts/check-invariants.sh`).
//!
//! llama.cpp prints `[  12/ 272] blk.1.attn_q.weight - [...]` as it starts
//! each tensor; [`quantize`] turns those lines into [`TensorProgress`]
//! calls on the quantizing thread and passes every other line on to
//! `tracing`, where llama.cpp's logs go at all other times.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::thread::ThreadId;

use crate::EngineError;
use crate::engine::backend;

/// A quantization type llama.cpp's quantizer writes, named as
/// `llama-quantize` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum QuantType {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
    /// bfloat16.
    BF16,
    /// 8-bit, one scale per block of 32.
    Q8_0,
    /// 6-bit k-quant.
    Q6K,
    /// 5-bit k-quant, medium.
    Q5KM,
    /// 5-bit k-quant, small.
    Q5KS,
    /// 5-bit with a scale per block.
    Q5_0,
    /// 5-bit with a scale and a minimum per block.
    Q5_1,
    /// 4-bit k-quant, medium.
    Q4KM,
    /// 4-bit k-quant, small.
    Q4KS,
    /// 4-bit with a scale per block.
    Q4_0,
    /// 4-bit with a scale and a minimum per block.
    Q4_1,
    /// 3-bit k-quant, large.
    Q3KL,
    /// 3-bit k-quant, medium.
    Q3KM,
    /// 3-bit k-quant, small.
    Q3KS,
    /// 2-bit k-quant.
    Q2K,
}

impl QuantType {
    /// Every type, largest first.
    pub const ALL: [QuantType; 17] = [
        QuantType::F32,
        QuantType::F16,
        QuantType::BF16,
        QuantType::Q8_0,
        QuantType::Q6K,
        QuantType::Q5KM,
        QuantType::Q5KS,
        QuantType::Q5_1,
        QuantType::Q5_0,
        QuantType::Q4KM,
        QuantType::Q4KS,
        QuantType::Q4_1,
        QuantType::Q4_0,
        QuantType::Q3KL,
        QuantType::Q3KM,
        QuantType::Q3KS,
        QuantType::Q2K,
    ];

    /// The name `llama-quantize` takes (`Q4_K_M`).
    pub fn name(self) -> &'static str {
        match self {
            QuantType::F32 => "F32",
            QuantType::F16 => "F16",
            QuantType::BF16 => "BF16",
            QuantType::Q8_0 => "Q8_0",
            QuantType::Q6K => "Q6_K",
            QuantType::Q5KM => "Q5_K_M",
            QuantType::Q5KS => "Q5_K_S",
            QuantType::Q5_0 => "Q5_0",
            QuantType::Q5_1 => "Q5_1",
            QuantType::Q4KM => "Q4_K_M",
            QuantType::Q4KS => "Q4_K_S",
            QuantType::Q4_0 => "Q4_0",
            QuantType::Q4_1 => "Q4_1",
            QuantType::Q3KL => "Q3_K_L",
            QuantType::Q3KM => "Q3_K_M",
            QuantType::Q3KS => "Q3_K_S",
            QuantType::Q2K => "Q2_K",
        }
    }

    /// llama.cpp's `llama_ftype` number for it.
    fn ftype(self) -> llama_cpp_sys_2::llama_ftype {
        use llama_cpp_sys_2 as sys;
        match self {
            QuantType::F32 => sys::LLAMA_FTYPE_ALL_F32,
            QuantType::F16 => sys::LLAMA_FTYPE_MOSTLY_F16,
            QuantType::BF16 => sys::LLAMA_FTYPE_MOSTLY_BF16,
            QuantType::Q8_0 => sys::LLAMA_FTYPE_MOSTLY_Q8_0,
            QuantType::Q6K => sys::LLAMA_FTYPE_MOSTLY_Q6_K,
            QuantType::Q5KM => sys::LLAMA_FTYPE_MOSTLY_Q5_K_M,
            QuantType::Q5KS => sys::LLAMA_FTYPE_MOSTLY_Q5_K_S,
            QuantType::Q5_0 => sys::LLAMA_FTYPE_MOSTLY_Q5_0,
            QuantType::Q5_1 => sys::LLAMA_FTYPE_MOSTLY_Q5_1,
            QuantType::Q4KM => sys::LLAMA_FTYPE_MOSTLY_Q4_K_M,
            QuantType::Q4KS => sys::LLAMA_FTYPE_MOSTLY_Q4_K_S,
            QuantType::Q4_0 => sys::LLAMA_FTYPE_MOSTLY_Q4_0,
            QuantType::Q4_1 => sys::LLAMA_FTYPE_MOSTLY_Q4_1,
            QuantType::Q3KL => sys::LLAMA_FTYPE_MOSTLY_Q3_K_L,
            QuantType::Q3KM => sys::LLAMA_FTYPE_MOSTLY_Q3_K_M,
            QuantType::Q3KS => sys::LLAMA_FTYPE_MOSTLY_Q3_K_S,
            QuantType::Q2K => sys::LLAMA_FTYPE_MOSTLY_Q2_K,
        }
    }
}

impl fmt::Display for QuantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a quantization type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quantization type {given:?}; expected one of {}", QuantType::ALL.map(QuantType::name).join(", "))]
pub struct UnknownQuantType {
    /// What was given.
    pub given: String,
}

impl FromStr for QuantType {
    type Err = UnknownQuantType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QuantType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownQuantType { given: s.into() })
    }
}

/// How to quantize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantizeOptions {
    /// The type to write.
    pub to: QuantType,
    /// Quantize tensors that are already quantized (their precision is
    /// lost for good; llama.cpp refuses unless asked).
    pub allow_requantize: bool,
    /// Threads (0: all cores).
    pub threads: u32,
}

/// llama.cpp has started one tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorProgress {
    /// 1-based index of the tensor.
    pub index: usize,
    /// Tensors in the model.
    pub total: usize,
    /// The tensor's name.
    pub name: String,
}

/// Only one quantization borrows llama.cpp's log callback at a time.
static QUANTIZING: Mutex<()> = Mutex::new(());

struct Listener<'a> {
    thread: ThreadId,
    progress: &'a mut dyn FnMut(TensorProgress),
    /// The last error-level line, for the error message.
    last_error: String,
    /// Text of a line still being written in pieces.
    line: String,
}

/// Quantizes `input` into `output` (which is overwritten) with llama.cpp's
/// quantizer, calling `progress` as each tensor starts.
pub fn quantize(
    input: &Path,
    output: &Path,
    options: QuantizeOptions,
    progress: &mut dyn FnMut(TensorProgress),
) -> Result<(), EngineError> {
    backend()?;
    let failed = |reason: String| EngineError::Quantize {
        path: input.to_owned(),
        to: options.to.name(),
        reason,
    };
    let c_path = |p: &Path| {
        CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| failed(format!("{} has a NUL byte in its path", p.display())))
    };
    let (c_input, c_output) = (c_path(input)?, c_path(output)?);
    let _guard = QUANTIZING.lock().unwrap_or_else(|e| e.into_inner());
    let mut listener = Listener {
        thread: std::thread::current().id(),
        progress,
        last_error: String::new(),
        line: String::new(),
    };
    // SAFETY: `llama_model_quantize_default_params` returns a plain struct
    // by value. The paths are NUL-terminated and outlive the call, and
    // llama.cpp only reads them and `params`. The log callback is handed a
    // pointer to `listener`, which lives on this stack frame until after the
    // callback is put back (under `QUANTIZING`, so no other quantization
    // swaps it meanwhile); `on_log` touches the listener only from this
    // thread.
    let code = unsafe {
        let mut params = llama_cpp_sys_2::llama_model_quantize_default_params();
        params.nthread = i32::try_from(options.threads).unwrap_or(0);
        params.ftype = options.to.ftype();
        params.allow_requantize = options.allow_requantize;
        llama_cpp_sys_2::llama_log_set(
            Some(on_log),
            std::ptr::from_mut(&mut listener).cast::<c_void>(),
        );
        let code =
            llama_cpp_sys_2::llama_model_quantize(c_input.as_ptr(), c_output.as_ptr(), &params);
        llama_cpp_sys_2::llama_log_set(None, std::ptr::null_mut());
        code
    };
    // llama.cpp's logs go back to tracing, where the engine sends them.
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
    if code == 0 {
        Ok(())
    } else if listener.last_error.is_empty() {
        Err(failed(format!("llama.cpp returned {code}")))
    } else {
        Err(failed(listener.last_error.trim().to_owned()))
    }
}

/// llama.cpp's log callback while quantizing.
unsafe extern "C" fn on_log(
    level: llama_cpp_sys_2::ggml_log_level,
    text: *const c_char,
    user_data: *mut c_void,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    if user_data.is_null() {
        return;
    }
    let listener = user_data.cast::<Listener<'_>>();
    // SAFETY: `user_data` is the `Listener` that `quantize` registered and
    // keeps alive until it unregisters this callback. Its `thread` is never
    // written after registration, so any thread may read it through the raw
    // pointer; only the registering thread goes on to borrow the listener.
    let thread = unsafe { std::ptr::addr_of!((*listener).thread).read() };
    if std::thread::current().id() != thread {
        tracing::debug!(target: "llama.cpp", "{}", text.trim_end());
        return;
    }
    // SAFETY: as above; this is the registering thread, which is inside
    // `llama_model_quantize` and holds no other reference to the listener.
    let listener = unsafe { &mut *listener };
    if level == llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR {
        listener.last_error.push_str(&text);
    }
    if let Some(p) = parse_progress(&text) {
        (listener.progress)(p);
    }
    listener.line.push_str(&text);
    if listener.line.ends_with('\n') {
        tracing::debug!(target: "llama.cpp", "{}", listener.line.trim_end());
        listener.line.clear();
    }
}

/// `[  12/ 272] blk.1.attn_q.weight - [...]` → tensor 12 of 272.
fn parse_progress(text: &str) -> Option<TensorProgress> {
    let rest = text.trim_start().strip_prefix('[')?;
    let (counts, rest) = rest.split_once(']')?;
    let (index, total) = counts.split_once('/')?;
    let name = rest.split_whitespace().next()?;
    Some(TensorProgress {
        index: index.trim().parse().ok()?,
        total: total.trim().parse().ok()?,
        name: name.to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ignore_case() {
        for t in QuantType::ALL {
            assert_eq!(t.name().parse::<QuantType>(), Ok(t));
            assert_eq!(t.name().to_lowercase().parse::<QuantType>(), Ok(t));
        }
        let e = "Q4_K_X".parse::<QuantType>().unwrap_err();
        assert!(e.to_string().contains("Q4_K_M"), "{e}");
    }

    #[test]
    fn progress_lines_are_read_and_others_are_not() {
        let p = parse_progress(
            "[  12/ 272]                 blk.1.attn_q.weight - [  576,   576,     1,     1], type =    f16, ",
        );
        assert_eq!(
            p,
            Some(TensorProgress {
                index: 12,
                total: 272,
                name: "blk.1.attn_q.weight".into()
            })
        );
        assert_eq!(parse_progress("converting to q8_0 .. "), None);
        assert_eq!(parse_progress("[x/y] z"), None);
        assert_eq!(parse_progress("["), None);
    }
}
