//! The input: what modelgate knows about one model, as plain data.
//!
//! Every type here derives `Serialize` and `Deserialize`, so the inventory can
//! store a description and write its BOM later. The structs (except [`Hash`],
//! whose two fields are both needed) also derive `Default` and are
//! `#[serde(default)]`, so a description stored by an older modelgate still
//! loads after fields are added. Optional text that is empty or only
//! whitespace counts as absent, and empty lists are left out of the BOM.

use serde::{Deserialize, Serialize};

/// One model: identity, license, digests, files, model card and lineage.
///
/// Only `name` is required; everything else is written when present. The
/// comment on each field names the CycloneDX field it becomes; the crate
/// documentation has the whole mapping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelDescription {
    /// Model name without its organisation, e.g. `Llama-3.1-8B-Instruct`
    /// (`component.name`).
    pub name: String,
    /// Version or revision, e.g. a Git commit of the hub repository
    /// (`component.version`, cut to the schema's 1024 characters).
    pub version: Option<String>,
    /// Who published the model, e.g. `Meta` (`component.publisher` and
    /// `component.supplier.name`).
    pub publisher: Option<String>,
    /// Namespace of the name, e.g. the hub organisation `meta-llama`
    /// (`component.group`).
    pub group: Option<String>,
    /// Free-text summary (`component.description`).
    pub description: Option<String>,
    /// Where the model was obtained, e.g. its hub page
    /// (`component.externalReferences[type=distribution]`).
    pub source_url: Option<String>,
    /// Package URL, e.g. `pkg:huggingface/meta-llama/Llama-3.1-8B@0e9e39f`
    /// (`component.purl`, and the component's `bom-ref`; left out when it
    /// is not shaped like `pkg:type/name`).
    pub purl: Option<String>,
    /// The model's license (`component.licenses`).
    pub license: Option<LicenseChoice>,
    /// Digests of the model as a whole, e.g. of its single weights file or
    /// of its signed manifest (`component.hashes`).
    pub hashes: Vec<Hash>,
    /// The files the model consists of (nested `file` components).
    pub files: Vec<FileEntry>,
    /// How the model was built and what it consumes and produces
    /// (`component.modelCard.modelParameters`).
    pub parameters: ModelParameters,
    /// Evaluation results, e.g. from a model card's `model-index`
    /// (`component.modelCard.quantitativeAnalysis.performanceMetrics`).
    pub metrics: Vec<Metric>,
    /// Intended users and uses, limitations, risks
    /// (`component.modelCard.considerations`).
    pub considerations: Considerations,
    /// The models this one derives from (`component.pedigree.ancestors`).
    pub base_models: Vec<BaseModel>,
    /// Further facts as name/value pairs, e.g. modelgate's verdict
    /// (`component.properties`); see [`crate::property`] for the names
    /// modelgate uses.
    pub properties: Vec<Property>,
}

impl ModelDescription {
    /// A description with only a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// A model's license.
///
/// Whether an identifier is written as an SPDX `license.id` is decided by the
/// SPDX list of the CycloneDX schema itself: see [`crate::spdx_license_id`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LicenseChoice {
    /// An SPDX license identifier such as `Apache-2.0` (matched without
    /// regard to case, so `apache-2.0` from a model card works). An
    /// identifier that is not on the SPDX list, such as `llama3.1`, is
    /// written as a license name instead.
    Spdx {
        /// The identifier.
        id: String,
    },
    /// A license known by name, such as the AI licenses that have no SPDX
    /// identifier (`Llama 3.1 Community License`, `Gemma Terms of Use`).
    Named {
        /// The license's name.
        name: String,
        /// Where its text is (`license.url`).
        url: Option<String>,
    },
}

/// A digest of a model or file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hash {
    /// The algorithm.
    pub alg: HashAlgorithm,
    /// The digest in hexadecimal (either case). A digest whose length does
    /// not fit the algorithm is left out of the BOM, whose schema would
    /// reject it.
    pub content: String,
}

