//! An organisation's model policy and the verdict it gives.
//!
//! [`Policy`] is read from TOML ([`Policy::from_toml`]); the built-in
//! default is `data/default-policy.toml` ([`DEFAULT_POLICY_TOML`]), which is
//! also the documented, commented example. [`judge`] applies a policy to a
//! model's [`Facts`] (license and terms, scan findings, formats, card score,
//! signature, publisher, size) and returns a [`Verdict`]: `approved`,
//! `needs-review` naming who must review (legal, security, governance), or
//! `rejected`, with one [`Reason`] per rule that was checked, each tied to a
//! stable rule id and its evidence, plus the license duties the user takes on.
//!
//! The policy also says what must be shown before a version goes to
//! production: [`EvaluationPolicy`] (`[evaluation]`) names the evaluation
//! suites that need a stored run with its threshold met, and
//! [`EvaluationPolicy::missing_for_production`] names those without one.
//! The inventory asks it when a version is promoted (the runs are stored
//! there, not facts of the vet).
//!
//! Not here: computing the facts (the analysers, gathered by `modelgate-vet`)
//! or reading files. `judge` is pure, so a verdict can be recomputed from a
//! stored report.
//!
//! ```
//! use modelgate_policy::{Decision, Facts, LicenseFacts, Policy, judge};
//! let facts = Facts {
//!     license: LicenseFacts { id: Some("cc-by-nc-4.0".into()), ..LicenseFacts::default() },
//!     ..Facts::default()
//! };
//! let verdict = judge(&Policy::default(), &facts);
//! assert_eq!(verdict.decision, Decision::Rejected);
//! assert_eq!(verdict.blocking()[0].rule, "license.denied");
//! ```

use serde::{Deserialize, Serialize};

/// The default policy, with comments explaining every key.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../data/default-policy.toml");

/// Why a policy could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TOML is malformed, has an unknown key, or a value of the wrong type.
    #[error("invalid policy: {0}")]
    Toml(#[from] toml::de::Error),
    /// `scan.review_at` is more severe than `scan.reject_at`.
    #[error(
        "invalid policy: scan.review_at ({review}) is more severe than scan.reject_at ({reject}); set review_at at or below reject_at"
    )]
    ScanThresholds {
        /// `scan.review_at`.
        review: Severity,
        /// `scan.reject_at`.
        reject: Severity,
    },
    /// `card.min_score` is above 100.
    #[error("invalid policy: card.min_score is {0}, but scores run from 0 to 100")]
    CardScore(u32),
    /// `evaluation.required_for_production` holds something that is not a
    /// suite name, or a name twice.
    #[error("invalid policy: evaluation.required_for_production: {name:?} {reason}")]
    SuiteName {
        /// The entry.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A threshold of `[evaluation.quantization]` is out of range.
    #[error("invalid policy: evaluation.quantization.{field} {reason}")]
    Threshold {
        /// The key.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// What a rule does when it matches. Ordered by severity:
/// `Allow < Review < Reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The check passes.
    Allow,
    /// Someone must review.
    Review,
    /// The model is rejected.
    Reject,
}

/// Finding severities: the shared vocabulary's (`modelgate scan` reports
/// in them).
pub use modelgate_vocab::Severity;

/// An organisation's policy. See `data/default-policy.toml` for every key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Policy {
    /// How the model will be used.
    #[serde(rename = "use")]
    pub usage: UsePolicy,
    /// Licenses.
    pub license: LicensePolicy,
    /// Security scan thresholds.
    pub scan: ScanPolicy,
    /// Formats.
    pub formats: FormatPolicy,
    /// Model card completeness.
    pub card: CardPolicy,
    /// Signatures.
    pub signature: SignaturePolicy,
    /// Publishers.
    pub provenance: ProvenancePolicy,
    /// Size limits.
    pub limits: LimitsPolicy,
    /// Evaluations required before production.
    pub evaluation: EvaluationPolicy,
}

/// `[use]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsePolicy {
    /// Commercial use.
    pub commercial: bool,
    /// The organisation's monthly active users.
    pub monthly_active_users: u64,
}

impl Default for UsePolicy {
    fn default() -> Self {
        UsePolicy {
            commercial: true,
            monthly_active_users: 0,
        }
    }
}

