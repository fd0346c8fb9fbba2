//! The reader against files written by the Python `safetensors` package,
//! against the reference Rust crate's verdicts, and on the real MiniLM model.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use modelgate_safetensors::{AnomalyKind, Error, SafeTensors, ShardIndex};
use serde_json::Value as Json;

fn data(sub: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/safetensors")
        .join(sub);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("safetensors"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Our strict parser accepts exactly what the reference crate accepts.
fn agrees_with_reference(name: &str, bytes: &[u8]) {
    let ours = SafeTensors::parse(bytes);
    let theirs = safetensors::SafeTensors::deserialize(bytes);
    assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "{name}: ours {ours:?}, reference {:?}",
        theirs.err()
    );
}

#[test]
fn ok_files_match_the_python_reader() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/safetensors/ok");
    let files = data("ok");
    assert_eq!(files.len(), 5);
    for (name, bytes) in files {
        agrees_with_reference(&name, &bytes);
        let st = SafeTensors::parse(&bytes).unwrap();
        let expected: Json = serde_json::from_slice(
            &std::fs::read(dir.join(name.replace(".safetensors", ".expected.json"))).unwrap(),
        )
        .unwrap();
        let tensors = expected["tensors"].as_object().unwrap();
        assert_eq!(st.tensors.len(), tensors.len(), "{name}");
        for tensor in &st.tensors {
            let theirs = &tensors[&tensor.name];
            assert_eq!(
                tensor.dtype.name(),
                theirs["dtype"].as_str().unwrap(),
                "{name}/{}",
                tensor.name
            );
            let shape: Vec<u64> = theirs["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect();
            assert_eq!(tensor.shape, shape);
        }
        let metadata = expected["metadata"].as_object().unwrap();
        assert_eq!(st.metadata.len(), metadata.len());
    }
}

#[test]
fn numpy_file_facts() {
    let (_, bytes) = data("ok")
        .into_iter()
        .find(|(n, _)| n == "numpy.safetensors")
        .unwrap();
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(st.n_parameters(), 12 + 4 + 3 + 1 + 2);
    assert!(
        st.metadata
            .contains(&("format".to_string(), "np".to_string()))
    );
    let by_dtype = st.bytes_by_dtype();
    assert_eq!(by_dtype[0].0.name(), "F32");
    assert_eq!(by_dtype[0].2, 48);
}

#[test]
fn malformed_headers_are_errors() {
    for (name, bytes) in data("err") {
        agrees_with_reference(&name, &bytes);
        assert!(SafeTensors::parse(&bytes).is_err(), "{name}");
        let err = SafeTensors::parse_lenient(&bytes).unwrap_err();
        let expected = match name.as_str() {
            "header_too_large.safetensors" => matches!(err, Error::HeaderTooLarge { .. }),
            "not_json.safetensors" => matches!(err, Error::InvalidHeader { .. }),
            "too_short.safetensors" => matches!(err, Error::TooShort { size: 2 }),
            other => panic!("no expectation for {other}"),
        };
        assert!(expected, "{name}: {err:?}");
    }
}

#[test]
fn lying_headers_are_anomalies() {
    for (name, bytes) in data("malicious") {
        if name != "duplicate.safetensors" {
            // The reference crate's JSON map hides duplicates; everything else it rejects too.
            agrees_with_reference(&name, &bytes);
        }
        assert!(SafeTensors::parse(&bytes).is_err(), "{name}");
        let (st, anomalies) = SafeTensors::parse_lenient(&bytes).unwrap();
        for anomaly in &anomalies {
            assert!(!anomaly.to_string().is_empty());
        }
        let kinds: Vec<&AnomalyKind> = anomalies.iter().map(|a| &a.kind).collect();
        let found = match name.as_str() {
            "overlap.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::Overlap { other } if other == "a")),
            "gap.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::Gap { start: 4, end: 68 })),
            "size_mismatch.safetensors" => kinds.iter().any(|k| {
                matches!(
                    k,
                    AnomalyKind::SizeMismatch {
                        expected: Some(12),
                        actual: 8
                    }
                )
            }),
            "out_of_range.safetensors" => kinds.iter().any(|k| {
                matches!(
                    k,
                    AnomalyKind::OutOfRange {
                        end: 16,
                        data_len: 8
                    }
                )
            }),
            "trailing.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::TrailingBytes { bytes: 13 })),
            "duplicate.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::DuplicateName)),
            "unknown_dtype.safetensors" => {
                matches!(
                    SafeTensors::parse(&bytes),
                    Err(Error::InvalidTensor { ref name, .. }) if name == "a"
                ) && matches!(&kinds[..], [AnomalyKind::BadEntry { message }, AnomalyKind::Gap { start: 0, end: 1 }] if message == "unknown dtype 'Q4'")
                    && st.tensors.len() == 1
            }
            "empty_inside.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::Overlap { other } if other == "a")),
            "reversed.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::ReversedRange { start: 8, end: 4 })),
            "partial_byte.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::PartialByte { bits: 12 })),
            "header_padding.safetensors" => kinds
                .iter()
                .any(|k| matches!(k, AnomalyKind::HeaderPadding { bytes: 17 })),
            "bad_metadata.safetensors" => {
                kinds.iter().any(|k| matches!(k, AnomalyKind::BadMetadata))
            }
            other => panic!("no expectation for {other}"),
        };
        assert!(found, "{name}: {anomalies:?}");
    }
}

#[test]
fn every_truncation_is_an_error() {
    let (_, bytes) = data("ok")
        .into_iter()
        .find(|(n, _)| n == "numpy.safetensors")
        .unwrap();
    for len in 0..bytes.len() {
        assert!(SafeTensors::parse(&bytes[..len]).is_err(), "prefix {len}");
    }
}

#[test]
fn shard_index() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/safetensors/ok");
    let index =
        ShardIndex::parse(&std::fs::read(dir.join("model.safetensors.index.json")).unwrap())
            .unwrap();
    assert_eq!(index.total_size, Some(24));
    assert_eq!(
        index.shards,
        [
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors"
        ]
    );
    assert!(index.unsafe_shard_paths().is_empty());
}

