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
    for entry in std::fs::read_dir(dir("ok")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pkl") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let single = disassemble(&bytes).unwrap().len() == 1;
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            // A prefix ending at a STOP is a complete stream of fewer pickles.
            if single {
                assert!(disassemble(prefix).is_err(), "{path:?} prefix {len}");
            }
            for pickle in disassemble_all(prefix).pickles {
                let evaluation = evaluate(&pickle);
                if let Some(result) = evaluation.result {
                    let _ = evaluation.render(result);
                }
            }
        }
    }
}

/// Disassemble and evaluate hand-assembled bytes; the evaluation error.
fn evaluation_error(bytes: &[u8]) -> Option<Error> {
    evaluate(&disassemble(bytes).unwrap()[0]).error
}

#[test]
fn malformed_arguments_are_typed_errors() {
    let check = |bytes: &[u8], expected: Error| {
        assert_eq!(disassemble(bytes).unwrap_err(), expected, "{bytes:?}");
    };
    // A text argument cut off before its newline.
    check(
        b"cos\nsys",
        Error::Truncated {
            offset: 0,
            opcode: "GLOBAL",
            needed: 4,
            available: 3,
        },
    );
    check(
        b"Iabc\n.",
        Error::BadArgument {
            offset: 0,
            opcode: "INT",
            message: "'abc' is not an integer".into(),
        },
    );
    check(
        b"T\xff\xff\xff\xffab.",
        Error::BadArgument {
            offset: 0,
            opcode: "BINSTRING",
            message: "negative length -1".into(),
        },
    );
    check(
        b"S'unquoted\n.",
        Error::BadArgument {
            offset: 0,
            opcode: "STRING",
            message: "expected a quoted string".into(),
        },
    );
    check(
        b"\x95\x00\x00\x00\x00\x00\x00\x01\x00N.",
        Error::Truncated {
            offset: 0,
            opcode: "FRAME",
            needed: 1 << 48,
            available: 2,
        },
    );
    check(b"", Error::Empty);
    // Data after the last STOP that is not another pickle.
    check(
        b"N.\xffgarbage",
        Error::UnknownOpcode {
            offset: 2,
            byte: 0xff,
        },
    );
    assert_eq!(
        evaluation_error(b"\x80\x02t."),
        Some(Error::NoMark {
            offset: 2,
            opcode: "TUPLE"
        })
    );
    assert_eq!(
        evaluation_error(b"(K\x01K\x02K\x03d."),
        Some(Error::BadStack {
            offset: 7,
            opcode: "DICT",
            message: "3 items after MARK, expected key/value pairs".into()
        })
    );
    // A pickle cut before its STOP still evaluates as far as it goes.
    assert_eq!(
        evaluate(&disassemble_all(b"N").pickles[0]).error,
        Some(Error::Truncated {
            offset: 1,
            opcode: "STOP",
            needed: 1,
            available: 0
        })
    );
}

#[test]
fn limits_are_errors_not_exhaustion() {
    // More pickles than MAX_PICKLES in one stream.
    let many = b"N.".repeat(modelgate_pickle::MAX_PICKLES + 1);
    assert!(matches!(
        disassemble(&many),
        Err(Error::LimitExceeded { offset, .. }) if offset == 2 * modelgate_pickle::MAX_PICKLES as u64
    ));
    // A million nested lists: built without recursion, rendered within a bound.
    let depth = 1_000_000;
    let mut deep = b"]".repeat(depth);
    deep.extend(b"a".repeat(depth - 1));
    deep.push(b'.');
    let evaluation = evaluate(&disassemble(&deep).unwrap()[0]);
    assert_eq!(evaluation.error, None);
    let rendered = evaluation.render(evaluation.result.unwrap());
    assert!(
        rendered.starts_with("[[[[") && rendered.len() < 2000,
        "{rendered}"
    );
}

#[test]
fn big_integers_are_decimal() {
    let pickles = disassemble(&read("ok", "protocol2.pkl")).unwrap();
    let bigs: Vec<&Arg> = pickles[0]
        .ops
        .iter()
        .filter(|op| matches!(op.arg, Arg::BigInt(_)))
        .map(|op| &op.arg)
        .collect();
    assert_eq!(bigs[0], &Arg::BigInt("1180591620717411303424".into()));
    assert_eq!(bigs[1], &Arg::BigInt("-1180591620717411303424".into()));
    assert!(
        matches!(bigs[2], Arg::BigInt(s) if s.starts_with("20370359763344860862684456884093781610514683936659362506361404493543812997633"))
    );
    assert_eq!(bigs[4], &Arg::BigInt("<76-byte integer>".into()));
    assert_eq!(bigs.len(), 5);
}

#[test]
fn recursive_structures_resolve_through_the_memo() {
    for protocol in 0..=5 {
        let name = format!("protocol{protocol}.pkl");
        let evaluation = evaluate(&disassemble(&read("ok", &name)).unwrap()[0]);
        let Value::Dict(pairs) = evaluation.value(evaluation.result.unwrap()) else {
            panic!("{name}: not a dict")
        };
        let (_, recursive) = pairs
            .iter()
            .find(|(k, _)| evaluation.value(*k) == &Value::Str("recursive".into()))
            .unwrap();
        let Value::List(items) = evaluation.value(*recursive) else {
            panic!("{name}: not a list")
        };
        assert_eq!(items[1], *recursive, "{name}: the list contains itself");
        let shown = evaluation.display(*recursive).to_string();
        assert!(shown.starts_with("['loop', ['loop', ["), "{name}: {shown}");
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