/// `[license]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LicensePolicy {
    /// Accepted license ids.
    pub allowed: Vec<String>,
    /// Rejected license ids.
    pub denied: Vec<String>,
    /// Licenses in neither list.
    pub other: Action,
    /// No license identified.
    pub unknown: Action,
    /// Sources disagree.
    pub conflicts: Action,
    /// Commercial use allowed only under conditions.
    pub conditional_commercial: Action,
}

impl Default for LicensePolicy {
    fn default() -> Self {
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        LicensePolicy {
            allowed: ids(&[
                "apache-2.0",
                "mit",
                "bsd-2-clause",
                "bsd-3-clause",
                "cc-by-4.0",
            ]),
            denied: ids(&["cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0"]),
            other: Action::Review,
            unknown: Action::Review,
            conflicts: Action::Review,
            conditional_commercial: Action::Review,
        }
    }
}

/// `[scan]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanPolicy {
    /// Findings at or above this severity reject.
    pub reject_at: Severity,
    /// Findings at or above this severity (and below `reject_at`) need review.
    pub review_at: Severity,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        ScanPolicy {
            reject_at: Severity::High,
            review_at: Severity::Medium,
        }
    }
}

/// `[formats]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FormatPolicy {
    /// Pickle-based formats.
    pub pickle: Action,
}

impl Default for FormatPolicy {
    fn default() -> Self {
        FormatPolicy {
            pickle: Action::Review,
        }
    }
}

/// `[card]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CardPolicy {
    /// Lowest acceptable completeness score.
    pub min_score: u32,
    /// What a lower score does.
    pub below_min: Action,
}

impl Default for CardPolicy {
    fn default() -> Self {
        CardPolicy {
            min_score: 50,
            below_min: Action::Review,
        }
    }
}

/// `[signature]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignaturePolicy {
    /// A verified signature is required.
    pub required: bool,
    /// PEM public keys trusted to sign models (paths).
    pub trusted_keys: Vec<String>,
}

/// `[provenance]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvenancePolicy {
    /// Trusted publishers; empty trusts any.
    pub trusted_publishers: Vec<String>,
    /// A publisher not in the list.
    pub untrusted: Action,
    /// No publisher known.
    pub unknown_publisher: Action,
}

impl Default for ProvenancePolicy {
    fn default() -> Self {
        ProvenancePolicy {
            trusted_publishers: Vec::new(),
            untrusted: Action::Review,
            unknown_publisher: Action::Allow,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsPolicy {
    /// Most parameters; 0 is no limit.
    pub max_parameters: u64,
    /// Most memory in bytes; 0 is no limit.
    pub max_memory_bytes: u64,
}

/// Longest evaluation suite name, in bytes (a suite file's `name`).
pub const MAX_SUITE_NAME_BYTES: usize = 256;

/// Whether `name` is an evaluation suite's name: 1 to
/// [`MAX_SUITE_NAME_BYTES`] characters of `a-z`, `0-9`, `.`, `_` and `-`
/// (as suite files write it).
pub fn is_suite_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SUITE_NAME_BYTES
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// `[evaluation]`: what must be measured before a version goes to
/// production.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationPolicy {
    /// Suite names (the `name` in a suite file) that each need a stored
    /// run of the version with its threshold met before the version is
    /// promoted to production. Empty: promotion needs no evaluation.
    pub required_for_production: Vec<String>,
    /// `[evaluation.quantization]`: when a quantized variant is good
    /// enough (`modelgate eval quant` picks the smallest that is).
    pub quantization: QuantizationThresholds,
}

/// `[evaluation.quantization]`: the thresholds a quantized variant must
/// meet against the highest-precision variant of its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuantizationThresholds {
    /// Most mean KL divergence from the base's next-token distribution.
    pub max_kld: f64,
    /// Least fraction of positions where the variant's top token is the
    /// base's.
    pub min_top1: f64,
    /// Least suite score (pass rate, or acc_norm for multiple choice), when
    /// a suite is run; none by default.
    pub min_accuracy: Option<f64>,
}

impl Default for QuantizationThresholds {
    fn default() -> QuantizationThresholds {
        QuantizationThresholds {
            max_kld: 0.1,
            min_top1: 0.85,
            min_accuracy: None,
        }
    }
}

impl QuantizationThresholds {
    fn check(&self) -> Result<(), Error> {
        let fraction = |value: f64| value.is_finite() && (0.0..=1.0).contains(&value);
        if !(self.max_kld.is_finite() && self.max_kld >= 0.0) {
            return Err(Error::Threshold {
                field: "max_kld",
                reason: "must be a number of 0 or more (nats)",
            });
        }
        if !fraction(self.min_top1) {
            return Err(Error::Threshold {
                field: "min_top1",
                reason: "must be a fraction from 0 to 1",
            });
        }
        if self.min_accuracy.is_some_and(|a| !fraction(a)) {
            return Err(Error::Threshold {
                field: "min_accuracy",
                reason: "must be a fraction from 0 to 1",
            });
        }
        Ok(())
    }
}

impl EvaluationPolicy {
    /// The suites [`required_for_production`](Self::required_for_production)
    /// names for which `has_passing_run` says the version has no stored
    /// run with its threshold met, in the policy's order. Empty: the
    /// version may be promoted.
    pub fn missing_for_production(
        &self,
        mut has_passing_run: impl FnMut(&str) -> bool,
    ) -> Vec<String> {
        self.required_for_production
            .iter()
            .filter(|suite| !has_passing_run(suite))
            .cloned()
            .collect()
    }

