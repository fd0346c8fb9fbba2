//! Findings: what a scan reports, as plain data.

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a gate.
    Info,
    /// Unusual but unlikely to be harmful.
    Low,
    /// Unknown behaviour on load (an unlisted import, a custom op domain).
    Medium,
    /// The artifact could not be fully verified (unparseable, over a limit) or is structurally unsafe.
    High,
    /// Runs attacker-chosen code, or reads or writes outside the model, when loaded.
    Critical,
}

impl Severity {
    /// The lower-case name used in JSON, SARIF and `--fail-on`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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
