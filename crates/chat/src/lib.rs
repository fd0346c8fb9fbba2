//! Turns a conversation into the prompt text a model was trained on, by
//! rendering the model's own chat template: the Jinja source a Hugging Face
//! repository ships in `tokenizer_config.json` (or `chat_template.jinja`),
//! and a GGUF file in `tokenizer.chat_template`.
//!
//! The output is meant to equal what Python's transformers produces with
//! `apply_chat_template(..., tokenize=False)`; the tests hold it to that
//! against Python's `jinja2` for real templates (SmolLM2, Gemma 3, Llama
//! 3.2, Qwen 3, Mistral Nemo).
//!
//! Not here: reading templates out of model files (the format crates do
//! that), tokenizing the prompt, or parsing the model's reply.
//!
//! # Main types
//!
//! - [`ChatTemplate`]: a template compiled once, rendered per request.
//! - [`RenderInput`]: the messages (OpenAI-style JSON), tools and variables.
//! - [`Limits`]: the fuel, recursion and output caps of one render.
//! - [`TemplateError`] and [`RenderError`]: what failed, and what to do.
//!
//! # Design
//!
//! A chat template is code from whoever published the model, so it runs in
//! a sandbox: the engine (`minijinja`) has no template loader (`include`,
//! `import` and `extends` are refused when compiling), no access to files or
//! the environment, and every render runs on a fuel budget that grows with
//! the input, under a recursion limit and an output cap. A hostile template
//! fails with an error naming the limit it hit.
//!
//! What templates rely on from transformers' environment is provided:
//! `trim_blocks` and `lstrip_blocks`, `raise_exception(message)` (which
//! becomes [`RenderError::Raised`] with the template's message),
//! `strftime_now(format)` (in UTC), a `tojson` filter that writes what
//! Python's `json.dumps` writes (non-ASCII kept, keys in their given order,
//! `indent`), Python's string, list and dict methods (`.strip()`,
//! `.startswith()`, `.split()`, `.items()`, `.get()`, ...), `namespace()`,
//! loop controls, and Python's printing of `None`, booleans, lists and
//! dicts.
//!
//! Known differences from Python: the `~` operator and `join` print `none`
//! and `true` where Python prints `None` and `True`; filters that give
//! generators in Python (`map`, `select`, `reverse`) give lists, so they
//! pass `is sequence`; transformers' `{% generation %}` tag is a syntax error
//! here; `strftime_now` uses UTC where transformers uses local time; and
//! errors other than `raise_exception` are worded by this engine, not
//! Python's.
//!
//! # Example
//!
//! ```
//! use modelgate_chat::{ChatTemplate, RenderInput};
//! use serde_json::json;
//!
//! let template = ChatTemplate::new(
//!     "{% for message in messages %}<|im_start|>{{ message.role }}\n\
//!      {{ message.content | trim }}<|im_end|>\n{% endfor %}\
//!      {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
//! )?;
//! let input = RenderInput {
//!     messages: vec![json!({"role": "user", "content": "Hello! "})],
//!     add_generation_prompt: true,
//!     ..RenderInput::default()
//! };
//! assert_eq!(
//!     template.render(&input)?,
//!     "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod python;
mod template;

pub use error::{EngineError, RenderError, TemplateError};
pub use template::{ChatTemplate, Limits, MAX_TEMPLATE_BYTES, RenderInput};
