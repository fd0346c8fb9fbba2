//! The disassembler against `pickletools.genops` on pickles written by
//! CPython, and the evaluator's trace on malicious pickles
//! (`tests/data/pickle`, from `scripts/testdata/make_pickle.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use modelgate_pickle::{
    Arg, CallKind, Error, EvalLimits, Evaluation, ImportSource, Opcode, Value, disassemble,
    disassemble_all, disassemble_one, evaluate, evaluate_stream,
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
    // The reversed list holds the same (memoized) lists. Both hold 300
    // plain items: the first KEPT_ITEMS are kept, the rest only counted.
    let (Value::List(first), Value::List(second)) =
        (evaluation.value(items[0]), evaluation.value(items[1]))
    else {
        panic!("not lists")
    };
    assert_eq!(first.len(), modelgate_pickle::KEPT_ITEMS);
    assert_eq!(evaluation.omitted(items[0]), 300 - 256);
    assert_eq!(evaluation.omitted(items[1]), 300 - 256);
    assert_eq!(first[100], second[199]);
    assert_eq!(evaluation.summarised, 2 * (300 - 256));
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
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("joblib")
        {
            // Raw array data inside: only the streaming evaluator reads it.
            for len in 0..bytes.len() {
                let stream = evaluate_stream(&bytes[..len], &EvalLimits::default());
                assert!(stream.error.is_some(), "{path:?} prefix {len}");
            }
            continue;
        }
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

/// The rendered calls of every pickle in a stream.
fn stream_calls(pickles: &[Evaluation]) -> Vec<String> {
    pickles
        .iter()
        .flat_map(|e| e.calls.iter().map(|c| e.render_call(c)))
        .collect()
}

