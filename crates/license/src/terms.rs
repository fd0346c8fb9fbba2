//! The knowledge base: what each license allows and requires, as data.
//!
//! `data/terms.toml` holds one table per license id; this module parses it
//! once and hands out `&'static Terms`. The reference texts that identify a
//! license by its wording are listed here too, embedded with `include_str!`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// Broad kind of a license, for policies that allow or deny whole groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Family {
    /// Permissive open-source licenses (Apache-2.0, MIT, BSD, CC-BY).
    Permissive,
    /// Licenses whose derivatives must carry the same license (GPL, CC-BY-SA).
    Copyleft,
    /// Any use allowed except commercial use (CC-BY-NC and its variants).
    NonCommercial,
    /// Open responsible-AI licenses (OpenRAIL): open grant plus use-based
    /// restrictions that must be passed down.
    ResponsibleAi,
    /// A model vendor's own community license (Llama, Gemma, Qwen, DeepSeek,
    /// Falcon): broad grant with vendor-specific conditions.
    VendorCommunity,
    /// Research or evaluation only.
    ResearchOnly,
}

/// Whether a license allows commercial use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Commercial {
    /// Allowed, subject only to the license's general conditions.
    Yes,
    /// Not allowed.
    No,
    /// Allowed below a threshold or under an extra condition (for example
    /// [`Terms::monthly_active_users_limit`]); above it a separate license is
    /// needed.
    Conditional,
}

/// What a knowledge-base entry describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TermsKind {
    /// A license: the grant under which a model is used.
    License,
    /// An acceptable-use or prohibited-use policy attached to a license
    /// (see [`Terms::applies_to`]); never a competing license.
    UsePolicy,
}

/// An acceptable-use policy a license incorporates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptableUsePolicy {
    /// The policy's name.
    pub name: String,
    /// Where the policy is published.
    pub url: String,
    /// Whether downstream users and derivative licenses must be bound by it.
    pub pass_down: bool,
    /// The knowledge-base id of the policy's text, when it has one.
    #[serde(default)]
    pub id: Option<String>,
}

/// A clause that justifies one field of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The field this clause justifies (e.g. `monthly_active_users_limit`).
    pub field: String,
    /// The clause, quoted. Without [`Evidence::source`] it is a verbatim
    /// extract of the entry's reference text (tests check that it is).
    pub quote: String,
    /// Where the quote comes from when it is not the entry's reference text
    /// (a use policy, the license's web page).
    #[serde(default)]
    pub source: Option<String>,
}