    fn check(&self) -> Result<(), Error> {
        let mut seen = std::collections::BTreeSet::new();
        for name in &self.required_for_production {
            let bad = |reason| Error::SuiteName {
                name: name.clone(),
                reason,
            };
            if !is_suite_name(name) {
                return Err(bad(
                    "is not a suite name: use 1 to 256 characters of a-z, 0-9, '.', '_' and '-'",
                ));
            }
            if !seen.insert(name.as_str()) {
                return Err(bad("is listed twice"));
            }
        }
        Ok(())
    }
}

impl Policy {
    /// Parse a policy; missing keys take their defaults.
    pub fn from_toml(text: &str) -> Result<Policy, Error> {
        let policy: Policy = toml::from_str(text)?;
        if policy.scan.review_at > policy.scan.reject_at {
            return Err(Error::ScanThresholds {
                review: policy.scan.review_at,
                reject: policy.scan.reject_at,
            });
        }
        if policy.card.min_score > 100 {
            return Err(Error::CardScore(policy.card.min_score));
        }
        policy.evaluation.check()?;
        policy.evaluation.quantization.check()?;
        Ok(policy)
    }
}

/// Whether a license allows commercial use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Commercial {
    /// Yes.
    Yes,
    /// No.
    No,
    /// Under conditions (user thresholds, acceptable-use policies, ...).
    Conditional,
}

/// What is known about a model, as the policy sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The license and its terms.
    pub license: LicenseFacts,
    /// Security findings.
    pub findings: Vec<ScanFinding>,
    /// Files in pickle-based formats (relative paths).
    pub pickle_files: Vec<String>,
    /// Model card completeness, 0-100; `None` when there is no card.
    pub card_score: Option<u32>,
    /// Signature status.
    pub signature: SignatureStatus,
    /// The publisher, when known.
    pub publisher: Option<String>,
    /// Parameters of the model's primary variant.
    pub parameters: Option<u64>,
    /// Memory needed to run it, in bytes.
    pub memory_bytes: Option<u64>,
}

/// License facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LicenseFacts {
    /// The identified license id; `None` when unknown.
    pub id: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Commercial use, from the terms knowledge base.
    pub commercial: Option<Commercial>,
    /// Monthly-active-user threshold above which a separate grant is needed.
    pub monthly_active_users_limit: Option<u64>,
    /// Duties the licensee takes on (attribution, naming, acceptable use, ...).
    pub duties: Vec<String>,
    /// Disagreements between license sources.
    pub conflicts: Vec<String>,
    /// Where the license was read.
    pub evidence: Vec<String>,
}

/// One security finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanFinding {
    /// Rule id.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// The file.
    pub file: String,
    /// What was found.
    pub message: String,
}

/// Whether the model's signature verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// No signature file.
    #[default]
    Unsigned,
    /// A signature verified with a trusted key.
    Verified {
        /// Which key or certificate.
        signer: String,
    },
    /// A signature is present but no trusted key was configured to check it.
    Unchecked,
    /// A signature is present and does not verify.
    Invalid {
        /// Why, naming the file or field.
        reason: String,
    },
}

