//! PEM blocks (RFC 7468): `-----BEGIN LABEL-----`, base64, `-----END LABEL-----`.
//!
//! Key and certificate files may hold several blocks (an `EC PARAMETERS`
//! block before the key, a chain of certificates); text outside blocks is
//! ignored, as OpenSSL does.

use base64::Engine;

/// Most blocks read from one PEM text (a large CA bundle has a few hundred).
pub(crate) const MAX_PEM_BLOCKS: usize = 10_000;

/// One decoded block.
pub(crate) struct PemBlock {
    pub(crate) label: String,
    pub(crate) der: Vec<u8>,
}

/// Every block of `text`, in order. Fails on a block without its END line,
/// with headers (legacy encrypted PEM), or with invalid base64.
pub(crate) fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        if blocks.len() >= MAX_PEM_BLOCKS {
            return Err(format!("more than {MAX_PEM_BLOCKS} PEM blocks"));
        }
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                closed = true;
                break;
            }
            if line.contains(':') {
                return Err(format!(
                    "{label} block has headers (an encrypted legacy PEM key?); decrypt it first"
                ));
            }
            body.push_str(line);
        }
        if !closed {
            return Err(format!("{label} block has no END line"));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("{label} block is not valid base64: {e}"))?;
        blocks.push(PemBlock {
            label: label.to_string(),
            der,
        });
    }
    Ok(blocks)
}

/// PEM text of one DER value, as OpenSSL and Python's `cryptography` write
/// it: 64-character lines, `\n` line endings, a final newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
