//! Reconciliation of every license source of a model into one answer.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::matcher::{MatchMethod, TextMatch, UnknownReason, identify};
use crate::resolve::{Declared, MAX_DECLARED_BYTES, Operator, resolve_declared, resolve_link};
use crate::terms::{Terms, TermsKind, lookup};

/// Most sources one call to [`crate::analyse`] looks at; the rest are listed
/// in [`LicenseReport::unknown`] as not examined.
pub const MAX_SOURCES: usize = 256;

/// Most bytes of text compared across all sources of one call (each text is
/// also capped at [`crate::MAX_TEXT_BYTES`]); texts past it are listed in
/// [`LicenseReport::unknown`] as not examined.
pub const MAX_TOTAL_TEXT_BYTES: usize = 8 * 1024 * 1024;

/// A declared value longer than this, or spanning lines, is compared as a
/// text (GGUF files often carry the full license in `general.license`).
const TEXT_MIN_BYTES: usize = 200;

/// Longest excerpt of a source's value kept in a report.
const EXCERPT_CHARS: usize = 80;

/// Where a license statement was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// `license:` in the model card's front matter.
    CardLicense,
    /// `license_name:` in the model card's front matter.
    CardLicenseName,
    /// `license_link:` in the model card's front matter.
    CardLicenseLink,
    /// A license file (`LICENSE`, `LICENSE.md`, `LICENSE-MODEL`): its text.
    LicenseFile,
    /// A `NOTICE` file: its text.
    NoticeFile,
    /// A use-policy file (`USE_POLICY.md`): its text.
    UsePolicyFile,
    /// A GGUF metadata value (`general.license`, `general.license.name`,
    /// `general.license.link`).
    GgufMetadata,
    /// A license string in a safetensors header's `__metadata__`.
    SafetensorsMetadata,
    /// An operator's explicit statement (a command-line flag).
    Flag,
}

/// One license statement to reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseSource {
    /// What kind of source it is.
    pub kind: SourceKind,
    /// Where it is, for people: `README.md: license`, `LICENSE`,
    /// `model.gguf: general.license`.
    pub location: String,
    /// What it says: an identifier, a name, a link, or a full text.
    pub value: String,
}

/// How a source was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// From a declared identifier, name, expression or link.
    Declared,
    /// From the wording of a text.
    Text,
}

/// What part a source plays in the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceRole {
    /// It names a license (or an expression of licenses).
    License,
    /// It is a use policy attached to a license, not a competing license.
    UsePolicy,
    /// A placeholder such as `other` or `unknown`, deferring to other fields.
    Placeholder,
    /// A link or path to a license file: the file's text decides.
    FileReference,
    /// A notice file that is not a license text: informative only.
    Notice,
    /// Nothing could be identified (also listed in [`LicenseReport::unknown`]).
    Unidentified,
}

/// The result for one source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceResult {
    /// The source's kind.
    pub kind: SourceKind,
    /// The source's location.
    pub location: String,
    /// What it declared, shortened to one line of at most 80 characters.
    pub declared: String,
    /// The id it resolved to (a license or use policy).
    pub resolved: Option<String>,
    /// The expression it resolved to, in our ids (`apache-2.0 OR mit`).
    pub expression: Option<String>,
    /// How it was resolved.
    pub method: Method,
    /// Its part in the answer.
    pub role: SourceRole,
    /// For texts: the match score (see [`crate::TextMatch`]).
    pub score: Option<f64>,
    /// For texts: the margin over the runner-up.
    pub margin: Option<f64>,
    /// For texts: whole-text or embedded match.
    pub match_method: Option<MatchMethod>,
    /// For texts: the best candidate, also when not identified.
    pub candidate: Option<String>,
    /// For texts: use policies found inside the same text.
    pub also_contains: Vec<String>,
    /// Anything else worth saying.
    pub note: Option<String>,
}

/// Two sources that name different licenses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The source with lower precedence.
    pub location: String,
    /// What it resolved to.
    pub id: String,
    /// The source it disagrees with (the deciding one, when there is one).
    pub other_location: String,
    /// What that resolved to.
    pub other_id: String,
    /// One sentence, e.g. "README.md: license says apache-2.0 but LICENSE is
    /// the Llama 3.1 Community License Agreement".
    pub message: String,
}