#[test]
fn minilm_matches_the_safetensors_package() {
    let fixtures = std::env::var_os("MODELGATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modelgate/fixtures")
        });
    let path = fixtures.join("minilm/model.safetensors");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fixtures.sh", path.display()));
    let reference: Json =
        serde_json::from_slice(&std::fs::read(fixtures.join("reference.json")).unwrap()).unwrap();
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(
        st.n_parameters(),
        reference["minilm"]["parameters"].as_u64().unwrap()
    );
    assert_eq!(
        st.tensors.len() as u64,
        reference["minilm"]["n_tensors"].as_u64().unwrap()
    );
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Headers built from random near-valid tensor tables (sizes off by a
/// little, offsets shuffled, overlapping, empty, sub-byte dtypes, data
/// section too short or too long): our strict parser agrees with the
/// reference crate on every one, and the lenient parser reports an
/// anomaly exactly when the strict one fails.
#[test]
fn generated_headers_agree_with_the_reference() {
    const DTYPES: [(&str, u64); 8] = [
        ("F32", 32),
        ("BF16", 16),
        ("U8", 8),
        ("F4", 4),
        ("F6_E3M2", 6),
        ("I64", 64),
        ("BOOL", 8),
        ("C64", 64),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut rejected) = (0, 0);
    for case in 0..20_000 {
        let n_tensors = rng.below(4);
        let mut offset = 0u64;
        let mut entries = Vec::new();
        for i in 0..n_tensors {
            let (dtype, bits) = DTYPES[rng.below(DTYPES.len() as u64) as usize];
            let shape: Vec<u64> = (0..rng.below(3)).map(|_| rng.below(4)).collect();
            let n: u64 = shape.iter().product();
            let mut size = (n * bits).div_ceil(8);
            if rng.below(8) == 0 {
                size = size.saturating_add_signed(rng.below(3) as i64 - 1);
            }
            let mut start = offset;
            if rng.below(10) == 0 {
                start = start.saturating_add_signed(rng.below(5) as i64 - 2);
            }
            let end = if rng.below(30) == 0 {
                start.saturating_sub(1)
            } else {
                start + size
            };
            offset = end.max(offset);
            entries.push(format!(
                r#""t{i}":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{start},{end}]}}"#
            ));
        }
        if rng.below(4) == 0 {
            let position = rng.below(entries.len() as u64 + 1) as usize;
            entries.insert(position, r#""__metadata__":{"k":"v"}"#.to_string());
        }
        let header = format!("{{{}}}", entries.join(","));
        let data_len = match rng.below(10) {
            0 => offset.saturating_sub(1),
            1 => offset + 1,
            _ => offset,
        };
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.resize(bytes.len() + data_len as usize, 0);
        agrees_with_reference(&format!("case {case}: {header}"), &bytes);
        let strict = SafeTensors::parse(&bytes);
        let (_, anomalies) = SafeTensors::parse_lenient(&bytes).unwrap();
        assert_eq!(
            strict.is_ok(),
            anomalies.is_empty(),
            "case {case}: {header}"
        );
        if strict.is_ok() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    // Both outcomes are well represented.
    assert!(
        accepted > 5_000 && rejected > 5_000,
        "{accepted} / {rejected}"
    );
}
