//! The symbolic machine: stack, memo, values and their collection, and
//! the evaluation of already-decoded opcodes.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::Error;
use crate::joblib::RawBuffer;
use crate::ops::{Arg, Opcode, Pickle, op_at};
use crate::step::step;
use crate::vm::{CallKind, CallSite, Evaluation, Import, MAX_NODES, NodeId, Value};

/// Resource limits of one evaluation. Limits are on memory and time, not
/// on counts that real files reach: a stream of any length is read, plain
/// data is summarised rather than held, and only values that can reach a
/// call stay in memory.
#[derive(Debug, Clone)]
pub struct EvalLimits {
    /// Most values kept alive at once, after plain data no call can reach
    /// has been dropped. Each value costs about `size_of::<Value>()` bytes
    /// plus its text, so this is the memory limit.
    pub max_live_values: usize,
    /// Plain items (numbers, strings, bytes, containers of them) kept per
    /// container for rendering; the rest are counted, not held. Items that
    /// hold imports, calls or persistent ids are always kept.
    pub kept_items: usize,
    /// Memo entries held before the evaluator switches to keeping only the
    /// entries that the pickle fetches again (found by a first pass over
    /// its opcodes).
    pub memo_budget: usize,
    /// Wall-clock time one stream may take; `None` for no limit.
    pub time_budget: Option<Duration>,
}

impl Default for EvalLimits {
    fn default() -> Self {
        Self {
            max_live_values: MAX_NODES,
            kept_items: KEPT_ITEMS,
            memo_budget: 1 << 20,
            time_budget: Some(Duration::from_secs(120)),
        }
    }
}

/// Plain items kept per container by default ([`EvalLimits::kept_items`]).
pub const KEPT_ITEMS: usize = 256;

/// Which memo entries an evaluation holds.
pub(crate) enum MemoMode {
    /// Every entry, up to [`EvalLimits::memo_budget`].
    All,
    /// Every entry, bounded only by [`EvalLimits::max_live_values`]: the
    /// last resort when a skim could not find the fetched indices.
    Everything,
    /// Only the indices the pickle fetches again.
    Fetched(Wanted),
}

/// A set of memo indices: a bitmap while the indices are small (as
/// pickles write them: one after another), a hash set otherwise.
pub(crate) enum Wanted {
    Bits(Vec<u64>),
    Set(HashSet<u64>),
}

/// Largest index a [`Wanted::Bits`] holds (a 8 MiB bitmap).
pub(crate) const MAX_BITMAP_INDEX: u64 = 1 << 26;

impl Wanted {
    pub(crate) fn new(indices: HashSet<u64>) -> Wanted {
        let max = indices.iter().copied().max().unwrap_or(0);
        if max >= MAX_BITMAP_INDEX {
            return Wanted::Set(indices);
        }
        let words = usize::try_from(max / 64 + 1).unwrap_or(0);
        let mut bits = vec![0u64; words];
        for i in indices {
            if let Some(word) = usize::try_from(i / 64).ok().and_then(|w| bits.get_mut(w)) {
                *word |= 1 << (i % 64);
            }
        }
        Wanted::Bits(bits)
    }

    pub(crate) fn contains(&self, index: u64) -> bool {
        match self {
            Wanted::Bits(bits) => usize::try_from(index / 64)
                .ok()
                .and_then(|w| bits.get(w))
                .is_some_and(|word| word & (1 << (index % 64)) != 0),
            Wanted::Set(set) => set.contains(&index),
        }
    }
}

