//! Generation cases: on the embedded engine with the model's own chat
//! template, or against an OpenAI-compatible endpoint; each answer judged by
//! the case's assertions.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use modelgate_engine::{Engine, EngineConfig, Event, GenerateRequest};
use modelgate_eval::{CaseResult, GenerationCase, Observation, evaluate};
use modelgate_serving::Template;
use modelgate_upstream::{Call, Provider, Reply};
use serde_json::{Value, json};

use crate::{Error, Progress, Settings};

/// An OpenAI-compatible endpoint and the model to ask there.
#[derive(Debug, Clone)]
pub struct Endpoint {
    provider: Provider,
    url: String,
    model: String,
    timeout: Duration,
}

impl Endpoint {
    /// `provider` reached at `url` (for the report), asked for `model`; each
    /// case may take `timeout`.
    pub fn new(provider: Provider, url: &str, model: &str, timeout: Duration) -> Endpoint {
        Endpoint {
            provider,
            url: url.to_owned(),
            model: model.to_owned(),
            timeout,
        }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// What one case produced before it is judged.
struct Produced {
    output: String,
    latency_ms: f64,
    ttft_ms: Option<f64>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

fn judge(case: &GenerationCase, produced: Produced, settings: &Settings) -> CaseResult {
    let cost_usd = match (
        settings.price_per_mtok,
        produced.prompt_tokens,
        produced.completion_tokens,
    ) {
        (Some((input, output)), Some(p), Some(c)) => {
            Some((p as f64 * input + c as f64 * output) / 1_000_000.0)
        }
        _ => None,
    };
    let observation = Observation {
        output: produced.output,
        latency_ms: produced.latency_ms,
        cost_usd,
    };
    let outcome = evaluate(case, &observation);
    let mut result = CaseResult::generation(case, &observation, outcome);
    result.ttft_ms = produced.ttft_ms;
    result.prompt_tokens = produced.prompt_tokens;
    result.completion_tokens = produced.completion_tokens;
    result
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unsupported(format!("could not start an async runtime: {e}")))
}

fn messages(case: &GenerationCase) -> Vec<Value> {
    case.messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect()
}

pub(crate) fn on_engine(
    path: &Path,
    cases: &[GenerationCase],
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Vec<CaseResult>, Error> {
    let file = modelgate_formats::read_file(path).map_err(|e| Error::Model {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let gguf = modelgate_gguf::Gguf::parse(&file.bytes).map_err(|e| Error::Model {
        path: path.to_owned(),
        reason: format!("GGUF header: {e}"),
    })?;
    let template = match gguf.get_str("tokenizer.chat_template") {
        None => Template::Missing,
        Some(source) => modelgate_serving::chat_template(source),
    };
    drop(gguf);
    drop(file);
    let template = match template {
        Template::Ready(t) => t,
        Template::Missing => {
            return Err(Error::template(
                path,
                "the model has no chat template (tokenizer.chat_template), so chat cases cannot be rendered",
            ));
        }
        Template::Flagged(why) => {
            return Err(Error::template(
                path,
                format!("the scan flagged the chat template, so it is never rendered: {why}"),
            ));
        }
        Template::Broken(why) => {
            return Err(Error::template(
                path,
                format!("the chat template does not compile: {why}"),
            ));
        }
    };
    let engine = Arc::new(Engine::load(
        path,
        EngineConfig {
            slots: settings.parallel.max(1),
            context: settings.context,
            threads: settings.threads,
            batch: 2048,
        },
    )?);
    let info = engine.info().clone();
    let mut prompts = Vec::with_capacity(cases.len());
    for case in cases {
        let input = modelgate_chat::RenderInput {
            messages: messages(case),
            add_generation_prompt: true,
            bos_token: info.bos_token.clone(),
            eos_token: info.eos_token.clone(),
            ..Default::default()
        };
        let text = template.render(&input).map_err(|e| {
            Error::template(
                path,
                format!("case {}: the chat template refused it: {e}", case.id),
            )
        })?;
        prompts.push(engine.tokenize(&text, true));
    }
    progress.begin("cases", cases.len() as u64);
    let rt = runtime()?;
    let results = rt.block_on(async {
        futures_util::stream::iter(cases.iter().zip(prompts))
            .map(|(case, prompt)| {
                let engine = Arc::clone(&engine);
                async move {
                    let produced = generate(&engine, case, prompt, settings).await;
                    progress.advance(1);
                    produced.map(|p| judge(case, p, settings))
                }
            })
            .buffered(settings.parallel.max(1) as usize)
            .collect::<Vec<_>>()
            .await
    });
    progress.finish();
    results.into_iter().collect()
}

async fn generate(
    engine: &Engine,
    case: &GenerationCase,
    prompt: Vec<u32>,
    settings: &Settings,
) -> Result<Produced, Error> {
    let mut request = GenerateRequest::new(prompt);
    request.max_tokens = Some(case.max_tokens);
    request.sampling.temperature = case.temperature as f32;
    request.sampling.seed = Some(case.seed.unwrap_or(settings.seed));
    let started = Instant::now();
    let mut generation = engine.generate(request)?;
    let (mut output, mut ttft) = (String::new(), None);
    while let Some(event) = generation.next().await {
        match event {
            Event::Delta { text, .. } => {
                if ttft.is_none() {
                    ttft = Some(started.elapsed().as_secs_f64() * 1000.0);
                }
                output.push_str(&text);
            }
            Event::Finished { usage, .. } => {
                return Ok(Produced {
                    output,
                    latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                    ttft_ms: ttft,
                    prompt_tokens: Some(u64::from(usage.prompt_tokens)),
                    completion_tokens: Some(u64::from(usage.completion_tokens)),
                });
            }
            Event::Failed(e) => return Err(e.into()),
        }
    }
    Err(modelgate_engine::EngineError::Stopped.into())
}

pub(crate) fn on_endpoint(
    endpoint: &Endpoint,
    cases: &[GenerationCase],
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Vec<CaseResult>, Error> {
    progress.begin("cases", cases.len() as u64);
    let rt = runtime()?;
    let results = rt.block_on(async {
        futures_util::stream::iter(cases.iter().enumerate())
            .map(|(i, case)| async move {
                let produced = ask(endpoint, case, i, settings).await;
                progress.advance(1);
                produced.map(|p| judge(case, p, settings))
            })
            .buffered(settings.parallel.max(1) as usize)
            .collect::<Vec<_>>()
            .await
    });
    progress.finish();
    results.into_iter().collect()
}

async fn ask(
    endpoint: &Endpoint,
    case: &GenerationCase,
    index: usize,
    settings: &Settings,
) -> Result<Produced, Error> {
    let body = json!({
        "model": endpoint.model,
        "messages": messages(case),
        "max_tokens": case.max_tokens,
        "temperature": case.temperature,
        "seed": case.seed.unwrap_or(settings.seed),
    });
    let call = Call {
        deadline: Instant::now() + endpoint.timeout,
        request_id: format!("eval-{}-{index}", case.id),
        traceparent: None,
    };
    let started = Instant::now();
    let reply = endpoint
        .provider
        .chat(&endpoint.model, &body, &call)
        .await
        .map_err(|e| Error::Endpoint {
            url: endpoint.url.clone(),
            reason: format!("case {}: {e}", case.id),
        })?;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let Reply::Complete { body, usage } = reply else {
        return Err(Error::Endpoint {
            url: endpoint.url.clone(),
            reason: format!(
                "case {}: a stream came back for a request without stream",
                case.id
            ),
        });
    };
    let output = body
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Produced {
        output,
        latency_ms,
        ttft_ms: None,
        prompt_tokens: usage.as_ref().map(|u| u.prompt_tokens),
        completion_tokens: usage.as_ref().map(|u| u.completion_tokens),
    })
}
