//! Every BOM the crate writes is validated against the official CycloneDX
//! 1.6 JSON schema committed in `tests/schema/` (see its NOTICE.md), with
//! its `$ref`s to `spdx.schema.json` and `jsf-0.82.schema.json` resolved from
//! the committed files and format validation (`date-time`,
//! `iri-reference`, ...) on.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_bom::{
    Approach, BaseModel, BaseModelRelation, BomOptions, ConfidenceInterval, Considerations,
    Dataset, EnvironmentalConsiderations, EthicalConsideration, FairnessAssessment, FileEntry,
    Hash, HashAlgorithm, LicenseChoice, Metric, ModelDescription, ModelParameters, Property,
    SerialNumber, Timestamp, inventory_bom, model_bom, property,
};
use serde_json::{Value, json};

const SCHEMA_BASE: &str = "http://cyclonedx.org/schema/";
const SERIAL: &str = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79";
const TIMESTAMP: &str = "2026-11-22T20:28:40Z";
const SHA_WEIGHTS: &str = "5af571cbf074e6d21a03528d2330792e532ca608f24ac70a143f6b369968ab8c";
const SHA_CONFIG: &str = "9c7dcf1f1d4e55a4a4b0b0c7b1e7a1f2f4e0e3c3c8d1a2b3c4d5e6f708192a3b";

