//! Pickle verdicts: every import and call the symbolic machine traced,
//! judged against the allow and deny lists.
//!
//! The allow list decides. A callable the pickle *invokes* (`REDUCE`,
//! `NEWOBJ`, `NEWOBJ_EX`, `OBJ`, `INST`, or `BUILD` through the
//! `__setstate__` of an object whose class is not allow-listed) and that is
//! not on the safe list is `high`; a private name of a standard-library
//! module, invoked, is `critical`; a name the deny list knows is `critical`
//! whether or not it is called. An import that is only referenced (a class
//! handed to a safe constructor as data) stays `medium`.

use std::collections::{BTreeMap, HashSet};

use modelgate_formats::pickle::{
    self, CallKind, CallSite, EvalLimits, Evaluation, ImportSource, NodeId, Pickle, Value,
};

use crate::engine::finding;
use crate::rules::{Verdict, constructs_arguments, is_private_stdlib, pickle_rules};
use crate::{Finding, Location, Severity};

/// Scan every pickle in a stream, reading it once, opcode by opcode, and
/// stepping over joblib array data. `base_offset` is where the stream
/// starts in its member (for object arrays inside `.npy` files).
pub(crate) fn scan_pickle_stream(
    bytes: &[u8],
    member: &str,
    base_offset: u64,
    findings: &mut Vec<Finding>,
) {
    let mut index = 0u64;
    pickle::evaluate_stream_each(bytes, &EvalLimits::default(), |evaluation| {
        judge_evaluation(&evaluation, member, base_offset, Some(index), findings);
        index += 1;
    });
}

fn member_of(member: &str) -> Option<String> {
    (!member.is_empty()).then(|| member.to_string())
}

fn error_offset(error: &pickle::Error) -> Option<u64> {
    match error {
        pickle::Error::UnknownOpcode { offset, .. }
        | pickle::Error::Truncated { offset, .. }
        | pickle::Error::BadArgument { offset, .. }
        | pickle::Error::LimitExceeded { offset, .. }
        | pickle::Error::StackUnderflow { offset, .. }
        | pickle::Error::NoMark { offset, .. }
        | pickle::Error::MissingMemo { offset, .. }
        | pickle::Error::BadStack { offset, .. } => Some(*offset),
        _ => None,
    }
}

/// Judge one already-disassembled pickle (the pickles of a PyTorch
/// checkpoint, which its reader has already located).
pub(crate) fn judge(pickle: &Pickle, member: &str, findings: &mut Vec<Finding>) {
    judge_evaluation(&pickle::evaluate(pickle), member, 0, None, findings);
}

/// Whether an imported name walks attributes into Python internals
/// (`prod.__globals__`, `__builtins__.exec`).
fn reaches_internals(module: &str, name: &str) -> bool {
    name.split('.').chain(module.split('.')).any(|part| {
        part.starts_with("__")
            && part.ends_with("__")
            && part.len() > 4
            && part != "__main__"
            && part != "__builtin__"
    })
}

/// One invoked callable: where it is first invoked, how often, and the
/// first call as evidence.
struct Invoked {
    pos: u64,
    count: u64,
    evidence: String,
    how: &'static str,
}

/// What a call site invokes: the imported names that run when it does.
/// A constructor wrapper (`copyreg._reconstructor(cls, …)`) also invokes
/// the class it is handed; `BUILD` invokes the built object's
/// `__setstate__`, so the object's class.
fn invoked_names<'e>(
    evaluation: &'e Evaluation,
    call: &CallSite,
) -> Vec<(&'e str, &'e str, &'static str)> {
    let mut out = Vec::new();
    let Value::Call { callable, args, .. } = evaluation.value(call.callable) else {
        return out;
    };
    let class = match evaluation.global(*callable) {
        Some((module, name)) if constructs_arguments(module, name) => {
            if call.kind != CallKind::Build {
                out.push((module, name, "calls"));
            }
            // Every class handed to it is instantiated; the object built is
            // of the first.
            let classes = arguments(evaluation, *args)
                .iter()
                .filter_map(|a| evaluation.global(*a))
                .collect::<Vec<_>>();
            if call.kind != CallKind::Build {
                for (module, name) in classes.iter().skip(1) {
                    out.push((module, name, "instantiates, through a safe-listed helper,"));
                }
            }
            classes.first().copied()
        }
        other => other,
    };
    // joblib rebuilds an array of the wrapper's `subclass` when it loads it.
    if call.kind == CallKind::Build
        && let Some((module, "NumpyArrayWrapper")) = class
        && module.ends_with("joblib.numpy_pickle")
        && let Value::Dict(pairs) = evaluation.value(call.args)
    {
        for (key, value) in pairs {
            if matches!(evaluation.value(*key), Value::Str(k) if k == "subclass")
                && let Some((module, name)) = evaluation.global(*value)
            {
                out.push((module, name, "rebuilds a joblib array as"));
            }
        }
    }
    if let Some((module, name)) = class {
        out.push((
            module,
            name,
            if call.kind == CallKind::Build {
                "restores the state (through __setstate__) of an object of class"
            } else {
                "calls"
            },
        ));
    }
    out
}