/// Who must review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reviewer {
    /// License and terms.
    Legal,
    /// Code execution, integrity, supply chain.
    Security,
    /// Documentation and fitness for use.
    Governance,
}

impl Reviewer {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Reviewer::Legal => "legal",
            Reviewer::Security => "security",
            Reviewer::Governance => "governance",
        }
    }
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Every rule passed.
    Approved,
    /// At least one rule asks for review.
    NeedsReview,
    /// At least one rule rejects.
    Rejected,
}

impl Decision {
    /// `approved`, `needs-review` or `rejected`.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::NeedsReview => "needs-review",
            Decision::Rejected => "rejected",
        }
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable rule id (`license.denied`, `scan.findings`, ...).
    pub rule: String,
    /// What the rule decided.
    pub action: Action,
    /// Who must review, for `review`.
    pub reviewer: Option<Reviewer>,
    /// What was found and what it means.
    pub message: String,
    /// The facts behind it (file, field, finding).
    pub evidence: Vec<String>,
}

/// A policy's verdict on a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The decision.
    pub decision: Decision,
    /// Who must review, for `needs-review`.
    pub reviewers: Vec<Reviewer>,
    /// Every rule checked, passing ones included, in a stable order.
    pub reasons: Vec<Reason>,
    /// What the user must do if the model is used (license duties).
    pub obligations: Vec<String>,
}

impl Verdict {
    /// The reasons that reject or ask for review.
    pub fn blocking(&self) -> Vec<&Reason> {
        self.reasons
            .iter()
            .filter(|reason| reason.action != Action::Allow)
            .collect()
    }
}

struct Judge {
    reasons: Vec<Reason>,
}

impl Judge {
    fn add(
        &mut self,
        rule: &str,
        action: Action,
        reviewer: Reviewer,
        message: String,
        evidence: Vec<String>,
    ) {
        self.reasons.push(Reason {
            rule: rule.to_string(),
            action,
            reviewer: (action == Action::Review).then_some(reviewer),
            message,
            evidence,
        });
    }
}

fn listed(list: &[String], id: &str) -> bool {
    list.iter().any(|entry| entry.eq_ignore_ascii_case(id))
}

/// Apply `policy` to `facts`.
pub fn judge(policy: &Policy, facts: &Facts) -> Verdict {
    let mut judge = Judge {
        reasons: Vec::new(),
    };
    license_rules(policy, facts, &mut judge);
    scan_rules(policy, facts, &mut judge);
    format_rules(policy, facts, &mut judge);
    card_rules(policy, facts, &mut judge);
    signature_rules(policy, facts, &mut judge);
    provenance_rules(policy, facts, &mut judge);
    limit_rules(policy, facts, &mut judge);

    let reasons = judge.reasons;
    let decision = match reasons.iter().map(|r| r.action).max() {
        Some(Action::Reject) => Decision::Rejected,
        Some(Action::Review) => Decision::NeedsReview,
        Some(Action::Allow) | None => Decision::Approved,
    };
    let mut reviewers: Vec<Reviewer> = reasons.iter().filter_map(|r| r.reviewer).collect();
    reviewers.sort();
    reviewers.dedup();
    if decision != Decision::NeedsReview {
        reviewers.clear();
    }
    Verdict {
        decision,
        reviewers,
        reasons,
        obligations: facts.license.duties.clone(),
    }
}

