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
}

#[test]
fn every_input_matches_its_expected_json() {
    let cases = modelgate_testdata::cases("keras");
    for case in &cases {
        check(&case.relative, &case.expected);
    }
    assert_eq!(cases.len(), 13);
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
fn every_prefix_parses_or_fails_cleanly() {
    for name in ["ok/sequential.keras", "ok/legacy_sequential.h5"] {
        let bytes = read(name);
        for len in 0..bytes.len() {
            // A cut zip has no end record; a cut HDF5 file still has its
            // signature and yields what its bytes hold.
            match KerasModel::parse(&bytes[..len], &Limits::default()) {
                Ok(model) => assert_eq!(model.format, KerasFormat::Hdf5, "{name} prefix {len}"),
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        }
    }
}
