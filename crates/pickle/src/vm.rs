//! A symbolic pickle machine: follows the stack and memo through every
//! opcode and records what would be imported and called, without importing
//! or calling anything.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::Error;
use crate::joblib::RawBuffer;
use crate::ops::Opcode;

/// Index of a value in an [`Evaluation`]'s arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub(crate) u32);

/// How a callable is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `REDUCE`: `callable(*args)`.
    Reduce,
    /// `NEWOBJ`: `cls.__new__(cls, *args)`.
    NewObj,
    /// `NEWOBJ_EX`: `cls.__new__(cls, *args, **kwargs)`.
    NewObjEx,
    /// `OBJ`: `cls(*args)` from the stack.
    Obj,
    /// `INST`: `module.name(*args)`.
    Inst,
    /// `BUILD`: `obj.__setstate__(state)` or `obj.__dict__.update(state)`.
    Build,
}

/// A value the machine built. Containers refer to other values by id, so
/// shared and self-referencing structures cost nothing extra.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer too large for `i64`, in decimal.
    BigInt(String),
    /// A float.
    Float(f64),
    /// A text string.
    Str(String),
    /// A byte string (length and first bytes).
    Bytes {
        /// Full length.
        len: u64,
        /// First bytes.
        head: Vec<u8>,
    },
    /// A list.
    List(Vec<NodeId>),
    /// A tuple.
    Tuple(Vec<NodeId>),
    /// A dict, in insertion order.
    Dict(Vec<(NodeId, NodeId)>),
    /// A set.
    Set(Vec<NodeId>),
    /// A frozenset.
    FrozenSet(Vec<NodeId>),
    /// An imported name.
    Global {
        /// Module.
        module: String,
        /// Name (possibly dotted).
        name: String,
        /// Whether module or name was computed at load time (not constant strings).
        dynamic: bool,
    },
    /// The result of a call.
    Call {
        /// How it is called.
        kind: CallKind,
        /// What is called.
        callable: NodeId,
        /// Positional arguments (a tuple, usually).
        args: NodeId,
        /// Keyword arguments (`NEWOBJ_EX`).
        kwargs: Option<NodeId>,
        /// Items later added with `SETITEM(S)` (an `OrderedDict()` filled in).
        items: Vec<(NodeId, NodeId)>,
        /// Values later added with `APPEND(S)`.
        appended: Vec<NodeId>,
        /// The state a later `BUILD` gave the object (its `__dict__`,
        /// usually), if any.
        state: Option<NodeId>,
    },
    /// The result of `persistent_load(pid)`.
    PersistentId(NodeId),
    /// An object from the copyreg extension registry.
    Ext(u32),
    /// An out-of-band buffer (`NEXT_BUFFER`).
    Buffer,
}

/// Where an imported name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    /// Constant strings in the opcode or on the stack.
    Literal,
    /// Strings fetched from the memo.
    Memo,
    /// Values computed at load time: the import cannot be known statically.
    Dynamic,
}

/// One import: what `GLOBAL`, `INST` or `STACK_GLOBAL` would look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Offset of the opcode.
    pub pos: u64,
    /// The opcode.
    pub opcode: Opcode,
    /// Module (rendered value when dynamic).
    pub module: String,
    /// Name (rendered value when dynamic).
    pub name: String,
    /// How the names were obtained.
    pub source: ImportSource,
}

/// One call the pickle makes when loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    /// Offset of the opcode.
    pub pos: u64,
    /// The opcode.
    pub opcode: Opcode,
    /// How.
    pub kind: CallKind,
    /// The call's value (a [`Value::Call`], or the target for `BUILD`).
    pub callable: NodeId,
    /// The arguments (or the state for `BUILD`).
    pub args: NodeId,
}

