//! One opcode's effect on the machine.

use crate::Error;
use crate::joblib::joblib_array;
use crate::machine::*;
use crate::ops::{Arg, Opcode};
use crate::vm::{CallKind, CallSite, Evaluation, Import, ImportSource, Value};

pub(crate) fn step(m: &mut Machine<'_>, pos: u64, opcode: Opcode, arg: Arg) -> Result<Flow, Halt> {
    use Opcode as O;
    match opcode {
        O::Mark => {
            let full = m.stack.last().is_some_and(|target| m.is_full(*target));
            let stack = std::mem::take(&mut m.stack);
            m.metastack.push(stack);
            m.frames.push((full, m.deferred.len()));
        }
        O::Stop => return Ok(Flow::Stop(m.pop(pos, opcode)?)),
        O::Pop => {
            if m.stack.is_empty() {
                m.pop_mark_raw(pos, opcode)?;
                m.release_deferred();
            } else {
                m.pop_raw(pos, opcode)?;
            }
        }
        O::PopMark => {
            m.pop_mark_raw(pos, opcode)?;
            m.release_deferred();
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
                Arg::Int(i) => Value::Int(i),
                Arg::Bool(b) => Value::Bool(b),
                Arg::BigInt(s) => Value::BigInt(s),
                Arg::Float(f) => Value::Float(f),
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
                Arg::Str(s) => s,
                _ => String::new(),
            };
            m.push(Value::Str(text));
        }
        O::BinBytes | O::ShortBinBytes | O::BinBytes8 | O::ByteArray8 => {
            let (len, head) = match arg {
                Arg::Bytes { len, head, .. } => (len, head),
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
                Arg::PersistentId(s) => s,
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
                }
                .into());
            }
            let class = items.remove(0);
            let args = m.node(Value::Tuple(items));
            m.call(pos, opcode, CallKind::Obj, class, args, None);
        }
        O::Build => {
            let state = m.pop(pos, opcode)?;
            let target = m.top(pos, opcode)?;
            let state_impure = m.is_impure(state);
            if let Some(Value::Call { state: slot, .. }) = m.nodes.get_mut(index(target)) {
                *slot = Some(state);
            }
            if state_impure && let Some(flag) = m.impure.get_mut(index(target)) {
                *flag = true;
            }
            m.calls.push(CallSite {
                pos,
                opcode,
                kind: CallKind::Build,
                callable: target,
                args: state,
            });
            if m.joblib
                && let Some(buffer) = joblib_array(m, pos, target, state)
            {
                return Ok(Flow::Skip(buffer?));
            }
        }
        O::Global | O::Inst => {
            let (module, name) = match arg {
                Arg::Global { module, name } => (module, name),
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
                    let view = Evaluation::view(std::mem::take(&mut m.nodes));
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
                Arg::Ext(code) => code,
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
            let id = m.next_id();
            let pairs = m.keep_pairs(id, pairs, 0);
            let real = m.push(Value::Dict(pairs));
            m.moved_omitted(id, real);
        }
        O::EmptyList => {
            m.push(Value::List(Vec::new()));
        }
        O::List => {
            let items = m.pop_mark(pos, opcode)?;
            m.container(Value::List, items);
        }
        O::EmptyTuple => {
            m.push(Value::Tuple(Vec::new()));
        }
        O::Tuple => {
            let items = m.pop_mark(pos, opcode)?;
            m.container(Value::Tuple, items);
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
                }
                .into());
            }
            let items = m.stack.split_off(m.stack.len() - n);
            let items = items.into_iter().map(|id| m.real(id)).collect();
            m.push(Value::Tuple(items));
        }
        O::EmptySet => {
            m.push(Value::Set(Vec::new()));
        }
        O::FrozenSet => {
            let items = m.pop_mark(pos, opcode)?;
            m.container(Value::FrozenSet, items);
        }
        O::Append | O::Appends | O::AddItems => {
            let items = if opcode == O::Append {
                vec![m.pop(pos, opcode)?]
            } else {
                m.pop_mark_raw(pos, opcode)?
            };
            let target = m.top(pos, opcode)?;
            let impure = items.iter().any(|i| m.is_impure(*i));
            // Appending to another object calls its append/extend: the
            // object's import is already recorded.
            let already = match m.value(target) {
                Some(Value::List(list) | Value::Set(list)) => Some(list.len()),
                Some(Value::Call { appended, .. }) => Some(appended.len()),
                _ => None,
            };
            if let Some(already) = already {
                let items = m.keep(target, items, already);
                match m.nodes.get_mut(index(target)) {
                    Some(Value::List(list) | Value::Set(list)) => list.extend(items),
                    Some(Value::Call { appended, .. }) => appended.extend(items),
                    _ => {}
                }
                if impure && let Some(flag) = m.impure.get_mut(index(target)) {
                    *flag = true;
                }
            }
            m.release_deferred();
        }
        O::SetItem | O::SetItems => {
            let new_pairs = if opcode == O::SetItem {
                let value = m.pop(pos, opcode)?;
                let key = m.pop(pos, opcode)?;
                vec![(key, value)]
            } else {
                let items = m.pop_mark_raw(pos, opcode)?;
                pairs(items, pos, opcode)?
            };
            let target = m.top(pos, opcode)?;
            let impure = new_pairs
                .iter()
                .any(|(k, v)| m.is_impure(*k) || m.is_impure(*v));
            let already = match m.value(target) {
                Some(Value::Dict(dict) | Value::Call { items: dict, .. }) => Some(dict.len()),
                _ => None,
            };
            if let Some(already) = already {
                let new_pairs = m.keep_pairs(target, new_pairs, already);
                if let Some(Value::Dict(dict) | Value::Call { items: dict, .. }) =
                    m.nodes.get_mut(index(target))
                {
                    dict.extend(new_pairs);
                }
                if impure && let Some(flag) = m.impure.get_mut(index(target)) {
                    *flag = true;
                }
            }
            m.release_deferred();
        }
        O::Get | O::BinGet | O::LongBinGet => {
            let index = match arg {
                Arg::Index(i) => i,
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
                Arg::Index(i) => i,
                _ => 0,
            };
            let top = m.top(pos, opcode)?;
            m.memo_put(pos, index, top)?;
        }
        O::Memoize => {
            let top = m.top(pos, opcode)?;
            let index = m.memo_len();
            m.saw_memoize = true;
            m.memo_put(pos, index, top)?;
        }
    }
    Ok(Flow::Next)
}
