//! The disassembler against `pickletools.genops` on pickles written by
//! CPython, and the evaluator's trace on malicious pickles
//! (`tests/data/pickle`, from `scripts/testdata/make_pickle.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use modelgate_pickle::{
    Arg, CallKind, Error, ImportSource, Opcode, Value, disassemble, disassemble_all,
    disassemble_one, evaluate,
};
use serde_json::Value as Json;

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/pickle")
        .join(sub)
}

fn read(sub: &str, name: &str) -> Vec<u8> {
    std::fs::read(dir(sub).join(name)).unwrap()
}

/// Compare one of our arguments with pickletools' (as the generator wrote it).
fn same_arg(ours: &Arg, theirs: &Json) -> bool {
    match (ours, theirs) {
        (Arg::None, Json::Null) => true,
        (Arg::Int(a), Json::Number(b)) => b.as_i64() == Some(*a),
        (Arg::Index(a), Json::Number(b)) => b.as_u64() == Some(*a),
        (Arg::Protocol(a), Json::Number(b)) => b.as_u64() == Some(u64::from(*a)),
        (Arg::FrameLen(a), Json::Number(b)) => b.as_u64() == Some(*a),
        (Arg::Ext(a), Json::Number(b)) => b.as_u64() == Some(u64::from(*a)),
        (Arg::Bool(a), Json::Bool(b)) => a == b,
        (Arg::Float(a), Json::Number(b)) => b.as_f64() == Some(*a),
        (Arg::Str(a) | Arg::PersistentId(a), Json::String(b)) => a == b,
        (Arg::Global { module, name }, Json::String(b)) => *b == format!("{module} {name}"),
        (Arg::Bytes { len, .. }, Json::Object(b)) => b["bytes"].as_u64() == Some(*len),
        (Arg::BigInt(a), Json::Object(b)) => b["bigint"].as_str() == Some(a),
        _ => false,
    }
}

#[test]
fn every_opcode_matches_pickletools() {
    let mut seen = HashSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(dir("ok")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".ops.json") else {
            continue;
        };
        let pickle_name = format!("{}.pkl", stem.trim_end_matches(".first"));
        let expected: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let pickles =
            disassemble(&read("ok", &pickle_name)).unwrap_or_else(|e| panic!("{pickle_name}: {e}"));
        let ops = &pickles[0].ops;
        let expected = expected.as_array().unwrap();
        assert_eq!(ops.len(), expected.len(), "{pickle_name}");
        for (op, theirs) in ops.iter().zip(expected) {
            assert_eq!(op.pos, theirs[0].as_u64().unwrap(), "{pickle_name}");
            assert_eq!(
                op.opcode.name(),
                theirs[1].as_str().unwrap(),
                "{pickle_name} at {}",
                op.pos
            );
            assert!(
                same_arg(&op.arg, &theirs[2]),
                "{pickle_name} at {}: {:?} vs {}",
                op.pos,
                op.arg,
                theirs[2]
            );
            seen.insert(op.opcode);
        }
        // Every pickle evaluates to a value without error.
        for pickle in &pickles {
            let evaluation = evaluate(pickle);
            assert!(
                evaluation.error.is_none(),
                "{pickle_name}: {:?}",
                evaluation.error
            );
        }
        files += 1;
    }
    assert!(files >= 10);
    let missing: Vec<&str> = Opcode::ALL
        .iter()
        .filter(|op| !seen.contains(op))
        .map(|op| op.name())
        .collect();
    assert!(missing.is_empty(), "opcodes without a test: {missing:?}");
}

#[test]
fn streams_hold_several_pickles() {
    let pickles = disassemble(&read("ok", "two.pkl")).unwrap();
    assert_eq!(pickles.len(), 2);
    assert_eq!(pickles[0].protocol, Some(2));
    assert_eq!(pickles[1].start, pickles[0].end);
    let second = disassemble_one(
        &read("ok", "two.pkl"),
        usize::try_from(pickles[1].start).unwrap(),
    )
    .unwrap();
    assert_eq!(second, pickles[1]);
}

#[test]
fn evaluation_follows_the_memo() {
    let pickles = disassemble(&read("ok", "memo_persid_2.pkl")).unwrap();
    let evaluation = evaluate(&pickles[0]);
    let rendered = evaluation.render(evaluation.result.unwrap());
    assert!(rendered.starts_with("[[[0], [1], [2]"), "{rendered}");
    let Value::List(items) = evaluation.value(evaluation.result.unwrap()) else {
        panic!("not a list")
    };
    assert_eq!(
        evaluation.render(items[2]),
        "persistent_load(('storage', '-1'))"
    );
    // The reversed list holds the same (memoized) lists.
    let (Value::List(first), Value::List(second)) =
        (evaluation.value(items[0]), evaluation.value(items[1]))
    else {
        panic!("not lists")
    };
    assert_eq!(first[0], second[299]);
}

