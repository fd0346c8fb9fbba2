//! Placeholders and the originals behind them, and putting the originals
//! back into a reply, at once or chunk by chunk as it streams.

use std::collections::HashMap;

use crate::kind::Span;

/// A masked text, the findings it had, and the vault to restore them.
#[derive(Debug, Clone)]
pub struct Masked {
    /// The text with each finding replaced by its placeholder.
    pub text: String,
    /// The findings, in the original text's byte offsets.
    pub spans: Vec<Span>,
    /// The placeholders and their originals.
    pub vault: Vault,
}

/// The placeholders of one request and the values they stand for.
///
/// A placeholder is `[LABEL_N]`: the finding's [label](crate::Kind::label)
/// and a number counted per label from 1. The same value of the same kind
/// gets the same placeholder. A vault holds personal data: keep it for one
/// request and one caller, never share it across callers.
#[derive(Debug, Clone, Default)]
pub struct Vault {
    /// (label, original) → index into `entries`.
    by_original: HashMap<(String, String), usize>,
    /// placeholder → index into `entries`.
    by_placeholder: HashMap<String, usize>,
    /// (placeholder, original), in the order they were made.
    entries: Vec<(String, String)>,
    /// The last number given, per label.
    counters: HashMap<String, usize>,
    /// The longest placeholder, in bytes.
    max_placeholder_len: usize,
}

impl Vault {
    /// An empty vault.
    pub fn new() -> Vault {
        Vault::default()
    }

    /// The number of placeholders.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no placeholders.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The original value behind a placeholder (`"[EMAIL_1]"`).
    pub fn original(&self, placeholder: &str) -> Option<&str> {
        let &idx = self.by_placeholder.get(placeholder)?;
        self.entries.get(idx).map(|(_, original)| original.as_str())
    }

    /// Every (placeholder, original) pair, in the order they were made.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(p, o)| (p.as_str(), o.as_str()))
    }

    /// The placeholder of `original` as a `label`, made on first use.
    pub(crate) fn placeholder_for(&mut self, label: &str, original: &str) -> &str {
        let key = (label.to_owned(), original.to_owned());
        let idx = match self.by_original.get(&key) {
            Some(&idx) => idx,
            None => {
                let counter = self.counters.entry(label.to_owned()).or_insert(0);
                *counter += 1;
                let placeholder = format!("[{label}_{counter}]");
                let idx = self.entries.len();
                self.max_placeholder_len = self.max_placeholder_len.max(placeholder.len());
                self.by_placeholder.insert(placeholder.clone(), idx);
                self.entries.push((placeholder, key.1.clone()));
                self.by_original.insert(key, idx);
                idx
            }
        };
        self.entries.get(idx).map_or("", |(p, _)| p.as_str())
    }

    /// `text` with every placeholder of this vault replaced by its
    /// original. Placeholders must appear exactly as made (`[EMAIL_1]`);
    /// anything else, including placeholders of another vault, stays.
    pub fn restore(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        self.restore_into(text, &mut out);
        out
    }

    fn restore_into(&self, text: &str, out: &mut String) {
        if self.entries.is_empty() {
            out.push_str(text);
            return;
        }
        let bytes = text.as_bytes();
        let mut copied = 0;
        let mut pos = 0;
        while let Some(offset) = text.get(pos..).and_then(|rest| rest.find('[')) {
            let open = pos + offset;
            let run = placeholder_run(bytes, open + 1, self.max_placeholder_len);
            let close = open + 1 + run;
            let replacement = (bytes.get(close) == Some(&b']'))
                .then(|| text.get(open..=close))
                .flatten()
                .and_then(|token| self.original(token));
            match replacement {
                Some(original) => {
                    out.push_str(text.get(copied..open).unwrap_or(""));
                    out.push_str(original);
                    copied = close + 1;
                    pos = close + 1;
                }
                None => pos = open + 1,
            }
        }
        out.push_str(text.get(copied..).unwrap_or(""));
    }

    /// A restorer for a streamed reply that owns this vault.
    pub fn into_stream_restorer(self) -> StreamRestorer {
        StreamRestorer::new(self)
    }
}

