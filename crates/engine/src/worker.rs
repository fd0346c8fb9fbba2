//! The thread that owns a model's context and runs continuous batching.
//!
//! Each step: take new requests into free slots, drop requests whose client
//! went away (freeing their slot's cache), then build one batch holding the
//! next token of every generating slot plus a chunk of at most
//! [`EngineConfig::batch`] prompt tokens, decode it, and sample each slot's
//! next token from its own row of logits.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use crate::engine::Shared;
use crate::sampling::{build_sampler, logprobs_at};
use crate::text::TextAssembler;
use crate::{EngineConfig, EngineError, Event, FinishReason, GenerateRequest, Usage};

pub(crate) enum Command {
    Generate {
        request: Box<GenerateRequest>,
        events: tokio_mpsc::UnboundedSender<Event>,
    },
    Embed {
        inputs: Vec<Vec<u32>>,
        reply: oneshot::Sender<Result<Vec<Vec<f32>>, EngineError>>,
    },
    Shutdown,
}

/// A request holding a slot.
struct Active {
    events: tokio_mpsc::UnboundedSender<Event>,
    prompt: Vec<LlamaToken>,
    /// Prompt tokens already decoded.
    prompt_done: usize,
    /// Position of the next token in this sequence.
    position: i32,
    sampler: LlamaSampler,
    text: TextAssembler,
    generated: u32,
    max_tokens: u32,
    logprobs: Option<u8>,
    /// The token sampled last step, to be decoded this step.
    pending: Option<LlamaToken>,
    /// This slot's row of logits in the batch just decoded.
    row: Option<i32>,
    /// Whether any of its tokens are in the batch being decoded.
    in_batch: bool,
}

pub(crate) struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    config: EngineConfig,
    slots: Vec<Option<Active>>,
    queue: VecDeque<(Box<GenerateRequest>, tokio_mpsc::UnboundedSender<Event>)>,
    shared: Arc<Shared>,
}