/// A source that could not be identified.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnknownSource {
    /// The source's kind.
    pub kind: SourceKind,
    /// The source's location.
    pub location: String,
    /// What it declared, shortened.
    pub declared: String,
    /// The closest reference text, for texts.
    pub candidate: Option<String>,
    /// Its score.
    pub score: Option<f64>,
    /// Why it is unknown.
    pub reason: String,
}

/// A license expression that decided the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expression {
    /// `OR` (any one may be chosen) or `AND` (all apply).
    pub operator: Operator,
    /// The licenses, by our id.
    pub ids: Vec<String>,
}

/// The reconciled answer for one model; see [`crate::analyse`] for the rules.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LicenseReport {
    /// The license id, or the expression in our ids (`apache-2.0 OR mit`);
    /// `None` when nothing identifies a license or the sources conflict and
    /// no rule picks one.
    pub license: Option<String>,
    /// The terms of [`LicenseReport::license`] when it is a single license.
    pub terms: Option<Terms>,
    /// The expression, when the answer is one.
    pub expression: Option<Expression>,
    /// The location of the source that decided the answer.
    pub decided_by: Option<String>,
    /// Use policies found (policy files, or appended to a license text).
    pub use_policies: Vec<String>,
    /// Every source, in the order given.
    pub sources: Vec<SourceResult>,
    /// Sources that disagree.
    pub conflicts: Vec<Conflict>,
    /// Sources that could not be identified.
    pub unknown: Vec<UnknownSource>,
}

/// What a competing source resolved to: a set of ids and how they combine.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Resolution {
    ids: Vec<String>,
    operator: Option<Operator>,
}

impl Resolution {
    fn single(id: &str) -> Resolution {
        Resolution {
            ids: vec![id.to_owned()],
            operator: None,
        }
    }

    fn label(&self) -> String {
        match self.operator {
            None => self.ids.join(" "),
            Some(op) => {
                let sep = match op {
                    Operator::Or => " OR ",
                    Operator::And => " AND ",
                };
                self.ids.join(sep)
            }
        }
    }

    /// Do two resolutions agree? The same license, or one license that an
    /// expression contains.
    fn agrees(&self, other: &Resolution) -> bool {
        self == other || self.is_one_of(other) || other.is_one_of(self)
    }

    /// Is this one license that `expression` names?
    fn is_one_of(&self, expression: &Resolution) -> bool {
        match self.ids.as_slice() {
            [id] => expression.ids.contains(id),
            _ => false,
        }
    }
}

/// Precedence tiers, highest first.
fn tier(kind: SourceKind, method: Method) -> u8 {
    match (kind, method) {
        (SourceKind::Flag, _) => 0,
        (_, Method::Text) => 1,
        _ => 2,
    }
}

/// One examined source: its result, and what it resolved to when it names a
/// license (or an expression of licenses) and so competes for the answer.
struct Working {
    result: SourceResult,
    resolution: Option<Resolution>,
}

impl Working {
    fn new(result: SourceResult) -> Working {
        Working {
            result,
            resolution: None,
        }
    }

    fn tier(&self) -> u8 {
        tier(self.result.kind, self.result.method)
    }
}

/// The texts of one [`crate::analyse`] call: how many bytes may still be
/// compared, and the match of every text compared so far, so that a text
/// given by several sources (the same license in every GGUF shard) is
/// identified once.
struct Texts<'a> {
    budget: usize,
    matched: HashMap<&'a str, TextMatch>,
}

