//! What can go wrong compiling and rendering a chat template.

use std::fmt;

/// A chat template that cannot be used: [`ChatTemplate::new`](crate::ChatTemplate::new)
/// refused it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template source is longer than [`MAX_TEMPLATE_BYTES`](crate::MAX_TEMPLATE_BYTES).
    #[error(
        "chat template is {len} bytes, more than the {max} allowed: \
         real chat templates are a few kilobytes, so this one is not to be trusted"
    )]
    TooLarge {
        /// The source's length in bytes.
        len: usize,
        /// The cap it went over.
        max: usize,
    },
    /// The template uses `include`, `import`, `from` or `extends`: it wants to
    /// load another template, and there is no loader in the sandbox.
    #[error(
        "chat template line {line}: `{statement}` loads another template, which the sandbox \
         does not allow; a Hugging Face chat template must be self-contained"
    )]
    LoadsOtherTemplate {
        /// The statement's keyword (`include`, `import`, `from` or `extends`).
        statement: String,
        /// The 1-based line it is on.
        line: usize,
    },
    /// The template is not valid Jinja (or uses syntax this renderer lacks,
    /// such as transformers' `{% generation %}` tag).
    #[error(
        "chat template line {line}: syntax error: {detail}; fix the template or use another one"
    )]
    Syntax {
        /// The 1-based line of the error (0 where the parser gave none).
        line: usize,
        /// What the parser expected or found.
        detail: String,
        /// The parser's error.
        #[source]
        source: EngineError,
    },
}

/// A render that failed: [`ChatTemplate::render`](crate::ChatTemplate::render)
/// gave no prompt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The template called `raise_exception(message)`: it rejects this input,
    /// typically the order of the roles. The message is the template's own.
    #[error("the chat template rejected the messages: {message}")]
    Raised {
        /// What the template said, exactly.
        message: String,
    },
    /// A message is not a JSON object (`{"role": ..., "content": ...}`).
    #[error("message {index} is a JSON {found}, not an object with a role and content")]
    MessageNotObject {
        /// Its 0-based position in `messages`.
        index: usize,
        /// The JSON type it has instead (`string`, `array`, ...).
        found: &'static str,
    },
    /// An `extra` variable has the name of one the renderer sets itself.
    #[error(
        "extra template variable `{name}` would replace the one the renderer sets; \
         pass it through its own field of RenderInput"
    )]
    ReservedVariable {
        /// The variable's name.
        name: String,
    },
    /// The render used up its fuel: the template does too much work for this
    /// input (or loops on purpose).
    #[error(
        "chat template ran out of fuel ({fuel} units) at line {line}: it does too much work \
         for this input; raise Limits::fuel only for a template you trust"
    )]
    OutOfFuel {
        /// The fuel this render had.
        fuel: u64,
        /// The 1-based template line it ran out on (0 where unknown).
        line: usize,
    },
    /// Macro calls or nested blocks went deeper than [`Limits::max_recursion`](crate::Limits::max_recursion).
    #[error(
        "chat template recursed deeper than the limit of {limit} at line {line}; \
         raise Limits::max_recursion only for a template you trust"
    )]
    RecursionLimit {
        /// The limit that was hit.
        limit: usize,
        /// The 1-based template line (0 where unknown).
        line: usize,
    },
    /// The prompt (or one value built on the way, such as a `tojson` string)
    /// grew past [`Limits::max_output_bytes`](crate::Limits::max_output_bytes).
    #[error(
        "rendered prompt is longer than the limit of {limit} bytes; shorten the conversation \
         or raise Limits::max_output_bytes"
    )]
    OutputTooLarge {
        /// The limit that was hit.
        limit: usize,
    },
    /// Any other failure while rendering: an undefined attribute, a type
    /// error, an unknown filter or method.
    #[error(
        "chat template failed at line {line}: {detail}; the template does not support this input"
    )]
    Template {
        /// The 1-based template line (0 where unknown).
        line: usize,
        /// What went wrong.
        detail: String,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
}

/// The template engine's own error, kept as the `source()` of
/// [`TemplateError`] and [`RenderError`] without making the engine's types
/// part of this crate's API.
pub struct EngineError(pub(crate) minijinja::Error);

impl fmt::Debug for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

/// Marks an engine error as coming from the template's `raise_exception`
/// (carried as the engine error's source, found again by [`RenderError`]'s
/// conversion).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RaisedByTemplate(pub(crate) String);

/// Marks an engine error as a value outgrowing the output limit inside a
/// filter (the output writer reports its own overflow).
#[derive(Debug, thiserror::Error)]
#[error("value is longer than the output limit of {0} bytes")]
pub(crate) struct OutputLimitHit(pub(crate) usize);

/// `kind: detail` of an engine error, without the template name and line
/// that its `Display` appends.
pub(crate) fn engine_detail(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

/// Finds a marker of type `T` in `err`'s chain of sources.
pub(crate) fn find_source<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = err.source();
    while let Some(cause) = next {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        next = cause.source();
    }
    None
}
