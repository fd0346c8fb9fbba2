//! "Did you mean": table ids that look like an unknown name.

/// Longest name compared, in characters; longer names are cut (the
/// comparison is quadratic in length).
const MAX_COMPARED_CHARS: usize = 256;

/// How many suggestions an error lists.
const MAX_SUGGESTIONS: usize = 5;

/// The ids among `(id, model)` pairs closest to `query`: within an edit
/// distance of a third of its length (at least 2) of the id or the bare
/// model name, or containing the query; closest first.
pub(crate) fn close_names<'a>(
    query: &str,
    candidates: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let query: Vec<char> = query
        .to_lowercase()
        .chars()
        .take(MAX_COMPARED_CHARS)
        .collect();
    let query_text: String = query.iter().collect();
    let threshold = (query.len() / 3).max(2);
    let mut scored: Vec<(usize, String)> = Vec::new();
    for (id, model) in candidates {
        let id_lower = id.to_lowercase();
        let model_lower = model.to_lowercase();
        let distance = edit_distance(&query, &id_lower).min(edit_distance(&query, &model_lower));
        let contains = query.len() >= 3 && id_lower.contains(&query_text);
        if distance <= threshold || contains {
            scored.push((distance, id.to_owned()));
        }
    }
    scored.sort();
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, id)| id)
        .collect()
}

/// The text an unknown-model error ends with.
pub(crate) fn hint(close: &[String]) -> String {
    if close.is_empty() {
        "; give provider/model as listed in the price table, or add it to a price file".to_owned()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

/// Levenshtein distance between `a` and `b` (by characters, `b` cut to
/// [`MAX_COMPARED_CHARS`]).
fn edit_distance(a: &[char], b: &str) -> usize {
    let b: Vec<char> = b.chars().take(MAX_COMPARED_CHARS).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &a_char) in a.iter().enumerate() {
        if let Some(first) = current.first_mut() {
            *first = i + 1;
        }
        for (j, &b_char) in b.iter().enumerate() {
            let substitution =
                previous.get(j).copied().unwrap_or(usize::MAX) + usize::from(a_char != b_char);
            let deletion = previous
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insertion = current
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            if let Some(cell) = current.get_mut(j + 1) {
                *cell = substitution.min(deletion).min(insertion);
            }
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        edit_distance(&a.chars().collect::<Vec<_>>(), b)
    }

    #[test]
    fn edit_distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("gpt4o", "gpt-4o"), 1);
    }

    #[test]
    fn suggestions_are_closest_first() {
        let table = [
            ("openai/gpt-4o", "gpt-4o"),
            ("openai/gpt-4o-mini", "gpt-4o-mini"),
            ("google/gemini-2.5-pro", "gemini-2.5-pro"),
        ];
        let close = close_names("gpt4o", table.iter().copied());
        assert_eq!(close, ["openai/gpt-4o"]);
        let close = close_names("GPT-4", table.iter().copied());
        assert_eq!(close, ["openai/gpt-4o", "openai/gpt-4o-mini"]);
        assert!(close_names("llama", table.iter().copied()).is_empty());
    }
}