/// Reconcile `sources`; see [`crate::analyse`].
pub(crate) fn analyse_sources(sources: &[LicenseSource]) -> LicenseReport {
    let mut unknown = Vec::new();
    let mut working: Vec<Working> = Vec::new();
    let mut texts = Texts {
        budget: MAX_TOTAL_TEXT_BYTES,
        matched: HashMap::new(),
    };
    for (idx, source) in sources.iter().enumerate() {
        if idx >= MAX_SOURCES {
            unknown.push(UnknownSource {
                kind: source.kind,
                location: source.location.clone(),
                declared: excerpt(&source.value),
                candidate: None,
                score: None,
                reason: format!("not examined: more than {MAX_SOURCES} sources"),
            });
            continue;
        }
        let item = examine(source, &mut texts);
        if item.result.role == SourceRole::Unidentified {
            unknown.push(UnknownSource {
                kind: source.kind,
                location: source.location.clone(),
                declared: item.result.declared.clone(),
                candidate: item.result.candidate.clone(),
                score: item.result.score,
                reason: item
                    .result
                    .note
                    .clone()
                    .unwrap_or_else(|| "not a known license".to_owned()),
            });
        }
        working.push(item);
    }

    let (winner_idx, decided) = decide(&working);
    let mut conflicts = Vec::new();
    let competing: Vec<(&Working, &Resolution)> = working
        .iter()
        .filter_map(|w| Some((w, w.resolution.as_ref()?)))
        .collect();
    match winner_idx.and_then(|idx| working.get(idx)) {
        Some(winner) => {
            if let Some(decided) = &winner.resolution {
                for (other, resolution) in &competing {
                    if !std::ptr::eq(*other, winner) && !resolution.agrees(decided) {
                        conflicts.push(conflict(other, winner));
                    }
                }
            }
        }
        None => {
            // No winner: report each distinct disagreement once. Labels are
            // made once and pairs remembered in a set, so that many sources
            // cost their pairs and no more.
            let labels: Vec<String> = competing.iter().map(|(_, r)| r.label()).collect();
            let mut reported: HashSet<(&str, &str)> = HashSet::new();
            for (a_idx, ((a, ra), a_label)) in competing.iter().zip(&labels).enumerate() {
                for ((b, rb), b_label) in competing.iter().zip(&labels).skip(a_idx + 1) {
                    let pair = if a_label <= b_label {
                        (a_label.as_str(), b_label.as_str())
                    } else {
                        (b_label.as_str(), a_label.as_str())
                    };
                    if !ra.agrees(rb) && reported.insert(pair) {
                        let (low, high) = if b.tier() > a.tier() {
                            (*b, *a)
                        } else {
                            (*a, *b)
                        };
                        conflicts.push(conflict(low, high));
                    }
                }
            }
        }
    }

    // Use policies: attached to a license, never competing with it.
    let mut use_policies: Vec<String> = Vec::new();
    let winner_ids: Vec<String> = decided.as_ref().map(|r| r.ids.clone()).unwrap_or_default();
    for item in &working {
        let mut found: Vec<&str> = item
            .result
            .also_contains
            .iter()
            .map(String::as_str)
            .collect();
        if item.result.role == SourceRole::UsePolicy
            && let Some(id) = &item.result.resolved
        {
            found.push(id);
        }
        for policy_id in found {
            if !use_policies.iter().any(|p| p == policy_id) {
                use_policies.push(policy_id.to_owned());
            }
            let Some(policy) = lookup(policy_id) else {
                continue;
            };
            if let Some(applies_to) = &policy.applies_to
                && !winner_ids.is_empty()
                && !winner_ids.contains(applies_to)
            {
                let license = winner_ids.join(", ");
                conflicts.push(Conflict {
                    location: item.result.location.clone(),
                    id: policy_id.to_owned(),
                    other_location: winner_idx
                        .and_then(|idx| working.get(idx))
                        .map(|w| w.result.location.clone())
                        .unwrap_or_default(),
                    other_id: license.clone(),
                    message: format!(
                        "{} holds the {}, which belongs to {applies_to}, but the license is {license}",
                        item.result.location, policy.name
                    ),
                });
            }
        }
    }

    let winner = winner_idx.and_then(|idx| working.get(idx));
    let license = decided.as_ref().map(Resolution::label);
    let terms = decided
        .as_ref()
        .filter(|r| r.ids.len() == 1)
        .and_then(|r| r.ids.first())
        .and_then(|id| lookup(id))
        .cloned();
    let expression = decided.as_ref().and_then(|r| {
        r.operator.map(|operator| Expression {
            operator,
            ids: r.ids.clone(),
        })
    });
    LicenseReport {
        license,
        terms,
        expression,
        decided_by: winner.map(|w| w.result.location.clone()),
        use_policies,
        sources: working.into_iter().map(|w| w.result).collect(),
        conflicts,
        unknown,
    }
}

