//! The compiled template, its sandbox and one render.

use std::io;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Rest, Serde, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};

use crate::error::{
    EngineError, OutputLimitHit, RaisedByTemplate, RenderError, TemplateError, engine_detail,
    find_source,
};
use crate::python;

/// The most bytes of template source [`ChatTemplate::new`] accepts. Real chat
/// templates run from a few hundred bytes to a few tens of kilobytes.
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;

/// The name the template has inside the engine (and in its error messages).
const TEMPLATE_NAME: &str = "chat_template";

/// The variables [`ChatTemplate::render`] sets itself, which `extra` may
/// not replace.
const RESERVED_VARIABLES: [&str; 6] = [
    "messages",
    "tools",
    "documents",
    "add_generation_prompt",
    "bos_token",
    "eos_token",
];

/// How much work one render may do. A template is code from the model's
/// publisher; these bound what it can cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Fuel every render starts with. The engine spends about one unit per
    /// instruction and one per byte it writes or builds, so this bounds both
    /// time and memory.
    pub fuel: u64,
    /// Fuel added per byte of input (message text, tools, extra variables),
    /// so that long conversations are not refused: templates copy their
    /// input a few times over while concatenating strings.
    pub fuel_per_input_byte: u64,
    /// How deep macro calls and nested blocks may go. Each macro call counts
    /// about 4.
    pub max_recursion: usize,
    /// The longest prompt a render may produce, in bytes; also the longest
    /// string `tojson` or printing may build.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    /// A million units of fuel plus one per input byte, recursion 200, and
    /// 64 MiB of output. Real templates spend a few hundred units on a short
    /// chat and about one per 10 input bytes on a long one.
    fn default() -> Limits {
        Limits {
            fuel: 1_000_000,
            fuel_per_input_byte: 1,
            max_recursion: 200,
            max_output_bytes: 64 << 20,
        }
    }
}

/// What one render is given: the conversation and the variables
/// transformers' `apply_chat_template` passes next to it.
///
/// Messages stay JSON values, as an OpenAI-style request carries them:
/// `content` is a string or a list of parts (`[{"type": "text", "text": ...}]`),
/// and assistant messages may have `tool_calls`. Templates read them as they
/// are.
///
/// Map keys reach the template in `serde_json`'s order: sorted, unless the
/// build enables `serde_json`'s `preserve_order` feature. That order shows
/// where a template prints a map with `tojson` or iterates it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderInput {
    /// The conversation, oldest first; each an object with `role` and
    /// (usually) `content`.
    pub messages: Vec<serde_json::Value>,
    /// End the prompt with the header of an assistant turn, for the model to
    /// continue.
    pub add_generation_prompt: bool,
    /// The model's beginning-of-sequence token text (`""` if it has none).
    pub bos_token: String,
    /// The model's end-of-sequence token text.
    pub eos_token: String,
    /// Tool (function) definitions in OpenAI's JSON schema form; `None`
    /// passes `tools=None`, as transformers does.
    pub tools: Option<Vec<serde_json::Value>>,
    /// Further template variables, such as `enable_thinking`, `date_string`
    /// or other special tokens.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A model's chat template, compiled once and rendered any number of times
/// (also from several threads at once).
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    env: Environment<'static>,
    limits: Limits,
}

impl ChatTemplate {
    /// Compiles `source` with the default [`Limits`].
    pub fn new(source: &str) -> Result<ChatTemplate, TemplateError> {
        ChatTemplate::with_limits(source, Limits::default())
    }