#[test]
fn joblib_array_data_is_stepped_over_exactly() {
    let bytes = read("ok", "joblib_arrays.pkl");
    let expected: Json = serde_json::from_slice(&read("ok", "joblib_arrays.buffers.json")).unwrap();
    let stream = evaluate_stream(&bytes, &EvalLimits::default());
    assert_eq!(stream.error, None);
    // The outer pickle, then the object array's embedded pickle.
    assert_eq!(stream.pickles.len(), 2);
    let (outer, inner) = (&stream.pickles[0], &stream.pickles[1]);
    assert!(inner.embedded && !outer.embedded);
    assert!(outer.start < inner.start && inner.end < outer.end);
    assert_eq!(
        usize::try_from(outer.end).unwrap(),
        bytes.len(),
        "the stream ends after the outer pickle's STOP"
    );
    let buffers = &stream.pickles[0].raw_buffers;
    let cases = expected["buffers"].as_array().unwrap();
    assert_eq!(buffers.len(), cases.len());
    for (ours, theirs) in buffers.iter().zip(cases) {
        assert_eq!(ours.object, theirs["object"].as_bool().unwrap(), "{theirs}");
        if ours.object {
            continue;
        }
        assert_eq!(Some(ours.len), theirs["len"].as_u64(), "{theirs}");
        let shape: Vec<u64> = theirs["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(ours.shape, shape, "{theirs}");
        if ours.len > 0 {
            assert_eq!(
                Some(ours.data_offset),
                theirs["offset"].as_u64(),
                "{theirs}"
            );
        }
    }
    // The decoy array's bytes look like a pickle calling os.system: data, not code.
    assert!(
        stream
            .pickles
            .iter()
            .all(|e| e.imports.iter().all(|i| i.module != "os")),
        "array data was read as opcodes"
    );
}

#[test]
fn joblib_without_alignment_padding() {
    let stream = evaluate_stream(&read("ok", "joblib_unaligned.pkl"), &EvalLimits::default());
    assert_eq!(stream.error, None);
    assert_eq!(stream.pickles.len(), 1);
    assert_eq!(stream.pickles[0].raw_buffers.len(), 1);
    assert_eq!(stream.pickles[0].raw_buffers[0].len, 5 * 8);
}

#[test]
fn payloads_around_joblib_arrays_are_found() {
    for name in [
        "joblib_between.pkl",
        "joblib_after.pkl",
        "joblib_object_array.pkl",
    ] {
        let stream = evaluate_stream(&read("malicious", name), &EvalLimits::default());
        assert_eq!(stream.error, None, "{name}");
        let calls = stream_calls(&stream.pickles);
        assert!(
            calls
                .iter()
                .any(|c| c == "posix.system('id')" || c == "os.system('id')"),
            "{name}: {calls:?}"
        );
    }
}

#[test]
fn truncated_joblib_array_data_is_an_error_at_its_offset() {
    let bytes = read("ok", "joblib_arrays.pkl");
    let expected: Json = serde_json::from_slice(&read("ok", "joblib_arrays.buffers.json")).unwrap();
    let offset = expected["buffers"][0]["offset"].as_u64().unwrap();
    let cut = usize::try_from(offset).unwrap() + 10;
    let stream = evaluate_stream(&bytes[..cut], &EvalLimits::default());
    assert!(
        matches!(stream.error, Some(Error::Truncated { offset: o, needed: 96, .. }) if o == offset),
        "{:?}",
        stream.error
    );
}

/// A protocol-4 pickle of `{f"key{i}": i for i in range(n)}` as CPython
/// writes it: batches of 1000 SETITEMS, every key memoized.
fn plain_dict_pickle(n: u32) -> Vec<u8> {
    let mut out = b"\x80\x04}\x94".to_vec();
    let mut i = 0;
    while i < n {
        out.push(b'(');
        for j in i..(i + 1000).min(n) {
            let key = format!("key{j}");
            out.push(0x8c);
            out.push(u8::try_from(key.len()).unwrap());
            out.extend_from_slice(key.as_bytes());
            out.push(0x94);
            out.push(b'J');
            out.extend_from_slice(&j.to_le_bytes());
        }
        out.push(b'u');
        i += 1000;
    }
    out.push(b'.');
    out
}

#[test]
fn plain_data_is_counted_not_held() {
    let n = 600_000;
    let bytes = plain_dict_pickle(n);
    let limits = EvalLimits {
        memo_budget: 10_000,
        ..EvalLimits::default()
    };
    let stream = evaluate_stream(&bytes, &limits);
    assert_eq!(stream.error, None);
    let evaluation = &stream.pickles[0];
    let root = evaluation.result.unwrap();
    let Value::Dict(pairs) = evaluation.value(root) else {
        panic!("not a dict")
    };
    assert_eq!(pairs.len(), modelgate_pickle::KEPT_ITEMS);
    assert_eq!(
        evaluation.omitted(root),
        u64::from(n) - u64::try_from(modelgate_pickle::KEPT_ITEMS).unwrap()
    );
    // What is held is bounded by the kept items, not by the pickle.
    assert!(
        evaluation.values_held() < 10_000,
        "{}",
        evaluation.values_held()
    );
}

#[test]
fn memo_fetches_survive_the_switch_to_fetched_entries() {
    // Memoized module names fetched again much later, past the memo budget.
    let mut bytes = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94]\x94(".to_vec();
    for j in 0..5_000u32 {
        bytes.push(b'J');
        bytes.extend_from_slice(&j.to_le_bytes());
        bytes.push(0x94);
    }
    bytes.extend_from_slice(b"eh\x00h\x01\x93\x8c\x02id\x85R.");
    let limits = EvalLimits {
        memo_budget: 100,
        ..EvalLimits::default()
    };
    let stream = evaluate_stream(&bytes, &limits);
    assert_eq!(stream.error, None);
    let evaluation = &stream.pickles[0];
    let import = evaluation.imports.last().unwrap();
    assert_eq!(
        (import.module.as_str(), import.name.as_str()),
        ("os", "system")
    );
    assert_eq!(import.source, ImportSource::Memo);
    assert_eq!(stream_calls(&stream.pickles), ["os.system('id')"]);
}

#[test]
fn the_time_limit_is_named() {
    let bytes = plain_dict_pickle(300_000);
    let limits = EvalLimits {
        time_budget: Some(std::time::Duration::ZERO),
        ..EvalLimits::default()
    };
    let stream = evaluate_stream(&bytes, &limits);
    assert!(
        matches!(&stream.error, Some(Error::LimitExceeded { what, .. }) if what.contains("time limit")),
        "{:?}",
        stream.error
    );
}

#[test]
fn the_memory_limit_is_named() {
    // 300 kept lists of 100 ints each: more values than the limit allows.
    let mut bytes = b"\x80\x04](".to_vec();
    for _ in 0..3000 {
        bytes.extend_from_slice(b"](");
        for j in 0..100u32 {
            bytes.push(b'J');
            bytes.extend_from_slice(&j.to_le_bytes());
        }
        bytes.extend_from_slice(b"e");
    }
    bytes.extend_from_slice(b"e.");
    let limits = EvalLimits {
        max_live_values: 1000,
        kept_items: 100_000,
        ..EvalLimits::default()
    };
    let stream = evaluate_stream(&bytes, &limits);
    assert!(
        matches!(&stream.error, Some(Error::LimitExceeded { what, .. }) if what.contains("values reachable")),
        "{:?}",
        stream.error
    );
}

#[test]
fn whitespace_after_the_last_stop_ends_the_stream_but_other_bytes_do_not() {
    let mut bytes = read("ok", "protocol2.pkl");
    bytes.extend_from_slice(b"\n\r\n ");
    let stream = evaluate_stream(&bytes, &EvalLimits::default());
    assert_eq!(stream.error, None);
    assert_eq!(stream.pickles.len(), 1);
    let len = bytes.len();
    bytes.extend_from_slice(b"x");
    let stream = evaluate_stream(&bytes, &EvalLimits::default());
    assert!(
        matches!(
            stream.error,
            Some(Error::UnknownOpcode { .. })
                | Some(Error::BadArgument { .. })
                | Some(Error::Truncated { .. })
        ),
        "{:?} (trailing bytes at {len})",
        stream.error
    );
}

#[test]
fn a_memo_index_never_stored_ends_with_an_error_whatever_the_memo_mode() {
    // More memo entries than the budget, then a fetch of an index never
    // stored: every way of holding the memo must end in the same error.
    let mut bytes = b"\x80\x04](".to_vec();
    for j in 0..200u32 {
        bytes.push(b'J');
        bytes.extend_from_slice(&j.to_le_bytes());
        bytes.push(0x94);
    }
    bytes.extend_from_slice(b"ej\x0f\x27\x00\x00.");
    for memo_budget in [1, 10, 1000] {
        let limits = EvalLimits {
            memo_budget,
            ..EvalLimits::default()
        };
        let stream = evaluate_stream(&bytes, &limits);
        assert!(
            matches!(stream.error, Some(Error::MissingMemo { index: 9999, .. })),
            "budget {memo_budget}: {:?}",
            stream.error
        );
    }
}