impl Hash {
    /// A SHA-256 digest given in hexadecimal.
    pub fn sha256(content: impl Into<String>) -> Self {
        Self {
            alg: HashAlgorithm::Sha256,
            content: content.into(),
        }
    }
}

/// The digest algorithms CycloneDX 1.6 names, serialized with its spelling
/// (`SHA-256`, `BLAKE3`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)] // the names are the documentation
pub enum HashAlgorithm {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-1")]
    Sha1,
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "SHA-384")]
    Sha384,
    #[serde(rename = "SHA-512")]
    Sha512,
    #[serde(rename = "SHA3-256")]
    Sha3_256,
    #[serde(rename = "SHA3-384")]
    Sha3_384,
    #[serde(rename = "SHA3-512")]
    Sha3_512,
    #[serde(rename = "BLAKE2b-256")]
    Blake2b256,
    #[serde(rename = "BLAKE2b-384")]
    Blake2b384,
    #[serde(rename = "BLAKE2b-512")]
    Blake2b512,
    #[serde(rename = "BLAKE3")]
    Blake3,
}

impl HashAlgorithm {
    /// The lengths, in hexadecimal digits, a digest of this algorithm may
    /// have (BLAKE3 is extendable: any length the schema allows).
    pub(crate) fn hex_lengths(self) -> &'static [usize] {
        match self {
            Self::Md5 => &[32],
            Self::Sha1 => &[40],
            Self::Sha256 | Self::Sha3_256 | Self::Blake2b256 => &[64],
            Self::Sha384 | Self::Sha3_384 | Self::Blake2b384 => &[96],
            Self::Sha512 | Self::Sha3_512 | Self::Blake2b512 => &[128],
            Self::Blake3 => &[32, 40, 64, 96, 128],
        }
    }
}

/// One file of a model, e.g. a weights shard, `config.json` or the
/// tokenizer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileEntry {
    /// Path relative to the model's root, with `/` separators
    /// (`component.name`).
    pub path: String,
    /// Size in bytes (property `modelgate:size`).
    pub size: u64,
    /// SHA-256 of the contents in hexadecimal (`component.hashes`).
    pub sha256: Option<String>,
    /// The format modelgate recognised, e.g. `safetensors`, `gguf`,
    /// `pickle` (property `modelgate:format`).
    pub format: Option<String>,
}

/// How a model was built and what it consumes and produces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelParameters {
    /// The learning approach (`approach.type`).
    pub approach: Option<Approach>,
    /// The task, e.g. `text-generation` (`task`).
    pub task: Option<String>,
    /// The architecture family, e.g. `llama` or `transformer`
    /// (`architectureFamily`).
    pub architecture_family: Option<String>,
    /// The specific architecture, e.g. `LlamaForCausalLM`
    /// (`modelArchitecture`).
    pub model_architecture: Option<String>,
    /// Datasets used to train or evaluate the model (`datasets`, inline).
    pub datasets: Vec<Dataset>,
    /// Input formats, e.g. `text` (`inputs[].format`).
    pub inputs: Vec<String>,
    /// Output formats, e.g. `text` (`outputs[].format`).
    pub outputs: Vec<String>,
}

/// The learning approaches CycloneDX 1.6 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)] // the names are the documentation
pub enum Approach {
    Supervised,
    Unsupervised,
    ReinforcementLearning,
    SemiSupervised,
    SelfSupervised,
}

/// A dataset a model was trained or evaluated on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dataset {
    /// Its name, e.g. the hub id `HuggingFaceFW/fineweb` (`name`).
    pub name: String,
    /// Where it is (`contents.url`).
    pub url: Option<String>,
}

impl Dataset {
    /// A dataset known only by name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: None,
        }
    }
}