    /// Compiles `source`, to be rendered within `limits`.
    pub fn with_limits(source: &str, limits: Limits) -> Result<ChatTemplate, TemplateError> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge {
                len: source.len(),
                max: MAX_TEMPLATE_BYTES,
            });
        }
        let mut env = sandbox(&limits);
        env.add_template_owned(TEMPLATE_NAME, source.to_owned())
            .map_err(template_error)?;
        Ok(ChatTemplate { env, limits })
    }

    /// The limits every render of this template runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Renders the prompt for `input`.
    ///
    /// The template sees `messages`, `tools`, `documents` (always `None`),
    /// `add_generation_prompt`, `bos_token`, `eos_token` and every `extra`
    /// variable, as in transformers' `apply_chat_template`.
    pub fn render(&self, input: &RenderInput) -> Result<String, RenderError> {
        for (index, message) in input.messages.iter().enumerate() {
            if !message.is_object() {
                return Err(RenderError::MessageNotObject {
                    index,
                    found: json_type(message),
                });
            }
        }
        if let Some(name) = RESERVED_VARIABLES
            .iter()
            .find(|name| input.extra.contains_key(**name))
        {
            return Err(RenderError::ReservedVariable {
                name: (*name).to_owned(),
            });
        }

        let fuel = self.limits.fuel.saturating_add(
            self.limits
                .fuel_per_input_byte
                .saturating_mul(input_bytes(input)),
        );
        let mut env = self.env.clone();
        env.set_fuel(Some(fuel));
        let template = env
            .get_template(TEMPLATE_NAME)
            .map_err(|source| RenderError::Template {
                line: 0,
                detail: engine_detail(&source),
                source: EngineError(source),
            })?;

        let mut variables = vec![
            ("messages", Value::from(Serde(&input.messages))),
            ("tools", Value::from(Serde(&input.tools))),
            ("documents", Value::from(())),
            (
                "add_generation_prompt",
                Value::from(input.add_generation_prompt),
            ),
            ("bos_token", Value::from(input.bos_token.as_str())),
            ("eos_token", Value::from(input.eos_token.as_str())),
        ];
        for (name, value) in &input.extra {
            variables.push((name.as_str(), Value::from(Serde(value))));
        }
        let context = Value::from_pairs(variables);

        let mut output = CappedWriter::new(self.limits.max_output_bytes);
        match template.render_captured_to(context, &mut output) {
            Ok(_) => {}
            Err(_) if output.overflowed => {
                return Err(RenderError::OutputTooLarge {
                    limit: self.limits.max_output_bytes,
                });
            }
            Err(err) => return Err(self.render_error(err, fuel)),
        }
        // Everything written came from `&str`s, so the bytes are UTF-8.
        String::from_utf8(output.bytes).map_err(|err| RenderError::Template {
            line: 0,
            detail: format!("output is not UTF-8: {err}"),
            source: EngineError(Error::new(ErrorKind::WriteFailure, "output is not UTF-8")),
        })
    }

    /// Sorts an engine error into the [`RenderError`] that says what happened.
    fn render_error(&self, err: Error, fuel: u64) -> RenderError {
        let line = err.line().unwrap_or(0);
        if let Some(raised) = find_source::<RaisedByTemplate>(&err) {
            return RenderError::Raised {
                message: raised.0.clone(),
            };
        }
        if find_source::<OutputLimitHit>(&err).is_some() {
            return RenderError::OutputTooLarge {
                limit: self.limits.max_output_bytes,
            };
        }
        if err.kind() == ErrorKind::OutOfFuel {
            return RenderError::OutOfFuel { fuel, line };
        }
        if err.kind() == ErrorKind::InvalidOperation
            && err.detail() == Some("recursion limit exceeded")
        {
            return RenderError::RecursionLimit {
                limit: self.limits.max_recursion,
                line,
            };
        }
        RenderError::Template {
            line,
            detail: engine_detail(&err),
            source: EngineError(err),
        }
    }
}

