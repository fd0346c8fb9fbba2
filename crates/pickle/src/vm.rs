//! A symbolic pickle machine: follows the stack and memo through every
//! opcode and records what would be imported and called, without importing
//! or calling anything.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::Error;
use crate::ops::{Arg, Opcode, Pickle};

/// Index of a value in an [`Evaluation`]'s arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(u32);

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
    nodes: Vec<Value>,
    /// The value `STOP` returns, if evaluation reached it.
    pub result: Option<NodeId>,
    /// Every import, in order.
    pub imports: Vec<Import>,
    /// Every call, in order.
    pub calls: Vec<CallSite>,
    /// `EXT1/2/4` uses: offset and code.
    pub extensions: Vec<(u64, u32)>,
    /// Why evaluation stopped early (stack underflow, missing memo entry…).
    pub error: Option<Error>,
}

/// Most values one evaluation builds; past it evaluation stops with
/// [`Error::LimitExceeded`]. Values live in one arena and refer to each
/// other by [`NodeId`], so nothing recurses over the pickle's nesting.
pub const MAX_NODES: usize = 1 << 24;
/// Longest rendering of a value, in characters.
pub const MAX_RENDER_CHARS: usize = 400;
/// Deepest nesting rendered.
const MAX_RENDER_DEPTH: usize = 12;