impl<'m> Worker<'m> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        backend: &LlamaBackend,
        model: &'m LlamaModel,
        path: PathBuf,
        config: EngineConfig,
        embeddings: bool,
        shared: Arc<Shared>,
        inbox: mpsc::Receiver<Command>,
        ready: mpsc::Sender<Result<(), EngineError>>,
    ) {
        let slots = config.slots.max(1);
        let n_ctx = config.context.saturating_mul(slots);
        let threads = i32::try_from(config.threads.max(1)).unwrap_or(1);
        let mut params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_seq_max(slots)
            .with_n_batch(config.n_batch())
            .with_n_ubatch(config.n_ubatch())
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            // As llama-server: sliding-window layers keep only their window.
            .with_swa_full(false);
        if embeddings {
            // Every input is decoded whole for pooling.
            let whole = config.context.max(1);
            params = params
                .with_embeddings(true)
                .with_n_batch(whole)
                .with_n_ubatch(whole);
        }
        let ctx = match model.new_context(backend, params) {
            Ok(ctx) => ctx,
            Err(e) => {
                let _ = ready.send(Err(EngineError::Context {
                    path,
                    n_ctx,
                    slots,
                    reason: e.to_string(),
                }));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let mut worker = Worker {
            model,
            ctx,
            config: EngineConfig { slots, ..config },
            slots: (0..slots).map(|_| None).collect(),
            queue: VecDeque::new(),
            shared,
        };
        worker.serve(&inbox);
    }

    fn busy(&self) -> bool {
        !self.queue.is_empty() || self.slots.iter().any(Option::is_some)
    }

    fn serve(&mut self, inbox: &mpsc::Receiver<Command>) {
        loop {
            // Block for work when idle; otherwise only take what has arrived.
            if !self.busy() {
                match inbox.recv() {
                    Ok(command) => {
                        if !self.accept(command) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            let mut shutdown = false;
            while let Ok(command) = inbox.try_recv() {
                if !self.accept(command) {
                    shutdown = true;
                    break;
                }
            }
            if shutdown {
                break;
            }
            self.drop_disconnected();
            self.admit();
            if self.slots.iter().any(Option::is_some) {
                self.step();
            }
        }
        for (_, events) in self.queue.drain(..) {
            let _ = events.send(Event::Failed(EngineError::Stopped));
        }
        for active in self.slots.iter_mut().filter_map(Option::take) {
            let _ = active.events.send(Event::Failed(EngineError::Stopped));
        }
    }

    /// Takes one command; `false` on shutdown.
    fn accept(&mut self, command: Command) -> bool {
        match command {
            Command::Generate { request, events } => {
                self.queue.push_back((request, events));
                true
            }
            Command::Embed { inputs, reply } => {
                let _ = reply.send(self.embed(&inputs));
                true
            }
            Command::Shutdown => false,
        }
    }

    fn drop_disconnected(&mut self) {
        let before = self.queue.len();
        self.queue.retain(|(_, events)| !events.is_closed());
        let gone = before - self.queue.len();
        self.shared
            .waiting
            .fetch_sub(gone as u32, Ordering::Relaxed);
        for seq in 0..self.slots.len() {
            if self
                .slots
                .get(seq)
                .and_then(Option::as_ref)
                .is_some_and(|a| a.events.is_closed())
            {
                self.free(seq);
            }
        }
    }

    fn free(&mut self, seq: usize) {
        if let Some(slot) = self.slots.get_mut(seq)
            && slot.take().is_some()
        {
            let _ = self
                .ctx
                .clear_kv_cache_seq(u32::try_from(seq).ok(), None, None);
            self.shared.running.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn admit(&mut self) {
        while let Some(seq) = self.slots.iter().position(Option::is_none) {
            let Some((request, events)) = self.queue.pop_front() else {
                break;
            };
            self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
            let room = self
                .config
                .context
                .saturating_sub(request.prompt.len() as u32);
            let max_tokens = request.max_tokens.map_or(room, |m| m.min(room));
            let sampler = match build_sampler(self.model, &request) {
                Ok(sampler) => sampler,
                Err(e) => {
                    let _ = events.send(Event::Failed(e));
                    continue;
                }
            };
            let prompt: Vec<LlamaToken> = request
                .prompt
                .iter()
                .map(|&t| LlamaToken(i32::try_from(t).unwrap_or(0)))
                .collect();
            let _ = self
                .ctx
                .clear_kv_cache_seq(u32::try_from(seq).ok(), None, None);
            if let Some(slot) = self.slots.get_mut(seq) {
                *slot = Some(Active {
                    events,
                    prompt,
                    prompt_done: 0,
                    position: 0,
                    sampler,
                    text: TextAssembler::new(request.stop.iter().cloned()),
                    generated: 0,
                    max_tokens,
                    logprobs: request.logprobs.map(|n| n.min(20)),
                    pending: None,
                    row: None,
                    in_batch: false,
                });
                self.shared.running.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn step(&mut self) {
        let capacity = self.config.batch.max(self.config.slots) as usize;
        let mut batch = LlamaBatch::new(capacity, 1);
        let mut rows = 0i32;
        // Generating slots first: one token each, so no stream stalls.
        for (seq, slot) in self.slots.iter_mut().enumerate() {
            let Some(active) = slot else { continue };
            active.row = None;
            active.in_batch = false;
            if let Some(token) = active.pending.take()
                && batch
                    .add(token, active.position, &[seq as i32], true)
                    .is_ok()
            {
                active.position += 1;
                active.row = Some(rows);
                active.in_batch = true;
                rows += 1;
            }
        }
        // Then prompt chunks, in slot order, within what the batch has left.
        for (seq, slot) in self.slots.iter_mut().enumerate() {
            let Some(active) = slot else { continue };
            while active.prompt_done < active.prompt.len() && (rows as usize) < capacity {
                let Some(&token) = active.prompt.get(active.prompt_done) else {
                    break;
                };
                let last = active.prompt_done + 1 == active.prompt.len();
                if batch
                    .add(token, active.position, &[seq as i32], last)
                    .is_err()
                {
                    break;
                }
                if last {
                    active.row = Some(rows);
                }
                active.in_batch = true;
                active.prompt_done += 1;
                active.position += 1;
                rows += 1;
            }
        }
        if rows == 0 {
            return;
        }
        if let Err(e) = self.ctx.decode(&mut batch) {
            let error = EngineError::Decode(e.to_string());
            for seq in 0..self.slots.len() {
                if let Some(active) = self.slots.get(seq).and_then(Option::as_ref)
                    && active.in_batch
                {
                    let _ = active.events.send(Event::Failed(error.clone()));
                    self.free(seq);
                }
            }
            return;
        }
        for seq in 0..self.slots.len() {
            let done = match self.slots.get_mut(seq).and_then(Option::as_mut) {
                Some(active) => match active.row {
                    Some(row) => sample_one(self.model, &self.ctx, active, row),
                    None => false,
                },
                None => false,
            };
            if done {
                self.free(seq);
            }
        }
    }

    fn embed(&mut self, inputs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EngineError> {
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            let _ = self.ctx.clear_kv_cache_seq(None, None, None);
            let mut batch = LlamaBatch::new(input.len().max(1), 1);
            for (i, &t) in input.iter().enumerate() {
                let token = LlamaToken(i32::try_from(t).unwrap_or(0));
                batch
                    .add(token, i as i32, &[0], true)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            self.ctx
                .decode(&mut batch)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
            let vector = self
                .ctx
                .embeddings_seq_ith(0)
                .map_err(|e| EngineError::Decode(format!("no pooled embedding: {e}")))?;
            out.push(normalise(vector));
        }
        let _ = self.ctx.clear_kv_cache_seq(None, None, None);
        Ok(out)
    }
}

/// Samples a slot's next token from row `row`; returns whether it finished.
fn sample_one(model: &LlamaModel, ctx: &LlamaContext<'_>, active: &mut Active, row: i32) -> bool {
    let token = active.sampler.sample(ctx, row);
    let logprobs: Vec<_> = active
        .logprobs
        .map(|top| logprobs_at(model, ctx, row, top, token))
        .into_iter()
        .collect();
    let usage = |active: &Active| Usage {
        prompt_tokens: active.prompt.len() as u32,
        completion_tokens: active.generated,
    };
    if model.vocab().is_eog(token) {
        active.generated += 1;
        let text = active.text.finish();
        if !text.is_empty() {
            let _ = active.events.send(Event::Delta {
                text,
                logprobs: Vec::new(),
            });
        }
        let _ = active.events.send(Event::Finished {
            reason: FinishReason::Stop,
            usage: usage(active),
        });
        return true;
    }
    active.generated += 1;
    let piece = model.vocab().token_to_piece(token, false, None);
    let released = active.text.push(&piece);
    if !released.text.is_empty() || !logprobs.is_empty() {
        let _ = active.events.send(Event::Delta {
            text: released.text,
            logprobs,
        });
    }
    if released.stopped {
        let _ = active.events.send(Event::Finished {
            reason: FinishReason::Stop,
            usage: usage(active),
        });
        return true;
    }
    if active.generated >= active.max_tokens {
        let text = active.text.finish();
        if !text.is_empty() {
            let _ = active.events.send(Event::Delta {
                text,
                logprobs: Vec::new(),
            });
        }
        let _ = active.events.send(Event::Finished {
            reason: FinishReason::Length,
            usage: usage(active),
        });
        return true;
    }
    active.pending = Some(token);
    false
}

fn normalise(v: &[f32]) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
    } else {
        v.to_vec()
    }
}