/// The terms of one license or use policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// Our id: the Hugging Face Hub license identifier where the Hub has one
    /// (`apache-2.0`, `llama3.1`, `gemma`), else the `license_name` that
    /// publishers use with `license: other` (`qwen`, `deepseek`).
    #[serde(default)]
    pub id: String,
    /// The license's full name.
    pub name: String,
    /// The SPDX License List identifier, when the license is on the list.
    #[serde(default)]
    pub spdx: Option<String>,
    /// License or use policy.
    pub kind: TermsKind,
    /// Broad kind of license.
    pub family: Family,
    /// Whether commercial use is allowed.
    pub commercial: Commercial,
    /// Monthly active users above which a separate license is needed.
    #[serde(default)]
    pub monthly_active_users_limit: Option<u64>,
    /// Attribution and notice duties when redistributing, one per item.
    #[serde(default)]
    pub attribution: Vec<String>,
    /// Rules for naming derivative models.
    #[serde(default)]
    pub derivative_naming: Option<String>,
    /// The acceptable-use policy the license incorporates.
    #[serde(default)]
    pub acceptable_use_policy: Option<AcceptableUsePolicy>,
    /// Use-based restrictions that bind every user (OpenRAIL Attachment A, a
    /// prohibited-use policy), summarised.
    #[serde(default)]
    pub use_restrictions: Option<String>,
    /// Whether the use restrictions must be written into the license of
    /// every derivative and passed to downstream users.
    #[serde(default)]
    pub use_restrictions_pass_down: bool,
    /// The licensor's right to restrict use remotely.
    #[serde(default)]
    pub remote_restriction: Option<String>,
    /// Places or persons to whom (some) rights are not granted.
    #[serde(default)]
    pub territorial_exclusions: Vec<String>,
    /// Restrictions on using the model's outputs.
    #[serde(default)]
    pub output_restrictions: Option<String>,
    /// Whether derivatives must be shared under the same license.
    #[serde(default)]
    pub share_alike: bool,
    /// Whether use is limited to research (or evaluation).
    #[serde(default)]
    pub research_only: bool,
    /// For a use policy: the license id it is attached to.
    #[serde(default)]
    pub applies_to: Option<String>,
    /// Where the license is published.
    pub source_url: String,
    /// One line a person can read.
    pub summary: String,
    /// The ScanCode license key of the embedded reference text, if any.
    #[serde(default)]
    pub scancode_key: Option<String>,
    /// Whether a reference text is embedded, so that the license can be
    /// identified from its wording (set from the embedded list).
    #[serde(default)]
    pub has_reference_text: bool,
    /// Other names and identifiers that declare this license (matched
    /// case-insensitively, ignoring punctuation and filler words).
    #[serde(default, skip_serializing)]
    pub aliases: Vec<String>,
    /// Web addresses of this license (a `license_link` to one of them
    /// declares it).
    #[serde(default, skip_serializing)]
    pub urls: Vec<String>,
    /// Phrases of which at least one must occur in a text for it to be
    /// identified as this license: the version or vendor words that set it
    /// apart from near-identical licenses, including ones that have no
    /// reference text (the Llama 3.2 use policy against the Llama 4 one).
    #[serde(default, skip_serializing)]
    pub key_phrases: Vec<String>,
    /// The clauses that justify the fields above.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

impl Terms {
    /// Every duty a user or redistributor takes on, as sentences: attribution
    /// and notices, naming, policies to pass down, share-alike, research-only
    /// use, user limits and territorial exclusions.
    pub fn duties(&self) -> Vec<String> {
        let mut duties = self.attribution.clone();
        if let Some(naming) = &self.derivative_naming {
            duties.push(naming.clone());
        }
        if let Some(policy) = &self.acceptable_use_policy {
            let pass = if policy.pass_down {
                " and bind downstream users to it"
            } else {
                ""
            };
            duties.push(format!(
                "Comply with the {} ({}){pass}",
                policy.name, policy.url
            ));
        }
        if let Some(restrictions) = &self.use_restrictions {
            duties.push(restrictions.clone());
            if self.use_restrictions_pass_down {
                duties.push(
                    "Include the use-based restrictions as an enforceable provision in any license of a derivative and give notice of them to downstream users"
                        .to_owned(),
                );
            }
        }
        if let Some(output) = &self.output_restrictions {
            duties.push(output.clone());
        }
        if let Some(limit) = self.monthly_active_users_limit {
            duties.push(format!(
                "Request a separate license if the products or services have more than {limit} monthly active users"
            ));
        }
        duties.extend(self.territorial_exclusions.iter().cloned());
        if self.share_alike {
            duties.push("Share derivatives under the same license".to_owned());
        }
        if self.research_only {
            duties.push("Use for research only".to_owned());
        }
        if self.commercial == Commercial::No && !self.research_only {
            duties.push("No commercial use".to_owned());
        }
        duties
    }
}

