//! Evaluating a whole stream straight from its bytes: pickle after
//! pickle, deferring plain scalars, stepping over joblib array data.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::Error;
use crate::joblib::skip_array;
use crate::machine::*;
use crate::ops::{Arg, Opcode, op_at, skim_at};
use crate::step::step;
use crate::vm::Evaluation;

/// Where the opcode at `pos` ends, if it is one whose value can be
/// deferred: a plain scalar with a binary argument, which decodes again
/// without fail (`NONE`, booleans, binary ints and floats, `LONG1`, binary
/// strings and bytes).
#[inline]
fn deferrable_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let counted = |width: usize| -> Option<usize> {
        let raw = bytes.get(pos + 1..pos + 1 + width)?;
        let n = raw
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        (pos + 1 + width)
            .checked_add(usize::try_from(n).ok()?)
            .filter(|end| *end <= bytes.len())
    };
    let fixed = |n: usize| Some(pos + 1 + n).filter(|end| *end <= bytes.len());
    match *bytes.get(pos)? {
        b'N' | 0x88 | 0x89 => fixed(0),
        b'K' => fixed(1),
        b'M' => fixed(2),
        b'J' => fixed(4),
        b'G' => fixed(8),
        0x8a | 0x8c | b'C' => counted(1),
        b'X' | b'B' => counted(4),
        0x8d | 0x8e => counted(8),
        _ => None,
    }
}

/// Every pickle of a stream, evaluated as a loader reading the stream
/// would meet them, and why reading stopped early, if it did.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The pickles, in order; pickles embedded in joblib object arrays
    /// follow the pickle that holds them, with [`Evaluation::embedded`] set.
    pub pickles: Vec<Evaluation>,
    /// Why reading stopped before the end of the input (also recorded in
    /// the last pickle's [`Evaluation::error`] when it happened inside one).
    pub error: Option<Error>,
}

/// Evaluate every pickle in a stream, reading opcodes straight from the
/// bytes: nothing is held per opcode, plain data is summarised, and the
/// raw array data `joblib.dump` writes after each `NumpyArrayWrapper` is
/// stepped over exactly (so data hidden after or between the arrays is
/// still read).
pub fn evaluate_stream(bytes: &[u8], limits: &EvalLimits) -> Stream {
    let mut pickles = Vec::new();
    let error = evaluate_stream_each(bytes, limits, |evaluation| pickles.push(evaluation));
    Stream { pickles, error }
}

/// [`evaluate_stream`], handing each pickle's evaluation to `each` as soon
/// as it is read instead of keeping them all. Returns why reading stopped
/// early, if it did.
pub fn evaluate_stream_each(
    bytes: &[u8],
    limits: &EvalLimits,
    mut each: impl FnMut(Evaluation),
) -> Option<Error> {
    let deadline = limits.time_budget.map(|budget| (Instant::now(), budget));
    let mut pos = 0usize;
    let mut first = true;
    while pos < bytes.len() || first {
        first = false;
        let (evaluation, embedded) = evaluate_at(bytes, pos, limits, deadline, true);
        let error = evaluation.error.clone();
        pos = usize::try_from(evaluation.end).unwrap_or(usize::MAX);
        each(evaluation);
        for inner in embedded {
            each(inner);
        }
        if let Some(error) = error {
            return Some(error);
        }
        // Whitespace after the last STOP (a newline some writers add) is
        // not a pickle, and no loader can run it: the stream ends there.
        if bytes
            .get(pos..)
            .is_some_and(|rest| rest.iter().all(u8::is_ascii_whitespace))
        {
            break;
        }
    }
    None
}

type Deadline = Option<(Instant, Duration)>;

/// Evaluate the pickle starting at `start`: its evaluation (with `end`
/// just past its STOP, or where reading stopped) and the evaluations of
/// pickles embedded in it by joblib object arrays.
fn evaluate_at(
    bytes: &[u8],
    start: usize,
    limits: &EvalLimits,
    deadline: Deadline,
    joblib: bool,
) -> (Evaluation, Vec<Evaluation>) {
    // A long stream is first skimmed for the memo indices it fetches, so
    // only those entries are held; a short one holds them all.
    let long = bytes.len().saturating_sub(start) > SKIM_FROM;
    let mut mode = if long {
        MemoMode::Fetched(Wanted::new(fetched_in_stream(bytes, start)))
    } else {
        MemoMode::All
    };
    // At most three runs: a memo over budget switches to fetched entries;
    // a fetched entry the skim missed (joblib array data hides opcodes from
    // it) switches to holding every entry, bounded by the memory limit.
    loop {
        match run(bytes, start, limits, deadline, joblib, mode) {
            Ok(done) => return done,
            Err(Retry::Fetched) => {
                mode = MemoMode::Fetched(Wanted::new(fetched_in_stream(bytes, start)));
            }
            Err(Retry::All) => mode = MemoMode::Everything,
        }
    }
}

