//! Reviews of real cards: the Hugging Face template unfilled and filled
//! (`tests/data/card`, from `scripts/testdata/make_card.py`) and the
//! all-MiniLM-L6-v2 card from the fixtures (`scripts/fixtures.sh`).

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_testdata::fixtures;

use modelgate_card::{CardReview, review, review_optional};
use modelgate_hf::ModelCard;

fn data(name: &str) -> String {
    String::from_utf8(modelgate_testdata::read("card", name)).unwrap()
}

fn filled(review: &CardReview) -> Vec<&str> {
    review
        .checks
        .iter()
        .filter(|c| c.filled)
        .map(|c| c.key.as_str())
        .collect()
}

#[test]
fn unfilled_template_answers_nothing_and_counts_its_placeholders() {
    let review = review(&ModelCard::parse(&data("template_unfilled.md")));
    assert!(review.present);
    assert_eq!(filled(&review), Vec::<&str>::new());
    assert_eq!(review.score, 0);
    // Each unfilled field of the template renders as "[More Information Needed]".
    assert_eq!(review.n_placeholders, 40);
    let gap_keys: Vec<&str> = review.gaps.iter().map(|g| g.key.as_str()).collect();
    assert!(gap_keys.contains(&"placeholders"));
    let out_of_scope = review
        .gaps
        .iter()
        .find(|g| g.key == "out-of-scope-uses")
        .unwrap();
    assert!(
        out_of_scope
            .message
            .contains("\"Out-of-Scope Use\" is empty or a template placeholder"),
        "{}",
        out_of_scope.message
    );
}

#[test]
fn filled_template_answers_everything() {
    let review = review(&ModelCard::parse(&data("template_filled.md")));
    assert_eq!(review.score, 100, "{:#?}", review.gaps);
    // Optional fields left at their defaults are still placeholders.
    assert!(review.n_placeholders > 0);
    assert_eq!(review.metrics.len(), 1);
    let metric = &review.metrics[0];
    assert_eq!(
        (metric.metric_type.as_str(), metric.value.as_str()),
        ("acc_norm", "41.2")
    );
    assert_eq!(metric.dataset.as_deref(), Some("ARC Challenge"));
    assert_eq!(metric.task.as_deref(), Some("text-generation"));
    assert!(
        review
            .considerations
            .out_of_scope
            .as_deref()
            .unwrap()
            .contains("Medical, legal")
    );
    assert!(
        review
            .considerations
            .environmental
            .as_deref()
            .unwrap()
            .contains("9.6 kg")
    );
    let evaluation = review
        .checks
        .iter()
        .find(|c| c.key == "evaluation")
        .unwrap();
    assert_eq!(
        evaluation.found_in.as_deref(),
        Some("front matter: model-index")
    );
}

#[test]
fn minilm_card_names_its_gaps() {
    let text = std::fs::read_to_string(fixtures().join("minilm/README.md")).unwrap();
    let review = review(&ModelCard::parse(&text));
    assert_eq!(
        filled(&review),
        ["intended-uses", "training-data", "base-model", "languages"]
    );
    assert_eq!(review.score, 50);
    let gaps: Vec<&str> = review.gaps.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(
        gaps,
        [
            "out-of-scope-uses",
            "risks-and-limitations",
            "evaluation",
            "environmental-impact"
        ]
    );
    assert_eq!(review.n_placeholders, 0);
}

#[test]
fn no_card_scores_zero() {
    let review = review_optional(None);
    assert!(!review.present);
    assert_eq!(review.score, 0);
    assert_eq!(review.checks.len(), 8);
    assert_eq!(review.gaps[0].key, "card");
}

#[test]
fn broken_front_matter_is_a_gap_and_sections_still_count() {
    let review = review(&ModelCard::parse(
        "---\nlicense: [unclosed\n---\n# M\n## Out-of-scope use\nNever for surveillance of people.\n",
    ));
    assert!(review.front_matter_error.is_some());
    assert!(review.gaps.iter().any(|g| g.key == "front-matter"));
    assert_eq!(filled(&review), ["out-of-scope-uses"]);
}
