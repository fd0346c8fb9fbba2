//! Python's spelling of values, which chat templates were written against:
//! transformers renders them with Python's `jinja2`, where `{{ x }}` prints
//! `str(x)` (`None`, `True`, `{'a': 1}`) and its `tojson` filter is
//! `json.dumps(x, ensure_ascii=False, indent=indent)`.
//!
//! Everything here works on the engine's values and stops at
//! [`MAX_NESTING`] levels (a namespace can hold itself) and at the output
//! limit (an `indent` string can be made huge).

use std::fmt::Write as _;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::error::OutputLimitHit;

/// How deep `tojson` and printing descend into lists and maps. JSON messages
/// nest a few levels; Python's own limit would be about 1000.
pub(crate) const MAX_NESTING: usize = 128;

/// A string that refuses to grow past a byte limit.
pub(crate) struct Budget {
    text: String,
    max_bytes: usize,
}

impl Budget {
    pub(crate) fn new(max_bytes: usize) -> Budget {
        Budget {
            text: String::new(),
            max_bytes,
        }
    }

    pub(crate) fn push(&mut self, s: &str) -> Result<(), Error> {
        if self.text.len().saturating_add(s.len()) > self.max_bytes {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "value outgrew the output limit",
            )
            .with_source(OutputLimitHit(self.max_bytes)));
        }
        self.text.push_str(s);
        Ok(())
    }

    fn push_char(&mut self, c: char) -> Result<(), Error> {
        self.push(c.encode_utf8(&mut [0; 4]))
    }

    pub(crate) fn into_string(self) -> String {
        self.text
    }
}

fn too_deep() -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("value nests deeper than {MAX_NESTING} levels"),
    )
}

/// Python's `repr()` of a float: the shortest digits that read back the
/// same, in positional notation from 1e-4 up to 1e16 and in exponent notation
/// (`1e+16`, `1.5e-05`) outside.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits, as `d.ddde±x`.
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let n_digits = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    // Where the decimal point goes: the value is 0.DIGITS × 10^point.
    let point = exponent + 1;
    let mut out = String::from(sign);
    if !(-4 < point && point <= 16) {
        let mut chars = digits.chars();
        out.extend(chars.next());
        let rest: String = chars.collect();
        if !rest.is_empty() {
            out.push('.');
            out.push_str(&rest);
        }
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{exponent_sign}{:02}", exponent.unsigned_abs());
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point >= n_digits {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - n_digits) as usize));
        out.push_str(".0");
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// The number as Python prints it (`str()` and `repr()` agree on numbers).
fn number_repr(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) => float_repr(f),
        Err(_) => value.to_string(),
    }
}

/// Python's `str(value)`, as `{{ value }}` and the `string` filter print it.
pub(crate) fn py_str(value: &Value, max_bytes: usize) -> Result<String, Error> {
    if let Some(s) = value.as_str() {
        return Ok(s.to_owned());
    }
    if value.is_undefined() {
        return Ok(String::new());
    }
    let mut out = Budget::new(max_bytes);
    write_repr(&mut out, value, 0)?;
    Ok(out.into_string())
}

/// Python's `repr(value)` for the values JSON can hold.
fn write_repr(out: &mut Budget, value: &Value, depth: usize) -> Result<(), Error> {
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    match value.kind() {
        ValueKind::Undefined => out.push("Undefined"),
        ValueKind::None => out.push("None"),
        ValueKind::Bool => out.push(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push(&number_repr(value)),
        ValueKind::String => write_string_repr(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq => {
            out.push("[")?;
            for (item_idx, item) in value.try_iter()?.enumerate() {
                if item_idx > 0 {
                    out.push(", ")?;
                }
                write_repr(out, &item, depth + 1)?;
            }
            out.push("]")
        }
        ValueKind::Map => {
            out.push("{")?;
            for (key_idx, key) in value.try_iter()?.enumerate() {
                if key_idx > 0 {
                    out.push(", ")?;
                }
                write_repr(out, &key, depth + 1)?;
                out.push(": ")?;
                write_repr(out, &value.get_item(&key)?, depth + 1)?;
            }
            out.push("}")
        }
        // Loops, macros, namespaces, byte strings: no Python spelling to copy.
        _ => out.push(&value.to_string()),
    }
}

/// Python's `repr(str)`: single quotes unless the text has a single quote
/// and no double quote; backslash escapes for the quote, backslash and
/// characters Python deems unprintable.
fn write_string_repr(out: &mut Budget, s: &str) -> Result<(), Error> {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => out.push("\\\\")?,
            '\n' => out.push("\\n")?,
            '\r' => out.push("\\r")?,
            '\t' => out.push("\\t")?,
            c if c == quote => {
                out.push_char('\\')?;
                out.push_char(c)?;
            }
            c if !is_printable(c) => {
                let code = u32::from(c);
                let escaped = if code <= 0xff {
                    format!("\\x{code:02x}")
                } else if code <= 0xffff {
                    format!("\\u{code:04x}")
                } else {
                    format!("\\U{code:08x}")
                };
                out.push(&escaped)?;
            }
            c => out.push_char(c)?,
        }
    }
    out.push_char(quote)
}