/// What evaluating a pickle found.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub(crate) nodes: Vec<Value>,
    /// Plain items left out of containers, by container.
    pub(crate) omitted: HashMap<NodeId, u64>,
    /// Offset of the pickle's first opcode.
    pub start: u64,
    /// Offset just past its `STOP`, or where reading stopped.
    pub end: u64,
    /// The protocol its `PROTO` declares, if any.
    pub protocol: Option<u8>,
    /// Opcodes read (including the plain values counted, not built).
    pub ops: u64,
    /// Whether this pickle was embedded in another by joblib (an object
    /// array's data).
    pub embedded: bool,
    /// The value `STOP` returns, if evaluation reached it.
    pub result: Option<NodeId>,
    /// Every import, in order.
    pub imports: Vec<Import>,
    /// Every call, in order.
    pub calls: Vec<CallSite>,
    /// `EXT1/2/4` uses: offset and code.
    pub extensions: Vec<(u64, u32)>,
    /// joblib array data stepped over (only [`evaluate_stream`] steps).
    pub raw_buffers: Vec<RawBuffer>,
    /// Plain items (numbers, strings, bytes, containers of them) counted
    /// but not held, because no import or call can be reached through them.
    pub summarised: u64,
    /// Why evaluation stopped early (stack underflow, missing memo entry…).
    pub error: Option<Error>,
}

/// Most values one evaluation keeps alive at once (the default of
/// [`EvalLimits::max_live_values`]); past it evaluation stops with
/// [`Error::LimitExceeded`]. Values live in one arena and refer to each
/// other by [`NodeId`], so nothing recurses over the pickle's nesting;
/// values nothing refers to any more are collected as the arena grows.
pub const MAX_NODES: usize = 1 << 23;
/// Longest rendering of a value, in characters.
pub const MAX_RENDER_CHARS: usize = 400;
/// Deepest nesting rendered.
const MAX_RENDER_DEPTH: usize = 12;

impl Evaluation {
    /// An evaluation around bare values, for rendering while evaluating.
    pub(crate) fn view(nodes: Vec<Value>) -> Evaluation {
        Evaluation {
            nodes,
            omitted: HashMap::new(),
            start: 0,
            end: 0,
            protocol: None,
            ops: 0,
            embedded: false,
            result: None,
            imports: Vec::new(),
            calls: Vec::new(),
            extensions: Vec::new(),
            raw_buffers: Vec::new(),
            summarised: 0,
            error: None,
        }
    }

    /// How many values this evaluation holds (the measure of its memory).
    pub fn values_held(&self) -> usize {
        self.nodes.len()
    }

    /// How many plain items were left out of this container (counted, not
    /// held: see [`EvalLimits::kept_items`]).
    pub fn omitted(&self, id: NodeId) -> u64 {
        self.omitted.get(&id).copied().unwrap_or(0)
    }