/// The reference texts, by id, from `data/texts/` (ScanCode license data,
/// CC-BY-4.0; see `data/ATTRIBUTION.md`), which `scripts/licenses/extract.py`
/// writes for every entry with a `scancode_key` (tests check that the two
/// lists agree).
pub(crate) static TEXTS: &[(&str, &str)] = &[
    ("apache-2.0", include_str!("../data/texts/apache-2.0.txt")),
    ("mit", include_str!("../data/texts/mit.txt")),
    (
        "bsd-2-clause",
        include_str!("../data/texts/bsd-2-clause.txt"),
    ),
    (
        "bsd-3-clause",
        include_str!("../data/texts/bsd-3-clause.txt"),
    ),
    ("gpl-3.0", include_str!("../data/texts/gpl-3.0.txt")),
    ("cc-by-4.0", include_str!("../data/texts/cc-by-4.0.txt")),
    (
        "cc-by-sa-4.0",
        include_str!("../data/texts/cc-by-sa-4.0.txt"),
    ),
    (
        "cc-by-nc-4.0",
        include_str!("../data/texts/cc-by-nc-4.0.txt"),
    ),
    (
        "cc-by-nc-sa-4.0",
        include_str!("../data/texts/cc-by-nc-sa-4.0.txt"),
    ),
    ("llama1", include_str!("../data/texts/llama1.txt")),
    ("llama2", include_str!("../data/texts/llama2.txt")),
    ("llama3.1", include_str!("../data/texts/llama3.1.txt")),
    ("llama3.2", include_str!("../data/texts/llama3.2.txt")),
    ("llama3.3", include_str!("../data/texts/llama3.3.txt")),
    ("llama4", include_str!("../data/texts/llama4.txt")),
    (
        "llama4-acceptable-use-policy",
        include_str!("../data/texts/llama4-acceptable-use-policy.txt"),
    ),
    ("gemma", include_str!("../data/texts/gemma.txt")),
    (
        "gemma-prohibited-use-policy",
        include_str!("../data/texts/gemma-prohibited-use-policy.txt"),
    ),
    ("qwen", include_str!("../data/texts/qwen.txt")),
    (
        "tongyi-qianwen",
        include_str!("../data/texts/tongyi-qianwen.txt"),
    ),
    ("deepseek", include_str!("../data/texts/deepseek.txt")),
    (
        "falcon2-11b-license",
        include_str!("../data/texts/falcon2-11b-license.txt"),
    ),
    (
        "bigscience-openrail-m",
        include_str!("../data/texts/bigscience-openrail-m.txt"),
    ),
    (
        "bigscience-bloom-rail-1.0",
        include_str!("../data/texts/bigscience-bloom-rail-1.0.txt"),
    ),
    (
        "creativeml-openrail-m",
        include_str!("../data/texts/creativeml-openrail-m.txt"),
    ),
    ("openrail++", include_str!("../data/texts/openrail++.txt")),
    (
        "bigcode-openrail-m",
        include_str!("../data/texts/bigcode-openrail-m.txt"),
    ),
];

/// The knowledge base's source.
pub(crate) const TERMS_TOML: &str = include_str!("../data/terms.toml");

/// Parse the knowledge base. Fails only if `data/terms.toml` is malformed,
/// which the crate's tests rule out.
pub(crate) fn parse_terms(source: &str) -> Result<Vec<Terms>, String> {
    let tables: BTreeMap<String, Terms> = toml::from_str(source).map_err(|err| err.to_string())?;
    Ok(tables
        .into_iter()
        .map(|(id, mut terms)| {
            terms.has_reference_text = TEXTS.iter().any(|(text_id, _)| *text_id == id);
            terms.id = id;
            terms
        })
        .collect())
}

/// Every entry, sorted by id. Empty only if `data/terms.toml` is malformed.
pub(crate) static KNOWLEDGE_BASE: LazyLock<Vec<Terms>> =
    LazyLock::new(|| parse_terms(TERMS_TOML).unwrap_or_default());

/// The entry for `id` exactly (our ids are lower case).
pub(crate) fn lookup(id: &str) -> Option<&'static Terms> {
    KNOWLEDGE_BASE
        .binary_search_by(|terms| terms.id.as_str().cmp(id))
        .ok()
        .and_then(|idx| KNOWLEDGE_BASE.get(idx))
}