pub(crate) struct Machine<'l> {
    pub(crate) limits: &'l EvalLimits,
    /// The stream being read, for decoding deferred values again (empty
    /// when evaluating already-decoded opcodes, which defers nothing).
    pub(crate) bytes: &'l [u8],
    /// Where each deferred value's opcode is: a plain scalar pushed for a
    /// container that already holds its kept items is not built unless it
    /// is kept after all ([`DEFERRED`] ids index this).
    pub(crate) deferred: Vec<u64>,
    /// Per MARK: whether its items go to a full container, and how many
    /// values were deferred before it.
    pub(crate) frames: Vec<(bool, usize)>,
    pub(crate) nodes: Vec<Value>,
    /// Parallel to `nodes`: whether the value holds (or is) an import, a
    /// call, a persistent id or an extension.
    pub(crate) impure: Vec<bool>,
    /// Plain items left out of a container, by container.
    pub(crate) omitted: HashMap<NodeId, u64>,
    pub(crate) stack: Vec<NodeId>,
    pub(crate) metastack: Vec<Vec<NodeId>>,
    pub(crate) memo: HashMap<u64, NodeId>,
    pub(crate) memo_mode: MemoMode,
    pub(crate) from_memo: HashSet<NodeId>,
    pub(crate) imports: Vec<Import>,
    pub(crate) calls: Vec<CallSite>,
    pub(crate) extensions: Vec<(u64, u32)>,
    pub(crate) raw_buffers: Vec<RawBuffer>,
    pub(crate) summarised: u64,
    /// Length to cut `deferred` back to once a consumed frame's values are
    /// dealt with (`usize::MAX`: nothing to cut).
    pub(crate) deferred_floor: usize,
    pub(crate) next_collection: usize,
    /// Step over joblib array data after `NumpyArrayWrapper`s.
    pub(crate) joblib: bool,
    pub(crate) memo_next: u64,
    pub(crate) out_of_order_put: bool,
    pub(crate) saw_memoize: bool,
}

/// Why a machine stopped early without an error in the pickle itself.
pub(crate) enum Halt {
    /// The pickle is malformed or a limit was reached.
    Error(Error),
    /// The memo outgrew its budget: rerun keeping only fetched entries.
    MemoBudget,
}

impl From<Error> for Halt {
    fn from(error: Error) -> Self {
        Halt::Error(error)
    }
}

/// What one step asks of the driver.
pub(crate) enum Flow {
    Next,
    Stop(NodeId),
    /// Step over joblib array data, then continue (or read an embedded
    /// pickle first, for object arrays).
    Skip(RawBuffer),
}

pub(crate) fn is_impure_value(value: &Value) -> bool {
    matches!(
        value,
        Value::Global { .. }
            | Value::Call { .. }
            | Value::PersistentId(_)
            | Value::Ext(_)
            | Value::Buffer
    )
}

/// Every child id of a value.
pub(crate) fn for_each_child(value: &Value, mut f: impl FnMut(NodeId)) {
    match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter().copied().for_each(f);
        }
        Value::Dict(pairs) => pairs.iter().for_each(|(k, v)| {
            f(*k);
            f(*v);
        }),
        Value::Call {
            callable,
            args,
            kwargs,
            items,
            appended,
            state,
            ..
        } => {
            f(*callable);
            f(*args);
            kwargs.iter().copied().for_each(&mut f);
            items.iter().for_each(|(k, v)| {
                f(*k);
                f(*v);
            });
            appended.iter().copied().for_each(&mut f);
            state.iter().copied().for_each(&mut f);
        }
        Value::PersistentId(pid) => f(*pid),
        _ => {}
    }
}

pub(crate) fn for_each_child_mut(value: &mut Value, mut f: impl FnMut(&mut NodeId)) {
    match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter_mut().for_each(f);
        }
        Value::Dict(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            f(k);
            f(v);
        }),
        Value::Call {
            callable,
            args,
            kwargs,
            items,
            appended,
            state,
            ..
        } => {
            f(callable);
            f(args);
            kwargs.iter_mut().for_each(&mut f);
            items.iter_mut().for_each(|(k, v)| {
                f(k);
                f(v);
            });
            appended.iter_mut().for_each(&mut f);
            state.iter_mut().for_each(&mut f);
        }
        Value::PersistentId(pid) => f(pid),
        _ => {}
    }
}

pub(crate) fn index(id: NodeId) -> usize {
    usize::try_from(id.0).unwrap_or(usize::MAX)
}

impl<'l> Machine<'l> {
    pub(crate) fn new(limits: &'l EvalLimits, memo_mode: MemoMode) -> Self {
        Machine {
            limits,
            bytes: &[],
            deferred: Vec::new(),
            frames: Vec::new(),
            nodes: Vec::new(),
            impure: Vec::new(),
            omitted: HashMap::new(),
            stack: Vec::new(),
            metastack: Vec::new(),
            memo: HashMap::new(),
            memo_mode,
            from_memo: HashSet::new(),
            imports: Vec::new(),
            calls: Vec::new(),
            extensions: Vec::new(),
            raw_buffers: Vec::new(),
            summarised: 0,
            deferred_floor: usize::MAX,
            next_collection: COLLECT_AT,
            joblib: false,
            memo_next: 0,
            out_of_order_put: false,
            saw_memoize: false,
        }
    }