impl Evaluation {
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
                out.push(']');
            }
            Value::Tuple(items) => {
                out.push('(');
                self.render_list(items, depth, out);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::Set(items) | Value::FrozenSet(items) => {
                out.push('{');
                self.render_list(items, depth, out);
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

struct Machine {
    nodes: Vec<Value>,
    stack: Vec<NodeId>,
    metastack: Vec<Vec<NodeId>>,
    memo: HashMap<u64, NodeId>,
    from_memo: HashSet<NodeId>,
    imports: Vec<Import>,
    calls: Vec<CallSite>,
    extensions: Vec<(u64, u32)>,
}

impl Machine {
    fn push(&mut self, value: Value) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(value);
        self.stack.push(id);
        id
    }

    fn node(&mut self, value: Value) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(value);
        id
    }

    fn pop(&mut self, pos: u64, opcode: Opcode) -> Result<NodeId, Error> {
        self.stack.pop().ok_or(Error::StackUnderflow {
            offset: pos,
            opcode: opcode.name(),
        })
    }

    fn top(&self, pos: u64, opcode: Opcode) -> Result<NodeId, Error> {
        self.stack.last().copied().ok_or(Error::StackUnderflow {
            offset: pos,
            opcode: opcode.name(),
        })
    }

    fn pop_mark(&mut self, pos: u64, opcode: Opcode) -> Result<Vec<NodeId>, Error> {
        let previous = self.metastack.pop().ok_or(Error::NoMark {
            offset: pos,
            opcode: opcode.name(),
        })?;
        Ok(std::mem::replace(&mut self.stack, previous))
    }

    fn value_mut(&mut self, id: NodeId) -> Option<&mut Value> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.nodes.get_mut(i))
    }

    fn str_of(&self, id: NodeId) -> Option<&str> {
        match usize::try_from(id.0).ok().and_then(|i| self.nodes.get(i)) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn call(
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
}

fn pairs(items: Vec<NodeId>, pos: u64, opcode: Opcode) -> Result<Vec<(NodeId, NodeId)>, Error> {
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
pub fn evaluate(pickle: &Pickle) -> Evaluation {
    let mut m = Machine {
        nodes: Vec::new(),
        stack: Vec::new(),
        metastack: Vec::new(),
        memo: HashMap::new(),
        from_memo: HashSet::new(),
        imports: Vec::new(),
        calls: Vec::new(),
        extensions: Vec::new(),
    };
    let mut result = None;
    let mut error = None;
    for op in &pickle.ops {
        if m.nodes.len() > MAX_NODES {
            error = Some(Error::LimitExceeded {
                offset: op.pos,
                what: format!("more than {MAX_NODES} values built"),
            });
            break;
        }
        match step(&mut m, op.pos, op.opcode, &op.arg) {
            Ok(Some(value)) => {
                result = Some(value);
                break;
            }
            Ok(None) => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if result.is_none() && error.is_none() {
        error = Some(Error::Truncated {
            offset: pickle.end,
            opcode: "STOP",
            needed: 1,
            available: 0,
        });
    }
    Evaluation {
        nodes: m.nodes,
        result,
        imports: m.imports,
        calls: m.calls,
        extensions: m.extensions,
        error,
    }
}

fn step(m: &mut Machine, pos: u64, opcode: Opcode, arg: &Arg) -> Result<Option<NodeId>, Error> {
    use Opcode as O;
    match opcode {
        O::Mark => {
            let stack = std::mem::take(&mut m.stack);
            m.metastack.push(stack);
        }
        O::Stop => return m.pop(pos, opcode).map(Some),
        O::Pop => {
            if m.stack.is_empty() {
                m.pop_mark(pos, opcode)?;
            } else {
                m.pop(pos, opcode)?;
            }
        }
        O::PopMark => {
            m.pop_mark(pos, opcode)?;
        }
        O::Dup => {
            let top = m.top(pos, opcode)?;
            m.stack.push(top);
        }
        O::None => {
            m.push(Value::None);
        }
        O::NewTrue => {
            m.push(Value::Bool(true));
        }
        O::NewFalse => {
            m.push(Value::Bool(false));
        }
        O::Float
        | O::BinFloat
        | O::Int
        | O::BinInt
        | O::BinInt1
        | O::BinInt2
        | O::Long
        | O::Long1
        | O::Long4 => {
            m.push(match arg {
                Arg::Int(i) => Value::Int(*i),
                Arg::Bool(b) => Value::Bool(*b),
                Arg::BigInt(s) => Value::BigInt(s.clone()),
                Arg::Float(f) => Value::Float(*f),
                _ => Value::None,
            });
        }
        O::String
        | O::BinString
        | O::ShortBinString
        | O::Unicode
        | O::BinUnicode
        | O::ShortBinUnicode
        | O::BinUnicode8 => {
            let text = match arg {
                Arg::Str(s) => s.clone(),
                _ => String::new(),
            };
            m.push(Value::Str(text));
        }
        O::BinBytes | O::ShortBinBytes | O::BinBytes8 | O::ByteArray8 => {
            let (len, head) = match arg {
                Arg::Bytes { len, head, .. } => (*len, head.clone()),
                _ => (0, Vec::new()),
            };
            m.push(Value::Bytes { len, head });
        }
        O::NextBuffer => {
            m.push(Value::Buffer);
        }
        O::ReadonlyBuffer | O::Proto | O::Frame => {}
        O::PersId => {
            let text = match arg {
                Arg::PersistentId(s) => s.clone(),
                _ => String::new(),
            };
            let pid = m.node(Value::Str(text));
            m.push(Value::PersistentId(pid));
        }
        O::BinPersId => {
            let pid = m.pop(pos, opcode)?;
            m.push(Value::PersistentId(pid));
        }
        O::Reduce => {
            let args = m.pop(pos, opcode)?;
            let callable = m.pop(pos, opcode)?;
            m.call(pos, opcode, CallKind::Reduce, callable, args, None);
        }
        O::NewObj => {
            let args = m.pop(pos, opcode)?;
            let class = m.pop(pos, opcode)?;
            m.call(pos, opcode, CallKind::NewObj, class, args, None);
        }
        O::NewObjEx => {
            let kwargs = m.pop(pos, opcode)?;
            let args = m.pop(pos, opcode)?;
            let class = m.pop(pos, opcode)?;
            m.call(pos, opcode, CallKind::NewObjEx, class, args, Some(kwargs));
        }
        O::Obj => {
            let mut items = m.pop_mark(pos, opcode)?;
            if items.is_empty() {
                return Err(Error::BadStack {
                    offset: pos,
                    opcode: opcode.name(),
                    message: "OBJ needs a class after MARK".to_string(),
                });
            }
            let class = items.remove(0);
            let args = m.node(Value::Tuple(items));
            m.call(pos, opcode, CallKind::Obj, class, args, None);
        }
        O::Build => {
            let state = m.pop(pos, opcode)?;
            let target = m.top(pos, opcode)?;
            if let Some(Value::Call { state: slot, .. }) = m.value_mut(target) {
                *slot = Some(state);
            }
            m.calls.push(CallSite {
                pos,
                opcode,
                kind: CallKind::Build,
                callable: target,
                args: state,
            });
        }
        O::Global | O::Inst => {
            let (module, name) = match arg {
                Arg::Global { module, name } => (module.clone(), name.clone()),
                _ => (String::new(), String::new()),
            };
            m.imports.push(Import {
                pos,
                opcode,
                module: module.clone(),
                name: name.clone(),
                source: ImportSource::Literal,
            });
            if opcode == O::Global {
                m.push(Value::Global {
                    module,
                    name,
                    dynamic: false,
                });
            } else {
                let items = m.pop_mark(pos, opcode)?;
                let class = m.node(Value::Global {
                    module,
                    name,
                    dynamic: false,
                });
                let args = m.node(Value::Tuple(items));
                m.call(pos, opcode, CallKind::Inst, class, args, None);
            }
        }
        O::StackGlobal => {
            let name = m.pop(pos, opcode)?;
            let module = m.pop(pos, opcode)?;
            let source = if m.from_memo.contains(&name) || m.from_memo.contains(&module) {
                ImportSource::Memo
            } else {
                ImportSource::Literal
            };
            let (module_text, name_text, dynamic) = match (m.str_of(module), m.str_of(name)) {
                (Some(module), Some(name)) => (module.to_string(), name.to_string(), false),
                _ => {
                    let view = Evaluation {
                        nodes: std::mem::take(&mut m.nodes),
                        result: None,
                        imports: Vec::new(),
                        calls: Vec::new(),
                        extensions: Vec::new(),
                        error: None,
                    };
                    let rendered = (view.render(module), view.render(name));
                    m.nodes = view.nodes;
                    (rendered.0, rendered.1, true)
                }
            };
            m.imports.push(Import {
                pos,
                opcode,
                module: module_text.clone(),
                name: name_text.clone(),
                source: if dynamic {
                    ImportSource::Dynamic
                } else {
                    source
                },
            });
            m.push(Value::Global {
                module: module_text,
                name: name_text,
                dynamic,
            });
        }
        O::Ext1 | O::Ext2 | O::Ext4 => {
            let code = match arg {
                Arg::Ext(code) => *code,
                _ => 0,
            };
            m.extensions.push((pos, code));
            m.push(Value::Ext(code));
        }
        O::EmptyDict => {
            m.push(Value::Dict(Vec::new()));
        }
        O::Dict => {
            let items = m.pop_mark(pos, opcode)?;
            let pairs = pairs(items, pos, opcode)?;
            m.push(Value::Dict(pairs));
        }
        O::EmptyList => {
            m.push(Value::List(Vec::new()));
        }
        O::List => {
            let items = m.pop_mark(pos, opcode)?;
            m.push(Value::List(items));
        }
        O::EmptyTuple => {
            m.push(Value::Tuple(Vec::new()));
        }
        O::Tuple => {
            let items = m.pop_mark(pos, opcode)?;
            m.push(Value::Tuple(items));
        }
        O::Tuple1 | O::Tuple2 | O::Tuple3 => {
            let n = match opcode {
                O::Tuple1 => 1,
                O::Tuple2 => 2,
                _ => 3,
            };
            if m.stack.len() < n {
                return Err(Error::StackUnderflow {
                    offset: pos,
                    opcode: opcode.name(),
                });
            }
            let items = m.stack.split_off(m.stack.len() - n);
            m.push(Value::Tuple(items));
        }
        O::EmptySet => {
            m.push(Value::Set(Vec::new()));
        }
        O::FrozenSet => {
            let items = m.pop_mark(pos, opcode)?;
            m.push(Value::FrozenSet(items));
        }
        O::Append | O::Appends | O::AddItems => {
            let items = if opcode == O::Append {
                vec![m.pop(pos, opcode)?]
            } else {
                m.pop_mark(pos, opcode)?
            };
            let target = m.top(pos, opcode)?;
            // Appending to another object calls its append/extend: the
            // object's import is already recorded.
            match m.value_mut(target) {
                Some(Value::List(list) | Value::Set(list)) => list.extend(items),
                Some(Value::Call { appended, .. }) => appended.extend(items),
                _ => {}
            }
        }
        O::SetItem | O::SetItems => {
            let new_pairs = if opcode == O::SetItem {
                let value = m.pop(pos, opcode)?;
                let key = m.pop(pos, opcode)?;
                vec![(key, value)]
            } else {
                let items = m.pop_mark(pos, opcode)?;
                pairs(items, pos, opcode)?
            };
            let target = m.top(pos, opcode)?;
            if let Some(Value::Dict(dict) | Value::Call { items: dict, .. }) = m.value_mut(target) {
                dict.extend(new_pairs);
            }
        }
        O::Get | O::BinGet | O::LongBinGet => {
            let index = match arg {
                Arg::Index(i) => *i,
                _ => 0,
            };
            let id = *m
                .memo
                .get(&index)
                .ok_or(Error::MissingMemo { offset: pos, index })?;
            m.from_memo.insert(id);
            m.stack.push(id);
        }
        O::Put | O::BinPut | O::LongBinPut => {
            let index = match arg {
                Arg::Index(i) => *i,
                _ => 0,
            };
            let top = m.top(pos, opcode)?;
            m.memo.insert(index, top);
        }
        O::Memoize => {
            let top = m.top(pos, opcode)?;
            let index = u64::try_from(m.memo.len()).unwrap_or(u64::MAX);
            m.memo.insert(index, top);
        }
    }
    Ok(None)
}