/// Python's `str.isprintable()` for one character, for the characters that
/// occur in text: controls, format characters, separators other than the
/// space, surrogates and private use are not printable. (Python also counts
/// unassigned code points as unprintable; that needs Unicode tables this
/// crate does not carry.)
fn is_printable(c: char) -> bool {
    let code = u32::from(c);
    !matches!(code,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xdfff | 0xe000..=0xf8ff | 0xfeff | 0xfff9..=0xfffb
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
}

/// How `json.dumps` lays out its output.
struct JsonStyle {
    ensure_ascii: bool,
    /// `None` for one line; else the string repeated per nesting level.
    indent: Option<String>,
    item_separator: String,
    key_separator: String,
    sort_keys: bool,
}

/// The `tojson` filter transformers installs:
/// `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`,
/// with the same parameters, positional or by name.
pub(crate) fn tojson(
    value: &Value,
    positional: &[Value],
    kwargs: &Kwargs,
    max_bytes: usize,
) -> Result<Value, Error> {
    const PARAMETERS: [&str; 4] = ["ensure_ascii", "indent", "separators", "sort_keys"];
    if positional.len() > PARAMETERS.len() {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            "tojson takes at most 4 arguments (ensure_ascii, indent, separators, sort_keys)",
        ));
    }
    let mut arguments: [Option<Value>; 4] = Default::default();
    for (slot, name) in arguments.iter_mut().zip(PARAMETERS) {
        *slot = kwargs.get::<Option<Value>>(name)?;
    }
    for (slot, (value, name)) in arguments.iter_mut().zip(positional.iter().zip(PARAMETERS)) {
        if slot.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson got multiple values for argument '{name}'"),
            ));
        }
        *slot = Some(value.clone());
    }
    kwargs.assert_all_used()?;
    let [ensure_ascii, indent, separators, sort_keys] = arguments;
    let given = |v: &Option<Value>| v.clone().filter(|v| !v.is_none() && !v.is_undefined());

    let indent = match given(&indent) {
        None => None,
        Some(indent) if indent.is_integer() => {
            let width = indent.as_i64().unwrap_or(0).clamp(0, 1 << 20);
            Some(" ".repeat(usize::try_from(width).unwrap_or(0)))
        }
        Some(indent) if indent.kind() == ValueKind::String => {
            Some(indent.as_str().unwrap_or_default().to_owned())
        }
        Some(other) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "tojson indent must be an integer or a string, not {}",
                    other.kind()
                ),
            ));
        }
    };
    let (item_separator, key_separator) = match given(&separators) {
        None if indent.is_some() => (",".to_owned(), ": ".to_owned()),
        None => (", ".to_owned(), ": ".to_owned()),
        Some(pair) => {
            let strings: Vec<String> = pair
                .try_iter()?
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .unwrap_or_default();
            match <[String; 2]>::try_from(strings) {
                Ok([item, key]) => (item, key),
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson separators must be two strings: (item separator, key separator)",
                    ));
                }
            }
        }
    };
    let style = JsonStyle {
        ensure_ascii: given(&ensure_ascii).is_some_and(|v| v.is_true()),
        indent,
        item_separator,
        key_separator,
        sort_keys: given(&sort_keys).is_some_and(|v| v.is_true()),
    };
    let mut out = Budget::new(max_bytes);
    write_json(&mut out, value, &style, 0)?;
    Ok(Value::from(out.into_string()))
}

