//! Scan results: per-file findings, a summary, the rule catalogue and SARIF.

use serde::Serialize;

use crate::{Finding, Severity};

/// The findings for one scanned file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file, as given or found under a given directory.
    pub path: String,
    /// The format detected from its content (`gguf`, `pytorch-zip`, …).
    pub format: String,
    /// Its size in bytes.
    pub file_bytes: u64,
    /// What was found, most severe first.
    pub findings: Vec<Finding>,
}

/// Counts over a whole scan.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Files scanned.
    pub files: u64,
    /// Files with at least one finding at or above `low`.
    pub files_with_findings: u64,
    /// Findings per severity.
    pub critical: u64,
    /// High findings.
    pub high: u64,
    /// Medium findings.
    pub medium: u64,
    /// Low findings.
    pub low: u64,
    /// Informational findings.
    pub info: u64,
    /// The most severe finding, if any.
    pub max_severity: Option<Severity>,
}

/// A whole scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// Every file, in path order.
    pub files: Vec<FileReport>,
    /// Counts.
    pub summary: Summary,
}

impl ScanReport {
    /// Build a report from per-file results, sorting files by path and
    /// findings by severity, and counting.
    pub fn new(mut files: Vec<FileReport>) -> ScanReport {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut summary = Summary::default();
        for file in &mut files {
            file.findings.sort_by(|a, b| {
                b.severity
                    .cmp(&a.severity)
                    .then_with(|| a.location.offset.cmp(&b.location.offset))
            });
            summary.files += 1;
            if file.findings.iter().any(|f| f.severity >= Severity::Low) {
                summary.files_with_findings += 1;
            }
            for finding in &file.findings {
                let counter = match finding.severity {
                    Severity::Critical => &mut summary.critical,
                    Severity::High => &mut summary.high,
                    Severity::Medium => &mut summary.medium,
                    Severity::Low => &mut summary.low,
                    Severity::Info => &mut summary.info,
                };
                *counter += 1;
                summary.max_severity = summary.max_severity.max(Some(finding.severity));
            }
        }
        ScanReport { files, summary }
    }

    /// Whether any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.summary
            .max_severity
            .is_some_and(|max| max >= threshold)
    }
}

/// A rule in the catalogue: its id, the severity it usually carries, and
/// what it means (SARIF `rules`, documentation).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// The stable id used in findings.
    pub id: &'static str,
    /// The severity findings of this rule usually have.
    pub severity: Severity,
    /// One line on what it detects.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($id:literal, $severity:ident, $summary:literal;)*) => {
        /// Every rule a scan can report.
        pub const RULES: &[Rule] = &[$(Rule { id: $id, severity: Severity::$severity, summary: $summary }),*];
    };
}

