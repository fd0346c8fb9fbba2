//! Keras 3 zips and legacy HDF5 files (`tests/data/keras`, from
//! `scripts/testdata/make_keras.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use modelgate_archive::Limits;
use modelgate_keras::{Error, KerasFormat, KerasModel};

fn parse(relative: &str) -> Result<KerasModel, Error> {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/keras")
            .join(relative),
    )
    .unwrap();
    KerasModel::parse(&bytes, &Limits::default())
}

fn classes(model: &KerasModel) -> Vec<&str> {
    model.layers.iter().map(|l| l.class_name.as_str()).collect()
}

#[test]
fn both_formats_yield_the_layers() {
    for (name, format, version) in [
        ("ok/sequential.keras", KerasFormat::KerasV3, "3.6.0"),
        ("ok/sequential.h5", KerasFormat::Hdf5, "2.15.0"),
    ] {
        let model = parse(name).unwrap();
        assert_eq!(model.format, format);
        assert_eq!(model.keras_version.as_deref(), Some(version), "{name}");
        assert_eq!(model.model_class.as_deref(), Some("Sequential"));
        assert_eq!(
            classes(&model),
            ["InputLayer", "Dense", "Functional", "Dropout"],
            "{name}"
        );
        assert_eq!(model.layers[1].name.as_deref(), Some("dense"));
        assert_eq!(model.layers[1].module.as_deref(), Some("keras.layers"));
    }
    assert_eq!(
        parse("ok/sequential.h5").unwrap().backend.as_deref(),
        Some("tensorflow")
    );
    assert_eq!(
        parse("ok/sequential.keras").unwrap().members,
        ["metadata.json", "config.json", "model.weights.h5"]
    );
}

#[test]
fn lambda_and_custom_layers_are_visible() {
    for name in ["malicious/lambda.keras", "malicious/lambda.h5"] {
        let model = parse(name).unwrap();
        assert_eq!(classes(&model), ["Dense", "Lambda", "Custom"], "{name}");
        let lambda = &model.layers[1];
        assert!(
            lambda.config["function"]["config"]["code"]
                .as_str()
                .unwrap()
                .len()
                > 20
        );
        assert_eq!(
            model.layers[2].registered_name.as_deref(),
            Some("my_package>Custom")
        );
    }
}

#[test]
fn broken_models_are_errors() {
    assert!(matches!(
        parse("err/no_config.keras"),
        Err(Error::NotKeras { .. })
    ));
    assert!(matches!(
        parse("err/bad_json.keras"),
        Err(Error::Json { line: 1, .. })
    ));
}
