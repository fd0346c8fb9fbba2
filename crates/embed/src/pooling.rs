//! Pooling token vectors into one sentence vector, as sentence-transformers'
//! Pooling and Normalize modules do.

/// One way of pooling token vectors, as `1_Pooling/config.json` names them
/// (`pooling_mode_<name>`). A snapshot may set several; their results are
/// concatenated in the order of this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolingMode {
    /// The first token's vector (`[CLS]`).
    Cls,
    /// The element-wise maximum over the pooled tokens.
    Max,
    /// The mean of the pooled tokens' vectors.
    Mean,
    /// Their sum divided by the square root of their count.
    MeanSqrtLen,
    /// Their mean weighted by position (1, 2, 3, …).
    WeightedMean,
    /// The last token's vector.
    LastToken,
}

/// The Pooling module's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Pooling {
    pub(crate) modes: Vec<PoolingMode>,
    pub(crate) word_embedding_dimension: usize,
    /// Whether the prompt's tokens count in the pooling.
    pub(crate) include_prompt: bool,
}

impl Pooling {
    /// Pool one sequence's token vectors (`tokens` rows of `hidden` values
    /// each, row-major). Rows before `skip` (the prompt, when it is left
    /// out) are not pooled, except by [`PoolingMode::Cls`], which always
    /// takes row 0. Sums run in f64.
    pub(crate) fn pool(&self, rows: &[f32], hidden: usize, skip: usize) -> Vec<f32> {
        let tokens = rows.len().checked_div(hidden).unwrap_or(0);
        let row = |t: usize| rows.get(t * hidden..(t + 1) * hidden).unwrap_or(&[]);
        let pooled = skip.min(tokens)..tokens;
        let count = pooled.len() as f64;
        let mut out = Vec::with_capacity(hidden * self.modes.len());
        let mut cached: Option<Vec<f64>> = None;
        let mut sum = || {
            cached
                .get_or_insert_with(|| {
                    let mut sum = vec![0f64; hidden];
                    for t in pooled.clone() {
                        for (s, v) in sum.iter_mut().zip(row(t)) {
                            *s += f64::from(*v);
                        }
                    }
                    sum
                })
                .clone()
        };
        for mode in &self.modes {
            match mode {
                PoolingMode::Cls => out.extend_from_slice(row(0)),
                PoolingMode::Max => {
                    // sentence-transformers sets left-out tokens to -1e9
                    // before taking the maximum.
                    let mut max = vec![-1e9f32; hidden];
                    for t in pooled.clone() {
                        for (m, v) in max.iter_mut().zip(row(t)) {
                            *m = m.max(*v);
                        }
                    }
                    out.extend(max);
                }
                PoolingMode::Mean => {
                    let denominator = count.max(1e-9);
                    out.extend(sum().into_iter().map(|s| (s / denominator) as f32));
                }
                PoolingMode::MeanSqrtLen => {
                    let denominator = count.max(1e-9).sqrt();
                    out.extend(sum().into_iter().map(|s| (s / denominator) as f32));
                }
                PoolingMode::WeightedMean => {
                    let mut weighted = vec![0f64; hidden];
                    let mut weights = 0f64;
                    for t in pooled.clone() {
                        let weight = (t + 1) as f64;
                        weights += weight;
                        for (s, v) in weighted.iter_mut().zip(row(t)) {
                            *s += weight * f64::from(*v);
                        }
                    }
                    let denominator = weights.max(1e-9);
                    out.extend(weighted.into_iter().map(|s| (s / denominator) as f32));
                }
                PoolingMode::LastToken => {
                    out.extend_from_slice(row(tokens.saturating_sub(1)));
                }
            }
        }
        out
    }
}

/// Scale `vector` to unit length (L2), as sentence-transformers' Normalize
/// module does (`torch.nn.functional.normalize`, eps 1e-12).
pub(crate) fn normalize(vector: &mut [f32]) {
    let norm = vector
        .iter()
        .map(|v| f64::from(*v) * f64::from(*v))
        .sum::<f64>()
        .sqrt()
        .max(1e-12);
    for v in vector {
        *v = (f64::from(*v) / norm) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooling(modes: &[PoolingMode]) -> Pooling {
        Pooling {
            modes: modes.to_vec(),
            word_embedding_dimension: 2,
            include_prompt: true,
        }
    }

    #[test]
    fn modes_pool_the_rows_they_should() {
        let rows = [1.0, 2.0, 3.0, -4.0, 5.0, 0.0];
        let all = pooling(&[
            PoolingMode::Cls,
            PoolingMode::Max,
            PoolingMode::Mean,
            PoolingMode::MeanSqrtLen,
            PoolingMode::WeightedMean,
            PoolingMode::LastToken,
        ]);
        let out = all.pool(&rows, 2, 0);
        let s3 = 3f32.sqrt();
        let expected = [
            1.0,
            2.0, // cls
            5.0,
            2.0, // max
            3.0,
            -2.0 / 3.0, // mean
            9.0 / s3,
            -2.0 / s3, // mean sqrt len
            (1.0 + 6.0 + 15.0) / 6.0,
            (2.0 - 8.0 + 0.0) / 6.0, // weighted mean
            5.0,
            0.0, // last token
        ];
        assert_eq!(out.len(), expected.len());
        for (got, want) in out.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{out:?}");
        }
        // Leaving out the first two rows (a prompt): CLS still row 0.
        let out = all.pool(&rows, 2, 2);
        assert_eq!(
            out,
            [1.0, 2.0, 5.0, 0.0, 5.0, 0.0, 5.0, 0.0, 5.0, 0.0, 5.0, 0.0]
        );
    }

    #[test]
    fn normalize_gives_unit_length_and_keeps_zero() {
        let mut v = [3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut zero = [0.0, 0.0];
        normalize(&mut zero);
        assert_eq!(zero, [0.0, 0.0]);
    }
}
