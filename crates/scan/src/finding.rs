//! Findings: what a scan reports, as plain data.

use serde::Serialize;

pub use modelgate_vocab::Severity;

/// Where in an artifact a finding was made. Every field is optional; the
/// more that are set, the easier the evidence is to find.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    /// Archive member (`archive/data.pkl`), or nested path (`model.tar.gz!inner/data.pkl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Byte offset within the member (or the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Index of the pickle in a stream of several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickle_index: Option<u64>,
    /// Metadata key, config path or tensor name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// 1-based line in a text file or template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// One thing a scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's stable id, e.g. `pickle.dangerous-call`.
    pub rule: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// One sentence on what was found and why it matters.
    pub message: String,
    /// Where.
    pub location: Location,
    /// The exact thing seen: a resolved call (`os.system('id')`), a template
    /// fragment, an import line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}