/// The reference text embedded for `id`.
pub(crate) fn reference_text(id: &str) -> Option<&'static str> {
    TEXTS
        .iter()
        .find(|(text_id, _)| *text_id == id)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::normalize::tokenize;
    use crate::resolve::{canonical, names_of};

    /// Documents that back evidence quotes from outside the reference texts.
    const OTHER_SOURCES: &[(&str, &str)] = &[
        (
            "https://github.com/meta-llama/llama-models/blob/main/models/llama3/LICENSE",
            include_str!("../tests/data/llama3-LICENSE.txt"),
        ),
        (
            "https://github.com/meta-llama/llama-models/blob/main/models/llama3_2/USE_POLICY.md",
            include_str!("../tests/data/llama3_2-USE_POLICY.md"),
        ),
    ];

    /// Sources quoted but not stored here, so not checked word for word.
    const UNCHECKED_SOURCES: &[&str] =
        &["https://huggingface.co/Qwen/Qwen2.5-3B-Instruct/blob/main/LICENSE"];

    const EVIDENCED_FIELDS: &[&str] = &[
        "commercial",
        "monthly_active_users_limit",
        "attribution",
        "derivative_naming",
        "acceptable_use_policy",
        "use_restrictions",
        "use_restrictions_pass_down",
        "remote_restriction",
        "territorial_exclusions",
        "output_restrictions",
        "share_alike",
        "research_only",
    ];

    fn words(text: &str) -> Vec<String> {
        tokenize(text, None).iter().map(str::to_owned).collect()
    }

    fn contains_words(haystack: &[String], needle: &[String]) -> bool {
        !needle.is_empty()
            && haystack
                .windows(needle.len())
                .any(|window| window == needle)
    }

    fn kb() -> &'static [Terms] {
        assert!(parse_terms(TERMS_TOML).is_ok());
        assert!(KNOWLEDGE_BASE.len() >= TEXTS.len());
        &KNOWLEDGE_BASE
    }

    fn has_evidence(terms: &Terms, fields: &[&str]) -> bool {
        terms
            .evidence
            .iter()
            .any(|e| fields.contains(&e.field.as_str()))
    }

    #[test]
    fn every_entry_has_the_required_fields() {
        for terms in kb() {
            let id = &terms.id;
            assert!(!terms.name.is_empty() && !terms.summary.is_empty(), "{id}");
            assert!(
                terms.source_url.starts_with("https://"),
                "{id}: {}",
                terms.source_url
            );
            assert!(!terms.evidence.is_empty(), "{id}: no evidence");
            assert_eq!(
                terms.scancode_key.is_some(),
                terms.has_reference_text,
                "{id}: scancode_key iff a text"
            );
            for evidence in &terms.evidence {
                assert!(
                    EVIDENCED_FIELDS.contains(&evidence.field.as_str()),
                    "{id}: {}",
                    evidence.field
                );
            }
        }
    }

    #[test]
    fn fields_are_consistent_and_justified() {
        for terms in kb() {
            let id = &terms.id;
            if matches!(terms.family, Family::NonCommercial | Family::ResearchOnly) {
                assert_eq!(terms.commercial, Commercial::No, "{id}");
                assert!(
                    has_evidence(terms, &["commercial", "research_only"]),
                    "{id}"
                );
            }
            if terms.research_only {
                assert!(has_evidence(terms, &["research_only"]), "{id}");
            }
            if let Some(limit) = terms.monthly_active_users_limit {
                assert_eq!(terms.commercial, Commercial::Conditional, "{id}");
                // The limit is the number the license text states.
                let millions = limit / 1_000_000;
                assert!(
                    terms
                        .evidence
                        .iter()
                        .any(|e| e.field == "monthly_active_users_limit"
                            && e.quote.contains(&format!("{millions} million"))),
                    "{id}: no clause states {millions} million users"
                );
            }
            if terms.kind == TermsKind::License && terms.commercial == Commercial::Conditional {
                assert!(
                    terms.monthly_active_users_limit.is_some(),
                    "{id}: conditional on what?"
                );
            }
            let checks: [(bool, &[&str]); 7] = [
                (terms.derivative_naming.is_some(), &["derivative_naming"]),
                (
                    !terms.territorial_exclusions.is_empty(),
                    &["territorial_exclusions"],
                ),
                (terms.remote_restriction.is_some(), &["remote_restriction"]),
                (
                    terms.use_restrictions_pass_down,
                    &["use_restrictions_pass_down"],
                ),
                (terms.share_alike, &["share_alike"]),
                (
                    terms.output_restrictions.is_some(),
                    &["output_restrictions", "derivative_naming"],
                ),
                (
                    terms.acceptable_use_policy.is_some(),
                    &["acceptable_use_policy", "use_restrictions_pass_down"],
                ),
            ];
            for (set, fields) in checks {
                assert!(
                    !set || has_evidence(terms, fields),
                    "{id}: no evidence for {fields:?}"
                );
            }
            match terms.kind {
                TermsKind::UsePolicy => {
                    let license = terms.applies_to.as_deref().and_then(lookup);
                    assert!(
                        license.is_some_and(|l| l.kind == TermsKind::License),
                        "{id}: applies_to"
                    );
                }
                TermsKind::License => assert_eq!(terms.applies_to, None, "{id}"),
            }
            if let Some(policy_id) = terms
                .acceptable_use_policy
                .as_ref()
                .and_then(|p| p.id.as_deref())
            {
                let policy = lookup(policy_id);
                assert!(
                    policy.is_some_and(|p| p.applies_to.as_deref() == Some(id.as_str())),
                    "{id}: {policy_id}"
                );
            }
        }
    }

    #[test]
    fn evidence_quotes_are_verbatim() {
        for terms in kb() {
            for evidence in &terms.evidence {
                let document = match evidence.source.as_deref() {
                    None => reference_text(&terms.id),
                    Some(source) if source.starts_with("text:") => {
                        source.strip_prefix("text:").and_then(reference_text)
                    }
                    Some(source) => {
                        if UNCHECKED_SOURCES.contains(&source) {
                            continue;
                        }
                        OTHER_SOURCES
                            .iter()
                            .find(|(url, _)| *url == source)
                            .map(|(_, text)| *text)
                    }
                };
                let Some(document) = document else {
                    panic!(
                        "{}: evidence for {} has no document to check against",
                        terms.id, evidence.field
                    );
                };
                assert!(
                    contains_words(&words(document), &words(&evidence.quote)),
                    "{}: {} quote is not in its source: {}",
                    terms.id,
                    evidence.field,
                    evidence.quote
                );
            }
        }
    }

    #[test]
    fn key_phrases_occur_in_their_texts() {
        for terms in kb() {
            if let Some(text) = reference_text(&terms.id) {
                let text = words(text);
                for phrase in &terms.key_phrases {
                    assert!(
                        contains_words(&text, &words(phrase)),
                        "{}: {phrase}",
                        terms.id
                    );
                }
            }
        }
    }

    #[test]
    fn names_and_aliases_do_not_collide() {
        let mut owners: HashMap<String, &str> = HashMap::new();
        for terms in kb() {
            for name in names_of(terms) {
                let key = canonical(&name);
                assert!(!key.is_empty(), "{}: {name}", terms.id);
                if let Some(other) = owners.insert(key.clone(), &terms.id) {
                    assert_eq!(
                        other, terms.id,
                        "{name} ({key}) names both {other} and {}",
                        terms.id
                    );
                }
            }
        }
    }

    #[test]
    fn attribution_lists_every_text() {
        let attribution = include_str!("../data/ATTRIBUTION.md");
        assert!(attribution.contains("CC-BY-4.0"));
        for (id, _) in TEXTS {
            let key = lookup(id)
                .and_then(|t| t.scancode_key.as_deref())
                .unwrap_or("missing");
            assert!(
                attribution.contains(&format!("| `texts/{id}.txt` | `{key}` |")),
                "{id}"
            );
        }
    }
}
