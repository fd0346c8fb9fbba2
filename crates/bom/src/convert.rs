//! From a [`ModelDescription`] to CycloneDX components.

use std::collections::{HashMap, HashSet};

use crate::cyclonedx as cdx;
use crate::cyclonedx::{ComponentType, ExternalReferenceType};
use crate::license::spdx_license_id;
use crate::model::{self, LicenseChoice, ModelDescription};
use crate::property;
use crate::sanitize::{hex_digest, iri_reference, purl, text, texts, version};

/// The `bom-ref`s of one BOM, which the specification requires to be
/// unique: a taken candidate gets `-2`, `-3`, ... appended. Every candidate
/// starts with `pkg:` or `model:`, never with the `urn:cdx:` the schema
/// reserves for BOM-Links.
#[derive(Default)]
pub(crate) struct Refs {
    used: HashSet<String>,
    /// For each base that was taken, the suffix to try next (so n copies of
    /// one candidate cost n tries, not n²).
    next_suffix: HashMap<String, u64>,
}

impl Refs {
    pub(crate) fn unique(&mut self, base: String) -> String {
        if self.used.insert(base.clone()) {
            return base;
        }
        let suffix = self.next_suffix.entry(base.clone()).or_insert(2);
        loop {
            let numbered = format!("{base}-{suffix}");
            *suffix += 1;
            if self.used.insert(numbered.clone()) {
                return numbered;
            }
        }
    }
}

/// The model as a `machine-learning-model` component, its files nested.
pub(crate) fn model_component(model: &ModelDescription, refs: &mut Refs) -> cdx::Component {
    let mut component = identity(model);
    let bom_ref = refs.unique(model_ref(model, component.purl.as_deref()));
    component.description = text(model.description.as_deref());
    component.hashes = model
        .hashes
        .iter()
        .filter_map(|h| hash(h.alg, &h.content))
        .collect();
    component.licenses = license(model.license.as_ref()).into_iter().collect();
    component.external_references = external_reference(
        ExternalReferenceType::Distribution,
        model.source_url.as_deref(),
    );
    component.pedigree = pedigree(&model.base_models);
    component.components = model
        .files
        .iter()
        .map(|file| file_component(file, &bom_ref, refs))
        .collect();
    component.model_card = model_card(model);
    component.properties = properties(&model.properties);
    component.bom_ref = Some(bom_ref);
    component
}

/// The model's identity (type, supplier, publisher, group, name, version,
/// purl), as `metadata.component` names the subject of a single-model BOM.
pub(crate) fn identity(model: &ModelDescription) -> cdx::Component {
    let mut component =
        cdx::Component::new(ComponentType::MachineLearningModel, model.name.clone());
    component.publisher = text(model.publisher.as_deref());
    component.supplier = component
        .publisher
        .clone()
        .map(|name| cdx::OrganizationalEntity { name });
    component.group = text(model.group.as_deref());
    component.version = version(model.version.as_deref());
    component.purl = purl(model.purl.as_deref());
    component
}

/// modelgate itself, for `metadata.tools.components`.
pub(crate) fn tool_component(tool_version: &str) -> cdx::Component {
    let mut component = cdx::Component::new(ComponentType::Application, "modelgate".to_owned());
    component.version = version(Some(tool_version));
    component.external_references = external_reference(
        ExternalReferenceType::Vcs,
        Some(env!("CARGO_PKG_REPOSITORY")),
    );
    component
}

/// The purl when there is a valid one (what most CycloneDX tools use),
/// otherwise `model:[group/]name[@version]`.
fn model_ref(model: &ModelDescription, purl: Option<&str>) -> String {
    if let Some(purl) = purl {
        return purl.to_owned();
    }
    let mut candidate = "model:".to_owned();
    if let Some(group) = text(model.group.as_deref()) {
        candidate.push_str(group.trim());
        candidate.push('/');
    }
    candidate.push_str(model.name.trim());
    if let Some(version) = version(model.version.as_deref()) {
        candidate.push('@');
        candidate.push_str(version.trim());
    }
    candidate
}

/// A digest, when it is hexadecimal of the algorithm's length.
fn hash(alg: model::HashAlgorithm, content: &str) -> Option<cdx::Hash> {
    hex_digest(alg, content).map(|content| cdx::Hash { alg, content })
}

