//! Building a request's sampler chain, and log-probabilities.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::{Constraint, EngineError, GenerateRequest, TokenLogprob, TopLogprob};

/// A GBNF grammar for any JSON object (llama.cpp's `json.gbnf`, rooted at an object).
const JSON_OBJECT_GRAMMAR: &str = r#"
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws     ::= | " " | "\n" [ \t]{0,20}
"#;

/// The grammar text a constraint stands for.
pub fn grammar_for(constraint: &Constraint) -> Result<String, EngineError> {
    match constraint {
        Constraint::JsonObject => Ok(JSON_OBJECT_GRAMMAR.to_owned()),
        Constraint::Grammar(g) => Ok(g.clone()),
        Constraint::JsonSchema(schema) => {
            let text = serde_json::to_string(schema)
                .map_err(|e| EngineError::Constraint(e.to_string()))?;
            llama_cpp_2::json_schema_to_grammar(&text)
                .map_err(|e| EngineError::Constraint(e.to_string()))
        }
    }
}

/// The chain llama.cpp's own server uses, in its order: grammar, penalties,
/// top-k, top-p, min-p, temperature, then a seeded draw (or greedy at
/// temperature 0).
pub(crate) fn build_sampler(
    model: &LlamaModel,
    request: &GenerateRequest,
) -> Result<LlamaSampler, EngineError> {
    let s = &request.sampling;
    let mut chain = Vec::new();
    if let Some(constraint) = &request.constraint {
        let grammar = grammar_for(constraint)?;
        chain.push(
            LlamaSampler::grammar(model, &grammar, "root")
                .map_err(|e| EngineError::Constraint(e.to_string()))?,
        );
    }
    if s.repeat_penalty != 1.0 || s.frequency_penalty != 0.0 || s.presence_penalty != 0.0 {
        chain.push(LlamaSampler::penalties(
            model.n_vocab(),
            s.penalty_last_n,
            s.repeat_penalty,
            s.frequency_penalty,
            s.presence_penalty,
        ));
    }
    if s.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(s.top_k));
        }
        if s.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(s.top_p, 1));
        }
        if s.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(s.min_p, 1));
        }
        chain.push(LlamaSampler::temp(s.temperature));
        let seed = match s.seed {
            // llama.cpp treats 0xFFFFFFFF as "draw a seed": keep a fixed seed fixed.
            Some(seed) => (seed as u32).min(u32::MAX - 1),
            None => rand_seed(),
        };
        chain.push(LlamaSampler::dist(seed));
    }
    Ok(LlamaSampler::chain_simple(chain))
}

fn rand_seed() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    (RandomState::new().hash_one(std::time::SystemTime::now()) as u32).min(u32::MAX - 1)
}

/// Log-probability of `chosen` and the `top` most likely tokens at `row`,
/// from the model's raw logits (before penalties and filters), as OpenAI
/// reports them.
pub(crate) fn logprobs_at(
    model: &LlamaModel,
    ctx: &LlamaContext<'_>,
    row: i32,
    top: u8,
    chosen: LlamaToken,
) -> TokenLogprob {
    let logits = ctx.get_logits_ith(row);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let log_z = max + sum.ln() as f32;
    let vocab = model.vocab();
    let text = |t: LlamaToken| {
        let bytes = vocab.token_to_piece(t, false, None);
        (String::from_utf8_lossy(&bytes).into_owned(), bytes)
    };
    let logprob_of = |t: LlamaToken| {
        usize::try_from(t.0)
            .ok()
            .and_then(|i| logits.get(i))
            .map_or(f32::NEG_INFINITY, |&l| l - log_z)
    };
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(usize::from(top) + 1);
    if top > 0 {
        for (i, &l) in logits.iter().enumerate() {
            if best.len() < usize::from(top) || best.last().is_some_and(|&(_, b)| l > b) {
                let at = best.partition_point(|&(_, b)| b >= l);
                best.insert(at, (i, l));
                best.truncate(usize::from(top));
            }
        }
    }
    let (token, bytes) = text(chosen);
    TokenLogprob {
        token,
        bytes,
        logprob: logprob_of(chosen),
        top: best
            .into_iter()
            .map(|(i, l)| {
                let (token, bytes) = text(LlamaToken(i32::try_from(i).unwrap_or(0)));
                TopLogprob {
                    token,
                    bytes,
                    logprob: l - log_z,
                }
            })
            .collect(),
    }
}
