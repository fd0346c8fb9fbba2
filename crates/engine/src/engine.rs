//! The handle callers hold: load a model, tokenize, generate, embed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use crate::worker::{Command, Worker};
use crate::{EngineConfig, EngineError, Event, GenerateRequest};

/// llama.cpp's backend may be initialised once per process.
pub(crate) fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Backend(e.clone()))
}

/// What the engine knows of a loaded model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// `general.architecture`.
    pub architecture: String,
    /// Tokens in the vocabulary.
    pub vocab_size: u32,
    /// Context the model was trained with.
    pub context_train: u32,
    /// Width of an embedding.
    pub embedding_width: u32,
    /// Whether this is an embedding model (its GGUF names a pooling type):
    /// it serves embeddings, not generations.
    pub embeddings: bool,
    /// Text of the beginning-of-sequence token, for chat templates.
    pub bos_token: String,
    /// Text of the end-of-sequence token, for chat templates.
    pub eos_token: String,
    /// Bytes of weights llama.cpp holds.
    pub weights_bytes: u64,
    /// The configuration it runs with.
    pub config: EngineConfig,
}

/// Counters of a running engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Requests holding a slot.
    pub running: u32,
    /// Requests waiting for a slot.
    pub waiting: u32,
}

pub(crate) struct Shared {
    pub(crate) running: AtomicU32,
    pub(crate) waiting: AtomicU32,
}

/// A loaded model with the thread that runs it.
///
/// The model is memory-mapped; one llama.cpp context with
/// [`EngineConfig::slots`] sequences is owned by a dedicated thread, which
/// batches every running request's next token into one decode step (continuous
/// batching). Cheap to share behind an `Arc`; dropping the last handle stops
/// the thread after the requests it runs have been told.
pub struct Engine {
    model: Arc<LlamaModel>,
    info: ModelInfo,
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The events of one generation. Dropping it cancels the request and frees
/// its slot at the next decode step.
#[derive(Debug)]
pub struct Generation {
    events: tokio_mpsc::UnboundedReceiver<Event>,
}

impl Generation {
    /// The next event; `None` after the last.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next event if one has arrived, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The next event, blocking the thread (for callers outside an async runtime).
    pub fn next_blocking(&mut self) -> Option<Event> {
        self.events.blocking_recv()
    }
}

impl Engine {
    /// Loads a GGUF model (memory-mapped) and starts its thread.
    pub fn load(path: &Path, config: EngineConfig) -> Result<Engine, EngineError> {
        let backend = backend()?;
        let params = LlamaModelParams::default();
        let model =
            LlamaModel::load_from_file(backend, path, &params).map_err(|e| EngineError::Load {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let model = Arc::new(model);
        let architecture = model
            .meta_val_str("general.architecture")
            .unwrap_or_default();
        let embeddings = model
            .meta_val_str(&format!("{architecture}.pooling_type"))
            .is_ok();
        let vocab = model.vocab();
        let piece = |t: LlamaToken| {
            String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned()
        };
        let info = ModelInfo {
            path: path.to_owned(),
            architecture,
            vocab_size: u32::try_from(model.n_vocab()).unwrap_or(0),
            context_train: model.n_ctx_train(),
            embedding_width: u32::try_from(model.n_embd()).unwrap_or(0),
            embeddings,
            bos_token: piece(vocab.bos()),
            eos_token: piece(vocab.eos()),
            weights_bytes: model.size(),
            config: config.clone(),
        };
        let shared = Arc::new(Shared {
            running: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
        });
        let (commands, inbox) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let worker_model = Arc::clone(&model);
        let worker_shared = Arc::clone(&shared);
        let worker_path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name(format!(
                "engine:{}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ))
            .spawn(move || {
                Worker::run(
                    backend,
                    &worker_model,
                    worker_path,
                    config,
                    embeddings,
                    worker_shared,
                    inbox,
                    ready_tx,
                )
            })
            .map_err(|e| EngineError::Backend(format!("could not start the engine thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(EngineError::Stopped);
            }
        }
        Ok(Engine {
            model,
            info,
            commands,
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// What was loaded.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Requests running and waiting.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            running: self.shared.running.load(Ordering::Relaxed),
            waiting: self.shared.waiting.load(Ordering::Relaxed),
        }
    }

    /// Tokenizes text. `add_special` adds the model's BOS token when the
    /// model wants one and `text` does not already begin with it; special
    /// tokens written in the text (as chat templates write them) are parsed.
    pub fn tokenize(&self, text: &str, add_special: bool) -> Vec<u32> {
        let vocab = self.model.vocab();
        let add = add_special
            && !(vocab.should_add_bos()
                && !self.info.bos_token.is_empty()
                && text.starts_with(&self.info.bos_token));
        vocab
            .tokenize(text.as_bytes(), add, true)
            .into_iter()
            .map(|t| u32::try_from(t.0).unwrap_or(0))
            .collect()
    }

    /// The text of tokens (special tokens rendered), for echoing prompts.
    pub fn detokenize(&self, tokens: &[u32]) -> String {
        let vocab = self.model.vocab();
        let mut bytes = Vec::new();
        for &t in tokens {
            if let Ok(id) = i32::try_from(t) {
                bytes.extend(vocab.token_to_piece(LlamaToken(id), false, None));
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Checks token ids given by a client against the vocabulary.
    pub fn check_tokens(&self, tokens: &[u32]) -> Result<(), EngineError> {
        match tokens.iter().find(|&&t| t >= self.info.vocab_size) {
            Some(&token) => Err(EngineError::BadToken {
                token,
                vocab: self.info.vocab_size,
            }),
            None => Ok(()),
        }
    }

    /// Starts a generation. It waits for a free slot if all are busy; its
    /// events arrive on the returned [`Generation`].
    pub fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        if self.info.embeddings {
            return Err(EngineError::Unsupported(format!(
                "{} is an embedding model: use /v1/embeddings",
                self.info.path.display()
            )));
        }
        if request.prompt.is_empty() {
            return Err(EngineError::Unsupported("the prompt is empty".into()));
        }
        self.check_tokens(&request.prompt)?;
        let context = self.info.config.context;
        if request.prompt.len() >= context as usize {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: request.prompt.len(),
                context,
            });
        }
        let (events, receiver) = tokio_mpsc::unbounded_channel();
        self.shared.waiting.fetch_add(1, Ordering::Relaxed);
        self.commands
            .send(Command::Generate {
                request: Box::new(request),
                events,
            })
            .map_err(|_| EngineError::Stopped)?;
        Ok(Generation { events: receiver })
    }

    /// Embeds each input (token ids), pooled as the model says and
    /// L2-normalised. Only for embedding models.
    pub async fn embed(&self, inputs: Vec<Vec<u32>>) -> Result<Vec<Vec<f32>>, EngineError> {
        if !self.info.embeddings {
            return Err(EngineError::Unsupported(format!(
                "{} is a generation model without a pooling type; it does not serve embeddings",
                self.info.path.display()
            )));
        }
        for input in &inputs {
            self.check_tokens(input)?;
            if input.len() > self.info.config.context as usize {
                return Err(EngineError::PromptTooLong {
                    prompt_tokens: input.len(),
                    context: self.info.config.context,
                });
            }
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Embed { inputs, reply })
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Ok(mut thread) = self.thread.lock()
            && let Some(thread) = thread.take()
        {
            let _ = thread.join();
        }
    }
}