fn license(license: Option<&LicenseChoice>) -> Option<cdx::LicenseEntry> {
    let license = match license? {
        LicenseChoice::Spdx { id } => match spdx_license_id(id) {
            Some(id) => cdx::License::Id { id },
            None => cdx::License::Name {
                name: text(Some(id))?,
                url: None,
            },
        },
        LicenseChoice::Named { name, url } => cdx::License::Name {
            name: text(Some(name))?,
            url: iri_reference(url.as_deref()),
        },
    };
    Some(cdx::LicenseEntry { license })
}

/// An external reference of `kind` to `url`, when an IRI can be made of it.
fn external_reference(
    kind: ExternalReferenceType,
    url: Option<&str>,
) -> Vec<cdx::ExternalReference> {
    iri_reference(url)
        .map(|url| cdx::ExternalReference { kind, url })
        .into_iter()
        .collect()
}

fn properties(properties: &[model::Property]) -> Vec<cdx::Property> {
    properties
        .iter()
        .filter(|property| !property.name.trim().is_empty())
        .map(|property| cdx::Property {
            name: property.name.clone(),
            value: property.value.clone(),
        })
        .collect()
}

fn fact(name: &str, value: Option<String>) -> Option<cdx::Property> {
    value.map(|value| cdx::Property {
        name: name.to_owned(),
        value,
    })
}

fn pedigree(base_models: &[model::BaseModel]) -> Option<cdx::Pedigree> {
    let ancestors: Vec<cdx::Component> = base_models
        .iter()
        .filter(|base| {
            [
                Some(base.name.as_str()),
                base.purl.as_deref(),
                base.url.as_deref(),
            ]
            .into_iter()
            .any(|field| text(field).is_some())
        })
        .map(|base| {
            let mut ancestor =
                cdx::Component::new(ComponentType::MachineLearningModel, base.name.clone());
            ancestor.version = version(base.version.as_deref());
            ancestor.purl = purl(base.purl.as_deref());
            ancestor.external_references =
                external_reference(ExternalReferenceType::Distribution, base.url.as_deref());
            ancestor.properties = fact(
                property::BASE_MODEL_RELATION,
                base.relation.map(|relation| relation.as_str().to_owned()),
            )
            .into_iter()
            .collect();
            ancestor
        })
        .collect();
    (!ancestors.is_empty()).then_some(cdx::Pedigree { ancestors })
}

/// A file as a `file` component: a concrete artifact with a path and a
/// digest (CycloneDX's `data` type is for datasets and configuration as
/// information, with `data` entries in place of digests of bytes).
fn file_component(file: &model::FileEntry, model_ref: &str, refs: &mut Refs) -> cdx::Component {
    let mut component = cdx::Component::new(ComponentType::File, file.path.clone());
    component.bom_ref = Some(refs.unique(format!("{model_ref}#{}", file.path)));
    component.hashes = file
        .sha256
        .as_deref()
        .and_then(|sha256| hash(model::HashAlgorithm::Sha256, sha256))
        .into_iter()
        .collect();
    component.properties = [
        fact(property::SIZE, Some(file.size.to_string())),
        fact(property::FORMAT, text(file.format.as_deref())),
    ]
    .into_iter()
    .flatten()
    .collect();
    component
}

fn model_card(model: &ModelDescription) -> Option<cdx::ModelCard> {
    let card = cdx::ModelCard {
        model_parameters: model_parameters(&model.parameters),
        quantitative_analysis: quantitative_analysis(&model.metrics),
        considerations: considerations(&model.considerations),
    };
    let is_empty = card.model_parameters.is_none()
        && card.quantitative_analysis.is_none()
        && card.considerations.is_none();
    (!is_empty).then_some(card)
}

fn model_parameters(parameters: &model::ModelParameters) -> Option<cdx::ModelParameters> {
    let formats = |formats: &[String]| {
        texts(formats)
            .into_iter()
            .map(|format| cdx::InputOutput { format })
            .collect::<Vec<_>>()
    };
    let section = cdx::ModelParameters {
        approach: parameters.approach.map(|kind| cdx::Approach { kind }),
        task: text(parameters.task.as_deref()),
        architecture_family: text(parameters.architecture_family.as_deref()),
        model_architecture: text(parameters.model_architecture.as_deref()),
        datasets: parameters
            .datasets
            .iter()
            .map(|dataset| cdx::ComponentData {
                kind: "dataset",
                name: text(Some(&dataset.name)),
                contents: iri_reference(dataset.url.as_deref())
                    .map(|url| cdx::DataContents { url }),
            })
            .filter(|data| data.name.is_some() || data.contents.is_some())
            .collect(),
        inputs: formats(&parameters.inputs),
        outputs: formats(&parameters.outputs),
    };
    let is_empty = section.approach.is_none()
        && section.task.is_none()
        && section.architecture_family.is_none()
        && section.model_architecture.is_none()
        && section.datasets.is_empty()
        && section.inputs.is_empty()
        && section.outputs.is_empty();
    (!is_empty).then_some(section)
}