/// Streams longer than this are skimmed for fetched memo indices first.
const SKIM_FROM: usize = 1 << 20;

/// Why a run starts over.
enum Retry {
    /// The memo outgrew its budget: hold only fetched entries.
    Fetched,
    /// A fetched entry was not held (the skim missed it): hold all.
    All,
}

/// One run of the machine over the bytes; `Err` asks for a rerun holding
/// other memo entries.
fn run(
    bytes: &[u8],
    start: usize,
    limits: &EvalLimits,
    deadline: Deadline,
    joblib: bool,
    mode: MemoMode,
) -> Result<(Evaluation, Vec<Evaluation>), Retry> {
    let holds_all = matches!(mode, MemoMode::All);
    let holds_fetched = matches!(mode, MemoMode::Fetched(_));
    let mut m = Machine::new(limits, mode);
    m.joblib = joblib;
    m.bytes = bytes;
    let mut embedded = Vec::new();
    let mut pos = start;
    let mut protocol = None;
    let mut result = None;
    let mut error = None;
    let mut steps = 0u64;
    loop {
        steps += 1;
        if steps.is_multiple_of(1 << 16)
            && let Some((began, budget)) = deadline
            && began.elapsed() > budget
        {
            error = Some(Error::LimitExceeded {
                offset: to_u64(pos),
                what: format!(
                    "reading took longer than the {} s time limit; what follows was not verified",
                    budget.as_secs()
                ),
            });
            break;
        }
        if m.nodes.len() > m.next_collection
            && let Err(e) = m.collect(to_u64(pos), limits.max_live_values)
        {
            error = Some(e);
            break;
        }
        if pos >= bytes.len() && pos > start {
            error = Some(Error::Truncated {
                offset: to_u64(pos),
                opcode: "STOP",
                needed: 1,
                available: 0,
            });
            break;
        }
        if m.defers()
            && let Some(next) = deferrable_end(bytes, pos)
        {
            m.push_deferred(pos);
            pos = next;
            continue;
        }
        let (op, next) = match op_at(bytes, pos) {
            Ok(decoded) => decoded,
            Err(e) => {
                error = Some(match e {
                    Error::Truncated { available: 0, .. } if pos == start => Error::Empty,
                    other => other,
                });
                break;
            }
        };
        if let (Opcode::Proto, Arg::Protocol(p)) = (op.opcode, &op.arg)
            && protocol.is_none()
        {
            protocol = Some(*p);
        }
        pos = next;
        match step(&mut m, op.pos, op.opcode, op.arg.clone()) {
            Ok(Flow::Next) => {}
            Ok(Flow::Stop(value)) => {
                result = Some(value);
                break;
            }
            Ok(Flow::Skip(buffer)) => {
                let skipped = if buffer.object {
                    // An object array: a whole pickle follows.
                    let (inner, _) = evaluate_at(bytes, pos, limits, deadline, false);
                    let end = usize::try_from(inner.end).unwrap_or(usize::MAX);
                    let failed = inner.error.clone();
                    embedded.push(Evaluation {
                        embedded: true,
                        ..inner
                    });
                    m.raw_buffers.push(buffer);
                    match failed {
                        Some(e) => Err(e),
                        None => Ok(end),
                    }
                } else {
                    skip_array(bytes, pos, buffer, &mut m.raw_buffers)
                };
                match skipped {
                    Ok(after) => pos = after,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            Err(Halt::Error(Error::MissingMemo { .. })) if holds_fetched => {
                return Err(Retry::All);
            }
            Err(Halt::Error(e)) => {
                error = Some(e);
                break;
            }
            Err(Halt::MemoBudget) if holds_all => return Err(Retry::Fetched),
            Err(Halt::MemoBudget) => {}
        }
    }
    Ok((
        m.finish(to_u64(start), to_u64(pos), protocol, result, error, steps),
        embedded,
    ))
}

/// The memo indices fetched by the pickle at `start`, read opcode by
/// opcode to its STOP (joblib array data, which only a full evaluation can
/// step over, ends the pass early: what follows it is then held in full).
fn fetched_in_stream(bytes: &[u8], start: usize) -> HashSet<u64> {
    let mut fetched = HashSet::new();
    let mut pos = start;
    while let Some((opcode, index, next)) = skim_at(bytes, pos) {
        if let Some(index) = index {
            fetched.insert(index);
        }
        if opcode == Opcode::Stop {
            break;
        }
        pos = next;
    }
    fetched
}