/// The number of placeholder-label bytes (`A`–`Z`, `0`–`9`, `_`) from
/// `from`, counting no further than `max`.
fn placeholder_run(bytes: &[u8], from: usize, max: usize) -> usize {
    bytes.get(from..).map_or(0, |rest| {
        rest.iter()
            .take(max)
            .take_while(|&&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            .count()
    })
}

/// Restores placeholders in a reply that arrives in chunks (a streamed
/// completion), where a placeholder may be split across chunks.
///
/// [`push`](StreamRestorer::push) returns the restored text that is safe
/// to send now, holding back a trailing `[` and what follows it while that
/// could still become one of the vault's placeholders;
/// [`finish`](StreamRestorer::finish) returns the rest. The concatenated
/// output equals [`Vault::restore`] of the concatenated input.
#[derive(Debug, Clone)]
pub struct StreamRestorer {
    vault: Vault,
    pending: String,
}

impl StreamRestorer {
    /// A restorer for the placeholders of `vault`.
    pub fn new(vault: Vault) -> StreamRestorer {
        StreamRestorer {
            vault,
            pending: String::new(),
        }
    }

    /// The vault it restores from.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Take the next chunk; return what can be sent now, restored.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        let hold_from = self.hold_from();
        let mut out = String::with_capacity(hold_from);
        if let Some(ready) = self.pending.get(..hold_from) {
            self.vault.restore_into(ready, &mut out);
        }
        self.pending.drain(..hold_from);
        out
    }

    /// The end of the stream: what was held back, restored.
    pub fn finish(self) -> String {
        self.vault.restore(&self.pending)
    }

    /// Where the pending text must stop being sent: at the last `[` if
    /// everything after it is still the start of a possible placeholder.
    fn hold_from(&self) -> usize {
        let len = self.pending.len();
        if self.vault.is_empty() {
            return len;
        }
        let Some(open) = self.pending.rfind('[') else {
            return len;
        };
        let bytes = self.pending.as_bytes();
        let tail = len - open - 1;
        let could_continue =
            tail < self.vault.max_placeholder_len && placeholder_run(bytes, open + 1, tail) == tail;
        if could_continue { open } else { len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_placeholder_numbered_per_label() {
        let mut vault = Vault::new();
        assert_eq!(vault.placeholder_for("EMAIL", "a@example.com"), "[EMAIL_1]");
        assert_eq!(vault.placeholder_for("PHONE", "555-123-4567"), "[PHONE_1]");
        assert_eq!(vault.placeholder_for("EMAIL", "b@example.com"), "[EMAIL_2]");
        assert_eq!(vault.placeholder_for("EMAIL", "a@example.com"), "[EMAIL_1]");
        assert_eq!(vault.len(), 3);
        assert_eq!(vault.original("[EMAIL_2]"), Some("b@example.com"));
    }

    #[test]
    fn restore_replaces_known_placeholders_only() {
        let mut vault = Vault::new();
        vault.placeholder_for("EMAIL", "a@example.com");
        assert_eq!(
            vault.restore("to [EMAIL_1], not [EMAIL_2] or [[EMAIL_1]] or [email_1]"),
            "to a@example.com, not [EMAIL_2] or [a@example.com] or [email_1]"
        );
    }

    #[test]
    fn stream_holds_back_a_split_placeholder() {
        let mut vault = Vault::new();
        vault.placeholder_for("EMAIL", "a@example.com");
        let mut restorer = vault.into_stream_restorer();
        assert_eq!(restorer.push("Write to [EMA"), "Write to ");
        assert_eq!(restorer.push("IL_1"), "");
        assert_eq!(restorer.push("] now [x"), "a@example.com now [x");
        assert_eq!(restorer.push(" ["), " ");
        assert_eq!(restorer.finish(), "[");
    }
}