fn not_serializable(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("Object of type {what} is not JSON serializable"),
    )
}

fn write_json(
    out: &mut Budget,
    value: &Value,
    style: &JsonStyle,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    match value.kind() {
        ValueKind::None => out.push("null"),
        ValueKind::Bool => out.push(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push(&json_number(value)),
        ValueKind::String => write_json_string(out, value.as_str().unwrap_or_default(), style),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_json_container(out, style, depth, ('[', ']'), &items, |out, item| {
                write_json(out, item, style, depth + 1)
            })
        }
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                entries.push((json_key(&key)?, item));
            }
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            write_json_container(
                out,
                style,
                depth,
                ('{', '}'),
                &entries,
                |out, (key, item)| {
                    write_json_string(out, key, style)?;
                    out.push(&style.key_separator)?;
                    write_json(out, item, style, depth + 1)
                },
            )
        }
        ValueKind::Undefined => Err(not_serializable("Undefined")),
        ValueKind::Bytes => Err(not_serializable("bytes")),
        _ => Err(not_serializable(&value.kind().to_string())),
    }
}

/// `[` items `]` or `{` entries `}` the way `json.dumps` lays them out: on
/// one line, or one item per line indented one level deeper than the
/// brackets.
fn write_json_container<T>(
    out: &mut Budget,
    style: &JsonStyle,
    depth: usize,
    (open, close): (char, char),
    items: &[T],
    mut write_item: impl FnMut(&mut Budget, &T) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push_char(open)?;
    if items.is_empty() {
        return out.push_char(close);
    }
    let newline = |out: &mut Budget, level: usize| -> Result<(), Error> {
        if let Some(indent) = &style.indent {
            out.push("\n")?;
            for _ in 0..level {
                out.push(indent)?;
            }
        }
        Ok(())
    };
    for (item_idx, item) in items.iter().enumerate() {
        if item_idx > 0 {
            out.push(&style.item_separator)?;
        }
        newline(out, depth + 1)?;
        write_item(out, item)?;
    }
    newline(out, depth)?;
    out.push_char(close)
}

/// A map key as `json.dumps` converts it: strings as they are; numbers,
/// booleans and None spelled as JSON.
fn json_key(key: &Value) -> Result<String, Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_owned()),
        ValueKind::Number => Ok(json_number(key)),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_owned()),
        ValueKind::None => Ok("null".to_owned()),
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("keys must be str, int, float, bool or None, not {other}"),
        )),
    }
}

/// A number as `json.dumps` writes it: integers exactly, floats as `repr()`
/// does, and the non-finite ones as JavaScript spells them.
fn json_number(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) if f.is_nan() => "NaN".to_owned(),
        Ok(f) if f.is_infinite() => if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned(),
        Ok(f) => float_repr(f),
        Err(_) => value.to_string(),
    }
}

/// A JSON string as `json.dumps` writes it: `\"`, `\\` and the C0 controls
/// escaped (`\n`, `\r`, `\t`, `\b`, `\f` by name, the rest as `\u00XX`);
/// with `ensure_ascii`, everything outside ASCII as `\uXXXX` (UTF-16).
fn write_json_string(out: &mut Budget, s: &str, style: &JsonStyle) -> Result<(), Error> {
    out.push("\"")?;
    let mut units = [0u16; 2];
    for c in s.chars() {
        match c {
            '"' => out.push("\\\"")?,
            '\\' => out.push("\\\\")?,
            '\n' => out.push("\\n")?,
            '\r' => out.push("\\r")?,
            '\t' => out.push("\\t")?,
            '\u{8}' => out.push("\\b")?,
            '\u{c}' => out.push("\\f")?,
            c if u32::from(c) < 0x20 || (style.ensure_ascii && !(' '..='~').contains(&c)) => {
                for unit in c.encode_utf16(&mut units) {
                    out.push(&format!("\\u{unit:04x}"))?;
                }
            }
            c => out.push_char(c)?,
        }
    }
    out.push("\"")
}

#[cfg(test)]
mod tests {
    use super::float_repr;

    #[test]
    fn floats_read_like_python_repr() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (-2.5e100, "-2.5e+100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (f, python) in cases {
            assert_eq!(float_repr(f), python, "repr({f:?})");
        }
    }
}