/// One evaluation result.
///
/// CycloneDX has no place for the dataset and task of a metric, only a free
/// text `slice`; they are written there as `task: dataset / slice` (each
/// part when present).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metric {
    /// What was measured, e.g. `accuracy` (`type`).
    pub metric_type: String,
    /// The result, as written by its source (`value`).
    pub value: String,
    /// The dataset it was measured on, e.g. `cais/mmlu`.
    pub dataset: Option<String>,
    /// The part of the dataset, e.g. `test` or a subset.
    pub slice: Option<String>,
    /// The task, e.g. `text-generation`.
    pub task: Option<String>,
    /// Confidence interval (`confidenceInterval`).
    pub confidence_interval: Option<ConfidenceInterval>,
}

/// Bounds of a confidence interval, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfidenceInterval {
    /// Lower bound (`lowerBound`).
    pub lower_bound: Option<String>,
    /// Upper bound (`upperBound`).
    pub upper_bound: Option<String>,
}

/// Who a model is for and what to watch out for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Considerations {
    /// Intended users (`users`).
    pub users: Vec<String>,
    /// Intended uses (`useCases`).
    pub use_cases: Vec<String>,
    /// Known technical limitations (`technicalLimitations`).
    pub technical_limitations: Vec<String>,
    /// Trade-offs of performance against other qualities
    /// (`performanceTradeoffs`).
    pub performance_tradeoffs: Vec<String>,
    /// Ethical risks and their mitigations (`ethicalConsiderations`).
    pub ethical_considerations: Vec<EthicalConsideration>,
    /// Energy and emissions, as text (`environmentalConsiderations`).
    pub environmental: EnvironmentalConsiderations,
    /// Benefits and harms to groups at risk (`fairnessAssessments`).
    pub fairness_assessments: Vec<FairnessAssessment>,
}

/// An ethical risk and how it is mitigated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EthicalConsideration {
    /// The risk (`name`).
    pub name: String,
    /// How it is addressed (`mitigationStrategy`).
    pub mitigation_strategy: Option<String>,
}

/// Environmental impact as free text, as model cards give it.
///
/// CycloneDX's structured `energyConsumptions` needs numbers, units and the
/// energy providers, which cards rarely state; the text goes into the
/// section's `properties` instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvironmentalConsiderations {
    /// Energy used, e.g. `1.2 MWh for training on 64 A100s` (property
    /// `modelgate:energy-consumption`).
    pub energy_consumption: Option<String>,
    /// CO2-equivalent emissions, e.g. `149 kg` (property
    /// `modelgate:co2-eq-emissions`).
    pub co2_emissions: Option<String>,
}

/// Benefits and harms of a model to a group at risk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FairnessAssessment {
    /// The group (`groupAtRisk`).
    pub group_at_risk: Option<String>,
    /// Expected benefits (`benefits`).
    pub benefits: Option<String>,
    /// Expected harms (`harms`).
    pub harms: Option<String>,
    /// How the harms are mitigated (`mitigationStrategy`).
    pub mitigation_strategy: Option<String>,
}

/// A model this one derives from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaseModel {
    /// Its name, e.g. the hub id `meta-llama/Llama-3.1-8B` (`name`).
    pub name: String,
    /// Its version or revision (`version`).
    pub version: Option<String>,
    /// Its package URL (`purl`).
    pub purl: Option<String>,
    /// Where it is (`externalReferences[type=distribution]`).
    pub url: Option<String>,
    /// How this model was made from it (property
    /// `modelgate:base-model-relation`).
    pub relation: Option<BaseModelRelation>,
}

/// How a model was derived from a base model (the Hugging Face
/// `base_model_relation` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseModelRelation {
    /// Further trained from the base model's weights.
    Finetune,
    /// The base model's weights at lower precision.
    Quantized,
    /// Weights combined from several models.
    Merge,
    /// An adapter (e.g. LoRA) applied on top of the base model.
    Adapter,
}

impl BaseModelRelation {
    /// The name written to the BOM.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Finetune => "finetune",
            Self::Quantized => "quantized",
            Self::Merge => "merge",
            Self::Adapter => "adapter",
        }
    }
}

/// A name/value fact (a CycloneDX `property`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Property {
    /// The name, namespaced like `modelgate:verdict`.
    pub name: String,
    /// The value.
    pub value: String,
}

impl Property {
    /// A property.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}
