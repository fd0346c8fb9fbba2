//! Pickle verdicts: every import and call the symbolic machine traced,
//! judged against the allow and deny lists.

use modelgate_formats::pickle::{self, CallKind, Evaluation, ImportSource, Pickle, Value};

use crate::engine::finding;
use crate::rules::{Verdict, pickle_rules};
use crate::{Finding, Location, Severity};

/// Scan every pickle in a stream. `base_offset` is where the stream starts
/// in its member (for object arrays inside `.npy` files).
pub(crate) fn scan_pickle_stream(
    bytes: &[u8],
    member: &str,
    base_offset: u64,
    findings: &mut Vec<Finding>,
) {
    let disassembly = pickle::disassemble_all(bytes);
    for (index, pickle) in disassembly.pickles.iter().enumerate() {
        judge_at(
            pickle,
            member,
            base_offset,
            Some(u64::try_from(index).unwrap_or(u64::MAX)),
            findings,
        );
    }
    if let Some(error) = disassembly.error {
        let offset = error_offset(&error).map(|o| o + base_offset);
        findings.push(finding(
            "pickle.unparseable",
            Severity::High,
            format!(
                "the pickle stream cannot be fully read ({error}); what follows was not verified"
            ),
            Location {
                member: member_of(member),
                offset,
                ..Location::default()
            },
            None,
        ));
    }
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

/// Judge one already-disassembled pickle.
pub(crate) fn judge(pickle: &Pickle, member: &str, findings: &mut Vec<Finding>) {
    judge_at(pickle, member, 0, None, findings);
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

fn judge_at(
    pickle: &Pickle,
    member: &str,
    base_offset: u64,
    index: Option<u64>,
    findings: &mut Vec<Finding>,
) {
    let evaluation = pickle::evaluate(pickle);
    let location = |pos: u64| Location {
        member: member_of(member),
        offset: Some(pos + base_offset),
        pickle_index: index,
        ..Location::default()
    };
    let rules = pickle_rules();
    for import in &evaluation.imports {
        let dotted = format!("{}.{}", import.module, import.name);
        let evidence =
            call_using(&evaluation, &import.module, &import.name).unwrap_or_else(|| dotted.clone());
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
            continue;
        }
        let verdict = rules.classify(&import.module, &import.name);
        if matches!(verdict, Verdict::Safe(_)) {
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
            continue;
        }
        match verdict {
            Verdict::Safe(_) => {}
            Verdict::Dangerous(why) => findings.push(finding(
                "pickle.dangerous-import",
                Severity::Critical,
                format!("{} imports `{dotted}`, which {why}{via}", import.opcode.name()),
                location(import.pos),
                Some(evidence),
            )),
            Verdict::Unknown => findings.push(finding(
                "pickle.unknown-import",
                Severity::Medium,
                format!("{} imports `{dotted}`, which is in neither the safe nor the dangerous list; review what it does when called{via}", import.opcode.name()),
                location(import.pos),
                Some(evidence),
            )),
        }
    }
    for call in &evaluation.calls {
        // BUILD on an imported module or class (not an instance) rewrites
        // the loader's environment: a known way to smuggle names past lists.
        if call.kind == CallKind::Build
            && let Value::Global { module, name, .. } = evaluation.value(call.callable)
        {
            findings.push(finding(
                "pickle.dangerous-import",
                Severity::Critical,
                format!("BUILD sets attributes on the imported object `{module}.{name}`, changing code the loader will run"),
                location(call.pos),
                Some(evaluation.render_call(call)),
            ));
        }
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
        findings.push(finding(
            "pickle.unparseable",
            Severity::High,
            format!(
                "the pickle cannot be evaluated to the end ({error}); it was not fully verified"
            ),
            Location {
                offset: error_offset(error).map(|o| o + base_offset),
                ..location(pickle.start)
            },
            None,
        ));
    }
}

/// The rendered call that uses an import, as evidence (`os.system('id')`).
fn call_using(evaluation: &Evaluation, module: &str, name: &str) -> Option<String> {
    evaluation.calls.iter().find_map(|call| {
        let Value::Call { callable, .. } = evaluation.value(call.callable) else {
            return None;
        };
        (evaluation.global(*callable) == Some((module, name))).then(|| evaluation.render_call(call))
    })
}
