//! Keras 3 zips and legacy HDF5 files, each checked against the
//! `<stem>.expected.json` beside it (`tests/data/keras`, from
//! `scripts/testdata/make_keras.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_archive::Limits;
use modelgate_keras::{Error, KerasFormat, KerasModel};
use modelgate_testdata::variant;
use serde_json::Value as Json;

fn read(relative: &str) -> Vec<u8> {
    modelgate_testdata::read("keras", relative)
}

fn parse(relative: &str) -> Result<KerasModel, Error> {
    KerasModel::parse(&read(relative), &Limits::default())
}

fn check(relative: &str, expected: &Json) {
    let model = match parse(relative) {
        Ok(model) => model,
        Err(error) => {
            assert_eq!(
                Some(variant(&error).as_str()),
                expected["error"].as_str(),
                "{relative}: {error}"
            );
            return;
        }
    };
    assert!(expected["error"].is_null(), "{relative} parsed");
    let format = match model.format {
        KerasFormat::KerasV3 => "KerasV3",
        KerasFormat::Hdf5 => "Hdf5",
    };
    assert_eq!(format, expected["format"].as_str().unwrap(), "{relative}");
    assert_eq!(
        model.keras_version.as_deref(),
        expected["keras_version"].as_str(),
        "{relative}"
    );
    assert_eq!(
        model.backend.as_deref(),
        expected["backend"].as_str(),
        "{relative}"
    );
    assert_eq!(
        model.model_class.as_deref(),
        expected["model_class"].as_str(),
        "{relative}"
    );
    assert_eq!(model.config.is_some(), model.model_class.is_some());
    let layers: Vec<[Option<&str>; 4]> = model
        .layers
        .iter()
        .map(|l| {
            [
                Some(l.class_name.as_str()),
                l.name.as_deref(),
                l.module.as_deref(),
                l.registered_name.as_deref(),
            ]
        })
        .collect();
    let theirs: Vec<[Option<&str>; 4]> = expected["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| [0, 1, 2, 3].map(|i| l[i].as_str()))
        .collect();
    assert_eq!(layers, theirs, "{relative}");
    let members: Vec<&str> = expected["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(model.members, members, "{relative}");
    assert!(model.weights_error.is_none(), "{relative}");
    let weights: Vec<Json> = model
        .weights
        .iter()
        .map(|w| serde_json::json!([w.path, w.shape, w.dtype, w.optimizer]))
        .collect();
    assert_eq!(&Json::from(weights), &expected["weights"], "{relative}");
    assert_eq!(
        model.n_parameters(),
        expected["n_parameters"].as_u64(),
        "{relative}"
    );
    let mut code: Vec<Json> = model
        .code_attributes
        .iter()
        .map(|c| serde_json::json!([c.object, c.attribute, c.pointer]))
        .collect();
    code.sort_by_key(|c| c.to_string());
    assert_eq!(
        &Json::from(code),
        &expected["code_attributes"],
        "{relative}"
    );
}

#[test]
fn every_input_matches_its_expected_json() {
    let cases = modelgate_testdata::cases("keras");
    for case in &cases {
        check(&case.relative, &case.expected);
    }
    assert_eq!(cases.len(), 20);
}

#[test]
fn lambda_bytecode_is_visible() {
    let model = parse("malicious/lambda.keras").unwrap();
    let lambda = model
        .layers
        .iter()
        .find(|l| l.class_name == "Lambda")
        .unwrap();
    assert_eq!(lambda.config["function"]["class_name"], "__lambda__");
    assert!(
        lambda.config["function"]["config"]["code"]
            .as_str()
            .unwrap()
            .len()
            > 100
    );
    let legacy = parse("malicious/legacy_lambda.h5").unwrap();
    let lambda = legacy
        .layers
        .iter()
        .find(|l| l.class_name == "Lambda")
        .unwrap();
    assert_eq!(lambda.config["function_type"], "lambda");
    assert!(lambda.config["function"][0].as_str().unwrap().len() > 100);
}

#[test]
fn errors_name_the_member() {
    let error = parse("err/bad_json.keras").unwrap_err();
    assert!(
        matches!(&error, Error::Json { member, line: 1, .. } if member == "config.json"),
        "{error}"
    );
    let error = parse("err/bad_metadata.keras").unwrap_err();
    assert!(
        matches!(&error, Error::Json { member, .. } if member == "metadata.json"),
        "{error}"
    );
}

#[test]
fn real_keras_lambdas_are_visible() {
    for name in [
        "malicious/keras3_lambda.keras",
        "malicious/keras3_lambda_h5.h5",
    ] {
        let model = parse(name).unwrap();
        let lambda = model
            .layers
            .iter()
            .find(|l| l.class_name == "Lambda")
            .unwrap();
        let code = lambda.config["function"]["config"]["code"]
            .as_str()
            .unwrap();
        assert!(
            modelgate_keras::is_marshaled_code(code.as_bytes()),
            "{name}"
        );
    }
}

#[test]
fn marshaled_code_is_told_from_text() {
    for text in [
        "dense_1",
        "categorical_crossentropy",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef",
        "{\"class_name\": \"Dense\"}",
        "",
    ] {
        assert!(
            !modelgate_keras::is_marshaled_code(text.as_bytes()),
            "{text}"
        );
    }
}

#[test]
fn a_broken_weights_member_keeps_the_configuration() {
    let bytes = read("ok/keras3_sequential.keras");
    let zip = modelgate_archive::zip::ZipArchive::parse(&bytes).unwrap();
    let member = zip.find("model.weights.h5").unwrap();
    let mut broken = bytes.clone();
    // Flip a byte of the HDF5 superblock's version: stored members are not compressed.
    let at = usize::try_from(member.data_offset).unwrap() + 8;
    broken[at] = 9;
    // The CRC no longer matches, so the member cannot even be read.
    let model = KerasModel::parse(&broken, &Limits::default()).unwrap();
    assert_eq!(model.model_class.as_deref(), Some("Sequential"));
    assert!(model.weights.is_empty());
    assert!(model.weights_error.is_some());
    assert_eq!(model.n_parameters(), None);
}

#[test]
fn every_prefix_fails_cleanly() {
    for name in ["ok/keras3_sequential.keras", "ok/keras3_sequential_h5.h5"] {
        let bytes = read(name);
        for len in (0..bytes.len()).step_by(5) {
            // A cut zip has no end record; a cut HDF5 file is shorter than
            // its superblock's end-of-file address.
            let error = KerasModel::parse(&bytes[..len], &Limits::default()).unwrap_err();
            assert!(!error.to_string().is_empty(), "{name} prefix {len}");
        }
    }
}