/// joblib's legacy array placeholders (`NDArrayWrapper`, 0.9 to 0.11)
/// load their array from a side file named in their state, with
/// `np.load(allow_pickle=True)`: a name that is absolute or climbs out of
/// the directory reaches any file, and any pickle in it.
fn escaping_side_file<'e>(evaluation: &'e Evaluation, call: &CallSite) -> Option<&'e str> {
    let Value::Call { callable, .. } = evaluation.value(call.callable) else {
        return None;
    };
    let (module, name) = evaluation.global(*callable)?;
    if !(module.ends_with("numpy_pickle") || module.ends_with("numpy_pickle_compat"))
        || !name.ends_with("NDArrayWrapper")
    {
        return None;
    }
    let Value::Dict(pairs) = evaluation.value(call.args) else {
        return None;
    };
    pairs.iter().find_map(|(key, value)| {
        let (Value::Str(key), Value::Str(file)) =
            (evaluation.value(*key), evaluation.value(*value))
        else {
            return None;
        };
        let bytes = file.as_bytes();
        let absolute = file.starts_with(['/', '\\'])
            || (bytes.get(1) == Some(&b':') && bytes.first().is_some_and(u8::is_ascii_alphabetic));
        let climbs = file.split(['/', '\\']).any(|part| part == "..");
        (key == "filename" && (absolute || climbs)).then_some(file.as_str())
    })
}

fn is_getattr(module: &str, name: &str) -> bool {
    name == "getattr" && (module == "builtins" || module == "__builtin__")
}

/// Whether the value at `id` is a call of `getattr`.
fn calls_getattr(evaluation: &Evaluation, id: NodeId) -> bool {
    match evaluation.value(id) {
        Value::Call { callable, .. } => evaluation
            .global(*callable)
            .is_some_and(|(module, name)| is_getattr(module, name)),
        _ => false,
    }
}

/// `getattr(module.Class, 'name')` with constant operands: the method it
/// looks up, as `(module, "Class.name")`.
fn method_lookup(evaluation: &Evaluation, id: NodeId) -> Option<(&str, String)> {
    if !calls_getattr(evaluation, id) {
        return None;
    }
    let Value::Call { args, .. } = evaluation.value(id) else {
        return None;
    };
    let [owner, attribute] = arguments(evaluation, *args) else {
        return None;
    };
    let (module, name) = evaluation.global(*owner)?;
    match evaluation.value(*attribute) {
        Value::Str(attribute) if !attribute.is_empty() && !attribute.contains('.') => {
            Some((module, format!("{name}.{attribute}")))
        }
        _ => None,
    }
}

/// The class a legacy PyTorch persistent id `('module', cls, file,
/// source)` stands for: torch's `persistent_load` returns `cls` itself.
fn torch_module_class(evaluation: &Evaluation, id: NodeId) -> Option<(&str, &str)> {
    let Value::PersistentId(pid) = evaluation.value(id) else {
        return None;
    };
    let Value::Tuple(items) = evaluation.value(*pid) else {
        return None;
    };
    match evaluation.value(*items.first()?) {
        Value::Str(kind) if kind == "module" => evaluation.global(*items.get(1)?),
        _ => None,
    }
}

fn arguments(evaluation: &Evaluation, args: NodeId) -> &[NodeId] {
    match evaluation.value(args) {
        Value::Tuple(items) => items,
        _ => &[],
    }
}