fn license_rules(policy: &Policy, facts: &Facts, judge: &mut Judge) {
    let license = &facts.license;
    let rules = &policy.license;
    let evidence = license.evidence.clone();
    if !license.conflicts.is_empty() {
        judge.add(
            "license.conflict",
            rules.conflicts,
            Reviewer::Legal,
            "the license sources disagree; legal must decide which terms apply".to_string(),
            license.conflicts.clone(),
        );
    }
    let Some(id) = license.id.as_deref() else {
        judge.add(
            "license.unknown",
            rules.unknown,
            Reviewer::Legal,
            "no license could be identified from the card, license files or metadata; ask the publisher, or have legal read the terms".to_string(),
            evidence,
        );
        return;
    };
    let name = license.name.as_deref().unwrap_or(id);
    if listed(&rules.denied, id) {
        judge.add(
            "license.denied",
            Action::Reject,
            Reviewer::Legal,
            format!("{name} ({id}) is on the policy's denied list"),
            evidence,
        );
        return;
    }
    if policy.usage.commercial && license.commercial == Some(Commercial::No) {
        judge.add(
            "license.non-commercial",
            Action::Reject,
            Reviewer::Legal,
            format!("{name} forbids commercial use, and the policy declares commercial use"),
            evidence,
        );
        return;
    }
    if let Some(limit) = license.monthly_active_users_limit
        && policy.usage.monthly_active_users >= limit
    {
        judge.add(
                "license.user-threshold",
                Action::Reject,
                Reviewer::Legal,
                format!(
                    "{name} requires a separate license from the licensor at {limit} monthly active users; the policy declares {}",
                    policy.usage.monthly_active_users
                ),
                evidence.clone(),
            );
        return;
    }
    if listed(&rules.allowed, id) {
        judge.add(
            "license.allowed",
            Action::Allow,
            Reviewer::Legal,
            format!("{name} ({id}) is on the policy's allowed list"),
            evidence,
        );
        return;
    }
    if policy.usage.commercial && license.commercial == Some(Commercial::Conditional) {
        let mut message = format!(
            "{name} allows commercial use only under conditions; legal must confirm they are met"
        );
        if let Some(limit) = license.monthly_active_users_limit {
            message.push_str(&format!(
                " (threshold: {limit} monthly active users; the policy declares {})",
                policy.usage.monthly_active_users
            ));
        }
        let mut evidence = evidence;
        evidence.extend(license.duties.iter().cloned());
        judge.add(
            "license.conditional-commercial",
            rules.conditional_commercial,
            Reviewer::Legal,
            message,
            evidence,
        );
        return;
    }
    let mut evidence = evidence;
    evidence.extend(license.duties.iter().cloned());
    judge.add(
        "license.other",
        rules.other,
        Reviewer::Legal,
        format!("{name} ({id}) is on neither the allowed nor the denied list; legal must review its terms"),
        evidence,
    );
}

fn scan_rules(policy: &Policy, facts: &Facts, judge: &mut Judge) {
    let at_or_above = |level: Severity| -> Vec<&ScanFinding> {
        facts
            .findings
            .iter()
            .filter(|f| f.severity >= level)
            .collect()
    };
    let describe = |findings: &[&ScanFinding]| -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{} {} in {}: {}", f.severity, f.rule, f.file, f.message))
            .collect()
    };
    let rejecting = at_or_above(policy.scan.reject_at);
    if !rejecting.is_empty() {
        judge.add(
            "scan.findings",
            Action::Reject,
            Reviewer::Security,
            format!(
                "{} security finding(s) at or above {}",
                rejecting.len(),
                policy.scan.reject_at
            ),
            describe(&rejecting),
        );
        return;
    }
    let reviewing = at_or_above(policy.scan.review_at);
    if !reviewing.is_empty() {
        judge.add(
            "scan.findings",
            Action::Review,
            Reviewer::Security,
            format!(
                "{} security finding(s) at or above {}; security must review them",
                reviewing.len(),
                policy.scan.review_at
            ),
            describe(&reviewing),
        );
        return;
    }
    judge.add(
        "scan.findings",
        Action::Allow,
        Reviewer::Security,
        format!("no security findings at or above {}", policy.scan.review_at),
        Vec::new(),
    );
}

fn format_rules(policy: &Policy, facts: &Facts, judge: &mut Judge) {
    if facts.pickle_files.is_empty() {
        return;
    }
    judge.add(
        "format.pickle",
        policy.formats.pickle,
        Reviewer::Security,
        format!(
            "{} file(s) use a pickle-based format, which can run code when loaded; prefer a safetensors or GGUF variant",
            facts.pickle_files.len()
        ),
        facts.pickle_files.clone(),
    );
}

fn card_rules(policy: &Policy, facts: &Facts, judge: &mut Judge) {
    let score = facts.card_score.unwrap_or(0);
    let action = if score < policy.card.min_score {
        policy.card.below_min
    } else {
        Action::Allow
    };
    let message = match facts.card_score {
        None => "there is no model card".to_string(),
        Some(score) => format!(
            "model card completeness {score}/100 (policy minimum {})",
            policy.card.min_score
        ),
    };
    judge.add(
        "card.score",
        action,
        Reviewer::Governance,
        message,
        Vec::new(),
    );
}