    pub(crate) fn node(&mut self, value: Value) -> NodeId {
        let id = self.next_id();
        let impure = match &value {
            Value::List(items)
            | Value::Tuple(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => items.iter().any(|i| self.is_impure(*i)),
            Value::Dict(pairs) => pairs
                .iter()
                .any(|(k, v)| self.is_impure(*k) || self.is_impure(*v)),
            other => is_impure_value(other),
        };
        self.nodes.push(value);
        self.impure.push(impure);
        id
    }

    pub(crate) fn push(&mut self, value: Value) -> NodeId {
        let id = self.node(value);
        self.stack.push(id);
        id
    }

    pub(crate) fn is_impure(&self, id: NodeId) -> bool {
        self.impure.get(index(id)).copied().unwrap_or(false)
    }

    pub(crate) fn pop(&mut self, pos: u64, opcode: Opcode) -> Result<NodeId, Error> {
        let id = self.pop_raw(pos, opcode)?;
        Ok(self.real(id))
    }

    /// Pop without building a deferred value (for values thrown away).
    pub(crate) fn pop_raw(&mut self, pos: u64, opcode: Opcode) -> Result<NodeId, Error> {
        self.stack.pop().ok_or(Error::StackUnderflow {
            offset: pos,
            opcode: opcode.name(),
        })
    }

    /// The value behind an id: a deferred value is decoded again from its
    /// opcode and built now.
    pub(crate) fn real(&mut self, id: NodeId) -> NodeId {
        if id.0 & DEFERRED == 0 {
            return id;
        }
        let at = usize::try_from(id.0 & !DEFERRED)
            .ok()
            .and_then(|i| self.deferred.get(i))
            .and_then(|pos| usize::try_from(*pos).ok());
        let value = at
            .and_then(|at| op_at(self.bytes, at).ok())
            .map_or(Value::None, |(op, _)| scalar(op.arg));
        self.node(value)
    }

    /// A frame's items for a container: deferred values kept are built,
    /// the others stay deferred (and are dropped by [`Machine::keep`]).
    pub(crate) fn pop_mark_raw(&mut self, pos: u64, opcode: Opcode) -> Result<Vec<NodeId>, Error> {
        let previous = self.metastack.pop().ok_or(Error::NoMark {
            offset: pos,
            opcode: opcode.name(),
        })?;
        if let Some((_, deferred)) = self.frames.pop() {
            // What was deferred in this frame is consumed with it.
            self.deferred_floor = deferred;
        }
        Ok(std::mem::replace(&mut self.stack, previous))
    }

    pub(crate) fn top(&self, pos: u64, opcode: Opcode) -> Result<NodeId, Error> {
        self.stack.last().copied().ok_or(Error::StackUnderflow {
            offset: pos,
            opcode: opcode.name(),
        })
    }

    pub(crate) fn pop_mark(&mut self, pos: u64, opcode: Opcode) -> Result<Vec<NodeId>, Error> {
        let items = self.pop_mark_raw(pos, opcode)?;
        let items = items.into_iter().map(|id| self.real(id)).collect();
        self.release_deferred();
        Ok(items)
    }

    /// Forget the deferred values of frames already consumed.
    pub(crate) fn release_deferred(&mut self) {
        self.deferred.truncate(self.deferred_floor);
        self.deferred_floor = usize::MAX;
    }

    /// Whether plain scalars read now go to a container that already holds
    /// its kept items.
    pub(crate) fn defers(&self) -> bool {
        matches!(self.frames.last(), Some((true, _)))
    }

    /// Push a deferred scalar whose opcode is at `pos`.
    pub(crate) fn push_deferred(&mut self, pos: usize) {
        let index = u32::try_from(self.deferred.len()).unwrap_or(u32::MAX) & !DEFERRED;
        self.deferred.push(to_u64(pos));
        self.stack.push(NodeId(DEFERRED | index));
    }

    /// Whether a container already holds its kept items.
    pub(crate) fn is_full(&self, id: NodeId) -> bool {
        let kept = self.limits.kept_items;
        match self.value(id) {
            Some(Value::List(items) | Value::Set(items)) => items.len() >= kept,
            Some(Value::Dict(pairs)) => pairs.len() >= kept,
            Some(Value::Call {
                items, appended, ..
            }) => items.len() >= kept || appended.len() >= kept,
            _ => false,
        }
    }

    pub(crate) fn value(&self, id: NodeId) -> Option<&Value> {
        self.nodes.get(index(id))
    }

    pub(crate) fn str_of(&self, id: NodeId) -> Option<&str> {
        match self.value(id) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn call(
        &mut self,
        pos: u64,
        opcode: Opcode,
        kind: CallKind,
        callable: NodeId,
        args: NodeId,
        kwargs: Option<NodeId>,
    ) {
        let id = self.push(Value::Call {
            kind,
            callable,
            args,
            kwargs,
            items: Vec::new(),
            appended: Vec::new(),
            state: None,
        });
        self.calls.push(CallSite {
            pos,
            opcode,
            kind,
            callable: id,
            args,
        });
    }

    /// Keep the first plain items and every impure one; count the rest.
    /// Keep a container's first plain items and every impure one, building
    /// deferred values that are kept; the plain items left out are counted
    /// against `container`.
    pub(crate) fn keep(
        &mut self,
        container: NodeId,
        items: Vec<NodeId>,
        already: usize,
    ) -> Vec<NodeId> {
        let (kept, dropped) = select(items, already, self.limits.kept_items, |id| {
            self.is_impure(*id)
        });
        self.note_omitted(container, dropped);
        kept.into_iter().map(|id| self.real(id)).collect()
    }

    /// [`Machine::keep`] for key/value pairs: a pair is impure if either is.
    pub(crate) fn keep_pairs(
        &mut self,
        container: NodeId,
        pairs: Vec<(NodeId, NodeId)>,
        already: usize,
    ) -> Vec<(NodeId, NodeId)> {
        let (kept, dropped) = select(pairs, already, self.limits.kept_items, |(k, v)| {
            self.is_impure(*k) || self.is_impure(*v)
        });
        self.note_omitted(container, dropped);
        kept.into_iter()
            .map(|(k, v)| (self.real(k), self.real(v)))
            .collect()
    }

    pub(crate) fn note_omitted(&mut self, container: NodeId, dropped: u64) {
        if dropped > 0 {
            self.summarised += dropped;
            *self.omitted.entry(container).or_default() += dropped;
        }
    }

    /// A new container built from marked items, summarised.
    pub(crate) fn container(
        &mut self,
        make: impl FnOnce(Vec<NodeId>) -> Value,
        items: Vec<NodeId>,
    ) -> NodeId {
        let id = self.next_id();
        let items = self.keep(id, items, 0);
        let real = self.push(make(items));
        self.moved_omitted(id, real);
        real
    }

    /// The id the next value built gets.
    pub(crate) fn next_id(&self) -> NodeId {
        NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX))
    }