/// Pick the deciding source: the highest tier that has competing sources;
/// if they all agree, its first source; if not, the one a lower-tier source
/// corroborates, when exactly one is; else none.
fn decide(working: &[Working]) -> (Option<usize>, Option<Resolution>) {
    let Some(top) = working
        .iter()
        .filter(|w| w.resolution.is_some())
        .map(Working::tier)
        .min()
    else {
        return (None, None);
    };
    let candidates: Vec<(usize, &Resolution)> = working
        .iter()
        .enumerate()
        .filter(|(_, w)| w.tier() == top)
        .filter_map(|(idx, w)| Some((idx, w.resolution.as_ref()?)))
        .collect();
    let Some(&(first_idx, first)) = candidates.first() else {
        return (None, None);
    };
    if candidates.iter().all(|(_, r)| r.agrees(first)) {
        // Prefer the most specific of agreeing resolutions: a single license
        // over an expression that contains it.
        let (pick, resolution) = candidates
            .iter()
            .find(|(_, r)| r.operator.is_none())
            .copied()
            .unwrap_or((first_idx, first));
        return (Some(pick), Some(resolution.clone()));
    }
    let corroborated: Vec<(usize, &Resolution)> = candidates
        .iter()
        .copied()
        .filter(|(_, r)| {
            working
                .iter()
                .filter(|w| w.tier() > top)
                .any(|w| w.resolution.as_ref().is_some_and(|lower| lower.agrees(r)))
        })
        .collect();
    match corroborated.as_slice() {
        [(pick, resolution), rest @ ..] if rest.iter().all(|(_, r)| r == resolution) => {
            (Some(*pick), Some((*resolution).clone()))
        }
        _ => (None, None),
    }
}

fn conflict(low: &Working, high: &Working) -> Conflict {
    let label = |w: &Working| {
        w.resolution
            .as_ref()
            .map(Resolution::label)
            .unwrap_or_default()
    };
    Conflict {
        location: low.result.location.clone(),
        id: label(low),
        other_location: high.result.location.clone(),
        other_id: label(high),
        message: format!("{} but {}", describe(low), describe(high)),
    }
}

fn describe(item: &Working) -> String {
    let label = item
        .resolution
        .as_ref()
        .map(Resolution::label)
        .unwrap_or_default();
    match item.result.method {
        Method::Text => {
            let name = lookup(&label).map_or(label.clone(), |terms| terms.name.clone());
            format!("{} is the {name}", item.result.location)
        }
        Method::Declared => format!("{} says {label}", item.result.location),
    }
}

/// Resolve one source.
fn examine<'a>(source: &'a LicenseSource, texts: &mut Texts<'a>) -> Working {
    let value = source.value.trim();
    let is_text_kind = matches!(
        source.kind,
        SourceKind::LicenseFile | SourceKind::NoticeFile | SourceKind::UsePolicyFile
    );
    let looks_like_text =
        value.len() > TEXT_MIN_BYTES.min(MAX_DECLARED_BYTES) || value.contains('\n');
    let result = SourceResult {
        kind: source.kind,
        location: source.location.clone(),
        declared: excerpt(value),
        resolved: None,
        expression: None,
        method: Method::Declared,
        role: SourceRole::Unidentified,
        score: None,
        margin: None,
        match_method: None,
        candidate: None,
        also_contains: Vec::new(),
        note: None,
    };
    if is_text_kind && !looks_like_text {
        // A one-line license file ("MIT", "Apache-2.0"): an identifier.
        let declared = resolve_declared(value);
        if let Declared::License(_) | Declared::Expression(..) = declared {
            return declared_as(result, declared);
        }
    }
    if is_text_kind || looks_like_text {
        return text(result, value, texts);
    }
    if value.is_empty() {
        let mut item = Working::new(result);
        item.result.role = SourceRole::Placeholder;
        item.result.note = Some("empty".to_owned());
        return item;
    }
    if source.kind == SourceKind::CardLicenseLink {
        let mut item = declared_as(result, resolve_link(value));
        if item.result.role == SourceRole::Unidentified {
            item.result.note = Some("a link that is not a known license page".to_owned());
        }
        return item;
    }
    declared_as(result, resolve_declared(value))
}