    /// The value with this id.
    pub fn value(&self, id: NodeId) -> &Value {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.nodes.get(i))
            .unwrap_or(&Value::None)
    }

    /// The imported name a value refers to, when it is a [`Value::Global`].
    pub fn global(&self, id: NodeId) -> Option<(&str, &str)> {
        match self.value(id) {
            Value::Global { module, name, .. } => Some((module, name)),
            _ => None,
        }
    }

    /// A Python-like rendering, bounded in size: `os.system('id')`.
    pub fn render(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.render_into(id, 0, &mut out);
        if out.chars().count() > MAX_RENDER_CHARS {
            out = out.chars().take(MAX_RENDER_CHARS).collect();
            out.push('…');
        }
        out
    }

    /// A value formatted like Python, for `{}` in format strings: the same
    /// text as [`Evaluation::render`].
    pub fn display(&self, id: NodeId) -> impl std::fmt::Display + '_ {
        Rendered {
            evaluation: self,
            id,
        }
    }

    /// The call a call site makes, rendered: `os.system('id')`.
    pub fn render_call(&self, call: &CallSite) -> String {
        match call.kind {
            CallKind::Build => format!(
                "{}.__setstate__({})",
                self.render(call.callable),
                self.render(call.args)
            ),
            _ => self.render(call.callable),
        }
    }

    fn render_list(&self, items: &[NodeId], depth: usize, out: &mut String) {
        for (i, item) in items.iter().enumerate() {
            if out.len() > MAX_RENDER_CHARS * 2 {
                out.push_str(", …");
                return;
            }
            if i > 0 {
                out.push_str(", ");
            }
            self.render_into(*item, depth + 1, out);
        }
    }

    fn render_omitted(&self, id: NodeId, out: &mut String) {
        let omitted = self.omitted(id);
        if omitted > 0 {
            let _ = write!(out, ", …(+{omitted} plain items)");
        }
    }

    fn render_args(&self, args: NodeId, depth: usize, out: &mut String) {
        match self.value(args) {
            Value::Tuple(items) => self.render_list(items, depth, out),
            _ => {
                out.push('*');
                self.render_into(args, depth + 1, out);
            }
        }
    }

    fn render_into(&self, id: NodeId, depth: usize, out: &mut String) {
        if depth > MAX_RENDER_DEPTH || out.len() > MAX_RENDER_CHARS * 2 {
            out.push('…');
            return;
        }
        match self.value(id) {
            Value::None => out.push_str("None"),
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInt(s) => out.push_str(s),
            Value::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            Value::Str(s) => {
                let _ = write!(out, "'{}'", s.escape_default());
            }
            Value::Bytes { len, head } => {
                out.push_str("b'");
                for b in head.iter().take(32) {
                    let _ = write!(out, "{}", std::ascii::escape_default(*b));
                }
                out.push('\'');
                if *len > 32 {
                    let _ = write!(out, "…({len} bytes)");
                }
            }
            Value::List(items) => {
                out.push('[');
                self.render_list(items, depth, out);
                self.render_omitted(id, out);
                out.push(']');
            }
            Value::Tuple(items) => {
                out.push('(');
                self.render_list(items, depth, out);
                if items.len() == 1 {
                    out.push(',');
                }
                self.render_omitted(id, out);
                out.push(')');
            }
            Value::Set(items) | Value::FrozenSet(items) => {
                out.push('{');
                self.render_list(items, depth, out);
                self.render_omitted(id, out);
                out.push('}');
            }
            Value::Dict(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if out.len() > MAX_RENDER_CHARS * 2 {
                        out.push_str(", …");
                        break;
                    }
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.render_into(*k, depth + 1, out);
                    out.push_str(": ");
                    self.render_into(*v, depth + 1, out);
                }
                self.render_omitted(id, out);
                out.push('}');
            }
            Value::Global {
                module,
                name,
                dynamic,
            } => {
                if *dynamic {
                    let _ = write!(out, "<import {module}.{name} computed at load time>");
                } else {
                    let _ = write!(out, "{module}.{name}");
                }
            }
            Value::Call {
                callable,
                args,
                kwargs,
                items,
                appended,
                ..
            } => {
                self.render_into(*callable, depth + 1, out);
                out.push('(');
                self.render_args(*args, depth, out);
                if let Some(kwargs) = kwargs {
                    out.push_str(", **");
                    self.render_into(*kwargs, depth + 1, out);
                }
                out.push(')');
                if !items.is_empty() {
                    out.push_str(" + {");
                    for (i, (k, v)) in items.iter().enumerate() {
                        if out.len() > MAX_RENDER_CHARS * 2 {
                            out.push_str(", …");
                            break;
                        }
                        if i > 0 {
                            out.push_str(", ");
                        }
                        self.render_into(*k, depth + 1, out);
                        out.push_str(": ");
                        self.render_into(*v, depth + 1, out);
                    }
                    out.push('}');
                }
                if !appended.is_empty() {
                    out.push_str(" + [");
                    self.render_list(appended, depth, out);
                    out.push(']');
                }
            }
            Value::PersistentId(pid) => {
                out.push_str("persistent_load(");
                self.render_into(*pid, depth + 1, out);
                out.push(')');
            }
            Value::Ext(code) => {
                let _ = write!(out, "<extension {code}>");
            }
            Value::Buffer => out.push_str("<out-of-band buffer>"),
        }
    }
}

/// [`Evaluation::display`]'s value.
struct Rendered<'a> {
    evaluation: &'a Evaluation,
    id: NodeId,
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.evaluation.render(self.id))
    }
}