    /// Building kept deferred items adds values, so a new container may get
    /// a later id than [`Machine::next_id`] said: move its count there.
    pub(crate) fn moved_omitted(&mut self, expected: NodeId, real: NodeId) {
        if real != expected
            && let Some(dropped) = self.omitted.remove(&expected)
        {
            self.omitted.insert(real, dropped);
        }
    }

    /// Build the deferred value on top of the stack (about to be stored).
    pub(crate) fn real_top(&mut self, id: NodeId) -> NodeId {
        if id.0 & DEFERRED == 0 {
            return id;
        }
        let real = self.real(id);
        if let Some(top) = self.stack.last_mut()
            && *top == id
        {
            *top = real;
        }
        real
    }

    /// What Python's `len(memo)` would be: the index `MEMOIZE` uses.
    pub(crate) fn memo_len(&self) -> u64 {
        match self.memo_mode {
            MemoMode::All | MemoMode::Everything => to_u64(self.memo.len()),
            MemoMode::Fetched(_) => self.memo_next,
        }
    }

    pub(crate) fn memo_put(&mut self, pos: u64, index: u64, id: NodeId) -> Result<(), Halt> {
        // Entries not held are still counted, so MEMOIZE's index stays
        // Python's; pickles that mix MEMOIZE with out-of-order PUTs are
        // followed exactly only while every entry is held.
        if index == self.memo_next {
            self.memo_next += 1;
        } else {
            self.out_of_order_put |= index > self.memo_next;
            self.memo_next = self.memo_next.max(index.saturating_add(1));
        }
        if matches!(self.memo_mode, MemoMode::Fetched(_))
            && self.out_of_order_put
            && self.saw_memoize
        {
            return Err(Halt::Error(Error::LimitExceeded {
                offset: pos,
                what: "a pickle this large that mixes MEMOIZE with out-of-order PUT indices cannot be followed within the memory limit".to_string(),
            }));
        }
        match &self.memo_mode {
            MemoMode::All => {
                let id = self.real_top(id);
                self.memo.insert(index, id);
                if self.memo.len() > self.limits.memo_budget {
                    return Err(Halt::MemoBudget);
                }
            }
            MemoMode::Everything => {
                let id = self.real_top(id);
                self.memo.insert(index, id);
            }
            MemoMode::Fetched(wanted) => {
                if wanted.contains(index) {
                    let id = self.real_top(id);
                    self.memo.insert(index, id);
                }
            }
        }
        Ok(())
    }