rules! {
    "pickle.dangerous-import", Critical, "a pickle imports a callable that runs code, touches files or the network, or loads more pickles";
    "pickle.dynamic-import", Critical, "a pickle imports a name computed at load time, which cannot be verified";
    "pickle.unknown-import", Medium, "a pickle references, without calling, a name in neither the safe nor the dangerous list";
    "pickle.unsafe-call", High, "a pickle calls a callable that is not on the safe list, so loading runs code nobody vetted";
    "pickle.private-call", Critical, "a pickle calls a private name of a standard-library module";
    "pickle.side-file-escape", Critical, "a joblib array placeholder names a side file outside the model directory";
    "pickle.computed-callable", High, "a pickle calls a value built while loading rather than an imported name";
    "pickle.extension-registry", High, "a pickle uses EXT1/EXT2/EXT4, importing through the copyreg extension registry";
    "pickle.unparseable", High, "a pickle stream cannot be fully disassembled or evaluated";
    "shards.path-escape", Critical, "a sharded checkpoint's index names a shard outside the model directory";
    "archive.traversal", Critical, "an archive member name is absolute or leaves the extraction directory";
    "archive.header-mismatch", High, "a zip local header disagrees with the central directory, so readers see different files";
    "archive.duplicate-member", High, "two archive members have the same name, so readers may pick different ones";
    "archive.unusual-flags", Medium, "a zip member uses encryption or unusual flag bits";
    "archive.link", High, "a tar member is a symbolic or hard link";
    "archive.anomaly", Medium, "an archive has bytes or structure a strict reader would reject";
    "numpy.object-array", Low, "a NumPy array has object dtype: loading it needs allow_pickle=True, and its pickle is judged like any other";
    "keras.lambda-layer", Critical, "a Keras Lambda layer carries marshaled Python code that runs on load";
    "keras.custom-object", Medium, "a Keras layer or object is not a built-in Keras class";
    "onnx.external-data-escape", Critical, "an ONNX initializer's external data location is absolute or leaves the model directory";
    "onnx.custom-domain", Medium, "an ONNX model uses operators from a custom domain, which need native code to run";
    "gguf.structure", High, "a GGUF header declares counts, offsets or tensors the file cannot hold";
    "gguf.duplicate-key", Medium, "a GGUF metadata key or tensor name appears twice";
    "safetensors.structure", High, "a safetensors header has out-of-range, overlapping or mis-sized tensors, or gaps where bytes can hide";
    "template.dunder-access", Critical, "a chat template reaches Python internals (dunder attributes)";
    "template.dynamic-attribute", Critical, "a chat template computes attribute names at render time";
    "template.gadget-access", Critical, "a chat template accesses attributes of Jinja global objects used by injection payloads";
    "template.obfuscated-string", Critical, "a chat template spells names with escape sequences";
    "template.file-access", High, "a chat template includes or imports other templates from disk";
    "template.unparseable", High, "a chat template cannot be parsed";
    "hf.remote-code", High, "the model requires trust_remote_code: loading it runs the repository's Python code";
    "hf.custom-code", Medium, "the repository ships Python code";
    "hf.executable", High, "the repository ships an executable or script";
    "code.process", Critical, "repository code starts processes";
    "code.eval", Critical, "repository code evaluates code built at run time";
    "code.dynamic-import", High, "repository code imports modules chosen at run time";
    "code.deserialize", High, "repository code unpickles data";
    "code.native", High, "repository code calls native code";
    "code.network", High, "repository code opens network connections";
    "code.download", High, "repository code downloads files or code at run time";
    "code.filesystem", High, "repository code deletes files";
    "code.environment", Medium, "repository code reads or changes environment variables";
    "code.reflection", Low, "repository code looks up attributes by name";
    "format.unparseable", High, "a file claims a model format but cannot be parsed: it was not verified";
    "format.unknown", High, "a file where a model was expected has an unrecognised format";
    "format.limit-exceeded", High, "a resource limit (size, ratio, nesting, pickle depth) stopped the scan of a file";
    "format.extension-mismatch", Low, "a file's extension does not match its content";
}

/// Look a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// Render a report as SARIF 2.1.0 (one run, one result per finding).
pub fn to_sarif(report: &ScanReport, tool_version: &str) -> serde_json::Value {
    use serde_json::json;
    let level = |severity: Severity| match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    };
    let security_severity = |severity: Severity| match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    };
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "shortDescription": { "text": rule.summary },
                "defaultConfiguration": { "level": level(rule.severity) },
                "properties": {
                    "security-severity": security_severity(rule.severity),
                    "tags": ["security"]
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for file in &report.files {
        for finding in &file.findings {
            let mut message = finding.message.clone();
            if let Some(evidence) = &finding.evidence {
                message.push_str(&format!(" Evidence: {evidence}"));
            }
            let region = match (finding.location.line, finding.location.offset) {
                (Some(line), _) => Some(json!({ "startLine": line })),
                (None, Some(offset)) => Some(json!({ "byteOffset": offset })),
                (None, None) => None,
            };
            let physical = match region {
                Some(region) => {
                    json!({ "artifactLocation": { "uri": file.path }, "region": region })
                }
                None => json!({ "artifactLocation": { "uri": file.path } }),
            };
            let location = match &finding.location.member {
                Some(member) => json!({
                    "physicalLocation": physical,
                    "logicalLocations": [{ "name": member, "kind": "member" }]
                }),
                None => json!({ "physicalLocation": physical }),
            };
            let result = json!({
                "ruleId": finding.rule,
                "ruleIndex": RULES.iter().position(|r| r.id == finding.rule),
                "level": level(finding.severity),
                "message": { "text": message },
                "locations": [location],
                "properties": { "severity": finding.severity.name() }
            });
            results.push(result);
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "modelgate",
                "version": tool_version,
                "informationUri": "https://github.com/modelgate/modelgate",
                "rules": rules
            }},
            "results": results
        }]
    })
}