#[test]
fn malformed_pickles_name_the_offset() {
    let bad = read("err", "unknown_opcode.pkl");
    let last = u64::try_from(bad.len() - 1).unwrap();
    assert!(
        matches!(disassemble(&bad), Err(Error::UnknownOpcode { offset, byte: 0xff }) if offset == last)
    );
    assert!(matches!(
        disassemble(&read("err", "truncated.pkl")),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        disassemble(&read("err", "huge_length.pkl")),
        Err(Error::Truncated {
            offset: 2,
            opcode: "BINUNICODE",
            ..
        })
    ));
    let underflow = evaluate(&disassemble(&read("err", "stack_underflow.pkl")).unwrap()[0]);
    assert!(matches!(
        underflow.error,
        Some(Error::StackUnderflow {
            offset: 2,
            opcode: "REDUCE"
        })
    ));
    let memo = evaluate(&disassemble(&read("err", "missing_memo.pkl")).unwrap()[0]);
    assert!(matches!(
        memo.error,
        Some(Error::MissingMemo { index: 7, .. })
    ));
    // Partial results survive: what was read before the bad byte is kept.
    let partial = disassemble_all(&read("err", "unknown_opcode.pkl"));
    assert!(!partial.pickles[0].ops.is_empty());
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = read("ok", "protocol4.pkl");
    for len in 0..bytes.len() {
        assert!(disassemble(&bytes[..len]).is_err(), "prefix {len}");
        for pickle in disassemble_all(&bytes[..len]).pickles {
            let _ = evaluate(&pickle);
        }
    }
}

/// The imports and calls of one malicious sample, rendered.
fn trace(name: &str) -> (Vec<(String, String, ImportSource)>, Vec<String>) {
    let bytes = read("malicious", name);
    let mut imports = Vec::new();
    let mut calls = Vec::new();
    for pickle in disassemble(&bytes).unwrap() {
        let evaluation = evaluate(&pickle);
        imports.extend(
            evaluation
                .imports
                .iter()
                .map(|i| (i.module.clone(), i.name.clone(), i.source)),
        );
        calls.extend(evaluation.calls.iter().map(|c| evaluation.render_call(c)));
    }
    (imports, calls)
}

#[test]
fn malicious_pickles_are_traced() {
    let os_system = (
        "os".to_string(),
        "system".to_string(),
        ImportSource::Literal,
    );
    assert_eq!(
        trace("global_reduce.pkl"),
        (
            vec![os_system.clone()],
            vec!["os.system('echo pwned')".to_string()]
        )
    );
    assert_eq!(
        trace("inst.pkl"),
        (
            vec![os_system.clone()],
            vec!["os.system('echo pwned')".to_string()]
        )
    );
    assert_eq!(
        trace("obj.pkl"),
        (
            vec![os_system.clone()],
            vec!["os.system('echo pwned')".to_string()]
        )
    );
    assert_eq!(
        trace("second_pickle.pkl"),
        (vec![os_system], vec!["os.system('id')".to_string()])
    );
    let (imports, calls) = trace("stack_global_memo.pkl");
    assert_eq!(
        imports,
        [("os".to_string(), "system".to_string(), ImportSource::Memo)]
    );
    assert_eq!(calls, ["os.system('id')"]);
    let (imports, _) = trace("stack_global_dynamic.pkl");
    assert_eq!(imports[1].2, ImportSource::Dynamic);
    assert_eq!(imports[1].0, "builtins.str('os')");
    let (imports, calls) = trace("build_setattr.pkl");
    assert_eq!(imports.len(), 2);
    assert!(
        calls
            .iter()
            .any(|c| c.contains("__setstate__({'x': 'id'})")),
        "{calls:?}"
    );
    let (imports, calls) = trace("newobj_ex.pkl");
    assert_eq!(imports[0].0, "subprocess");
    assert_eq!(calls, ["subprocess.Popen('id', **{})"]);
    let bytes = read("malicious", "newobj_ex.pkl");
    let evaluation = evaluate(&disassemble(&bytes).unwrap()[0]);
    assert_eq!(evaluation.calls[0].kind, CallKind::NewObjEx);
}

#[test]
fn extensions_are_recorded() {
    let evaluation = evaluate(&disassemble(&read("ok", "extensions.pkl")).unwrap()[0]);
    let codes: Vec<u32> = evaluation
        .extensions
        .iter()
        .map(|(_, code)| *code)
        .collect();
    assert_eq!(codes, [240, 0x1234, 0x123456]);
}