fn judge_evaluation(
    evaluation: &Evaluation,
    member: &str,
    base_offset: u64,
    index: Option<u64>,
    findings: &mut Vec<Finding>,
) {
    let location = |pos: u64| Location {
        member: member_of(member),
        offset: Some(pos + base_offset),
        pickle_index: index,
        ..Location::default()
    };
    let rules = pickle_rules();

    // CPython pickles a method as `getattr(Class, 'name')`. When every
    // getattr the pickle calls has constant operands naming a safe-listed
    // method, and getattr is imported no more often than it is so called,
    // getattr only looks those methods up: judge the methods instead.
    let getattr_calls: Vec<&CallSite> = evaluation
        .calls
        .iter()
        .filter(|call| call.kind != CallKind::Build && calls_getattr(evaluation, call.callable))
        .collect();
    let getattr_imports = evaluation
        .imports
        .iter()
        .filter(|i| is_getattr(&i.module, &i.name))
        .count();
    let methods_only = !getattr_calls.is_empty()
        && getattr_imports <= getattr_calls.len()
        && getattr_calls.iter().all(|call| {
            method_lookup(evaluation, call.callable).is_some_and(|(module, name)| {
                matches!(rules.classify(module, &name), Verdict::Safe(_))
            })
        });

    // Every callable invoked, by name, in order of first invocation.
    let mut invoked: BTreeMap<(String, String), Invoked> = BTreeMap::new();
    let mut computed: Vec<&CallSite> = Vec::new();
    for call in &evaluation.calls {
        if methods_only && calls_getattr(evaluation, call.callable) && call.kind != CallKind::Build
        {
            continue;
        }
        match (call.kind, evaluation.value(call.callable)) {
            // BUILD on an imported module or class (not an instance)
            // rewrites the loader's environment: a known way to smuggle
            // names past lists.
            (CallKind::Build, Value::Global { module, name, .. }) => {
                findings.push(finding(
                    "pickle.dangerous-import",
                    Severity::Critical,
                    format!("BUILD sets attributes on the imported object `{module}.{name}`, changing code the loader will run"),
                    location(call.pos),
                    Some(evaluation.render_call(call)),
                ));
                continue;
            }
            (CallKind::Build, Value::Call { .. }) => {
                if let Some(file) = escaping_side_file(evaluation, call) {
                    findings.push(finding(
                        "pickle.side-file-escape",
                        Severity::Critical,
                        format!("a joblib array placeholder names the side file '{file}', outside the model's directory: joblib.load would read it with allow_pickle=True"),
                        location(call.pos),
                        Some(evaluation.render_call(call)),
                    ));
                }
            }
            // BUILD on plain data, a persistent id or a buffer sets no code.
            (CallKind::Build, _) => continue,
            (_, Value::Call { callable, .. }) => {
                // Legacy torch.save of a whole module names each class as a
                // persistent id ('module', cls, file, source) that
                // persistent_load turns into `cls`: calling it calls `cls`.
                if let Some((module, name)) = torch_module_class(evaluation, *callable) {
                    if !matches!(rules.classify(module, name), Verdict::Safe(_)) {
                        invoked
                            .entry((module.to_string(), name.to_string()))
                            .and_modify(|seen| seen.count += 1)
                            .or_insert_with(|| Invoked {
                                pos: call.pos,
                                count: 1,
                                evidence: evaluation.render_call(call),
                                how: "calls (restored by torch's legacy persistent_load)",
                            });
                    }
                    continue;
                }
                // A method looked up with getattr(Class, 'name'), called.
                // (A deny-listed method's owner is reported as an import.)
                if let Some((module, name)) = method_lookup(evaluation, *callable) {
                    if rules.classify(module, &name) == Verdict::Unknown {
                        invoked
                            .entry((module.to_string(), name))
                            .and_modify(|seen| seen.count += 1)
                            .or_insert_with(|| Invoked {
                                pos: call.pos,
                                count: 1,
                                evidence: evaluation.render_call(call),
                                how: "calls the method",
                            });
                    }
                    continue;
                }
                // Extension codes are reported as such, below.
                if evaluation.global(*callable).is_none()
                    && !matches!(evaluation.value(*callable), Value::Ext(_))
                {
                    computed.push(call);
                    continue;
                }
            }
            _ => continue,
        }
        for (module, name, how) in invoked_names(evaluation, call) {
            if matches!(rules.classify(module, name), Verdict::Safe(_)) {
                continue;
            }
            invoked
                .entry((module.to_string(), name.to_string()))
                .and_modify(|seen| seen.count += 1)
                .or_insert_with(|| Invoked {
                    pos: call.pos,
                    count: 1,
                    evidence: evaluation.render_call(call),
                    how,
                });
        }
    }
    let mut reported: HashSet<(String, String)> = HashSet::new();
    for import in &evaluation.imports {
        let dotted = format!("{}.{}", import.module, import.name);
        let key = (import.module.clone(), import.name.clone());
        let evidence = invoked
            .get(&key)
            .map(|i| i.evidence.clone())
            .unwrap_or_else(|| dotted.clone());
        let via = match import.source {
            ImportSource::Memo => " (names fetched from the memo)",
            _ => "",
        };
        if import.source == ImportSource::Dynamic {
            findings.push(finding(
                "pickle.dynamic-import",
                Severity::Critical,
                format!("{} imports a name computed while loading, which cannot be checked before it runs", import.opcode.name()),
                location(import.pos),
                Some(format!("{}: module {} name {}", import.opcode.name(), import.module, import.name)),
            ));
            reported.insert(key);
            continue;
        }
        let verdict = rules.classify(&import.module, &import.name);
        if matches!(verdict, Verdict::Safe(_))
            || (methods_only && is_getattr(&import.module, &import.name))
        {
            continue;
        }
        if reaches_internals(&import.module, &import.name) {
            findings.push(finding(
                "pickle.dangerous-import",
                Severity::Critical,
                format!(
                    "{} imports `{dotted}`, an attribute path into Python internals{via}",
                    import.opcode.name()
                ),
                location(import.pos),
                Some(evidence),
            ));
            reported.insert(key);
            continue;
        }
        match verdict {
            Verdict::Safe(_) => {}
            Verdict::Dangerous(why) => {
                findings.push(finding(
                    "pickle.dangerous-import",
                    Severity::Critical,
                    format!(
                        "{} imports `{dotted}`, which {why}{via}",
                        import.opcode.name()
                    ),
                    location(import.pos),
                    Some(evidence),
                ));
                reported.insert(key);
            }
            // Invoked unknown names are judged below, as calls.
            Verdict::Unknown if invoked.contains_key(&key) => {}
            Verdict::Unknown => {
                if reported.insert(key) {
                    findings.push(finding(
                        "pickle.unknown-import",
                        Severity::Medium,
                        format!("{} imports `{dotted}`, which is in neither the safe nor the dangerous list; it is referenced but never called while loading{via}", import.opcode.name()),
                        location(import.pos),
                        Some(evidence),
                    ));
                }
            }
        }
    }

    for ((module, name), call) in &invoked {
        if reported.contains(&(module.clone(), name.clone())) {
            continue;
        }
        let dotted = format!("{module}.{name}");
        let more = match call.count {
            1 => String::new(),
            n => format!(" ({n} times)"),
        };
        let (rule, severity, why) = if is_private_stdlib(module, name) {
            (
                "pickle.private-call",
                Severity::Critical,
                "a private name of a standard-library module, not meant to be called from outside it",
            )
        } else {
            (
                "pickle.unsafe-call",
                Severity::High,
                "not on the safe list; loading runs its code",
            )
        };
        findings.push(finding(
            rule,
            severity,
            format!("loading {} `{dotted}`{more}: {why}", call.how),
            location(call.pos),
            Some(call.evidence.clone()),
        ));
    }

    for call in computed {
        findings.push(finding(
            "pickle.computed-callable",
            Severity::High,
            format!(
                "{} calls a value built while loading, not an imported name, so what runs cannot be checked",
                call.opcode.name()
            ),
            location(call.pos),
            Some(evaluation.render_call(call)),
        ));
    }

    for (pos, code) in &evaluation.extensions {
        findings.push(finding(
            "pickle.extension-registry",
            Severity::High,
            format!("EXT opcode imports extension code {code} from the copyreg registry, which depends on the loading process"),
            location(*pos),
            Some(format!("extension {code}")),
        ));
    }
    if let Some(error) = &evaluation.error {
        let message = match error {
            pickle::Error::LimitExceeded { .. } => {
                format!("the pickle stopped at a limit ({error}); what follows was not verified")
            }
            _ => format!(
                "the pickle cannot be read to the end ({error}); what follows was not verified"
            ),
        };
        findings.push(finding(
            "pickle.unparseable",
            Severity::High,
            message,
            Location {
                offset: error_offset(error).map(|o| o + base_offset),
                ..location(evaluation.start)
            },
            None,
        ));
    }
}
