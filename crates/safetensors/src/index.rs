//! `*.safetensors.index.json`: which shard holds which tensor.

use crate::Error;

/// Largest index file accepted.
pub const MAX_INDEX_BYTES: usize = 256 * 1024 * 1024;

/// A sharded checkpoint's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIndex {
    /// `metadata.total_size`: bytes of tensor data over all shards.
    pub total_size: Option<u64>,
    /// Other `metadata` entries, rendered as strings.
    pub metadata: Vec<(String, String)>,
    /// Tensor name → shard file, in file order.
    pub weight_map: Vec<(String, String)>,
    /// Distinct shard files, sorted.
    pub shards: Vec<String>,
}

impl ShardIndex {
    /// Parse an index file.
    pub fn parse(bytes: &[u8]) -> Result<ShardIndex, Error> {
        let invalid = |message: String| Error::InvalidIndex { message };
        if bytes.len() > MAX_INDEX_BYTES {
            return Err(invalid(format!(
                "{} bytes is more than the {MAX_INDEX_BYTES} byte limit",
                bytes.len()
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            invalid(format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let weight_map = value
            .get("weight_map")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| invalid("missing object `weight_map`".to_string()))?;
        let weight_map: Vec<(String, String)> = weight_map
            .iter()
            .map(|(tensor, shard)| {
                shard
                    .as_str()
                    .map(|s| (tensor.clone(), s.to_string()))
                    .ok_or_else(|| invalid(format!("weight_map['{tensor}'] must be a file name")))
            })
            .collect::<Result<_, _>>()?;
        let metadata_object = value.get("metadata").and_then(serde_json::Value::as_object);
        let total_size = metadata_object
            .and_then(|m| m.get("total_size"))
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            });
        let metadata = metadata_object
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| *k != "total_size")
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut shards: Vec<String> = weight_map.iter().map(|(_, s)| s.clone()).collect();
        shards.sort();
        shards.dedup();
        Ok(ShardIndex {
            total_size,
            metadata,
            weight_map,
            shards,
        })
    }

    /// Shard paths that are absolute or leave the model directory.
    pub fn unsafe_shard_paths(&self) -> Vec<&str> {
        self.shards
            .iter()
            .map(String::as_str)
            .filter(|path| {
                path.starts_with('/')
                    || path.starts_with('\\')
                    || path.contains('\\')
                    || path.as_bytes().get(1) == Some(&b':')
                    || path.split('/').any(|part| part == "..")
            })
            .collect()
    }
}

/// Split a shard file name `model-00001-of-00003.safetensors` into the
/// stem, the 1-based index and the count.
pub fn parse_shard_name(file_name: &str) -> Option<(String, u32, u32)> {
    let stem = file_name
        .rsplit_once('.')
        .map_or(file_name, |(stem, _)| stem);
    let (rest, count) = stem.rsplit_once("-of-")?;
    let (base, index) = rest.rsplit_once('-')?;
    let index: u32 = index.parse().ok()?;
    let count: u32 = count.parse().ok()?;
    (index >= 1 && index <= count).then(|| (base.to_string(), index, count))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn index_and_names() {
        let index = ShardIndex::parse(
            br#"{"metadata": {"total_size": 123, "format": "pt"}, "weight_map": {"a": "m-00001-of-00002.safetensors", "b": "m-00002-of-00002.safetensors", "c": "../../etc/passwd"}}"#,
        )
        .unwrap();
        assert_eq!(index.total_size, Some(123));
        assert_eq!(index.shards.len(), 3);
        assert_eq!(index.unsafe_shard_paths(), ["../../etc/passwd"]);
        assert_eq!(
            parse_shard_name("model-00002-of-00003.safetensors"),
            Some(("model".into(), 2, 3))
        );
        assert_eq!(parse_shard_name("model.safetensors"), None);
        assert!(ShardIndex::parse(b"{}").is_err());
    }
}