    /// Drop every value nothing can reach any more (plain data left out of
    /// containers, memo entries never fetched), renumbering the rest.
    pub(crate) fn collect(&mut self, pos: u64, max_live: usize) -> Result<(), Error> {
        let n = self.nodes.len();
        let mut live = vec![false; n];
        let mut work: Vec<NodeId> = Vec::new();
        work.extend(self.stack.iter().copied());
        for frame in &self.metastack {
            work.extend(frame.iter().copied());
        }
        work.extend(self.memo.values().copied());
        for call in &self.calls {
            work.push(call.callable);
            work.push(call.args);
        }
        while let Some(id) = work.pop() {
            let i = index(id);
            match live.get_mut(i) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            if let Some(value) = self.nodes.get(i) {
                for_each_child(value, |child| work.push(child));
            }
        }
        let mut renumber = vec![u32::MAX; n];
        let mut next = 0u32;
        for (i, alive) in live.iter().enumerate() {
            if *alive && let Some(slot) = renumber.get_mut(i) {
                *slot = next;
                next += 1;
            }
        }
        let map = |id: &mut NodeId| {
            if let Some(new) = renumber.get(index(*id)) {
                id.0 = *new;
            }
        };
        let nodes = std::mem::take(&mut self.nodes);
        let impure = std::mem::take(&mut self.impure);
        for ((value, flag), alive) in nodes.into_iter().zip(impure).zip(live.iter()) {
            if *alive {
                let mut value = value;
                for_each_child_mut(&mut value, map);
                self.nodes.push(value);
                self.impure.push(flag);
            }
        }
        self.stack.iter_mut().for_each(map);
        for frame in &mut self.metastack {
            frame.iter_mut().for_each(map);
        }
        self.memo.values_mut().for_each(map);
        for call in &mut self.calls {
            map(&mut call.callable);
            map(&mut call.args);
        }
        let keep = |id: &NodeId| renumber.get(index(*id)).is_some_and(|n| *n != u32::MAX);
        self.from_memo = self
            .from_memo
            .iter()
            .filter(|id| keep(id))
            .map(|id| {
                let mut id = *id;
                map(&mut id);
                id
            })
            .collect();
        self.omitted = self
            .omitted
            .iter()
            .filter(|(id, _)| keep(id))
            .map(|(id, count)| {
                let mut id = *id;
                map(&mut id);
                (id, *count)
            })
            .collect();
        let live_count = self.nodes.len();
        if live_count > max_live {
            return Err(Error::LimitExceeded {
                offset: pos,
                what: format!(
                    "the pickle keeps more than {} values reachable at once (about {} MiB); raise the memory limit to read it",
                    self.limits.max_live_values,
                    self.limits
                        .max_live_values
                        .saturating_mul(std::mem::size_of::<Value>())
                        >> 20
                ),
            });
        }
        self.next_collection = live_count.saturating_mul(2).max(COLLECT_AT);
        Ok(())
    }

    pub(crate) fn finish(
        mut self,
        start: u64,
        end: u64,
        protocol: Option<u8>,
        mut result: Option<NodeId>,
        error: Option<Error>,
        ops: u64,
    ) -> Evaluation {
        // Drop what nothing reaches, so a finished evaluation holds only
        // the calls, the stack and the result.
        if self.nodes.len() > COLLECT_AT / 4 {
            self.memo.clear();
            self.stack.extend(result);
            // Nothing new is built here, so the limit cannot be exceeded.
            let _ = self.collect(end, usize::MAX);
            if result.is_some() {
                result = self.stack.pop();
            }
        }
        Evaluation {
            nodes: self.nodes,
            omitted: self.omitted,
            result,
            imports: self.imports,
            calls: self.calls,
            extensions: self.extensions,
            raw_buffers: self.raw_buffers,
            summarised: self.summarised,
            start,
            end,
            protocol,
            ops,
            embedded: false,
            error,
        }
    }
}

