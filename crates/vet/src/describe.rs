//! A vet report as the AI-BOM's description of the model.

use modelgate_bom::{
    BaseModel, BaseModelRelation, Considerations, Dataset, EnvironmentalConsiderations,
    EthicalConsideration, FileEntry, Hash, LicenseChoice, Metric, ModelDescription,
    ModelParameters, Property, property,
};
use modelgate_policy::SignatureStatus;

use crate::VetReport;

/// Describe the vetted model for `modelgate-bom`.
///
/// The model's own hash is the SHA-256 of its primary weights file (the
/// largest artifact), so the component is identified by the bytes that run.
pub fn model_description(report: &VetReport) -> ModelDescription {
    let provenance = &report.provenance;
    let mut description = ModelDescription::new(report.model.name.clone());
    description.version = provenance.revision.as_ref().map(|fact| fact.value.clone());
    description.publisher = provenance.publisher.as_ref().map(|fact| fact.value.clone());
    let source = provenance.source.as_ref().map(|fact| fact.value.clone());
    if let Some(source) = &source {
        if source.starts_with("http://") || source.starts_with("https://") {
            description.source_url = Some(source.clone());
        } else if let Some((org, name)) = source.split_once('/') {
            description.source_url = Some(format!("https://huggingface.co/{source}"));
            let version = description
                .version
                .as_ref()
                .map(|rev| format!("@{rev}"))
                .unwrap_or_default();
            description.purl = Some(format!("pkg:huggingface/{org}/{name}{version}"));
            description.group = Some(org.to_string());
        }
    }
    description.license = match (&report.license.license, &report.license.terms) {
        (Some(id), terms) => match terms.as_ref().and_then(|t| t.spdx.clone()) {
            Some(spdx) => Some(LicenseChoice::Spdx { id: spdx }),
            None => Some(LicenseChoice::Named {
                name: terms
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_else(|| id.clone()),
                url: terms
                    .as_ref()
                    .map(|t| t.source_url.clone())
                    .filter(|url| !url.is_empty()),
            }),
        },
        (None, _) => None,
    };
    for file in &report.files {
        if report.model.primary_file.as_deref() == Some(file.path.as_str()) {
            description.hashes.push(Hash::sha256(file.sha256.clone()));
        }
        description.files.push(FileEntry {
            path: file.path.clone(),
            size: file.size,
            sha256: Some(file.sha256.clone()),
            format: file.format.clone(),
        });
    }
    let card = &report.card;
    let config_architecture = report
        .inspect
        .artifacts
        .iter()
        .find_map(|artifact| artifact.architecture.clone());
    description.parameters = ModelParameters {
        task: report.model.task.clone(),
        architecture_family: report.model.architecture.clone().or(config_architecture),
        model_architecture: report.model.architecture.clone(),
        datasets: report.model.datasets.iter().map(Dataset::named).collect(),
        ..ModelParameters::default()
    };
    description.metrics = card
        .metrics
        .iter()
        .map(|metric| Metric {
            metric_type: metric.metric_type.clone(),
            value: metric.value.clone(),
            dataset: metric.dataset.clone(),
            task: metric.task.clone(),
            ..Metric::default()
        })
        .collect();
    let c = &card.considerations;
    description.considerations = Considerations {
        use_cases: c.use_cases.iter().cloned().collect(),
        technical_limitations: c.limitations.iter().cloned().collect(),
        ethical_considerations: c
            .out_of_scope
            .iter()
            .map(|text| EthicalConsideration {
                name: format!("Out-of-scope use: {text}"),
                mitigation_strategy: None,
            })
            .collect(),
        environmental: EnvironmentalConsiderations {
            energy_consumption: c.environmental.clone(),
            co2_emissions: None,
        },
        ..Considerations::default()
    };
    description.base_models = provenance
        .base_models
        .iter()
        .map(|base| BaseModel {
            name: base.name.clone(),
            url: base.url.clone().or_else(|| {
                (base.name.contains('/') && !base.name.contains("://"))
                    .then(|| format!("https://huggingface.co/{}", base.name))
            }),
            relation: match base.relation.as_deref() {
                Some("finetune") => Some(BaseModelRelation::Finetune),
                Some("quantized") => Some(BaseModelRelation::Quantized),
                Some("merge") => Some(BaseModelRelation::Merge),
                Some("adapter") => Some(BaseModelRelation::Adapter),
                _ => None,
            },
            ..BaseModel::default()
        })
        .collect();
    let mut properties = vec![Property::new(
        property::VERDICT,
        report.verdict.decision.name(),
    )];
    if let Some(format) = &report.model.format {
        properties.push(Property::new(property::FORMAT, format.clone()));
    }
    if let Some(parameters) = report.model.parameters {
        properties.push(Property::new(property::PARAMETERS, parameters.to_string()));
    }
    if let Some(quantization) = &report.model.quantization {
        properties.push(Property::new(property::QUANTIZATION, quantization.clone()));
    }
    let signature = match &report.signature.status {
        SignatureStatus::Unsigned => "unsigned",
        SignatureStatus::Unchecked => "unchecked",
        SignatureStatus::Verified { .. } => "verified",
        SignatureStatus::Invalid { .. } => "invalid",
    };
    properties.push(Property::new(property::SIGNATURE, signature));
    description.properties = properties;
    description
}