/// The environment transformers renders in, as far as the engine allows:
/// `trim_blocks` and `lstrip_blocks` on, no autoescaping, Python-style
/// printing, `tojson` as `json.dumps`, the Python string, list and dict
/// methods, `raise_exception` and `strftime_now`; and no loader, so nothing
/// outside the one template can be reached.
fn sandbox(limits: &Limits) -> Environment<'static> {
    let mut env = Environment::new();
    let mut syntax = SyntaxConfig::builder();
    syntax
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(false);
    // The default delimiters always build.
    if let Ok(syntax) = syntax.build() {
        env.set_syntax(syntax);
    }
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_recursion_limit(limits.max_recursion);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);

    let max_bytes = limits.max_output_bytes;
    env.set_formatter(move |out, _state, value| {
        let text = match value.as_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(python::py_str(value, max_bytes)?),
        };
        out.write_str(&text)
            .map_err(|_| Error::new(ErrorKind::WriteFailure, "could not write the output"))
    });
    env.add_filter("string", move |value: &Value| -> Result<Value, Error> {
        if value.as_str().is_some() {
            return Ok(value.clone());
        }
        python::py_str(value, max_bytes).map(Value::from)
    });
    env.add_filter(
        "tojson",
        move |value: &Value, positional: Rest<Value>, kwargs: Kwargs| {
            python::tojson(value, &positional, &kwargs, max_bytes)
        },
    );
    env.add_function(
        "raise_exception",
        |message: Value| -> Result<Value, Error> {
            let message = python::py_str(&message, MAX_TEMPLATE_BYTES)?;
            Err(Error::new(ErrorKind::InvalidOperation, message.clone())
                .with_source(RaisedByTemplate(message)))
        },
    );
    env.add_function("strftime_now", strftime_now);
    // Python's answers: a string or dict is a sequence (it has len() and
    // []), None is not iterable, and Undefined is both.
    env.add_test("sequence", |value: &Value| match value.kind() {
        ValueKind::Undefined
        | ValueKind::Seq
        | ValueKind::String
        | ValueKind::Map
        | ValueKind::Bytes => true,
        // `range()` has a length, a generator (`map`, `select`) has not.
        ValueKind::Iterable => value.len().is_some(),
        _ => false,
    });
    env.add_test("iterable", |value: &Value| {
        value.is_undefined()
            || matches!(
                value.kind(),
                ValueKind::Seq
                    | ValueKind::Iterable
                    | ValueKind::String
                    | ValueKind::Map
                    | ValueKind::Bytes
            )
    });
    env
}

/// `strftime_now(format)`: the current time in UTC, formatted with
/// `strftime` directives. (transformers uses the machine's local time; a
/// server's prompt should not depend on where it runs.)
fn strftime_now(state: &State, format: &str) -> Result<String, Error> {
    if !format.contains('%') {
        // No directives: Python returns the text unchanged (the formatter
        // below would read some plain words as preset formats).
        return Ok(format.to_owned());
    }
    let kwargs = Kwargs::from_iter([("format", Value::from(format))]);
    minijinja_contrib::filters::datetimeformat(state, minijinja_contrib::globals::now(), kwargs)
}

/// The [`TemplateError`] for a template the engine would not compile.
fn template_error(err: Error) -> TemplateError {
    let line = err.line().unwrap_or(0);
    if err.kind() == ErrorKind::SyntaxError {
        let loader = ["include", "import", "from", "extends"]
            .into_iter()
            .find(|statement| err.detail() == Some(&format!("unknown statement {statement}")));
        if let Some(statement) = loader {
            return TemplateError::LoadsOtherTemplate {
                statement: statement.to_owned(),
                line,
            };
        }
    }
    TemplateError::Syntax {
        line,
        detail: err
            .detail()
            .map_or_else(|| err.kind().to_string(), str::to_owned),
        source: EngineError(err),
    }
}

/// The name of a JSON value's type, for error messages.
fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// About how many bytes the render's input holds: the text of every string
/// and key, and a few bytes for every other value.
fn input_bytes(input: &RenderInput) -> u64 {
    fn walk(value: &serde_json::Value) -> u64 {
        match value {
            serde_json::Value::String(s) => s.len() as u64,
            serde_json::Value::Array(items) => items.iter().map(walk).sum::<u64>() + 8,
            serde_json::Value::Object(map) => {
                map.iter()
                    .map(|(key, value)| key.len() as u64 + walk(value))
                    .sum::<u64>()
                    + 8
            }
            _ => 8,
        }
    }
    let messages: u64 = input.messages.iter().map(walk).sum();
    let tools: u64 = input.tools.iter().flatten().map(walk).sum();
    let extra: u64 = input
        .extra
        .iter()
        .map(|(key, value)| key.len() as u64 + walk(value))
        .sum();
    messages + tools + extra + input.bos_token.len() as u64 + input.eos_token.len() as u64
}

/// Collects the rendered prompt and refuses to grow past a byte limit.
struct CappedWriter {
    bytes: Vec<u8>,
    max_bytes: usize,
    overflowed: bool,
}

impl CappedWriter {
    fn new(max_bytes: usize) -> CappedWriter {
        CappedWriter {
            bytes: Vec::new(),
            max_bytes,
            overflowed: false,
        }
    }
}

impl io::Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.max_bytes {
            self.overflowed = true;
            return Err(io::Error::other("output limit reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