/// The first items up to `kept` (counting `already` held) and every item
/// `is_impure` says holds an import or a call; and how many were left out.
fn select<T>(
    items: Vec<T>,
    already: usize,
    kept: usize,
    is_impure: impl Fn(&T) -> bool,
) -> (Vec<T>, u64) {
    if already + items.len() <= kept {
        return (items, 0);
    }
    let mut out = Vec::with_capacity(kept.saturating_sub(already).min(items.len()));
    let mut dropped = 0u64;
    for item in items {
        if already + out.len() < kept || is_impure(&item) {
            out.push(item);
        } else {
            dropped += 1;
        }
    }
    (out, dropped)
}

/// Marks a [`NodeId`] as deferred: an index into `Machine::deferred`.
pub(crate) const DEFERRED: u32 = 1 << 31;

/// The value of a scalar opcode's argument.
pub(crate) fn scalar(arg: Arg) -> Value {
    match arg {
        Arg::Int(i) => Value::Int(i),
        Arg::Bool(b) => Value::Bool(b),
        Arg::BigInt(s) => Value::BigInt(s),
        Arg::Float(f) => Value::Float(f),
        Arg::Str(s) => Value::Str(s),
        Arg::Bytes { len, head, .. } => Value::Bytes { len, head },
        _ => Value::None,
    }
}

/// Collect garbage once this many values exist (and then at twice the
/// number alive after the last collection).
pub(crate) const COLLECT_AT: usize = 1 << 18;

pub(crate) fn pairs(
    items: Vec<NodeId>,
    pos: u64,
    opcode: Opcode,
) -> Result<Vec<(NodeId, NodeId)>, Error> {
    if !items.len().is_multiple_of(2) {
        return Err(Error::BadStack {
            offset: pos,
            opcode: opcode.name(),
            message: format!("{} items after MARK, expected key/value pairs", items.len()),
        });
    }
    Ok(items
        .chunks_exact(2)
        .filter_map(|pair| Some((*pair.first()?, *pair.get(1)?)))
        .collect())
}

/// Run a pickle symbolically. Never fails: an evaluation that cannot go on
/// keeps everything found so far and records why in [`Evaluation::error`].
///
/// The pickle's opcodes are already decoded, so `joblib` array data inside
/// the stream cannot be stepped over here; use [`evaluate_stream`] for
/// whole files.
pub fn evaluate(pickle: &Pickle) -> Evaluation {
    let limits = EvalLimits::default();
    let mut mode = MemoMode::All;
    loop {
        let mut m = Machine::new(&limits, mode);
        let mut result = None;
        let mut error = None;
        let mut budget = false;
        for op in &pickle.ops {
            if m.nodes.len() > m.next_collection
                && let Err(e) = m.collect(op.pos, limits.max_live_values)
            {
                error = Some(e);
                break;
            }
            match step(&mut m, op.pos, op.opcode, op.arg.clone()) {
                Ok(Flow::Stop(value)) => {
                    result = Some(value);
                    break;
                }
                Ok(Flow::Next | Flow::Skip(_)) => {}
                Err(Halt::Error(e)) => {
                    error = Some(e);
                    break;
                }
                Err(Halt::MemoBudget) => {
                    budget = true;
                    break;
                }
            }
        }
        if budget {
            mode = MemoMode::Fetched(Wanted::new(fetched_indices(
                pickle.ops.iter().map(|op| (op.opcode, &op.arg)),
            )));
            continue;
        }
        if result.is_none() && error.is_none() {
            error = Some(Error::Truncated {
                offset: pickle.end,
                opcode: "STOP",
                needed: 1,
                available: 0,
            });
        }
        let ops = u64::try_from(pickle.ops.len()).unwrap_or(u64::MAX);
        return m.finish(
            pickle.start,
            pickle.end,
            pickle.protocol,
            result,
            error,
            ops,
        );
    }
}

/// The memo indices a sequence of opcodes fetches.
pub(crate) fn fetched_indices<'a>(ops: impl Iterator<Item = (Opcode, &'a Arg)>) -> HashSet<u64> {
    ops.filter_map(|(opcode, arg)| match (opcode, arg) {
        (Opcode::Get | Opcode::BinGet | Opcode::LongBinGet, Arg::Index(i)) => Some(*i),
        _ => None,
    })
    .collect()
}

pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
