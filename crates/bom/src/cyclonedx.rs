//! The part of the CycloneDX 1.6 JSON model this crate writes, as serde
//! structs named after `bom-1.6.schema.json`'s definitions. Empty lists and
//! absent values are skipped: the schema forbids some empty things
//! (`licenses` must not be an empty `expression` list, `bom-ref` must not be
//! empty) and an empty section says nothing.

use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bom {
    pub(crate) bom_format: &'static str,
    pub(crate) spec_version: &'static str,
    pub(crate) serial_number: String,
    pub(crate) version: u32,
    pub(crate) metadata: Metadata,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) components: Vec<Component>,
}

#[derive(Serialize)]
pub(crate) struct Metadata {
    pub(crate) timestamp: String,
    pub(crate) tools: Tools,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) component: Option<Component>,
}

#[derive(Serialize)]
pub(crate) struct Tools {
    pub(crate) components: Vec<Component>,
}

#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ComponentType {
    Application,
    File,
    MachineLearningModel,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Component {
    #[serde(rename = "type")]
    pub(crate) kind: ComponentType,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    pub(crate) bom_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) supplier: Option<OrganizationalEntity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) publisher: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) licenses: Vec<LicenseEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) external_references: Vec<ExternalReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pedigree: Option<Pedigree>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) components: Vec<Component>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model_card: Option<ModelCard>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) properties: Vec<Property>,
}

impl Component {
    pub(crate) fn new(kind: ComponentType, name: String) -> Self {
        Self {
            kind,
            bom_ref: None,
            supplier: None,
            publisher: None,
            group: None,
            name,
            version: None,
            description: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            purl: None,
            external_references: Vec::new(),
            pedigree: None,
            components: Vec::new(),
            model_card: None,
            properties: Vec::new(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct OrganizationalEntity {
    pub(crate) name: String,
}

#[derive(Serialize)]
pub(crate) struct Hash {
    pub(crate) alg: crate::model::HashAlgorithm,
    pub(crate) content: String,
}

/// One item of a `licenseChoice` list of licenses.
#[derive(Serialize)]
pub(crate) struct LicenseEntry {
    pub(crate) license: License,
}

/// A `license`: exactly one of `id` and `name` (the schema's `oneOf`).
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum License {
    Id {
        id: &'static str,
    },
    Name {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
}

#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ExternalReferenceType {
    Distribution,
    Vcs,
}

#[derive(Serialize)]
pub(crate) struct ExternalReference {
    #[serde(rename = "type")]
    pub(crate) kind: ExternalReferenceType,
    pub(crate) url: String,
}

#[derive(Serialize)]
pub(crate) struct Pedigree {
    pub(crate) ancestors: Vec<Component>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModelCard {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model_parameters: Option<ModelParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) quantitative_analysis: Option<QuantitativeAnalysis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) considerations: Option<Considerations>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModelParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) approach: Option<Approach>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) architecture_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model_architecture: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) datasets: Vec<ComponentData>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) inputs: Vec<InputOutput>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) outputs: Vec<InputOutput>,
}

#[derive(Serialize)]
pub(crate) struct Approach {
    #[serde(rename = "type")]
    pub(crate) kind: crate::model::Approach,
}

/// Inline data information (`componentData`) of type `dataset`.
#[derive(Serialize)]
pub(crate) struct ComponentData {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) contents: Option<DataContents>,
}

#[derive(Serialize)]
pub(crate) struct DataContents {
    pub(crate) url: String,
}

#[derive(Serialize)]
pub(crate) struct InputOutput {
    pub(crate) format: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QuantitativeAnalysis {
    pub(crate) performance_metrics: Vec<PerformanceMetric>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PerformanceMetric {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) slice: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) confidence_interval: Option<ConfidenceInterval>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfidenceInterval {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lower_bound: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upper_bound: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Considerations {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) users: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) use_cases: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) technical_limitations: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) performance_tradeoffs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) ethical_considerations: Vec<Risk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) environmental_considerations: Option<EnvironmentalConsiderations>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) fairness_assessments: Vec<FairnessAssessment>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Risk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mitigation_strategy: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct EnvironmentalConsiderations {
    pub(crate) properties: Vec<Property>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FairnessAssessment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group_at_risk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) benefits: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) harms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mitigation_strategy: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Property {
    pub(crate) name: String,
    pub(crate) value: String,
}