fn signature_rules(policy: &Policy, facts: &Facts, judge: &mut Judge) {
    match &facts.signature {
        SignatureStatus::Verified { signer } => judge.add(
            "signature.verified",
            Action::Allow,
            Reviewer::Security,
            format!("the model signature verifies with {signer}"),
            Vec::new(),
        ),
        SignatureStatus::Invalid { reason } => judge.add(
            "signature.invalid",
            Action::Reject,
            Reviewer::Security,
            "the model signature does not verify: the files are not what was signed".to_string(),
            vec![reason.clone()],
        ),
        SignatureStatus::Unchecked if policy.signature.required => judge.add(
            "signature.untrusted",
            Action::Reject,
            Reviewer::Security,
            "a signature is required, but no trusted key is configured to verify it (signature.trusted_keys)".to_string(),
            Vec::new(),
        ),
        SignatureStatus::Unsigned if policy.signature.required => judge.add(
            "signature.missing",
            Action::Reject,
            Reviewer::Security,
            "the policy requires a signature (model.sig), and the model has none; sign it with `modelgate sign` or ask the publisher".to_string(),
            Vec::new(),
        ),
        SignatureStatus::Unchecked | SignatureStatus::Unsigned => {}
    }
}

fn provenance_rules(policy: &Policy, facts: &Facts, judge: &mut Judge) {
    let trusted = &policy.provenance.trusted_publishers;
    match facts.publisher.as_deref() {
        None => {
            // With a list of trusted publishers, an unknown one is not on it.
            let mut action = policy.provenance.unknown_publisher;
            if !trusted.is_empty() {
                action = action.max(policy.provenance.untrusted);
            }
            if action != Action::Allow {
                judge.add(
                    "provenance.unknown-publisher",
                    action,
                    Reviewer::Security,
                    "the publisher could not be determined; pass --publisher or --source, or check where the files came from".to_string(),
                    Vec::new(),
                );
            }
        }
        Some(publisher) if !trusted.is_empty() => {
            if listed(trusted, publisher) {
                judge.add(
                    "provenance.trusted-publisher",
                    Action::Allow,
                    Reviewer::Security,
                    format!("{publisher} is a trusted publisher"),
                    Vec::new(),
                );
            } else {
                judge.add(
                    "provenance.untrusted-publisher",
                    policy.provenance.untrusted,
                    Reviewer::Security,
                    format!("{publisher} is not among the policy's trusted publishers"),
                    vec![format!("trusted: {}", trusted.join(", "))],
                );
            }
        }
        Some(_) => {}
    }
}

fn limit_rules(policy: &Policy, facts: &Facts, judge: &mut Judge) {
    let limits = &policy.limits;
    if let Some(parameters) = facts.parameters
        && limits.max_parameters > 0
        && parameters > limits.max_parameters
    {
        judge.add(
            "limits.parameters",
            Action::Reject,
            Reviewer::Governance,
            format!(
                "{parameters} parameters, above the policy's {}",
                limits.max_parameters
            ),
            Vec::new(),
        );
    }
    if let Some(memory) = facts.memory_bytes
        && limits.max_memory_bytes > 0
        && memory > limits.max_memory_bytes
    {
        judge.add(
            "limits.memory",
            Action::Reject,
            Reviewer::Governance,
            format!(
                "needs {memory} bytes of memory, above the policy's {}",
                limits.max_memory_bytes
            ),
            Vec::new(),
        );
    }
}

/// Every rule id [`judge`] can emit, for documentation and tests.
pub const RULES: &[&str] = &[
    "license.conflict",
    "license.unknown",
    "license.denied",
    "license.non-commercial",
    "license.user-threshold",
    "license.allowed",
    "license.conditional-commercial",
    "license.other",
    "scan.findings",
    "format.pickle",
    "card.score",
    "signature.verified",
    "signature.invalid",
    "signature.untrusted",
    "signature.missing",
    "provenance.unknown-publisher",
    "provenance.trusted-publisher",
    "provenance.untrusted-publisher",
    "limits.parameters",
    "limits.memory",
];