fn quantitative_analysis(metrics: &[model::Metric]) -> Option<cdx::QuantitativeAnalysis> {
    let performance_metrics: Vec<cdx::PerformanceMetric> = metrics
        .iter()
        .map(|metric| cdx::PerformanceMetric {
            kind: text(Some(&metric.metric_type)),
            value: text(Some(&metric.value)),
            slice: metric_slice(metric),
            confidence_interval: metric.confidence_interval.as_ref().and_then(|interval| {
                let lower_bound = text(interval.lower_bound.as_deref());
                let upper_bound = text(interval.upper_bound.as_deref());
                (lower_bound.is_some() || upper_bound.is_some()).then_some(
                    cdx::ConfidenceInterval {
                        lower_bound,
                        upper_bound,
                    },
                )
            }),
        })
        .filter(|metric| metric.kind.is_some() || metric.value.is_some())
        .collect();
    (!performance_metrics.is_empty()).then_some(cdx::QuantitativeAnalysis {
        performance_metrics,
    })
}

/// `task: dataset / slice`, each part when present.
fn metric_slice(metric: &model::Metric) -> Option<String> {
    let place = [
        text(metric.dataset.as_deref()),
        text(metric.slice.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" / ");
    match (text(metric.task.as_deref()), place.is_empty()) {
        (Some(task), false) => Some(format!("{task}: {place}")),
        (Some(task), true) => Some(task),
        (None, false) => Some(place),
        (None, true) => None,
    }
}

fn considerations(considerations: &model::Considerations) -> Option<cdx::Considerations> {
    let environmental = &considerations.environmental;
    let environmental_properties: Vec<cdx::Property> = [
        fact(
            property::ENERGY_CONSUMPTION,
            text(environmental.energy_consumption.as_deref()),
        ),
        fact(
            property::CO2_EQ_EMISSIONS,
            text(environmental.co2_emissions.as_deref()),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let section = cdx::Considerations {
        users: texts(&considerations.users),
        use_cases: texts(&considerations.use_cases),
        technical_limitations: texts(&considerations.technical_limitations),
        performance_tradeoffs: texts(&considerations.performance_tradeoffs),
        ethical_considerations: considerations
            .ethical_considerations
            .iter()
            .map(|risk| cdx::Risk {
                name: text(Some(&risk.name)),
                mitigation_strategy: text(risk.mitigation_strategy.as_deref()),
            })
            .filter(|risk| risk.name.is_some() || risk.mitigation_strategy.is_some())
            .collect(),
        environmental_considerations: (!environmental_properties.is_empty()).then_some(
            cdx::EnvironmentalConsiderations {
                properties: environmental_properties,
            },
        ),
        fairness_assessments: considerations
            .fairness_assessments
            .iter()
            .map(|assessment| cdx::FairnessAssessment {
                group_at_risk: text(assessment.group_at_risk.as_deref()),
                benefits: text(assessment.benefits.as_deref()),
                harms: text(assessment.harms.as_deref()),
                mitigation_strategy: text(assessment.mitigation_strategy.as_deref()),
            })
            .filter(|assessment| {
                assessment.group_at_risk.is_some()
                    || assessment.benefits.is_some()
                    || assessment.harms.is_some()
                    || assessment.mitigation_strategy.is_some()
            })
            .collect(),
    };
    let is_empty = section.users.is_empty()
        && section.use_cases.is_empty()
        && section.technical_limitations.is_empty()
        && section.performance_tradeoffs.is_empty()
        && section.ethical_considerations.is_empty()
        && section.environmental_considerations.is_none()
        && section.fairness_assessments.is_empty();
    (!is_empty).then_some(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_made_unique() {
        let mut refs = Refs::default();
        let taken: Vec<String> = ["a", "a", "a-2", "a", "b"]
            .iter()
            .map(|base| refs.unique((*base).to_owned()))
            .collect();
        assert_eq!(taken, ["a", "a-2", "a-2-2", "a-3", "b"]);
        for _ in 0..10_000 {
            refs.unique("c".to_owned());
        }
        assert_eq!(refs.unique("c".to_owned()), "c-10001");
    }
}
