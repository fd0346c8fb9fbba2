//! A Python pickle disassembler and a symbolic evaluator, for reading
//! untrusted pickles without running them.
//!
//! A pickle is a program for a small stack machine; loading one imports
//! and calls whatever it names (`os.system` as easily as
//! `collections.OrderedDict`). This crate reads pickles byte by byte:
//!
//! - [`disassemble`] / [`disassemble_all`] decode every opcode of protocols
//!   0 to 5 (including `FRAME`, `MEMOIZE`, `EXT1/2/4`, `PERSID`/`BINPERSID`,
//!   `NEWOBJ_EX`, `BYTEARRAY8`, `NEXT_BUFFER`) of every pickle in a stream,
//!   back to back, with each opcode's offset.
//! - [`evaluate_stream`] / [`evaluate_stream_each`] read a whole stream
//!   straight from its bytes and run each pickle symbolically, following
//!   the stack and the memo, and return the value it builds plus a trace of
//!   every import (`GLOBAL`, `INST`, `STACK_GLOBAL`, with memo-fetched and
//!   computed operands told apart) and every call (`REDUCE`, `NEWOBJ`,
//!   `NEWOBJ_EX`, `OBJ`, `INST`, `BUILD`). Nothing is imported or called.
//!   The array data `joblib.dump` writes after each `NumpyArrayWrapper` is
//!   stepped over exactly ([`RawBuffer`]); an object array's embedded
//!   pickle is evaluated too. [`evaluate`] does the same for one pickle
//!   already disassembled.
//!
//! Non-purpose: judging what is safe (that is `modelgate-scan`'s job, from
//! the trace), or reconstructing Python objects.
//!
//! Hand-written: no crate reads untrusted pickles (`serde-pickle` builds
//! values and cannot emulate `REDUCE`/`BUILD`), and a scanner needs offsets
//! and partial results from malformed streams. Arguments are copied only
//! up to small caps; large byte strings (inline tensor data) are recorded
//! by length and offset.
//!
//! Decisions for untrusted input:
//! - A stream is read pickle after pickle until its end; bytes after the
//!   last `STOP` that do not start another pickle are an error
//!   ([`Error::UnknownOpcode`] at their offset), since a loader reading the
//!   stream further would run them. [`disassemble_all`] keeps every pickle
//!   read before the problem.
//! - Evaluation never fails outright: stack underflow, a missing memo
//!   entry or a limit stops it and is recorded in [`Evaluation::error`]
//!   beside everything found so far (scanners treat it as fail-closed).
//! - Limits are on memory and time ([`EvalLimits`]), never on counts that
//!   real files reach. Plain data (numbers, strings, bytes, containers of
//!   them) is counted, not held: a container keeps its first
//!   [`KEPT_ITEMS`] plain items and every item that holds an import or a
//!   call; scalars bound for a full container are not even decoded unless
//!   they are kept after all; a long stream is first skimmed for the memo
//!   indices it fetches again, so only those entries are held; values
//!   nothing reaches any more are collected. Memory so follows what can
//!   reach a call, not the file's size.
//! - [`disassemble`] and friends materialise every opcode and so stay
//!   capped ([`MAX_OPS`], [`MAX_PICKLES`]): they are for small pickles and
//!   for tests, not for scanning files. Other caps: [`MAX_LINE_BYTES`],
//!   [`MAX_LONG_BYTES`], [`BYTES_KEPT`]. Values live in an arena and refer
//!   to each other by [`NodeId`], so self-referencing and deeply nested
//!   structures cost no recursion; rendering is bounded by depth and length
//!   ([`MAX_RENDER_CHARS`]).
//!
//! ```
//! // pickle.dumps(os.system) style: GLOBAL 'os system', then a call.
//! let bytes = b"cos\nsystem\n(S'id'\ntR.";
//! let pickles = modelgate_pickle::disassemble(bytes).unwrap();
//! let evaluation = modelgate_pickle::evaluate(&pickles[0]);
//! assert_eq!(evaluation.imports[0].module, "os");
//! assert_eq!(evaluation.render(evaluation.result.unwrap()), "os.system('id')");
//! ```

mod joblib;
mod machine;
mod ops;
mod step;
mod stream;
mod vm;

pub use joblib::RawBuffer;
pub use machine::{EvalLimits, KEPT_ITEMS, evaluate};
pub use ops::{
    Arg, BYTES_KEPT, Disassembly, MAX_LINE_BYTES, MAX_LONG_BYTES, MAX_OPS, MAX_PICKLES, Op, Opcode,
    Pickle, disassemble, disassemble_all, disassemble_one,
};
pub use stream::{Stream, evaluate_stream, evaluate_stream_each};
pub use vm::{
    CallKind, CallSite, Evaluation, Import, ImportSource, MAX_NODES, MAX_RENDER_CHARS, NodeId,
    Value,
};

/// Why a pickle could not be read or evaluated. Offsets are bytes from the
/// start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input holds no pickle.
    #[error("empty input: no pickle opcodes")]
    Empty,
    /// A byte that is no opcode.
    #[error(
        "unknown opcode {byte:#04x} at offset {offset} (not a pickle, or data after the last STOP)"
    )]
    UnknownOpcode {
        /// Where.
        offset: u64,
        /// The byte.
        byte: u8,
    },
    /// The input ends inside an opcode's argument, or before `STOP`.
    #[error(
        "{opcode} at offset {offset} needs {needed} more bytes, {available} remain (truncated file?)"
    )]
    Truncated {
        /// Where the opcode starts.
        offset: u64,
        /// The opcode.
        opcode: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
    /// An argument that does not decode.
    #[error("{opcode} at offset {offset}: {message}")]
    BadArgument {
        /// Where.
        offset: u64,
        /// The opcode.
        opcode: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A resource limit was reached.
    #[error("at offset {offset}: {what}")]
    LimitExceeded {
        /// Where.
        offset: u64,
        /// Which limit.
        what: String,
    },
    /// An opcode needs more values than the stack holds.
    #[error("{opcode} at offset {offset} pops from an empty stack")]
    StackUnderflow {
        /// Where.
        offset: u64,
        /// The opcode.
        opcode: &'static str,
    },
    /// An opcode needs a MARK that was never pushed.
    #[error("{opcode} at offset {offset} needs a MARK, but none is on the stack")]
    NoMark {
        /// Where.
        offset: u64,
        /// The opcode.
        opcode: &'static str,
    },
    /// A memo fetch of an index never stored.
    #[error("memo fetch at offset {offset} reads index {index}, which was never stored")]
    MissingMemo {
        /// Where.
        offset: u64,
        /// The index.
        index: u64,
    },
    /// The stack holds something an opcode cannot use.
    #[error("{opcode} at offset {offset}: {message}")]
    BadStack {
        /// Where.
        offset: u64,
        /// The opcode.
        opcode: &'static str,
        /// What is wrong.
        message: String,
    },
}