/// A source resolved from its declared value.
fn declared_as(result: SourceResult, declared: Declared) -> Working {
    let mut item = Working::new(result);
    let result = &mut item.result;
    result.method = Method::Declared;
    match declared {
        Declared::License(terms) => {
            result.resolved = Some(terms.id.clone());
            result.role = role_of(terms);
            if result.role == SourceRole::License {
                item.resolution = Some(Resolution::single(&terms.id));
            }
        }
        Declared::Expression(operator, all) => {
            let resolution = Resolution {
                ids: all.iter().map(|t| t.id.clone()).collect(),
                operator: Some(operator),
            };
            result.expression = Some(resolution.label());
            result.role = SourceRole::License;
            item.resolution = Some(resolution);
        }
        Declared::Placeholder => {
            result.role = SourceRole::Placeholder;
            result.note =
                Some("a placeholder that names no license; other fields decide".to_owned());
        }
        Declared::FileLink => {
            result.role = SourceRole::FileReference;
            result.note = Some("points at a license file; the file's text decides".to_owned());
        }
        Declared::Unknown => {
            result.role = SourceRole::Unidentified;
            result.note = Some("not a known license identifier or name".to_owned());
        }
    }
    item
}

fn role_of(terms: &Terms) -> SourceRole {
    match terms.kind {
        TermsKind::License => SourceRole::License,
        TermsKind::UsePolicy => SourceRole::UsePolicy,
    }
}

/// A source resolved from its text. A text already compared in this call is
/// not compared again, nor charged to the budget again.
fn text<'a>(result: SourceResult, value: &'a str, texts: &mut Texts<'a>) -> Working {
    let mut item = Working::new(result);
    let result = &mut item.result;
    result.method = Method::Text;
    let found: &TextMatch = match texts.matched.entry(value) {
        Entry::Occupied(seen) => seen.into_mut(),
        Entry::Vacant(new) => {
            let cost = value.len().min(crate::MAX_TEXT_BYTES);
            let Some(budget_left) = texts.budget.checked_sub(cost) else {
                result.role = SourceRole::Unidentified;
                result.note = Some(format!(
                    "not examined: more than {MAX_TOTAL_TEXT_BYTES} bytes of text in all"
                ));
                return item;
            };
            texts.budget = budget_left;
            new.insert(identify(value))
        }
    };
    result.score = Some(found.score);
    result.margin = Some(found.margin);
    result.match_method = Some(found.method);
    result.candidate = found.candidate.clone();
    result.also_contains = found.also_contains.clone();
    match found.id.as_deref().and_then(lookup) {
        Some(terms) => {
            result.resolved = Some(terms.id.clone());
            result.role = role_of(terms);
            if result.role == SourceRole::License {
                item.resolution = Some(Resolution::single(&terms.id));
            }
            if found.truncated {
                result.note = Some(format!(
                    "compared the first {} bytes",
                    crate::MAX_TEXT_BYTES
                ));
            }
        }
        None if result.kind == SourceKind::NoticeFile => {
            result.role = SourceRole::Notice;
            result.note = Some("a notice, not a license text".to_owned());
        }
        None => {
            result.role = SourceRole::Unidentified;
            result.note = Some(unknown_note(found));
        }
    }
    item
}

fn unknown_note(found: &TextMatch) -> String {
    let candidate = found.candidate.as_deref().unwrap_or("none");
    match found.unknown_reason {
        Some(UnknownReason::Empty) => "no words to compare".to_owned(),
        Some(UnknownReason::Ambiguous) => format!(
            "between {candidate} and {} (margin {:.2}): the text lacks the words that tell them apart",
            found.runner_up.as_deref().unwrap_or("another license"),
            found.margin
        ),
        Some(UnknownReason::KeyPhraseMissing) => format!(
            "close to {candidate} (score {:.2}) but without its version or vendor words: a relative without a reference text",
            found.score
        ),
        Some(UnknownReason::AddedRestriction) => format!(
            "close to {candidate} (score {:.2}) but adds restrictions it lacks: {}",
            found.score,
            found.added_restrictions.join(", ")
        ),
        Some(UnknownReason::SeveralLicenses) => format!(
            "holds several license texts ({candidate} and {})",
            found.runner_up.as_deref().unwrap_or("another")
        ),
        _ => format!(
            "no reference text matches (closest: {candidate}, score {:.2} below {})",
            found.score,
            crate::SCORE_THRESHOLD
        ),
    }
}

/// The first line of `value`, cut to [`EXCERPT_CHARS`] characters.
fn excerpt(value: &str) -> String {
    let line = value.trim().lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(EXCERPT_CHARS).collect();
    if out.len() < line.len() || value.trim().lines().nth(1).is_some() {
        out.push('…');
    }
    out
}