/// The schema errors of `bom`, empty when it is valid.
fn schema_errors(bom: &Value) -> Vec<String> {
    let read = |name: &str| -> Value {
        let path = format!("{}/tests/schema/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let schema = read("bom-1.6.schema.json");
    assert_eq!(schema["$id"], format!("{SCHEMA_BASE}bom-1.6.schema.json"));
    let registry = jsonschema::Registry::new()
        .add(
            format!("{SCHEMA_BASE}spdx.schema.json"),
            read("spdx.schema.json"),
        )
        .unwrap()
        .add(
            format!("{SCHEMA_BASE}jsf-0.82.schema.json"),
            read("jsf-0.82.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .with_registry(&registry)
        .offline()
        .build(&schema)
        .unwrap();
    validator
        .iter_errors(bom)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

#[track_caller]
fn assert_valid(bom: &Value) {
    let errors = schema_errors(bom);
    assert!(
        errors.is_empty(),
        "{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(bom).unwrap()
    );
    // The text a caller writes is the same BOM.
    let reparsed: Value = serde_json::from_str(&serde_json::to_string(bom).unwrap()).unwrap();
    assert_eq!(&reparsed, bom);
}

fn options() -> BomOptions {
    BomOptions::new(
        SerialNumber::parse(SERIAL).unwrap(),
        Timestamp::parse(TIMESTAMP).unwrap(),
        "0.1.0",
    )
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// A description with every field set.
fn full_model() -> ModelDescription {
    ModelDescription {
        name: "Llama-3.1-8B-Instruct-GGUF".to_owned(),
        version: some("0e9e39f249a16976918f6564b8830bc894c89659"),
        publisher: some("Meta"),
        group: some("meta-llama"),
        description: some("An instruction-tuned \"Llama\" model,\nquantized."),
        source_url: some("https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct"),
        purl: some(
            "pkg:huggingface/meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659",
        ),
        license: Some(LicenseChoice::Named {
            name: "Llama 3.1 Community License".to_owned(),
            url: some("https://www.llama.com/llama3_1/license/"),
        }),
        hashes: vec![
            Hash::sha256(SHA_WEIGHTS),
            Hash {
                alg: HashAlgorithm::Blake3,
                content: "ab".repeat(32),
            },
        ],
        files: vec![
            FileEntry {
                path: "model-Q4_1.gguf".to_owned(),
                size: 5_130_000_000,
                sha256: some(SHA_WEIGHTS),
                format: some("gguf"),
            },
            FileEntry {
                path: "config.json".to_owned(),
                size: 826,
                sha256: some(SHA_CONFIG),
                format: some("json"),
            },
        ],
        parameters: ModelParameters {
            approach: Some(Approach::SelfSupervised),
            task: some("text-generation"),
            architecture_family: some("llama"),
            model_architecture: some("LlamaForCausalLM"),
            datasets: vec![
                Dataset::named("HuggingFaceFW/fineweb"),
                Dataset {
                    name: "wikitext".to_owned(),
                    url: some("https://huggingface.co/datasets/wikitext"),
                },
            ],
            inputs: vec!["text".to_owned()],
            outputs: vec!["text".to_owned()],
        },
        metrics: vec![
            Metric {
                metric_type: "accuracy".to_owned(),
                value: "0.683".to_owned(),
                dataset: some("cais/mmlu"),
                slice: some("test"),
                task: some("text-generation"),
                confidence_interval: Some(ConfidenceInterval {
                    lower_bound: some("0.67"),
                    upper_bound: some("0.69"),
                }),
            },
            Metric {
                metric_type: "pass@1".to_owned(),
                value: "72.6".to_owned(),
                ..Metric::default()
            },
        ],
        considerations: Considerations {
            users: vec!["developers".to_owned()],
            use_cases: vec!["assistant-like chat".to_owned()],
            technical_limitations: vec!["English first".to_owned()],
            performance_tradeoffs: vec!["Q4_1 loses some accuracy".to_owned()],
            ethical_considerations: vec![EthicalConsideration {
                name: "may produce inaccurate or harmful text".to_owned(),
                mitigation_strategy: some("use Llama Guard"),
            }],
            environmental: EnvironmentalConsiderations {
                energy_consumption: some("39.3M GPU hours of H100-80GB (700 W)"),
                co2_emissions: some("11,390 tCO2eq location-based"),
            },
            fairness_assessments: vec![FairnessAssessment {
                group_at_risk: some("speakers of low-resource languages"),
                benefits: some("multilingual support"),
                harms: some("lower quality answers"),
                mitigation_strategy: some("evaluate before use"),
            }],
        },
        base_models: vec![BaseModel {
            name: "meta-llama/Llama-3.1-8B".to_owned(),
            version: some("d04e592bb4f6aa9cfee91e2e20afa771667e1d4b"),
            purl: some(
                "pkg:huggingface/meta-llama/Llama-3.1-8B@d04e592bb4f6aa9cfee91e2e20afa771667e1d4b",
            ),
            url: some("https://huggingface.co/meta-llama/Llama-3.1-8B"),
            relation: Some(BaseModelRelation::Finetune),
        }],
        properties: vec![
            Property::new(property::VERDICT, "allow"),
            Property::new(property::FORMAT, "gguf"),
            Property::new(property::PARAMETERS, "8030261248"),
            Property::new(property::QUANTIZATION, "Q4_1"),
            Property::new(property::SIGNATURE, "unsigned"),
        ],
    }
}

#[test]
fn a_full_description_is_a_valid_bom_with_every_field() {
    let bom = model_bom(&full_model(), &options());
    assert_valid(&bom);

    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(bom["version"], 1);
    assert_eq!(bom["serialNumber"], SERIAL);
    assert_eq!(bom["metadata"]["timestamp"], TIMESTAMP);
    assert_eq!(
        bom["metadata"]["tools"],
        json!({"components": [{
            "type": "application",
            "name": "modelgate",
            "version": "0.1.0",
            "externalReferences": [{"type": "vcs", "url": "https://github.com/modelgate/modelgate"}],
        }]})
    );
    let purl =
        "pkg:huggingface/meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659";
    assert_eq!(
        bom["metadata"]["component"],
        json!({
            "type": "machine-learning-model",
            "supplier": {"name": "Meta"},
            "publisher": "Meta",
            "group": "meta-llama",
            "name": "Llama-3.1-8B-Instruct-GGUF",
            "version": "0e9e39f249a16976918f6564b8830bc894c89659",
            "purl": purl,
        })
    );

    let components = bom["components"].as_array().unwrap();
    assert_eq!(components.len(), 1);
    let model = &components[0];
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(model["bom-ref"], purl);
    assert_eq!(model["purl"], purl);
    assert_eq!(
        model["description"],
        "An instruction-tuned \"Llama\" model,\nquantized."
    );
    assert_eq!(
        model["hashes"],
        json!([{"alg": "SHA-256", "content": SHA_WEIGHTS}, {"alg": "BLAKE3", "content": "ab".repeat(32)}])
    );
    assert_eq!(
        model["licenses"],
        json!([{"license": {"name": "Llama 3.1 Community License", "url": "https://www.llama.com/llama3_1/license/"}}])
    );
    assert_eq!(
        model["externalReferences"],
        json!([{"type": "distribution", "url": "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct"}])
    );
    assert_eq!(
        model["properties"],
        json!([
            {"name": "modelgate:verdict", "value": "allow"},
            {"name": "modelgate:format", "value": "gguf"},
            {"name": "modelgate:parameters", "value": "8030261248"},
            {"name": "modelgate:quantization", "value": "Q4_1"},
            {"name": "modelgate:signature", "value": "unsigned"},
        ])
    );

    assert_eq!(
        model["components"],
        json!([
            {
                "type": "file",
                "bom-ref": format!("{purl}#model-Q4_1.gguf"),
                "name": "model-Q4_1.gguf",
                "hashes": [{"alg": "SHA-256", "content": SHA_WEIGHTS}],
                "properties": [{"name": "modelgate:size", "value": "5130000000"}, {"name": "modelgate:format", "value": "gguf"}],
            },
            {
                "type": "file",
                "bom-ref": format!("{purl}#config.json"),
                "name": "config.json",
                "hashes": [{"alg": "SHA-256", "content": SHA_CONFIG}],
                "properties": [{"name": "modelgate:size", "value": "826"}, {"name": "modelgate:format", "value": "json"}],
            },
        ])
    );

    assert_eq!(
        model["pedigree"],
        json!({"ancestors": [{
            "type": "machine-learning-model",
            "name": "meta-llama/Llama-3.1-8B",
            "version": "d04e592bb4f6aa9cfee91e2e20afa771667e1d4b",
            "purl": "pkg:huggingface/meta-llama/Llama-3.1-8B@d04e592bb4f6aa9cfee91e2e20afa771667e1d4b",
            "externalReferences": [{"type": "distribution", "url": "https://huggingface.co/meta-llama/Llama-3.1-8B"}],
            "properties": [{"name": "modelgate:base-model-relation", "value": "finetune"}],
        }]})
    );

    assert_eq!(
        model["modelCard"],
        json!({
            "modelParameters": {
                "approach": {"type": "self-supervised"},
                "task": "text-generation",
                "architectureFamily": "llama",
                "modelArchitecture": "LlamaForCausalLM",
                "datasets": [
                    {"type": "dataset", "name": "HuggingFaceFW/fineweb"},
                    {"type": "dataset", "name": "wikitext", "contents": {"url": "https://huggingface.co/datasets/wikitext"}},
                ],
                "inputs": [{"format": "text"}],
                "outputs": [{"format": "text"}],
            },
            "quantitativeAnalysis": {"performanceMetrics": [
                {
                    "type": "accuracy",
                    "value": "0.683",
                    "slice": "text-generation: cais/mmlu / test",
                    "confidenceInterval": {"lowerBound": "0.67", "upperBound": "0.69"},
                },
                {"type": "pass@1", "value": "72.6"},
            ]},
            "considerations": {
                "users": ["developers"],
                "useCases": ["assistant-like chat"],
                "technicalLimitations": ["English first"],
                "performanceTradeoffs": ["Q4_1 loses some accuracy"],
                "ethicalConsiderations": [{"name": "may produce inaccurate or harmful text", "mitigationStrategy": "use Llama Guard"}],
                "environmentalConsiderations": {"properties": [
                    {"name": "modelgate:energy-consumption", "value": "39.3M GPU hours of H100-80GB (700 W)"},
                    {"name": "modelgate:co2-eq-emissions", "value": "11,390 tCO2eq location-based"},
                ]},
                "fairnessAssessments": [{
                    "groupAtRisk": "speakers of low-resource languages",
                    "benefits": "multilingual support",
                    "harms": "lower quality answers",
                    "mitigationStrategy": "evaluate before use",
                }],
            },
        })
    );
}

#[test]
fn a_name_alone_is_a_valid_bom_with_no_empty_parts() {
    let options = BomOptions {
        tool_version: String::new(),
        ..options()
    };
    let bom = model_bom(&ModelDescription::new("tiny"), &options);
    assert_valid(&bom);
    assert_eq!(
        bom["components"],
        json!([{"type": "machine-learning-model", "bom-ref": "model:tiny", "name": "tiny"}])
    );
    assert_eq!(
        bom["metadata"]["component"],
        json!({"type": "machine-learning-model", "name": "tiny"})
    );
    assert_eq!(
        bom["metadata"]["tools"]["components"][0],
        json!({
            "type": "application",
            "name": "modelgate",
            "externalReferences": [{"type": "vcs", "url": "https://github.com/modelgate/modelgate"}],
        })
    );
    // The caller's serial number and time, and nothing else that varies:
    // the same inputs give the same BOM.
    assert_eq!(bom["serialNumber"], SERIAL);
    assert_eq!(bom["metadata"]["timestamp"], TIMESTAMP);
    assert_eq!(bom, model_bom(&ModelDescription::new("tiny"), &options));
}

#[test]
fn an_inventory_lists_each_model_with_unique_refs() {
    let mut second = ModelDescription::new("all-MiniLM-L6-v2");
    second.group = some("sentence-transformers");
    second.version = some("c9745ed1d9f207416be6d2e6f8de32d1f16199bf");
    second.license = Some(LicenseChoice::Spdx {
        id: "apache-2.0".to_owned(),
    });
    second.files.push(FileEntry {
        path: "model.safetensors".to_owned(),
        size: 90_868_376,
        sha256: some(SHA_CONFIG),
        format: some("safetensors"),
    });
    // The same purl as the first model: its bom-ref must still be unique.
    let mut third = full_model();
    third.name = "Llama-3.1-8B-Instruct-GGUF (copy)".to_owned();

    let bom = inventory_bom(&[full_model(), second, third], &options());
    assert_valid(&bom);
    assert!(bom["metadata"].get("component").is_none());
    let components = bom["components"].as_array().unwrap();
    assert_eq!(components.len(), 3);
    let purl = full_model().purl.unwrap();
    let refs: Vec<&str> = components
        .iter()
        .map(|component| component["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            purl.clone(),
            "model:sentence-transformers/all-MiniLM-L6-v2@c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
                .to_owned(),
            format!("{purl}-2"),
        ]
    );
    assert_eq!(
        components[1]["licenses"],
        json!([{"license": {"id": "Apache-2.0"}}])
    );
    assert_eq!(
        components[2]["components"][0]["bom-ref"],
        format!("{purl}-2#model-Q4_1.gguf")
    );
    let mut all_refs = Vec::new();
    collect_refs(&bom, &mut all_refs);
    let n_refs = all_refs.len();
    all_refs.sort_unstable();
    all_refs.dedup();
    assert_eq!(all_refs.len(), n_refs, "{all_refs:?}");
    assert_eq!(n_refs, 3 + 2 + 1 + 2);

    let empty = inventory_bom(&[], &options());
    assert_valid(&empty);
    assert!(empty.get("components").is_none());
}

fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("bom-ref", Value::String(bom_ref)) => refs.push(bom_ref),
                    _ => collect_refs(item, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

fn license_of(license: LicenseChoice) -> Value {
    let mut model = ModelDescription::new("licensed");
    model.license = Some(license);
    let bom = model_bom(&model, &options());
    assert_valid(&bom);
    bom["components"][0]
        .get("licenses")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn ai_licenses_are_written_by_name() {
    assert_eq!(
        license_of(LicenseChoice::Named {
            name: "Gemma Terms of Use".to_owned(),
            url: some("https://ai.google.dev/gemma/terms")
        }),
        json!([{"license": {"name": "Gemma Terms of Use", "url": "https://ai.google.dev/gemma/terms"}}])
    );
    // Hub license ids that SPDX does not list fall back to a name.
    for id in [
        "llama3.1",
        "openrail",
        "bigscience-openrail-m",
        "other",
        "MIT OR Apache-2.0",
    ] {
        assert_eq!(
            license_of(LicenseChoice::Spdx { id: id.to_owned() }),
            json!([{"license": {"name": id}}]),
            "{id}"
        );
    }
    // A license file that is not a URL, and a link with a space.
    assert_eq!(
        license_of(LicenseChoice::Named {
            name: "custom".to_owned(),
            url: some("LICENSE agreement.md")
        }),
        json!([{"license": {"name": "custom", "url": "LICENSE%20agreement.md"}}])
    );
    assert_eq!(
        license_of(LicenseChoice::Named {
            name: " ".to_owned(),
            url: None
        }),
        Value::Null
    );
}

#[test]
fn spdx_licenses_are_written_by_canonical_id() {
    for (given, id) in [
        ("apache-2.0", "Apache-2.0"),
        ("MIT", "MIT"),
        ("cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0"),
        (" bsd-3-clause ", "BSD-3-Clause"),
    ] {
        assert_eq!(
            license_of(LicenseChoice::Spdx {
                id: given.to_owned()
            }),
            json!([{"license": {"id": id}}]),
            "{given}"
        );
    }
    assert_eq!(
        modelgate_bom::spdx_license_id("gpl-3.0-only"),
        Some("GPL-3.0-only")
    );
}

fn non_ascii_model() -> ModelDescription {
    let mut model = ModelDescription::new("模型-ü-🤖 \"quoted\" \\ back\u{0}slash");
    model.group = some("组织");
    model.description = some("line\nbreak\ttab\u{1b}[31m escape </script> \u{2028}");
    model.source_url = some("https://例え.jp/モデル/Ünïcode path?q=ä");
    model.files.push(FileEntry {
        path: "données/权重 \"v1\".safetensors".to_owned(),
        size: 1,
        sha256: some(SHA_CONFIG),
        format: None,
    });
    model.parameters.task = some("générer du texte");
    model.considerations.users = vec!["développeurs".to_owned()];
    model
        .properties
        .push(Property::new("modelgate:note", "ключ=значение"));
    model
}

#[test]
fn non_ascii_and_hostile_text_is_escaped_by_serde() {
    let bom = model_bom(&non_ascii_model(), &options());
    assert_valid(&bom);
    let component = &bom["components"][0];
    assert_eq!(component["name"], "模型-ü-🤖 \"quoted\" \\ back\u{0}slash");
    assert_eq!(
        component["bom-ref"],
        "model:组织/模型-ü-🤖 \"quoted\" \\ back\u{0}slash"
    );
    assert_eq!(
        component["externalReferences"][0]["url"],
        "https://例え.jp/モデル/Ünïcode%20path?q=ä"
    );
    assert_eq!(
        component["components"][0]["name"],
        "données/权重 \"v1\".safetensors"
    );
    let text = serde_json::to_string(&bom).unwrap();
    assert!(text.contains(r#"\"quoted\" \\ back\u0000slash"#), "{text}");
    assert!(text.contains(r"line\nbreak\ttab\u001b[31m"), "{text}");
}

fn hostile_model() -> ModelDescription {
    let mut model = ModelDescription::new("hostile");
    model.version = Some("v".repeat(5000));
    model.publisher = some("  ");
    model.purl = some("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#x");
    model.source_url = some("http://[::1/");
    model.hashes = vec![
        Hash::sha256("not hex"),
        Hash::sha256(&SHA_WEIGHTS[..40]),
        Hash {
            alg: HashAlgorithm::Sha1,
            content: SHA_WEIGHTS.to_owned(),
        },
        Hash {
            alg: HashAlgorithm::Md5,
            content: "D41D8CD98F00B204E9800998ECF8427E".to_owned(),
        },
    ];
    model.license = Some(LicenseChoice::Named {
        name: "x".to_owned(),
        url: some("http://host:port/"),
    });
    model.files = vec![
        FileEntry {
            path: "a.bin".to_owned(),
            size: 0,
            sha256: some("zz"),
            format: some(""),
        },
        FileEntry {
            path: "a.bin".to_owned(),
            size: 0,
            sha256: None,
            format: None,
        },
    ];
    model.parameters.datasets = vec![
        Dataset::named(""),
        Dataset {
            name: String::new(),
            url: some("   "),
        },
    ];
    model.parameters.inputs = vec![String::new()];
    model.metrics = vec![Metric::default()];
    model.considerations.ethical_considerations = vec![EthicalConsideration::default()];
    model.considerations.fairness_assessments = vec![FairnessAssessment::default()];
    model.base_models = vec![
        BaseModel::default(),
        BaseModel {
            name: "base".to_owned(),
            purl: some("pkg:hf/"),
            url: some("  "),
            ..BaseModel::default()
        },
    ];
    model.properties = vec![Property::new(" ", "no name")];
    model
}

#[test]
fn text_the_schema_would_reject_is_left_out() {
    let bom = model_bom(&hostile_model(), &options());
    assert_valid(&bom);
    let component = &bom["components"][0];
    assert_eq!(component["version"].as_str().unwrap().len(), 1024);
    // Not a purl: left out, and not used as the bom-ref.
    let model_ref = format!("model:hostile@{}", "v".repeat(1024));
    assert_eq!(component["bom-ref"], model_ref.as_str());
    assert_eq!(
        component["hashes"],
        json!([{"alg": "MD5", "content": "d41d8cd98f00b204e9800998ecf8427e"}])
    );
    assert_eq!(component["licenses"], json!([{"license": {"name": "x"}}]));
    for absent in [
        "publisher",
        "supplier",
        "purl",
        "externalReferences",
        "modelCard",
        "properties",
    ] {
        assert!(component.get(absent).is_none(), "{absent}: {component}");
    }
    assert_eq!(
        component["pedigree"],
        json!({"ancestors": [{"type": "machine-learning-model", "name": "base"}]})
    );
    let files = component["components"].as_array().unwrap();
    assert_eq!(files[0]["bom-ref"], format!("{model_ref}#a.bin"));
    assert_eq!(files[1]["bom-ref"], format!("{model_ref}#a.bin-2"));
    assert!(files[0].get("hashes").is_none());
    assert_eq!(
        files[0]["properties"],
        json!([{"name": "modelgate:size", "value": "0"}])
    );
}

#[test]
fn the_validator_rejects_broken_boms() {
    let bom = model_bom(&full_model(), &options());
    assert_valid(&bom);
    let broken = |path: &str, value: Value| {
        let mut broken = bom.clone();
        *broken.pointer_mut(path).unwrap() = value;
        let errors = schema_errors(&broken);
        assert!(!errors.is_empty(), "{path} accepted");
        errors.join("\n")
    };
    // A hand-broken hash algorithm and digest.
    assert!(broken("/components/0/hashes/0/alg", json!("SHA-257")).contains("SHA-257"));
    broken("/components/0/components/0/hashes/0/content", json!("abc"));
    // The SPDX list is resolved from the committed spdx.schema.json.
    broken(
        "/components/0/licenses",
        json!([{"license": {"id": "llama3.1"}}]),
    );
    // Formats are checked: date-time and iri-reference.
    broken("/metadata/timestamp", json!("yesterday"));
    broken(
        "/components/0/externalReferences/0/url",
        json!("http://[::1/"),
    );
    // Structure: unknown type, unknown field, empty bom-ref, bad serial.
    broken("/components/0/type", json!("model"));
    broken(
        "/components/0/modelCard/modelParameters/approach/type",
        json!("vibes"),
    );
    broken("/components/0/bom-ref", json!(""));
    broken("/serialNumber", json!("urn:uuid:not-a-uuid"));
    broken("/components/0/pedigree/ancestors/0/name", json!(7));
}

#[test]
fn the_same_input_gives_the_same_bom() {
    let first = model_bom(&full_model(), &options());
    let second = model_bom(&full_model(), &options());
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap()
    );
}

#[test]
fn descriptions_round_trip_through_json_and_default_missing_fields() {
    let model = full_model();
    let stored = serde_json::to_string(&model).unwrap();
    assert_eq!(
        serde_json::from_str::<ModelDescription>(&stored).unwrap(),
        model
    );
    let old: ModelDescription =
        serde_json::from_str(r#"{"name": "old", "license": {"kind": "spdx", "id": "MIT"}}"#)
            .unwrap();
    assert_eq!(old.name, "old");
    assert_eq!(
        old.license,
        Some(LicenseChoice::Spdx {
            id: "MIT".to_owned()
        })
    );
    assert!(old.files.is_empty());
    let stored_hash = serde_json::to_value(Hash::sha256(SHA_CONFIG)).unwrap();
    assert_eq!(
        stored_hash,
        json!({"alg": "SHA-256", "content": SHA_CONFIG})
    );
}

/// The reference implementation agrees: `MODELGATE_PYTHON` names the
/// project venv's interpreter (`scripts/venv.sh`, which installs
/// `cyclonedx-python-lib[json-validation]`; `scripts/test.sh` sets it).
#[test]
fn cyclonedx_python_lib_accepts_the_boms() {
    let python = std::env::var("MODELGATE_PYTHON").expect(
        "MODELGATE_PYTHON is not set: run the tests with scripts/test.sh, or set it to the interpreter scripts/venv.sh prints",
    );
    let has_lib = std::process::Command::new(&python)
        .args(["-c", "import cyclonedx.validation.json, jsonschema"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        has_lib,
        "{python} lacks cyclonedx-python-lib[json-validation]: run scripts/venv.sh"
    );
    let boms = [
        model_bom(&full_model(), &options()),
        model_bom(&ModelDescription::new("tiny"), &options()),
        model_bom(&non_ascii_model(), &options()),
        model_bom(&hostile_model(), &options()),
        inventory_bom(
            &[full_model(), ModelDescription::new("模型"), full_model()],
            &options(),
        ),
    ];
    let script = r#"
import json, sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.model.bom import Bom
validator = JsonStrictValidator(SchemaVersion.V1_6)
for line in sys.stdin:
    error = validator.validate_str(line)
    if error is not None:
        sys.exit(f"invalid: {error}")
    bom = Bom.from_json(json.loads(line))
    print(len(bom.components))
"#;
    let input: String = boms
        .iter()
        .map(|bom| serde_json::to_string(bom).unwrap() + "\n")
        .collect();
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["1", "1", "1", "1", "3"]
    );
}
